/**
 * The audit-trail command line: parses arguments, runs one command, prints its result, and
 * turns errors into one line on stderr and an exit code (0 ok, 1 runtime failure, 2 usage,
 * 3 tampering found).
 *
 * @module
 */
import {
  AuditTrailError,
  commandLineHint,
  errorMessage,
  TamperingFoundError,
  UsageError,
} from "./lib/errors.ts";
import { writeAll } from "./lib/io.ts";
import type { TextSink } from "./lib/output.ts";
import {
  type CliIo,
  type Command,
  type CommandContext,
  GLOBAL_OPTIONS,
  type GlobalValues,
  HelpRequested,
  importOnDemand,
  OutputError,
  parseArgs,
  settleGlobals,
  splitAtName,
  VersionRequested,
} from "./cli/context.ts";

// Commands load on demand (see importOnDemand in cli/context.ts), so `log` never pays for the code of others.
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  migrate: {
    summary: "create the database or bring its schema up to date",
    load: () => importOnDemand("cli/migrate.ts"),
  },
  log: {
    summary: "record one event, or many from NDJSON (--stdin)",
    load: () => importOnDemand("cli/log.ts"),
  },
  query: {
    summary: "find events by SKU, operation, run, user, time or text",
    load: () => importOnDemand("cli/query.ts"),
  },
  batch: {
    summary: "start, end, show, list or exec a batch (run id)",
    load: () => importOnDemand("cli/batch.ts"),
  },
  bundle: {
    summary: "make a debug bundle for support (or verify one)",
    load: () => importOnDemand("cli/bundle.ts"),
  },
  verify: {
    summary: "check that no event was changed, deleted, inserted or reordered",
    load: () => importOnDemand("cli/verify.ts"),
  },
  head: {
    summary: "print the newest event's seal (ID:HASH), to note as an anchor",
    load: () => importOnDemand("cli/head.ts"),
  },
  sync: {
    summary: "send this site's events to the central store (PostgreSQL)",
    load: () => importOnDemand("cli/sync.ts"),
  },
  central: {
    summary: "set up the central store: init, grant, sites (administrator)",
    load: () => importOnDemand("cli/central.ts"),
  },
  stats: {
    summary: "count events per day, operation, SKU and user; how batches went",
    load: () => importOnDemand("cli/stats.ts"),
  },
  report: {
    summary: "write one HTML file with charts and the newest events, to open offline",
    load: () => importOnDemand("cli/report.ts"),
  },
  serve: {
    summary: "browse the log in a web browser (read-only, this computer only)",
    load: () => importOnDemand("cli/serve.ts"),
  },
  archive: {
    summary: "move old events into sealed archive files (--keep DAYS)",
    load: () => importOnDemand("cli/archive.ts"),
  },
};

/**
 * The version line. The version (`lib/version.ts`, from `deno.json`) is loaded only to be
 * shown: a command that runs reads neither module.
 */
async function versionLine(): Promise<string> {
  const { TOOL_VERSION } = await importOnDemand<typeof import("./lib/version.ts")>(
    "lib/version.ts",
  );
  return `audit-trail ${TOOL_VERSION}`;
}

/** The help printed by `audit-trail --help` (and, on stderr, without a command). */
const topHelp = async () =>
  `${await versionLine()} — who did what to which SKU, and when

USAGE
  audit-trail [--db PATH] [--format F] COMMAND [OPTIONS] [ARGS]
  audit-trail help COMMAND

COMMANDS
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)}${c.summary}`).join("\n")}

GLOBAL OPTIONS (before or after the command)
  --db PATH     the database (default: $AUDIT_TRAIL_DB, else data/app.db)
  --format F    json | ndjson | csv | table (default: table on a terminal, else json)
  -h, --help    show help (also: audit-trail help COMMAND)
  --version     print the version

ENVIRONMENT
  AUDIT_TRAIL_DB       database path when --db is not given
  AUDIT_TRAIL_USER     user recorded when --user is not given
  AUDIT_TRAIL_RUN_ID   run id recorded by log when --run-id is not given
  AUDIT_TRAIL_CENTRAL  central store URL when --central is not given (sync, central)
  AUDIT_TRAIL_SITE     site sync sends as when --site is not given
  PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSSLMODE PGSSLROOTCERT PGSERVICE
  PGSERVICEFILE PGSYSCONFDIR PGCONNECT_TIMEOUT PGHOSTADDR PGAPPNAME
                       the central store's connection where its URL leaves it out, as with
                       libpq (sync, central, query --central): see audit-trail help sync
  NO_COLOR             honoured (output has no colour)

EXIT CODES
  0 success   1 runtime failure (database missing, busy, corrupt, disk full)
  2 usage error (bad option, value or input line)   3 tampering found

EXAMPLES
  audit-trail migrate
  audit-trail log ORDER_CONFIRMED --sku SKU-1001 --details "Order ORD-123: 45 units"
  audit-trail query --sku SKU-1001 --format table
