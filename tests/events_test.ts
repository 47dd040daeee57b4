import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  type AuditDatabase,
  getAuditLog,
  InvalidInputError,
  logAuditEvent,
  logAuditEvents,
  logNumberedEvents,
  MAX_DETAILS_LENGTH,
  MAX_OPERATION_LENGTH,
  migrate,
  openDatabase,
  UsageError,
  verifyChain,
} from "./internals.ts";
import { tempDir } from "./helpers.ts";
import { ISO_TIMESTAMP, openMigrated, writeLegacyDatabase } from "./fixtures.ts";

function count(db: AuditDatabase): number {
  return db.sqlite.prepare("SELECT count(*) AS n FROM audit_log").get()!.n as number;
}

Deno.test("logAuditEvent() stores a basic event and returns it as stored", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const before = Date.now();
  const event = logAuditEvent(db, {
    operation: "ORDER_CONFIRMED",
    sku: "SKU-1001",
    details: "Order ORD-123: 45 units",
    user: "ana",
  });
  assert.match(event.timestamp, ISO_TIMESTAMP);
  assert.ok(Date.parse(event.timestamp) >= before - 5 && Date.parse(event.timestamp) <= Date.now());
  assert.deepEqual(event, {
    audit_id: 1,
    timestamp: event.timestamp,
    operation: "ORDER_CONFIRMED",
    sku: "SKU-1001",
    details: "Order ORD-123: 45 units",
    user: "ana",
    run_id: null,
  });
  assert.deepEqual(getAuditLog(db), [event]);
  assert.equal(logAuditEvent(db, { operation: "SECOND" }).audit_id, 2);
});

Deno.test("logAuditEvent() records the run id it is given", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const event = logAuditEvent(db, {
    operation: "ORDER_CONFIRMED",
    sku: "SKU-1",
    run_id: "run_20260216_093005_0a1b2c3d",
  });
  assert.equal(event.run_id, "run_20260216_093005_0a1b2c3d");
  assert.deepEqual(getAuditLog(db, { runId: "run_20260216_093005_0a1b2c3d" }), [event]);
});

Deno.test("logAuditEvent() without a SKU stores NULL, empty details and user system", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const event = logAuditEvent(db, { operation: "STOCK_COUNT_STARTED" });
  assert.deepEqual(
    { sku: event.sku, details: event.details, user: event.user, run_id: event.run_id },
    { sku: null, details: "", user: "system", run_id: null },
  );
  const row = db.sqlite.prepare("SELECT sku, details, user FROM audit_log").get()!;
  assert.deepEqual({ ...row }, { sku: null, details: "", user: "system" });
});

Deno.test("logAuditEvent() takes user and run id from defaults unless the event gives them", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const defaults = { user: "night-shift", run_id: "run_default" };
  const a = logAuditEvent(db, { operation: "A" }, defaults);
  const b = logAuditEvent(db, { operation: "B", user: "ana", run_id: "run_own" }, defaults);
  const c = logAuditEvent(db, { operation: "C", user: null, run_id: null }, defaults);
  assert.deepEqual([a.user, a.run_id], ["night-shift", "run_default"]);
  assert.deepEqual([b.user, b.run_id], ["ana", "run_own"]);
  assert.deepEqual([c.user, c.run_id], ["night-shift", "run_default"]);
});

Deno.test("logAuditEvent() accepts exactly 100-character operations and 65,536-character details", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const operation = "O".repeat(MAX_OPERATION_LENGTH);
  const details = "d".repeat(MAX_DETAILS_LENGTH);
  const event = logAuditEvent(db, { operation, details });
  assert.equal(getAuditLog(db)[0].operation, operation);
  assert.equal(getAuditLog(db)[0].details.length, 65_536);
  // Characters, not UTF-16 code units: 100 emoji are 100 characters.
  logAuditEvent(db, { operation: "📦".repeat(100), details: "ä".repeat(65_536) });
  assert.equal(event.audit_id, 1);
  assert.equal(count(db), 2);
});

