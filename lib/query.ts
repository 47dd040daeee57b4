/**
 * Reading events back: filters, keyset pages, and time bounds that work on legacy and ISO
 * timestamps alike; and writing them in any output format.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { type AuditDatabase, guard } from "./db.ts";
import { requireCount } from "./count.ts";
import { UsageError } from "./errors.ts";
import {
  type AuditEvent,
  type AuditRow,
  EVENT_COLUMNS,
  eventRowSql,
  hasPrintedTimestamps,
  IS_TIME_SQL,
  readEventRows,
  rowToEvent,
  UTC_TIMESTAMP_SQL,
} from "./event_row.ts";
import { type OutputFormat, type Row, type TextSink, writeRows } from "./output.ts";
import { requireKnownOptions } from "./known_options.ts";
import { parseTimeBound, timeRange } from "./time_bound.ts";

/** Which events to read, and in what order. All filters combine with AND. */
export interface AuditLogFilter {
  sku?: string | undefined;
  operation?: string | undefined;
  runId?: string | undefined;
  user?: string | undefined;
  /**
   * Events at or after this time: an ISO 8601 date or date-time, UTC unless it carries an
   * offset (`2026-02-16`, `2026-02-16T09:30`, `2026-02-16T09:30:00+01:00`).
   */
  since?: string | undefined;
  /** Events up to the end of this date or time (`2026-02-16` includes the whole 16th). */
  until?: string | undefined;
  /** Text the details contain, matched case-insensitively. */
  contains?: string | undefined;
  /** Only events with `audit_id` greater than this (a stable cursor for paging). */
  afterId?: number | undefined;
  /** Only events with `audit_id` less than this. */
  beforeId?: number | undefined;
  /** How many events at most (default 100); 0 means no limit. */
  limit?: number | undefined;
  /** How many matching events to skip first (default 0). Prefer the id cursors for paging. */
  offset?: number | undefined;
  /** `desc` (newest first, the default) or `asc`, by `audit_id`. */
  order?: "asc" | "desc" | undefined;
}

/** Every key of {@linkcode AuditLogFilter}: any other is refused, not ignored. */
const FILTER_KEYS: Record<keyof AuditLogFilter, true> = {
  sku: true,
  operation: true,
  runId: true,
  user: true,
  since: true,
  until: true,
  contains: true,
  afterId: true,
  beforeId: true,
  limit: true,
  offset: true,
  order: true,
};

/** Default `limit` of {@linkcode getAuditLog}. */
export const DEFAULT_QUERY_LIMIT = 100;
const PAGE_SIZE = 1000;

/**
 * Reads events matching `filter`, newest first unless `order` is `asc`. Collects them into
 * an array: for any number of events, read page by page, passing the last `audit_id` of one
 * page as `beforeId` (or `afterId` with `order: "asc"`) of the next.
 *
 * @param db The open database.
 * @param filter Filters, cursor, limit and order.
 * @returns The matching events.
 * @throws {UsageError} For a bad limit, offset, order or time bound, or a key that is not a
 * filter (`skus`): it would otherwise be ignored, and every event match.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getAuditLog, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * logAuditEvent(db, { operation: "SKU_UPDATED", sku: "SKU-1" });
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-2" });
 * const events = getAuditLog(db, { sku: "SKU-1" });
 * assert.deepEqual(events.map((e) => e.operation), ["SKU_UPDATED", "SKU_CREATED"]);
 * ```
 */
export function getAuditLog(db: AuditDatabase, filter: AuditLogFilter = {}): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const page of streamAuditLog(db, filter)) {
    for (const event of page) events.push(event);
  }
  return events;
}

/**
 * Reads events matching `filter` in pages of up to 1,000, so memory stays flat whatever the
 * size of the result. Pages are read by `audit_id` cursor with `all()`, which, unlike
 * `iterate()`, throws when a read fails part-way instead of ending early.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvents, migrate, openDatabase } from "../mod.ts";
 * import { streamAuditLog } from "./query.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * await logAuditEvents(db, Array.from({ length: 2500 }, () => ({ operation: "COUNTED" })));
 * const sizes = [...streamAuditLog(db, { limit: 0 })].map((page) => page.length);
 * assert.deepEqual(sizes, [1000, 1000, 500]);
 * ```
 */
