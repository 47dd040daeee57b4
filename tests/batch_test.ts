import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BATCH_END,
  BATCH_START,
  endBatch,
  getAuditLog,
  getBatchOperations,
  listBatches,
  logAuditEvent,
  migrate,
  openDatabase,
  startBatch,
  UsageError,
} from "./internals.ts";
import { DatabaseSync } from "node:sqlite";
import { BatchEndNotRecordedError, execBatch, type SignalSource } from "../lib/batch_run.ts";
import { DatabaseBusyError } from "../lib/errors.ts";
import { bytesRead, tempDir } from "./helpers.ts";
import {
  createLog,
  insertRaw,
  ISO_TIMESTAMP,
  openMigrated,
  openToCountReads,
  writeLegacyDatabase,
} from "./fixtures.ts";

Deno.test("getBatchOperations() summarises a batch: events oldest first, start, end and duration", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  insertRaw(db, "2026-02-16T10:00:00.000Z", "BATCH_START", { run_id: "run_a", details: "go" });
  insertRaw(db, "2026-02-16T10:00:00.100Z", "OTHER", { run_id: "run_b" });
  insertRaw(db, "2026-02-16T10:00:01.000Z", "ORDER_CONFIRMED", { run_id: "run_a", sku: "SKU-1" });
  insertRaw(db, "2026-02-16T10:00:01.234Z", "BATCH_END", { run_id: "run_a", details: "done" });
  const report = getBatchOperations(db, "run_a");
  assert.deepEqual(
    { ...report, events: report.events.map((e) => [e.audit_id, e.operation, e.timestamp]) },
    {
      run_id: "run_a",
      event_count: 3,
      events: [
        [1, "BATCH_START", "2026-02-16T10:00:00.000Z"],
        [3, "ORDER_CONFIRMED", "2026-02-16T10:00:01.000Z"],
        [4, "BATCH_END", "2026-02-16T10:00:01.234Z"],
      ],
      start_time: "2026-02-16T10:00:00.000Z",
      end_time: "2026-02-16T10:00:01.234Z",
      duration_seconds: 1.234,
    },
  );
  assert.deepEqual(Object.keys(report), [
    "run_id",
    "event_count",
    "events",
    "start_time",
    "end_time",
    "duration_seconds",
  ]);
});

Deno.test("getBatchOperations() of an unknown run id is an empty batch", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "UNRELATED", run_id: "run_other" });
  assert.deepEqual(getBatchOperations(db, "run_20260216_000000_deadbeef"), {
    run_id: "run_20260216_000000_deadbeef",
    event_count: 0,
    events: [],
    start_time: null,
    end_time: null,
    duration_seconds: 0,
  });
});

Deno.test("batch durations have millisecond resolution and span legacy and ISO timestamps", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path, { legacy002: true });
  using db = openDatabase(path);
  migrate(db);
  // The legacy batch (rows 5 and 6) ran from 23:59:59 to 00:00:00 the next day.
  const legacy = getBatchOperations(db, "run_20260216_235959_0a1b2c3d");
  assert.deepEqual(
    [legacy.start_time, legacy.end_time, legacy.duration_seconds],
    ["2026-02-16T23:59:59.000Z", "2026-02-17T00:00:00.000Z", 1],
  );
  insertRaw(db, "2026-02-17T00:00:02.501Z", "BATCH_END", {
    run_id: "run_20260216_235959_0a1b2c3d",
  });
  assert.equal(getBatchOperations(db, "run_20260216_235959_0a1b2c3d").duration_seconds, 3.501);

  db.sqlite.exec(
    "INSERT INTO audit_log (timestamp, operation, run_id) VALUES ('2026-02-18 10:00:00', 'BATCH_START', 'run_mixed')",
  );
  insertRaw(db, "2026-02-18T10:00:00.007Z", "STEP", { run_id: "run_mixed" });
  insertRaw(db, "2026-02-18T09:59:59.000Z", "BATCH_END", { run_id: "run_mixed" });
  // A clock set back during the batch never gives a negative duration.
  assert.equal(getBatchOperations(db, "run_mixed").duration_seconds, 0);
  insertRaw(db, "2026-02-18T10:01:30.250Z", "BATCH_END", { run_id: "run_mixed" });
  const mixed = getBatchOperations(db, "run_mixed");
  assert.deepEqual(
    [mixed.event_count, mixed.start_time, mixed.end_time, mixed.duration_seconds],
    [4, "2026-02-18T10:00:00.000Z", "2026-02-18T10:01:30.250Z", 90.25],
  );
  assert.deepEqual(
    listBatches(db).map((b) => [b.run_id, b.event_count, b.start_time, b.duration_seconds]),
    [
      ["run_mixed", 4, "2026-02-18T10:00:00.000Z", 90.25],
      ["run_20260216_235959_0a1b2c3d", 3, "2026-02-16T23:59:59.000Z", 3.501],
    ],
  );
});

