/**
 * `archive` meeting other commands and signals: a first sync that records its central store
 * while the archive file is being written; Ctrl-C and SIGTERM while it is written.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  cliCommand,
  collectOutput,
  lockWaitUnobservable,
  runCli,
  sqliteRows,
  tempDir,
  untilWaitingForLock,
  whileWriteLockHeld,
} from "./helpers.ts";
import { datedDatabase, filesIn, rowsOf } from "./archive_fixtures.ts";
import { assertCleanError } from "./reliability/_support.ts";

Deno.test({
  name: "archive keeps the events a central store recorded during its run has not acknowledged yet",
  ignore: (await lockWaitUnobservable()) !== null,
  async fn() {
    await using dir = await tempDir();
    // 240 events before 2024-03-01 (one every 6 hours from 2024-01-01).
    const db = datedDatabase(dir.path, 300);
    const folder = join(dir.path, "archive");
    // No central store is set up when the archive starts; the write lock is held so that the
    // archive writes its file, then waits to commit.
    const holder = new DatabaseSync(db);
    holder.exec("BEGIN IMMEDIATE");
    const child = cliCommand(["archive", "--before", "2024-03-01", "--db", db]).spawn();
    await untilWaitingForLock(child);
    // Meanwhile the first sync of this database is accepted: the central store holds events
    // 1 to 100, and the database records so (as sync does, in a transaction of its own).
    holder.exec(
      `INSERT INTO audit_trail_central (id, site, central, acknowledged_audit_id)
       VALUES (1, 'WH-1', 'postgres://central.example/audit', 100)`,
    );
    holder.exec("COMMIT");
    holder.close();

    const refused = await collectOutput(child);
    assertCleanError(
      refused,
      1,
      /Events 101 to 240 have not reached the central store yet \(it has acknowledged events up to 100\)/,
    );
    assert.match(refused.stderr, /\nhint: Nothing was archived\. Run audit-trail sync first/);
    assert.equal(rowsOf(db, "audit_log").length, 300);
    assert.deepEqual(rowsOf(db, "audit_trail_checkpoints"), []);
    assert.deepEqual(filesIn(folder), [".audit_trail_archive.lock"]);

    // What the central store holds can go.
    const archived = await runCli(["archive", "--before", "2024-01-26", "--db", db]);
    assert.equal(archived.code, 0, archived.stderr);
    assert.equal(JSON.parse(archived.stdout).last_audit_id, 100);
    const verify = await runCli(["verify", "--archives", folder, "--db", db]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).events_checked, 300);
  },
});

Deno.test({
  name:
    "archive stopped by Ctrl-C or SIGTERM while it writes: exit 130 or 143, one line, no temporary file, nothing archived",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    // 100,000 events a minute apart from 2024-01-01: writing their archive takes a while.
    const start = Date.parse("2024-01-01T00:00:00Z");
    const times = Array.from({ length: 100_000 }, (_, i) => new Date(start + i * 60_000));
    const base = datedDatabase(dir.path, times.map((t) => t.toISOString()), "base.db");
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const db = join(dir.path, `${signal}.db`);
      await Deno.copyFile(base, db);
      const folder = join(dir.path, signal);
      const child = cliCommand(["archive", "--before", "2025-01-01", "--db", db, "--to", folder])
        .spawn();
      await untilWriting(folder, child);
      await stopWithNothingArchived(child, signal, code, folder);
      assert.equal(sqliteRows(db, "SELECT count(*) AS n FROM audit_log")[0].n, 100_000);
      assert.deepEqual(rowsOf(db, "audit_trail_checkpoints"), []);
    }
    // The next run archives them all.
    const db = join(dir.path, "SIGTERM.db");
    const folder = join(dir.path, "SIGTERM");
    const again = await runCli(["archive", "--before", "2025-01-01", "--db", db, "--to", folder]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).archived, 100_000);
    const verify = await runCli(["verify", "--archives", folder, "--db", db]);
    assert.equal(verify.code, 0, verify.stderr);
  },
});

/**
 * Sends `signal` to an archive run: it ends with `code` and one line, leaving no temporary file
 * in `folder`.
 */
