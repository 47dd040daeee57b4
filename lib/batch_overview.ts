/**
 * Batches at a glance: the latest ones with how each ended, one batch's summary, and how its
 * events spread over its time span (the report's and the viewer's batch tables and pages).
 *
 * @module
 */
import {
  BATCH_END,
  type BatchSummary,
  DEFAULT_BATCH_LIST_LIMIT,
  durationSeconds,
  listBatches,
} from "./batch.ts";
import { batchFailed, parseBatchOutcome } from "./batch_outcome.ts";
import { type AuditDatabase, readTransaction } from "./db.ts";
import { TIME_WITHIN_SQL, UTC_TIMESTAMP_SQL } from "./event_row.ts";
import { timeRange } from "./time_bound.ts";

const TS = UTC_TIMESTAMP_SQL;

/**
 * How a batch ended, read from the details of its `BATCH_END` as `batch exec` writes them
 * (see `batch_outcome.ts`, both its JSON form and the text of earlier versions): `failed` for
 * a non-zero exit, a signal or a command that never started; `ok` for exit code 0; `null` for
 * a summary written by hand (`batch end RUN_ID SUMMARY`), which says nothing a program can read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchEndOutcome } from "./batch_overview.ts";
 * assert.ok(batchEndOutcome('{"exit_code":0,"duration_seconds":1.25}') === "ok");
 * assert.ok(batchEndOutcome('{"exit_code":143,"signal":"SIGTERM","duration_seconds":9}') === "failed");
 * assert.ok(batchEndOutcome("exit code 2 after 0.031 s") === "failed");
 * assert.ok(batchEndOutcome("15 orders confirmed") === null);
 * ```
 */
export function batchEndOutcome(details: string): "ok" | "failed" | null {
  const outcome = parseBatchOutcome(details);
  return outcome === null ? null : batchFailed(outcome) ? "failed" : "ok";
}

/** One batch of {@linkcode recentBatches}: `batch list`'s summary and how the batch ended. */
export interface BatchOutline extends BatchSummary {
  /**
   * From its first `BATCH_END` (see {@linkcode batchEndOutcome}), as `stats` counts failures;
   * `null` when unreadable. A later `BATCH_END`, which older versions let through, is a note.
   */
  outcome: "ok" | "failed" | null;
  /** The details of its first `BATCH_END`, or `null` when it has none. */
  end_details: string | null;
}

/**
 * The most recently active batches, as `batch list` orders and sums them up, each with how it
 * ended. With a time range, the batches with an event in it (each summed up whole).
 *
 * @param db The open database.
 * @param options How many (default 20; 0 means all) and the time range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrate, openDatabase } from "../mod.ts";
 * import { endBatch, startBatch } from "./batch_run.ts";
 * import { recentBatches } from "./batch_overview.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const { run_id } = startBatch(db, "Count");
 * endBatch(db, run_id!, "exit code 3 after 1.000 s");
 * const [batch] = recentBatches(db);
 * assert.ok(batch.run_id === run_id && batch.outcome === "failed");
 * ```
 */
export function recentBatches(
  db: AuditDatabase,
  options: { limit?: number | undefined; since?: string | undefined; until?: string | undefined } =
    {},
): BatchOutline[] {
  const limit = options.limit ?? DEFAULT_BATCH_LIST_LIMIT;
  return readTransaction(db, () => {
    let batches: BatchSummary[];
    if (options.since === undefined && options.until === undefined) {
      batches = listBatches(db, { limit });
    } else {
      const range = timeRange(options);
      const ids = db.statement(
        `SELECT run_id, max(audit_id) AS last_id FROM audit_log
         WHERE ${TIME_WITHIN_SQL} AND run_id IS NOT NULL
         GROUP BY run_id ORDER BY last_id DESC LIMIT ?`,
      ).all(
        range.start,
        range.end,
        limit === 0 ? -1 : limit,
      );
      batches = ids.map((row) => batchSummary(db, row.run_id as string));
    }
    return batches.map((batch) => withOutcome(db, batch));
  });
}

