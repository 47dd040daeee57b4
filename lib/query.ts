/**
 * Reading events back: filters, keyset pages, and time bounds that work on legacy and ISO
 * timestamps alike.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { JOINED_CELLS_SEPARATOR } from "./csv.ts";
import { type AuditDatabase, guard } from "./db.ts";
import { UsageError } from "./errors.ts";
import { parseTimeBound } from "./time_bound.ts";
import { type AuditEvent, UTC_TIMESTAMP_SQL } from "./events.ts";

/** Which events to read, and in what order. All filters combine with AND. */
export interface AuditLogFilter {
  sku?: string;
  operation?: string;
  runId?: string;
  user?: string;
  /** Events at or after this time: an ISO date or date-time, UTC (see {@linkcode parseTimeBound}). */
  since?: string;
  /** Events up to the end of this date or time (`2026-02-16` includes the whole 16th). */
  until?: string;
  /** Text the details contain, matched case-insensitively. */
  contains?: string;
  /** Only events with `audit_id` greater than this (a stable cursor for paging). */
  afterId?: number;
  /** Only events with `audit_id` less than this. */
  beforeId?: number;
  /** How many events at most (default 100); 0 means no limit. */
  limit?: number;
  /** How many matching events to skip first (default 0). Prefer the id cursors for paging. */
  offset?: number;
  /** `desc` (newest first, the default) or `asc`, by `audit_id`. */
  order?: "asc" | "desc";
}

/** Default `limit` of {@linkcode getAuditLog}. */
export const DEFAULT_QUERY_LIMIT = 100;
const PAGE_SIZE = 1000;

/**
 * Reads events matching `filter`, newest first unless `order` is `asc`. Collects them into
 * an array: use {@linkcode streamAuditLog} for exports of any size.
 *
 * @param db The open database.
 * @param filter Filters, cursor, limit and order.
 * @returns The matching events.
 * @throws {UsageError} For a bad limit, offset, order or time bound.
 *
 * @example
 * ```ts
 * import { getAuditLog, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * logAuditEvent(db, { operation: "SKU_UPDATED", sku: "SKU-1" });
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-2" });
 * const events = getAuditLog(db, { sku: "SKU-1" });
 * console.log(events.map((e) => e.operation)); // [ "SKU_UPDATED", "SKU_CREATED" ]
 * ```
 */
export function getAuditLog(db: AuditDatabase, filter: AuditLogFilter = {}): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (const page of streamAuditLog(db, filter)) events.push(...page);
  return events;
}

/**
 * Reads events matching `filter` in pages of up to 1,000, so memory stays flat whatever the
 * size of the result. Pages are read by `audit_id` cursor with `all()`, which, unlike
 * `iterate()`, throws when a read fails part-way instead of ending early.
 *
 * @example
 * ```ts
 * import { logAuditEvents, migrate, openDatabase, streamAuditLog } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * await logAuditEvents(db, Array.from({ length: 2500 }, () => ({ operation: "COUNTED" })));
 * const sizes = [...streamAuditLog(db, { limit: 0 })].map((page) => page.length);
 * console.log(sizes); // [ 1000, 1000, 500 ]
 * ```
 */
export function* streamAuditLog(
  db: AuditDatabase,
  filter: AuditLogFilter = {},
): Generator<AuditEvent[]> {
  for (const rows of streamAuditRows(db, filter)) {
    const page = new Array<AuditEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      page[i] = {
        audit_id: row[0],
        timestamp: row[1],
        operation: row[2],
        sku: row[3],
        details: row[4],
        user: row[5],
        run_id: row[6],
      };
    }
    yield page;
  }
}

/** One event as a row of cells, in the order of the CSV columns (`EVENT_COLUMNS`). */
export type AuditRow = [
  audit_id: number,
  timestamp: string,
  operation: string,
  sku: string | null,
  details: string,
  user: string,
  run_id: string | null,
];

