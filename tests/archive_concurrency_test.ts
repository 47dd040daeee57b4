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
      child.kill(signal);
      const output = await collectOutput(child);
      assert.deepEqual(output, {
        code,
        stdout: "",
        stderr:
          "audit-trail: interrupted: nothing was archived, and the unfinished archive file was removed\n",
      });
      assert.deepEqual(filesIn(folder), [".audit_trail_archive.lock"], signal);
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

/** Resolves once an archive file is being written in `folder` (or `child` has exited). */
async function untilWriting(folder: string, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  while (!exited && !filesIn(folder).some((name) => name.endsWith(".tmp"))) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
