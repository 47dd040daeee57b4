import assert from "node:assert/strict";
import { stringify } from "csv-stringify/sync";
import {
  appendJoinedCsvLines,
  JOINED_CELLS_SEPARATOR,
  loadCsvWriter,
  neutralizeFormula,
  rowsToCsv,
} from "../lib/csv.ts";

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
  JOINED_CELLS_SEPARATOR,
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

Deno.test("appendJoinedCsvLines() writes exactly what csv-stringify writes for the events' neutralised cells", async () => {
  let seed = 4242;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const text = () => {
    const cell = randomCell(next);
    return cell === null ? "" : String(cell);
  };
  await loadCsvWriter();
  for (let round = 0; round < 50; round++) {
    // Seven cells of text, as SQLite joins them: by U+001F when the details hold a comma.
    const events = Array.from({ length: 40 }, (_, i) => {
      const id = round * 100 + i - 50;
      const cells = [
        String(id),
        ...Array.from({ length: 6 }, () => next() < 0.5 ? "plain" : text()),
      ];
      const separator = cells[4].includes(",") ? JOINED_CELLS_SEPARATOR : ",";
      return { id, cells, joined: cells.join(separator) };
    });
    const byId = new Map(events.map((event) => [event.id, event.cells]));
    const reread: number[] = [];
    const lines: string[] = [];
    const added = appendJoinedCsvLines(
      lines,
      events.map((event) => [event.id, event.joined] as const),
      (id) => (reread.push(id), byId.get(id)),
    );
    const expected = stringify(
      events.map((event) => [event.id, ...event.cells.slice(1).map(neutralizeFormula)]),
      { record_delimiter: "\r\n", quoted_match: /[\r\n]/, cast: { boolean: String } },
    );
    assert.equal(lines.join("\r\n") + "\r\n", expected);
    assert.equal(added, expected.length);
    // Only events whose joined cells do not split into seven are read again.
    for (const id of reread) {
      const { joined } = events.find((event) => event.id === id)!;
      assert.ok(joined.split(joined[String(id).length]).length !== 7, joined);
    }
  }
});