Deno.test("logAuditEvent() refuses bad events with a UsageError and stores nothing", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const cases: [unknown, RegExp][] = [
    [{ operation: "" }, /"operation" must not be empty/],
    [{ operation: "   " }, /"operation" must not be empty/],
    [{}, /"operation" is missing/],
    [{ operation: "O".repeat(101) }, /"operation" is 101 characters long; at most 100/],
    [{ operation: "📦".repeat(101) }, /"operation" is 101 characters long/],
    [{ operation: "X", details: "d".repeat(65_537) }, /"details" is 65537 characters long/],
    [{ operation: "X", run_id: "run 1" }, /run id "run 1" contains whitespace/],
    [{ operation: "X", run_id: "run\t1" }, /contains whitespace/],
    [{ operation: "X", run_id: "" }, /run id must not be empty/],
    [{ operation: "X", run_id: "r".repeat(129) }, /at most 128/],
    [{ operation: "X", run_id: "lauf_ä" }, /printable ASCII/],
    [{ operation: "X", sku: "" }, /"sku" must not be empty/],
    [{ operation: "X", user: "" }, /"user" must not be empty/],
    [{ operation: 5 }, /"operation" must be a string, got number/],
    [{ operation: "X", details: ["a"] }, /"details" must be a string, got an array/],
    [{ operation: "ORDER\tX" }, /"operation" contains a control character \(U\+0009\)/],
    [{ operation: "ORDER\r\n" }, /"operation" contains a control character \(U\+000D\)/],
    [{ operation: "\x1b[2J" }, /control character \(U\+001B\)/],
    [{ operation: "DEL\x7f" }, /control character \(U\+007F\)/],
    [{ operation: "C1\u009b" }, /control character \(U\+009B\)/],
    [{ operation: "\u202eDELIVERED" }, /control character \(U\+202E\)/],
    [{ operation: "A\u2066B" }, /control character \(U\+2066\)/],
  ];
  for (const [event, message] of cases) {
    assert.throws(
      () => logAuditEvent(db, event as { operation: string }),
      (e) => e instanceof UsageError && message.test(e.message),
      JSON.stringify(event).slice(0, 80),
    );
  }
  assert.throws(() => logAuditEvent(db, { operation: "X" }, { run_id: "a b" }), UsageError);
  assert.equal(count(db), 0);
});

Deno.test("logAuditEvents() stores many events in order in one transaction", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "BEFORE" });
  async function* events() {
    for (let i = 1; i <= 5; i++) yield { operation: "ORDER_CONFIRMED", sku: `SKU-${i}` };
  }
  const result = await logAuditEvents(db, events(), { user: "importer", run_id: "run_x" });
  assert.deepEqual(result, { inserted: 5, first_audit_id: 2, last_audit_id: 6 });
  assert.deepEqual(
    getAuditLog(db, { order: "asc", afterId: 1 }).map((e) => [e.audit_id, e.sku, e.user, e.run_id]),
    [1, 2, 3, 4, 5].map((i) => [i + 1, `SKU-${i}`, "importer", "run_x"]),
  );
  assert.deepEqual(await logAuditEvents(db, []), {
    inserted: 0,
    first_audit_id: null,
    last_audit_id: null,
  });
});

