import assert from "node:assert/strict";
import { stringify } from "csv-stringify/sync";
import { loadCsvWriter, neutralizeFormula, rowsToCsv } from "../lib/csv.ts";

// Every character that matters to CSV quoting or to formula neutralising, plus plain text.
const PIECES = [
  "a",
  "Z",
  " ",
  ",",
  '"',
  "\r",
  "\n",
  "\r\n",
  "=",
  "+",
  "-",
  "@",
  "\t",
  "é",
  "1",
  "'",
];

function randomCell(next: () => number): string | number | null {
  const kind = next();
  if (kind < 0.1) return null;
  if (kind < 0.2) return Math.floor(next() * 2000) - 1000;
  let text = "";
  const length = Math.floor(next() * 6);
  for (let i = 0; i < length; i++) text += PIECES[Math.floor(next() * PIECES.length)];
  return text;
}

Deno.test("rowsToCsv() writes exactly what csv-stringify writes for the neutralised cells", async () => {
  let seed = 42;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  await loadCsvWriter();
  for (let round = 0; round < 50; round++) {
    const rows = Array.from(
      { length: 40 },
      () => Array.from({ length: 5 }, () => randomCell(next)),
    );
    const expected = stringify(
      [["a", "b", "c", "d", "e"], ...rows.map((row) => row.map((c) => neutralizeFormula(c ?? "")))],
      { record_delimiter: "\r\n", quoted_match: /[\r\n]/, cast: { boolean: String } },
    );
    assert.equal(await rowsToCsv(rows, ["a", "b", "c", "d", "e"]), expected);
  }
});

Deno.test("rowsToCsv() quotes a cell that holds NUL together with others that need quotes", async () => {
  assert.equal(
    await rowsToCsv([["a\0,b", 'say "hi"', "plain"]]),
    '"a\0,b","say ""hi""",plain\r\n',
  );
});
