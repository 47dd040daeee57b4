/**
 * Batches: the events that share one run id, and their time span. Starting, ending and running
 * one is `batch_run.ts`: reading a batch (`batch show`, `batch list`) then loads neither the
 * event writer nor the seal, each a module that would cost those commands' start.
 *
 * @module
 */
import { type AuditDatabase, guard, readSnapshot } from "./db.ts";
import { requireCount } from "./count.ts";
import { requireKnownOptions } from "./known_options.ts";
import { type AuditEvent, type AuditRow, rowToEvent, UTC_TIMESTAMP_SQL } from "./event_row.ts";
import {
  type OutputFormat,
  type RowsOptions,
  type TextSink,
  writeObject,
  writeObjectWithRows,
  writeRows,
} from "./output.ts";
import { getAuditLog, streamAuditRows } from "./query.ts";

/** One batch with all its events, oldest first, as `batch show` prints it. */
export interface BatchReport {
  run_id: string;
  event_count: number;
  events: AuditEvent[];
  start_time: string | null;
  end_time: string | null;
  /** From the first event to the last, in seconds with millisecond resolution; never negative. */
  duration_seconds: number;
}

/** One line of `batch list`. */
export interface BatchSummary {
  run_id: string;
  event_count: number;
  start_time: string;
  end_time: string;
  duration_seconds: number;
}

/** Operation logged by `startBatch` (`batch_run.ts`). */
export const BATCH_START = "BATCH_START";
/** Operation logged by `endBatch` (`batch_run.ts`). */
export const BATCH_END = "BATCH_END";

/**
 * Reads every event of one batch, oldest first, with its time span. An unknown run id gives
 * an empty report (`event_count` 0, `null` times, `duration_seconds` 0).
 *
 * @param db The open database.
 * @param runId The batch's run id.
 * @returns The batch report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getBatchOperations, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "BATCH_START", run_id: "run_a" });
 * logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1" }); // in no batch
 * logAuditEvent(db, { operation: "BATCH_END", run_id: "run_a" });
 * const report = getBatchOperations(db, "run_a");
 * assert.deepEqual(report.events.map((e) => [e.audit_id, e.operation]), [[1, "BATCH_START"], [3, "BATCH_END"]]);
 * assert.deepEqual([report.start_time, report.end_time], [report.events[0]!.timestamp, report.events[1]!.timestamp]);
 * const seconds = (Date.parse(report.end_time!) - Date.parse(report.start_time!)) / 1000;
 * assert.equal(report.duration_seconds, seconds);
 * assert.equal(getBatchOperations(db, "run_unknown").event_count, 0);
 * ```
 */
export function getBatchOperations(db: AuditDatabase, runId: string): BatchReport {
  return batchReport(runId, getAuditLog(db, { runId, order: "asc", limit: 0 }));
}

/**
 * Writes the report of one batch in `format`, as {@linkcode getBatchOperations} would give it
 * to `batch show` (JSON and NDJSON: the report; CSV: its events; table: its figures, then its
 * events), byte for byte, while holding one page of events at a time: a batch of millions of
 * events prints in flat memory. Everything is read from one snapshot, so a batch still running
 * cannot make the count and the events disagree.
 *
 * @returns The batch's first and last time, for a note beside a table (null for CSV).
 */
export async function writeBatchReport(
  sink: TextSink,
  db: AuditDatabase,
  runId: string,
  format: OutputFormat,
  options: RowsOptions = {},
): Promise<{ start_time: string | null; end_time: string | null } | null> {
  using _snapshot = readSnapshot(db);
  const events = () => streamAuditRows(db, { runId, order: "asc", limit: 0 });
  if (format === "csv") {
    await writeRows(sink, events(), "csv");
    return null;
  }
  const summary = batchSummary(db, runId);
  const report = {
    run_id: runId,
    event_count: summary.count,
    events: [] as AuditEvent[],
    ...spanOf(summary),
  };
  if (format === "table") {
    await writeObject(sink, report, "table");
    await sink.write("\n");
    await writeRows(sink, events(), "table", undefined, options);
    return report;
  }
  const record = (row: readonly unknown[]) => rowToEvent(row as AuditRow);
  await writeObjectWithRows(sink, report, "events", events(), record, format);
  return report;
}

/** How many events a batch has, and the timestamps of its first and last. */
function batchSummary(db: AuditDatabase, runId: string) {
  const row = guard(db.path, () =>
    db.statement(
      `WITH b AS (
         SELECT count(*) AS event_count, min(audit_id) AS first_id, max(audit_id) AS last_id
         FROM audit_log WHERE run_id = ?
       )
       SELECT b.event_count,
         (SELECT ${UTC_TIMESTAMP_SQL} FROM audit_log WHERE audit_id = b.first_id) AS start_time,
         (SELECT ${UTC_TIMESTAMP_SQL} FROM audit_log WHERE audit_id = b.last_id) AS end_time
       FROM b`,
    ).get(runId)!);
  return {
    count: row.event_count as number,
    start: row.start_time as string | null,
    end: row.end_time as string | null,
  };
}

