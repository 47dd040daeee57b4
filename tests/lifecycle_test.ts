/**
 * Features used together over a site's life, through the real command line: an inventory
 * database of the earlier design adopted, logged to, archived, then read, browsed and bundled.
 * Each piece has its own tests; these check what one piece tells about the work of another.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { cliCommand, runCli, tempDir } from "./helpers.ts";
import { writeLegacyDatabase } from "./fixtures.ts";
import { startPostgres } from "./pg_support.ts";

/** Runs the CLI and fails with its stderr unless it exits 0; returns its stdout. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runCli(args, { env });
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/**
 * A legacy inventory database (six events of February 2026, two of them a batch) adopted by
 * `migrate`, with `events` logged after it. Returns its path.
 */
async function adoptedSite(
  dir: string,
  events: { operation: string; sku?: string; runId?: string }[],
  name = "app.db",
): Promise<string> {
  const db = join(dir, name);
  writeLegacyDatabase(db, { legacy002: true });
  await cli(["migrate", "--db", db]);
  for (const event of events) {
    const args = ["log", event.operation, "--db", db, "--user", "night-shift"];
    if (event.sku) args.push("--sku", event.sku);
    if (event.runId) args.push("--run-id", event.runId);
    await cli(args);
  }
  return db;
}

Deno.test("query --archives --format table lays its columns out as if nothing had been archived", async () => {
  await using dir = await tempDir();
  // The legacy events are archived; the one live event has the widest operation and SKU.
  const db = await adoptedSite(dir.path, [
    { operation: "INVENTORY_RECOUNT_REQUESTED", sku: "SKU-PALLET-EUR-000123" },
  ]);
  const whole = join(dir.path, "whole.db");
  Deno.copyFileSync(db, whole);
  const archived = JSON.parse(await cli(["archive", "--db", db, "--before", "2026-06-01"]));
  assert.equal(archived.archived, 6);
  const folder = join(dir.path, "archive");
  for (const order of ["desc", "asc"]) {
    const args = ["query", "--format", "table", "--limit", "0", "--order", order];
    const expected = await cli([...args, "--db", whole]);
    assert.equal(expected.split("\n").length, 9); // header, 7 events, end
    assert.equal(await cli([...args, "--db", db, "--archives", folder]), expected, order);
  }
});

/** `html` as the text a reader sees: no tags, scripts or styles, spaces collapsed. */
function pageText(html: string): string {
  return html.replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/g, " ").replace(/<[^>]+>/g, " ")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&").replace(/\s+/g, " ");
}

/**
 * A site whose legacy events, and the start of a batch (its BATCH_START and one event), are
 * archived, the batch going on in the live log. Returns the database and the batch's run id.
 */
async function halfArchivedBatch(dir: string): Promise<{ db: string; runId: string }> {
  const db = await adoptedSite(dir, []);
  const runId = (await cli(["batch", "start", "Recount of aisle 4", "--db", db])).trim();
  await cli(["log", "COUNTED", "--sku", "SKU-4-01", "--run-id", runId, "--db", db]);
  await cli(["archive", "--keep", "0", "--db", db]);
  await cli(["log", "COUNTED", "--sku", "SKU-4-02", "--run-id", runId, "--db", db]);
  await cli(["batch", "end", runId, "aisle 4 done", "--db", db]);
  return { db, runId };
}