`;

/** The command line split at the command's name. */
export interface CommandLine {
  /** The global options given before the command. */
  globals: GlobalValues;
  command?: string;
  /** Everything after the command's name, for the command to parse. */
  rest: string[];
}

/**
 * Splits `args` at the command's name: before it only global options may stand; what follows
 * belongs to the command, which parses it together with the global options (so that a value
 * such as `--details --version` stays a value).
 */
export function splitCommandLine(args: readonly string[]): CommandLine {
  const { before, name, after } = splitAtName(args, GLOBAL_OPTIONS);
  const { values } = parseArgs("", before, GLOBAL_OPTIONS);
  return { globals: values, command: name, rest: after };
}

/** Runs the command line `args` and returns the exit code. */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  try {
    return await dispatch(args, io);
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) return 0; // reader went away: stop, as cat does
    return await reportError(io, error);
  }
}

async function dispatch(args: string[], io: CliIo): Promise<number> {
  const { globals, command: given, rest } = splitCommandLine(args);
  if (globals.version) {
    await io.stdout.write(`${await versionLine()}\n`);
    return 0;
  }
  let name = given;
  let help = globals.help ?? false;
  if (name === "help") {
    name = rest[0];
    help = true;
  }
  if (name === undefined) {
    if (help) {
      await io.stdout.write(await topHelp());
      return 0;
    }
    await io.stderr.write(await topHelp());
    throw new UsageError("Missing command", { hint: "Pick one of the commands above." });
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    const near = Object.keys(COMMANDS).find((c) => c.startsWith(name!.slice(0, 2)));
    throw new UsageError(`Unknown command "${name}"`, {
      hint: `${near ? `Did you mean "${near}"? ` : ""}Commands: ${
        Object.keys(COMMANDS).join(", ")
      }.`,
    });
  }
  const { command } = await entry.load();
  if (help) {
    await io.stdout.write(command.help);
    return 0;
  }
  // Settled now for the messages of a command that fails before parsing; its own parse
  // settles them again with whatever global options follow its name.
  const context = { io, globals } as CommandContext;
  settleGlobals(context, globals);
  try {
    return await command.run(context, rest);
  } catch (error) {
    if (error instanceof HelpRequested) {
      await io.stdout.write(command.help);
      return 0;
    }
    if (error instanceof VersionRequested) {
      await io.stdout.write(`${await versionLine()}\n`);
      return 0;
    }
    throw error;
  }
}

async function reportError(io: CliIo, error: unknown): Promise<number> {
  let code = 1;
  let message: string;
  let hint: string | undefined;
  let stack: string | undefined;
  if (error instanceof AuditTrailError) {
    // Ours are one line already; a line break in one is part of a value it quotes (a file
    // name), shown escaped like any control character rather than turned into a space.
    message = error.message;
    hint = commandLineHint(error);
    if (error instanceof UsageError) code = 2;
    if (error instanceof TamperingFoundError) code = 3;
  } else if (
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
  ) {
    message = `Permission denied: ${errorMessage(error)}`;
  } else {
    // Not an error the tool raised on purpose: say so, in one line, without a stack trace.
    message = `Unexpected failure: ${errorMessage(error)}`;
    hint = "Please report this with a debug bundle (audit-trail bundle).";
    if (io.env("AUDIT_TRAIL_DEBUG") && error instanceof Error) stack = error.stack;
  }
  try {
    // Messages quote what was given (a file name, an argument): a control character or a
    // bidirectional override in it must not reach the terminal raw.
    const { showCell } = await importOnDemand<typeof import("./lib/table.ts")>("lib/table.ts");
    const shown = (text: string) => showCell(text).text;
    const lines = [`audit-trail: error: ${shown(message)}`];
    if (hint !== undefined) lines.push(`hint: ${shown(hint)}`);
    stack?.split("\n").forEach((line) => lines.push(shown(line)));
    await io.stderr.write(lines.join("\n") + "\n");
  } catch {
    // stderr is gone too; the exit code still tells.
  }
  return code;
}

function sinkFor(
  file: { write(p: Uint8Array): Promise<number>; isTerminal(): boolean },
  name: string,
) {
  return {
    isTerminal: file.isTerminal(),
    async write(text: string) {
      try {
        await writeAll(file, text);
      } catch (error) {
        // A reader that went away is not a failure (see main); anything else is named as the
        // output's, so that it is not mistaken for a fault of the tool.
        if (error instanceof Deno.errors.BrokenPipe) throw error;
        throw new OutputError(name, error);
      }
    },
  } satisfies TextSink & { isTerminal: boolean };
}

function processIo(): CliIo {
  return {
    // Made on first use: creating the stream costs about 3 ms that only `log --stdin` needs.
    get stdin() {
      return Deno.stdin.readable;
    },
    get stdinIsTerminal() {
      return Deno.stdin.isTerminal();
    },
    stdinFile: Deno.stdin,
    stdout: sinkFor(Deno.stdout, "standard output"),
    stderr: sinkFor(Deno.stderr, "standard error"),
    terminalColumns: () => {
      try {
        return Deno.consoleSize().columns || undefined;
      } catch {
        return undefined;
      }
    },
    env: (name) => {
      try {
        return Deno.env.get(name);
      } catch (error) {
        // Deno refuses a value that is not UTF-8; say which variable, not "Unexpected failure".
        if (!(error instanceof Deno.errors.InvalidData)) throw error;
        throw new UsageError(`The environment variable ${name} is not valid UTF-8 text`, {
          hint: `Set ${name} again in UTF-8, or unset it.`,
        });
      }
    },
    cwd: () => Deno.cwd(),
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
