import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AuditDatabase,
  AuditTrailError,
  BundleFolderError,
  chainHead,
  DatabaseBusyError,
  exportDebugBundle,
  getAuditLog,
  getBatchOperations,
  getStats,
  listBatches,
  logAuditEvent,
  logAuditEvents,
  openDatabase,
  SchemaError,
  verifyChain,
  writeReport,
} from "../mod.ts";
import { ROOT, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

// What an application that imports mod.ts gets when it uses the library wrongly: one of the
// exported error classes, told apart by `instanceof`, never node:sqlite's raw error.

const discard = { write: () => Promise.resolve() };

/** Every reading and writing call of the library on `db`, by name. */
function everyCall(db: AuditDatabase): [string, () => unknown][] {
  return [
    ["logAuditEvent", () => logAuditEvent(db, { operation: "STOCK_SET", sku: "SKU-1" })],
    ["logAuditEvents", () => logAuditEvents(db, [{ operation: "STOCK_SET" }])],
    ["getAuditLog", () => getAuditLog(db, {})],
    ["getBatchOperations", () => getBatchOperations(db, "run_a")],
    ["listBatches", () => listBatches(db)],
    ["getStats", () => getStats(db)],
    ["chainHead", () => chainHead(db)],
    ["writeReport", () => writeReport(db, discard)],
  ];
}

/** The class and message each call fails with (or "ok"). */
async function outcomes(calls: [string, () => unknown][]): Promise<string[]> {
  const seen: string[] = [];
  for (const [name, call] of calls) {
    try {
      await call();
      seen.push(`${name}: ok`);
    } catch (error) {
      const kind = error instanceof AuditTrailError ? error.constructor.name : "raw";
      seen.push(`${name}: ${kind}: ${(error as Error).message}`);
    }
  }
  return seen;
}

Deno.test("every call on a database that was never migrated throws SchemaError naming migrate(), and creates nothing", async () => {
  await using dir = await tempDir();
  using db = openDatabase(join(dir.path, "app.db"), { create: true });
  db.sqlite.exec("CREATE TABLE stock (sku TEXT PRIMARY KEY, quantity INTEGER)");
  const message = `SchemaError: Database "${db.path}" is not set up for audit-trail yet`;
  const calls = everyCall(db);
  assert.deepEqual(await outcomes(calls), calls.map(([name]) => `${name}: ${message}`));
  try {
    getAuditLog(db, {});
  } catch (error) {
    assert.ok(error instanceof SchemaError);
    assert.match(error.hint ?? "", /migrate\(db\)/);
  }
  const tables = db.sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all();
  assert.deepEqual(tables.map((row) => row.name), ["stock"]);
});

Deno.test("every call on a closed database throws UsageError, the readers too", async () => {
  await using dir = await tempDir();
  const db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "STOCK_SET", sku: "SKU-1" });
  db.close();
  const calls = everyCall(db);
  calls.push(["verifyChain", () => verifyChain(db)]);
  const message = `UsageError: The database "${db.path}" is closed`;
  assert.deepEqual(await outcomes(calls), calls.map(([name]) => `${name}: ${message}`));
  using again = openDatabase(db.path);
  assert.equal(getAuditLog(again, {}).length, 1, "nothing was written through the closed one");
});

Deno.test("exportDebugBundle() into a folder it cannot write throws the exported BundleFolderError", async () => {
  await using dir = await tempDir();
  openMigrated(dir.path).close();
  const blocker = join(dir.path, "file");
  await Deno.writeTextFile(blocker, "");
  const outputDir = join(blocker, "bundles");
  await assert.rejects(
    exportDebugBundle({ database: join(dir.path, "app.db"), outputDir }),
    (error) => error instanceof BundleFolderError && error.folder === outputDir,
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["app.db", "file"]);
});

Deno.test("every type mod.ts's exports refer to is exported too, so an application can name it", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  const privateRefs = text.split("\n").filter((line) => line.includes("private-type-ref"));
  // An open central connection is made only by the command line (its client's type is not a
  // promise mod.ts makes); an application passes a URL or a CentralTarget.
  assert.deepEqual(privateRefs, [
    "error[private-type-ref]: public type 'SyncOptions[\"central\"]' references private type 'CentralConnection'",
  ]);
});

Deno.test("DatabaseBusyError says how long the application's own busy timeout waited", async () => {
  await using dir = await tempDir();
  using holder = openMigrated(dir.path);
  using short = openDatabase(holder.path, { busyTimeoutMs: 200 });
  using impatient = openDatabase(holder.path, { busyTimeoutMs: 0 });
  holder.sqlite.exec("BEGIN IMMEDIATE");
  const busy = (db: AuditDatabase) => {
    try {
      logAuditEvent(db, { operation: "STOCK_SET", sku: "SKU-1" });
    } catch (error) {
      assert.ok(error instanceof DatabaseBusyError);
      return error.message;
    }
    assert.fail("logged while another connection held the lock");
  };
  assert.equal(
    busy(short),
    `Database is busy: "${holder.path}" stayed locked by another program for over 200 ms`,
  );
  assert.equal(
    busy(impatient),
    `Database is busy: "${holder.path}" is locked by another program (this connection does not wait)`,
  );
  holder.sqlite.exec("ROLLBACK");
  assert.deepEqual(getAuditLog(holder, {}), []);
});
