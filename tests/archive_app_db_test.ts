import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { runCli, tempDir } from "./helpers.ts";
import { datedDatabase, filesIn, rowsOf } from "./archive_fixtures.ts";
import { assertCleanError } from "./reliability/_support.ts";

// audit-trail lives inside the inventory application's own database: archiving its events
// must leave the application's tables, rows and settings as the application keeps them.

/** Runs `sql` on the file as the application would, with its foreign keys enforced. */
function asApplication(path: string, sql: string): void {
  const app = new DatabaseSync(path);
  try {
    app.exec("PRAGMA foreign_keys = ON");
    app.exec(sql);
  } finally {
    app.close();
  }
}

for (const action of ["CASCADE", "SET NULL", "NO ACTION"]) {
  Deno.test(`archive refuses events that application rows refer to (ON DELETE ${action}), changing nothing`, async () => {
    await using dir = await tempDir();
    const db = datedDatabase(dir.path, 40);
    asApplication(
      db,
      `CREATE TABLE order_notes (
         id INTEGER PRIMARY KEY,
         audit_id INTEGER REFERENCES audit_log(audit_id) ON DELETE ${action},
         note TEXT);
       INSERT INTO order_notes (audit_id, note) VALUES (3, 'picked'), (5, 'packed'), (NULL, 'none');`,
    );
    const notes = rowsOf(db, "order_notes");
    const events = rowsOf(db, "audit_log");
    const result = await runCli(["archive", "--before", "2024-01-08", "--db", db]);
    assertCleanError(result, 1, /event 3 .*order_notes/);
    assert.match(
      result.stderr,
      /hint: Nothing was archived\. Archive only the events before it \(--before 2024-01-01T12:00:00\.000Z\)/,
    );
    assert.deepEqual(rowsOf(db, "order_notes"), notes);
    assert.deepEqual(rowsOf(db, "audit_log"), events);
    assert.deepEqual(filesIn(join(dir.path, "archive")), []);
    // Events after the last one referred to are archived as usual.
    const later = await runCli(["archive", "--before", "2024-01-01T12:00:00Z", "--db", db]);
    assert.equal(later.code, 0, later.stderr);
    assert.equal(JSON.parse(later.stdout).archived, 2);
    assert.deepEqual(rowsOf(db, "order_notes"), notes);
  });
}

Deno.test("archive keeps the application's auto_vacuum = FULL and the rowids of its tables", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  // auto_vacuum can only be chosen before the first table is made.
  asApplication(path, "PRAGMA auto_vacuum = FULL; CREATE TABLE first (x)");
  const db = datedDatabase(dir.path, 200);
  // A table without an INTEGER PRIMARY KEY, with gaps in its rowids: VACUUM would renumber it.
  asApplication(
    db,
    `CREATE TABLE bins (code TEXT, note TEXT);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
     INSERT INTO bins SELECT 'B' || i, printf('%.300c', 'y') FROM n;
     DELETE FROM bins WHERE rowid % 3 = 0;`,
  );
  const bins = new DatabaseSync(db, { readOnly: true });
  const before = bins.prepare("SELECT rowid, code FROM bins ORDER BY rowid").all();
  bins.close();
  const result = await runCli(["archive", "--before", "2024-02-01", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).archived, 124);
  const after = new DatabaseSync(db, { readOnly: true });
  try {
    assert.deepEqual(after.prepare("SELECT rowid, code FROM bins ORDER BY rowid").all(), before);
    assert.equal(after.prepare("PRAGMA auto_vacuum").get()!.auto_vacuum, 1);
    // FULL gives freed pages back at each commit.
    assert.equal(after.prepare("PRAGMA freelist_count").get()!.freelist_count, 0);
  } finally {
    after.close();
  }
});

