/**
 * Starting and ending a batch, and running a command as one (`batch exec`).
 *
 * @module
 */
import { archivedReach, archivedWords } from "./archive/checkpoint_list.ts";
import { BATCH_END, BATCH_START } from "./batch.ts";
import { type BatchOutcome, formatBatchOutcome, signalNumber } from "./batch_outcome.ts";
import { type AuditDatabase, writeTransaction } from "./db.ts";
import { AuditTrailError, errorMessage, UsageError } from "./errors.ts";
import type { AuditEvent } from "./event_row.ts";
import { appendEvent, checkEvent, eventRefused, logAuditEvent } from "./events.ts";
import { generateRunId, validateRunId } from "./run_id.ts";

/**
 * Starts a batch: makes a new run id and logs `BATCH_START` with the description.
 *
 * @returns The `BATCH_START` event; its `run_id` is the new batch's id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrate, openDatabase } from "../mod.ts";
 * import { startBatch } from "./batch_run.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const start = startBatch(db, "Nightly stock count", { user: "scheduler" });
 * assert.equal(start.operation, "BATCH_START");
 * assert.match(start.run_id!, /^run_\d{8}_\d{6}_[0-9a-f]{8}$/);
 * ```
 */
export function startBatch(
  db: AuditDatabase,
  description = "",
  options: { user?: string | undefined; runId?: string | undefined } = {},
): AuditEvent {
  const runId = options.runId === undefined ? generateRunId() : validateRunId(options.runId);
  return logAuditEvent(db, {
    operation: BATCH_START,
    details: description,
    user: options.user,
    run_id: runId,
  });
}

/**
 * Where a batch stands across the live log and the archive files: whether any event has its
 * run id, and the id of its first `BATCH_END` (null: none).
 */
export interface BatchState {
  found: boolean;
  ended_by: number | null;
}

/**
 * Ends a batch by logging `BATCH_END` with the summary. A batch whose events were archived
 * while it ran is found in the archive files by `options.archived` (see
 * `batchStateWithArchives` in `archive/read.ts`), which then decides alone.
 *
 * @throws {UsageError} When no event has this run id (most likely a mistyped id; or, when
 * events were archived and `archived` is not given, the batch may be among them), or the batch
 * has a `BATCH_END` already: a bad value. Nothing is written then.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrate, openDatabase } from "../mod.ts";
 * import { endBatch, startBatch } from "./batch_run.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const { run_id } = startBatch(db, "Count");
 * assert.equal(endBatch(db, run_id!, "42 SKUs counted").operation, "BATCH_END");
 * ```
 */
export function endBatch(
  db: AuditDatabase,
  runId: string,
  summary = "",
  options: { user?: string; archived?: (runId: string) => BatchState } = {},
): AuditEvent {
  validateRunId(runId);
  const valid = checkEvent(
    { operation: BATCH_END, details: summary, run_id: runId },
    { user: options.user },
    eventRefused,
  );
  // Looked at in the transaction that appends, so two `batch end` at once cannot both end it.
  return writeTransaction(db, () => {
    const batch = options.archived?.(runId) ?? liveBatchState(db, runId);
    if (!batch.found) {
      const archived = options.archived ? null : archivedReach(db, { runId });
      if (archived) {
        const { events, one } = archivedWords(archived);
        throw new UsageError(
          `No event in the database has run id "${runId}", and ${events} ${
            one ? "is" : "are"
          } archived`,
          {
            hint: `Nothing was written. If the batch began before ${
              one ? "it was" : "they were"
            } archived, add --archives DIR (archive/ beside the database, unless archived elsewhere) to end it.`,
          },
        );
      }
      throw new UsageError(`No batch with run id "${runId}"`, {
        hint:
          "No event carries this run id: check it against the list of batches. Nothing was written.",
      });
    }
    if (batch.ended_by !== null) {
      // A second end would stand for the batch's end in reports, hiding how it really ended.
      throw new UsageError(`Batch "${runId}" has already ended (event ${batch.ended_by})`, {
        hint: `Nothing was written. To add a note to it, log an event with --run-id ${runId}.`,
      });
    }
    return appendEvent(db, valid);
  });
}

