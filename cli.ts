/**
 * The audit-trail command line: parses arguments, runs one command, prints its result, and
 * turns errors into one line on stderr and an exit code (0 ok, 1 runtime failure, 2 usage,
 * 3 tampering found).
 *
 * @module
 */
import { join } from "node:path";
import { AuditTrailError, TamperingFoundError, UsageError } from "./lib/errors.ts";
import { OUTPUT_FORMATS, type OutputFormat, type TextSink } from "./lib/output.ts";
import type { CliIo, Command, CommandContext } from "./cli/context.ts";
import denoConfig from "./deno.json" with { type: "json" };

/** The tool's version, from deno.json. */
export const VERSION: string = denoConfig.version;

// Commands load on demand, so `log` never pays for the ZIP or CSV code of others.
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  migrate: {
    summary: "create the database or bring its schema up to date",
    load: () => import("./cli/migrate.ts"),
  },
  log: {
    summary: "record one event, or many from NDJSON (--stdin)",
    load: () => import("./cli/log.ts"),
  },
  query: {
    summary: "find events by SKU, operation, run, user, time or text",
    load: () => import("./cli/query.ts"),
  },
  batch: {
    summary: "start, end, show, list or exec a batch (run id)",
    load: () => import("./cli/batch.ts"),
  },
  bundle: {
    summary: "make a debug bundle for support (or verify one)",
    load: () => import("./cli/bundle.ts"),
  },
  verify: {
    summary: "check that no event was changed, deleted, inserted or reordered",
    load: () => import("./cli/verify.ts"),
  },
  head: {
    summary: "print the newest event's seal (ID:HASH), to note as an anchor",
    load: () => import("./cli/head.ts"),
  },
  sync: {
    summary: "send this site's events to the central store (PostgreSQL)",
    load: () => import("./cli/sync.ts"),
  },
  central: {
    summary: "set up the central store: init, grant, sites (administrator)",
    load: () => import("./cli/central.ts"),
  },
};

const TOP_HELP = `audit-trail ${VERSION} — who did what to which SKU, and when

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
  NO_COLOR             honoured (output has no colour)

EXIT CODES
  0 success   1 runtime failure (database missing, busy, corrupt, disk full)
  2 usage error (bad option, value or input line)   3 tampering found

EXAMPLES
  audit-trail migrate
  audit-trail log ORDER_CONFIRMED --sku SKU-1001 --details "Order ORD-123: 45 units"
  audit-trail query --sku SKU-1001 --format table
`;

interface GlobalOptions {
  command?: string;
  rest: string[];
  db?: string;
  format?: string;
  help: boolean;
  version: boolean;
}

/**
 * Separates the global options (accepted before or after the command, up to `--`) from the
 * command name and its own arguments.
 */
export function splitGlobalOptions(args: string[]): GlobalOptions {
  const result: GlobalOptions = { rest: [], help: false, version: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      result.rest.push(...args.slice(i));
      break;
    }
    const [name, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (name === "--db" || name === "--format") {
      const value = inline ?? args[++i];
      if (value === undefined || (inline === undefined && value.startsWith("--"))) {
        throw new UsageError(`Option ${name} needs a value`, {
          hint: name === "--db"
            ? "Example: --db data/app.db"
            : `Use one of: ${OUTPUT_FORMATS.join(", ")}`,
        });
      }
      result[name === "--db" ? "db" : "format"] = value;
    } else if (arg === "-h" || arg === "--help") {
      result.help = true;
    } else if (arg === "--version") {
      result.version = true;
    } else if (result.command === undefined && !arg.startsWith("-")) {
      result.command = arg;
    } else if (result.command === undefined) {
      throw new UsageError(`Unknown option "${arg}"`, {
        hint: 'Run "audit-trail --help" for usage.',
      });
    } else {
      result.rest.push(arg);
    }
  }
  return result;
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
  const globals = splitGlobalOptions(args);
  if (globals.version) {
    await io.stdout.write(`audit-trail ${VERSION}\n`);
    return 0;
  }
  let name = globals.command;
  if (name === "help") {
    name = globals.rest[0];
    globals.help = true;
  }
  if (name === undefined) {
    if (globals.help) {
      await io.stdout.write(TOP_HELP);
      return 0;
    }
    await io.stderr.write(TOP_HELP);
    throw new UsageError("Missing command", { hint: "Pick one of the commands above." });
  }
  const entry = COMMANDS[name];
  if (!entry) {
    const near = Object.keys(COMMANDS).find((c) => c.startsWith(name!.slice(0, 2)));
    throw new UsageError(`Unknown command "${name}"`, {
      hint: `${near ? `Did you mean "${near}"? ` : ""}Commands: ${
        Object.keys(COMMANDS).join(", ")
      }.`,
    });
  }
  const { command } = await entry.load();
  if (globals.help) {
    await io.stdout.write(command.help);
    return 0;
  }
  let explicitFormat: OutputFormat | undefined;
  if (globals.format !== undefined) {
    if (!OUTPUT_FORMATS.includes(globals.format as OutputFormat)) {
      throw new UsageError(`Unknown format "${globals.format}"`, {
        hint: `Use one of: ${OUTPUT_FORMATS.join(", ")}.`,
      });
    }
    explicitFormat = globals.format as OutputFormat;
  }
  const envDb = io.env("AUDIT_TRAIL_DB");
  const context: CommandContext = {
    io,
    dbPath: globals.db ?? (envDb ? envDb : join(io.cwd(), "data", "app.db")),
    explicitFormat,
    format: explicitFormat ?? (io.stdout.isTerminal ? "table" : "json"),
  };
  if (context.dbPath === "") throw new UsageError("--db must not be empty");
  return await command.run(context, globals.rest);
}

async function reportError(io: CliIo, error: unknown): Promise<number> {
  let code = 1;
  let message: string;
  let hint: string | undefined;
  if (error instanceof AuditTrailError) {
    message = error.message;
    hint = error.hint;
    if (error instanceof UsageError) code = 2;
    if (error instanceof TamperingFoundError) code = 3;
  } else if (
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
  ) {
    message = `Permission denied: ${(error as Error).message}`;
  } else {
    // Not an error the tool raised on purpose: say so, in one line, without a stack trace.
    message = `Unexpected failure: ${error instanceof Error ? error.message : String(error)}`;
    hint = "Please report this with a debug bundle (audit-trail bundle).";
    if (io.env("AUDIT_TRAIL_DEBUG") && error instanceof Error && error.stack) {
      hint += "\n" + error.stack;
    }
  }
  try {
    await io.stderr.write(
      `audit-trail: error: ${oneLine(message)}\n${hint ? `hint: ${hint}\n` : ""}`,
    );
  } catch {
    // stderr is gone too; the exit code still tells.
  }
  return code;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}

function sinkFor(file: { write(p: Uint8Array): Promise<number>; isTerminal(): boolean }) {
  const encoder = new TextEncoder();
  return {
    isTerminal: file.isTerminal(),
    async write(text: string) {
      let bytes = encoder.encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
    },
  } satisfies TextSink & { isTerminal: boolean };
}

function processIo(): CliIo {
  return {
    // Made on first use: creating the stream costs about 3 ms that only `log --stdin` needs.
    get stdin() {
      return Deno.stdin.readable;
    },
    stdout: sinkFor(Deno.stdout),
    stderr: sinkFor(Deno.stderr),
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