Deno.test("serve says which events are archived on the pages that count or list without them", async () => {
  await using dir = await tempDir();
  const { db, runId } = await halfArchivedBatch(dir.path);
  const child = cliCommand(["serve", "--port", "0", "--db", db]).spawn();
  try {
    const reader = child.stdout.getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      first += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    const base = new URL(first.trim());
    const page = async (path: string) => {
      const response = await fetch(new URL(path, base));
      assert.equal(response.status, 200, path);
      return pageText(await response.text());
    };
    const note = /events 1 to 8 are archived/i;
    // The overview counts 2 events: the log's whole life held 10.
    const overview = await page("/");
    assert.match(overview, /Events 2 /);
    assert.match(overview, note);
    // A page below the first live event is empty here, not in the site's history.
    assert.match(await page("/events?before_id=9"), note);
    assert.match(await page("/events?sku=SKU-1001"), note);
    // Past the archives, nothing is missing: no note.
    assert.doesNotMatch(await page("/events?after_id=8"), note);
    // The batch began among the archived events: its page shows its last 2 of 4.
    const batch = await page(`/batches/${encodeURIComponent(runId)}`);
    assert.match(batch, /Events 2 /);
    assert.match(batch, note);
    assert.match(batch, new RegExp(`batch show ${runId} --archives`));
    // The list of batches counts and times that batch from its last 2 events.
    assert.match(await page("/batches"), note);
    // A batch wholly archived was not "never" there.
    const legacy = await page("/batches/run_20260216_235959_0a1b2c3d");
    assert.doesNotMatch(legacy, /No event has this run id/);
    assert.match(legacy, note);
  } finally {
    child.kill("SIGTERM");
    await child.output();
  }
});

/** Every file of the bundle folder `path`, by name, as bytes. */
function bundleFiles(path: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const entry of Deno.readDirSync(path)) {
    files.set(entry.name, Deno.readFileSync(join(path, entry.name)));
  }
  return files;
}

