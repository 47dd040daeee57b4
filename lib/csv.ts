/**
 * Spreadsheet-safe CSV: RFC 4180 quoting by csv-stringify (loaded only when CSV is asked
 * for, so `log` and `query` start without it), and formula cells neutralised.
 *
 * @module
 */

/** Columns of an audit event, in the order every CSV and table prints them. */
export const EVENT_COLUMNS = [
  "audit_id",
  "timestamp",
  "operation",
  "sku",
  "details",
  "user",
  "run_id",
] as const;

/**
 * Returns `cell` so that no spreadsheet runs it as a formula: text starting with `=`, `+`,
 * `-`, `@`, tab, CR or LF gets a leading `'`, which Excel and LibreOffice show as text.
 * (csv-stringify's own `escape_formulas` misses a leading LF.) Numbers are left alone.
 */
export function neutralizeFormula(cell: unknown): unknown {
  return typeof cell === "string" && /^[=+\-@\t\r\n]/.test(cell) ? `'${cell}` : cell;
}

type Stringify = (rows: unknown[][]) => string;
let stringifyRows: Stringify | undefined;

/** Loads the CSV writer once; later calls return it at once. */
export async function loadCsvWriter(): Promise<Stringify> {
  if (!stringifyRows) {
    const { stringify } = await import("csv-stringify/sync");
    stringifyRows = (rows) =>
      stringify(rows, {
        record_delimiter: "\r\n",
        // csv-stringify quotes a field holding the record delimiter, but not a lone CR or LF;
        // readers (Excel among them) would split the record there.
        quoted_match: /[\r\n]/,
        cast: { boolean: String },
      });
  }
  return stringifyRows;
}

/**
 * CSV text (CRLF line ends) for `records`, formula cells neutralised; `header` adds the
 * column row. A `null` field is an empty cell.
 */
export async function recordsToCsv(
  records: readonly object[],
  header: boolean,
  columns: readonly string[] = EVENT_COLUMNS,
): Promise<string> {
  const stringify = await loadCsvWriter();
  const rows: unknown[][] = header ? [[...columns]] : [];
  for (const record of records) {
    rows.push(
      columns.map((column) => neutralizeFormula((record as Record<string, unknown>)[column] ?? "")),
    );
  }
  return rows.length ? stringify(rows) : "";
}
