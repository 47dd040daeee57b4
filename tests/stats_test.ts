/**
 * `stats`: the figures of a log (legacy and ISO timestamps mixed), time ranges, the indexes
 * they are read from, how batches ended as `batch exec` records it, and the command line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type AuditDatabase, logAuditEvents, migrate, openDatabase } from "../mod.ts";
import { writeTransaction } from "./internals.ts";
import { UTC_TIMESTAMP_SQL } from "../lib/event_row.ts";
import { batchEndOutcome, recentBatches } from "../lib/batch_overview.ts";
import { eventsPerDay, facetCounts, getStats } from "../lib/stats.ts";
import { statsTable } from "../cli/stats.ts";
import { bytesRead, fingerprint, runCli, tempDir } from "./helpers.ts";
import {
  createLog,
  insertRaw,
  migratedFile,
  openMigrated,
  openToCountReads,
  recordStatements,
  writeLegacyDatabase,
} from "./fixtures.ts";

const TS = UTC_TIMESTAMP_SQL;

/** A legacy inventory database adopted by migrate, plus batches and odd values in ISO form. */
function mixedLog(dir: string): AuditDatabase {
  const path = join(dir, "app.db");
  writeLegacyDatabase(path, { legacy002: true });
  const raw = new DatabaseSync(path);
  // A legacy row without a user: every record prints it as "system".
  raw.exec(
    "INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES ('2026-02-16 09:00:00', 'STOCK_COUNT', 'SKU-1002', NULL, NULL)",
  );
  raw.close();
  const db = openDatabase(path);
  migrate(db);
  const batch = (runId: string, start: string, end: string | null, details = "") => {
    insertRaw(db, start, "BATCH_START", { run_id: runId, user: "cron" });
    insertRaw(db, start, "ORDER_CONFIRMED", { run_id: runId, sku: "SKU-1001", user: "cron" });
    if (end !== null) insertRaw(db, end, "BATCH_END", { run_id: runId, details, user: "cron" });
  };
  batch(
    "run_ok",
    "2026-02-17T10:00:00.000Z",
    "2026-02-17T10:00:04.000Z",
    "exit code 0 after 4.000 s",
  );
  batch(
    "run_exit",
    "2026-02-17T11:00:00.000Z",
    "2026-02-17T11:00:10.000Z",
    '{"exit_code":2,"duration_seconds":10}',
  );
  batch(
    "run_kill",
    "2026-02-18T08:00:00.000Z",
    "2026-02-18T08:01:00.000Z",
    "killed by SIGTERM after 60.000 s",
  );
  batch(
    "run_nostart",
    "2026-02-18T09:00:00.000Z",
    "2026-02-18T09:00:00.010Z",
    'Command not found: "nope" after 0.010 s',
  );
  batch(
    "run_manual",
    "2026-02-18T10:00:00.000Z",
    "2026-02-18T10:00:02.000Z",
    "15 orders confirmed",
  );
  batch("run_open", "2026-02-19T00:00:00.000Z", null);
  return db;
}

/** The same figures by plain GROUP BY over the table: what getStats must agree with. */
function groupBy(db: AuditDatabase, sql: string, ...params: string[]) {
  return db.sqlite.prepare(sql).all(...params).map((row) => ({ ...row }));
}

