/**
 * The one check that an options object holds only the keys a library function knows.
 *
 * TypeScript refuses a misspelt key in an object written out in the code, but not in one
 * built at run time (from JSON, a form, a URL's parameters) or passed from JavaScript. There
 * a filter such as `{ skus: "SKU-1" }` would be ignored without a word, and the query would
 * answer for every event as if it had been asked for SKU-1's.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/**
 * Checks that every key of `given` whose value is not `undefined` is one of `known` (an
 * object whose keys are the allowed names, so that TypeScript checks the list against the
 * options' type).
 *
 * @param given The options as passed.
 * @param known An object with a key for each option the function takes.
 * @param what What the options are, for the message: "query filter".
 * @throws {UsageError} Naming the first unknown key and the known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireKnownOptions } from "./known_options.ts";
 * const KNOWN = { sku: true, limit: true } as const;
 * requireKnownOptions({ sku: "SKU-1", limit: undefined }, KNOWN, "query filter");
 * assert.throws(
 *   () => requireKnownOptions({ skus: "SKU-1" }, KNOWN, "query filter"),
 *   { message: 'Unknown query filter "skus" (known: sku, limit)' },
 * );
 * ```
 */
export function requireKnownOptions(
  given: object,
  known: Readonly<Record<string, true>>,
  what: string,
): void {
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || Object.hasOwn(known, key)) continue;
    throw new UsageError(
      `Unknown ${what} "${key}" (known: ${Object.keys(known).join(", ")})`,
      { hint: "Check the spelling of the option: nothing was read or written." },
    );
  }
}
