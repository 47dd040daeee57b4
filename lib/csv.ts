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
  return typeof cell === "string" && FORMULA_START.has(cell.charCodeAt(0)) ? `'${cell}` : cell;
}

const FORMULA_START = new Set(["=", "+", "-", "@", "\t", "\r", "\n"].map((c) => c.charCodeAt(0)));
const FORMULA_CHARS = new Uint8Array(128).map((_, code) => FORMULA_START.has(code) ? 1 : 0);

type Stringify = (rows: unknown[][]) => string;
let stringifyRows: Stringify | undefined;
let quoteCells: ((cells: string[]) => string[]) | undefined;

const CSV_OPTIONS = {
  record_delimiter: "\r\n",
  // csv-stringify quotes a field holding the record delimiter, but not a lone CR or LF;
  // readers (Excel among them) would split the record there.
  quoted_match: /[\r\n]/,
  cast: { boolean: String },
};

/** A cell csv-stringify would quote: it holds a comma, a quote, a CR or a LF. */
const NEEDS_QUOTES = /[",\r\n]/;

/** Loads the CSV writer once; later calls return it at once. */
export async function loadCsvWriter(): Promise<Stringify> {
  if (!stringifyRows) {
    const { stringify } = await import("csv-stringify/sync");
    stringifyRows = (rows) => stringify(rows, CSV_OPTIONS);
    // One call quotes every cell of a page that needs it: the cells become the records of a
    // one-column CSV whose records are split by NUL, a character stored text never holds.
    quoteCells = (cells) =>
      cells.some((cell) => cell.includes("\0"))
        ? cells.map((cell) => stringify([[cell]], CSV_OPTIONS).slice(0, -2))
        : stringify(cells.map((cell) => [cell]), { ...CSV_OPTIONS, record_delimiter: "\0" })
          .slice(0, -1).split("\0");
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
  return await rowsToCsv(
    records.map((record) => columns.map((column) => (record as Record<string, unknown>)[column])),
    header ? columns : undefined,
  );
}

/**
 * CSV text (CRLF line ends) for `rows`, each an array of cells in column order, formula cells
 * neutralised; `header` (the column names) comes first when given. `null` is an empty cell.
 *
 * Exports run to millions of rows, and most cells hold no comma, quote or line break: such
 * a cell is written as it is, which is exactly what csv-stringify writes for it. The other
 * cells of the page are quoted by csv-stringify, all in one call.
 *
 * @example
 * ```ts
 * import { rowsToCsv } from "./csv.ts";
 * const text = await rowsToCsv([[1, "a, b", null], [2, "=SUM(A1)", "x"]], ["id", "t", "u"]);
 * console.log(JSON.stringify(text)); // "id,t,u\r\n1,\"a, b\",\r\n2,'=SUM(A1),x\r\n"
 * ```
 */
export async function rowsToCsv(
  rows: readonly (readonly unknown[])[],
  header?: readonly string[],
): Promise<string> {
  await loadCsvWriter();
  // A line is its text, or its cells while some of them wait to be quoted.
  const lines: (string | string[])[] = [];
  const queued: string[] = [];
  const places: string[][] = [];
  const indexes: number[] = [];
  const scratch: string[] = [];
  const add = (row: readonly unknown[]) => {
    const width = row.length;
    scratch.length = width;
    let firstToQuote = -1;
    for (let i = 0; i < width; i++) {
      const value = row[i];
      if (typeof value === "string") {
        const first = value.charCodeAt(0);
        const text = first < 128 && FORMULA_CHARS[first] ? `'${value}` : value;
        scratch[i] = text;
        if (firstToQuote < 0 && NEEDS_QUOTES.test(text)) firstToQuote = i;
      } else {
        scratch[i] = value === null || value === undefined ? "" : String(value);
      }
    }
    if (firstToQuote < 0) {
      lines.push(scratch.join(","));
      return;
    }
    const cells = scratch.slice();
    for (let i = firstToQuote; i < width; i++) {
      if (i === firstToQuote || NEEDS_QUOTES.test(cells[i])) {
        queued.push(cells[i]);
        places.push(cells);
        indexes.push(i);
      }
    }
    lines.push(cells);
  };
  if (header) add(header);
  for (const row of rows) add(row);
  if (queued.length === 0) return lines.length ? lines.join("\r\n") + "\r\n" : "";
  const quoted = quoteCells!(queued);
  for (let i = 0; i < quoted.length; i++) places[i][indexes[i]] = quoted[i];
  let text = "";
  for (const line of lines) text += (typeof line === "string" ? line : line.join(",")) + "\r\n";
  return text;
}
