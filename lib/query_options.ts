/**
 * The filters of a query given as text, by name: `audit-trail query --sku X` and the viewer's
 * `/api/events?sku=X` read them here, so a bad value gets the same message from both.
 *
 * Unlike the rest of the library, its messages name the command line's flags (`--limit must
 * be…`): what it reads is text typed for those flags, or for the URL parameters that mirror
 * them. It stays in `lib/` because the viewer (`lib/viewer/`) reads its parameters with it.
 *
 * @module
 */
import { parseCount } from "./count.ts";
import { UsageError } from "./errors.ts";
import type { AuditLogFilter } from "./query.ts";
import { parseTimeBound } from "./time_bound.ts";

/** The names of the query options, as command-line flags without their `--`. */
export const QUERY_OPTION_NAMES = [
  "sku",
  "operation",
  "run-id",
  "user",
  "since",
  "until",
  "contains",
  "after-id",
  "before-id",
  "limit",
  "offset",
  "order",
] as const;

/** The options that match stored text. */
const TEXT_FILTERS = ["sku", "operation", "run-id", "user", "contains"] as const;

/** One of {@linkcode QUERY_OPTION_NAMES}. */
export type QueryOptionName = (typeof QUERY_OPTION_NAMES)[number];

/**
 * Reads the options given (each as the text typed) into a filter, checking every value as
 * `query` does: counts are whole numbers, times are ISO dates or date-times, the order is
 * `desc` or `asc`, and text holds no U+FFFD (what bytes that are not UTF-8 become).
 *
 * @throws {UsageError} For a bad value, naming its flag (`--limit must be …`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { filterFromOptions } from "./query_options.ts";
 * const filter = filterFromOptions({ sku: "SKU-1", limit: "10", order: "asc" });
 * assert.deepEqual([filter.sku, filter.limit, filter.order], ["SKU-1", 10, "asc"]);
 * assert.throws(() => filterFromOptions({ limit: "ten" }), {
 *   message: '--limit must be a whole number of 0 or more, not "ten"',
 * });
 * ```
 */
export function filterFromOptions(
  values: Partial<Record<QueryOptionName, string>>,
): AuditLogFilter {
  for (const name of TEXT_FILTERS) {
    // Bytes that are not UTF-8 arrive as U+FFFD (from argv, or a percent-escape such as %FF),
    // which log never stores: such a filter would match nothing, and an empty answer would
    // read as "no such events".
    if (values[name]?.includes("\uFFFD")) {
      throw new UsageError(
        `--${name} is not valid text: it holds bytes that are not UTF-8 (shown as "\uFFFD")`,
        {
          hint:
            "Give it in UTF-8: set the terminal or script to UTF-8 (on Windows: chcp 65001), or percent-encode its UTF-8 bytes in an address.",
        },
      );
    }
  }
  const order = values.order ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw new UsageError(`--order must be "desc" or "asc", not "${order}"`, {
      hint: "Write desc (newest first, the default) or asc (oldest first), in lower case.",
    });
  }
  // Checked here, not first when the query runs, so that nothing is read for a bad value.
  checkTimeRange(values.since, values.until);
  const count = (name: "after-id" | "before-id" | "limit" | "offset") => {
    const value = values[name];
    return value === undefined ? undefined : parseCount(value, `--${name}`);
  };
  return {
    sku: values.sku,
    operation: values.operation,
    runId: values["run-id"],
    user: values.user,
    since: values.since,
    until: values.until,
    contains: values.contains,
    afterId: count("after-id"),
    beforeId: count("before-id"),
    limit: count("limit"),
    offset: count("offset"),
    order,
  };
}

/**
 * Checks `--since` and `--until` up front (see {@linkcode checkTimeBound}), and that `--until`
 * does not end before `--since` begins: such a range holds no instant, and the empty answer it
 * would give reads as "no events then" to a person who typed the dates the wrong way round.
 *
 * @throws {UsageError} For a bad bound, or bounds in the wrong order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTimeRange } from "./query_options.ts";
 * checkTimeRange("2026-02-16", "2026-02-16");
 * assert.throws(
 *   () => checkTimeRange("2026-02-17", "2026-02-16"),
 *   /--until 2026-02-16 ends before --since 2026-02-17 begins/,
 * );
 * ```
 */
export function checkTimeRange(since: string | undefined, until: string | undefined): void {
  checkTimeBound(since, "--since");
  checkTimeBound(until, "--until");
  if (since === undefined || until === undefined) return;
  if (parseTimeBound(until).end <= parseTimeBound(since).start) {
    throw new UsageError(
      `--until ${until} ends before --since ${since} begins, so no event can match`,
      { hint: "Give the start of the period with --since and its end with --until." },
    );
  }
}

/** Checks a time bound up front, so that its error names the option it was given to. */
export function checkTimeBound(value: string | undefined, option: string): void {
  if (value === undefined) return;
  try {
    parseTimeBound(value);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(`${option} ${error.message}`, { hint: error.hint });
  }
}
