import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  archiveEvents,
  type AuditDatabase,
  DatabaseBusyError,
  logAuditEvent,
  logAuditEvents,
  migrate,
  openDatabase,
  UsageError,
  verifyChain,
} from "../mod.ts";
import { tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

// The inventory application logs through the library on its own connection, beside its own
// writes: in its own transactions, and from many async tasks at once.

function withStock(db: AuditDatabase): void {
  db.sqlite.exec("CREATE TABLE stock (sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL)");
}

function rows(db: AuditDatabase): unknown[] {
  return db.sqlite.prepare(
    `SELECT operation, sku FROM audit_log ORDER BY audit_id`,
  ).all().map((row) => [row.operation, row.sku]);
}

function stock(db: AuditDatabase): unknown[] {
  return db.sqlite.prepare("SELECT sku, quantity FROM stock ORDER BY sku").all()
    .map((row) => [row.sku, row.quantity]);
}

Deno.test("logAuditEvent() inside the application's transaction commits with it, and rolls back with it", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  withStock(db);

  db.sqlite.exec("BEGIN IMMEDIATE");
  db.sqlite.exec("INSERT INTO stock VALUES ('SKU-1', 5)");
  logAuditEvent(db, { operation: "STOCK_SET", sku: "SKU-1" });
  assert.equal(db.sqlite.isTransaction, true, "the application's transaction stays open");
  db.sqlite.exec("ROLLBACK");
  assert.deepEqual([rows(db), stock(db)], [[], []]);

  db.sqlite.exec("BEGIN IMMEDIATE");
  db.sqlite.exec("INSERT INTO stock VALUES ('SKU-2', 7)");
  logAuditEvent(db, { operation: "STOCK_SET", sku: "SKU-2" });
  await logAuditEvents(db, [{ operation: "STOCK_COUNTED", sku: "SKU-2" }]);
  db.sqlite.exec("COMMIT");
  assert.deepEqual(rows(db), [["STOCK_SET", "SKU-2"], ["STOCK_COUNTED", "SKU-2"]]);
  assert.deepEqual(stock(db), [["SKU-2", 7]]);
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("logAuditEvents() rolled back with the application's transaction leaves the chain intact for the next event", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  withStock(db);
  logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });

  db.sqlite.exec("BEGIN IMMEDIATE");
  db.sqlite.exec("INSERT INTO stock VALUES ('SKU-1', 1)");
  const result = await logAuditEvents(db, [
    { operation: "ORDER_CONFIRMED", sku: "SKU-1" },
    { operation: "ORDER_CONFIRMED", sku: "SKU-1" },
  ]);
  assert.deepEqual(result, { inserted: 2, first_audit_id: 2, last_audit_id: 3 });
  db.sqlite.exec("ROLLBACK");

  logAuditEvent(db, { operation: "STOCK_COUNTED", sku: "SKU-1" });
  assert.deepEqual(rows(db), [["SKU_CREATED", "SKU-1"], ["STOCK_COUNTED", "SKU-1"]]);
  assert.deepEqual(stock(db), []);
  const verdict = await verifyChain(db);
  assert.deepEqual([verdict.intact, verdict.events_checked], [true, 2]);
});