/** {@linkcode BatchState} of the live log alone. */
function liveBatchState(db: AuditDatabase, runId: string): BatchState {
  const row = db.statement(
    `SELECT count(*) AS events,
            (SELECT audit_id FROM audit_log WHERE run_id = ?1 AND operation = '${BATCH_END}'
             ORDER BY audit_id LIMIT 1) AS ended_by
     FROM (SELECT 1 FROM audit_log WHERE run_id = ?1 LIMIT 1)`,
  ).get(runId)!;
  return { found: row.events !== 0, ended_by: row.ended_by as number | null };
}

/** The command {@linkcode execBatch} runs. */
export interface BatchCommand {
  /** The program, found on `PATH` as a shell would. */
  program: string;
  args?: readonly string[];
  /** Added to the environment the command inherits. */
  env?: Record<string, string>;
}

/**
 * Where {@linkcode execBatch} hears of the signals sent to the batch, so that it can pass them
 * on to its command (the command line listens to its own process's). `listener` is told the
 * signal, and whether it has reached the command already (as a terminal's Ctrl-C reaches
 * every process of the foreground job); signals that came before it was attached are told at
 * once. The returned handle stops listening.
 */
export type SignalSource = (
  listener: (signal: Deno.Signal, reachedCommand: boolean) => void,
) => Disposable;

/** Options of {@linkcode execBatch}. */
export interface ExecBatchOptions {
  /**
   * The `BATCH_START` details. Default: the program as given, without its arguments, which
   * may hold passwords and would stay in the append-only log for good.
   */
  description?: string;
  /** Who runs the batch (recorded on `BATCH_START` and `BATCH_END`). */
  user?: string;
  /** Signals to pass on to the command while it runs. */
  signals?: SignalSource;
  /** Told the run id once `BATCH_START` is stored, before the command starts. */
  onStart?: (runId: string) => void;
}

/** What {@linkcode execBatch} did. */
export interface BatchExecResult {
  run_id: string;
  outcome: BatchOutcome;
  /** The `BATCH_END` event, whose details record the outcome. */
  end: AuditEvent;
}

/**
 * A batch whose command ran (or could not start) but whose `BATCH_END` could not be stored.
 * `outcome` says how the command ended.
 */
export class BatchEndNotRecordedError extends AuditTrailError {
  readonly runId: string;
  readonly outcome: BatchOutcome;

  constructor(runId: string, outcome: BatchOutcome, cause: unknown) {
    const reason = errorMessage(cause);
    super(
      `Batch ${runId} ended (${
        describeOutcome(outcome)
      }), but its BATCH_END could not be stored: ${reason}`,
      { hint: (cause as AuditTrailError)?.hint, cause },
    );
    this.runId = runId;
    this.outcome = outcome;
  }
}

/**
 * Runs a command as one batch: logs `BATCH_START`, runs `command` with `AUDIT_TRAIL_RUN_ID` set
 * to the new run id (so every `audit-trail log` inside it joins the batch) and its standard
 * streams inherited, waits for it, and logs `BATCH_END` with how it ended (see
 * {@linkcode formatBatchOutcome}). Signals from `options.signals` are passed on to the command,
 * and the batch still waits for it and records its end: the outcome then carries that signal,
 * and the exit code 128 + its number.
 *
 * @param db The open database.
 * @param command The program, its arguments and extra environment.
 * @param options Description, user, and the signals to pass on.
 * @returns The run id, the outcome, and the `BATCH_END` event. A command that could not start
 * is an outcome (exit code 1, `error` set), not an exception.
 * @throws {BatchEndNotRecordedError} When the command ended but `BATCH_END` could not be stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrate, openDatabase } from "../mod.ts";
 * import { execBatch } from "./batch_run.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const { outcome, end } = await execBatch(db, {
 *   program: Deno.execPath(),
 *   args: ["eval", "Deno.exit(3)"],
 * });
 * assert.equal(outcome.exit_code, 3);
 * assert.equal(JSON.parse(end.details).exit_code, 3);
 * ```
 */
