/**
 * Figures about the audit log for people who would rather look than read: events per day and
 * per operation, the most active SKUs and users, and how batches went. Every figure comes from
 * an index; a time range reads only the events in it.
 *
 * @module
 */
import { BATCH_END, BATCH_START, durationSeconds } from "./batch.ts";
import { type AuditDatabase, guard, readTransaction } from "./db.ts";
import { requireCount } from "./count.ts";
import { batchFailed, parseBatchOutcome } from "./batch_outcome.ts";
import { IS_TIME_SQL, TIME_WITHIN_SQL, UTC_TIMESTAMP_SQL } from "./event_row.ts";
import { type AuditLogFilter, filterConditions, logIdEnds, timeSpanIds } from "./query.ts";
import { timeRange } from "./time_bound.ts";
import { requireKnownOptions } from "./known_options.ts";

/** What `audit-trail stats` prints. */
export interface AuditStats {
  /** Events in the range (without one, every event, those without a valid time too). */
  events: number;
  /**
   * Of `events`, those whose timestamp is not a time (damaged text, a number): they belong to no day and no range, so there are none of them in a range.
   */
  without_valid_time: number;
  /** The oldest and newest event's time in the range, or `null` when it holds none. */
  first_timestamp: string | null;
  last_timestamp: string | null;
  /**
   * Events per UTC day, oldest day first; days without events are left out, as are events
   * without a valid time.
   */
  per_day: { day: string; count: number }[];
  /** Every operation, the most frequent first. */
  operations: { operation: string; count: number }[];
  /** The `top` SKUs with the most events, the most frequent first. */
  top_skus: { sku: string; count: number }[];
  /** The `top` users with the most events, the most frequent first. */
  users: { user: string; count: number }[];
  batches: BatchFigures;
}

/** How the batches of the range went. */
export interface BatchFigures {
  /** Distinct run ids with an event in the range (as `batch list` counts them). */
  count: number;
  /** Of those, the batches whose first `BATCH_END` in the range records a failure. */
  failed: number;
  /**
   * Median seconds from the first `BATCH_START` to the first `BATCH_END`, both in the range;
   * `null` if none.
   */
  median_duration_seconds: number | null;
}

/** Options of {@linkcode getStats}. */
export interface StatsOptions {
  /** Only events at or after this date or time (ISO, UTC), as `query --since`. */
  since?: string | undefined;
  /** Only events up to the end of this date or time, as `query --until`. */
  until?: string | undefined;
  /** How many SKUs and users to list (default 10; 0 lists all). */
  top?: number | undefined;
}

const STATS_OPTION_KEYS: Record<keyof StatsOptions, true> = { since: true, until: true, top: true };

/** Default number of SKUs and users {@linkcode getStats} lists. */
export const DEFAULT_STATS_TOP = 10;

const TS = UTC_TIMESTAMP_SQL;

/**
 * Counts the events of the log, or of a time range of it, by day, operation, SKU and user,
 * and sums up its batches. One consistent snapshot is read; writers are not blocked.
 *
 * Per day is read by skipping through the time index one day at a time (two index look-ups
 * and a count of index entries per day), never the table. Without a range, or with one that
 * holds every event, operations, SKUs, users and run ids are counted from their own indexes
 * (value by value, each over its own stretch, when a column has few values); a narrower range
 * reads the events in it through the time index.
 *
 * @param db The open database.
 * @param options The time range and how many SKUs and users to list.
 * @returns The figures.
 * @throws {UsageError} For a bad time bound or `top`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getStats, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1", user: "ana" });
 * logAuditEvent(db, { operation: "SKU_UPDATED", sku: "SKU-1", user: "ana" });
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-2", user: "ben" });
 * const stats = getStats(db);
 * assert.equal(stats.events, 3);
 * assert.deepEqual(stats.top_skus, [{ sku: "SKU-1", count: 2 }, { sku: "SKU-2", count: 1 }]);
 * assert.deepEqual(stats.users, [{ user: "ana", count: 2 }, { user: "ben", count: 1 }]);
 * assert.deepEqual(stats.operations, [
 *   { operation: "SKU_CREATED", count: 2 },
 *   { operation: "SKU_UPDATED", count: 1 },
 * ]);
 * ```
 */