Deno.test("a bad event inside the application's transaction fails alone: the transaction and its writes stay", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  withStock(db);

  db.sqlite.exec("BEGIN IMMEDIATE");
  db.sqlite.exec("INSERT INTO stock VALUES ('SKU-1', 5)");
  logAuditEvent(db, { operation: "STOCK_SET", sku: "SKU-1" });
  await assert.rejects(
    logAuditEvents(db, [{ operation: "STOCK_SET" }, { operation: "" }]),
    /Event 2: "operation" must not be empty/,
  );
  assert.equal(db.sqlite.isTransaction, true);
  db.sqlite.exec("COMMIT");
  assert.deepEqual(rows(db), [["STOCK_SET", "SKU-1"]]);
  assert.deepEqual(stock(db), [["SKU-1", 5]]);
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("logAuditEvent() and logAuditEvents() from concurrent async tasks on one connection all land, in one intact chain", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const many = (task: number) =>
    Array.from({ length: 120 }, (_, i) => ({ operation: "OP", sku: `SKU-${task}-${i}` }));
  const results = await Promise.all([
    logAuditEvents(db, many(1)),
    logAuditEvents(db, many(2)),
    (async () => {
      await null;
      return logAuditEvent(db, { operation: "ONE" }).audit_id;
    })(),
    logAuditEvents(db, many(3)),
  ]);
  assert.deepEqual(
    results.map((result) => typeof result === "number" ? 1 : result.inserted),
    [120, 120, 1, 120],
  );
  assert.equal(rows(db).length, 361);
  assert.equal(db.sqlite.isTransaction, false);
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("an event logged while a slow logAuditEvents() input fails is kept, as it was acknowledged", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  async function* slowInput() {
    yield { operation: "A" };
    await new Promise((resolve) => setTimeout(resolve, 50));
    yield { operation: "" };
  }
  const [bulk, single] = await Promise.allSettled([
    logAuditEvents(db, slowInput()),
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return logAuditEvent(db, { operation: "TWO" });
    })(),
  ]);
  assert.equal(bulk.status, "rejected");
  assert.equal(single.status, "fulfilled");
  assert.deepEqual(rows(db), [["TWO", null]]);
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("using a closed database fails with a UsageError that says to open it again", async () => {
  await using dir = await tempDir();
  const db = openMigrated(dir.path);
  db.close();
  db.close();
  assert.throws(() => logAuditEvent(db, { operation: "X" }), (error) => {
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /closed/);
    assert.doesNotMatch(`${error.message} ${error.hint}`, /--/);
    return true;
  });
  await assert.rejects(logAuditEvents(db, [{ operation: "X" }]), UsageError);
});

Deno.test("an event in a transaction that read before another program wrote fails at once, saying how to begin it", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  using other = openDatabase(db.path);
  db.sqlite.exec("BEGIN");
  db.sqlite.prepare("SELECT count(*) FROM audit_log").get();
  logAuditEvent(other, { operation: "OTHER" });
  assert.throws(() => logAuditEvent(db, { operation: "MINE" }), (error) => {
    assert.ok(error instanceof DatabaseBusyError);
    assert.match(error.message, /another program wrote to ".*" after this transaction began/);
    assert.match(error.hint!, /BEGIN IMMEDIATE/);
    return true;
  });
  assert.equal(db.sqlite.isTransaction, true);
  db.sqlite.exec("ROLLBACK");
  assert.deepEqual(rows(db), [["OTHER", null]]);
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("archiveEvents() and migrate() inside the application's transaction are refused before anything is done", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "OLD" });
  db.sqlite.exec("BEGIN IMMEDIATE");
  await assert.rejects(
    archiveEvents(db, { before: "9999-01-01", dir: `${dir.path}/archive` }),
    (error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /A transaction is open on ".*": this cannot be done inside it/);
      assert.match(error.hint!, /Commit or roll back the transaction first/);
      return true;
    },
  );
  db.sqlite.exec("ROLLBACK");
  assert.deepEqual(rows(db), [["OLD", null]]);
  assert.equal(existsSync(`${dir.path}/archive`), false);
  // What changes nothing is answered inside it too (README, "Library").
  db.sqlite.exec("BEGIN IMMEDIATE");
  assert.deepEqual(migrate(db).applied, []);
  const dry = await archiveEvents(db, { before: "9999-01-01", dir: `${dir.path}/a`, dryRun: true });
  assert.equal(dry.archived, 1);
  db.sqlite.exec("ROLLBACK");
  assert.equal(existsSync(`${dir.path}/a`), false);

  using fresh = openDatabase(`${dir.path}/fresh.db`, { create: true });
  fresh.sqlite.exec("BEGIN");
  assert.throws(() => migrate(fresh), UsageError);
  fresh.sqlite.exec("ROLLBACK");
  assert.equal(migrate(fresh).to_version > 0, true);
});

Deno.test("logAuditEvents() inside the application's transaction does not wait for another program's bulk append", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // Another program's announced bulk append, which waits for the write lock this transaction
  // holds: waiting for it here would hold both up until one gives up.
  using announcement = await Deno.open(`${db.path}-ingest`, { create: true, write: true });
  await announcement.lock(true);
  let released = false;
  const release = setTimeout(() => {
    released = true;
    announcement.unlockSync();
  }, 5_000);
  try {
    db.sqlite.exec("BEGIN IMMEDIATE");
    await logAuditEvents(db, [{ operation: "STOCK_SET" }]);
    assert.equal(released, false, "the append went on without waiting for the announcement");
    db.sqlite.exec("COMMIT");
  } finally {
    clearTimeout(release);
  }
  assert.deepEqual(rows(db), [["STOCK_SET", null]]);
});