Deno.test("logAuditEvents() keeps every field and the input's order whatever the size of the input", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // Around the sizes in which events are staged (several rows per statement).
  for (const size of [1, 49, 50, 51, 149, 1234]) {
    const events = Array.from({ length: size }, (_, i) => ({
      operation: `OP_${size}_${i}`,
      sku: i % 3 ? `SKU-${i}` : null,
      details: i % 2 ? `details ${i}` : undefined,
      user: i % 5 ? undefined : `user${i}`,
      run_id: i % 7 ? null : `run_${i}`,
    }));
    const result = await logAuditEvents(db, events, { user: "importer" });
    assert.equal(result.inserted, size);
    const stored = getAuditLog(db, { order: "asc", afterId: result.first_audit_id! - 1, limit: 0 });
    assert.deepEqual(
      stored.map((e) => [e.operation, e.sku, e.details, e.user, e.run_id]),
      events.map((e) => [e.operation, e.sku, e.details ?? "", e.user ?? "importer", e.run_id]),
    );
  }
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("logAuditEvents() gives the connection its own page cache setting back", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const cacheSize = () => db.sqlite.prepare("PRAGMA cache_size").get()!.cache_size;
  db.sqlite.exec("PRAGMA cache_size = -1000");
  await logAuditEvents(db, [{ operation: "A" }, { operation: "B" }]);
  assert.equal(cacheSize(), -1000);
  // A larger cache than the bulk one is left as it is.
  db.sqlite.exec("PRAGMA cache_size = 20000");
  await logAuditEvents(db, [{ operation: "C" }]);
  assert.equal(cacheSize(), 20000);
  await assert.rejects(logAuditEvents(db, [{ operation: "D" }, { operation: "" }]));
  assert.equal(cacheSize(), 20000);
  assert.equal(count(db), 3);
});

Deno.test("logAuditEvents() stores nothing when one event is invalid, and names it", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await assert.rejects(
    logAuditEvents(db, [{ operation: "A" }, { operation: "B" }, { operation: "" }]),
    (e) =>
      e instanceof InvalidInputError && e.line === 3 &&
      e.message === 'Event 3: "operation" must not be empty',
  );
  assert.equal(count(db), 0);
  // The connection is usable afterwards: no transaction or staging table left behind.
  assert.equal(db.sqlite.isTransaction, false);
  assert.deepEqual(await logAuditEvents(db, [{ operation: "A" }]), {
    inserted: 1,
    first_audit_id: 1,
    last_audit_id: 1,
  });
});

Deno.test("logNumberedEvents() names the input line and checks defaults first", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await assert.rejects(
    logNumberedEvents(db, [
      { line: 1, value: { operation: "A" } },
      { line: 4, value: { operation: "B", sku: 7 } },
    ]),
    (e) =>
      e instanceof InvalidInputError && e.message === 'Line 4: "sku" must be a string, got number',
  );
  await assert.rejects(
    logNumberedEvents(db, [{ line: 1, value: ["operation"] }]),
    /Line 1: expected an event object like \{"operation": "..."\}, got an array/,
  );
  await assert.rejects(
    logNumberedEvents(db, [{ line: 2, value: { operation: "A", color: "red" } }]),
    /Line 2: unknown field "color"/,
  );
  await assert.rejects(
    logNumberedEvents(db, [{ line: 1, value: { operation: "A" } }], { run_id: "bad id" }),
    (e) => e instanceof UsageError && !(e instanceof InvalidInputError),
  );
  assert.equal(count(db), 0);
});

Deno.test("logAuditEvents() reports the right ids on an adopted table whose last rows were deleted", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  // The inventory application deleted its newest rows before audit-trail adopted the table.
  // AUTOINCREMENT never reuses ids: the next id is 7, not max(audit_id) + 1.
  const raw = new DatabaseSync(path);
  raw.exec("DELETE FROM audit_log WHERE audit_id >= 5");
  raw.close();
  using db = openDatabase(path);
  migrate(db);
  const result = await logAuditEvents(db, [{ operation: "A" }, { operation: "B" }]);
  assert.deepEqual(result, { inserted: 2, first_audit_id: 7, last_audit_id: 8 });
  assert.deepEqual(getAuditLog(db, { limit: 2 }).map((e) => e.audit_id), [8, 7]);
  // Their seals carry their ids, after the gap, and the chain holds.
  const seals = db.sqlite.prepare("SELECT audit_id FROM audit_trail_chain ORDER BY audit_id")
    .all().map((row) => row.audit_id);
  assert.deepEqual(seals.slice(-3), [4, 7, 8]);
  assert.equal((await verifyChain(db)).intact, true);
  // The next import follows on directly.
  await logAuditEvents(db, [{ operation: "C" }, { operation: "D" }]);
  assert.equal((await verifyChain(db)).events_checked, 8);
});
