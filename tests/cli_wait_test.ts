/**
 * The wait between `sync --watch` rounds, when the PC's clock is set back meanwhile.
 */
import assert from "node:assert/strict";
import { waitOrStop } from "../cli/interrupt.ts";

Deno.test("waitOrStop() ends after its time when the clock is set back a year meanwhile", async () => {
  const stop = new AbortController();
  const realNow = Date.now;
  let shift = 0;
  Date.now = () => realNow() + shift;
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const waited = waitOrStop(30, stop.signal).then(() => "waited");
    // The clock, a year ahead, is corrected just after the wait began.
    shift = -365 * 24 * 3600 * 1000;
    const stalled = new Promise<string>((resolve) => {
      guard = setTimeout(() => resolve("still waiting after 60 s"), 60_000);
    });
    assert.equal(await Promise.race([waited, stalled]), "waited");
  } finally {
    clearTimeout(guard);
    stop.abort();
    Date.now = realNow;
  }
});

Deno.test("waitOrStop() ends at once when stopped, or already stopped", async () => {
  const stop = new AbortController();
  const waited = waitOrStop(60_000, stop.signal);
  stop.abort();
  await waited;
  await waitOrStop(60_000, stop.signal);
});