export async function execBatch(
  db: AuditDatabase,
  command: BatchCommand,
  options: ExecBatchOptions = {},
): Promise<BatchExecResult> {
  const runId = startBatch(db, options.description ?? command.program, {
    user: options.user,
  }).run_id!;
  options.onStart?.(runId);
  const started = performance.now();
  const outcome = await runCommand(command, runId, options.signals);
  outcome.duration_seconds = Math.round(performance.now() - started) / 1000;
  try {
    const end = logAuditEvent(db, {
      operation: BATCH_END,
      details: formatBatchOutcome(outcome),
      run_id: runId,
    }, { user: options.user });
    return { run_id: runId, outcome, end };
  } catch (error) {
    throw new BatchEndNotRecordedError(runId, outcome, error);
  }
}

async function runCommand(
  command: BatchCommand,
  runId: string,
  signals: SignalSource | undefined,
): Promise<BatchOutcome> {
  const state: { child?: Deno.ChildProcess; received: Deno.Signal | null } = { received: null };
  const passOn = (signal: Deno.Signal) => {
    try {
      state.child?.kill(signal);
    } catch {
      // It has just ended, or this system cannot send that signal: nothing to pass it to.
    }
  };
  // Listening starts before the command does, so that a signal in between is not lost.
  using _listening = signals?.((signal, reachedCommand) => {
    state.received ??= signal;
    if (!reachedCommand) passOn(signal);
  });
  const ended = (signal: Deno.Signal | null, code: number): BatchOutcome => ({
    exit_code: signal === null ? code : 128 + (signalNumber(signal) ?? 0),
    signal,
    error: null,
    duration_seconds: 0,
  });
  // A signal that came while the batch was being started: the command is not started at all.
  if (state.received !== null) return ended(state.received, 0);
  try {
    state.child = new Deno.Command(command.program, {
      args: [...(command.args ?? [])],
      env: { ...command.env, AUDIT_TRAIL_RUN_ID: runId },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    const message = error instanceof Deno.errors.NotFound && !exists(command.program)
      ? `Command not found: "${command.program}"`
      : `Could not start "${command.program}": ${notStartedBecause(error)}`;
    return { exit_code: 1, signal: state.received, error: message, duration_seconds: 0 };
  }
  const status = await state.child.status;
  return ended(state.received ?? status.signal, status.code);
}

/**
 * Why a program could not be started, in words: the runtime's text names its spawn call
 * and an error number (`Failed to spawn './run.sh': Permission denied (os error 13)`).
 */
function notStartedBecause(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) {
    return "it is a folder, or a file this user may not run as a program";
  }
  // The file is there: what is missing is the interpreter its "#!" line names.
  if (error instanceof Deno.errors.NotFound) {
    return "the interpreter named on its first line (#!) is not installed";
  }
  return errorMessage(error).replace(/^Failed to spawn '.*?': /, "");
}

/** Whether `program` names a file that is there (a bare name is looked up in PATH instead). */
function exists(program: string): boolean {
  if (!/[\\/]/.test(program)) return false;
  try {
    Deno.statSync(program);
    return true;
  } catch {
    return false;
  }
}

/** The outcome in a few words, for messages: "exit code 3", "ended by SIGTERM". */
export function describeOutcome(outcome: BatchOutcome): string {
  if (outcome.error !== null) return outcome.error;
  if (outcome.signal !== null) return `ended by ${outcome.signal}, exit code ${outcome.exit_code}`;
  return `exit code ${outcome.exit_code}`;
}
