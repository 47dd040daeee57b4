/**
 * The instant the sync sends for each stored timestamp text (the `timestamp` column; the text
 * itself goes as it is): the same answer as a round trip through `Date`, digit for digit,
 * except the year 0, which PostgreSQL does not have.
 */
import assert from "node:assert/strict";
import { instant } from "./internals.ts";

/** What `Date` says: the ISO text if it parses back to itself, else null. */
function byDate(iso: string): string | null {
  const time = Date.parse(iso);
  return Number.isNaN(time) || new Date(time).toISOString() !== iso ? null : iso;
}

const pad = (value: number, width = 2) => String(value).padStart(width, "0");

Deno.test("instant: every day, month and time edge of leap and common years, as Date says", () => {
  let checked = 0;
  for (const year of [1, 4, 100, 1900, 1970, 2000, 2023, 2024, 2100, 2400, 9999]) {
    for (let month = 0; month <= 13; month++) {
      for (let day = 0; day <= 32; day++) {
        for (const time of ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"]) {
          const date = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
          const iso = `${date}T${time}.123Z`;
          assert.equal(instant(iso), byDate(iso), iso);
          const legacy = `${date} ${time}`;
          assert.equal(instant(legacy), byDate(`${date}T${time}.000Z`), legacy);
          checked += 2;
        }
      }
    }
  }
  assert.ok(checked > 50_000);
});

Deno.test("instant: the year 0, other shapes and null name no instant", () => {
  assert.equal(byDate("0000-01-01T00:00:00.000Z"), "0000-01-01T00:00:00.000Z");
  assert.equal(instant("0000-01-01T00:00:00.000Z"), null);
  for (
    const text of [
      "2026-02-16T12:00:00Z",
      "2026-02-16T12:00:00.000+01:00",
      "2026-2-16 12:00:00",
      " 2026-02-16 12:00:00",
      "2026-02-16T12:00:00.000Z\n",
      "",
      "yesterday",
    ]
  ) {
    assert.equal(instant(text), null, JSON.stringify(text));
  }
  assert.equal(instant(null), null);
  assert.equal(instant("2024-02-29 23:59:59"), "2024-02-29T23:59:59.000Z");
});
