/**
 * Features used together over a site's life, through the real command line: an inventory
 * database of the earlier design adopted, logged to, archived, then read, browsed and bundled.
 * Each piece has its own tests; these check what one piece tells about the work of another.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers.ts";
import { writeLegacyDatabase } from "./fixtures.ts";

/** Runs the CLI and fails with its stderr unless it exits 0; returns its stdout. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<string> {
  const result = await runCli(args, { env });
  assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/**
 * A legacy inventory database (six events of February 2026, two of them a batch) adopted by
 * `migrate`, with `events` logged after it. Returns its path.
 */
async function adoptedSite(
  dir: string,
  events: { operation: string; sku?: string; runId?: string }[],
  name = "app.db",
): Promise<string> {
  const db = join(dir, name);
  writeLegacyDatabase(db, { legacy002: true });
  await cli(["migrate", "--db", db]);
  for (const event of events) {
    const args = ["log", event.operation, "--db", db, "--user", "night-shift"];
    if (event.sku) args.push("--sku", event.sku);
    if (event.runId) args.push("--run-id", event.runId);
    await cli(args);
  }
  return db;
}

Deno.test("query --archives --format table lays its columns out as if nothing had been archived", async () => {
  await using dir = await tempDir();
  // The legacy events are archived; the one live event has the widest operation and SKU.
  const db = await adoptedSite(dir.path, [
    { operation: "INVENTORY_RECOUNT_REQUESTED", sku: "SKU-PALLET-EUR-000123" },
  ]);
  const whole = join(dir.path, "whole.db");
  Deno.copyFileSync(db, whole);
  const archived = JSON.parse(await cli(["archive", "--db", db, "--before", "2026-06-01"]));
  assert.equal(archived.archived, 6);
  const folder = join(dir.path, "archive");
  for (const order of ["desc", "asc"]) {
    const args = ["query", "--format", "table", "--limit", "0", "--order", order];
    const expected = await cli([...args, "--db", whole]);
    assert.equal(expected.split("\n").length, 9); // header, 7 events, end
    assert.equal(await cli([...args, "--db", db, "--archives", folder]), expected, order);
  }
});
