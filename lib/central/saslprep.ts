/**
 * SASLprep (RFC 4013), as PostgreSQL applies it to a password for SCRAM: the server stores
 * `CREATE ROLE … PASSWORD '…'` prepared so, and libpq prepares what it sends the same way, so
 * a password typed with a "…", a non-breaking space or a full-width letter works with `psql`.
 * The client audit-trail uses sends the password as it is: such a login was refused.
 *
 * @module
 */

/** Ranges of code points, each `[first, last]`. */
type Ranges = readonly (readonly [number, number])[];

/** RFC 3454 C.1.2: spaces other than ASCII's, mapped to a space. */
const NON_ASCII_SPACE: Ranges = [
  [0x00a0, 0x00a0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

/** RFC 3454 B.1: characters mapped to nothing (a soft hyphen, joiners, variation selectors). */
const MAPPED_TO_NOTHING: Ranges = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

/** RFC 3454 C.1.2 to C.9: what a prepared string may not hold. */
const PROHIBITED: Ranges = [
  ...NON_ASCII_SPACE,
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0x0340, 0x0341],
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x180e, 0x180e],
  [0x200c, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x2063],
  [0x206a, 0x206f],
  [0x2ff0, 0x2ffb],
  [0xd800, 0xf8ff],
  [0xfdd0, 0xfdef],
  [0xfeff, 0xfeff],
  [0xfff9, 0xffff],
  [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f],
  // Private use planes, and the two non-characters at the end of every plane.
  [0xf0000, 0x10ffff],
  ...Array.from({ length: 16 }, (_, plane) => {
    const end = (plane + 1) * 0x10000;
    return [end - 2, end - 1] as const;
  }),
];

/** RFC 3454 D.1: characters written right to left (Hebrew, Arabic, Syriac, Thaana). */
const RIGHT_TO_LEFT: Ranges = [
  [0x05be, 0x05be],
  [0x05c0, 0x05c0],
  [0x05c3, 0x05c3],
  [0x05d0, 0x05ea],
  [0x05f0, 0x05f4],
  [0x061b, 0x061b],
  [0x061f, 0x061f],
  [0x0621, 0x063a],
  [0x0640, 0x064a],
  [0x066d, 0x066f],
  [0x0671, 0x06d5],
  [0x06dd, 0x06dd],
  [0x06e5, 0x06e6],
  [0x06fa, 0x06fe],
  [0x0700, 0x070d],
  [0x0710, 0x0710],
  [0x0712, 0x072c],
  [0x0780, 0x07a5],
  [0x07b1, 0x07b1],
  [0x200f, 0x200f],
  [0xfb1d, 0xfb1d],
  [0xfb1f, 0xfb28],
  [0xfb2a, 0xfb36],
  [0xfb38, 0xfb3c],
  [0xfb3e, 0xfb3e],
  [0xfb40, 0xfb41],
  [0xfb43, 0xfb44],
  [0xfb46, 0xfbb1],
  [0xfbd3, 0xfd3d],
  [0xfd50, 0xfd8f],
  [0xfd92, 0xfdc7],
  [0xfdf0, 0xfdfc],
  [0xfe70, 0xfe74],
  [0xfe76, 0xfefc],
];

const within = (ranges: Ranges, code: number) =>
  ranges.some(([first, last]) => code >= first && code <= last);

/**
 * The password as PostgreSQL's SCRAM uses it: an ASCII password as it is; else spaces mapped
 * to " ", soft hyphens and joiners removed, NFKC-normalized. As PostgreSQL does, a password
 * that SASLprep refuses (a control character, a private-use or unassigned code point, mixed
 * directions) is used as it is. Unassigned code points are those of the Unicode version
 * JavaScript knows, and a left-to-right character one that is a letter: close to RFC 3454's
 * tables of Unicode 3.2, which differ only for characters no keyboard types.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { saslPrep } from "./saslprep.ts";
 * assert.equal(saslPrep("s3cret"), "s3cret");
 * assert.equal(saslPrep("wait\u2026"), "wait...");
 * assert.equal(saslPrep("a\u00a0b\u00adc"), "a bc");
 * assert.equal(saslPrep("ctrl\u0007\u2026"), "ctrl\u0007\u2026");
 * ```
 */
export function saslPrep(password: string): string {
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const mapped = [...password].flatMap((char) => {
    const code = char.codePointAt(0)!;
    return within(NON_ASCII_SPACE, code) ? [" "] : within(MAPPED_TO_NOTHING, code) ? [] : [char];
  }).join("");
  if (mapped === "") return password;
  const prepared = mapped.normalize("NFKC");
  const codes = [...prepared].map((char) => char.codePointAt(0)!);
  if (codes.some((code) => within(PROHIBITED, code)) || /\p{Cn}/u.test(prepared)) return password;
  const rightToLeft = codes.map((code) => within(RIGHT_TO_LEFT, code));
  if (rightToLeft.includes(true)) {
    const leftToRight = [...prepared].some((char, i) => !rightToLeft[i] && /\p{L}/u.test(char));
    if (leftToRight || !rightToLeft[0] || !rightToLeft[rightToLeft.length - 1]) return password;
  }
  return prepared;
}