Deno.test("getStats() counts per day, operation, SKU and user of a log with legacy and ISO timestamps", async () => {
  await using dir = await tempDir();
  using db = mixedLog(dir.path);
  const stats = getStats(db, { top: 3 });
  assert.equal(stats.events, 7 + 17);
  assert.equal(stats.first_timestamp, "2026-02-15T08:00:00.000Z");
  assert.equal(stats.last_timestamp, "2026-02-19T00:00:00.000Z");
  assert.deepEqual(stats.per_day, [
    { day: "2026-02-15", count: 2 },
    { day: "2026-02-16", count: 4 },
    { day: "2026-02-17", count: 7 },
    { day: "2026-02-18", count: 9 },
    { day: "2026-02-19", count: 2 },
  ]);
  assert.deepEqual(
    stats.per_day,
    groupBy(
      db,
      `SELECT substr(${TS}, 1, 10) AS day, count(*) AS count FROM audit_log GROUP BY day`,
    ),
  );
  assert.deepEqual(stats.operations, [
    { operation: "ORDER_CONFIRMED", count: 8 },
    { operation: "BATCH_START", count: 6 },
    { operation: "BATCH_END", count: 5 },
    { operation: "STOCK_COUNT", count: 2 },
    { operation: "SKU_CREATED", count: 1 },
    { operation: "SKU_UPDATED", count: 1 },
    { operation: "STOCK_ADJUSTED", count: 1 },
  ]);
  assert.deepEqual(stats.top_skus, [
    { sku: "SKU-1001", count: 9 },
    { sku: "SKU-1002", count: 2 },
    { sku: "SKU-1003", count: 1 },
  ]);
  // The NULL user of the legacy row is counted with "system", as records print it.
  assert.deepEqual(stats.users, [
    { user: "cron", count: 17 },
    { user: "admin", count: 3 },
    { user: "clerk", count: 2 },
  ]);
  assert.deepEqual(getStats(db, { top: 0 }).users.at(-1), { user: "system", count: 2 });
  // Batches: the legacy run (rows 5-6) and six more; four BATCH_ENDs record a failure or not:
  // exit 2, SIGTERM and "not found" failed; exit 0 did not; a summary by hand says nothing.
  assert.deepEqual(stats.batches, { count: 7, failed: 3, median_duration_seconds: 4 });
});

Deno.test("getStats() of a time range counts only the events in it; a range holding all is the whole log", async () => {
  await using dir = await tempDir();
  using db = mixedLog(dir.path);
  const range = getStats(db, { since: "2026-02-16", until: "2026-02-17T10:59" });
  assert.equal(range.events, 4 + 4);
  assert.equal(range.first_timestamp, "2026-02-16T00:00:00.000Z");
  assert.equal(range.last_timestamp, "2026-02-17T10:00:04.000Z");
  assert.deepEqual(range.per_day, [
    { day: "2026-02-16", count: 4 },
    { day: "2026-02-17", count: 4 },
  ]);
  assert.deepEqual(
    range.operations,
    groupBy(
      db,
      `SELECT operation, count(*) AS count FROM audit_log WHERE ${TS} >= ? AND ${TS} < ?
       GROUP BY operation ORDER BY count DESC, operation`,
      "2026-02-16T00:00:00.000Z",
      "2026-02-17T11:00:00.000Z",
    ),
  );
  // The legacy run and run_ok have events in the range; only run_ok starts and ends in it.
  assert.deepEqual(range.batches, { count: 2, failed: 0, median_duration_seconds: 4 });
  assert.deepEqual(getStats(db, { since: "2000-01-01", until: "2100-01-01" }), getStats(db));
  assert.deepEqual(getStats(db, { since: "2030-01-01" }), {
    events: 0,
    without_valid_time: 0,
    first_timestamp: null,
    last_timestamp: null,
    per_day: [],
    operations: [],
    top_skus: [],
    users: [],
    batches: { count: 0, failed: 0, median_duration_seconds: null },
  });
  assert.throws(
    () => getStats(db, { since: "yesterday" }),
    /^UsageError: "yesterday" is not a valid/,
  );
  // The library names the value; the command line names its flag (--top).
  assert.throws(
    () => getStats(db, { top: -1 }),
    /^UsageError: Top must be a whole number of 0 or more, not "-1"$/,
  );
});

