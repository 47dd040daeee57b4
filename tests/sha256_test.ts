/**
 * lib/sha256.ts against the FIPS 180-4 example vectors and against `node:crypto` (loaded
 * here, where its start-up costs nothing) for every message length from 0 to 300 bytes: that
 * crosses the one-block/two-block padding boundary (55/56 bytes) and several block edges.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SHA256_PADDING, sha256Hex, sha256Into } from "../lib/sha256.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const reference = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Bytes of length `n` that differ from one length to the next (not just zeros). */
function message(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 167 + n * 31 + 11) & 0xff);
}

Deno.test("sha256Hex gives the NIST example digests", () => {
  const vectors: [string, string][] = [
    ["", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ["abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
    [
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
    ],
    ["a".repeat(1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"],
  ];
  for (const [text, digest] of vectors) {
    assert.equal(sha256Hex(text), digest, `${text.length} characters`);
  }
});

Deno.test("sha256Into matches node:crypto for every length from 0 to 300 bytes", () => {
  for (let n = 0; n <= 300; n++) {
    const bytes = message(n);
    const expected = reference(bytes);
    // Padded in place: room beyond the message, and whatever was there is overwritten.
    const buffer = new Uint8Array(n + SHA256_PADDING).fill(0xa5);
    buffer.set(bytes);
    const out = new Uint8Array(40).fill(0xee);
    sha256Into(buffer, n, out, 4);
    assert.equal(hex(out.subarray(4, 36)), expected, `length ${n}`);
    assert.deepEqual(
      [...out.subarray(0, 4), ...out.subarray(36)],
      Array(8).fill(0xee),
      `length ${n}`,
    );
  }
});

Deno.test("sha256Into may write its digest over the message it hashed", () => {
  // The chain does this: each seal is written where the next message's first 32 bytes go.
  for (const n of [0, 31, 32, 55, 56, 64, 119, 120, 300]) {
    const bytes = message(n);
    const buffer = new Uint8Array(Math.max(n, 32) + SHA256_PADDING);
    buffer.set(bytes);
    sha256Into(buffer, n, buffer, 0);
    assert.equal(hex(buffer.subarray(0, 32)), reference(bytes), `length ${n}`);
  }
});

Deno.test("sha256Hex matches node:crypto for text of every length 0-300, in parts and multi-byte", () => {
  const alphabet = 'aZ09 ,"\\\n\u00e9\u20ac\u{1f4e6}\u4e2d';
  for (let n = 0; n <= 300; n++) {
    const text = Array.from(
      { length: n },
      (_, i) => [...alphabet][(i * 7 + n) % [...alphabet].length],
    )
      .join("");
    const expected = reference(new TextEncoder().encode(text));
    assert.equal(sha256Hex(text), expected, `${n} characters`);
    // Split at a code point boundary: the parts are hashed as if joined.
    const points = [...text];
    const cut = points.length >> 1;
    assert.equal(
      sha256Hex(points.slice(0, cut).join(""), "", points.slice(cut).join("")),
      expected,
    );
  }
  // Longer than the internal buffer it starts with (4 KB), which then grows.
  const long = "\u20ac".repeat(5000);
  assert.equal(sha256Hex(long), reference(new TextEncoder().encode(long)));
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