/**
 * Like {@linkcode streamAuditLog}, with each event as an {@linkcode AuditRow} (an array):
 * cheaper to read from SQLite than records, for exports of millions.
 * {@linkcode streamJoinedAuditRows} is cheaper still for CSV.
 *
 * @example
 * ```ts
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { streamAuditRows } from "./query.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1", user: "ana" });
 * const [[row]] = [...streamAuditRows(db, { limit: 0 })];
 * console.log(row[0], row[2], row[3], row[5], row[6]); // 1 COUNTED SKU-1 ana null
 * ```
 */
export function* streamAuditRows(
  db: AuditDatabase,
  filter: AuditLogFilter = {},
): Generator<AuditRow[]> {
  yield* readPages(db, filter, ROW_SHAPE);
}

/**
 * One event as its seven cells of text joined into one string, with its `audit_id`: the cells
 * are joined by a comma, or by `JOINED_CELLS_SEPARATOR` (U+001F) when the details hold a comma.
 * Each cell is the value's text as SQLite gives it (`CAST(value AS TEXT)`; NULL is empty), the
 * timestamp in its printed form. So an event whose cells need no quoting is already its CSV
 * line, and the others can be split into their cells again.
 */
export type JoinedAuditRow = [audit_id: number, cells: string];

/**
 * Like {@linkcode streamAuditRows}, with each event as a {@linkcode JoinedAuditRow}: SQLite
 * joins the cells, so JavaScript receives one string per event instead of six, and an event
 * that needs no quoting is written as it comes (a full export of such events takes about a
 * tenth less time and a quarter less peak memory). A cell can hold the separator (a comma
 * outside the details, or U+001F): such an event does not split into seven cells, and
 * {@linkcode readAuditRow} reads it again.
 *
 * @example
 * ```ts
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * import { streamJoinedAuditRows } from "./query.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1", details: "12 units", user: "ana" });
 * logAuditEvent(db, { operation: "COUNTED", details: "bin A, shelf 2", user: "ana" });
 * const [[second, first]] = [...streamJoinedAuditRows(db, { limit: 0 })];
 * console.log(first[1].split(",").slice(2)); // [ "COUNTED", "SKU-1", "12 units", "ana", "" ]
 * console.log(second[1].split("\x1f").slice(2)); // [ "COUNTED", "", "bin A, shelf 2", "ana", "" ]
 * ```
 */
export function* streamJoinedAuditRows(
  db: AuditDatabase,
  filter: AuditLogFilter = {},
): Generator<JoinedAuditRow[]> {
  yield* readPages(db, filter, JOINED_SHAPE);
}

/**
 * The cells of one event as {@linkcode streamJoinedAuditRows} gives them (text, NULL empty,
 * the timestamp printed), for an event whose joined cells do not split; `undefined` when no
 * event has that id.
 */
export function readAuditRow(db: AuditDatabase, id: number): string[] | undefined {
  const row = guard(db.path, () =>
    allRows(
      db.statement(
        `SELECT ${TEXT_CELLS_SQL.map((cell) => `coalesce(${cell}, '')`).join(", ")}
         FROM audit_log WHERE audit_id = ?`,
      ),
      [id],
    )[0]);
  return row as unknown as string[] | undefined;
}

/**
 * Whether every event column has TEXT affinity (as in every schema the tool creates or
 * adopts), so that each value is text, NULL or a BLOB: then the cells of
 * {@linkcode streamJoinedAuditRows} are those of {@linkcode streamAuditRows} as text, save
 * that a BLOB is its bytes read as text. A column declared otherwise could hold numbers,
 * which records print as JSON numbers and CSV cells by JavaScript's rules.
 */
export function hasTextColumns(db: AuditDatabase): boolean {
  const columns = guard(
    db.path,
    () => db.statement("SELECT name, type FROM pragma_table_info('audit_log')").all(),
  );
  const wanted = new Set(["timestamp", "operation", "sku", "details", "user", "run_id"]);
  for (const { name, type } of columns) {
    // SQLite's affinity rules: INT first, then CHAR, CLOB or TEXT.
    const declared = String(type).toUpperCase();
    if (
      wanted.delete(String(name)) && (declared.includes("INT") || !/CHAR|CLOB|TEXT/.test(declared))
    ) {
      return false;
    }
  }
  return wanted.size === 0;
}

