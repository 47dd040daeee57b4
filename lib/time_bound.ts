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
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/**
 * 10000-01-01T00:00:00.000Z (`Date.UTC(10000, 0, 1)`): the first instant ISO text of four-digit
 * years cannot hold. Written out: a `Date` made at load costs every `query` and `batch show`
 * 0.1 ms at start, and most never parse a time.
 */
export const PAST_LAST_MS = 253_402_300_800_000;
/**
 * What a bound past the year 9999 becomes. Timestamps are compared as text, and every stored
 * one (up to `9999-12-31T23:59:59.999Z`) sorts below this; `Date#toISOString()` would write
 * `+010000-01-01…`, which sorts below them all. (Below year 1 it writes `0000-…` or
 * `-000001-…`, which already sort below every stored timestamp.)
 */
const AFTER_ALL = "9999-12-31T24:00:00.000Z";

/**
 * Parses an ISO 8601 date or date-time (UTC unless it carries an offset) into the range of
 * time it names: a date is the whole day, a minute the whole minute, and so on. A query's
 * lower bound uses the start of that range and its upper bound the end, so an upper bound
 * of `2026-02-16` includes the 16th; a fraction finer than a millisecond (up to nine digits)
 * names its millisecond, the resolution of stored times. Years run from 0001 to 9999, offsets
 * up to ±23:59.
 *
 * @throws {UsageError} When the text is not such a date or names no real day or time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTimeBound } from "./time_bound.ts";
 * assert.deepEqual(parseTimeBound("2026-02-16"), {
 *   start: "2026-02-16T00:00:00.000Z",
 *   end: "2026-02-17T00:00:00.000Z",
 * });
 * assert.equal(parseTimeBound("0001-01-01").start, "0001-01-01T00:00:00.000Z");
 * ```
 */
export function parseTimeBound(text: string): TimeRange {
  const match = TIME_PATTERN.exec(text.trim());
  const fail = () =>
    new UsageError(`"${text}" is not a valid date or time`, { hint: timeBoundHint(text.trim()) });
  if (!match) throw fail();
  const [, y, mo, d, h, mi, s, ms, zone] = match;
  const [year, month, day] = [+y!, +mo!, +d!];
  const [hour, minute, second] = [+(h ?? 0), +(mi ?? 0), +(s ?? 0)];
  if (
    year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
    hour > 23 || minute > 59 || second > 59
  ) {
    throw fail();
  }
  let offsetMinutes = 0;
  if (zone && zone !== "Z") {
    const [offsetHours, offsetMins] = [+zone.slice(1, 3), +zone.slice(4, 6)];
    if (offsetHours > 23 || offsetMins > 59) throw fail();
    offsetMinutes = (zone.startsWith("-") ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // Stored times go to the millisecond: a finer fraction (Python's isoformat() writes six
  // digits) names the millisecond it falls in.
  const millis = +(ms ?? "0").slice(0, 3).padEnd(3, "0");
  const start = utc(year, month, day, hour, minute, second, millis) - offsetMinutes * MINUTE_MS;
  const unitMs = ms !== undefined
    ? 10 ** Math.max(0, 3 - ms.length)
    : s !== undefined
    ? 1000
    : mi !== undefined
    ? MINUTE_MS
    : DAY_MS;
  return { start: isoBound(start), end: isoBound(start + unitMs) };
}

/** An offset without its colon (`date +%z` writes `+0200`), or in hours alone. */
const OFFSET_WITHOUT_COLON = /^(.*T?\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([+-]\d{2})(\d{2})?$/;
/** 24:00, ISO's end of a day, which SQLite would store as the next day's 24:00. */
const END_OF_DAY = /^(\d{4}-\d{2}-\d{2})[T ]24:00(?::00(?:\.0+)?)?(Z|[+-]\d{2}:\d{2})?$/;

/** What to write instead of `text`: the form it nearly has, or the forms there are. */
function timeBoundHint(text: string): string {
  const offset = OFFSET_WITHOUT_COLON.exec(text);
  const colon = offset && `${offset[1]}${offset[2]}:${offset[3] ?? "00"}`;
  if (colon && parseable(colon)) return `Write the offset with a colon, e.g. ${colon}.`;
  const end = END_OF_DAY.exec(text);
  if (end && parseable(end[1]!)) {
    const whole = `a date alone, ${end[1]}, covers the whole day`;
    const next = parseTimeBound(end[1]!).end;
    // The day after 9999-12-31 has no date here.
    return next === AFTER_ALL
      ? `24:00 is 00:00 of the next day; ${whole}.`
      : `24:00 is 00:00 of the next day: write ${next.slice(0, 10)}T00:00${
        end[2] ?? "Z"
      } (${whole}).`;
  }
  return "Use an ISO date or date-time (years 0001-9999) in UTC or with an offset, e.g. 2026-02-16, 2026-02-16T14:30:00Z or 2026-02-16T15:30+01:00.";
}

function parseable(text: string): boolean {
  try {
    parseTimeBound(text);
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds since 1970 of a UTC date and time; unlike `Date.UTC()`, years 1-99 stay so. */
function utc(year: number, month: number, day: number, h = 0, m = 0, s = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(h, m, s, ms);
  return date.getTime();
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** `ms` as stored timestamps are written, or a text that sorts past every one of them. */
function isoBound(ms: number): string {
  return ms >= PAST_LAST_MS ? AFTER_ALL : new Date(ms).toISOString();
}

/** The half-open range `[start, end)` of `since` and `until`; open ends are the widest strings. */
export function timeRange(
  options: { since?: string | undefined; until?: string | undefined },
): TimeRange {
  return {
    start: options.since === undefined ? "" : parseTimeBound(options.since).start,
    // Above every timestamp: text compares by code point, and no stored time starts so high.
    end: options.until === undefined ? "\u{10FFFF}" : parseTimeBound(options.until).end,
  };
}
