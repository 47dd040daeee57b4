/**
 * What every command receives: the resolved global options and the process's streams, so
 * commands never touch `Deno` globals directly and can be run in-process by tests; and what a
 * failed write to those streams means once something is committed ({@linkcode acknowledge});
 * how modules that only some runs need are loaded ({@linkcode importOnDemand}); and the strict
 * argument parser every command goes through ({@linkcode parseArgs}).
 *
 * @module
 */
import {
  type AuditDatabase,
  openDatabase,
  type OpenDatabaseOptions,
  requireDatabaseFile,
} from "../lib/db.ts";
import type { ArchivedRange } from "../lib/archive/checkpoint_list.ts";
import { AuditTrailError, errorMessage, EventRefusedError, UsageError } from "../lib/errors.ts";
import type { SyncReader } from "../lib/ndjson.ts";
import type { OutputFormat, TextSink } from "../lib/output.ts";
import { requireCurrentSchema } from "../lib/schema.ts";
import { GLOBAL_OPTIONS, type OptionSpecs } from "./command_line.ts";

export {
  GLOBAL_OPTIONS,
  type OptionSpec,
  type OptionSpecs,
  type SplitArgs,
  splitAtName,
} from "./command_line.ts";

/** The process's input, output and environment, as a command sees them. */
export interface CliIo {
  stdin: ReadableStream<Uint8Array>;
  /** Whether a person types the input (so a command waiting for it can say so). */
  stdinIsTerminal?: boolean;
  /** Standard input as the process's own file, which a bulk ingest reads synchronously. */
  stdinFile?: SyncReader;
  stdout: TextSink & { isTerminal: boolean };
  stderr: TextSink & { isTerminal: boolean };
  /** The terminal's width in columns, when there is one to ask. */
  terminalColumns?(): number | undefined;
  env(name: string): string | undefined;
  cwd(): string;
}

/**
 * Standard output or error could not be written (a full disk, a file or device that failed).
 * The process's streams raise it (`cli.ts`), so that it is not mistaken for a fault of the tool.
 */
export class OutputError extends AuditTrailError {
  constructor(stream: string, cause: unknown) {
    super(`Could not write to ${stream}: ${errorMessage(cause)}`, {
      hint: `Check where ${stream} goes (a full disk, a removed drive) and run again.`,
      cause,
    });
  }
}

/** Something was committed, but the result that reports it could not be written out. */
export class ResultNotWrittenError extends AuditTrailError {}

/**
 * Runs `print`, which writes the result of a write that is already committed. If the output
 * cannot be written then (a full disk, a closed file), the write stands, and the error must
 * say so, or a retry would store the same events twice: this throws a
 * {@linkcode ResultNotWrittenError} that starts with `stored` ("Event 42 was stored") and names
 * `what` could not be written, with `hint` (what to do instead of running again). A reader that
 * went away (`BrokenPipe`) is not a failure of this kind: it passes through.
 */
export async function acknowledge(
  stored: string,
  what: string,
  hint: string,
  print: () => Promise<unknown>,
): Promise<void> {
  try {
    await print();
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) throw error;
    const cause = error instanceof OutputError ? error.cause : error;
    throw new ResultNotWrittenError(
      `${stored}; ${what} could not be written: ${errorMessage(cause)}`,
      { hint, cause },
    );
  }
}

/** Global options after resolution, plus the streams. */
export interface CommandContext {
  io: CliIo;
  /**
   * The database path: `--db`, else `$AUDIT_TRAIL_DB`, else `data/app.db`. This and the
   * formats below are final once the command has called {@linkcode parseCommandArgs}.
   */
  dbPath: string;
  /** `--format` as given, or `undefined` when the command should pick its default. */
  explicitFormat?: OutputFormat;
  /** `--format` as given, else `table` on a terminal and `json` otherwise. */
  format: OutputFormat;
  /** The global options given so far (before the command, then after it). */
  globals: GlobalValues;
}

/**
 * Every format `--format` takes: those `lib/output.ts` writes (the type makes this list name
 * each). Kept here, so that checking the option loads none of the writers.
 */
export const OUTPUT_FORMATS: readonly OutputFormat[] = Object.keys(
  { json: true, ndjson: true, csv: true, table: true } satisfies Record<OutputFormat, true>,
) as OutputFormat[];

/** A subcommand: its help text and what it does. Returns the exit code. */
export interface Command {
  help: string;
  run(context: CommandContext, args: string[]): Promise<number>;
}

/** The global options as given before the command name. */
export type GlobalValues = OptionValues<typeof GLOBAL_OPTIONS>;

/** Thrown when `--help` is given after the command: `cli.ts` prints that command's help. */
export class HelpRequested extends Error {}

/** Thrown when `--version` is given after the command: `cli.ts` prints the version. */
export class VersionRequested extends Error {}