export function* streamAuditLog(
  db: AuditDatabase,
  filter: AuditLogFilter = {},
): Generator<AuditEvent[]> {
  for (const rows of streamAuditRows(db, filter)) yield rows.map(rowToEvent);
}

/**
 * Like {@linkcode streamAuditLog}, with each event as an {@linkcode AuditRow} (an array of
 * its cells in the order of `EVENT_COLUMNS`): what every output format writes, and cheaper to
 * read from SQLite than records. This is the one reader of events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { streamAuditRows } from "./query.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1", user: "ana" });
 * const [[row]] = [...streamAuditRows(db, { limit: 0 })];
 * assert.deepEqual([row[0], row[2], row[3], row[4], row[5], row[6]], [1, "COUNTED", "SKU-1", "", "ana", null]);
 * ```
 */
export function* streamAuditRows(
  db: AuditDatabase,
  filter: AuditLogFilter = {},
): Generator<AuditRow[]> {
  const plan = planQuery(db, filter);
  let { low, high } = plan;
  if (plan.ascending) {
    // Ascending exports stop at the newest event that existed when they began, so a
    // steady stream of new events cannot keep them running forever.
    const newest = guard(
      db.path,
      () =>
        db.statement("SELECT coalesce(max(audit_id), 0) AS id FROM audit_log").get()!.id as number,
    );
    high = Math.min(high, newest);
  }
  let remaining = plan.limit === 0 ? Infinity : plan.limit;
  let offset = plan.offset;
  // Pages are read with timestamps as stored while they all have the printed form; from the
  // first page that holds another (a legacy database's older events), that page and every
  // later one are read with the SQL that normalises them.
  let timestamps: "stored" | "printed" = "stored";
  const statements = new Map<string, StatementSync>();
  while (remaining > 0 && low <= high) {
    const size = Math.min(PAGE_SIZE, remaining);
    const params = [...plan.params, low, high, size, offset];
    const read = () => {
      let statement = statements.get(timestamps);
      if (!statement) {
        statement = db.statement(plan.sql(eventRowSql(timestamps)));
        statements.set(timestamps, statement);
      }
      return guard(db.path, () => readEventRows(statement, params));
    };
    let page = read();
    if (timestamps === "stored" && !hasPrintedTimestamps(page)) {
      timestamps = "printed";
      page = read();
    }
    if (page.length === 0) return;
    yield page;
    if (page.length < size) return;
    remaining -= page.length;
    offset = 0;
    // The next page's window ends where this page ended: one bound at each end, so SQLite
    // starts its walk at the cursor (with a second upper bound it may start at the other one
    // and step over every event already read, page after page).
    const cursor = page[page.length - 1]![0];
    if (plan.ascending) low = cursor + 1;
    else high = cursor - 1;
  }
}

/** What {@linkcode writeQuery} wrote. */
export interface QueryWritten {
  /** How many events were written. */
  written: number;
  /** Whether more events match than the limit let through. */
  more: boolean;
  /** The `audit_id` of the last event written (`null` for none): the cursor of the next page. */
  lastId: number | null;
}

/** Options of {@linkcode writeQuery}. */
export interface WriteQueryOptions {
  /** Stops the export (with the signal's reason) before the next page. */
  signal?: AbortSignal | undefined;
  /** Changes each event's cells before they are written (a bundle masks secrets with it). */
  mapRow?: ((row: Readonly<AuditRow>) => Row) | undefined;
  /**
   * Reads the pages in place of `streamAuditRows(db, filter)`, with the same filter, order and
   * limit (`query --archives` reads the archive files too).
   */
  rows?: ((filter: AuditLogFilter) => Iterable<AuditRow[]>) | undefined;
  /** The terminal's width, for a table (see `RowsOptions` in `output.ts`). */
  width?: number | undefined;
}

/**
 * Writes the events matching `filter` to `sink` in `format` (see `writeRows` in `output.ts`),
 * page by page: `query`, the debug bundle and the viewer all print events through this.
 * Says whether more events match than `limit` let through, so a person can be told.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { writeQuery } from "./query.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * for (const sku of ["SKU-1", "SKU-2", "SKU-3"]) logAuditEvent(db, { operation: "COUNTED", sku });
 * let text = "";
 * const sink = { write: (t: string) => Promise.resolve(void (text += t)) };
 * const result = await writeQuery(sink, db, { limit: 2 }, "ndjson");
 * assert.deepEqual(result, { written: 2, more: true, lastId: 2 });
 * assert.deepEqual(text.trim().split("\n").map((line) => JSON.parse(line).sku), ["SKU-3", "SKU-2"]);
 * ```
 */