Deno.test("getStats() counts events without a valid time apart: in no day, no range, not first or last", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const stamps = [
    "2026-01-31 23:59:59",
    "2026-02-01T00:00:00.000Z",
    "2026-02-01T00:00:00Z",
    "2025-12-31T23:59:59.999Z",
    "2026-02-01",
  ];
  // Damaged text (some sorting among the times as text, "~" after them all), an empty one,
  // a day that is no date, and what SQLite reads as a Julian day of 4680 BC.
  const damaged = [
    "garbage",
    "garb",
    "2026-02-01 garbage",
    "2026-01-15T1",
    "",
    "2026-13-45 10:00:00",
    "~~~~",
    "12345",
  ];
  for (const stamp of [...damaged.slice(0, 4), ...stamps, ...damaged.slice(4)]) {
    insertRaw(db, stamp, "COUNTED");
  }
  const stats = getStats(db);
  assert.deepEqual(
    stats.per_day,
    groupBy(
      db,
      `SELECT substr(${TS}, 1, 10) AS day, count(*) AS count FROM audit_log
       WHERE strftime('%Y', timestamp) >= '0000' GROUP BY day ORDER BY day`,
    ),
  );
  assert.deepEqual(stats.per_day, [
    { day: "2025-12-31", count: 1 },
    { day: "2026-01-31", count: 1 },
    { day: "2026-02-01", count: 3 },
  ]);
  assert.equal(stats.events, stamps.length + damaged.length);
  assert.equal(stats.without_valid_time, damaged.length);
  assert.equal(stats.first_timestamp, "2025-12-31T23:59:59.999Z");
  assert.equal(stats.last_timestamp, "2026-02-01T00:00:00.000Z");
  assert.deepEqual(stats.operations, [{
    operation: "COUNTED",
    count: stamps.length + damaged.length,
  }]);
  // A range holds only events with a time, whichever way the others sort as text.
  for (
    const [since, until] of [["2026-01-01", "2026-02-28"], ["0001-01-01", undefined], [
      undefined,
      "9999-12-31",
    ]]
  ) {
    const ranged = getStats(db, { since, until });
    const timed = since === "2026-01-01" ? 4 : stamps.length;
    assert.equal(ranged.events, timed, `${since} ${until}`);
    assert.equal(ranged.without_valid_time, 0);
    assert.deepEqual(ranged.operations, [{ operation: "COUNTED", count: timed }]);
  }
});

Deno.test("A batch ended twice in an older database: stats, the report's batches and the viewer read its first BATCH_END", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // Before batch end refused a second end, a batch that failed could be ended again by hand,
  // and a batch that went well could get a second BATCH_END from a script.
  const twice = (runId: string, first: string, second: string) => {
    insertRaw(db, "2026-02-17T10:00:00.000Z", "BATCH_START", { run_id: runId });
    insertRaw(db, "2026-02-17T10:00:04.000Z", "BATCH_END", { run_id: runId, details: first });
    insertRaw(db, "2026-02-17T12:00:00.000Z", "BATCH_END", { run_id: runId, details: second });
  };
  twice("run_failed", '{"exit_code":3,"duration_seconds":4}', "exit code 0 after 1.000 s");
  twice("run_ok", '{"exit_code":0,"duration_seconds":4}', "exit code 2 after 1.000 s");
  const stats = getStats(db);
  assert.deepEqual(stats.batches, { count: 2, failed: 1, median_duration_seconds: 4 });
  const outlines = recentBatches(db).map((b) => [b.run_id, b.outcome, b.end_details]);
  assert.deepEqual(outlines, [
    ["run_ok", "ok", '{"exit_code":0,"duration_seconds":4}'],
    ["run_failed", "failed", '{"exit_code":3,"duration_seconds":4}'],
  ]);
});

