import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  getAuditLog,
  getBatchOperations,
  getStats,
  listBatches,
  openDatabase,
  verifyChain,
} from "../mod.ts";
import { ROOT, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

// The inventory application as its README section describes it, run as several processes at
// once on one database: each order changes stock, records the order and logs its event in one
// transaction, under the process's run id, with a busy timeout short enough that the
// processes do run into each other's locks and try again.

const PROCESSES = 4;
const ORDERS = 25;

const APP = (mod: string) => `
import { DatabaseBusyError, generateRunId, logAuditEvent, logAuditEvents, openDatabase } from ${
  JSON.stringify(mod)
};
using db = openDatabase(Deno.args[0], { busyTimeoutMs: 5 });
const run_id = generateRunId();
let retries = 0;
// The application's own BEGIN IMMEDIATE fails with node:sqlite's error; the library's with
// DatabaseBusyError.
const busy = (e) => e instanceof DatabaseBusyError || /database is locked/.test(e?.message);
for (let i = 0; i < ${ORDERS}; i++) {
  try {
    db.sqlite.exec("BEGIN IMMEDIATE");
    try {
      db.sqlite.prepare("UPDATE stock SET quantity = quantity - 1 WHERE sku = 'SKU-1'").run();
      const order = db.sqlite.prepare("INSERT INTO orders (run_id) VALUES (?)").run(run_id);
      logAuditEvent(db, { operation: "ORDER_CONFIRMED", sku: "SKU-1", details: "order " + order.lastInsertRowid, run_id });
      db.sqlite.exec("COMMIT");
    } catch (error) {
      db.sqlite.exec("ROLLBACK");
      throw error;
    }
  } catch (error) {
    if (!busy(error)) throw error;
    retries++;
    i--;
  }
}
while (true) {
  try {
    await logAuditEvents(db, [{ operation: "BATCH_END", details: "retries " + retries }], { run_id });
    break;
  } catch (error) {
    if (!busy(error)) throw error;
  }
}
console.log(run_id);
`;

Deno.test("several application processes change stock and log each change in one transaction: stock, orders and events agree", async () => {
  await using dir = await tempDir();
  {
    using db = openMigrated(dir.path);
    db.sqlite.exec(`CREATE TABLE stock (sku TEXT PRIMARY KEY, quantity INTEGER NOT NULL);
      CREATE TABLE orders (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL);
      INSERT INTO stock VALUES ('SKU-1', 1000);`);
  }
  const app = join(dir.path, "app.ts");
  await Deno.writeTextFile(app, APP(pathToFileURL(join(ROOT, "mod.ts")).href));
  const path = join(dir.path, "app.db");
  const runs = await Promise.all(
    Array.from({ length: PROCESSES }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-check", `--config=${join(ROOT, "deno.json")}`, app, path],
        stdout: "piped",
        stderr: "piped",
      }).output()),
  );
  const decoder = new TextDecoder();
  for (const run of runs) assert.equal(run.code, 0, decoder.decode(run.stderr));
  const runIds = runs.map((run) => decoder.decode(run.stdout).trim());

  using db = openDatabase(path);
  const total = PROCESSES * ORDERS;
  assert.equal(db.sqlite.prepare("SELECT quantity FROM stock").get()?.quantity, 1000 - total);
  const orders = db.sqlite.prepare("SELECT id, run_id FROM orders ORDER BY id").all();
  assert.equal(orders.length, total);
  const events = getAuditLog(db, { operation: "ORDER_CONFIRMED", order: "asc", limit: 0 });
  assert.deepEqual(
    events.map((e) => [e.details, e.run_id]),
    orders.map((o) => [`order ${o.id}`, o.run_id]),
    "every order has its event, in the order the orders committed, and no other",
  );
  for (const runId of runIds) {
    const batch = getBatchOperations(db, runId);
    assert.equal(batch.event_count, ORDERS + 1);
    assert.equal(batch.events.at(-1)?.operation, "BATCH_END");
  }
  assert.deepEqual(listBatches(db, { limit: 0 }).map((b) => b.run_id).sort(), runIds.sort());
  assert.equal(getStats(db).events, total + PROCESSES);
  const chain = await verifyChain(db);
  assert.deepEqual([chain.intact, chain.events_checked], [true, total + PROCESSES]);
});