Deno.test("a full batch: start, 15 orders, end gives 17 events in order with the right duration", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "BEFORE_THE_BATCH" });
  const start = startBatch(db, "Confirm supplier orders", { user: "scheduler" });
  const runId = start.run_id!;
  assert.match(runId, /^run_\d{8}_\d{6}_[0-9a-f]{8}$/);
  for (let i = 1; i <= 15; i++) {
    logAuditEvent(db, {
      operation: "ORDER_CONFIRMED",
      sku: `SKU-${1000 + i}`,
      details: `Order ORD-${i}: ${i * 3} units`,
      run_id: runId,
    });
    if (i === 8) logAuditEvent(db, { operation: "UNRELATED", run_id: "run_someone_else" });
  }
  await new Promise((resolve) => setTimeout(resolve, 25));
  const end = endBatch(db, runId, "15 orders confirmed", { user: "scheduler" });

  const report = getBatchOperations(db, runId);
  assert.equal(report.event_count, 17);
  assert.deepEqual(
    report.events.map((e) => e.operation),
    [BATCH_START, ...Array(15).fill("ORDER_CONFIRMED"), BATCH_END],
  );
  assert.deepEqual(
    report.events.map((e) => e.sku),
    [null, ...Array.from({ length: 15 }, (_, i) => `SKU-${1001 + i}`), null],
  );
  const ids = report.events.map((e) => e.audit_id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.deepEqual(report.events[0], start);
  assert.deepEqual(report.events[16], end);
  assert.deepEqual(
    [report.events[0].details, report.events[0].user, end.details, end.user],
    ["Confirm supplier orders", "scheduler", "15 orders confirmed", "scheduler"],
  );
  assert.equal(report.start_time, start.timestamp);
  assert.equal(report.end_time, end.timestamp);
  assert.match(report.end_time!, ISO_TIMESTAMP);
  assert.equal(
    report.duration_seconds,
    (Date.parse(end.timestamp) - Date.parse(start.timestamp)) / 1000,
  );
  assert.ok(report.duration_seconds >= 0.025);
  assert.deepEqual(listBatches(db)[0], {
    run_id: runId,
    event_count: 17,
    start_time: start.timestamp,
    end_time: end.timestamp,
    duration_seconds: report.duration_seconds,
  });
});

Deno.test("listBatches() lists every run id, most recently active first, with a limit", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  insertRaw(db, "2026-02-16T08:00:00.000Z", "A", { run_id: "run_1" });
  insertRaw(db, "2026-02-16T08:00:01.000Z", "A", { run_id: "run_2" });
  insertRaw(db, "2026-02-16T08:00:02.000Z", "NO_RUN");
  insertRaw(db, "2026-02-16T08:00:03.500Z", "B", { run_id: "run_1" });
  insertRaw(db, "2026-02-16T08:00:04.000Z", "A", { run_id: "run_3" });
  assert.deepEqual(listBatches(db), [
    {
      run_id: "run_3",
      event_count: 1,
      start_time: "2026-02-16T08:00:04.000Z",
      end_time: "2026-02-16T08:00:04.000Z",
      duration_seconds: 0,
    },
    {
      run_id: "run_1",
      event_count: 2,
      start_time: "2026-02-16T08:00:00.000Z",
      end_time: "2026-02-16T08:00:03.500Z",
      duration_seconds: 3.5,
    },
    {
      run_id: "run_2",
      event_count: 1,
      start_time: "2026-02-16T08:00:01.000Z",
      end_time: "2026-02-16T08:00:01.000Z",
      duration_seconds: 0,
    },
  ]);
  assert.deepEqual(listBatches(db, { limit: 2 }).map((b) => b.run_id), ["run_3", "run_1"]);
  for (let i = 4; i <= 30; i++) logAuditEvent(db, { operation: "X", run_id: `run_${i}` });
  assert.equal(listBatches(db).length, 20);
  assert.equal(listBatches(db)[0].run_id, "run_30");
  assert.equal(listBatches(db, { limit: 0 }).length, 30);
  assert.throws(() => listBatches(db, { limit: -1 }), UsageError);
});