Deno.test("stats table shows names as the query table does: escaped, cut whole, aligned in terminal columns", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const emoji = "👍🏽".repeat(25);
  for (
    const [sku, user] of [
      ["SKU-1", "bob"],
      ["SKU-1", "bob"],
      ["在庫数", "\u202Enimda"],
      [emoji, "ev\x9b[2Jil"],
      ["a\u200Bb", "line\nbreak"],
    ]
  ) insertRaw(db, "2026-02-16T10:00:00.000Z", "COUNTED", { sku, user });
  const text = statsTable(getStats(db));
  // Nothing that would move the cursor, recolour or reorder the terminal reaches it raw.
  // deno-lint-ignore no-control-regex -- the control characters are what is looked for
  assert.doesNotMatch(text, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b\u202e\ufffd]/);
  const section = (title: string) =>
    text.trimEnd().split(`\n${title}\n`)[1].split("\n\n")[0].split("\n");
  assert.deepEqual(section("TOP SKUS"), [
    `  SKU-1                                    2  ${"█".repeat(30)}`,
    `  a\\u200Bb                                 1  ${"█".repeat(15)}`,
    // Two columns a character: padded to the same 40 columns as the others.
    `  在庫数                                   1  ${"█".repeat(15)}`,
    // Cut between whole emoji (two columns each), never inside one, with a mark.
    `  ${"👍🏽".repeat(19)}…  1  ${"█".repeat(15)}`,
  ]);
  assert.deepEqual(section("USERS"), [
    `  bob          2  ${"█".repeat(30)}`,
    `  ev\\x9b[2Jil  1  ${"█".repeat(15)}`,
    `  line\\nbreak  1  ${"█".repeat(15)}`,
    `  \\u202Enimda  1  ${"█".repeat(15)}`,
  ]);
});

Deno.test("getStats() reads indexes only: no statement scans the audit_log table", async () => {
  await using dir = await tempDir();
  using db = mixedLog(dir.path);
  using recording = recordStatements(db);
  const { statements } = recording;
  getStats(db);
  getStats(db, { since: "2026-02-16", until: "2026-02-17" });
  recentBatches(db);
  recentBatches(db, { since: "2026-02-16" });
  assert.ok(statements.length >= 12);
  for (const sql of new Set(statements)) {
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail));
    for (const step of plan) {
      assert.doesNotMatch(
        step,
        /^SCAN audit_log(?! USING)/,
        `${sql}\n${plan}`,
      );
    }
  }
});

Deno.test("getStats() and the viewer's facets of a whole log with few values count each on its own stretch of its index, with the figures GROUP BY gives", async () => {
  await using dir = await tempDir();
  using db = mixedLog(dir.path);
  // Enough events for each column's few values to be counted one by one (the NULL user of the
  // legacy row and the events without a SKU among them).
  await logAuditEvents(
    db,
    Array.from({ length: 3000 }, (_, i) => ({
      operation: ["COUNTED", "MOVED", "SHIPPED"][i % 3],
      sku: i % 4 ? `SKU-${i % 5}` : undefined,
      user: `clerk${i % 7}`,
      run_id: `run_${i % 2}`,
    })),
  );
  using recording = recordStatements(db);
  const { statements } = recording;
  const stats = getStats(db, { top: 0 });
  // The viewer's facets of the whole log too.
  const facets = (["operation", "sku", "user"] as const).map((f) => facetCounts(db, {}, f, 100));
  recording.stop();
  assert.deepEqual(facets, [
    stats.operations.map((o) => ({ value: o.operation, count: o.count })),
    stats.top_skus.map((o) => ({ value: o.sku, count: o.count })),
    stats.users.map((o) => ({ value: o.user, count: o.count })),
  ]);
  assert.deepEqual(
    stats.operations,
    groupBy(
      db,
      "SELECT operation, count(*) AS count FROM audit_log GROUP BY 1 ORDER BY 2 DESC, 1",
    ),
  );
  assert.deepEqual(
    stats.top_skus,
    groupBy(
      db,
      "SELECT sku, count(*) AS count FROM audit_log WHERE sku IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
    ),
  );
  assert.deepEqual(
    stats.users,
    groupBy(
      db,
      "SELECT coalesce(user, 'system') AS user, count(*) AS count FROM audit_log GROUP BY 1 ORDER BY 2 DESC, 1",
    ),
  );
  assert.equal(stats.users.find((u) => u.user === "system")?.count, 2, "the NULL user too");
  assert.equal(stats.batches.count, 9, "run_0, run_1 and the seven of the mixed log");
  for (const sql of new Set(statements)) {
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail));
    for (const step of plan) {
      assert.doesNotMatch(
        step,
        /^SCAN audit_log USING COVERING INDEX idx_audit_log_(operation|user|sku|run_id)/,
        `no grouping over every event: ${sql}\n${plan}`,
      );
    }
  }
});