/** How pages of one form are read and checked. */
interface PageShape<T> {
  /** The column list, with timestamps as stored or normalised. */
  columns(normalise: boolean): string;
  /** Whether every item of `page` (read as stored) has its timestamp in the printed form. */
  printed(page: T[]): boolean;
  id(item: T): number;
}

function* readPages<T>(
  db: AuditDatabase,
  filter: AuditLogFilter,
  shape: PageShape<T>,
): Generator<T[]> {
  const plan = planQuery(db, filter);
  let remaining = plan.limit === 0 ? Infinity : plan.limit;
  let offset = plan.offset;
  let cursor: number | null = null;
  let ceiling: number | null = null;
  if (plan.ascending) {
    // Ascending exports stop at the newest event that existed when they began, so a
    // steady stream of new events cannot keep them running forever.
    ceiling = guard(
      db.path,
      () =>
        db.statement("SELECT coalesce(max(audit_id), 0) AS id FROM audit_log").get()!.id as number,
    );
  }
  // Pages are read with timestamps as stored while they all have the printed form; from the
  // first page that holds another (a legacy database's older events), that page and every
  // later one are read with the SQL that normalises them.
  let normalise = false;
  const statements = new Map<string, StatementSync>();
  while (remaining > 0) {
    const size = Math.min(PAGE_SIZE, remaining);
    const params = [...plan.params];
    if (cursor !== null) params.push(cursor);
    if (ceiling !== null) params.push(ceiling);
    params.push(size, offset);
    const read = () => {
      const key = `${cursor !== null} ${normalise}`;
      let statement = statements.get(key);
      if (!statement) {
        const sql = plan.sql(shape.columns(normalise), cursor !== null, ceiling !== null);
        statement = db.statement(sql);
        statements.set(key, statement);
      }
      return guard(db.path, () => allRows(statement, params)) as unknown as T[];
    };
    let page = read();
    if (!normalise && !shape.printed(page)) {
      normalise = true;
      page = read();
    }
    if (page.length === 0) return;
    yield page;
    if (page.length < size) return;
    remaining -= page.length;
    offset = 0;
    cursor = shape.id(page[page.length - 1]);
  }
}

/** The shape of every timestamp the tool writes: `YYYY-MM-DDTHH:MM:SS.sssZ`. */
const ISO_TIMESTAMP_GLOB = "####-##-##T##:##:##.###Z".replaceAll("#", "[0-9]");
/** The same test in JavaScript, which costs a tenth of what the GLOB costs per row. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Joined cells whose second (after the id and the separator) is a printed timestamp. */
const PRINTED_JOINED = new RegExp(
  `^-?\\d+([,${JOINED_CELLS_SEPARATOR}])\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z\\1`,
);

/**
 * The timestamp as printed. Rows the tool wrote already hold the printed timestamp form, and
 * a GLOB on its shape costs far less than the `strftime` that normalises a legacy value
 * (about 0.2 s per million rows), so only other values go through {@linkcode UTC_TIMESTAMP_SQL}.
 */
const PRINTED_TIMESTAMP_SQL =
  `CASE WHEN timestamp GLOB '${ISO_TIMESTAMP_GLOB}' THEN timestamp ELSE ${UTC_TIMESTAMP_SQL} END`;

/** The event columns after the timestamp, as every record prints them. */
const OTHER_COLUMNS_SQL = ["operation", "sku", "coalesce(details, '')", "coalesce(user, 'system')"]
  .concat("run_id");

const ROW_SHAPE: PageShape<AuditRow> = {
  columns: (normalise) =>
    ["audit_id", normalise ? PRINTED_TIMESTAMP_SQL : "timestamp", ...OTHER_COLUMNS_SQL].join(", "),
  printed(page) {
    for (let i = 0; i < page.length; i++) {
      const timestamp = page[i][1];
      if (typeof timestamp !== "string" || !ISO_TIMESTAMP.test(timestamp)) return false;
    }
    return true;
  },
  id: (row) => row[0],
};

/** The cells of a {@linkcode JoinedAuditRow}, in column order, each as text or NULL. */
const TEXT_CELLS_SQL = ["audit_id", PRINTED_TIMESTAMP_SQL, ...OTHER_COLUMNS_SQL]
  .map((cell) => `CAST(${cell} AS TEXT)`);