export async function writeQuery(
  sink: TextSink,
  db: AuditDatabase,
  filter: AuditLogFilter,
  format: OutputFormat,
  options: WriteQueryOptions = {},
): Promise<QueryWritten> {
  const limit = requireCount(filter.limit ?? DEFAULT_QUERY_LIMIT, "Limit");
  const result: QueryWritten = { written: 0, more: false, lastId: null };
  // One event beyond the limit is read to tell whether more match; it is never written.
  const read = options.rows ?? ((filter: AuditLogFilter) => streamAuditRows(db, filter));
  const pages = read({
    ...filter,
    limit: limit === 0 ? 0 : Math.min(limit + 1, Number.MAX_SAFE_INTEGER),
  });
  function* upToLimit(): Generator<readonly Row[]> {
    let left = limit === 0 ? Infinity : limit;
    for (let page of pages) {
      options.signal?.throwIfAborted();
      if (page.length > left) {
        page = page.slice(0, left);
        result.more = true;
      }
      left -= page.length;
      if (page.length) result.lastId = page[page.length - 1]![0];
      yield options.mapRow ? page.map(options.mapRow) : page;
      if (result.more) return;
    }
  }
  result.written = await writeRows(sink, upToLimit(), format, EVENT_COLUMNS, {
    width: options.width,
  });
  return result;
}

interface QueryPlan {
  /** The statement of one page; its last parameters are the id window, limit and offset. */
  sql(columns: string): string;
  params: (string | number)[];
  /** The window of `audit_id`s that can match, both ends included (empty when low > high). */
  low: number;
  high: number;
  limit: number;
  offset: number;
  ascending: boolean;
}

/**
 * The WHERE conditions (joined by AND) and their parameters that select the events of
 * `filter`, leaving out its cursors (`afterId`, `beforeId`), limit, offset and order: for figures
 * over the same events that a query lists, such as facet counts.
 */
export function filterConditions(
  db: AuditDatabase,
  filter: AuditLogFilter,
): { conditions: string[]; params: (string | number)[] } {
  const conditions: string[] = [];
  const params: (string | number)[] = [];
  const equal = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    conditions.push(`${column} = ?`);
    params.push(value);
  };
  equal("sku", filter.sku);
  equal("operation", filter.operation);
  equal("run_id", filter.runId);
  if (filter.user === "system") {
    // Legacy rows may hold a NULL user, which every record prints as "system".
    conditions.push("(user = ? OR user IS NULL)");
    params.push(filter.user);
  } else {
    equal("user", filter.user);
  }
  // A timestamp that is no time matches no bound, whichever way it would sort as text.
  if (filter.since !== undefined || filter.until !== undefined) conditions.push(IS_TIME_SQL);
  if (filter.since !== undefined) {
    conditions.push(`${UTC_TIMESTAMP_SQL} >= ?`);
    params.push(parseTimeBound(filter.since).start);
  }
  if (filter.until !== undefined) {
    conditions.push(`${UTC_TIMESTAMP_SQL} < ?`);
    params.push(parseTimeBound(filter.until).end);
  }
  if (filter.contains !== undefined && filter.contains !== "") {
    const needle = filter.contains;
    const pattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    const ascii = !/[^\x20-\x7e]/.test(needle.replace(/\s/g, " "));
    // SQLite's LIKE folds ASCII letters only; "Ä" and "ä" need JavaScript's case rules.
    if (!ascii) registerLowerCase(db);
    const column = ascii ? "details" : "audit_lower(details)";
    const folded = ascii ? needle : needle.toLowerCase();
    if (encoder.encode(pattern(folded)).length <= LIKE_PATTERN_MAX_BYTES) {
      conditions.push(`${column} LIKE ? ESCAPE '\\'`);
      params.push(pattern(folded));
    } else {
      // SQLite refuses a longer LIKE pattern ("too complex"); instr() has no such limit, and
      // lower() folds ASCII letters as LIKE does.
      conditions.push(`instr(${ascii ? "lower(details)" : column}, ?) > 0`);
      params.push(ascii ? folded.toLowerCase() : folded);
    }
  }
  return { conditions, params };
}