/** The report's closing fields, in their order. */
function spanOf({ start, end }: { start: string | null; end: string | null }) {
  return {
    start_time: start,
    end_time: end,
    duration_seconds: start !== null && end !== null ? durationSeconds(start, end) : 0,
  };
}

/** The report of one batch, from all its events, oldest first. */
export function batchReport(runId: string, events: AuditEvent[]): BatchReport {
  if (events.length === 0) {
    return {
      run_id: runId,
      event_count: 0,
      events: [],
      start_time: null,
      end_time: null,
      duration_seconds: 0,
    };
  }
  const start = events[0]!.timestamp;
  const end = events[events.length - 1]!.timestamp;
  return {
    run_id: runId,
    event_count: events.length,
    events,
    start_time: start,
    end_time: end,
    duration_seconds: durationSeconds(start, end),
  };
}

/**
 * Lists batches (every distinct run id), most recently active first.
 *
 * @param db The open database.
 * @param options `limit`: how many batches at most (default 20; 0 means all).
 * @returns One summary per batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listBatches, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "COUNTED", run_id: "run_a" });
 * logAuditEvent(db, { operation: "COUNTED", run_id: "run_b" });
 * assert.deepEqual(listBatches(db).map((b) => b.run_id), ["run_b", "run_a"]);
 * ```
 */
export function listBatches(
  db: AuditDatabase,
  options: { limit?: number | undefined } = {},
): BatchSummary[] {
  requireKnownOptions(options, { limit: true }, "batch list option");
  const limit = requireCount(options.limit ?? DEFAULT_BATCH_LIST_LIMIT, "Limit");
  const rows = guard(db.path, () =>
    db.statement(
      // The run ids are found by hopping through the run_id index from one to the next,
      // and each one's newest event is one more look-up: the newest batches cost one step
      // per batch, where grouping the index reads every event. Only the batches listed are
      // counted.
      `WITH RECURSIVE runs(run_id) AS (
         SELECT min(run_id) FROM audit_log
         UNION ALL
         SELECT (SELECT min(run_id) FROM audit_log WHERE run_id > runs.run_id)
         FROM runs WHERE runs.run_id IS NOT NULL
       ),
       newest AS (
         SELECT run_id, (SELECT max(audit_id) FROM audit_log WHERE run_id = runs.run_id) AS last_id
         FROM runs WHERE run_id IS NOT NULL ORDER BY last_id DESC LIMIT ?
       ),
       batches AS (
         SELECT run_id, last_id,
           (SELECT count(*) FROM audit_log WHERE run_id = newest.run_id) AS event_count,
           (SELECT min(audit_id) FROM audit_log WHERE run_id = newest.run_id) AS first_id
         FROM newest
       )
       SELECT b.run_id, b.event_count,
         (SELECT ${UTC_TIMESTAMP_SQL} FROM audit_log WHERE audit_id = b.first_id) AS start_time,
         (SELECT ${UTC_TIMESTAMP_SQL} FROM audit_log WHERE audit_id = b.last_id) AS end_time
       FROM batches b ORDER BY b.last_id DESC`,
    ).all(limit === 0 ? -1 : limit));
  return rows.map((row) => ({
    run_id: row.run_id as string,
    event_count: row.event_count as number,
    start_time: row.start_time as string,
    end_time: row.end_time as string,
    duration_seconds: durationSeconds(row.start_time as string, row.end_time as string),
  }));
}

/**
 * Why a batch's duration is not known, or null when it is: its latest event is dated before
 * its first, as when the clock was set back while it ran. Its `duration_seconds` is then 0,
 * which people must not read as "took no time".
 */
export function unknownDuration(
  span: { start_time: string | null; end_time: string | null },
): string | null {
  if (span.start_time === null || span.end_time === null) return null;
  return Date.parse(span.end_time) < Date.parse(span.start_time)
    ? "the latest event is dated before the first: the clock was set back while it ran, so how long it took is not known"
    : null;
}

/** Default `limit` of {@linkcode listBatches}. */
export const DEFAULT_BATCH_LIST_LIMIT = 20;

/**
 * Seconds from `start` to `end` (ISO timestamps), to the millisecond. A clock that was set
 * back during a batch would make this negative; the span is then reported as 0.
 */
export function durationSeconds(start: string, end: string): number {
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
}
