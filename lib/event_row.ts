/**
 * The event row: an audit event's columns, the SQL that reads them, and how a row of cells
 * becomes a record. Every reader of `audit_log` (queries, batches, exports) takes them from
 * here, so a legacy timestamp or a NULL prints the same way in every format.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";

/** One stored event, with the field names of audit-trail's JSON output. */
export interface AuditEvent {
  audit_id: number;
  /** UTC, `YYYY-MM-DDTHH:MM:SS.sssZ` (legacy values are normalised when read). */
  timestamp: string;
  operation: string;
  sku: string | null;
  details: string;
  user: string;
  run_id: string | null;
}

/** Columns of an audit event, in the order every record, CSV and table prints them. */
export const EVENT_COLUMNS = [
  "audit_id",
  "timestamp",
  "operation",
  "sku",
  "details",
  "user",
  "run_id",
] as const satisfies readonly (keyof AuditEvent)[];

/** One event as a row of cells, in the order of {@linkcode EVENT_COLUMNS}. */
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
 * The stored timestamp in the one form audit-trail prints. Legacy rows hold
 * `YYYY-MM-DD HH:MM:SS`; this is the same expression `idx_audit_log_timestamp` indexes, so
 * time filters written with it use that index.
 */
export const UTC_TIMESTAMP_SQL = "coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), timestamp)";

/**
 * The stored timestamp as a time in the printed form, or NULL when it is not a time (NULL,
 * text that does not parse, a number beyond the calendar): where such a value must not pass
 * for one, as the text {@linkcode UTC_TIMESTAMP_SQL} keeps would compare with a time.
 */
export const PARSED_TIMESTAMP_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', timestamp)";

/**
 * True when the stored timestamp is a time, the one rule every time filter follows (`query`,
 * `batch`, `stats`, `report`, the viewer, and `archive`'s cut): a date or date-time that
 * SQLite's date functions read, in the years 0000-9999. A timestamp that is none (NULL,
 * damaged text such as `garbage` or `2026-01-05 10h`, a number such as a Unix time) matches no
 * `--since` or `--until`, is never before an archive cut, and counts in no day. (SQLite reads
 * a bare number below 5,373,485 as a Julian day: 2461000 is 2025-11-20T12:00Z, 12345 a day of
 * 4680 BC, before year 0000 and so no time here.) Tested on the indexed value alone, which
 * holds a time in its printed form or else the stored value as it is, so a time range reads the
 * index only; `julianday()` reads a value for about a fifth of what `strftime()` costs.
 */
export const IS_TIME_SQL =
  `(${UTC_TIMESTAMP_SQL} >= '0' AND julianday(${UTC_TIMESTAMP_SQL}) IS NOT NULL)`;

/**
 * True for an event whose time lies in the half-open range `[?, ?)` (two parameters: ISO
 * times as stored, see `parseTimeBound`); never for a timestamp that is no time.
 */
export const TIME_WITHIN_SQL =
  `${UTC_TIMESTAMP_SQL} >= ? AND ${UTC_TIMESTAMP_SQL} < ? AND ${IS_TIME_SQL}`;

/**
 * True for an event whose time is before the one parameter (an ISO time as stored): the same
 * answer as `UTC_TIMESTAMP_SQL < ? AND IS_TIME_SQL`, for where no index holds the value
 * (a walk by `audit_id`, as `archive`'s cut takes): that expression formats each timestamp with
 * `strftime()` three times (1.6 s per million events), this reads it once with `julianday()`
 * (0.13 s). Both read the value with SQLite's one date parser, to the millisecond, so they
 * order times alike; 1721059.5 is the first instant of year 0000, the first a time may have.
 * `tests/archive_test.ts` checks that both agree on damaged, legacy, numeric and edge values.
 */
export const TIME_BEFORE_SQL =
  "julianday(timestamp) >= 1721059.5 AND julianday(timestamp) < julianday(?)";

/** The shape of every timestamp the tool writes: `YYYY-MM-DDTHH:MM:SS.sssZ`. */
const ISO_TIMESTAMP_GLOB = "####-##-##T##:##:##.###Z".replaceAll("#", "[0-9]");
/** The same test in JavaScript, which costs a tenth of what the GLOB costs per row. */
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The timestamp as printed. Rows the tool wrote already hold the printed form, and a GLOB on
 * its shape costs far less than the `strftime` that normalises a legacy value (about 0.2 s per
 * million rows), so only other values go through {@linkcode UTC_TIMESTAMP_SQL}.
 */
const PRINTED_TIMESTAMP_SQL =
  `CASE WHEN timestamp GLOB '${ISO_TIMESTAMP_GLOB}' THEN timestamp ELSE ${UTC_TIMESTAMP_SQL} END`;

/**
 * The column list that reads an {@linkcode AuditRow}: NULL details print as empty and a NULL
 * user as `system`, as adopted tables may hold them. With `timestamps: "stored"` the timestamp
 * comes as stored (cheapest: check it with {@linkcode hasPrintedTimestamps}), with `"printed"`
 * always in the printed form. A table without `run_id` (before migration 002) reads it as NULL.
 */
export function eventRowSql(
  timestamps: "stored" | "printed",
  options: { runId?: boolean } = {},
): string {
  return [
    "audit_id",
    timestamps === "stored" ? "timestamp" : PRINTED_TIMESTAMP_SQL,
    "operation",
    "sku",
    "coalesce(details, '')",
    "coalesce(user, 'system')",
    options.runId === false ? "NULL" : "run_id",
  ].join(", ");
}

type ArrayStatement = StatementSync & { setReturnArrays?: (enabled: boolean) => void };

/**
 * Runs `statement` (which selects {@linkcode eventRowSql}) and returns its rows as arrays,
 * node:sqlite's fastest form. A BLOB cell (only SQL written outside the tool stores one)
 * becomes its bytes read as UTF-8 text, as SQLite's `CAST(… AS TEXT)` reads them, so that
 * every format prints it as text; numbers stay numbers.
 */
export function readEventRows(
  statement: ArrayStatement,
  params: readonly (string | number)[],
): AuditRow[] {
  let rows: unknown[][];
  if (statement.setReturnArrays) {
    statement.setReturnArrays(true);
    rows = statement.all(...params) as unknown as unknown[][];
  } else {
    rows = statement.all(...params).map((row) => Object.values(row));
  }
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    for (let i = 1; i < row.length; i++) {
      const cell = row[i];
      if (typeof cell === "object" && cell !== null) {
        row[i] = new TextDecoder().decode(cell as Uint8Array);
      }
    }
  }
  return rows as AuditRow[];
}

/** Whether every row of `rows`, read with stored timestamps, has them in the printed form. */
export function hasPrintedTimestamps(rows: readonly AuditRow[]): boolean {
  for (let i = 0; i < rows.length; i++) {
    const timestamp = rows[i]![1];
    if (typeof timestamp !== "string" || !ISO_TIMESTAMP.test(timestamp)) return false;
  }
  return true;
}

/**
 * The record of one row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rowToEvent } from "./event_row.ts";
 * const event = rowToEvent([7, "2026-02-16T10:00:00.000Z", "COUNTED", null, "", "ana", null]);
 * assert.deepEqual(Object.keys(event), [
 *   "audit_id", "timestamp", "operation", "sku", "details", "user", "run_id",
 * ]);
 * assert.equal(event.user, "ana");
 * ```
 */
export function rowToEvent(row: Readonly<AuditRow>): AuditEvent {
  return {
    audit_id: row[0],
    timestamp: row[1],
    operation: row[2],
    sku: row[3],
    details: row[4],
    user: row[5],
    run_id: row[6],
  };
}
