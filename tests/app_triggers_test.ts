import assert from "node:assert/strict";
import { archiveEvents, logAuditEvent, logAuditEvents, verifyChain } from "../mod.ts";
import { runCli, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

// The inventory application's own triggers on audit_log, firing as audit-trail appends.

/** An application trigger that records a follow-up event of its own for every cancellation. */
const FOLLOW_UP = `CREATE TRIGGER app_release AFTER INSERT ON audit_log
  WHEN NEW.operation = 'ORDER_CANCELLED'
  BEGIN
    INSERT INTO audit_log (timestamp, operation, sku, details, user)
    VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'STOCK_RELEASED', NEW.sku, '', 'inventory');
  END`;

const INPUT = [
  { operation: "ORDER_CONFIRMED", sku: "SKU-1" },
  { operation: "ORDER_CANCELLED", sku: "SKU-2" },
  { operation: "STOCK_COUNTED", sku: "SKU-1" },
];

Deno.test("logAuditEvents() seals the given events, not the rows an application trigger adds amid them", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
  db.sqlite.exec(FOLLOW_UP);
  const result = await logAuditEvents(db, INPUT);
  assert.deepEqual(result, { inserted: 3, first_audit_id: 2, last_audit_id: 5 });
  const rows = db.sqlite.prepare(
    `SELECT a.audit_id, a.operation, c.audit_id IS NOT NULL AS sealed
     FROM audit_log AS a LEFT JOIN audit_trail_chain AS c USING (audit_id) ORDER BY a.audit_id`,
  ).all().map((row) => [row.audit_id, row.operation, row.sealed]);
  assert.deepEqual(rows, [
    [1, "SKU_CREATED", 1],
    [2, "ORDER_CONFIRMED", 1],
    [3, "ORDER_CANCELLED", 1],
    [4, "STOCK_RELEASED", 0],
    [5, "STOCK_COUNTED", 1],
  ]);
  // What verify reports is the application's row, which audit-trail did not record.
  const verified = await verifyChain(db);
  assert.equal(verified.failure?.audit_id, 4);
  assert.equal(verified.failure?.kind, "inserted");
});

Deno.test("CLI: log --stdin prints the ids its own events got when an application trigger adds rows", async () => {
  await using dir = await tempDir();
  const path = (() => {
    using db = openMigrated(dir.path);
    db.sqlite.exec(FOLLOW_UP);
    return db.path;
  })();
  const input = INPUT.map((event) => JSON.stringify(event)).join("\n") + "\n";
  const result = await runCli(["log", "--stdin", "--db", path], { stdin: input });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    inserted: 3,
    first_audit_id: 1,
    last_audit_id: 4,
  });
});

Deno.test("logAuditEvents() numbers its events above every archived one when an application trigger adds rows", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
  logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-2" });
  await archiveEvents(db, { before: new Date(Date.now() + 60_000) });
  db.sqlite.exec(FOLLOW_UP);
  const result = await logAuditEvents(db, INPUT);
  assert.deepEqual(result, { inserted: 3, first_audit_id: 3, last_audit_id: 6 });
  const ids = db.sqlite.prepare("SELECT audit_id, operation FROM audit_log ORDER BY audit_id")
    .all().map((row) => `${row.audit_id} ${row.operation}`);
  assert.deepEqual(ids, [
    "3 ORDER_CONFIRMED",
    "4 ORDER_CANCELLED",
    "5 STOCK_RELEASED",
    "6 STOCK_COUNTED",
  ]);
  const verified = await verifyChain(db);
  assert.equal(verified.failure?.audit_id, 5);
});