export function getStats(db: AuditDatabase, options: StatsOptions = {}): AuditStats {
  requireKnownOptions(options, STATS_OPTION_KEYS, "stats option");
  const top = requireCount(options.top ?? DEFAULT_STATS_TOP, "Top");
  const range = timeRange(options);
  const ranged = options.since !== undefined || options.until !== undefined;
  return readTransaction(db, () => {
    const total = one(db, "SELECT count(*) AS v FROM audit_log") as number;
    if (total === 0) return emptyStats();
    const perDay = countPerDay(db, range);
    const timed = perDay.reduce((sum, day) => sum + day.count, 0);
    // Without a range, or with one that holds every event, the figures come from the indexes
    // of their own columns, which hold exactly what is counted.
    const whole = !ranged || timed === total;
    if (timed === 0 && !whole) return emptyStats();
    const bounds = `FROM audit_log WHERE ${TIME_WITHIN_SQL}`;
    const first = timed === 0
      ? null
      : one(db, `SELECT min(${TS}) AS v ${bounds}`, range.start, range.end) as string;
    const last = timed === 0
      ? null
      : one(db, `SELECT max(${TS}) AS v ${bounds}`, range.start, range.end) as string;
    const where = whole ? "" : TIME_WITHIN_SQL;
    const params = whole ? [] : [range.start, range.end];
    const and = (condition: string) =>
      `WHERE ${[where, condition].filter((c) => c !== "").join(" AND ")}`;
    const limit = top === 0 ? -1 : top;
    const events = whole ? total : timed;
    const span = idSpan(db, whole, options, events);
    // Counted per value (column, value, n): value by value over the span's stretch of the
    // column's index when the events are one span of ids and the column has few values, else
    // grouped (see valueCounts).
    const counted = (column: CountedColumn, nulls = true) => {
      const condition = nulls ? "" : `${column} IS NOT NULL`;
      const grouping = { sql: grouped(column, where || condition ? and(condition) : ""), params };
      return span === null ? grouping : valueCounts(db, column, events, span, grouping, nulls);
    };
    const byOperation = counted("operation");
    const operations = all(
      db,
      `WITH ${byOperation.sql}
       SELECT value AS operation, n AS count FROM counted ORDER BY count DESC, operation`,
      ...byOperation.params,
    ) as { operation: string; count: number }[];
    const bySku = counted("sku", false);
    const topSkus = all(
      db,
      `WITH ${bySku.sql}
       SELECT value AS sku, n AS count FROM counted WHERE value IS NOT NULL
       ORDER BY count DESC, sku LIMIT ?`,
      ...bySku.params,
      limit,
    ) as { sku: string; count: number }[];
    // Counted by the stored value first (the index's order), then legacy NULLs are merged
    // into "system", which every record prints for them.
    const byUser = counted("user");
    const users = all(
      db,
      `WITH ${byUser.sql}
       SELECT coalesce(value, 'system') AS user, sum(n) AS count FROM counted
       GROUP BY 1 ORDER BY count DESC, user LIMIT ?`,
      ...byUser.params,
      limit,
    ) as { user: string; count: number }[];
    return {
      events,
      without_valid_time: events - timed,
      first_timestamp: first,
      last_timestamp: last,
      per_day: perDay,
      operations: operations.map((row) => ({ operation: row.operation, count: row.count })),
      top_skus: topSkus.map((row) => ({ sku: row.sku, count: row.count })),
      users: users.map((row) => ({ user: row.user, count: row.count })),
      batches: batchFigures(db, and, params, span && { ...span, events }),
    };
  });
}

function emptyStats(): AuditStats {
  return {
    events: 0,
    without_valid_time: 0,
    first_timestamp: null,
    last_timestamp: null,
    per_day: [],
    operations: [],
    top_skus: [],
    users: [],
    batches: { count: 0, failed: 0, median_duration_seconds: null },
  };
}

