import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync, type DatabaseSyncOptions } from "node:sqlite";
import { copyDatabase } from "../lib/bundle/logical_copy.ts";
import { CLI, migratedDb, ROOT, runCli, tempDir } from "./helpers.ts";

// The bundle of the inventory application's own database: its tables are copied, and the
// settings' secrets masked in them, whatever refers to what.

const KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";

Deno.test("bundle masks a settings secret that is a key the application's rows refer to", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const app = new DatabaseSync(db);
  app.exec(`PRAGMA foreign_keys = ON;
    CREATE TABLE api_keys (key TEXT PRIMARY KEY, owner TEXT);
    CREATE TABLE api_calls (id INTEGER PRIMARY KEY, key TEXT REFERENCES api_keys(key), path TEXT);
    INSERT INTO api_keys VALUES ('${KEY}', 'shop');
    INSERT INTO api_calls (key, path) VALUES ('${KEY}', '/orders');`);
  app.close();
  await Deno.writeTextFile(
    join(dir.path, "settings.json"),
    JSON.stringify({ payments: { api_key: KEY } }),
  );
  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  const folder = result.stdout.trim();
  const backup = new DatabaseSync(join(folder, "database_backup.db"), { readOnly: true });
  try {
    const owners = backup.prepare("SELECT owner FROM api_keys").all().map((r) => r.owner);
    assert.deepEqual(owners, ["shop"]);
    const calls = backup.prepare("SELECT key, path FROM api_calls").all();
    assert.deepEqual(calls.map((r) => r.path), ["/orders"]);
    assert.ok(calls.every((r) => !String(r.key).includes(KEY)));
  } finally {
    backup.close();
  }
  for await (const entry of Deno.readDir(folder)) {
    const bytes = await Deno.readFile(join(folder, entry.name));
    assert.ok(!new TextDecoder().decode(bytes).includes(KEY), entry.name);
  }
  // The live database keeps the key and its references.
  const live = new DatabaseSync(db, { readOnly: true });
  assert.equal(live.prepare("SELECT count(*) AS n FROM api_calls WHERE key = ?").get(KEY)!.n, 1);
  live.close();
  const verified = await runCli(["bundle", "verify", folder]);
  assert.equal(verified.code, 0, verified.stderr);
});

/**
 * An application database whose `orders` table refers to `customers`, made after it (the
 * application rebuilt `customers` to add a column), and one row of `bins` stored past its CHECK
 * constraint.
 */
function rebuiltApplication(path: string): void {
  const app = new DatabaseSync(path);
  app.exec(`PRAGMA foreign_keys = ON;
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id));
    INSERT INTO customers VALUES (1, 'acme'), (2, 'globex');
    INSERT INTO orders (customer_id) VALUES (1), (2), (2);
    PRAGMA foreign_keys = OFF;
    BEGIN;
    CREATE TABLE customers_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT);
    INSERT INTO customers_new (id, name) SELECT id, name FROM customers;
    DROP TABLE customers;
    ALTER TABLE customers_new RENAME TO customers;
    COMMIT;
    CREATE TABLE bins (code TEXT CHECK (length(code) = 3));
    PRAGMA ignore_check_constraints = ON;
    INSERT INTO bins VALUES ('A01'), ('OVERFLOW');`);
  app.close();
}

Deno.test("copyDatabase() copies an application's tables that refer to tables made after them, and rows past a CHECK", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  rebuiltApplication(path);
  const source = new DatabaseSync(path, { readOnly: true });
  try {
    const report = await copyDatabase(source, join(dir.path, "copy.db"));
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.tables, [
      { name: "orders", rows: 3 },
      { name: "customers", rows: 2 },
      { name: "bins", rows: 2 },
    ]);
  } finally {
    source.close();
  }
});

Deno.test("copyDatabase() in salvage mode goes on with the next table after one fails to copy", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  rebuiltApplication(path);
  // Not defensive, so the schema can be written as damage would leave it.
  const app = new DatabaseSync(path, { defensive: false } as DatabaseSyncOptions);
  // A UNIQUE index the copy makes before any row goes in, which the source's rows break: a
  // damaged file's schema can disagree with its rows so. orders is the first table copied.
  app.exec(`PRAGMA writable_schema = ON;
    UPDATE sqlite_schema
    SET sql = replace(sql, 'customer_id INTEGER NOT NULL', 'customer_id INTEGER NOT NULL UNIQUE')
    WHERE name = 'orders';`);
  app.close();
  const source = new DatabaseSync(path, { readOnly: true });
  try {
    const report = await copyDatabase(source, join(dir.path, "copy.db"), { salvage: true });
    assert.equal(report.problems.length, 1, report.problems.join("; "));
    assert.match(report.problems[0], /^table orders could not be read: UNIQUE constraint failed/);
    assert.deepEqual(report.tables, [{ name: "customers", rows: 2 }, { name: "bins", rows: 2 }]);
  } finally {
    source.close();
  }
});

Deno.test("bundle copies an application's tables row by row when VACUUM INTO is not allowed", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  rebuiltApplication(db);
  const command = new Deno.Command(Deno.execPath(), {
    // Read and write access only: Deno then allows no ATTACH, which VACUUM INTO needs.
    args: [
      "run",
      "--quiet",
      "--config",
      join(ROOT, "deno.json"),
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      CLI,
      "bundle",
    ],
    env: { AUDIT_TRAIL_DB: db },
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const folder = new TextDecoder().decode(stdout).trim();
  const manifest = JSON.parse(await Deno.readTextFile(join(folder, "manifest.json")));
  assert.equal(manifest.snapshot.method, "logical_copy");
  assert.deepEqual(manifest.errors, []);
  const backup = new DatabaseSync(join(folder, "database_backup.db"), { readOnly: true });
  try {
    assert.equal(backup.prepare("SELECT count(*) AS n FROM orders").get()!.n, 3);
    assert.deepEqual(backup.prepare("PRAGMA foreign_key_check").all(), []);
  } finally {
    backup.close();
  }
});