Deno.test("getStats() of a time range that is one span of ids counts it in the columns' indexes, never reading its events", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  writeTransaction(db, () => {
    for (let i = 0; i < 3000; i++) {
      const day = String(1 + Math.floor(i / 300)).padStart(2, "0");
      insertRaw(db, `2026-03-${day}T10:00:00.000Z`, ["COUNTED", "MOVED", "SHIPPED"][i % 3], {
        sku: i % 4 ? `SKU-${i % 5}` : null,
        user: `clerk${i % 7}`,
        run_id: `run_${i % 2}`,
      });
    }
  });
  const range = { since: "2026-03-03", until: "2026-03-06", top: 0 };
  const expected = () => {
    const within = `WHERE ${TS} >= '2026-03-03' AND ${TS} < '2026-03-07'`;
    const count = (column: string, extra = "") =>
      groupBy(
        db,
        `SELECT ${column} AS value, count(*) AS count FROM audit_log ${within} ${extra}
         GROUP BY 1 ORDER BY 2 DESC, 1`,
      );
    return {
      operations: count("operation"),
      skus: count("sku", "AND sku IS NOT NULL"),
      users: count("user"),
      runs: groupBy(db, `SELECT count(DISTINCT run_id) AS n FROM audit_log ${within}`)[0].n,
    };
  };
  const figures = (stats: ReturnType<typeof getStats>) => ({
    operations: stats.operations.map((o) => ({ value: o.operation, count: o.count })),
    skus: stats.top_skus.map((o) => ({ value: o.sku, count: o.count })),
    users: stats.users.map((o) => ({ value: o.user, count: o.count })),
    runs: stats.batches.count,
  });
  using recording = recordStatements(db);
  const { statements } = recording;
  const stats = getStats(db, range);
  recording.stop();
  assert.equal(stats.events, 1200);
  assert.deepEqual(figures(stats), expected());
  for (const sql of new Set(statements)) {
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail));
    for (const step of plan) {
      assert.doesNotMatch(
        step,
        /USING INDEX idx_audit_log_timestamp/,
        `no event of the range read from the table: ${sql}\n${plan}`,
      );
    }
  }
  // An event of the range logged after others of a later time: the range's ids hold events
  // of other days, and the range is read through the time index as before.
  insertRaw(db, "2026-03-04T12:00:00.000Z", "COUNTED", { user: "late", run_id: "run_late" });
  const late = getStats(db, range);
  assert.equal(late.events, 1201);
  assert.deepEqual(figures(late), expected());
});

Deno.test("getStats() counts the batches of a whole log from run id to run id, never reading the run_id index through", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  // Long run ids make their index the largest: every other figure reads less.
  await createLog(
    path,
    Array.from({ length: 20_000 }, (_, i) => ({
      operation: "COUNTED",
      run_id: `run_${i % 3}_${"x".repeat(120)}`,
    })),
  );
  const { db, bytes: index } = openToCountReads(path, "idx_audit_log_run_id");
  using _db = db;
  const before = bytesRead();
  const stats = getStats(db);
  const read = bytesRead() - before;
  assert.equal(stats.batches.count, 3);
  assert.ok(read < index, `read ${read} bytes beside a ${index}-byte run_id index`);
});