Deno.test({
  name: "listBatches() finds the newest batches in the run_id index without reading all of it",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    const path = join(dir.path, "app.db");
    // One long batch long ago, then thirty short ones.
    await createLog(
      path,
      Array.from({ length: 40_000 }, () => ({
        operation: "COUNTED",
        run_id: "run_20210101_000000_00000000",
      })),
      ...Array.from({ length: 30 }, (_, i) =>
        Array.from({ length: 5 }, () => ({
          operation: "COUNTED",
          run_id: `run_20260216_0000${String(i).padStart(2, "0")}_0000abcd`,
        }))),
    );
    const { db, bytes: index } = openToCountReads(path, "idx_audit_log_run_id");
    using _db = db;
    const before = bytesRead();
    const listed = listBatches(db, { limit: 3 });
    const read = bytesRead() - before;
    assert.deepEqual(listed.map((b) => [b.run_id, b.event_count]), [
      ["run_20260216_000029_0000abcd", 5],
      ["run_20260216_000028_0000abcd", 5],
      ["run_20260216_000027_0000abcd", 5],
    ]);
    assert.ok(read < index / 4, `read ${read} bytes of a ${index}-byte index`);
    assert.equal(listBatches(db, { limit: 0 }).at(-1)?.event_count, 40_000);
  },
});

Deno.test("startBatch() makes a new run id per batch, or takes a valid one", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const a = startBatch(db);
  const b = startBatch(db, "second");
  assert.notEqual(a.run_id, b.run_id);
  assert.deepEqual([a.operation, a.details, a.user], [BATCH_START, "", "system"]);
  assert.equal(startBatch(db, "", { runId: "nightly-2026-02-16" }).run_id, "nightly-2026-02-16");
  assert.throws(() => startBatch(db, "", { runId: "nightly 2026" }), UsageError);
  assert.equal(getAuditLog(db).length, 3);
});

Deno.test("endBatch() refuses an unknown or malformed run id as a bad value and stores nothing", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  assert.throws(
    () => endBatch(db, "run_20260216_000000_deadbeef"),
    (e) =>
      e instanceof UsageError &&
      e.message === 'No batch with run id "run_20260216_000000_deadbeef"',
  );
  assert.throws(() => endBatch(db, "run with spaces"), UsageError);
  assert.deepEqual(getAuditLog(db), []);
});

/**
 * A signal source driven by the test: `send` tells the listener (or keeps the signal for the
 * next one, as the command line's does).
 */
function testSignals(reachedCommand = false) {
  let listener: ((signal: Deno.Signal, reached: boolean) => void) | undefined;
  const pending: Deno.Signal[] = [];
  const source: SignalSource = (next) => {
    listener = next;
    for (const signal of pending.splice(0)) next(signal, reachedCommand);
    return { [Symbol.dispose]: () => listener = undefined };
  };
  return {
    source,
    send(signal: Deno.Signal) {
      if (listener) listener(signal, reachedCommand);
      else pending.push(signal);
    },
  };
}

