/**
 * Spreadsheet-safe CSV: RFC 4180 quoting, and cells a spreadsheet would run as a formula
 * neutralised. The quoting is byte for byte what csv-stringify writes with
 * `record_delimiter: "\r\n"` (tests/csv_rows_test.ts proves it over a generated corpus of
 * hostile cells): a dozen lines of our own instead of an npm package that costs every
 * process that loads it 30 ms or more of start-up.
 *
 * @module
 */

/**
 * Returns `cell` so that no spreadsheet runs it as a formula: text starting with `=`, `+`,
 * `-`, `@`, tab, CR or LF, or with the full-width `＝ ＋ － ＠` that Apple Numbers reads as
 * them, gets a leading `'`, which Excel and LibreOffice show as text. (csv-stringify's own
 * `escape_formulas` misses a leading LF.) Numbers are left alone: `-5` is a number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { neutralizeFormula } from "./csv.ts";
 * assert.equal(neutralizeFormula("=SUM(A1)"), "'=SUM(A1)");
 * assert.equal(neutralizeFormula("\n=1"), "'\n=1");
 * assert.equal(neutralizeFormula(-5), -5);
 * ```
 */
export function neutralizeFormula<T>(cell: T): T | string {
  return typeof cell === "string" && startsFormula(cell) ? `'${cell}` : cell;
}

function startsFormula(text: string): boolean {
  const first = text.charCodeAt(0);
  return first < 128 ? FORMULA_CHARS[first] === 1 : FULL_WIDTH_FORMULA.has(first);
}

const FORMULA_CHARS = new Uint8Array(128);
for (const c of "=+-@\t\r\n") FORMULA_CHARS[c.charCodeAt(0)] = 1;
const FULL_WIDTH_FORMULA = new Set([0xff1d, 0xff0b, 0xff0d, 0xff20]);

/** A cell RFC 4180 quotes: it holds a comma, a quote, a CR or a LF. */
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell: a string neutralised (see {@linkcode neutralizeFormula}) and quoted when it
 * needs it, `null` and `undefined` empty, a number, bigint or boolean as `String()` writes it,
 * anything else as its JSON.
 */
export function csvCell(value: unknown): string {
  let text: string;
  if (typeof value === "string") {
    text = startsFormula(value) ? `'${value}` : value;
  } else if (value === null || value === undefined) {
    return "";
  } else if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    text = String(value);
  } else {
    text = JSON.stringify(value) ?? "";
  }
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * One CSV line, without its line end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csvLine } from "./csv.ts";
 * assert.equal(csvLine([1, "a, b", null, "=SUM(A1)", 'say "hi"']), `1,"a, b",,'=SUM(A1),"say ""hi"""`);
 * ```
 */
export function csvLine(cells: readonly unknown[]): string {
  let line = cells.length ? csvCell(cells[0]) : "";
  for (let i = 1; i < cells.length; i++) line += "," + csvCell(cells[i]);
  return line;
}
