import assert from "node:assert/strict";
import { join } from "node:path";
import {
  archiveEvents,
  type AuditLogFilter,
  getAuditLog,
  getBatchOperations,
  logAuditEvent,
  migrate,
  openDatabase,
  streamAuditLog,
  TamperingFoundError,
} from "./internals.ts";
import { getArchivedBatchOperations, streamWithArchives } from "../lib/archive/read.ts";
import { runCli, tempDir } from "./helpers.ts";
import { datedDatabase } from "./archive_fixtures.ts";
import { assertCleanError } from "./reliability/_support.ts";

/**
 * Two copies of one database of `count` events (and two logged now): `whole` as it is,
 * `archived` with its events before each of `cuts` archived, one archive per cut. Queries
 * must read the same from both.
 */
async function twins(dir: string, count: number, cuts: string[]) {
  const whole = datedDatabase(dir, count, "whole.db");
  {
    using db = openDatabase(whole);
    logAuditEvent(db, { operation: "STOCK_COUNTED", sku: "SKU-3", details: "after, the archive" });
    logAuditEvent(db, { operation: "ORDER_CONFIRMED", sku: "SKU-1", run_id: "run_5" });
  }
  const archived = join(dir, "archived.db");
  Deno.copyFileSync(whole, archived);
  const folder = join(dir, "archive");
  using db = openDatabase(archived);
  for (const before of cuts) await archiveEvents(db, { before });
  return { whole, archived, folder };
}

const FILTERS: AuditLogFilter[] = [
  {},
  { limit: 0 },
  { limit: 0, order: "asc" },
  { limit: 25, offset: 40 },
  { limit: 25, offset: 40, order: "asc" },
  { sku: "SKU-3", limit: 0 },
  { sku: "SKU-1", operation: "ORDER_CONFIRMED", limit: 7, order: "asc" },
  { runId: "run_5", limit: 0, order: "asc" },
  { user: "clerk1", limit: 30, offset: 95 },
  { since: "2024-01-10", until: "2024-01-20T12:00", limit: 0 },
  { since: "2024-01-10 06:00:00", limit: 10, order: "asc" },
  { contains: 'BIN "A-3"', limit: 0 },
  { afterId: 50, beforeId: 130, limit: 0 },
  { afterId: 100, limit: 5, order: "asc" },
  { beforeId: 60, limit: 5 },
  { beforeId: 1, limit: 0 },
  { afterId: 10_000 },
  { limit: 1, offset: 10_000 },
];

Deno.test("streamWithArchives() reads what the whole log would, for every filter and order", async () => {
  await using dir = await tempDir();
  const { whole, archived, folder } = await twins(dir.path, 300, [
    "2024-01-08",
    "2024-01-15",
    "2024-02-01",
  ]);
  using before = openDatabase(whole);
  using after = openDatabase(archived);
  for (const filter of FILTERS) {
    const expected = getAuditLog(before, filter);
    const pages = [...streamWithArchives(after, folder, filter, streamAuditLog)];
    assert.deepEqual(pages.flat(), expected, JSON.stringify(filter));
    assert.ok(pages.every((page) => page.length > 0 && page.length <= 1000));
  }
});

Deno.test("streamWithArchives() checks the archives it can reach before the first page", async () => {
  await using dir = await tempDir();
  const { archived, folder } = await twins(dir.path, 120, ["2024-01-08", "2024-01-15"]);
  Deno.removeSync(join(folder, "audit_archive_1_28.db"));
  using db = openDatabase(archived);
  const stream = streamWithArchives(db, folder, { limit: 10 }, streamAuditLog);
  assert.throws(() => stream.next(), /Archive audit_archive_1_28\.db cannot be read/);
  // A cursor past the missing archive's events does not need it.
  const newer = [...streamWithArchives(db, folder, { afterId: 28, limit: 0 }, streamAuditLog)];
  assert.equal(newer.flat().length, 94);
  const first = streamWithArchives(db, folder, { afterId: 28, limit: 0 }, streamAuditLog);
  assert.equal(first.next().value?.[0].audit_id, 122);
  assert.equal(db.sqlite.isTransaction, true);
  first.return(undefined);
  // The snapshot ends with the stream: writers go on.
  assert.equal(db.sqlite.isTransaction, false);
});

Deno.test("streamWithArchives() refuses an archive that is not the one its checkpoint names", async () => {
  await using dir = await tempDir();
  const { archived, folder } = await twins(dir.path, 120, ["2024-01-08", "2024-01-15"]);
  const [older, newer] = ["audit_archive_1_28.db", "audit_archive_29_56.db"].map((n) =>
    join(folder, n)
  );
  const bytes = Deno.readFileSync(older);
  Deno.copyFileSync(newer, older);
  using db = openDatabase(archived);
  assert.throws(
    () => [...streamWithArchives(db, folder, { limit: 0 }, streamAuditLog)],
    (error) => error instanceof TamperingFoundError && /audit_archive_1_28\.db/.test(error.message),
  );
  Deno.writeFileSync(older, bytes);
});

