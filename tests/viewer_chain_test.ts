/**
 * The viewer's overview says what the chain's last check found: tampering on the first page,
 * not only on the chain's page; the events the check covered and when; the events logged
 * since, not yet checked; and that a check is under way. The chain is walked once when the
 * viewer starts and once per visit of the chain's page, never per page load.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type RunningViewer, startViewer } from "../lib/viewer/server.ts";
import { chainStatusCard } from "../lib/viewer/pages.ts";
import { logAuditEvents, openDatabase } from "../mod.ts";
import { tempDir } from "./helpers.ts";
import { viewerFixture } from "./viewer_fixture.ts";

/** Waits until no walk of the chain is under way (polling; the test runner bounds it). */
async function settled(viewer: RunningViewer): Promise<void> {
  while (viewer.chain.status.running || viewer.chain.status.last === null) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function page(viewer: RunningViewer, address: string): Promise<string> {
  const response = await fetch(new URL(address, viewer.url));
  assert.equal(response.status, 200, address);
  return await response.text();
}

/** The overview's chain card, tags removed. */
function chainCardText(overview: string): string {
  const card = /<div class="card[^"]*" id="chain">([\s\S]*?)<\/div><\/div>/.exec(overview);
  assert.ok(card, "the overview has a chain card");
  return card[1].replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
}

function tamper(path: string, sql: string): void {
  const raw = new DatabaseSync(path);
  try {
    raw.exec(sql);
  } finally {
    raw.close();
  }
}

Deno.test("The overview of a tampered database says TAMPERED, names the first bad event and links the chain's page", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  tamper(
    path,
    "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = 'forged' WHERE audit_id = 3",
  );
  await using viewer = await startViewer({ database: path, port: 0 });
  await settled(viewer);
  const overview = await page(viewer, "/");
  const card = chainCardText(overview);
  assert.match(card, /TAMPERED/);
  assert.match(card, /First bad event: audit_id 3\. Event 3 was modified: [^.]*\. Checked at/);
  assert.match(card, /Checked at \d\d:\d\d UTC/);
  assert.match(overview, /id="chain">[\s\S]*?<a href="\/verify">/);
  assert.doesNotMatch(card, /intact/);
});

Deno.test("The overview says how far the chain was checked and when, and which events came since, until the chain's page checks them", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await using viewer = await startViewer({ database: path, port: 0 });
  await settled(viewer);
  let card = chainCardText(await page(viewer, "/"));
  assert.match(card, /^Audit chain intact up to event 12 \(12 seals\), checked at \d\d:\d\d UTC/);
  assert.doesNotMatch(card, /not yet checked/);
  {
    using db = openDatabase(path);
    await logAuditEvents(db, [{ operation: "NOTE" }, { operation: "NOTE" }]);
  }
  card = chainCardText(await page(viewer, "/"));
  assert.match(
    card,
    /up to event 12 .*Events after 12 \(up to 14\) were logged since: not yet checked/,
  );
  assert.equal((await page(viewer, "/verify")).includes("TAMPERED"), false);
  card = chainCardText(await page(viewer, "/"));
  assert.match(card, /intact up to event 14 \(14 seals\)/);
  assert.doesNotMatch(card, /not yet checked/);
  // The JSON of the chain checks it as well, and keeps the shape verify prints.
  {
    using db = openDatabase(path);
    await logAuditEvents(db, [{ operation: "NOTE" }]);
  }
  const json = await (await fetch(new URL("/api/verify", viewer.url))).json();
  assert.deepEqual(Object.keys(json), [
    "database",
    "intact",
    "events_checked",
    "head",
    "anchor",
    "append_only",
    "failure",
    "archived_through",
    "archives",
    "warnings",
  ]);
  await settled(viewer);
  assert.match(chainCardText(await page(viewer, "/")), /intact up to event 15 \(15 seals\)/);
});

Deno.test("The chain is walked once when the viewer starts and once per visit of its page, never per page load", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await using viewer = await startViewer({ database: path, port: 0 });
  await settled(viewer);
  for (let i = 0; i < 5; i++) await page(viewer, "/");
  assert.equal(viewer.chain.checks, 1);
  await page(viewer, "/verify");
  await page(viewer, "/");
  assert.equal(viewer.chain.checks, 2);
});

Deno.test("Requests for the chain while it is walked share that walk's verdict", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  {
    using db = openDatabase(path);
    // Long enough to walk (a tenth of a second or more) for the requests below to come during it.
    await logAuditEvents(db, Array.from({ length: 200_000 }, () => ({ operation: "COUNTED" })));
  }
  await using viewer = await startViewer({ database: path, port: 0 });
  assert.equal(viewer.chain.status.running, true);
  const answers = await Promise.all(
    ["/api/verify", "/verify", "/api/verify"].map((address) =>
      fetch(new URL(address, viewer.url)).then((r) => r.text())
    ),
  );
  assert.equal(viewer.chain.checks, 1);
  assert.equal(answers[0], answers[2]);
  assert.equal(JSON.parse(answers[0]).events_checked, 200_012);
  assert.match(answers[1], /intact/);
});

Deno.test("Events removed from the end after the check make the overview say so", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await using viewer = await startViewer({ database: path, port: 0 });
  await settled(viewer);
  tamper(path, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE audit_id >= 6");
  const card = chainCardText(await page(viewer, "/"));
  assert.match(card, /CHECK AGAIN/);
  assert.match(card, /The log now ends at event 5, before the event the check reached/);
});

Deno.test("A database file replaced after the check makes the overview say its verdict was of another file", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  const restored = join(dir.path, "restored");
  await Deno.mkdir(restored);
  // A backup put in its place, as a restore does: renamed over the served file; tampered.
  const backup = viewerFixture(restored);
  tamper(
    backup,
    "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = 'forged' WHERE audit_id = 3",
  );
  await using viewer = await startViewer({ database: path, port: 0 });
  await settled(viewer);
  await Deno.rename(backup, path);
  for (let i = 0; i < 2; i++) {
    const card = chainCardText(await page(viewer, "/"));
    assert.match(card, /CHECK AGAIN The database file was replaced after the check at/, card);
    assert.doesNotMatch(card, /intact/);
  }
  await page(viewer, "/verify");
  assert.match(chainCardText(await page(viewer, "/")), /TAMPERED/);
});

Deno.test("The chain card says a check is under way, and keeps the last verdict while one runs", () => {
  const text = (html: { toString(): string }) => html.toString().replace(/<[^>]*>/g, " ");
  assert.match(
    text(chainStatusCard({ last: null, running: true, lastId: 12 })),
    /being checked .*reload to see the verdict/,
  );
  const tampered = chainStatusCard({
    last: {
      checked_at: "2026-12-05T09:07:00.000Z",
      result: {
        intact: false,
        events_checked: 4,
        head: { audit_id: 4, hash: "ab" },
        anchor: null,
        append_only: false,
        failure: { audit_id: 5, kind: "modified", message: "Event 5 was changed." },
        archived_through: null,
        archives: null,
        warnings: [],
      },
      file: null,
    },
    running: true,
    lastId: 12,
  });
  assert.match(text(tampered), /TAMPERED .*audit_id 5\. .*Checked at 09:07 UTC, 2026-12-05\./);
  assert.match(text(tampered), /Being checked again now/);
});
