/**
 * How a batch's command ended, in the form its `BATCH_END` event records it: written by
 * `batch exec`, read back by whatever counts failed batches (in TypeScript or in SQL).
 *
 * The details of a `BATCH_END` written by `batch exec` are one JSON object:
 * `{"exit_code":3,"duration_seconds":1.234}`, with `"signal":"SIGTERM"` when a signal ended
 * the command and `"error":"…"` when it could not start. Earlier versions wrote text
 * (`exit code 3 after 1.234 s`, `killed by SIGTERM after 1.234 s`,
 * `Command not found: "x" after 0.002 s`); databases keep those forever, so both are read.
 *
 * @module
 */

/** How a batch's command ended. */
export interface BatchOutcome {
  /**
   * The exit code `batch exec` passes on: the command's own; 128 + the signal's number when a
   * signal ended it (or ended the batch, which passed it on); 1 when it could not start.
   */
  exit_code: number;
  /** The signal that ended the command or the batch, else `null`. */
  signal: Deno.Signal | null;
  /** Why the command could not start, else `null`. */
  error: string | null;
  /** From the command's start to its end, to the millisecond. */
  duration_seconds: number;
}

/** True when the outcome is a failure: a non-zero exit, a signal, or a command that never ran. */
export function batchFailed(outcome: BatchOutcome): boolean {
  return outcome.exit_code !== 0 || outcome.signal !== null || outcome.error !== null;
}

/**
 * The `BATCH_END` details of `outcome`: compact JSON, fields that do not apply left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBatchOutcome } from "./batch_outcome.ts";
 * assert.equal(
 *   formatBatchOutcome({ exit_code: 143, signal: "SIGTERM", error: null, duration_seconds: 2.5 }),
 *   '{"exit_code":143,"signal":"SIGTERM","duration_seconds":2.5}',
 * );
 * ```
 */
export function formatBatchOutcome(outcome: BatchOutcome): string {
  return JSON.stringify({
    exit_code: outcome.exit_code,
    ...(outcome.signal === null ? {} : { signal: outcome.signal }),
    ...(outcome.error === null ? {} : { error: outcome.error }),
    duration_seconds: outcome.duration_seconds,
  });
}

const LEGACY_EXIT = /^exit code (\d+) after (\d+(?:\.\d+)?) s$/;
const LEGACY_SIGNAL = /^killed by (SIG[A-Z0-9]+) after (\d+(?:\.\d+)?) s$/;
const LEGACY_START_FAILURE =
  /^((?:Command not found: "[\s\S]*"|Could not start "[\s\S]*": [\s\S]*)) after (\d+(?:\.\d+)?) s$/;

/**
 * Reads the outcome back from a `BATCH_END`'s details, in the JSON form or in the text form of
 * earlier versions. Anything else (the free-text summary of `batch end`) gives `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBatchOutcome } from "./batch_outcome.ts";
 * assert.deepEqual(parseBatchOutcome('{"exit_code":0,"duration_seconds":1.5}'), {
 *   exit_code: 0, signal: null, error: null, duration_seconds: 1.5,
 * });
 * assert.equal(parseBatchOutcome("killed by SIGKILL after 3.000 s")?.exit_code, 137);
 * assert.equal(parseBatchOutcome("15 orders confirmed"), null);
 * ```
 */
export function parseBatchOutcome(details: string): BatchOutcome | null {
  if (details.startsWith("{")) return parseJsonOutcome(details);
  let match = LEGACY_EXIT.exec(details);
  if (match) return outcome(Number(match[1]), null, null, match[2]!);
  match = LEGACY_SIGNAL.exec(details);
  if (match) {
    const signal = match[1] as Deno.Signal;
    return outcome(128 + (signalNumber(signal) ?? 0), signal, null, match[2]!);
  }
  match = LEGACY_START_FAILURE.exec(details);
  if (match) return outcome(1, null, match[1]!, match[2]!);
  return null;
}

function parseJsonOutcome(details: string): BatchOutcome | null {
  let value: unknown;
  try {
    value = JSON.parse(details);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { exit_code, signal, error, duration_seconds } = value as Record<string, unknown>;
  if (!Number.isSafeInteger(exit_code)) return null;
  return {
    exit_code: exit_code as number,
    signal: typeof signal === "string" ? signal as Deno.Signal : null,
    error: typeof error === "string" ? error : null,
    duration_seconds: typeof duration_seconds === "number" ? duration_seconds : 0,
  };
}

function outcome(
  exitCode: number,
  signal: Deno.Signal | null,
  error: string | null,
  seconds: string,
): BatchOutcome {
  return { exit_code: exitCode, signal, error, duration_seconds: Number(seconds) };
}

/**
 * A SQL expression over a `BATCH_END` row's `details` that is true (1) when it records a
 * failed command, in either form {@linkcode parseBatchOutcome} reads, and agrees with it and
 * {@linkcode batchFailed}; 0 for anything else, a NULL included. The JSON functions run only
 * on text that is valid JSON, which `json_extract` would otherwise reject with an error.
 */
export const BATCH_FAILED_SQL = `coalesce(CASE
  WHEN details GLOB '{*' AND json_valid(details) THEN
    CASE WHEN json_type(details, '$.exit_code') = 'integer'
      THEN json_extract(details, '$.exit_code') <> 0
        OR json_type(details, '$.signal') IS 'text'
        OR json_type(details, '$.error') IS 'text'
      ELSE 0 END
  ELSE (details GLOB 'exit code [0-9]* after *' AND NOT details GLOB 'exit code 0 after *')
    OR details GLOB 'killed by SIG* after *'
    OR details GLOB 'Command not found: "*" after *'
    OR details GLOB 'Could not start "*": * after *'
END, 0)`;

/**
 * Signal numbers as the operating system counts them, which differ between Linux and the BSDs
 * (macOS): a command killed by SIGUSR1 exits as 138 on Linux and 158 on macOS. Windows knows
 * only the few its C runtime defines.
 */
const LINUX_SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31,
};

const BSD_SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGEMT: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGBUS: 10,
  SIGSEGV: 11,
  SIGSYS: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGURG: 16,
  SIGSTOP: 17,
  SIGTSTP: 18,
  SIGCONT: 19,
  SIGCHLD: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGIO: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGINFO: 29,
  SIGUSR1: 30,
  SIGUSR2: 31,
};

const WINDOWS_SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGINT: 2,
  SIGILL: 4,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
  SIGBREAK: 21,
  SIGABRT: 22,
};

/**
 * The number of `signal` on `os` (default: this system), or `undefined` for a signal that
 * system does not have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signalNumber } from "./batch_outcome.ts";
 * assert.equal(signalNumber("SIGUSR1", "linux"), 10);
 * assert.equal(signalNumber("SIGUSR1", "darwin"), 30);
 * ```
 */
export function signalNumber(
  signal: Deno.Signal,
  os: typeof Deno.build.os = Deno.build.os,
): number | undefined {
  const table = os === "windows"
    ? WINDOWS_SIGNALS
    : os === "linux" || os === "android"
    ? LINUX_SIGNALS
    : BSD_SIGNALS;
  return table[signal];
}