Deno.test("facet counts bounded in time read the time range's events, not a whole index", async () => {
  await using dir = await tempDir();
  using db = mixedLog(dir.path);
  using recording = recordStatements(db);
  const { statements } = recording;
  const day = { since: "2026-02-17", until: "2026-02-17" };
  assert.deepEqual(facetCounts(db, day, "operation").map((f) => [f.value, f.count]), [
    ["BATCH_END", 2],
    ["BATCH_START", 2],
    ["ORDER_CONFIRMED", 2],
    ["SKU_UPDATED", 1],
  ]);
  assert.deepEqual(facetCounts(db, { since: "2027-01-01" }, "user"), []);
  assert.deepEqual(eventsPerDay(db, { ...day, sku: "SKU-1001" }), [{
    day: "2026-02-17",
    count: 2,
  }]);
  assert.ok(statements.length >= 4);
  for (const sql of new Set(statements)) {
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail));
    for (const step of plan) assert.doesNotMatch(step, /^SCAN audit_log/, `${sql}\n${plan}`);
  }
});

Deno.test("batchEndOutcome() reads how batch exec ended a batch, in its JSON and its former text", () => {
  assert.equal(batchEndOutcome('{"exit_code":0,"duration_seconds":1.25}'), "ok");
  assert.equal(batchEndOutcome('{"exit_code":1,"duration_seconds":0.5}'), "failed");
  assert.equal(
    batchEndOutcome('{"exit_code":143,"signal":"SIGTERM","duration_seconds":9}'),
    "failed",
  );
  assert.equal(
    batchEndOutcome('{"exit_code":1,"error":"Command not found","duration_seconds":0}'),
    "failed",
  );
  assert.equal(batchEndOutcome('{"note":"hand-written JSON"}'), null);
  assert.equal(batchEndOutcome("exit code 0 after 1.250 s"), "ok");
  assert.equal(batchEndOutcome("exit code 1 after 0.031 s"), "failed");
  assert.equal(batchEndOutcome("exit code 130 after 2.000 s"), "failed");
  assert.equal(batchEndOutcome("killed by SIGKILL after 9.000 s"), "failed");
  assert.equal(batchEndOutcome('Command not found: "x" after 0.001 s'), "failed");
  assert.equal(batchEndOutcome('Could not start "x": denied after 0.001 s'), "failed");
  assert.equal(batchEndOutcome("15 orders confirmed"), null);
  assert.equal(batchEndOutcome(""), null);
});

