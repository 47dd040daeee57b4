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

Deno.test("CLI bundle verify of the earlier audit module's bundle says it lists no files, not that it was changed", async () => {
  await using dir = await tempDir();
  // That module's manifest: these four fields and no file list.
  const folder = join(dir.path, "debug_bundle_20260216_143005");
  await Deno.mkdir(folder);
  await Deno.writeTextFile(
    join(folder, "manifest.json"),
    JSON.stringify({
      bundle_id: "debug_bundle_20260216_143005",
      created_at: "2026-02-16T14:30:05.123456",
      database_path: "data/app.db",
      audit_records_exported: 2,
    }),
  );
  await Deno.writeTextFile(join(folder, "audit_log.csv"), "audit_id,operation\n1,A\n2,B\n");
  const result = await runCli(["bundle", "verify", folder]);
  assert.equal(result.code, 1);
  assert.equal(JSON.parse(result.stdout).bundle_id, "debug_bundle_20260216_143005");
  assert.match(
    result.stderr,
    /^audit-trail: error: .*manifest\.json: lists no files \(made by the earlier audit module, which kept no checksums\), so nothing can be checked\nhint: .*Ask for a new bundle/,
  );
});
