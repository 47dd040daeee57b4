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
    // One call quotes every cell of a page that needs it: the cells become the fields of one
    // record split by NUL, a character stored text hardly ever holds. Each of them holds a
    // comma, a quote or a line break, so csv-stringify would quote it in its row; `quoted`
    // says so here, where the delimiter is NUL. (Its cost is per record as much as per
    // field: one record of many fields takes a fifth less time than many records of one.)
    quoteCells = (cells) =>
      cells.some((cell) => cell.includes("\0"))
        ? cells.map((cell) => stringify([[cell]], CSV_OPTIONS).slice(0, -2))
        : stringify([cells], { ...CSV_OPTIONS, delimiter: "\0", quoted: true }).slice(0, -2)
          .split("\0");
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
  const lines: string[] = [];
  if (header) appendCsvLines(lines, [header]);
  appendCsvLines(lines, rows);
  return lines.length ? lines.join("\r\n") + "\r\n" : "";
}

/**
 * Appends one CSV line (without its line end) per row of `rows` to `lines`, formula cells
 * neutralised, and returns how many characters they take with their line ends.
 * {@linkcode loadCsvWriter} must have been awaited first.
 *
 * Exports run to millions of rows, and most cells hold no comma, quote or line break: such
 * a cell is written as it is, which is exactly what csv-stringify writes for it, and a row of
 * such cells is one `join()`. The other cells of the call are quoted by csv-stringify, all at
 * once.
 */
export function appendCsvLines(lines: string[], rows: readonly (readonly unknown[])[]): number {
  const quoting = new PendingQuotes(lines);
  let added = 0;
  for (let r = 0; r < rows.length; r++) {
    const line = plainLine(rows[r]);
    if (line === undefined) {
      quoting.add(rows[r].slice());
    } else {
      lines.push(line);
      added += line.length + 2;
    }
  }
  return added + quoting.finish();
}

/**
 * The character that joins an event's cells instead of a comma when one of them holds a comma
 * (see {@linkcode appendJoinedCsvLines}): U+001F, the ASCII unit separator.
 */
export const JOINED_CELLS_SEPARATOR = "\x1f";

/**
 * Like {@linkcode appendCsvLines}, for events whose seven cells of text come joined into one
 * string: by a comma, or by {@linkcode JOINED_CELLS_SEPARATOR} when a cell holds a comma (see
 * `streamJoinedAuditRows`). The first cell is the event's id, the number each row starts with.
 *
 * A string with six commas, no quote, CR, LF or U+001F, and no cell starting with a formula
 * character, is the CSV line as csv-stringify would write it: one regular expression checks
 * that, and the string is written as it is. Any other string is split into its cells, which
 * go the way of {@linkcode appendCsvLines}; when it does not split into seven (a cell holds
 * the separator), `readRow(id)` gives its cells.
 */
export function appendJoinedCsvLines(
  lines: string[],
  rows: readonly (readonly [id: number, cells: string])[],
  readRow: (id: number) => readonly unknown[] | undefined,
): number {
  const quoting = new PendingQuotes(lines);
  let added = 0;
  for (let r = 0; r < rows.length; r++) {
    const joined = rows[r][1];
    if (PLAIN_JOINED.test(joined)) {
      lines.push(joined);
      added += joined.length + 2;
      continue;
    }
    const id = rows[r][0];
    // The id holds neither separator, so the character after its digits is the one that joins.
    let end = joined.charCodeAt(0) === MINUS ? 1 : 0;
    while (isDigit(joined.charCodeAt(end))) end++;
    let cells: unknown[] = joined.split(joined[end]);
    if (cells.length === PLAIN_JOINED_WIDTH) {
      cells[0] = id;
    } else {
      const row = readRow(id);
      if (!row) continue; // gone since the page was read
      cells = [id, ...row.slice(1)];
    }
    quoting.add(cells);
  }
  return added + quoting.finish();
}

const PLAIN_JOINED_WIDTH = 7;
const MINUS = 0x2d;
const isDigit = (code: number) => code >= 0x30 && code <= 0x39;
/** Six more cells after the id, none needing quotes or neutralising (nor U+001F). */
// deno-lint-ignore no-control-regex
const PLAIN_JOINED = /^-?\d+(?:,(?:[^,"\r\n\x1f=+\-@\t][^,"\r\n\x1f]*)?){6}$/;

/**
 * Rows with a cell to quote, waiting in `lines` as placeholders: their cells are quoted by
 * csv-stringify in one call when {@linkcode PendingQuotes.finish} is called.
 */
class PendingQuotes {
  #lines: string[];
  #rows: string[][] = [];
  #at: number[] = [];
  #queued: string[] = [];
  #places: string[][] = [];
  #indexes: number[] = [];

  constructor(lines: string[]) {
    if (!quoteCells) throw new Error("loadCsvWriter() must be awaited first");
    this.#lines = lines;
  }

  /**
   * Takes the cells of a row that are not all plain (the array is used as it is), and leaves
   * a placeholder line for it.
   */
  add(cells: unknown[]): void {
    for (let i = 0; i < cells.length; i++) {
      const text = cellText(cells[i]);
      cells[i] = text;
      if (NEEDS_QUOTES.test(text)) {
        this.#queued.push(text);
        this.#places.push(cells as string[]);
        this.#indexes.push(i);
      }
    }
    this.#rows.push(cells as string[]);
    this.#at.push(this.#lines.length);
    this.#lines.push("");
  }

  /** Quotes the waiting cells, fills in their lines, and returns the characters added. */
  finish(): number {
    if (this.#queued.length) {
      const quoted = quoteCells!(this.#queued);
      for (let i = 0; i < quoted.length; i++) this.#places[i][this.#indexes[i]] = quoted[i];
    }
    let added = 0;
    for (let i = 0; i < this.#rows.length; i++) {
      const line = this.#rows[i].join(",");
      this.#lines[this.#at[i]] = line;
      added += line.length + 2;
    }
    return added;
  }
}

/**
 * The line for `row` when none of its cells needs quoting or neutralising, else `undefined`.
 * Numbers (and booleans) are never neutralised: `-5` is a number, not a formula.
 */
function plainLine(row: readonly unknown[]): string | undefined {
  for (let i = 0; i < row.length; i++) {
    const value = row[i];
    if (typeof value === "string") {
      const first = value.charCodeAt(0);
      if ((first < 128 && FORMULA_CHARS[first] === 1) || NEEDS_QUOTES.test(value)) return;
    } else if (
      value !== null && value !== undefined && typeof value !== "number" &&
      typeof value !== "boolean"
    ) {
      return;
    }
  }
  // join() writes null as an empty cell and a number as String() does, into one flat string.
  return row.join(",");
}

/** The text of one cell: a string neutralised, `null` empty, anything else as `String()`. */
function cellText(value: unknown): string {
  if (typeof value === "string") {
    const first = value.charCodeAt(0);
    return first < 128 && FORMULA_CHARS[first] === 1 ? `'${value}` : value;
  }
  return value === null || value === undefined ? "" : String(value);
}