Deno.test("a batch that spans the archive boundary is shown whole", async () => {
  await using dir = await tempDir();
  // run_5 holds events 51-60; the cut falls after event 55, and one more was logged after.
  const { whole, archived, folder } = await twins(dir.path, 80, ["2024-01-14T18:00:00Z"]);
  using before = openDatabase(whole);
  using after = openDatabase(archived);
  const report = getArchivedBatchOperations(after, folder, "run_5");
  assert.equal(report.event_count, 11);
  assert.deepEqual(report, getBatchOperations(before, "run_5"));
  assert.equal(getBatchOperations(after, "run_5").event_count, 6);
  assert.deepEqual(getArchivedBatchOperations(after, folder, "run_unknown"), {
    run_id: "run_unknown",
    event_count: 0,
    events: [],
    start_time: null,
    end_time: null,
    duration_seconds: 0,
  });
});

Deno.test("query --archives prints what the whole log would, in every format", async () => {
  await using dir = await tempDir();
  const { whole, archived, folder } = await twins(dir.path, 200, ["2024-01-08", "2024-01-20"]);
  const runs: string[][] = [
    ["--limit", "0"],
    ["--limit", "0", "--format", "ndjson", "--order", "asc"],
    ["--limit", "0", "--format", "csv"],
    ["--sku", "SKU-2", "--format", "csv", "--order", "asc", "--limit", "0"],
    ["--since", "2024-01-05", "--until", "2024-01-25", "--format", "table", "--limit", "0"],
    ["--before-id", "60", "--limit", "10"],
  ];
  for (const args of runs) {
    const expected = await runCli(["query", ...args, "--db", whole]);
    const result = await runCli(["query", ...args, "--archives", folder, "--db", archived]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, expected.stdout, args.join(" "));
  }
  // An orphan archive (a copy of archived events) is never read twice.
  Deno.copyFileSync(join(folder, "audit_archive_1_28.db"), join(folder, "audit_archive_1_29.db"));
  const all = await runCli(["query", "--limit", "0", "--archives", folder, "--db", archived]);
  const ids = JSON.parse(all.stdout).map((e: { audit_id: number }) => e.audit_id);
  assert.equal(new Set(ids).size, 202);
  assert.equal(ids.length, 202);
});

Deno.test("query --archives --format table sizes its columns from rows of every source", async () => {
  await using dir = await tempDir();
  const archived = join(dir.path, "app.db");
  const whole = join(dir.path, "whole.db");
  let cut: string;
  {
    using db = openDatabase(archived, { create: true });
    migrate(db);
    const details = "Created from the supplier's file of 2024-03-01";
    logAuditEvent(db, { operation: "SKU_CREATED_FROM_FILE", sku: "SKU-1001", details });
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The live log's only event, narrower in every column: a page of its own, read first.
    cut = logAuditEvent(db, { operation: "X", sku: "S-1" }).timestamp;
  }
  Deno.copyFileSync(archived, whole);
  {
    using db = openDatabase(archived);
    assert.equal((await archiveEvents(db, { before: cut })).archived, 1);
  }
  const folder = join(dir.path, "archive");
  for (const order of ["desc", "asc"]) {
    const table = ["query", "--format", "table", "--order", order];
    const expected = await runCli([...table, "--db", whole]);
    const result = await runCli([...table, "--archives", folder, "--db", archived]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, expected.stdout, order);
  }
});

Deno.test("batch show --archives and query --archives: errors name the folder or the file", async () => {
  await using dir = await tempDir();
  const { whole, archived, folder } = await twins(dir.path, 80, ["2024-01-14T18:00:00Z"]);
  const shown = await runCli(["batch", "show", "run_5", "--archives", folder, "--db", archived]);
  assert.equal(shown.code, 0, shown.stderr);
  const expected = await runCli(["batch", "show", "run_5", "--db", whole]);
  assert.equal(shown.stdout, expected.stdout);
  assert.equal(JSON.parse(shown.stdout).event_count, 11);

  const nowhere = join(dir.path, "nowhere");
  for (const args of [["query"], ["batch", "show", "run_5"]]) {
    assertCleanError(
      await runCli([...args, "--archives", nowhere, "--db", archived]),
      1,
      /Archive folder not found/,
    );
  }
  Deno.renameSync(join(folder, "audit_archive_1_55.db"), join(dir.path, "moved.db"));
  assertCleanError(
    await runCli(["query", "--limit", "0", "--archives", folder, "--db", archived]),
    1,
    /^audit-trail: error: Archive audit_archive_1_55\.db cannot be read in ".*": it is not there$/,
  );
  Deno.copyFileSync(join(dir.path, "moved.db"), join(folder, "audit_archive_1_55.db"));
  // An empty folder name is a bad value, as for archive --to, whether or not it exists.
  assertCleanError(
    await runCli(["query", "--archives", "", "--db", archived]),
    2,
    /--archives must not be empty/,
  );
});

Deno.test("--archives on a database that never archived reads the live log, folder or not", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 12);
  const missing = join(dir.path, "archive");
  const plain = await runCli(["query", "--limit", "0", "--db", db]);
  const query = await runCli(["query", "--limit", "0", "--archives", missing, "--db", db]);
  assert.equal(query.code, 0, query.stderr);
  assert.equal(query.stdout, plain.stdout);
  const verify = await runCli(["verify", "--archives", missing, "--db", db]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.deepEqual(JSON.parse(verify.stdout).archives, []);
});
