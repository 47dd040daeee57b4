/**
 * Numbers, times and durations written for people, shared by `stats --format table`, the
 * report and the viewer.
 *
 * @module
 */

/** A count with thousands separators: `1,000,000`. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A count with thousands separators and what it counts: `1 event`, `1,000 events`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatCountOf } from "./format.ts";
 * assert.equal(formatCountOf(1, "event"), "1 event");
 * assert.equal(formatCountOf(1000, "event"), "1,000 events");
 * ```
 */
export function formatCountOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${formatCount(n)} ${n === 1 ? noun : plural}`;
}

/** A printed timestamp without its `T`, milliseconds and `Z`: `2026-02-16 14:30:00`. */
export function shortTime(timestamp: string): string {
  return timestamp.replace("T", " ").replace(/\.\d+Z$/, "");
}

/**
 * The time span of `stats` figures: `2026-02-01 08:00:00 to 2026-02-16 14:30:00 UTC`, and
 * how many events have no valid time, which belong to no day (`; 2 events without a valid
 * time`); `no events` for none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statsSpan } from "./format.ts";
 * const stats = { events: 3, without_valid_time: 1, first_timestamp: "2026-02-01T08:00:00.000Z", last_timestamp: "2026-02-16T14:30:00.000Z" };
 * assert.equal(statsSpan(stats), "2026-02-01 08:00:00 to 2026-02-16 14:30:00 UTC; 1 event without a valid time");
 * ```
 */
export function statsSpan(
  stats: {
    events: number;
    without_valid_time: number;
    first_timestamp: string | null;
    last_timestamp: string | null;
  },
): string {
  if (stats.events === 0) return "no events";
  const parts = [];
  if (stats.first_timestamp !== null && stats.last_timestamp !== null) {
    parts.push(`${shortTime(stats.first_timestamp)} to ${shortTime(stats.last_timestamp)} UTC`);
  }
  if (stats.without_valid_time > 0) {
    parts.push(`${formatCountOf(stats.without_valid_time, "event")} without a valid time`);
  }
  return parts.join("; ");
}

/**
 * Seconds as people say them: `4.2 s`, `42 s`, `3 min 5 s`, `4 h 18 min`, `2 d 3 h`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./format.ts";
 * assert.ok(formatDuration(185) === "3 min 5 s");
 * assert.ok(formatDuration(15536.448) === "4 h 18 min");
 * ```
 */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 10) return `${seconds.toFixed(1)} s`;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}
