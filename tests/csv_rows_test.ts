import assert from "node:assert/strict";
// The reference: the quoting of the package the tool used before its own (a test dependency).
import { stringify } from "csv-stringify/sync";
import { csvCell, csvLine, neutralizeFormula } from "../lib/csv.ts";

/** What the tool wrote with csv-stringify: CRLF records, any CR or LF quoted. */
const REFERENCE_OPTIONS = {
  record_delimiter: "\r\n",
  quoted_match: /[\r\n]/,
  cast: { boolean: String },
};

// Everything that matters to RFC 4180 quoting or to formula neutralising, then text of every
// kind: accents, CJK, emoji with modifiers and joiners, bidi overrides, controls, separators.
const PIECES = [
  ",",
  '"',
  '""',
  "\r",
  "\n",
  "\r\n",
  "\n\r",
  "=",
  "+",
  "-",
  "@",
  "\t",
  "＝",
  "＋",
  "－",
  "＠",
  "'",
  ";",
  " ",
  "a",
  "Z",
  "1",
  "é",
  "e\u0301",
  "中",
  "😀",
  "👍🏽",
  "👩‍👩‍👧",
  "🇩🇪",
  "\u202e",
  "\u2066",
  "\x1b[31m",
  "\x1f",
  "\x7f",
  "\x85",
  "\u2028",
  "\ufeff",
  "\\",
];

/** A seeded generator (a linear congruential one): the same corpus on every run. */
function seeded(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** Any Unicode scalar value but NUL, drawn from every plane. */
function randomCodePoint(next: () => number): string {
  for (;;) {
    const plane = next() < 0.7 ? 0 : Math.floor(next() * 17);
    const code = plane * 0x10000 + Math.floor(next() * 0x10000);
    if (code !== 0 && (code < 0xd800 || code > 0xdfff)) return String.fromCodePoint(code);
  }
}

function randomCell(next: () => number): unknown {
  const kind = next();
  if (kind < 0.05) return null;
  if (kind < 0.07) return undefined;
  if (kind < 0.15) return Math.floor(next() * 2000) - 1000;
  if (kind < 0.18) {
    return [0.5, -2.25, -0, NaN, Infinity, -Infinity, 1e21, 5e-7][Math.floor(next() * 8)];
  }
  if (kind < 0.19) return next() < 0.5;
  if (kind < 0.2) return BigInt(Math.floor(next() * 1e6)) * (next() < 0.5 ? -1n : 1n);
  let text = "";
  const length = Math.floor(next() * 8);
  for (let i = 0; i < length; i++) {
    text += next() < 0.75 ? PIECES[Math.floor(next() * PIECES.length)] : randomCodePoint(next);
  }
  return text;
}

function corpus(seed: number, rows: number): unknown[][] {
  const next = seeded(seed);
  return Array.from({ length: rows }, () => Array.from({ length: 7 }, () => randomCell(next)));
}

Deno.test("csvLine() writes byte for byte what csv-stringify writes for the neutralised cells", () => {
  const rows = corpus(42, 20_000);
  const ours = rows.map((row) => csvLine(row) + "\r\n").join("");
  const reference = stringify(rows.map((row) => row.map(neutralizeFormula)), REFERENCE_OPTIONS);
  assert.equal(ours, reference);
  // The corpus holds every case: quoted, neutralised, both, plain, empty, numeric.
  for (const needle of [`"'=`, `"'\n`, "'＠", '""', ",,", "😀", "\u202e"]) {
    assert.ok(ours.includes(needle), JSON.stringify(needle));
  }
  assert.match(ours, /,-\d+,/);
});

Deno.test("csvLine() neutralises what csv-stringify's escape_formulas does, and a leading LF too", () => {
  const rows = corpus(4242, 20_000);
  const ours = rows.map((row) => csvLine(row) + "\r\n").join("");
  // escape_formulas covers = + - @ tab CR and their full-width forms, but not a leading LF.
  const withLf = rows.map((row) =>
    row.map((cell) => typeof cell === "string" && cell.startsWith("\n") ? `'${cell}` : cell)
  );
  assert.equal(ours, stringify(withLf, { ...REFERENCE_OPTIONS, escape_formulas: true }));
});

Deno.test("csvCell() quotes exactly the cells RFC 4180 needs quoted", () => {
  const cases: [unknown, string][] = [
    ["plain", "plain"],
    ["", ""],
    [null, ""],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\ronly", '"cr\ronly"'],
    ["=1+1", "'=1+1"],
    ["=1,2", `"'=1,2"`],
    ["\n=cmd", `"'\n=cmd"`],
    ["-5", "'-5"],
    [-5, "-5"],
    [1.5, "1.5"],
    [true, "true"],
    ["😀 中", "😀 中"],
  ];
  for (const [cell, expected] of cases) assert.equal(csvCell(cell), expected, JSON.stringify(cell));
});
