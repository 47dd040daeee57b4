import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  BUSY_TIMEOUT_MS,
  DatabaseBusyError,
  DatabaseCorruptError,
  DatabaseNotFoundError,
  logAuditEvent,
  logAuditEvents,
  openDatabase,
  requireCurrentSchema,
  writeTransaction,
} from "../mod.ts";
import { fingerprint, sqliteRows, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

Deno.test("openDatabase() on a missing path fails and creates neither file nor folder", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "data", "app.db");
  assert.throws(
    () => openDatabase(path),
    (e) =>
      e instanceof DatabaseNotFoundError && e.path === path && /audit-trail migrate/.test(e.hint!),
  );
  assert.equal(existsSync(join(dir.path, "data")), false);
});

Deno.test("openDatabase({ create }) makes the file and its folders", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "a", "b", "app.db");
  openDatabase(path, { create: true }).close();
  assert.ok(existsSync(path));
});

Deno.test("openDatabase() refuses a folder", async () => {
  await using dir = await tempDir();
  assert.throws(
    () => openDatabase(dir.path, { create: true }),
    (e) => e instanceof DatabaseCorruptError && /it is a folder/.test(e.message),
  );
});

Deno.test("a file that is not SQLite is reported as unreadable and left byte-for-byte untouched", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "notes.db");
  await Deno.writeTextFile(path, "Inventory notes\n".repeat(200));
  const before = await fingerprint(path);
  assert.throws(() => {
    using db = openDatabase(path);
    requireCurrentSchema(db);
  }, DatabaseCorruptError);
  assert.equal(await fingerprint(path), before);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["notes.db"]);
});

Deno.test("connections wait 10 s for locks and commit with synchronous=FULL in WAL mode", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  assert.equal(BUSY_TIMEOUT_MS, 10_000);
  assert.equal(db.sqlite.prepare("PRAGMA busy_timeout").get()!.timeout, 10_000);
  assert.equal(db.sqlite.prepare("PRAGMA synchronous").get()!.synchronous, 2);
  assert.equal(db.sqlite.prepare("PRAGMA journal_mode").get()!.journal_mode, "wal");
});

Deno.test("a writer that cannot get the lock in time fails with DatabaseBusyError and writes nothing", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  openMigrated(dir.path).close();
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE");
  try {
    using db = openDatabase(path, { busyTimeoutMs: 150 });
    const started = performance.now();
    assert.throws(() => logAuditEvent(db, { operation: "PICKED" }), DatabaseBusyError);
    assert.ok(performance.now() - started >= 140, "waited for the lock first");
    await assert.rejects(
      logAuditEvents(db, [{ operation: "A" }, { operation: "B" }]),
      DatabaseBusyError,
    );
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
  assert.equal(sqliteRows(path, "SELECT count(*) AS n FROM audit_log")[0].n, 0);
});

Deno.test("writeTransaction() takes the write lock up front and rolls back everything on failure", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const other = new DatabaseSync(db.path);
  other.exec("PRAGMA busy_timeout = 0");
  try {
    writeTransaction(db, () => {
      // BEGIN IMMEDIATE: another writer is locked out before anything was written.
      assert.throws(() => other.exec("BEGIN IMMEDIATE"), /locked|busy/);
    });
  } finally {
    other.close();
  }
  assert.throws(() =>
    writeTransaction(db, () => {
      db.sqlite.exec("INSERT INTO audit_log (operation) VALUES ('HALF')");
      throw new Error("power cut");
    }), /power cut/);
  assert.equal(db.sqlite.isTransaction, false);
  assert.equal(sqliteRows(db.path, "SELECT count(*) AS n FROM audit_log")[0].n, 0);
});
