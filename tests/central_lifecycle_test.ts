/**
 * The central store over a site's life, through the real CLI against a real PostgreSQL: a PC's
 * database restored from a backup, two PCs given one site name, a central store restored
 * from an older backup under a site that archived since. Each divergence says what most
 * likely happened; only a change to what the central store had acknowledged is tampering.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint, migratedDb, runCli, tempDir } from "./helpers.ts";
import { openDatabase, syncToCentral } from "../mod.ts";
import { cliJson, logEvents, startPostgres, type TestPostgres } from "./pg_support.ts";

async function centralCount(pg: TestPostgres, url: string, site: string): Promise<string> {
  const name = new URL(url).pathname.slice(1);
  return (await pg.psql(
    `SELECT count(*) || ' ' || coalesce(max(audit_id), 0) FROM audit_trail_events WHERE site = '${site}'`,
    name,
  )).trim();
}

async function freshCentral(pg: TestPostgres): Promise<string> {
  const url = await pg.createDatabase();
  await cliJson(["central", "init", "--central", url]);
  return url;
}

Deno.test("central store over a site's life: restores and mix-ups are told apart from tampering", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();

  await t.step(
    "a PC's database restored from a backup older than its last sync: exit 3, naming the likely cause",
    async () => {
      const url = await freshCentral(pg);
      const db = await migratedDb(dir.path, "restored.db");
      await logEvents(db, 30);
      await cliJson(["sync", "--central", url, "--site", "WH-R", "--db", db]);
      const backup = join(dir.path, "restored-backup.db");
      await Deno.copyFile(db, backup);
      await logEvents(db, 20, "before the restore");
      await cliJson(["sync", "--central", url, "--db", db]);
      await Deno.copyFile(backup, db);
      await logEvents(db, 5, "after the restore");
      const before = await fingerprint(db);
      const result = await runCli(["sync", "--central", url, "--db", db]);
      assert.equal(result.code, 3, result.stderr);
      assert.equal(result.stdout, "");
      assert.match(
        result.stderr,
        /^audit-trail: error: Site WH-R in the central store holds events this database did not send \(up to event 50\): its event 31 differs from this database's, which had events up to 30 acknowledged\nhint: Most likely this database was restored from a backup older than its last sync, or another PC also syncs as WH-R/,
      );
      assert.doesNotMatch(result.stderr, /changed after it was sent/);
      assert.equal(await centralCount(pg, url, "WH-R"), "50 50");
      assert.equal(await fingerprint(db), before);
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
    },
  );

  await t.step(
    "a second PC syncing under a site name already in use: exit 3, told to use its own name",
    async () => {
      const url = await freshCentral(pg);
      const first = await migratedDb(dir.path, "first-pc.db");
      const second = await migratedDb(dir.path, "second-pc.db");
      await logEvents(first, 20, "first");
      await logEvents(second, 30, "second");
      {
        // The first PC is another machine: the central store records its name.
        using local = openDatabase(first);
        await syncToCentral(local, { central: url, site: "WH-S", hostname: "wh-s-pc-1" });
      }
      const result = await runCli(["sync", "--central", url, "--site", "WH-S", "--db", second]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(
        result.stderr,
        /^audit-trail: error: Site WH-S in the central store holds events this database never sent \(up to event 20, last sent from "wh-s-pc-1"\): its event 1 differs from this database's\nhint: Most likely another PC already syncs as WH-S: each PC needs a site name of its own/,
      );
      assert.equal(await centralCount(pg, url, "WH-S"), "20 20");
      // Nothing was recorded: the second PC syncs under a name of its own.
      const own = await cliJson(["sync", "--central", url, "--site", "WH-S2", "--db", second]);
      assert.equal(own.sent, 30);
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
    },
  );

  await t.step(
    "a database restored from a backup older than its first sync: not to be synced under a new name",
    async () => {
      const url = await freshCentral(pg);
      const db = await migratedDb(dir.path, "before-first.db");
      await logEvents(db, 10);
      const backup = join(dir.path, "before-first-backup.db");
      await Deno.copyFile(db, backup);
      await logEvents(db, 5, "sent");
      await cliJson(["sync", "--central", url, "--site", "WH-B", "--db", db]);
      await Deno.copyFile(backup, db);
      await logEvents(db, 3, "after the restore");
      const result = await runCli(["sync", "--central", url, "--site", "WH-B", "--db", db]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(
        result.stderr,
        /^audit-trail: error: Site WH-B in the central store holds events this database never sent \(up to event 15\): it has the same events up to 10, then its event 11 differs from this database's\nhint: Most likely this database is a copy of WH-B's, restored from a backup older than its first sync or copied from its PC; syncing it under another name would store those events twice/,
      );
      assert.equal(await centralCount(pg, url, "WH-B"), "15 15");
    },
  );

  await t.step(
    "a central store behind events this PC archived since: they are sent from the archive files",
    async () => {
      const ahead = await freshCentral(pg);
      const db = await migratedDb(dir.path, "archiving.db");
      await logEvents(db, 40);
      // The central store as its older backup holds it: the site's first 40 events.
      const older = join(dir.path, "archiving-at-40.db");
      await Deno.copyFile(db, older);
      const restored = await freshCentral(pg);
      await cliJson(["sync", "--central", restored, "--site", "WH-A", "--db", older]);
      await logEvents(db, 30, "later");
      await cliJson(["sync", "--central", ahead, "--site", "WH-A", "--db", db]);
      const archives = join(dir.path, "archives");
      await cliJson(["archive", "--keep", "0", "--to", archives, "--db", db]);
      await logEvents(db, 3, "after the archive");
      const before = await fingerprint(db);
      // Not in the default folder: named, with what to do, and nothing sent.
      const behind = await runCli(["sync", "--central", restored, "--db", db]);
      assert.equal(behind.code, 1, behind.stderr);
      assert.equal(behind.stdout, "");
      assert.match(
        behind.stderr,
        /^audit-trail: error: The central store holds site WH-A only up to event 40, but events 41 to 70 are archived on this PC: it had acknowledged events up to 70, so it was most likely restored from an older backup\nhint: Nothing was sent\. They are sent from this PC's archive files, which could not be read \(.*audit_archive_1_70\.db.*\): give the folder/,
      );
      assert.equal(await centralCount(pg, restored, "WH-A"), "40 40");
      assert.equal(await fingerprint(db), before);
      const sent = await cliJson([
        "sync",
        "--central",
        restored,
        "--archives",
        archives,
        "--db",
        db,
      ]);
      assert.deepEqual([sent.sent, sent.first_audit_id, sent.last_audit_id], [33, 41, 73]);
      assert.equal(await centralCount(pg, restored, "WH-A"), "73 73");
      assert.equal((await runCli(["verify", "--central", restored])).code, 0);
      // A central store restored from before the site's first sync gets every event again,
      // not only those after the archives.
      const empty = await freshCentral(pg);
      const none = await runCli(["sync", "--central", empty, "--db", db]);
      assert.equal(none.code, 1, none.stderr);
      assert.match(none.stderr, /holds no event of site WH-A, but events 1 to 70 are archived/);
      assert.equal(await pg.psql("SELECT count(*) FROM audit_trail_sites", dbName(empty)), "0\n");
      const all = await cliJson(["sync", "--central", empty, "--archives", archives, "--db", db]);
      assert.deepEqual([all.sent, all.first_audit_id, all.last_audit_id], [73, 1, 73]);
      assert.equal((await runCli(["verify", "--central", empty])).code, 0);
    },
  );

  await t.step(
    "events archived by force before they reached the central store are sent from the archive",
    async () => {
      const url = await freshCentral(pg);
      const db = await migratedDb(dir.path, "forced.db");
      await logEvents(db, 20);
      await cliJson(["sync", "--central", url, "--site", "WH-F", "--db", db]);
      await logEvents(db, 10, "unsent");
      await cliJson(["archive", "--keep", "0", "--force", "--to", join(dir.path, "x"), "--db", db]);
      await Deno.rename(join(dir.path, "x"), join(dir.path, "archive"));
      await logEvents(db, 2, "live");
      const moved = await runCli(["sync", "--central", url, "--db", db]);
      assert.equal(moved.code, 0, moved.stderr);
      assert.deepEqual(
        [JSON.parse(moved.stdout).sent, JSON.parse(moved.stdout).first_audit_id],
        [12, 21],
      );
      assert.equal(await centralCount(pg, url, "WH-F"), "32 32");
    },
  );
});

function dbName(url: string): string {
  return new URL(url).pathname.slice(1);
}
