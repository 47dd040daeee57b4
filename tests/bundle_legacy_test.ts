/**
 * A bundle of the inventory application's database, before `migrate` added `run_id`: a
 * bundle is most wanted for a database not set up yet, and it must be whole.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers.ts";
import { dumpTable, LEGACY_ROWS, writeLegacyDatabase } from "./fixtures.ts";

Deno.test("CLI bundle of a legacy database (no run_id) is complete, with the events in report.html, and leaves the file as it was", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "inventory.db");
  writeLegacyDatabase(db);
  const before = await Deno.readFile(db);
  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  const folder = result.stdout.trim();
  const manifest = JSON.parse(await Deno.readTextFile(join(folder, "manifest.json")));
  assert.deepEqual(manifest.errors, []);
  const report = await Deno.readTextFile(join(folder, "report.html"));
  for (const [, operation] of LEGACY_ROWS) assert.ok(report.includes(operation), operation);
  assert.deepEqual(await Deno.readFile(db), before);
  assert.equal(
    dumpTable(join(folder, "database_backup.db"), "audit_log").rows.length,
    LEGACY_ROWS.length,
  );
});