Deno.test("archive leaves the space for new events rather than renumber an application table", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 200);
  asApplication(
    db,
    `PRAGMA user_version = 7;
     CREATE TABLE bins (code TEXT);
     INSERT INTO bins VALUES ('B1'), ('B2'), ('B3'), ('B4');
     DELETE FROM bins WHERE code = 'B2';`,
  );
  const result = await runCli(["archive", "--before", "2024-02-01", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).archived, 124);
  assert.match(result.stderr, /the table "bins" \(it has no INTEGER PRIMARY KEY\)/);
  const after = new DatabaseSync(db, { readOnly: true });
  try {
    const bins = after.prepare("SELECT rowid, code FROM bins ORDER BY rowid").all();
    assert.deepEqual(bins.map((row) => ({ ...row })), [
      { rowid: 1, code: "B1" },
      { rowid: 3, code: "B3" },
      { rowid: 4, code: "B4" },
    ]);
    assert.equal(after.prepare("PRAGMA auto_vacuum").get()!.auto_vacuum, 0);
    assert.equal(after.prepare("PRAGMA user_version").get()!.user_version, 7);
  } finally {
    after.close();
  }
  const verify = await runCli(["verify", "--db", db, "--archives", join(dir.path, "archive")]);
  assert.equal(verify.code, 0, verify.stderr);
});

Deno.test("archive copies an audit_log that declares a foreign key to an application table", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  asApplication(
    path,
    `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
     INSERT INTO users VALUES (1, 'alice');
     CREATE TABLE audit_log (
       audit_id INTEGER PRIMARY KEY, timestamp TEXT NOT NULL, operation TEXT NOT NULL,
       sku TEXT, details TEXT NOT NULL DEFAULT '', user TEXT NOT NULL DEFAULT 'system',
       user_id INTEGER REFERENCES users(id));
     INSERT INTO audit_log (timestamp, operation, user_id)
       VALUES ('2024-01-01 08:00:00', 'ORDER_CONFIRMED', 1), ('2024-01-02 08:00:00', 'STOCK_COUNTED', NULL);`,
  );
  assert.equal((await runCli(["migrate", "--db", path])).code, 0);
  const events = rowsOf(path, "audit_log");
  const result = await runCli(["archive", "--before", "2024-02-01", "--db", path]);
  assert.equal(result.code, 0, result.stderr);
  const archives = join(dir.path, "archive");
  assert.deepEqual(rowsOf(join(archives, "audit_archive_1_2.db"), "audit_log"), events);
  const verify = await runCli(["verify", "--db", path, "--archives", archives]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.deepEqual(rowsOf(path, "users"), [{ id: 1, name: "alice" }]);
});

Deno.test("archive says the oldest events stay when the application refers to the first of them", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 10);
  asApplication(
    db,
    `CREATE TABLE order_notes (audit_id INTEGER REFERENCES audit_log(audit_id), note TEXT);
     INSERT INTO order_notes VALUES (1, 'first');`,
  );
  const result = await runCli(["archive", "--keep", "0", "--db", db, "--dry-run"]);
  assertCleanError(result, 1, /^audit-trail: error: Cannot archive events 1 to 10: event 1 is/);
  assert.match(result.stderr, /\nhint: Nothing was archived\. The oldest events stay until/);
});

Deno.test("archive refuses an event the application went on writing without a seal, as tampering, changing nothing", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  // The earlier audit module, still running beside audit-trail, inserts the way it always did.
  asApplication(
    db,
    "INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES ('2024-01-20 08:00:00', 'SKU_UPDATED', 'SKU-1', '', 'admin')",
  );
  const events = rowsOf(db, "audit_log");
  const result = await runCli(["archive", "--before", "2024-03-01", "--db", db]);
  assertCleanError(result, 3, /Tampering found: Event 41 was inserted: it has no seal/);
  assert.match(result.stderr, /hint: Nothing was archived\. Run audit-trail verify/);
  assert.deepEqual(rowsOf(db, "audit_log"), events);
  assert.deepEqual(rowsOf(db, "audit_trail_checkpoints"), []);
  assert.deepEqual(filesIn(join(dir.path, "archive")), []);
});