/**
 * Events per day (the first ten characters of the printed timestamp) of the events with a
 * valid time, as `GROUP BY substr(timestamp, 1, 10)` would count them, from the time index
 * alone: each day is found by seeking the first time at or after the previous day's end, and
 * counted over its stretch of the index. A plain GROUP BY reads every row of the table (SQLite
 * does not take the indexed value for an expression around it), about 20 times slower on a
 * million events.
 */
function countPerDay(
  db: AuditDatabase,
  range: { start: string; end: string },
): { day: string; count: number }[] {
  const within = `FROM audit_log WHERE ${TIME_WITHIN_SQL}`;
  const next = db.statement(`SELECT min(${TS}) AS v ${within}`);
  const countBetween = db.statement(`SELECT count(*) AS n ${within}`);
  const days: { day: string; count: number }[] = [];
  let from = range.start;
  for (;;) {
    const time = next.get(from, range.end)?.v as string | null | undefined;
    if (time === null || time === undefined) break;
    const day = time.slice(0, 10);
    const after = following(day);
    const count = countBetween.get(
      day > range.start ? day : range.start,
      after < range.end ? after : range.end,
    )!.n as number;
    days.push({ day, count });
    from = after;
  }
  return days;
}

/** The smallest string above every string that starts with `prefix`. */
function following(prefix: string): string {
  const last = prefix.codePointAt(prefix.length - 1)!;
  return prefix.slice(0, -1) + String.fromCodePoint(last + 1);
}

/**
 * @param span The events' one span of ids and how many they are, when they are one (`null`
 * otherwise): their run ids are then counted from value to value in their index.
 */
function batchFigures(
  db: AuditDatabase,
  and: (condition: string) => string,
  params: string[],
  span: IdSpan & { events: number } | null,
): BatchFigures {
  const count = (span === null ? null : distinctValues(db, "run_id", span.events, span)) ?? one(
    db,
    `SELECT count(DISTINCT run_id) AS v FROM audit_log ${and("run_id IS NOT NULL")}`,
    ...params,
  ) as number;
  const marks = all(
    db,
    `SELECT run_id, operation, ${TS} AS time, coalesce(details, '') AS details FROM audit_log
     ${and(`operation IN ('${BATCH_START}', '${BATCH_END}') AND run_id IS NOT NULL`)}
     ORDER BY audit_id`,
    ...params,
  ) as { run_id: string; operation: string; time: string; details: string }[];
  const starts = new Map<string, string>();
  const ends = new Map<string, string>();
  const failed = new Set<string>();
  for (const mark of marks) {
    if (mark.operation === BATCH_START) {
      if (!starts.has(mark.run_id)) starts.set(mark.run_id, mark.time);
    } else if (!ends.has(mark.run_id)) {
      // The first BATCH_END is the batch's end, as `batch end` holds when it refuses a second
      // one; a later one (an older version let it be written) is a note, not how it went.
      ends.set(mark.run_id, mark.time);
      const outcome = parseBatchOutcome(mark.details);
      if (outcome !== null && batchFailed(outcome)) failed.add(mark.run_id);
    }
  }
  const durations: number[] = [];
  for (const [runId, start] of starts) {
    const end = ends.get(runId);
    if (end !== undefined) durations.push(durationSeconds(start, end));
  }
  return { count, failed: failed.size, median_duration_seconds: median(durations) };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const value = sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return Math.round(value * 1000) / 1000;
}

/** A column with an index of its own that stats counts events by. */
type CountedColumn = "operation" | "sku" | "user" | "run_id";

/**
 * The most values per event (1 in `VALUES_PER_EVENT` events) that are counted value by
 * value: each value costs a seek in the column's index, some 30 to 60 times what grouping
 * costs per event, so with more values grouping costs less.
 */
const VALUES_PER_EVENT = 128;

/** The first and last `audit_id` of events that are exactly every id between them. */
interface IdSpan {
  first: number;
  last: number;
}

/**
 * The ids of the events counted, when they are every id from one to another: the whole log,
 * or a time range whose `events` fill the span of ids its events lie in (so no event of
 * another time, or without one, lies among them). Then each column's index holds a value's
 * events of the range together, and they are counted there, without reading an event.
 */
