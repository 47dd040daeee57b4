/**
 * `audit_log.csv`: the newest events, for a person to open in a spreadsheet.
 *
 * @module
 */
import { type AuditDatabase, openDatabase } from "../db.ts";
import { loadCsvWriter, recordsToCsv } from "../csv.ts";
import { type AuditEvent, UTC_TIMESTAMP_SQL } from "../events.ts";
import { streamAuditLog } from "../query.ts";

/** Options of {@linkcode exportAuditCsv}. */
export interface AuditCsvOptions {
  /** How many of the newest events; 0 means all of them. */
  limit: number;
  busyTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Writes the newest `limit` events of the database at `databasePath`, newest first, to a new
 * file at `path`: UTF-8 with a byte-order mark (so Excel reads it as UTF-8), CRLF line ends,
 * a header row, RFC 4180 quoting by the CSV library, and every cell a spreadsheet would run as
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
  await loadCsvWriter();
  using db = openDatabase(databasePath, { readOnly: true, busyTimeoutMs: options.busyTimeoutMs });
  using file = await Deno.open(path, { write: true, createNew: true });
  const encoder = new TextEncoder();
  const write = async (text: string) => {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
  };
  await write("\uFEFF");
  let count = 0;
  db.sqlite.exec("BEGIN");
  try {
    const pages = hasRunId(db)
      ? streamAuditLog(db, { limit: options.limit, order: "desc" })
      : legacyPages(db, options.limit);
    for (const page of pages) {
      options.signal?.throwIfAborted();
      await write(await recordsToCsv(page, count === 0));
      count += page.length;
    }
  } finally {
    if (db.sqlite.isOpen && db.sqlite.isTransaction) db.sqlite.exec("COMMIT");
  }
  if (count === 0) await write(await recordsToCsv([], true));
  return count;
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
function* legacyPages(db: AuditDatabase, limit: number): Generator<AuditEvent[]> {
  const read = db.sqlite.prepare(
    `SELECT audit_id, ${UTC_TIMESTAMP_SQL} AS timestamp, operation, sku,
       coalesce(details, '') AS details, coalesce(user, 'system') AS user, NULL AS run_id
     FROM audit_log WHERE audit_id < ? ORDER BY audit_id DESC LIMIT ?`,
  );
  let remaining = limit === 0 ? Infinity : limit;
  let cursor = Number.MAX_SAFE_INTEGER;
  while (remaining > 0) {
    const page = read.all(cursor, Math.min(1000, remaining)) as unknown as AuditEvent[];
    if (page.length === 0) return;
    yield page;
    remaining -= page.length;
    cursor = page[page.length - 1].audit_id;
  }
}