async function waitForFile(path: string): Promise<void> {
  while (!(await Deno.stat(path).then(() => true, () => false))) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const POSIX = Deno.build.os !== "windows";

Deno.test({
  name:
    "execBatch() passes a signal on to the command, waits for it, and records it with 128 + its number",
  ignore: !POSIX,
  async fn() {
    await using dir = await tempDir();
    using db = openMigrated(dir.path);
    const signals = testSignals();
    const ready = join(dir.path, "ready");
    const got = join(dir.path, "got-term");
    const result = execBatch(db, {
      program: "sh",
      args: [
        "-c",
        `trap 'echo > "$1"; exit 0' TERM; echo > "$0"; while :; do sleep 0.02; done`,
        ready,
        got,
      ],
    }, { signals: signals.source, user: "ops" });
    await waitForFile(ready);
    signals.send("SIGTERM");
    const { run_id, outcome, end } = await result;
    assert.deepEqual(
      { ...outcome, duration_seconds: 0 },
      { exit_code: 143, signal: "SIGTERM", error: null, duration_seconds: 0 },
    );
    await Deno.stat(got); // the command heard it
    assert.deepEqual(JSON.parse(end.details), {
      exit_code: 143,
      signal: "SIGTERM",
      duration_seconds: outcome.duration_seconds,
    });
    assert.deepEqual(
      getBatchOperations(db, run_id).events.map((e) => [e.operation, e.details, e.user]),
      [[BATCH_START, "sh", "ops"], [BATCH_END, end.details, "ops"]],
    );
  },
});

Deno.test({
  name:
    "execBatch() does not send again a signal that reached the command already, and still records it",
  ignore: !POSIX,
  async fn() {
    await using dir = await tempDir();
    using db = openMigrated(dir.path);
    const signals = testSignals(true);
    const ready = join(dir.path, "ready");
    const got = join(dir.path, "got-int");
    // The command ends only once the signal has been sent (a fixed sleep let a busy machine
    // end it first).
    const release = join(dir.path, "release");
    const result = execBatch(db, {
      program: "sh",
      args: [
        "-c",
        `trap 'echo > "$1"' INT; echo > "$0"; while [ ! -e "$2" ]; do sleep 0.01; done`,
        ready,
        got,
        release,
      ],
    }, { signals: signals.source });
    await waitForFile(ready);
    signals.send("SIGINT");
    await Deno.writeTextFile(release, "");
    const { outcome } = await result;
    assert.deepEqual([outcome.exit_code, outcome.signal], [130, "SIGINT"]);
    assert.equal(await Deno.stat(got).then(() => true, () => false), false);
  },
});

Deno.test("execBatch() does not start the command when a signal came while the batch was starting", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const signals = testSignals();
  signals.send("SIGHUP");
  const marker = join(dir.path, "ran");
  const { outcome, run_id } = await execBatch(db, {
    program: Deno.execPath(),
    args: ["eval", `Deno.writeTextFileSync(${JSON.stringify(marker)}, "")`],
  }, { signals: signals.source });
  assert.deepEqual([outcome.exit_code, outcome.signal, outcome.error], [
    Deno.build.os === "windows" ? 128 : 129,
    "SIGHUP",
    null,
  ]);
  assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
  assert.equal(getBatchOperations(db, run_id).event_count, 2);
});

Deno.test("execBatch() that cannot store BATCH_END says how the command ended", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  openMigrated(dir.path).close();
  using db = openDatabase(path, { busyTimeoutMs: 50 });
  // Another connection takes the write lock once the batch has started, and keeps it.
  const other = new DatabaseSync(path);
  try {
    const error = await execBatch(db, {
      program: Deno.execPath(),
      args: ["eval", "Deno.exit(6)"],
    }, { onStart: () => other.exec("BEGIN IMMEDIATE") }).then(
      () => assert.fail("BATCH_END was stored under another's lock"),
      (e) => e,
    );
    assert.ok(error instanceof BatchEndNotRecordedError, String(error));
    assert.equal(error.outcome.exit_code, 6);
    assert.ok(error.cause instanceof DatabaseBusyError);
    assert.match(
      error.message,
      /^Batch run_\S+ ended \(exit code 6\), but its BATCH_END could not be stored: Database is busy/,
    );
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  assert.deepEqual(getAuditLog(db).map((e) => e.operation), [BATCH_START]);
});