function idSpan(
  db: AuditDatabase,
  whole: boolean,
  range: StatsOptions,
  events: number,
): IdSpan | null {
  if (whole) {
    const { first, last } = logIdEnds(db);
    return first === null || last === null ? null : { first, last };
  }
  const span = timeSpanIds(db, range);
  return span && span.last - span.first + 1 === events ? span : null;
}

/**
 * The values of `column` found by stepping through its index from one to the next (a seek
 * each, never the events between), as a recursive CTE `values_of(value)`; with `limited`,
 * at most as many as its one parameter says.
 */
function valuesOf(column: CountedColumn, limited = false): string {
  return `RECURSIVE values_of(value) AS (
       SELECT min(${column}) FROM audit_log
       UNION ALL
       SELECT (SELECT min(${column}) FROM audit_log WHERE ${column} > values_of.value)
       FROM values_of WHERE values_of.value IS NOT NULL${limited ? " LIMIT ?" : ""}
     )`;
}

/**
 * Whether `column` holds at most one value in {@linkcode VALUES_PER_EVENT} of the `events`
 * counted, found from value to value in its index (at most that many seeks).
 */
function fewValues(db: AuditDatabase, column: CountedColumn, events: number): boolean {
  const most = Math.trunc(events / VALUES_PER_EVENT);
  const values = `WITH ${valuesOf(column, true)} SELECT count(value) AS v FROM values_of`;
  return (one(db, values, most + 1) as number) <= most;
}

/**
 * How many distinct non-NULL values `column` holds among the `events` of `span`, or `null`
 * when it holds many (see {@linkcode fewValues}): each value is looked up in the span, where
 * `count(DISTINCT)` steps through every event (ten million for 10,000 run ids).
 */
function distinctValues(
  db: AuditDatabase,
  column: CountedColumn,
  events: number,
  span: IdSpan,
): number | null {
  if (!fewValues(db, column, events)) return null;
  return one(
    db,
    `WITH ${valuesOf(column)} SELECT count(*) AS v FROM values_of WHERE value IS NOT NULL
       AND EXISTS (SELECT 1 FROM audit_log WHERE ${column} = values_of.value
                   AND audit_id BETWEEN ? AND ?)`,
    span.first,
    span.last,
  ) as number;
}

/**
 * A CTE `counted(value, n)`: the events of `span` per value of `column` (NULL among them,
 * with `nulls`).
 * With few values, each is found and counted on the span's stretch of the value's part of the
 * column's index: a GROUP BY compares and aggregates at every one of the events, about twice
 * the time, and a time range's reads each event from the table. With many (more than one in
 * {@linkcode VALUES_PER_EVENT} events) it is `grouping`.
 */
function valueCounts(
  db: AuditDatabase,
  column: CountedColumn,
  events: number,
  span: IdSpan,
  grouping: { sql: string; params: (string | number)[] },
  nulls: boolean,
): { sql: string; params: (string | number)[] } {
  if (!fewValues(db, column, events)) return grouping;
  const within = "audit_id BETWEEN ?1 AND ?2";
  return {
    // Materialized: a count read through a view is taken again for each use of it (n > 0, n).
    sql: `${valuesOf(column)},
     counts(value, n) AS MATERIALIZED (
       SELECT value, (SELECT count(*) FROM audit_log WHERE ${column} = values_of.value AND ${within})
       FROM values_of WHERE value IS NOT NULL${
      nulls
        ? `
       UNION ALL
       SELECT NULL, (SELECT count(*) FROM audit_log WHERE ${column} IS NULL AND ${within})`
        : ""
    }
     ),
     counted(value, n) AS (SELECT value, n FROM counts WHERE n > 0)`,
    params: [span.first, span.last],
  };
}

/** A CTE `counted(value, n)`: the events `where` selects, grouped by `column`. */
function grouped(column: CountedColumn, where: string): string {
  return `counted(value, n) AS (
       SELECT ${column}, count(*) FROM audit_log ${where} GROUP BY ${column}
     )`;
}