/** What a command's arguments may hold besides its options. */
export interface CommandArgsOptions {
  /** The formats the command can print; any other `--format` is a usage error. */
  formats?: readonly OutputFormat[];
  /**
   * Its options whose value names a file or folder: an empty value is a usage error, where a
   * path resolved from it would silently name the working folder.
   */
  paths?: readonly string[];
}

/**
 * Parses a command's arguments with the global options among them, then settles the
 * context's database path and format. `--help` and `--version` end the command here (as
 * {@linkcode HelpRequested} / {@linkcode VersionRequested}); a value given to an option is
 * never taken for one of them.
 */
export function parseCommandArgs<T extends OptionSpecs>(
  context: CommandContext,
  command: string,
  args: readonly string[],
  options: T,
  { formats = OUTPUT_FORMATS, paths = [] }: CommandArgsOptions = {},
): ParsedArgs<T> {
  const { values, positionals } = parseArgs(command, args, { ...options, ...GLOBAL_OPTIONS });
  const empty = paths.find((name) => values[name] === "");
  if (empty !== undefined) {
    throw new UsageError(`--${empty} must not be empty`, {
      hint: `Give a path with --${empty}, or leave the option out.`,
    });
  }
  const own: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    if (!Object.hasOwn(GLOBAL_OPTIONS, name)) {
      own[name] = value;
    } else if (context.globals[name as keyof GlobalValues] !== undefined) {
      throw new UsageError(`Option --${name} is given more than once`, {
        hint: `Give --${name} once, before or after the command.`,
      });
    }
  }
  const globals = { ...context.globals, ...values } as GlobalValues;
  if (globals.help) throw new HelpRequested();
  if (globals.version) throw new VersionRequested();
  settleGlobals(context, globals);
  requireFormat(context, command, formats);
  return { values: own as OptionValues<T>, positionals };
}

/**
 * Resolves `--db` (else `$AUDIT_TRAIL_DB`, else `data/app.db` in the working folder) and
 * `--format` (else `table` on a terminal, `json` otherwise) into the context.
 */
export function settleGlobals(context: CommandContext, globals: GlobalValues): void {
  context.globals = globals;
  if (globals.db === "") {
    throw new UsageError("--db must not be empty", {
      hint: "Give the database's path with --db, or leave --db out to use $AUDIT_TRAIL_DB.",
    });
  }
  const fromEnv = context.io.env("AUDIT_TRAIL_DB");
  context.dbPath = globals.db ?? (fromEnv ? fromEnv : defaultDatabasePath(context.io.cwd()));
  if (globals.format !== undefined && !OUTPUT_FORMATS.includes(globals.format as OutputFormat)) {
    throw new UsageError(`Unknown format "${globals.format}"`, {
      hint: `Use one of: ${OUTPUT_FORMATS.join(", ")}.`,
    });
  }
  context.explicitFormat = globals.format as OutputFormat | undefined;
  context.format = context.explicitFormat ?? (context.io.stdout.isTerminal ? "table" : "json");
}

/** Fails when `--format` names a format that `command` cannot print. */
export function requireFormat(
  context: CommandContext,
  command: string,
  formats: readonly OutputFormat[],
): void {
  const given = context.explicitFormat;
  if (given !== undefined && !formats.includes(given)) {
    throw new UsageError(`${command} cannot print --format ${given}`, {
      hint: formats.length
        ? `Use one of: ${formats.join(", ")}.`
        : `${command} prints no records: leave out --format.`,
    });
  }
}

/** `data/app.db` under `cwd`, written with the separator the folder already uses. */
function defaultDatabasePath(cwd: string): string {
  const separator = cwd.includes("\\") && !cwd.includes("/") ? "\\" : "/";
  const base = cwd.endsWith(separator) ? cwd : cwd + separator;
  return `${base}data${separator}app.db`;
}

/**
 * Opens the command's database (`--db`) and checks that it has the schema this tool writes,
 * closing it again when it does not. Every command but `migrate` opens its database here.
 *
 * @throws {DatabaseNotFoundError} When there is no such file (`migrate` makes it).
 * @throws {SchemaError} When the file was never migrated, or by another version of the tool.
 */
export function openCurrentDatabase(
  context: CommandContext,
  options?: OpenDatabaseOptions,
): AuditDatabase {
  const db = openDatabase(context.dbPath, options);
  try {
    requireCurrentSchema(db);
  } catch (error) {
    db.close();
    // A device reads as an empty database: say what it is rather than "run migrate".
    requireDatabaseFile(context.dbPath, error);
    throw error;
  }
  return db;
}

/**
 * Fails when text to be stored holds U+FFFD. The runtime puts that character where an
 * argument had bytes that are not UTF-8 (a terminal or script in another encoding), and
 * storing it would garble the event without a word. `texts` maps each option to its value.
 */