function planQuery(db: AuditDatabase, filter: AuditLogFilter): QueryPlan {
  requireKnownOptions(filter, FILTER_KEYS, "query filter");
  const { conditions, params } = filterConditions(db, filter);
  const order = filter.order ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw new UsageError(`Order must be "asc" or "desc", not "${order}"`, {
      hint: 'Give "desc" (newest first, the default) or "asc" (oldest first).',
    });
  }
  const ascending = order === "asc";
  const limit = requireCount(filter.limit ?? DEFAULT_QUERY_LIMIT, "Limit");
  const offset = requireCount(filter.offset ?? 0, "Offset");
  // Every bound on audit_id (the cursors, the time range's ids, then each page's cursor) is
  // folded into one window, which the statement gives SQLite as its only two bounds.
  let low = Number.MIN_SAFE_INTEGER;
  let high = Number.MAX_SAFE_INTEGER;
  if (filter.afterId !== undefined) {
    low = requireCount(filter.afterId, "The after id (an event id)") + 1;
  }
  if (filter.beforeId !== undefined) {
    high = requireCount(filter.beforeId, "The before id (an event id)") - 1;
  }
  const span = low <= high ? timeSpanIds(db, filter) : undefined;
  if (span === null) high = low - 1;
  else if (span) {
    low = Math.max(low, span.first);
    high = Math.min(high, span.last);
  }
  return {
    params,
    low,
    high,
    limit,
    offset,
    ascending,
    sql(columns) {
      const where = [...conditions, "audit_id BETWEEN ? AND ?"].join(" AND ");
      return `SELECT ${columns} FROM audit_log WHERE ${where}
              ORDER BY audit_id ${ascending ? "ASC" : "DESC"} LIMIT ? OFFSET ?`;
    },
  };
}

/**
 * The first and last `audit_id` among the events inside the filter's time range, read from
 * the time index (`undefined` without a time bound; `null` when the range holds no event).
 * Pages are read in `audit_id` order, so SQLite walks the table by id and tests each event's
 * time: without these bounds, the newest 100 events of a month five years back read every
 * event since, and a range holding nothing reads them all. Clocks set back and legacy rows
 * can put a time out of id order; the bounds then only widen, and the time test still decides.
 */
export function timeSpanIds(
  db: AuditDatabase,
  filter: AuditLogFilter,
): { first: number; last: number } | null | undefined {
  if (filter.since === undefined && filter.until === undefined) return undefined;
  const range = timeRange(filter);
  const row = guard(db.path, () =>
    db.statement(
      `SELECT min(audit_id) AS first, max(audit_id) AS last FROM audit_log
       WHERE ${UTC_TIMESTAMP_SQL} >= ? AND ${UTC_TIMESTAMP_SQL} < ?`,
    ).get(range.start, range.end)!);
  return row.first === null ? null : { first: row.first as number, last: row.last as number };
}

/**
 * The first and last `audit_id` of the log (both `null` while it is empty), each read at its
 * end of the table: `min()` and `max()` in one SELECT read every event (0.8 s at 10,000,000).
 */
export function logIdEnds(db: AuditDatabase): { first: number | null; last: number | null } {
  const row = guard(db.path, () =>
    db.statement(
      `SELECT (SELECT min(audit_id) FROM audit_log) AS first,
              (SELECT max(audit_id) FROM audit_log) AS last`,
    ).get()!);
  return { first: row.first as number | null, last: row.last as number | null };
}

/** SQLite's default limit on the length of a LIKE pattern, in bytes. */
const LIKE_PATTERN_MAX_BYTES = 50_000;

const encoder = new TextEncoder();

const withLowerCase = new WeakSet<AuditDatabase>();

function registerLowerCase(db: AuditDatabase) {
  if (withLowerCase.has(db)) return;
  db.sqlite.function(
    "audit_lower",
    { deterministic: true },
    (text) => typeof text === "string" ? text.toLowerCase() : text,
  );
  withLowerCase.add(db);
}
