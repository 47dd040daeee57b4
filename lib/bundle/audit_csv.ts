/**
 * `audit_log.csv`: the newest events, for a person to open in a spreadsheet.
 *
 * @module
 */
import { type AuditDatabase, openDatabase, readSnapshot } from "../db.ts";
import { type AuditRow, eventRowSql, readEventRows } from "../event_row.ts";
import { type Row, writeRows } from "../output.ts";
import { writeQuery } from "../query.ts";
import { writeAll } from "../io.ts";

/** Options of {@linkcode exportAuditCsv}. */
export interface AuditCsvOptions {
  /** How many of the newest events; 0 means all of them. */
  limit: number;
  busyTimeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Changes each event's cells before they are written (the bundle masks secrets with it). */
  mapRow?: ((row: Readonly<AuditRow>) => Row) | undefined;
}

/**
 * Writes the newest `limit` events of the database at `databasePath`, newest first, to a new
 * file at `path`: UTF-8 with a byte-order mark (so Excel reads it as UTF-8), CRLF line ends,
 * a header row, RFC 4180 quoting, and every cell a spreadsheet would run as
 * a formula neutralised. Pages are read in one read transaction and written as they come, so
 * memory stays flat for any limit.
 *
 * @returns How many events were written.
 */
export async function exportAuditCsv(
  databasePath: string,
  path: string,
  options: AuditCsvOptions,
): Promise<number> {
  using db = openDatabase(databasePath, { readOnly: true, busyTimeoutMs: options.busyTimeoutMs });
  using file = await Deno.open(path, { write: true, createNew: true });
  const write = (text: string) => writeAll(file, text);
  await write("\uFEFF");
  using _snapshot = readSnapshot(db);
  const mapped = function* (pages: Iterable<AuditRow[]>) {
    for (const page of pages) yield options.mapRow ? page.map(options.mapRow) : page;
  };
  const filter = { limit: options.limit, order: "desc" } as const;
  return hasRunId(db)
    ? (await writeQuery({ write }, db, filter, "csv", options)).written
    : await writeRows({ write }, mapped(legacyPages(db, options.limit, options.signal)), "csv");
}

function hasRunId(db: AuditDatabase): boolean {
  return db.sqlite.prepare("SELECT 1 FROM pragma_table_info('audit_log') WHERE name = 'run_id'")
    .get() !== undefined;
}

/**
 * Newest-first pages of an `audit_log` the inventory application made, before audit-trail
 * added `run_id`. Queries need the current schema; a bundle is most wanted for a database
 * that does not have it yet.
 */
function* legacyPages(
  db: AuditDatabase,
  limit: number,
  signal?: AbortSignal,
): Generator<AuditRow[]> {
  const read = db.sqlite.prepare(
    `SELECT ${eventRowSql("printed", { runId: false })}
     FROM audit_log WHERE audit_id < ? ORDER BY audit_id DESC LIMIT ?`,
  );
  let remaining = limit === 0 ? Infinity : limit;
  let cursor = Number.MAX_SAFE_INTEGER;
  while (remaining > 0) {
    signal?.throwIfAborted();
    const page = readEventRows(read, [cursor, Math.min(1000, remaining)]);
    if (page.length === 0) return;
    yield page;
    remaining -= page.length;
    cursor = page[page.length - 1]![0];
  }
}