export function requireValidText(texts: Record<string, string | undefined>): void {
  for (const [option, value] of Object.entries(texts)) {
    if (value?.includes("\uFFFD")) {
      throw new UsageError(
        `${option} is not valid text: it holds bytes that are not UTF-8 (shown as "\uFFFD")`,
        {
          hint:
            "Set the terminal or script to UTF-8 (on Windows: chcp 65001) and run again. Nothing was written.",
        },
      );
    }
  }
}

/**
 * An event refused for one of its fields, with the field named as the command line gave it
 * (`names`: field → OPERATION, `--details`…): the library names it as an NDJSON line would.
 * A field `names` leaves out (its value came from the environment) keeps the library's words.
 */
export function namedAsGiven(
  error: unknown,
  names: Record<string, string | undefined>,
): unknown {
  if (!(error instanceof EventRefusedError) || error.field === undefined) return error;
  const name = names[error.field];
  if (name === undefined) return error;
  return new UsageError(`${name} ${error.problem}`, { hint: error.hint, cause: error });
}

/** How an event's user is named in a message: --user if given, else as the library names it. */
export function userOption(given: string | undefined): string | undefined {
  return given === undefined ? undefined : "--user";
}

/** Fails when `positionals` holds more than `max` values. */
export function expectAtMost(command: string, positionals: string[], max: number): void {
  if (positionals.length > max) {
    throw new UsageError(`Unexpected argument "${positionals[max]}" for ${command}`, {
      hint: `Run "audit-trail ${command} --help" for usage. Quote text that contains spaces.`,
    });
  }
}

/**
 * The user to record: `--user`, else `$AUDIT_TRAIL_USER`, else the login name (from the
 * environment, else asked of the system), else `system`.
 */
