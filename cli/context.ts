/**
 * What every command receives: the resolved global options and the process's streams, so
 * commands never touch `Deno` globals directly and can be run in-process by tests.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../lib/errors.ts";
import { runIdProblem, validateRunId } from "../lib/run_id.ts";
import type { OutputFormat, TextSink } from "../lib/output.ts";

/** The process's input, output and environment, as a command sees them. */
export interface CliIo {
  stdin: ReadableStream<Uint8Array>;
  stdout: TextSink & { isTerminal: boolean };
  stderr: TextSink & { isTerminal: boolean };
  env(name: string): string | undefined;
  cwd(): string;
}

/** Global options after resolution, plus the streams. */
export interface CommandContext {
  io: CliIo;
  /** The database path: `--db`, else `$AUDIT_TRAIL_DB`, else `data/app.db`. */
  dbPath: string;
  /** `--format` as given, or `undefined` when the command should pick its default. */
  explicitFormat?: OutputFormat;
  /** `--format` as given, else `table` on a terminal and `json` otherwise. */
  format: OutputFormat;
}

/** A subcommand: its help text and what it does. Returns the exit code. */
export interface Command {
  help: string;
  run(context: CommandContext, args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `node:util` parseArgs in strict mode, with its errors turned into one-line usage errors
 * that name the command whose help to read.
 */
export function parseCommandArgs<T extends Options>(
  command: string,
  args: string[],
  options: T,
) {
  try {
    return parseArgs({
      args: attachNegativeNumbers(args, options),
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw usageFromParseError(command, error);
  }
}

/**
 * No option of the tool looks like "-1", so a value such as `--limit -1` or
 * `--details "-5 units"` is taken as written: the first is then refused for being negative,
 * not for starting with a dash, and the second is simply stored.
 */
function attachNegativeNumbers(args: string[], options: Options): string[] {
  const result: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      result.push(...args.slice(i));
      break;
    }
    const option = arg.startsWith("--") ? options[arg.slice(2)] : undefined;
    if (option?.type === "string" && /^-\d/.test(args[i + 1] ?? "")) {
      result.push(`${arg}=${args[++i]}`);
    } else {
      result.push(arg);
    }
  }
  return result;
}

function usageFromParseError(command: string, error: unknown): unknown {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? "";
  const hint = `Run "audit-trail ${command} --help" for the options.`;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`Unknown option "${quoted}" for ${command}`, { hint });
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const name = quoted.split(" ")[0];
      if (/ambiguous/.test(message)) {
        return new UsageError(`The value of ${name} starts with "-"`, {
          hint: `Write it as ${name}=VALUE (for example ${name}=-5).`,
        });
      }
      return new UsageError(`Option ${name} needs a value`, { hint });
    }
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(`Unexpected argument "${quoted}" for ${command}`, { hint });
    default:
      return error instanceof Error ? new UsageError(message, { hint }) : error;
  }
}

/** Parses a whole number of 0 or more given for `option`. */
export function parseCount(value: string, option: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${option} must be a whole number of 0 or more, not "${value}"`);
  }
  return Number(value);
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

/** Fails when `positionals` holds more than `max` values. */
export function expectAtMost(command: string, positionals: string[], max: number): void {
  if (positionals.length > max) {
    throw new UsageError(`Unexpected argument "${positionals[max]}" for ${command}`, {
      hint: `Run "audit-trail ${command} --help" for usage. Quote text that contains spaces.`,
    });
  }
}

/** The user to record: `--user`, else `$AUDIT_TRAIL_USER`, else the login name, else `system`. */
export function resolveUser(io: CliIo, given: string | undefined): string {
  return given ?? nonEmpty(io.env("AUDIT_TRAIL_USER")) ?? nonEmpty(io.env("USER")) ??
    nonEmpty(io.env("USERNAME")) ?? nonEmpty(io.env("LOGNAME")) ?? "system";
}

/**
 * The run id to record: `--run-id`, else `$AUDIT_TRAIL_RUN_ID`, else none. A bad value is
 * refused here, naming the variable when it came from the environment.
 */
export function resolveRunId(io: CliIo, given: string | undefined): string | null {
  if (given !== undefined) return validateRunId(given);
  const fromEnv = nonEmpty(io.env("AUDIT_TRAIL_RUN_ID"));
  const problem = fromEnv === undefined ? null : runIdProblem(fromEnv);
  if (problem) {
    throw new UsageError(`AUDIT_TRAIL_RUN_ID: ${problem}`, {
      hint: "Unset it, or set it to a run id printed by `audit-trail batch start`.",
    });
  }
  return fromEnv ?? null;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