Deno.test("bundle of a site that archives and syncs: what support needs, and no password", async () => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const central = await pg.createDatabase();
  await cli(["central", "init", "--central", central]);
  const db = await adoptedSite(dir.path, [{ operation: "PICKED", sku: "SKU-1001" }]);
  await cli(["sync", "--central", central, "--site", "WH-LIFE", "--db", db]);
  // Archived once the central store holds them; two events logged since the last sync.
  await cli(["archive", "--db", db, "--before", "2026-06-01"], { AUDIT_TRAIL_CENTRAL: central });
  await cli(["log", "PICKED", "--sku", "SKU-1002", "--db", db]);
  await cli(["log", "PICKED", "--sku", "SKU-1003", "--db", db]);
  const output = join(dir.path, "bundles");
  const path = (await cli(["bundle", "--db", db, "--output", output])).trim();

  const files = bundleFiles(path);
  const manifest = JSON.parse(new TextDecoder().decode(files.get("manifest.json")));
  assert.equal(manifest.archives.length, 1);
  assert.equal(manifest.archives[0].file, "audit_archive_1_6.db");
  const shown = central.replace(`:${encodeURIComponent(pg.password)}@`, ":***@");
  assert.notEqual(shown, central);
  assert.equal(manifest.central.site, "WH-LIFE");
  assert.equal(manifest.central.central, shown);
  assert.equal(manifest.central.acknowledged_audit_id, 7);
  assert.match(manifest.central.last_sync_at, /^\d{4}-\d{2}-\d{2}T/);

  const readme = new TextDecoder().decode(files.get("README.txt"));
  assert.match(
    readme,
    /\n {2}Events: +3 in the database; 6 more archived \(events 1 to 6, in 1 archive file, not in this bundle\)\r\n/,
  );
  assert.match(readme, /\n {2}Audit chain: +intact \(3 events after the archived ones;/);
  assert.match(
    readme,
    new RegExp(
      `\\n {2}Central store: +site WH-LIFE at ${
        shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      }, events up to 7 acknowledged \\(last sync \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} UTC\\); events 8 to 9 not sent yet\\r\\n`,
    ),
  );
  // The password is in no file, not even as bytes of the snapshot.
  const secret = new TextEncoder().encode(pg.password);
  for (const [name, bytes] of files) {
    assert.equal(indexOf(bytes, secret), -1, name);
  }
  const verified = await runCli(["bundle", "verify", path]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
});

/** Where `needle` starts in `bytes`, or -1. */
function indexOf(bytes: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("a database restored from a copy older than an archive run: verify and archive say so, and keep the file", async () => {
  await using dir = await tempDir();
  const db = await adoptedSite(dir.path, [{ operation: "PICKED", sku: "SKU-1001" }]);
  await cli(["archive", "--keep", "0", "--db", db]); // events 1 to 7
  const copy = join(dir.path, "copy.db");
  Deno.copyFileSync(db, copy);
  await cli(["log", "PICKED", "--sku", "SKU-1002", "--db", db]);
  await cli(["log", "PICKED", "--sku", "SKU-1003", "--db", db]);
  await cli(["archive", "--keep", "0", "--db", db]); // events 8 and 9, only in that file now
  const anchor = (await cli(["head", "--db", db])).trim();
  // The PC's disk is replaced, and the database restored from the copy; work goes on.
  Deno.copyFileSync(copy, db);
  await cli(["log", "COUNTED", "--sku", "SKU-2001", "--db", db]);
  await cli(["log", "COUNTED", "--sku", "SKU-2002", "--db", db]);
  const folder = join(dir.path, "archive");
  const newer = join(folder, "audit_archive_8_9.db");
  const kept = Deno.readFileSync(newer);

  const restored =
    /Archive audit_archive_8_9\.db holds events 8 to 9 of this audit log that the database no longer has as they were archived: most likely the database was restored from a copy older than that archive, which then holds the only copy of those events/;
  for (const extra of [[], ["--anchor", anchor]]) {
    const verify = await runCli(["verify", "--archives", folder, "--db", db, ...extra]);
    assert.equal(verify.code, 3, verify.stderr);
    assert.match(verify.stderr, restored);
    assert.equal(JSON.parse(verify.stdout).failure.file, "audit_archive_8_9.db");
  }
  // Archiving the new events 8 and 9 would need that file's name: refused, and the hint
  // keeps the file, the only copy of the events archived before the restore.
  const archive = await runCli(["archive", "--keep", "0", "--db", db]);
  assert.equal(archive.code, 1, archive.stderr);
  assert.match(archive.stderr, restored);
  assert.match(archive.stderr, /\nhint: Nothing was archived\. Keep that file[^\n]*\n$/);
  assert.doesNotMatch(archive.stderr, /move that file away/);
  assert.deepEqual(Deno.readFileSync(newer), kept);
  const left = JSON.parse(await cli(["query", "--db", db, "--after-id", "7", "--order", "asc"]));
  assert.deepEqual(left.map((e: { sku: string }) => e.sku), ["SKU-2001", "SKU-2002"]);
});

Deno.test("batch end of a batch whose events were archived while it ran: --archives finds it, once", async () => {
  await using dir = await tempDir();
  const db = await adoptedSite(dir.path, []);
  const folder = join(dir.path, "archive");
  const runId = (await cli(["batch", "start", "Nightly recount", "--db", db])).trim();
  await cli(["log", "COUNTED", "--sku", "SKU-1001", "--run-id", runId, "--db", db]);
  await cli(["archive", "--keep", "0", "--db", db]); // the batch's two events with the rest
  const head = (await cli(["head", "--db", db])).trim();

  const without = await runCli(["batch", "end", runId, "done", "--db", db]);
  assert.equal(without.code, 2, without.stderr);
  assert.equal(without.stdout, "");
  assert.equal(
    without.stderr,
    `audit-trail: error: No event in the database has run id "${runId}", and events 1 to 8 are archived\n` +
      "hint: Nothing was written. If the batch began before they were archived, add --archives DIR (archive/ beside the database, unless archived elsewhere) to end it.\n",
  );
  assert.equal((await cli(["head", "--db", db])).trim(), head);

  const ended = await cli(["batch", "end", runId, "done", "--archives", folder, "--db", db]);
  assert.equal(ended.trim(), "9");
  const report = JSON.parse(
    await cli(["batch", "show", runId, "--archives", folder, "--db", db]),
  );
  assert.deepEqual(report.events.map((e: { operation: string }) => e.operation), [
    "BATCH_START",
    "COUNTED",
    "BATCH_END",
  ]);
  // Once ended, whether the end is live or archived, it is not ended again.
  for (const archiveFirst of [false, true]) {
    if (archiveFirst) await cli(["archive", "--keep", "0", "--db", db]);
    const again = await runCli(["batch", "end", runId, "twice", "--archives", folder, "--db", db]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, new RegExp(`Batch "${runId}" has already ended \\(event 9\\)`));
  }
  // A mistyped id is no batch, archives or not.
  const typo = await runCli([
    "batch",
    "end",
    runId.replace(/.$/, (c) => c === "0" ? "1" : "0"),
    "--archives",
    folder,
    "--db",
    db,
  ]);
  assert.equal(typo.code, 2, typo.stderr);
  assert.match(typo.stderr, /^audit-trail: error: No batch with run id /);
});

Deno.test("archive into another folder than the earlier runs' is refused: verify and query read one folder", async () => {
  await using dir = await tempDir();
  // The first run by hand (archive/ beside the database), then the scheduled line's --to.
  const db = await adoptedSite(dir.path, []);
  await cli(["archive", "--before", "2026-02-16", "--db", db]); // events 1 and 2
  const scheduled = join(dir.path, "audit-archive");
  const before = Deno.readFileSync(db);
  for (const extra of [[], ["--dry-run"]]) {
    const moved = await runCli(["archive", "--keep", "0", "--to", scheduled, "--db", db, ...extra]);
    assert.equal(moved.code, 1, moved.stderr);
    assert.equal(moved.stdout, "");
    assert.equal(
      moved.stderr,
      `audit-trail: error: Archive audit_archive_1_2.db of an earlier run is not in "${scheduled}"\n` +
        "hint: Nothing was archived. Keep every archive file of this database in one folder, which verify --archives and query --archives read: move the earlier files there first, or give --to the folder that holds them.\n",
    );
  }
  assert.deepEqual(Deno.readFileSync(db), before);
  // Once moved, the runs go on there, and one folder proves the whole history.
  Deno.mkdirSync(scheduled);
  Deno.renameSync(
    join(dir.path, "archive", "audit_archive_1_2.db"),
    join(scheduled, "audit_archive_1_2.db"),
  );
  await cli(["archive", "--keep", "0", "--to", scheduled, "--db", db]);
  const verify = JSON.parse(await cli(["verify", "--archives", scheduled, "--db", db]));
  assert.deepEqual(
    verify.archives.map((a: { file: string }) => a.file),
    ["audit_archive_1_2.db", "audit_archive_3_6.db"],
  );
});

Deno.test("verify --anchor of a database restored from a copy older than the anchor names the restore as a cause", async () => {
  await using dir = await tempDir();
  const db = await adoptedSite(dir.path, [{ operation: "PICKED", sku: "SKU-1001" }]);
  const copy = join(dir.path, "copy.db");
  Deno.copyFileSync(db, copy);
  await cli(["log", "PICKED", "--sku", "SKU-1002", "--db", db]);
  const anchor = (await cli(["head", "--db", db])).trim(); // event 8
  Deno.copyFileSync(copy, db);
  const restore = "or the database was restored from a copy older than the anchor";
  // Right after the restore the log ends before the anchor; once work went on, event 8 is
  // another event.
  for (
    const [kind, message] of [
      [
        "deleted",
        /^Event 8, the anchor, was deleted: the log now ends at event 7, so the newest events are gone \(deleted, or the database was restored from a copy older than the anchor\)$/,
      ],
      [
        "modified",
        /^Event 8 does not match the anchor: it or an event before it was changed, and the chain recomputed to hide it, or the database was restored from a copy older than the anchor and events were logged since$/,
      ],
    ] as const
  ) {
    if (kind === "modified") await cli(["log", "COUNTED", "--sku", "SKU-2001", "--db", db]);
    const verify = await runCli(["verify", "--anchor", anchor, "--db", db]);
    assert.equal(verify.code, 3, verify.stderr);
    const failure = JSON.parse(verify.stdout).failure;
    assert.equal(failure.kind, kind);
    assert.match(failure.message, message);
    assert.ok(verify.stderr.includes(restore), verify.stderr);
  }
});

Deno.test("a bundle whose backup was masked does not tell support to restore it as the database", async () => {
  await using dir = await tempDir();
  const db = await adoptedSite(dir.path, []);
  Deno.writeTextFileSync(
    join(dir.path, "settings.json"),
    JSON.stringify({ smtp_password: "Hunter2-Secret-99" }),
  );
  await cli(["log", "LOGIN_FAILED", "--details", "typed Hunter2-Secret-99 as the SKU", "--db", db]);
  // The inventory application's own users, whose password hashes every bundle masks.
  const raw = new DatabaseSync(db);
  raw.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, password_hash TEXT)");
  raw.exec("INSERT INTO users (name, password_hash) VALUES ('ana', 'pbkdf2$ab12')");
  raw.close();
  const path = (await cli(["bundle", "--db", db, "--output", join(dir.path, "b")])).trim();
  const readme = Deno.readTextFileSync(join(path, "README.txt"));
  const howTo = readme.slice(readme.indexOf("HOW TO USE IT"));
  assert.ok(howTo.split("\r\n").every((line) => line.length <= 88), howTo);
  const text = howTo.replace(/\r\n +/g, " ");
  assert.doesNotMatch(text, /Restore the backup: stop the inventory application/);
  assert.match(
    text,
    /Restore the backup only when no other copy of the database is left: values were masked in it \(SECRETS above\), so event 7 no longer matches its seal and audit-trail verify of it reports tampering; and the application's credentials were masked in it \(APPLICATION CREDENTIALS above\), so its passwords, tokens and keys are not the real ones\. To restore it anyway: stop the inventory application,/,
  );
  // What the warning is about: the masked copy in the database's place fails verify.
  Deno.copyFileSync(join(path, "database_backup.db"), db);
  const verify = await runCli(["verify", "--db", db]);
  assert.equal(verify.code, 3, verify.stderr);
  assert.equal(JSON.parse(verify.stdout).failure.audit_id, 7);
});

Deno.test("a database restored from a copy older than its first archive run: the archive is named as its own history", async () => {
  await using dir = await tempDir();
  const db = await adoptedSite(dir.path, []);
  const copy = join(dir.path, "copy.db");
  Deno.copyFileSync(db, copy); // events 1 to 6, nothing archived yet
  await cli(["log", "PICKED", "--sku", "SKU-1002", "--db", db]);
  await cli(["archive", "--keep", "0", "--db", db]); // events 1 to 7
  Deno.copyFileSync(copy, db);
  await cli(["log", "COUNTED", "--sku", "SKU-2001", "--db", db]); // another event 7
  const file = join(dir.path, "archive", "audit_archive_1_7.db");
  const kept = Deno.readFileSync(file);
  const restored =
    /Archive audit_archive_1_7\.db holds events 1 to 7 of this audit log that the database no longer has as they were archived: most likely the database was restored from a copy older than that archive/;
  const verify = await runCli(["verify", "--archives", join(dir.path, "archive"), "--db", db]);
  assert.equal(verify.code, 3, verify.stderr);
  assert.match(verify.stderr, restored);
  const archive = await runCli(["archive", "--keep", "0", "--db", db]);
  assert.equal(archive.code, 1, archive.stderr);
  assert.match(archive.stderr, restored);
  assert.match(archive.stderr, /\nhint: Nothing was archived\. Keep that file[^\n]*\n$/);
  assert.deepEqual(Deno.readFileSync(file), kept);
  assert.equal(JSON.parse(await cli(["query", "--db", db, "--limit", "0"])).length, 7);
});

Deno.test("report: the recent batches say when one began among the archived events", async () => {
  await using dir = await tempDir();
  const { db } = await halfArchivedBatch(dir.path);
  const output = join(dir.path, "report.html");
  await cli(["report", "--db", db, "--output", output]);
  const text = pageText(Deno.readTextFileSync(output));
  assert.match(
    text,
    /Recent batches Events 1 to 8 are archived: they are not counted or shown here/,
  );
  // Without archives, nothing to say.
  const plain = await adoptedSite(dir.path, [{ operation: "PICKED" }], "plain.db");
  await cli(["batch", "start", "Recount", "--db", plain]);
  await cli(["report", "--db", plain, "--output", output]);
  assert.doesNotMatch(pageText(Deno.readTextFileSync(output)), /are archived/);
});

Deno.test("sync of a site archived before its first sync says once that the central store starts after those events", async () => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const central = await pg.createDatabase();
  await cli(["central", "init", "--central", central]);
  const keys = [
    "site",
    "central",
    "sent",
    "first_audit_id",
    "last_audit_id",
    "central_last_audit_id",
    "seconds",
  ];
  const sync = async (db: string, site: string) => {
    const result = await runCli(["sync", "--central", central, "--site", site, "--db", db]);
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(printed), keys);
    return { printed, stderr: result.stderr };
  };

  const archived = await adoptedSite(dir.path, [{ operation: "PICKED", sku: "SKU-1001" }]);
  await cli(["archive", "--db", archived, "--before", "2026-06-01"]);
  const first = await sync(archived, "WH-ARCH");
  assert.equal(
    first.stderr,
    "audit-trail: note: events 1 to 6 were archived before this site's first sync: the central store starts after them and will never hold them; the archive files keep them\n",
  );
  assert.equal(first.printed.first_audit_id, 7);
  await cli(["log", "PICKED", "--sku", "SKU-1002", "--db", archived]);
  const next = await sync(archived, "WH-ARCH");
  assert.equal(next.stderr, "");
  assert.equal(next.printed.sent, 1);

  // One event archived: was "events 1 to 1 were archived … keep them".
  const lone = join(dir.path, "lone.db");
  await cli(["migrate", "--db", lone]);
  await cli(["log", "PICKED", "--db", lone]);
  await cli(["archive", "--db", lone, "--keep", "0"]);
  await cli(["log", "PICKED", "--db", lone]);
  const one = await sync(lone, "WH-ONE");
  assert.equal(
    one.stderr,
    "audit-trail: note: event 1 was archived before this site's first sync: the central store starts after it and will never hold it; its archive file keeps it\n",
  );
  assert.equal(one.printed.first_audit_id, 2);

  const never = await adoptedSite(dir.path, [], "never.db");
  const plain = await sync(never, "WH-PLAIN");
  assert.equal(plain.stderr, "");
  assert.equal(plain.printed.sent, 6);
});

Deno.test("one archived event is named as one: batch end's refusal and the report's note", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "one.db");
  await cli(["migrate", "--db", db]);
  const runId = (await cli(["batch", "start", "Recount", "--db", db])).trim();
  await cli(["archive", "--keep", "0", "--db", db]); // the batch's start alone
  // Was "and events 1 to 1 are archived", "before they were archived".
  const without = await runCli(["batch", "end", runId, "--db", db]);
  assert.equal(without.code, 2, without.stderr);
  assert.equal(
    without.stderr,
    `audit-trail: error: No event in the database has run id "${runId}", and event 1 is archived\n` +
      "hint: Nothing was written. If the batch began before it was archived, add --archives DIR (archive/ beside the database, unless archived elsewhere) to end it.\n",
  );
  await cli(["log", "PICKED", "--run-id", runId, "--db", db]);
  const output = join(dir.path, "report.html");
  await cli(["report", "--db", db, "--output", output]);
  assert.match(
    pageText(Deno.readTextFileSync(output)),
    /Recent batches Event 1 is archived: it is not counted or shown here/,
  );
});