export async function resolveUser(io: CliIo, given: string | undefined): Promise<string> {
  const named = given ?? nonEmpty(io.env("AUDIT_TRAIL_USER")) ?? nonEmpty(io.env("USER")) ??
    nonEmpty(io.env("USERNAME")) ?? nonEmpty(io.env("LOGNAME"));
  if (named !== undefined) return named;
  // Asking the system is rare (a service without a login environment): loaded only then.
  const { osLoginName } = await importOnDemand<typeof import("./login_name.ts")>(
    "cli/login_name.ts",
  );
  return osLoginName() ?? "system";
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

// --- modules loaded on demand ------------------------------------------------------------------
//
// Their specifiers are computed on purpose: a literal `import("./cli/bundle.ts")` makes
// `deno run` read and check every command's modules (and theirs) at each start, a few
// milliseconds that every `log` would pay. The built program (`cli_build_commands.ts` and
// `cli_build_log.ts`, made by `deno task build`) hands over loaders its bundler can follow
// instead, and keeps them computed in what it writes. This lives here rather than in a module
// of its own because every command loads this one anyway: each module on the way to a command
// costs its start (DEVELOPERS.md, "Start-up").

/** Every module imported on demand, relative to the project's root. */
export const ON_DEMAND_MODULES = [
  "cli/migrate.ts",
  "cli/log.ts",
  "cli/query.ts",
  "cli/batch.ts",
  "cli/bundle.ts",
  "cli/verify.ts",
  "cli/head.ts",
  "cli/sync.ts",
  "cli/central.ts",
  "cli/stats.ts",
  "cli/report.ts",
  "cli/serve.ts",
  "cli/archive.ts",
  "cli/login_name.ts",
  "lib/ndjson.ts",
  "lib/bulk_append.ts",
  "lib/output.ts",
  "lib/csv.ts",
  "lib/table.ts",
  "lib/version.ts",
  "lib/bundle/mod.ts",
  "lib/archive/read.ts",
  "lib/batch_run.ts",
  "lib/batch_outcome.ts",
] as const;

/** One of {@linkcode ON_DEMAND_MODULES}. */
export type OnDemandModule = (typeof ON_DEMAND_MODULES)[number];

/** A loader for each module imported on demand. */
export type OnDemandLoaders = Record<OnDemandModule, () => Promise<unknown>>;

// The URL is made at the first load, not at start: the built program replaces this loader, and
// the first `URL` of a process costs it 0.2 ms.
let loadOnDemand = (module: OnDemandModule): Promise<unknown> =>
  import(new URL(module, new URL("../", import.meta.url)).href);

/**
 * Imports `module` (one of {@linkcode ON_DEMAND_MODULES}); `T` is its type, written as
 * `typeof import("…")`, which loads nothing at run time.
 */
export function importOnDemand<T>(module: OnDemandModule): Promise<T> {
  return loadOnDemand(module) as Promise<T>;
}

/**
 * Loads each module imported on demand through `loaders` from now on (the built program). A
 * program built for some command lines alone gives the loaders of the modules they can reach.
 */
export function useOnDemandLoaders(loaders: Partial<OnDemandLoaders>): void {
  loadOnDemand = (module) => {
    const load = loaders[module];
    if (!load) throw new Error(`${module} is not part of this program`);
    return load();
  };
}

// --- the argument parser ------------------------------------------------------------------------
//
// A small, strict argument parser. It knows every option a command takes, so a value is
// always the value of the option before it: `--details --version` never prints the version.
//
// Rules: `--name value` and `--name=value` for options with a value; `--flag` for flags;
// `--` ends the options; an option's value may start with "-" only when it is a number
// (`--limit -1`) or given with "=" (`--details=-x`); an option given twice, an unknown option
// and a flag given a value are usage errors.
//
// It lives here because every command parses its arguments and loads this module anyway: a
// module of its own costs every start, cold about a millisecond (DEVELOPERS.md, "Start-up").

/** The parsed options: a string or `true` for each option given, nothing for the others. */
export type OptionValues<T extends OptionSpecs> = {
  [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string;
};

/** Options and positional arguments, in the order given. */
export interface ParsedArgs<T extends OptionSpecs> {
  values: OptionValues<T>;
  positionals: string[];
}

/** Anything that reads as a number, so `--limit -1` reaches the range check. */
const NUMBER_LIKE = /^-\.?\d/;

/**
 * Parses `args` against `specs`. `command` names the command in messages, so a hint can say
 * whose help to read (`""` before any command).
 *
 * @example
 * ```ts
 * import { parseArgs } from "./context.ts";
 * import assert from "node:assert/strict";
 *
 * const { values, positionals } = parseArgs("log", ["NOTE", "--details=a b", "--sku", "S1"], {
 *   details: { type: "string" },
 *   sku: { type: "string" },
 * });
 * assert.deepEqual(values, { details: "a b", sku: "S1" });
 * assert.deepEqual(positionals, ["NOTE"]);
 * ```
 */
export function parseArgs<T extends OptionSpecs>(
  command: string,
  args: readonly string[],
  specs: T,
): ParsedArgs<T> {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const hint = `Run "${["audit-trail", command].join(" ").trim()} --help" for the options.`;
  const where = command ? ` for ${command}` : "";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || NUMBER_LIKE.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const written = arg.startsWith("--") && equals > 0 ? arg.slice(0, equals) : arg;
    const inline = written === arg ? undefined : arg.slice(equals + 1);
    const name = optionName(written, specs);
    if (name === undefined) {
      throw new UsageError(`Unknown option "${written}"${where}`, { hint });
    }
    if (name in values) {
      throw new UsageError(`Option ${written} is given more than once`, {
        hint: `Give ${written} once. ${hint}`,
      });
    }
    if (specs[name].type === "boolean") {
      if (inline !== undefined) {
        throw new UsageError(`Option ${written} takes no value ("${arg}")`, { hint });
      }
      values[name] = true;
      continue;
    }
    if (inline !== undefined) {
      values[name] = inline;
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value === "--") {
      throw new UsageError(`Option ${written} needs a value`, { hint });
    }
    if (value.startsWith("-") && value !== "-" && !NUMBER_LIKE.test(value)) {
      throw new UsageError(`Option ${written} needs a value, not the option-like "${value}"`, {
        hint: `To give a value that starts with "-", write ${written}=${value}`,
      });
    }
    values[name] = value;
    i++;
  }
  return { values: values as OptionValues<T>, positionals };
}

function optionName(written: string, specs: OptionSpecs): string | undefined {
  if (written.startsWith("--")) {
    const name = written.slice(2);
    return Object.hasOwn(specs, name) ? name : undefined;
  }
  if (written.length !== 2) return undefined;
  return Object.keys(specs).find((name) => specs[name].short === written[1]);
}

/**
 * Says on stderr that events matching may be among the archived ones (`reach` tells which),
 * which were not read: without it, a period that was archived looks like one when nothing
 * happened. Only to a person (a table, or stderr on a terminal): a scheduled script's mail or
 * log is not filled with it on every run. `advice` ends the line: what was not done with
 * them, and how to.
 */
export async function noteArchived(
  context: CommandContext,
  reach: () => ArchivedRange | null,
  advice: string,
): Promise<void> {
  if (context.format !== "table" && !context.io.stderr.isTerminal) return;
  const range = reach();
  if (!range) return;
  await context.io.stderr.write(
    `audit-trail: note: events ${range.first_audit_id} to ${range.last_audit_id} are archived and were not ${advice}\n`,
  );
}

/** The end of {@linkcode noteArchived}'s line for a command that takes `--archives`. */
export function addArchives(verb: string): string {
  return `read: add --archives DIR (archive/ beside the database, unless archived elsewhere) to ${verb} them too`;
}
