/**
 * Time bounds of queries: an ISO date or date-time and the span of time it names.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/** A time bound as the half-open UTC range `[start, end)` it covers, in ISO form. */
export interface TimeRange {
  start: string;
  end: string;
}

const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Parses an ISO date or date-time (UTC unless it carries an offset) into the range of time it
 * names: a date is the whole day, a minute the whole minute, and so on. `--since` uses the
 * start of that range and `--until` its end, so `--until 2026-02-16` includes the 16th.
 *
 * @throws {UsageError} When the text is not such a date or names no real day or time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTimeBound } from "./time_bound.ts";
 * assert.deepEqual(parseTimeBound("2026-02-16", "until"), {
 *   start: "2026-02-16T00:00:00.000Z",
 *   end: "2026-02-17T00:00:00.000Z",
 * });
 * ```
 */
export function parseTimeBound(text: string, option: "since" | "until"): TimeRange {
  const match = TIME_PATTERN.exec(text.trim());
  const fail = () =>
    new UsageError(`--${option} "${text}" is not a valid date or time`, {
      hint: "Use an ISO date or date-time in UTC, e.g. 2026-02-16 or 2026-02-16T14:30:00Z.",
    });
  if (!match) throw fail();
  const [, y, mo, d, h, mi, s, ms, zone] = match;
  const parts = [+y, +mo - 1, +d, +(h ?? 0), +(mi ?? 0), +(s ?? 0), +(ms ?? "0").padEnd(3, "0")];
  const local = Date.UTC(parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]);
  const check = new Date(local);
  if (
    Number.isNaN(local) || check.getUTCFullYear() !== parts[0] ||
    check.getUTCMonth() !== parts[1] || check.getUTCDate() !== parts[2] ||
    parts[3] > 23 || parts[4] > 59 || parts[5] > 59
  ) {
    throw fail();
  }
  let offsetMs = 0;
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    offsetMs = sign * (+zone.slice(1, 3) * 60 + +zone.slice(4, 6)) * 60_000;
  }
  const start = local - offsetMs;
  const unitMs = ms !== undefined
    ? 10 ** (3 - ms.length)
    : s !== undefined
    ? 1000
    : mi !== undefined
    ? 60_000
    : 86_400_000;
  return { start: new Date(start).toISOString(), end: new Date(start + unitMs).toISOString() };
}