async function stopWithNothingArchived(
  child: Deno.ChildProcess,
  signal: Deno.Signal,
  code: number,
  folder: string,
): Promise<void> {
  child.kill(signal);
  assert.deepEqual(await collectOutput(child), {
    code,
    stdout: "",
    stderr:
      "audit-trail: interrupted: nothing was archived, and the unfinished archive file was removed\n",
  }, signal);
  assert.deepEqual(filesIn(folder), [".audit_trail_archive.lock"], signal);
}

/** Resolves once an archive file is being written in `folder` (or `child` has exited). */
async function untilWriting(folder: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  while (!exited && !filesIn(folder).some((name) => name.endsWith(".tmp"))) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

Deno.test({
  name:
    "archive stopped by Ctrl-C or SIGTERM while it waits for the write lock: exit 130 or 143, nothing archived",
  ignore: (await lockWaitUnobservable()) !== null,
  async fn() {
    await using dir = await tempDir();
    const db = datedDatabase(dir.path, 300);
    const folder = join(dir.path, "archive");
    // Another program holds the write lock, and keeps it: the archive writes its file, then
    // waits to commit.
    await whileWriteLockHeld(db, async () => {
      for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
        const child = cliCommand(["archive", "--before", "2024-03-01", "--db", db]).spawn();
        await untilWaitingForLock(child);
        await stopWithNothingArchived(child, signal, code, folder);
      }
    });
    assert.equal(rowsOf(db, "audit_log").length, 300);
    assert.deepEqual(rowsOf(db, "audit_trail_checkpoints"), []);
    const again = await runCli(["archive", "--before", "2024-03-01", "--db", db]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).archived, 240);
  },
});

Deno.test({
  name:
    "archive stopped while it gives the space back (VACUUM): the events are archived, exit 130, the next run gives it back",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    const db = datedDatabase(dir.path, 300);
    const folder = join(dir.path, "archive");
    // An application table of 400 MB: the first archive's VACUUM rewrites it all.
    const app = new DatabaseSync(db);
    app.exec("CREATE TABLE stock_photos (id INTEGER PRIMARY KEY, image BLOB)");
    app.exec(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) INSERT INTO stock_photos (image) SELECT randomblob(1000000) FROM n",
    );
    app.close();
    const child = cliCommand(["archive", "--before", "2024-03-01", "--db", db]).spawn();
    // The checkpoint is committed: what follows is the VACUUM.
    let exited = false;
    child.status.then(() => exited = true);
    while (!exited && checkpoints(db) === 0) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill("SIGINT");
    const output = await collectOutput(child);
    assert.equal(output.code, 130, output.stderr);
    assert.equal(JSON.parse(output.stdout).archived, 240);
    assert.equal(
      output.stderr,
      "audit-trail: warning: The events were archived; giving their space back to the disk was stopped, and the next archive run gives it back.\n",
    );
    assert.equal(sqliteRows(db, "PRAGMA integrity_check")[0].integrity_check, "ok");
    assert.equal(sqliteRows(db, "PRAGMA auto_vacuum")[0].auto_vacuum, 0);
    const verify = await runCli(["verify", "--archives", folder, "--db", db]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).events_checked, 300);

    // Nothing more to archive: the run gives the space back.
    const again = await runCli(["archive", "--before", "2024-03-01", "--db", db]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).archived, 0);
    assert.equal(sqliteRows(db, "PRAGMA auto_vacuum")[0].auto_vacuum, 2);
    assert.equal(sqliteRows(db, "PRAGMA freelist_count")[0].freelist_count, 0);
  },
});

function checkpoints(db: string): number {
  return sqliteRows(db, "SELECT count(*) AS n FROM audit_trail_checkpoints")[0].n as number;
}