Deno.test("CLI stats counts the batches batch exec ends with a failure, a signal or no start", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const exec = (...command: string[]) =>
    runCli(["batch", "exec", "--db", db, "--", ...command], { cwd: dir.path });
  assert.equal((await exec("true")).code, 0);
  assert.equal((await exec("false")).code, 1);
  assert.equal((await exec("sh", "-c", "kill -TERM $$")).code, 143);
  assert.equal((await exec(join(dir.path, "no-such-program"))).code, 1);
  const started = await runCli(["batch", "start", "by hand", "--db", db]);
  await runCli(["batch", "end", started.stdout.trim(), "all good", "--db", db]);
  const result = await runCli(["stats", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  const stats = JSON.parse(result.stdout);
  assert.equal(stats.batches.count, 5);
  assert.equal(stats.batches.failed, 3);
  assert.equal(typeof stats.batches.median_duration_seconds, "number");
});

Deno.test("CLI stats prints getStats() as JSON, NDJSON or a table, and refuses bad input", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  mixedLog(dir.path).close();
  const before = await fingerprint(path);
  const json = await runCli(["stats", "--top", "2", "--since", "2026-02-16", "--db", path]);
  assert.equal(json.code, 0, json.stderr);
  {
    using db = openDatabase(path);
    const expected = getStats(db, { top: 2, since: "2026-02-16" });
    assert.deepEqual(JSON.parse(json.stdout), expected);
    const ndjson = await runCli([
      "stats",
      "--top",
      "2",
      "--since",
      "2026-02-16",
      "--format",
      "ndjson",
      "--db",
      path,
    ]);
    assert.equal(ndjson.stdout, JSON.stringify(expected) + "\n");
    const table = await runCli(["stats", "--format", "table", "--db", path]);
    assert.equal(table.stdout, statsTable(getStats(db)));
  }
  const table = await runCli(["stats", "--format", "table", "--db", path]);
  assert.match(table.stdout, /^Events {4}24, 2026-02-15 08:00:00 to 2026-02-19 00:00:00 UTC\n/);
  assert.match(table.stdout, /\nBatches {3}7, 3 FAILED; median duration 4\.0 s\n/);
  assert.match(table.stdout, /\n {2}2026-02-18 {2}9 {2}█{30}\n/);
  assert.match(table.stdout, /\nUSERS\n {2}cron {4}17 {2}█{30}\n/);

  for (
    const [args, message] of [
      [["--format", "csv"], "stats cannot print --format csv"],
      [["--top", "ten"], '--top must be a whole number of 0 or more, not "ten"'],
      [["--since", "2026-02-30"], '--since "2026-02-30" is not a valid date or time'],
      [["--until", "soon"], '--until "soon" is not a valid date or time'],
      [["--limit", "3"], 'Unknown option "--limit" for stats'],
      [["extra"], 'Unexpected argument "extra" for stats'],
    ] as const
  ) {
    const bad = await runCli(["stats", ...args, "--db", path]);
    assert.equal(bad.code, 2, `${args}: ${bad.stderr}`);
    assert.equal(bad.stderr.split("\n")[0], `audit-trail: error: ${message}`);
    assert.equal(bad.stdout, "");
  }
  const missing = await runCli(["stats", "--db", join(dir.path, "none.db")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Database not found/);
  assert.equal(await fingerprint(path), before, "stats never writes");
});

Deno.test("stats table of an empty log says the log is empty, and of an empty period that the period is", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const whole = await runCli(["stats", "--format", "table", "--db", db]);
  assert.equal(whole.code, 0, whole.stderr);
  assert.equal(whole.stdout, "No events in the log.\n");
  const period = await runCli(["stats", "--since", "2026-01-01", "--format", "table", "--db", db]);
  assert.equal(period.code, 0, period.stderr);
  assert.equal(period.stdout, "No events in this range.\n");
});

Deno.test("stats table: months without events between the first and the last show as 0; events without a valid time are named apart, in the table and the report", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // 32 days with events (so the table counts by month): January 2026, then 1 April.
  for (let day = 1; day <= 31; day++) {
    insertRaw(db, `2026-01-${String(day).padStart(2, "0")}T10:00:00.000Z`, "COUNTED");
  }
  insertRaw(db, "2026-04-01T10:00:00.000Z", "COUNTED");
  insertRaw(db, "garbage", "COUNTED");
  insertRaw(db, "~damaged", "COUNTED");
  const text = statsTable(getStats(db));
  assert.match(
    text,
    /^Events {4}34, 2026-01-01 10:00:00 to 2026-04-01 10:00:00 UTC; 2 events without a valid time\n/,
  );
  const months = text.split("\nPER MONTH (UTC; 32 days with events)\n")[1].split("\n\n")[0];
  assert.deepEqual(months.split("\n"), [
    `  2026-01  31  ${"█".repeat(30)}`,
    "  2026-02   0",
    "  2026-03   0",
    `  2026-04   1  █`,
  ]);
  const report = await runCli(["report", "--output", "-", "--db", db.path]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(
    report.stdout,
    /2026-01-01 10:00:00 to 2026-04-01 10:00:00 UTC; 2 events without a valid time/,
  );
});