const JOINED_SHAPE: PageShape<JoinedAuditRow> = {
  // concat_ws() leaves out NULL arguments: the NULLs a record prints as empty are made ''.
  // (Any other NULL leaves six cells, and readAuditRow() reads that event.)
  columns: (normalise) =>
    `audit_id, concat_ws(
      CASE WHEN instr(details, ',') THEN '${JOINED_CELLS_SEPARATOR}' ELSE ',' END,
      audit_id, ${normalise ? PRINTED_TIMESTAMP_SQL : "timestamp"}, operation,
      coalesce(sku, ''), coalesce(details, ''), coalesce(user, 'system'), coalesce(run_id, ''))`,
  printed(page) {
    for (let i = 0; i < page.length; i++) {
      if (!PRINTED_JOINED.test(page[i][1])) return false;
    }
    return true;
  },
  id: (row) => row[0],
};

type ArrayStatement = StatementSync & { setReturnArrays?: (enabled: boolean) => void };

/** Runs `statement` and returns its rows as arrays (node:sqlite's fastest form). */
function allRows(statement: ArrayStatement, params: (string | number)[]): AuditRow[] {
  if (statement.setReturnArrays) {
    statement.setReturnArrays(true);
    return statement.all(...params) as unknown as AuditRow[];
  }
  return statement.all(...params).map((row) => Object.values(row)) as AuditRow[];
}

interface QueryPlan {
  sql(columns: string, withCursor: boolean, withCeiling: boolean): string;
  params: (string | number)[];
  limit: number;
  offset: number;
  ascending: boolean;
}

function planQuery(db: AuditDatabase, filter: AuditLogFilter): QueryPlan {
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
  if (filter.since !== undefined) {
    conditions.push(`${UTC_TIMESTAMP_SQL} >= ?`);
    params.push(parseTimeBound(filter.since, "since").start);
  }
  if (filter.until !== undefined) {
    conditions.push(`${UTC_TIMESTAMP_SQL} < ?`);
    params.push(parseTimeBound(filter.until, "until").end);
  }
  if (filter.contains !== undefined && filter.contains !== "") {
    const needle = filter.contains;
    const pattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    if (!/[^\x20-\x7e]/.test(needle.replace(/\s/g, " "))) {
      conditions.push(`details LIKE ? ESCAPE '\\'`);
      params.push(pattern(needle));
    } else {
      // SQLite's LIKE folds ASCII letters only; "Ä" and "ä" need JavaScript's case rules.
      registerLowerCase(db);
      conditions.push(`audit_lower(details) LIKE ? ESCAPE '\\'`);
      params.push(pattern(needle.toLowerCase()));
    }
  }
  if (filter.afterId !== undefined) {
    conditions.push("audit_id > ?");
    params.push(checkId(filter.afterId, "--after-id"));
  }
  if (filter.beforeId !== undefined) {
    conditions.push("audit_id < ?");
    params.push(checkId(filter.beforeId, "--before-id"));
  }
  const order = filter.order ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw new UsageError(`Order must be "asc" or "desc", not "${order}"`);
  }
  const ascending = order === "asc";
  const limit = checkCount(filter.limit ?? DEFAULT_QUERY_LIMIT, "limit");
  const offset = checkCount(filter.offset ?? 0, "offset");
  return {
    params,
    limit,
    offset,
    ascending,
    sql(columns, withCursor, withCeiling) {
      const all = [...conditions];
      if (withCursor) all.push(ascending ? "audit_id > ?" : "audit_id < ?");
      if (withCeiling) all.push("audit_id <= ?");
      const where = all.length ? `WHERE ${all.join(" AND ")}` : "";
      return `SELECT ${columns} FROM audit_log ${where}
              ORDER BY audit_id ${ascending ? "ASC" : "DESC"} LIMIT ? OFFSET ?`;
    },
  };
}

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

function checkCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`--${name} must be a whole number of 0 or more, not "${value}"`);
  }
  return value;
}

function checkId(value: number, option: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`${option} must be an event id (a whole number), not "${value}"`);
  }
  return value;
}
