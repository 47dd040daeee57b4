/**
 * Writers beside a bulk ingest: the ingest stays one all-or-nothing transaction, and writers
 * that find the lock held by it wait for it instead of failing after their busy timeout.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  DatabaseBusyError,
  logAuditEvent,
  logAuditEvents,
  openDatabase,
  verifyChain,
} from "../mod.ts";
import { cliCommand, collectOutput, runCli, sqliteRows, tempDir } from "./helpers.ts";
import { migratedFile } from "./fixtures.ts";

const DB_MODULE = new URL("../lib/db.ts", import.meta.url).href;

/**
 * A process that takes the write lock of `path` for `holdMs`, as a bulk append does (with
 * its announcement) or as any other program would (without), and writes nothing. Resolves
 * once the lock is held; `done` resolves when the process has exited.
 */
async function holdWriteLock(path: string, holdMs: number, announced: boolean) {
  const code = `
    import { bulkWriteTransaction, openDatabase, writeTransaction } from "${DB_MODULE}";
    using db = openDatabase(Deno.args[0]);
    const hold = () => {
      console.log("locked");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs});
    };
    ${announced ? "await bulkWriteTransaction(db, hold);" : "writeTransaction(db, hold);"}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code, path],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /locked/);
  reader.releaseLock();
  await child.stdout.cancel();
  return { done: child.status };
}

Deno.test("a writer waits past its busy timeout for an announced bulk append, and only for one", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  using db = openDatabase(path, { busyTimeoutMs: 200 });

  const plain = await holdWriteLock(path, 1000, false);
  assert.throws(() => logAuditEvent(db, { operation: "REFUSED" }), DatabaseBusyError);
  assert.equal((await plain.done).code, 0);

  const bulk = await holdWriteLock(path, 1000, true);
  const started = performance.now();
  const event = logAuditEvent(db, { operation: "WAITED" });
  assert.ok(performance.now() - started >= 200, "it waited beyond its own busy timeout");
  assert.equal((await bulk.done).code, 0);
  // A bulk append waits for another one that is appending, too.
  const again = await holdWriteLock(path, 1000, true);
  const result = await logAuditEvents(db, [{ operation: "A" }, { operation: "B" }]);
  assert.equal((await again.done).code, 0);

  assert.deepEqual(
    sqliteRows(path, "SELECT audit_id, operation FROM audit_log ORDER BY audit_id")
      .map((row) => ({ ...row })),
    [
      { audit_id: event.audit_id, operation: "WAITED" },
      { audit_id: result.first_audit_id, operation: "A" },
      { audit_id: result.last_audit_id, operation: "B" },
    ],
  );
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("a writer waits past its busy timeout while the writers ahead of it keep committing", async () => {
  await using dir = await tempDir();
  const path = migratedFile(dir.path);
  const raw = new DatabaseSync(path);
  raw.exec("CREATE TABLE scratch (n INTEGER)");
  raw.close();
  // Another program that commits a row every 150 ms and takes the lock straight back: no
  // single hold lasts the writer's 300 ms, but the lock is never free for long.
  const code = `
    import { openDatabase, writeTransaction } from "${DB_MODULE}";
    using db = openDatabase(Deno.args[0]);
    const end = Date.now() + 2000;
    for (let i = 0; Date.now() < end; i++) {
      writeTransaction(db, () => {
        db.sqlite.exec("INSERT INTO scratch VALUES (" + i + ")");
        if (i === 0) console.log("locked");
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
      });
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code, path],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /locked/);
  reader.releaseLock();
  child.stdout.cancel();
  using db = openDatabase(path, { busyTimeoutMs: 300 });
  const event = logAuditEvent(db, { operation: "QUEUED" });
  assert.equal((await child.status).code, 0);
  assert.equal(event.audit_id, 1);
  assert.equal((await verifyChain(db)).intact, true);
});

Deno.test("CLI: log waits for an announced bulk append that holds the lock for over 10 s", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const bulk = await holdWriteLock(db, 11_000, true);
  const result = await runCli(["log", "PICKED", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "1\n");
  assert.equal((await bulk.done).code, 0);
});

Deno.test("CLI: single logs every 0.3 s all succeed while a large log --stdin runs, which stores every line", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const lines = 200_000;
  const input = join(dir.path, "events.ndjson");
  await Deno.writeTextFile(
    input,
    Array.from({ length: lines }, (_, i) =>
      JSON.stringify({
        operation: "ORDER_CONFIRMED",
        sku: `SKU-${i % 5000}`,
        details: `Order ORD-${i}: ${i % 90} units`,
        user: `clerk${i % 25}`,
        run_id: `run_bulk_${Math.floor(i / 1000)}`,
      })).join("\n") + "\n",
  );
  const ingest = cliCommand(["log", "--stdin", "--db", db], { stdin: "" }).spawn();
  const bytes = await Deno.readFile(input);
  const ingestDone = collectOutput(ingest, bytes);
  let finished = false;
  ingestDone.finally(() => finished = true);

  const singles: Promise<{ code: number; stdout: string; stderr: string }>[] = [];
  // Until the ingest ends, and a little after, so that some singles land on each side of it.
  for (let round = 0; !finished || round % 5 !== 0; round++) {
    singles.push(runCli(["log", "PICKED", "--sku", `SKU-${round}`, "--db", db]));
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const ingested = await ingestDone;
  const results = await Promise.all(singles);

  assert.equal(ingested.code, 0, ingested.stderr);
  const summary = JSON.parse(ingested.stdout);
  assert.equal(summary.inserted, lines);
  assert.equal(summary.last_audit_id - summary.first_audit_id + 1, lines);
  const failed = results.filter((r) => r.code !== 0);
  assert.deepEqual(failed, [], `${failed.length} of ${results.length} single logs failed`);
  const ids = results.map((r) => Number(r.stdout));
  assert.equal(new Set(ids).size, ids.length);
  // The ingest is one block of consecutive ids: no single event landed inside it.
  for (const id of ids) {
    assert.ok(id < summary.first_audit_id || id > summary.last_audit_id, String(id));
  }
  assert.equal(
    sqliteRows(db, "SELECT count(*) AS n FROM audit_log")[0].n,
    lines + results.length,
  );
  // The ingest withdrew its announcement: nothing is left beside the database.
  assert.deepEqual(
    [...Deno.readDirSync(dir.path)].map((e) => e.name).filter((n) => n.startsWith("app.db-i")),
    [],
  );
  using opened = openDatabase(db);
  const verified = await verifyChain(opened);
  assert.equal(verified.intact, true);
  assert.equal(verified.events_checked, lines + results.length);
});
