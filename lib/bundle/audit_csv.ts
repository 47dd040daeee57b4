/**
 * `audit_log.csv`: the newest events, for a person to open in a spreadsheet.
 *
 * @module
 */
import { openDatabase } from "../db.ts";
import { loadCsvWriter, recordsToCsv } from "../csv.ts";
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
    for (const page of streamAuditLog(db, { limit: options.limit, order: "desc" })) {
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
