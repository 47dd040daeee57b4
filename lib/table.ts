/**
 * Text for a terminal: cells shown safely and measured in the columns a terminal gives them.
 *
 * A cell's text never reaches the terminal raw when it could move the cursor, change colours
 * or reorder what follows: C0 and C1 controls, DEL, bidirectional overrides and other
 * invisible format characters are shown escaped (`\n`, `\x1b`, `\u202E`). Widths count what a
 * terminal draws: a CJK character or an emoji takes two columns, a combining mark none. A cut
 * falls between user-perceived characters (grapheme clusters), never inside one.
 *
 * @module
 */

/** How a NULL cell is shown, so that it differs from any text, `-` included. */
export const NULL_MARK = "∅";
/** The mark at the end of a cut cell. */
export const CUT_MARK = "…";

/** One cell's text as shown, with the columns it takes. */
export interface ShownText {
  text: string;
  width: number;
}

/**
 * The cell as a terminal may show it: NULL as {@linkcode NULL_MARK} (and a text that is
 * exactly that mark escaped, so the two differ), controls and invisible format characters
 * escaped. With `max`, text wider than `max` columns is cut to at most `max`, ending in
 * {@linkcode CUT_MARK}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { showCell } from "./table.ts";
 * assert.deepEqual(showCell(null), { text: "∅", width: 1 });
 * assert.deepEqual(showCell("a\x1b[2Jb"), { text: "a\\x1b[2Jb", width: 9 });
 * assert.deepEqual(showCell("在庫数"), { text: "在庫数", width: 6 });
 * assert.deepEqual(showCell("👍🏽 ok", 3), { text: "👍🏽…", width: 3 });
 * ```
 */
export function showCell(value: unknown, max = Infinity): ShownText {
  if (value === null || value === undefined) return { text: NULL_MARK, width: 1 };
  const text = typeof value === "string" ? value : String(value);
  if (PLAIN.test(text)) {
    if (text.length <= max) return { text, width: text.length };
    return { text: text.slice(0, Math.max(0, max - 1)) + CUT_MARK, width: Math.max(1, max) };
  }
  if (text === NULL_MARK) return { text: "\\u2205", width: 6 };
  return shown(text, max);
}

/** Printable ASCII only: shown as it is, one column per character. */
const PLAIN = /^[\x20-\x7e]*$/;

/**
 * Characters shown escaped: C0 controls, DEL, C1 controls, the bidirectional marks, embeddings,
 * overrides and isolates, the line and paragraph separators, zero-width space, word joiner
 * and invisible operators, the deprecated format characters, the byte-order mark, interlinear
 * annotations, and surrogates that are not part of a pair.
 */
const ESCAPED =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` with the characters {@linkcode showCell} escapes written as escapes, but those in
 * `keep`: for text shown elsewhere than a terminal (a web page), where such characters would
 * hide or reorder what a reader sees just the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeInvisible } from "./table.ts";
 * assert.equal(escapeInvisible("\u202Enimda"), "\\u202Enimda");
 * assert.equal(escapeInvisible("a\nb\x1b", "\n"), "a\nb\\x1b");
 * ```
 */
export function escapeInvisible(text: string, keep = ""): string {
  return text.replace(ESCAPED, (c) => keep.includes(c) ? c : escapeChar(c));
}

function escapeChar(c: string): string {
  const named = NAMED_ESCAPES[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

let graphemes: Intl.Segmenter | undefined;

function shown(text: string, max: number): ShownText {
  graphemes ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  const pieces: string[] = [];
  const widths: number[] = [];
  let width = 0;
  for (const { segment } of graphemes.segment(text)) {
    ESCAPED.lastIndex = 0;
    const piece = ESCAPED.test(segment) ? segment.replace(ESCAPED, escapeChar) : segment;
    const w = piece === segment ? graphemeWidth(segment) : piece.length;
    pieces.push(piece);
    widths.push(w);
    width += w;
  }
  if (width <= max) return { text: pieces.join(""), width };
  // Keep whole graphemes while they and the mark fit.
  let kept = 0;
  let used = 0;
  while (kept < pieces.length && used + widths[kept]! + 1 <= max) used += widths[kept++]!;
  return { text: pieces.slice(0, kept).join("") + CUT_MARK, width: used + 1 };
}

const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}|\ufe0f|^\p{Regional_Indicator}{2}/u;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200c\u200d\ufe00-\ufe0e]/u;

/** Columns a terminal gives one grapheme cluster. */
function graphemeWidth(segment: string): number {
  if (EMOJI_PRESENTATION.test(segment)) return 2;
  if (ZERO_WIDTH.test(segment)) return 0;
  return isWide(segment.codePointAt(0)!) ? 2 : 1;
}

/**
 * East Asian Wide and Fullwidth code points (Unicode's EastAsianWidth.txt, W and F, by block):
 * CJK ideographs, kana, Hangul, fullwidth forms and the like. Wide emoji are the ones with
 * emoji presentation, tested apart.
 */
const WIDE_RANGES = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
] as const;

function isWide(code: number): boolean {
  if (code < 0x1100) return false;
  for (const [low, high] of WIDE_RANGES) {
    if (code < low) return false;
    if (code <= high) return true;
  }
  return false;
}

/** `text` (of `width` columns) padded with spaces to `columns`. */
export function padTo(cell: ShownText, columns: number): string {
  return cell.width >= columns ? cell.text : cell.text + " ".repeat(columns - cell.width);
}
