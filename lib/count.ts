/**
 * Whole numbers of 0 or more (limits, offsets, event ids, days): the one reading of such a
 * number typed as text, and the one check of such a number given to the library. Both fail
 * with a {@linkcode UsageError} (exit code 2 on the command line) in the same words.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/**
 * Reads a whole number of 0 or more that a person typed: a command-line option's value or a
 * URL parameter. `name` is what the person gave it as (`--limit`), and the message names it.
 *
 * @throws {UsageError} For anything else: a sign, a fraction, an exponent, hex, digits of
 * other scripts, or a number beyond 2^53.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCount } from "./count.ts";
 * assert.equal(parseCount("25", "--limit"), 25);
 * assert.throws(
 *   () => parseCount("-1", "--limit"),
 *   { message: '--limit must be a whole number of 0 or more, not "-1"' },
 * );
 * ```
 */
export function parseCount(text: string, name: string): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw notACount(name, text, true);
  return value;
}

/**
 * Returns `value` when it is a whole number of 0 or more, for a library function to check what
 * it was given. `name` names the value, never a flag (`Limit`, `The after id`): the command
 * line has already checked its options with {@linkcode parseCount}.
 *
 * @throws {UsageError} For a negative number, a fraction, NaN or a number beyond 2^53.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireCount } from "./count.ts";
 * assert.equal(requireCount(0, "Limit"), 0);
 * assert.throws(
 *   () => requireCount(1.5, "Limit"),
 *   { message: 'Limit must be a whole number of 0 or more, not "1.5"' },
 * );
 * ```
 */
export function requireCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw notACount(name, String(value));
  return value;
}

function notACount(name: string, given: string, typed = false): UsageError {
  // Digits alone that failed are past 2^53: "not a whole number" would send the person looking
  // for a typo in a number that has none.
  if (/^\d+$/.test(given.trim())) {
    return new UsageError(
      `${name} is too large: at most ${Number.MAX_SAFE_INTEGER}, not "${given}"`,
      { hint: `Give ${name} a smaller number.` },
    );
  }
  return new UsageError(`${name} must be a whole number of 0 or more, not "${given}"`, {
    hint: typed
      ? `Write ${name} in the digits 0-9 alone, e.g. 10: no sign, point, exponent or spaces inside.`
      : undefined,
  });
}

/**
 * A count and what it counts, for a person to read: `1 event`, `0 events`, `2 sites`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countOf } from "./count.ts";
 * assert.equal(countOf(1, "event"), "1 event");
 * assert.equal(countOf(0, "event"), "0 events");
 * assert.equal(countOf(2, "batch", "batches"), "2 batches");
 * ```
 */
export function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
