import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migratedDb, runCli, tempDir } from "./helpers.ts";

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