function one(db: AuditDatabase, sql: string, ...params: (string | number)[]): unknown {
  return guard(db.path, () => db.statement(sql).get(...params)?.v ?? null);
}

function all(db: AuditDatabase, sql: string, ...params: (string | number)[]) {
  return guard(db.path, () => db.statement(sql).all(...params));
}

/** A field the viewer counts the events of a filter by. */
export type FacetField = "operation" | "user" | "sku";

/**
 * How many events of `filter` (its cursor, limit and order aside) have each value of `field`,
 * the most frequent first: the facets beside the viewer's table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { facetCounts } from "./stats.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1", user: "ana" });
 * logAuditEvent(db, { operation: "COUNTED", sku: "SKU-2", user: "ben" });
 * logAuditEvent(db, { operation: "MOVED", sku: "SKU-1", user: "ana" });
 * const facets = facetCounts(db, { sku: "SKU-1" }, "operation");
 * assert.ok(JSON.stringify(facets) === '[{"value":"COUNTED","count":1},{"value":"MOVED","count":1}]');
 * ```
 */
export function facetCounts(
  db: AuditDatabase,
  filter: AuditLogFilter,
  field: FacetField,
  limit = 20,
): { value: string; count: number }[] {
  const { conditions, params } = wholeFilter(db, filter);
  const column = field === "user" ? "coalesce(user, 'system')" : field;
  const where = [...conditions, ...(field === "sku" ? ["sku IS NOT NULL"] : [])];
  const ends = conditions.length === 0 ? logIdEnds(db) : null;
  if (ends?.first != null && ends.last != null) {
    // The whole log: counted as stats counts it, value by value when the column has few.
    const grouping = {
      sql: grouped(field, field === "sku" ? "WHERE sku IS NOT NULL" : ""),
      params,
    };
    const span = { first: ends.first, last: ends.last };
    const nulls = field !== "sku";
    const counted = valueCounts(db, field, span.last - span.first + 1, span, grouping, nulls);
    return all(
      db,
      `WITH ${counted.sql}
       SELECT ${field === "user" ? "coalesce(value, 'system')" : "value"} AS value, sum(n) AS count
       FROM counted WHERE ${nulls ? "1" : "value IS NOT NULL"}
       GROUP BY 1 ORDER BY count DESC, value LIMIT ?`,
      ...counted.params,
      limit,
    ).map((row) => ({ value: String(row.value), count: row.count as number }));
  }
  return all(
    db,
    `SELECT ${column} AS value, count(*) AS count FROM audit_log
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     GROUP BY 1 ORDER BY count DESC, value LIMIT ?`,
    ...params,
    limit,
  ).map((row) => ({ value: String(row.value), count: row.count as number }));
}

/**
 * Events per day of the events `filter` selects (its cursor, limit and order aside). A filter
 * of time alone is counted from the time index, as {@linkcode getStats} counts.
 */
export function eventsPerDay(
  db: AuditDatabase,
  filter: AuditLogFilter,
): { day: string; count: number }[] {
  const { sku, operation, runId, user, contains } = filter;
  if ([sku, operation, runId, user].every((v) => v === undefined) && !contains) {
    return readTransaction(db, () => countPerDay(db, timeRange(filter)));
  }
  const { conditions, params } = wholeFilter(db, filter);
  return all(
    db,
    `SELECT substr(${TS}, 1, 10) AS day, count(*) AS count FROM audit_log
     WHERE ${[...conditions, IS_TIME_SQL].join(" AND ")} GROUP BY day ORDER BY day`,
    ...params,
  ).map((row) => ({ day: String(row.day), count: row.count as number }));
}

function wholeFilter(db: AuditDatabase, filter: AuditLogFilter) {
  const { conditions, params } = filterConditions(db, filter);
  // A time bound alone would leave SQLite to walk another filter's index (or the operation
  // index it groups by) and test every event's time; the ids of the range bound that walk.
  const span = timeSpanIds(db, filter);
  if (span !== undefined) {
    conditions.push("audit_id BETWEEN ? AND ?");
    params.push(span?.first ?? 1, span?.last ?? 0);
  }
  return { conditions, params };
}