/**
 * One batch's summary and how it ended, or `null` when no event has this run id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { batchOutline } from "./batch_overview.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "BATCH_END", details: "exit code 0 after 2.000 s", run_id: "r1" });
 * assert.ok(batchOutline(db, "r1")?.outcome === "ok");
 * assert.ok(batchOutline(db, "r2") === null);
 * ```
 */
export function batchOutline(db: AuditDatabase, runId: string): BatchOutline | null {
  return readTransaction(db, () => {
    const summary = batchSummary(db, runId);
    return summary.event_count === 0 ? null : withOutcome(db, summary);
  });
}

function withOutcome(db: AuditDatabase, batch: BatchSummary): BatchOutline {
  const details = (db.statement(
    `SELECT coalesce(details, '') AS details FROM audit_log
     WHERE run_id = ? AND operation = '${BATCH_END}' ORDER BY audit_id LIMIT 1`,
  ).get(batch.run_id)?.details as string | undefined) ?? null;
  return {
    ...batch,
    outcome: details === null ? null : batchEndOutcome(details),
    end_details: details,
  };
}

function batchSummary(db: AuditDatabase, runId: string): BatchSummary {
  const row = db.statement(
    `WITH b AS (
       SELECT count(*) AS n, min(audit_id) AS first_id, max(audit_id) AS last_id
       FROM audit_log WHERE run_id = ?
     )
     SELECT n AS event_count,
       (SELECT ${TS} FROM audit_log WHERE audit_id = b.first_id) AS start_time,
       (SELECT ${TS} FROM audit_log WHERE audit_id = b.last_id) AS end_time
     FROM b`,
  ).get(runId)!;
  return {
    run_id: runId,
    event_count: row.event_count as number,
    start_time: row.start_time as string,
    end_time: row.end_time as string,
    duration_seconds: durationSeconds(row.start_time as string, row.end_time as string),
  };
}

/** A batch's events over its time span, in equal slices: its timeline. */
export interface BatchTimeline {
  start_time: string | null;
  end_time: string | null;
  /** Seconds each slice spans. */
  slice_seconds: number;
  /** Events per slice, from the start; every slice is listed. */
  counts: number[];
}

/**
 * How the events of one batch spread over its time span, in at most `slices` equal slices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { batchTimeline } from "./batch_overview.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "BATCH_START", run_id: "run_a" });
 * logAuditEvent(db, { operation: "BATCH_END", run_id: "run_a" });
 * const timeline = batchTimeline(db, "run_a");
 * assert.ok(timeline.counts.reduce((a, b) => a + b) === 2);
 * ```
 */
export function batchTimeline(db: AuditDatabase, runId: string, slices = 60): BatchTimeline {
  return readTransaction(db, () => {
    const span = db.statement(
      `SELECT min(${TS}) AS start_time, max(${TS}) AS end_time FROM audit_log WHERE run_id = ?`,
    ).get(runId)!;
    const start = span.start_time as string | null;
    const end = span.end_time as string | null;
    if (start === null || end === null) {
      return { start_time: null, end_time: null, slice_seconds: 0, counts: [] };
    }
    const total = durationSeconds(start, end);
    const sliceSeconds = Math.max(0.001, total / slices);
    const count = Math.min(slices, Math.floor(total / sliceSeconds) + 1);
    const counts = new Array<number>(count).fill(0);
    const rows = db.statement(
      `SELECT CAST((julianday(${TS}) - julianday(?)) * 86400.0 / ? AS INTEGER) AS slice,
         count(*) AS n
       FROM audit_log WHERE run_id = ? GROUP BY slice`,
    ).all(start, sliceSeconds, runId);
    for (const row of rows) {
      const slice = Math.min(count - 1, Math.max(0, Number(row.slice)));
      counts[slice]! += row.n as number;
    }
    return { start_time: start, end_time: end, slice_seconds: sliceSeconds, counts };
  });
}
