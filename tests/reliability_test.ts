/**
 * The reliability suite, after the way SQLite tests itself: each case injects a fault through
 * the real command line (parallel load, kill -9 and Ctrl-C, locks held by another program, a
 * full disk, read-only places, hostile input, fuzzing, a clock that jumps back), then checks
 * that every acknowledged event is still there and unchanged, that nothing half-written is,
 * and that `PRAGMA integrity_check` says `ok`. Each case prints its own figures (faults
 * injected, bad inputs tried, acknowledged events found again).
 *
 * Cases and parts that need what a machine may lack (root for mounts and another user, strace,
 * libfaketime, Linux's /proc) are reported as ignored where they cannot run, with the reason.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { main } from "../cli.ts";
import { durationSeconds } from "../lib/batch.ts";
import { RUNTIME_FLAGS } from "../scripts/runtime_flags.ts";
import { LEGACY_AUDIT_LOG_SQL } from "./fixtures.ts";
import {
  CLI,
  cliCommand,
  collectOutput,
  lockWaitUnobservable,
  migratedDb,
  tempDir,
  testIo,
  untilWaitingForLock,
} from "./helpers.ts";
import {
  argumentList,
  invalidEvent,
  mutateBytes,
  notAnEventLine,
  type Random,
  runId,
  text,
  validEvent,
} from "./reliability/_fuzz.ts";
import {
  assertChainIntact,
  assertCleanError,
  assertIntact,
  assertNoCrash,
  available,
  countEvents,
  delay,
  type ExpectedEvent,
  fill,
  holdLock,
  leaveChangeInWal,
  Ledger,
  listFiles,
  mountUnavailable,
  ndjson,
  optionalStep,
  random,
  readOnlyBind,
  reliabilityCase,
  report,
  runTimed,
  sh,
  tally,
  tmpfs,
  withSqlite,
} from "./reliability/_support.ts";

const encoder = new TextEncoder();

// What this machine allows: a case or step that needs what is missing is reported as
// ignored, with the reason printed, never as passed.
/** Why a tmpfs cannot be mounted here, or `null`. */
const MOUNT = await mountUnavailable();
/** Why the CLI cannot be run as another user here, or `null`. */
const NOBODY = await nobodyUnavailable();
/** Why `sh` cannot pass bytes that are not UTF-8 in argv here, or `null`. */
const SH = (await available("sh", ["-c", "exit 0"])) ? null : "no sh to pass raw bytes";

/** How a case runs the CLI: as this user (`runTimed`) or as another. */
type Runner = (
  args: string[],
  options?: { stdin?: string },
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Acknowledges a single `log` that printed its id. */
function ackLog(
  ledger: Ledger,
  result: { code: number; stdout: string; stderr: string },
  event: ExpectedEvent,
) {
  assert.equal(result.code, 0, result.stderr);
  assertNoCrash(result.stderr);
  assert.match(
    result.stdout,
    /^\d+\n$/,
    `log must print the id alone, got ${JSON.stringify(result.stdout)}`,
  );
  ledger.ack(Number(result.stdout), event);
}

function logArgs(db: string, event: ExpectedEvent): string[] {
  const args = ["log", event.operation, "--db", db];
  if (event.details !== undefined) args.push("--details", event.details);
  if (event.sku) args.push("--sku", event.sku);
  if (event.user !== undefined) args.push("--user", event.user);
  if (event.run_id) args.push("--run-id", event.run_id);
  return args;
}

async function logOne(ledger: Ledger, event: ExpectedEvent, options: { timeoutMs?: number } = {}) {
  const result = await runTimed(logArgs(ledger.path, event), {
    timeoutMs: options.timeoutMs ?? 60_000,
  });
  ackLog(ledger, result, event);
  return Number(result.stdout);
}

async function logBulk(ledger: Ledger, events: ExpectedEvent[], timeoutMs = 60_000) {
  const result = await runTimed(["log", "--stdin", "--db", ledger.path], {
    stdin: ndjson(events),
    timeoutMs,
  });
  assert.equal(result.code, 0, result.stderr);
  assertNoCrash(result.stderr);
  ledger.ackBulk(JSON.parse(result.stdout), events);
}

// 1 ------------------------------------------------------------------------------------------

reliabilityCase({
  name: "reliability 1: parallel writers, bulk ingests, readers and a bundle lose nothing",
}, async () => {
  await using dir = await tempDir();
  // Scripts often run "migrate" at start-up, all at once: each must succeed, and every
  // migration must be applied exactly once between them.
  const db = join(dir.path, "data", "app.db");
  const migrations = await Promise.all(
    Array.from({ length: 8 }, () => runTimed(["migrate", "--db", db], { timeoutMs: 60_000 })),
  );
  for (const result of migrations) assert.equal(result.code, 0, result.stderr);
  const applied = migrations.flatMap((result) => JSON.parse(result.stdout).applied);
  assert.deepEqual(
    applied.map((m: { version: number }) => m.version).sort((a: number, b: number) => a - b),
    withSqlite(
      db,
      (s) => s.prepare("SELECT version FROM audit_trail_migrations ORDER BY version").all(),
    )
      .map((row) => row.version),
  );
  const ledger = new Ledger(db);
  const WRITERS = 16;
  const ROUNDS = 4;
  const BULK = 12_000;
  let writing = true;
  let reads = 0;

  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let round = 0; round < ROUNDS; round++) {
      await logOne(ledger, {
        operation: "PARALLEL_LOG",
        details: `writer ${w} round ${round}`,
        sku: `SKU-${w}`,
        user: `clerk-${w}`,
      });
    }
  });
  const bulks = [0, 1].map((b) =>
    logBulk(
      ledger,
      Array.from({ length: BULK }, (_, i) => ({
        operation: "PARALLEL_BULK",
        details: `bulk ${b} line ${i}`,
        run_id: `run_bulk_${b}`,
        user: "importer",
      })),
    )
  );
  // Readers must always see whole ingests (one transaction each) and ids in order.
  const readers = [["--order", "asc"], ["--order", "desc"]].map(async (order) => {
    while (writing) {
      const result = await runTimed([
        "query",
        "--limit",
        "0",
        "--format",
        "ndjson",
        ...order,
        "--db",
        db,
      ]);
      assert.equal(result.code, 0, result.stderr);
      const rows = result.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line));
      for (let i = 1; i < rows.length; i++) {
        assert.ok(
          order[1] === "asc"
            ? rows[i].audit_id > rows[i - 1].audit_id
            : rows[i].audit_id < rows[i - 1].audit_id,
          "ids out of order",
        );
      }
      for (const b of [0, 1]) {
        const seen = rows.filter((row) => row.run_id === `run_bulk_${b}`).length;
        assert.ok(
          seen === 0 || seen === BULK,
          `a reader saw ${seen} of ${BULK} events of one ingest`,
        );
      }
      reads++;
    }
  });
  // The chain is checked while it grows: a check must never see a half-sealed write.
  const checker = (async () => {
    while (writing) {
      await assertChainIntact(db);
      await delay(100);
    }
  })();
  const bundle = (async () => {
    await delay(300);
    const result = await runTimed(["bundle", "--output", join(dir.path, "bundles"), "--db", db], {
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, result.stderr);
    assertNoCrash(result.stderr);
    const folder = result.stdout.trim();
    await assertBundleWhole(folder);
    assertIntact(join(folder, "database_backup.db"));
  })();

  try {
    await Promise.all([...writers, ...bulks]);
  } finally {
    writing = false;
  }
  await Promise.all([...readers, checker, bundle]);
  assert.ok(reads >= 2, "the readers never completed a read during the load");
  assert.equal(countEvents(db), WRITERS * ROUNDS + 2 * BULK);
  ledger.verify();
  assertIntact(db);
  await assertChainIntact(db);
});

// 2 ------------------------------------------------------------------------------------------

reliabilityCase({
  name: "reliability 2: kill -9 or Ctrl-C in a large --stdin ingest stores none or all of it",
}, async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const ledger = new Ledger(db);
  for (let i = 0; i < 3; i++) {
    await logOne(ledger, { operation: "BEFORE_KILL", details: `${i}` });
  }

  const LINES = 30_000;
  const outcomes: string[] = [];
  /** One ingest, killed with `signal` while its input arrives or `when` ms after it ended. */
  const ingest = async (k: number, signal: Deno.Signal | null, when: "input" | number) => {
    const events = Array.from({ length: LINES }, (_, i) => ({
      operation: "KILLED_INGEST",
      details: `kill ${k} line ${i} ${"·".repeat(40)}`,
    }));
    const bytes = encoder.encode(ndjson(events));
    const child = cliCommand(["log", "--stdin", "--db", db], { stdin: "" }).spawn();
    const writer = child.stdin.getWriter();
    if (when === "input") {
      await writer.write(bytes.subarray(0, bytes.length >> 1));
      await delay(150);
    } else {
      await writer.write(bytes);
      await writer.close();
      await delay(when);
    }
    const ended = performance.now();
    if (signal) {
      try {
        child.kill(signal);
        tally.faults++;
      } catch {
        // It had already finished: then it must have acknowledged everything.
      }
    }
    await writer.close().catch(() => {});
    const output = await child.output();
    const elapsed = performance.now() - ended;
    const label = signal ? `${signal}@${when}` : "no kill";
    const present = countEvents(db, "details LIKE ?", `kill ${k} line %`);
    if (output.code === 0) {
      ledger.ackBulk(JSON.parse(new TextDecoder().decode(output.stdout)), events);
      outcomes.push(`${label}: finished first`);
    } else {
      assert.ok(present === 0 || present === LINES, `${present} of ${LINES} events after ${label}`);
      if (present === LINES) {
        const span = withSqlite(db, (s) =>
          s.prepare(
            "SELECT max(audit_id) - min(audit_id) + 1 AS n FROM audit_log WHERE details LIKE ?",
          ).get(`kill ${k} line %`)!.n);
        assert.equal(span, LINES, "a committed ingest must hold consecutive ids");
      }
      outcomes.push(`${label}: ${present === 0 ? "none" : "all"}`);
    }
    assertIntact(db);
    await logOne(ledger, { operation: "AFTER_KILL", details: `after kill ${k}` });
    return elapsed;
  };

  await ingest(0, "SIGKILL", "input");
  await ingest(1, "SIGINT", "input");
  // How long an ingest of this size runs once its input has ended; kills then land across
  // that span, through the staging, the copy into audit_log and the commit.
  const span = await ingest(2, null, 0);
  let k = 3;
  for (const fraction of [0, 0.3, 0.6, 0.8, 0.9, 1]) {
    await ingest(k++, "SIGKILL", Math.round(span * fraction));
  }
  await ingest(k++, "SIGINT", Math.round(span * 0.6));
  report(`  outcomes: ${outcomes.join(", ")}`);
  assert.ok(outcomes.some((o) => o.endsWith("none")), "no kill landed before the commit");
  // SQLite's temporary files are unlinked when made: a kill leaves nothing but the database,
  // and perhaps the empty file an ingest killed while appending announced itself with.
  const stray = (await listFiles(dir.path)).filter((name) =>
    !/^app\.db(-wal|-shm)?$/.test(name) &&
    !(name === "app.db-ingest" && Deno.statSync(join(dir.path, name)).size === 0)
  );
  assert.deepEqual(stray, []);
  ledger.verify();
  assertIntact(db);
  await assertChainIntact(db);
});

/** Digest of every audit_log row as the inventory application wrote it. */
function legacyDigest(path: string): string {
  return withSqlite(path, (s) => {
    const hash = createHash("sha256");
    const rows = s.prepare(
      "SELECT audit_id, timestamp, operation, sku, details, user FROM audit_log ORDER BY audit_id",
    );
    for (const row of rows.iterate()) hash.update(JSON.stringify(row));
    return hash.digest("hex");
  });
}

reliabilityCase({
  name: "reliability 2: kill -9 during migrate of a large legacy database leaves a whole version",
}, async () => {
  await using dir = await tempDir();
  // An inventory database with 60,000 events, before audit-trail ever touched it.
  const original = join(dir.path, "legacy.db");
  withSqlite(original, (s) =>
    s.exec(`${LEGACY_AUDIT_LOG_SQL};
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
      INSERT INTO audit_log (timestamp, operation, sku, details, user)
      SELECT datetime('2026-01-01', '+' || i || ' seconds'), 'STOCK_ADJUSTED', 'SKU-' || (i % 900),
        CASE WHEN i % 7 THEN 'moved ' || i || ' units' END, 'clerk'
      FROM n;`));
  const digest = legacyDigest(original);
  const copy = async (name: string) => {
    const path = join(dir.path, name);
    await Deno.copyFile(original, path);
    return path;
  };

  const control = await copy("control.db");
  const started = performance.now();
  const full = await runTimed(["migrate", "--db", control], { timeoutMs: 120_000 });
  const span = performance.now() - started;
  assert.equal(full.code, 0, full.stderr);
  const latest = JSON.parse(full.stdout).to_version;

  const outcomes: string[] = [];
  for (const [k, fraction] of [0.25, 0.5, 0.75, 0.9].entries()) {
    const db = await copy(`killed-${k}.db`);
    const child = cliCommand(["migrate", "--db", db]).spawn();
    await delay(Math.round(span * fraction));
    try {
      child.kill("SIGKILL");
      tally.faults++;
    } catch {
      // Finished already.
    }
    await child.output();
    assertIntact(db);
    assert.equal(legacyDigest(db), digest, "a killed migrate changed or lost legacy events");
    // Whole versions only: the bookkeeping lists 1..k, and the schema matches it.
    const versions = withSqlite(db, (s) => {
      const table = s.prepare(
        "SELECT 1 FROM sqlite_schema WHERE name = 'audit_trail_migrations'",
      ).get();
      return table
        ? s.prepare("SELECT version FROM audit_trail_migrations ORDER BY version").all()
          .map((row) => row.version as number)
        : [];
    });
    assert.deepEqual(versions, versions.map((_, i) => i + 1));
    const hasRunId = withSqlite(
      db,
      (s) => s.prepare("SELECT 1 FROM pragma_table_info('audit_log') WHERE name = 'run_id'").get(),
    );
    assert.equal(Boolean(hasRunId), versions.includes(2), "schema and bookkeeping disagree");
    outcomes.push(`@${fraction}: version ${versions.at(-1) ?? 0}`);
    // Running it again finishes the job, and the tool works.
    const again = await runTimed(["migrate", "--db", db], { timeoutMs: 120_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).to_version, latest);
    assert.equal(legacyDigest(db), digest);
    const ledger = new Ledger(db);
    await logOne(ledger, { operation: "AFTER_KILLED_MIGRATE" });
    ledger.verify();
    assertIntact(db);
    await assertChainIntact(db);
  }
  report(
    `  migrate of 60,000 legacy events (${Math.round(span)} ms), killed ${outcomes.join(", ")}`,
  );
});

/**
 * Runs the CLI under strace and returns the order of the calls that matter for durability:
 * the WAL file's descriptor, its fsyncs, and the write of the acknowledgement to stdout.
 */
async function syscallOrder(args: string[], stdin?: string) {
  const log = join(await Deno.makeTempDir({ prefix: "audit-trail-strace-" }), "trace");
  const child = new Deno.Command("strace", {
    args: [
      "-f",
      "-e",
      "trace=openat,fsync,fdatasync,write,pwrite64",
      "-o",
      log,
      Deno.execPath(),
      "run",
      "--quiet",
      ...RUNTIME_FLAGS,
      CLI,
      ...args,
    ],
    env: { NO_COLOR: "1", AUDIT_TRAIL_DB: "", AUDIT_TRAIL_USER: "", AUDIT_TRAIL_RUN_ID: "" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(encoder.encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const trace = await Deno.readTextFile(log);
  await Deno.remove(join(log, ".."), { recursive: true });
  return {
    code: output.code,
    stderr: new TextDecoder().decode(output.stderr),
    lines: trace.split("\n"),
  };
}

/** Why strace cannot trace a process here, or `null`. */
async function straceUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `needs Linux, this is ${Deno.build.os}`;
  const probe = await sh("strace", ["-f", "-o", "/dev/null", "true"]);
  if (probe.code === 127) return "strace is not installed (apt-get install strace)";
  if (probe.code !== 0) return `strace cannot trace here: ${probe.stderr.trim()}`;
  return null;
}

reliabilityCase({
  name: "reliability 2: an event is acknowledged only after its WAL frames reach the disk",
  unavailable: await straceUnavailable(),
}, async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  for (
    const [label, args, stdin, ack] of [
      ["log", ["log", "DURABLE", "--db", db], undefined, /write\(1, "\d+\\n"/],
      [
        "log --stdin",
        ["log", "--stdin", "--db", db],
        ndjson([{ operation: "DURABLE" }]),
        /write\(1, ".*inserted/,
      ],
    ] as const
  ) {
    const { code, stderr, lines } = await syscallOrder([...args], stdin);
    assert.equal(code, 0, stderr);
    // The database's own WAL (Deno's caches are SQLite files with WALs of their own).
    const walFd = lines.filter((line) => line.includes(`"${db}-wal"`))
      .map((line) => / = (\d+)$/.exec(line)?.[1]).find(Boolean);
    assert.ok(walFd, `${label}: the WAL file was never opened`);
    const acked = lines.findIndex((line) => ack.test(line));
    assert.ok(acked > 0, `${label}: no acknowledgement written`);
    // The commit's frames are written, then synced, and only then is the id printed.
    const before = lines.slice(0, acked);
    const lastWrite = before.findLastIndex((line) => line.includes(`pwrite64(${walFd},`));
    const lastSync = before.findLastIndex((line) =>
      new RegExp(`f(data)?sync\\(${walFd}[)<]`).test(line)
    );
    assert.ok(lastWrite >= 0, `${label}: nothing written to the WAL before the acknowledgement`);
    assert.ok(lastSync > lastWrite, `${label}: acknowledged before the WAL was synced`);
  }
});

// 3 ------------------------------------------------------------------------------------------

/** A bundle under its final name: a folder or ZIP named for its second, maybe with `_N`. */
const FINAL_BUNDLE = /^debug_bundle_\d{8}_\d{6}(_\d+)?(\.zip)?$/;

/** Fails unless `bundle verify` finds the bundle at `path` whole. */
async function assertBundleWhole(path: string) {
  const verify = await runTimed(["bundle", "verify", path]);
  assert.equal(verify.code, 0, `bundle verify ${path}: ${verify.stdout} ${verify.stderr}`);
}

reliabilityCase({
  name: "reliability 3: kill -9 or Ctrl-C during a bundle leaves no broken file under a final name",
}, async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const ledger = new Ledger(db);
  await logBulk(
    ledger,
    Array.from({ length: 60_000 }, (_, i) => ({
      operation: "BUNDLED",
      sku: `SKU-${i % 700}`,
      details: `event ${i} ${"x".repeat(60)}`,
    })),
  );
  const out = join(dir.path, "bundles");
  const bundle = (compress: boolean) =>
    cliCommand([
      "bundle",
      "--output",
      out,
      "--audit-limit",
      "0",
      ...(compress ? ["--compress"] : []),
      "--db",
      db,
    ]).spawn();

  // Uninterrupted bundles: whole, and how long one takes, so that kills land inside it.
  const duration = new Map<boolean, number>();
  for (const compress of [false, true]) {
    const started = performance.now();
    const output = await bundle(compress).output();
    duration.set(compress, performance.now() - started);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    await assertBundleWhole(new TextDecoder().decode(output.stdout).trim());
  }

  const outcomes: string[] = [];
  for (const compress of [false, true]) {
    for (const signal of ["SIGKILL", "SIGINT"] as const) {
      for (const fraction of signal === "SIGKILL" ? [0.3, 0.8] : [0.2, 0.6]) {
        const before = new Set(await listFiles(out));
        const child = bundle(compress);
        await delay(Math.round(duration.get(compress)! * fraction));
        try {
          child.kill(signal);
          tally.faults++;
        } catch {
          // Finished already.
        }
        const output = await child.output();
        const stderr = new TextDecoder().decode(output.stderr);
        const added = (await listFiles(out)).filter((name) => !before.has(name));
        const finals = added.filter((name) => FINAL_BUNDLE.test(name));
        const partials = added.filter((name) => !FINAL_BUNDLE.test(name));
        // Whatever carries a final name is whole, however the run ended.
        for (const name of finals) await assertBundleWhole(join(out, name));
        const label = `${compress ? "zip" : "folder"} ${signal}@${fraction}`;
        if (output.code === 0) {
          assert.equal(finals.length, 1, label);
          outcomes.push(`${label}: finished first`);
        } else {
          if (signal === "SIGINT") {
            // Ctrl-C: the run says so and removes its temporary files.
            assertNoCrash(stderr);
            assert.equal(output.code, 130, `${label}: exit ${output.code}: ${stderr}`);
            assert.deepEqual(partials, [], `${label}: temporary files left after Ctrl-C`);
          } else {
            for (const name of partials) assert.match(name, /\.partial$/, label);
            for (const name of partials) await Deno.remove(join(out, name), { recursive: true });
          }
          outcomes.push(`${label}: ${finals.length ? "whole" : "nothing"} under a final name`);
        }
        assertIntact(db);
      }
    }
  }
  report(`  outcomes: ${outcomes.join(", ")}`);
  // Nor anything beside the database.
  const stray = (await listFiles(dir.path)).filter((name) =>
    !/^(app\.db(-wal|-shm)?|bundles)$/.test(name)
  );
  assert.deepEqual(stray, []);
  await logOne(ledger, { operation: "AFTER_BUNDLE_KILLS" });
  ledger.verify();
  assertIntact(db);
  await assertChainIntact(db);
});

// 4 ------------------------------------------------------------------------------------------

reliabilityCase({
  name:
    "reliability 4: a lock held by another program is waited out for 2 s and refused after 10 s",
  unavailable: await lockWaitUnobservable(),
}, async () => {
  await using dir = await tempDir();

  // Both run at once: the long one takes over 10 s by design.
  const short = (async () => {
    const db = await migratedDb(dir.path, "short.db");
    const ledger = new Ledger(db);
    // A program of another kind: a Deno process using SQLite through node:sqlite.
    const holder = await holdLock(db, "deno");
    tally.faults++;
    const child = cliCommand(["log", "WAITED_FOR_LOCK", "--db", db]).spawn();
    // Held for 2 s from the moment the process is seen waiting, however late it started.
    await untilWaitingForLock(child);
    await delay(2_000);
    await holder.release();
    ackLog(ledger, await collectOutput(child), { operation: "WAITED_FOR_LOCK" });
    ledger.verify();
    assertIntact(db);
    await assertChainIntact(db);
  })();

  const long = (async () => {
    const db = await migratedDb(dir.path, "long.db");
    const ledger = new Ledger(db);
    await logOne(ledger, { operation: "BEFORE_LOCK" });
    const holder = await holdLock(db);
    tally.faults++;
    let results;
    try {
      results = await Promise.all([
        runTimed(["log", "TOO_LATE", "--db", db], { timeoutMs: 30_000 }),
        runTimed(["log", "--stdin", "--db", db], {
          stdin: ndjson(
            Array.from(
              { length: 1000 },
              (_, i) => ({ operation: "TOO_LATE_BULK", details: `${i}` }),
            ),
          ),
          timeoutMs: 30_000,
        }),
        runTimed(["batch", "start", "too late", "--db", db], { timeoutMs: 30_000 }),
        // WAL: readers are not blocked by a writer's lock.
        delay(500).then(() =>
          runTimed(["query", "--limit", "0", "--db", db], { timeoutMs: 5_000 })
        ),
      ]);
    } finally {
      await holder.release();
    }
    const [single, bulk, batch, reader] = results;
    for (const result of [single, bulk, batch]) {
      assertCleanError(result, 1, /busy/i);
      assert.ok(result.ms >= 9_500, `gave up after ${result.ms} ms, before the 10 s wait`);
    }
    assert.equal(reader.code, 0, reader.stderr);
    assert.equal(JSON.parse(reader.stdout).length, 1);
    assert.equal(countEvents(db), 1, "a write refused as busy must write nothing");
    await logOne(ledger, { operation: "AFTER_LOCK" });
    ledger.verify();
    assertIntact(db);
    await assertChainIntact(db);
  })();

  await Promise.all([short, long]);
});

// 5 ------------------------------------------------------------------------------------------

reliabilityCase({
  name: "reliability 5: a full disk fails with exit 1 saying so, and keeps every earlier event",
  unavailable: MOUNT,
}, async () => {
  await using disk = await tmpfs("1m");
  const db = join(disk.path, "app.db");
  const migrated = await runTimed(["migrate", "--db", db]);
  assert.equal(migrated.code, 0, migrated.stderr);
  const ledger = new Ledger(db);
  await logBulk(
    ledger,
    Array.from({ length: 20 }, (_, i) => ({ operation: "BEFORE_FULL", details: `${i}` })),
  );
  await logOne(ledger, { operation: "BEFORE_FULL", sku: "SKU-1" });

  const refused = (label: string) => ({
    operation: "REFUSED_" + label,
    details: "x".repeat(60_000),
  });
  const tryWrites = async (label: string, small: boolean) => {
    tally.faults++;
    const writes = [logArgs(db, refused(label))];
    // A small event may still fit where there is a little room.
    if (small) writes.push(["batch", "start", `refused ${label}`, "--db", db]);
    for (const args of writes) assertCleanError(await runTimed(args), 1, /disk is full/i);
    const bulk = await runTimed(["log", "--stdin", "--db", db], {
      stdin: ndjson(Array.from({ length: 200 }, () => refused(label))),
    });
    assertCleanError(bulk, 1, /disk is full/i);
  };

  // No room at all: not even for the WAL index that each new connection sets up.
  let filler = await fill(disk.path);
  await tryWrites("NO_ROOM", true);
  await Deno.remove(filler);
  // A little room: the WAL index fits, the event does not.
  filler = await fill(disk.path, 40 * 1024);
  await tryWrites("LITTLE_ROOM", false);
  // A bundle written to the full disk: refused as such, nothing left behind.
  const bundles = join(disk.path, "bundles");
  const result = await runTimed(["bundle", "--output", bundles, "--db", db]);
  assertCleanError(result, 1, /disk is full|no space left/i);
  const left = await listFiles(bundles).catch(() => []);
  assert.deepEqual(left, [], "a bundle that failed for lack of space left files");
  await Deno.remove(filler);

  await logOne(ledger, { operation: "AFTER_FULL" });
  assert.equal(countEvents(db, "operation LIKE 'REFUSED_%'"), 0, "a refused write left events");
  assert.equal(countEvents(db), ledger.size);
  ledger.verify();
  assertIntact(db);
  await assertChainIntact(db);
});

// 6 ------------------------------------------------------------------------------------------

/** On a database that cannot be written: reading works, every write fails as read-only. */
async function checkReadOnly(db: string, events: number, run: Runner = runTimed) {
  tally.faults++;
  const query = await run(["query", "--limit", "0", "--format", "ndjson", "--db", db]);
  assert.equal(query.code, 0, query.stderr);
  assert.equal(query.stdout.split("\n").filter(Boolean).length, events);
  const list = await run(["batch", "list", "--db", db]);
  assert.equal(list.code, 0, list.stderr);
  await assertChainIntact(db, run);
  for (
    const args of [
      ["log", "READ_ONLY", "--db", db],
      ["batch", "start", "read-only", "--db", db],
    ]
  ) {
    assertCleanError(await run(args), 1, /read-only/i);
  }
  assertCleanError(
    await run(["log", "--stdin", "--db", db], { stdin: ndjson([{ operation: "READ_ONLY" }]) }),
    1,
    /read-only/i,
  );
}

reliabilityCase({
  name: "reliability 6: on a read-only mount or file, query works and log fails clearly",
}, async (t) => {
  await optionalStep(
    t,
    { name: "a whole file system mounted read-only", unavailable: MOUNT },
    async () => {
      await using disk = await tmpfs("4m");
      const db = join(disk.path, "app.db");
      assert.equal((await runTimed(["migrate", "--db", db])).code, 0);
      const ledger = new Ledger(db);
      await logBulk(ledger, [{ operation: "ON_DISK", sku: "SKU-1" }, {
        operation: "ON_DISK",
        run_id: "run_ro",
      }]);
      await disk.remount("ro");
      await checkReadOnly(db, 2);
      await disk.remount("rw");
      await logOne(ledger, { operation: "WRITABLE_AGAIN" });
      ledger.verify();
      assertIntact(db);
      await assertChainIntact(db);
    },
  );

  await optionalStep(t, {
    name: "a read-only bind mount of a folder that others can still write",
    unavailable: MOUNT,
  }, async () => {
    await using dir = await tempDir();
    const source = await migratedDb(dir.path);
    const sourceLedger = new Ledger(source);
    await logOne(sourceLedger, { operation: "BOUND" });
    {
      await using view = await readOnlyBind(dir.path);
      await checkReadOnly(join(view.path, "app.db"), 1);
    }
    sourceLedger.verify();
  });

  await optionalStep(t, {
    name: "read-only media holding changes still in the -wal file: refused clearly, never stale",
    unavailable: MOUNT,
  }, async () => {
    await using stale = await tmpfs("4m");
    const walDb = join(stale.path, "app.db");
    assert.equal((await runTimed(["migrate", "--db", walDb])).code, 0);
    leaveChangeInWal(walDb);
    await stale.remount("ro");
    tally.faults++;
    const query = await runTimed(["query", "--format", "ndjson", "--db", walDb]);
    if (query.code === 0) {
      assert.match(query.stdout, /IN_WAL_ONLY/, "a read-only reader missed committed events");
    } else {
      assertCleanError(query, 1, /-wal/);
    }
  });

  // Root ignores file modes: a read-only file needs a user who is not root.
  await optionalStep(t, {
    name: "a read-only file, for a user who is not root",
    unavailable: NOBODY,
  }, async () => {
    await using nobodyHome = await tempDir();
    const nobody = await nobodyRunner(nobodyHome.path);
    await using shared = await tempDir();
    await Deno.chmod(shared.path, 0o1777);
    const db = await migratedDb(shared.path);
    const ledger = new Ledger(db);
    await logOne(ledger, { operation: "OWNED_BY_ROOT" });
    await Deno.chmod(db, 0o444);
    // The folder is writable (the WAL index can be made), the file is not.
    await checkReadOnly(db, 1, nobody);
    // Neither the folder nor the file is writable.
    await Deno.chmod(db, 0o644);
    await Deno.chmod(shared.path, 0o755);
    await checkReadOnly(db, 1, nobody);
    // As a database closed cleanly is left (no -wal, no -shm), copied where it cannot write.
    await using copy = await tempDir();
    await Deno.chmod(copy.path, 0o755);
    withSqlite(db, (s) => s.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    await Deno.copyFile(db, join(copy.path, "app.db"));
    await checkReadOnly(join(copy.path, "app.db"), 1, nobody);
    ledger.verify();
    assertIntact(db);
    await assertChainIntact(db);
  });
});

/** Why the CLI cannot be run as `nobody` here, or `null`. */
async function nobodyUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `needs Linux, this is ${Deno.build.os}`;
  if (Deno.uid() !== 0) return "needs root to switch to another user";
  if (!(await available("setpriv"))) return "setpriv is not installed";
  return null;
}

/**
 * Runs the CLI as `nobody` (through setpriv), with a Deno cache in `denoDir` that it can read;
 * fails when the CLI does not start that way.
 */
async function nobodyRunner(denoDir: string): Promise<Runner> {
  const info = await sh(Deno.execPath(), ["info", "--json"]);
  const npmCache = info.code === 0 ? JSON.parse(info.stdout).npmCache as string : undefined;
  await Deno.chmod(denoDir, 0o777);
  if (npmCache) await sh("cp", ["-r", npmCache, join(denoDir, "npm")]);
  await sh("chmod", ["-R", "a+rwX", denoDir]);
  const run = async (args: string[], options: { stdin?: string } = {}) => {
    const child = new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        Deno.execPath(),
        "run",
        "--quiet",
        ...RUNTIME_FLAGS,
        CLI,
        ...args,
      ],
      env: {
        DENO_DIR: denoDir,
        HOME: denoDir,
        NO_COLOR: "1",
        AUDIT_TRAIL_DB: "",
        AUDIT_TRAIL_USER: "",
      },
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const started = performance.now();
    const result = await collectOutput(child, options.stdin);
    return { ...result, ms: performance.now() - started };
  };
  const probe = await run(["--version"]);
  assert.equal(probe.code, 0, `the CLI does not start as nobody here: ${probe.stderr}`);
  return run;
}

// 7 ------------------------------------------------------------------------------------------

/** Runs `audit-trail ARGS` through `sh`, whose printf can put bytes that are not UTF-8 in argv. */
async function runWithRawBytes(shellArgs: string, env: string = "", timeoutMs = 30_000) {
  const script =
    `deno="$1"; cli="$2"; shift 2; ${env} exec "$deno" run --quiet "$@" "$cli" ${shellArgs}`;
  const child = new Deno.Command("sh", {
    args: ["-c", script, "sh", Deno.execPath(), CLI, ...RUNTIME_FLAGS],
    env: { NO_COLOR: "1", AUDIT_TRAIL_DB: "", AUDIT_TRAIL_USER: "", AUDIT_TRAIL_RUN_ID: "" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const output = await child.output().finally(() => clearTimeout(timer));
  assert.ok(!hung, `audit-trail ${shellArgs} hung`);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Streams for calling `main()` in-process; output past 1,000,000 characters is dropped. */
function fakeIo(options: { stdin?: Uint8Array; env?: Record<string, string>; cwd: string }) {
  return testIo({ ...options, limit: 1_000_000 });
}

reliabilityCase({
  name:
    "reliability 7: hostile input gets a clear error or correct handling, never a crash or hang",
}, async (t) => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const ledger = new Ledger(db);
  await logOne(ledger, { operation: "BEFORE_HOSTILE", details: "kept" });
  const refuse = async (
    label: string,
    result: Promise<{ code: number; stdout: string; stderr: string }>,
    code: number,
    pattern: RegExp,
  ) => {
    tally.badInputs++;
    const got = await result;
    try {
      assertCleanError(got, code, pattern);
    } catch (error) {
      throw new Error(`${label}: ${(error as Error).message}`);
    }
  };
  const stdin = (bytes: string | Uint8Array, timeoutMs = 30_000) =>
    runTimed(["log", "--stdin", "--db", db], { stdin: bytes, timeoutMs });

  // Invalid UTF-8 and NUL bytes on stdin.
  const bytes = (...parts: (string | number[])[]) =>
    Uint8Array.from(
      parts.flatMap((p) => typeof p === "string" ? Array.from(encoder.encode(p)) : p),
    );
  await refuse(
    "invalid UTF-8 on stdin",
    stdin(bytes('{"operation":"A', [0xff, 0xfe], '"}\n')),
    2,
    /Line 1: .*UTF-8/,
  );
  await refuse(
    "invalid UTF-8 on line 3",
    stdin(bytes('{"operation":"A"}\n{"operation":"B"}\n{"operation":"', [0xc0, 0xaf], '"}\n')),
    2,
    /Line 3: .*UTF-8/,
  );
  await refuse(
    "a NUL byte inside a JSON string",
    stdin(bytes('{"operation":"A', [0], 'B"}\n')),
    2,
    /Line 1: /,
  );
  await refuse(
    "a NUL byte between lines",
    stdin(bytes('{"operation":"A"}\n', [0], "\n")),
    2,
    /Line 2: /,
  );
  await refuse(
    "an escaped NUL character",
    stdin('{"operation":"A","details":"x\\u0000y"}\n'),
    2,
    /Line 1: .*NUL/,
  );
  await refuse(
    "an unpaired surrogate",
    stdin('{"operation":"A\\ud800"}\n'),
    2,
    /Line 1: .*surrogate/,
  );

  // Invalid UTF-8 in arguments and environment: only a shell can pass such bytes.
  await optionalStep(t, {
    name: "invalid UTF-8 in arguments and environment, a folder as stdin",
    unavailable: SH,
  }, async () => {
    await refuse(
      "invalid UTF-8 in OPERATION",
      runWithRawBytes(`log "$(printf 'A\\377B')" --db '${db}'`),
      2,
      /OPERATION .*UTF-8/,
    );
    await refuse(
      "invalid UTF-8 in --details",
      runWithRawBytes(`log A --details "$(printf '\\300\\257')" --db '${db}'`),
      2,
      /--details .*UTF-8/,
    );
    await refuse(
      "invalid UTF-8 in AUDIT_TRAIL_USER",
      runWithRawBytes(`log A --db '${db}'`, `AUDIT_TRAIL_USER="$(printf '\\377')"`),
      2,
      /AUDIT_TRAIL_USER.*UTF-8/,
    );
    // Standard input that is not a stream of lines at all.
    await refuse("a folder as stdin", runWithRawBytes(`log --stdin --db '${db}' < /`), 1, /input/);
  });
  const devicesUnavailable = SH ?? (Deno.build.os === "linux" ? null : "Linux devices");
  await optionalStep(
    t,
    { name: "endless devices as stdin", unavailable: devicesUnavailable },
    async () => {
      const devices = [["/dev/zero", /longer than/], ["/dev/urandom", /Line \d+: /]] as const;
      for (const [device, pattern] of devices) {
        await refuse(
          `${device} as stdin`,
          runWithRawBytes(`log --stdin --db '${db}' < ${device}`),
          2,
          pattern,
        );
      }
    },
  );
  // NUL in arguments: the operating system cannot pass one, so main() gets it directly.
  for (
    const args of [
      ["log", "A\0B"],
      ["log", "A", "--details", "x\0y"],
      ["log", "A", "--sku", "\0"],
      ["batch", "start", "a\0b"],
    ]
  ) {
    tally.badInputs++;
    const { io, out } = fakeIo({ cwd: dir.path });
    const code = await main([...args, "--db", db], io);
    assert.equal(code, 2, `${JSON.stringify(args)}: ${out.stderr}`);
    assert.match(out.stderr, /^audit-trail: error: .*NUL/);
  }

  // Size: a 10 MB line (with and without a final newline), 100,000 tiny lines.
  const huge = `{"operation":"HUGE","details":"${"a".repeat(10_000_000)}"}`;
  await refuse("a 10 MB line", stdin(huge + "\n"), 2, /Line 1: .*longer than/);
  await refuse(
    "a 10 MB line after a valid one",
    stdin('{"operation":"A"}\n' + huge),
    2,
    /Line 2: .*longer than/,
  );
  await refuse(
    "100,000 characters of details in an argument",
    runTimed(["log", "A", "--details", "d".repeat(100_000), "--db", db]),
    2,
    /65536/,
  );
  const tiny = Array.from({ length: 100_000 }, (_, i) => ({ operation: "T", details: `${i}` }));
  await logBulk(ledger, tiny);

  // Shapes: deep nesting, wrong types, things that are not events.
  await refuse(
    "deeply nested arrays",
    stdin("[".repeat(1_000_000) + "]".repeat(1_000_000) + "\n"),
    2,
    /Line 1: /,
  );
  await refuse(
    "deeply nested details",
    stdin(`{"operation":"A","details":${'{"a":'.repeat(200_000)}1${"}".repeat(200_000)}}\n`),
    2,
    /Line 1: .*details/,
  );
  for (
    const [label, line, pattern] of [
      ["a number as operation", '{"operation":42}', /operation.*string/],
      ["a huge number as operation", '{"operation":1e400}', /operation.*string/],
      ["a boolean as user", '{"operation":"A","user":true}', /user.*string/],
      ["a number as sku", '{"operation":"A","sku":1001}', /sku.*string/],
      ["an array as details", '{"operation":"A","details":["a"]}', /details.*string/],
      ["an object as run_id", '{"operation":"A","run_id":{}}', /run_id.*string/],
      ["a bare string", '"ORDER_CONFIRMED"', /event object/],
      ["a bare number", "12", /event object/],
      ["null", "null", /event object/],
    ] as const
  ) {
    await refuse(
      label,
      stdin(`{"operation":"OK"}\n${line}\n`),
      2,
      new RegExp(`Line 2: .*${pattern.source}`),
    );
  }
  assert.equal(
    countEvents(db, "operation IN ('A', 'OK', 'HUGE')"),
    0,
    "a refused input stored events",
  );

  // A database file cut to half its size.
  const truncated = await migratedDb(dir.path, "truncated.db");
  // Its events are destroyed on purpose, so they are not counted as acknowledged.
  const filled = await runTimed(["log", "--stdin", "--db", truncated], {
    stdin: ndjson(
      Array.from(
        { length: 3000 },
        (_, i) => ({ operation: "FILL", details: `${i} ${"x".repeat(200)}` }),
      ),
    ),
  });
  assert.equal(filled.code, 0, filled.stderr);
  const size = (await Deno.stat(truncated)).size;
  await Deno.truncate(truncated, size >> 1);
  tally.faults++;
  for (
    const args of [["query"], ["query", "--limit", "0", "--order", "asc"], ["log", "AFTER_CUT"], [
      "batch",
      "list",
    ], ["migrate"]]
  ) {
    await refuse(
      `truncated database: ${args.join(" ")}`,
      runTimed([...args, "--db", truncated]),
      1,
      /damaged|cannot be read/i,
    );
  }
  for (const [label, length] of [["cut to 100 bytes", 100], ["cut to 0 bytes", 0]] as const) {
    await Deno.truncate(truncated, length);
    tally.faults++;
    await refuse(
      label,
      runTimed(["log", "X", "--db", truncated]),
      1,
      /cannot be read|not set up|damaged/i,
    );
  }

  // A database with pages in its middle overwritten by garbage.
  const damaged = await migratedDb(dir.path, "damaged.db");
  const filledDamaged = await runTimed(["log", "--stdin", "--db", damaged], {
    stdin: ndjson(
      Array.from(
        { length: 20_000 },
        (_, i) => ({ operation: "FILL", details: `${i} ${"x".repeat(100)}` }),
      ),
    ),
  });
  assert.equal(filledDamaged.code, 0, filledDamaged.stderr);
  {
    const pages = Math.floor((await Deno.stat(damaged)).size / 4096);
    using file = await Deno.open(damaged, { write: true });
    const garbage = new Uint8Array(3 * 4096);
    const r = random(7);
    for (let i = 0; i < garbage.length; i++) garbage[i] = r.int(256);
    await file.seek((pages >> 1) * 4096, Deno.SeekMode.Start);
    for (let at = 0; at < garbage.length;) at += await file.write(garbage.subarray(at));
  }
  tally.faults++;
  const damagedRuns: string[][] = [
    ["query", "--limit", "0"],
    ["query", "--contains", "19999"],
    ["log", "AFTER_DAMAGE"],
    ["batch", "list"],
    ["verify"],
    ["head"],
  ];
  for (const args of damagedRuns) {
    tally.badInputs++;
    const result = await runTimed([...args, "--db", damaged]);
    assertNoCrash(result.stderr);
    if (result.code !== 0) {
      assert.equal(result.code, 1, `${args.join(" ")} on a damaged database: ${result.stderr}`);
      assert.match(
        result.stderr,
        /^audit-trail: error: .*(damaged|cannot be read)/,
        args.join(" "),
      );
    }
  }
  const result = await runTimed([
    "bundle",
    "--output",
    join(dir.path, "bundles"),
    "--db",
    damaged,
  ], {
    timeoutMs: 60_000,
  });
  assertNoCrash(result.stderr);
  assert.equal(result.code, 1, result.stderr);
  const [line] = result.stderr.split("\n");
  assert.ok(line.length < 2000, `a ${line.length}-character error line`);
  await assertBundleWhole(result.stdout.trim());

  // A WAL file from another database.
  for (const pageSize of [1024, 4096]) {
    const own = await migratedDb(dir.path, `own-${pageSize}.db`);
    assert.equal((await runTimed(["log", "OWN_EVENT", "--db", own])).code, 0);
    const other = join(dir.path, `other-${pageSize}.db`);
    withSqlite(other, (s) => {
      s.exec(
        `PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
        CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(5000));`,
      );
      Deno.copyFileSync(other + "-wal", own + "-wal");
    });
    tally.faults++;
    tally.badInputs++;
    const query = await runTimed(["query", "--db", own]);
    const log = await runTimed(["log", "AFTER_FOREIGN_WAL", "--db", own]);
    // SQLite cannot tell a WAL of another database from its own (even one of another page
    // size) and replays it; here that leaves a file without audit_log, refused cleanly.
    for (const result of [query, log]) {
      assertCleanError(result, 1, /not set up|cannot be read|damaged/i);
    }
    assertIntact(own);
  }

  // A settings file that cannot be used: the bundle is still made, without it, and says why.
  const settings = join(dir.path, "settings.json");
  const hostileSettings: [string, () => Promise<void>, RegExp][] = [
    [
      "not JSON",
      () => Deno.writeTextFile(settings, '{"host": "db1", "password": "x",\n'),
      /not valid JSON/,
    ],
    [
      "50 MB of JSON",
      () => Deno.writeTextFile(settings, JSON.stringify({ note: "n".repeat(50_000_000) })),
      /larger than/,
    ],
    ["50 MB of random bytes", () => {
      const bytes = new Uint8Array(50 * 1024 * 1024);
      for (let at = 0; at < bytes.length; at += 65_536) {
        crypto.getRandomValues(bytes.subarray(at, at + 65_536));
      }
      return Deno.writeFile(settings, bytes);
    }, /larger than/],
    [
      "not UTF-8",
      () => Deno.writeFile(settings, Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d])),
      /settings/,
    ],
    [
      "nested 100,000 deep",
      () => Deno.writeTextFile(settings, '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000)),
      /nested too deeply/,
    ],
  ];
  for (const [label, write, pattern] of hostileSettings) {
    await write();
    tally.badInputs++;
    const result = await runTimed(["bundle", "--output", join(dir.path, "bundles"), "--db", db], {
      timeoutMs: 60_000,
    });
    assertNoCrash(result.stderr);
    assert.equal(result.code, 1, `settings ${label}: ${result.stderr}`);
    assert.match(result.stderr, /^audit-trail: error: .*settings\.json.*\n(hint: .*\n)?$/, label);
    assert.match(result.stderr, pattern, label);
    const path = result.stdout.trim();
    await assertBundleWhole(path);
    await assert.rejects(Deno.stat(join(path, "settings.json")), `settings ${label} was copied`);
  }
  await Deno.remove(settings);

  assert.equal(countEvents(db), ledger.size, "events appeared that nobody acknowledged");
  ledger.verify();
  assertIntact(db);
  await assertChainIntact(db);
});

// 8 ------------------------------------------------------------------------------------------

const FUZZ_SEED = Number(Deno.env.get("AUDIT_TRAIL_FUZZ_SEED") ?? 20260216);

/** Splits a document the way audit-trail reads NDJSON, for the model of what must be stored. */
function modelLines(doc: Uint8Array): unknown[] | null {
  let textDoc: string;
  try {
    textDoc = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(doc);
  } catch {
    return null;
  }
  const values: unknown[] = [];
  for (const [i, raw] of textDoc.split("\n").entries()) {
    let line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (i === 0 && line.startsWith("\ufeff")) line = line.slice(1);
    if (line.trim() === "") continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      return null;
    }
  }
  return values;
}

reliabilityCase({
  name: "reliability 8: seeded fuzzing of arguments and NDJSON keeps every invariant",
}, async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const ledger = new Ledger(db);
  const r = random(FUZZ_SEED);
  const env = { AUDIT_TRAIL_DB: db, AUDIT_TRAIL_USER: "fuzz-user" };
  const started = performance.now();
  let cases = 0;

  const check = (label: string, code: number, stderr: string) => {
    assert.ok([0, 1, 2].includes(code), `${label}: exit ${code}`);
    assertNoCrash(stderr);
    if (code !== 0) assert.match(stderr, /^audit-trail: error: \S/m, `${label}: ${stderr}`);
  };

  // a) NDJSON documents, in-process: valid, spoiled, and damaged byte by byte.
  for (let i = 0; i < 2000; i++) {
    cases++;
    const lines = 1 + r.int(6);
    const events: Record<string, unknown>[] = [];
    let expectValid = true;
    const texts: string[] = [];
    for (let l = 0; l < lines; l++) {
      const roll = r.next();
      if (roll < 0.08) {
        texts.push(notAnEventLine(r));
        expectValid = false;
      } else if (roll < 0.2) {
        const event = invalidEvent(r);
        texts.push(JSON.stringify(event));
        expectValid = false;
      } else {
        const event = validEvent(r);
        events.push(event);
        texts.push(JSON.stringify(event));
      }
      if (r.chance(0.05)) texts.push(r.pick(["", "   ", "\r"]));
    }
    let doc: Uint8Array = encoder.encode(
      texts.join(r.chance(0.2) ? "\r\n" : "\n") + (r.chance(0.8) ? "\n" : ""),
    );
    const mutated = r.chance(0.3);
    if (mutated) doc = mutateBytes(doc, r);
    if (mutated || !expectValid) tally.badInputs++;
    const args = ["log", "--stdin"];
    const defaults = { user: "fuzz-user", run_id: null as string | null };
    if (r.chance(0.2)) args.push("--user", defaults.user = `u${r.int(100)}`);
    if (r.chance(0.2)) args.push(`--run-id=${(defaults.run_id = runId(r))}`);
    const before = countEvents(db);
    const { io, out } = fakeIo({ stdin: doc, env, cwd: dir.path });
    const code = await main(args, io);
    const label = `ndjson case ${i} (seed ${FUZZ_SEED})`;
    check(label, code, out.stderr);
    assert.notEqual(code, 1, `${label}: runtime failure without a fault: ${out.stderr}`);
    if (!mutated) assert.equal(code, expectValid ? 0 : 2, `${label}: ${out.stderr}`);
    if (code !== 0) {
      assert.equal(countEvents(db), before, `${label}: refused input stored events`);
      assert.match(out.stderr, /Line \d+: /, label);
      continue;
    }
    // Accepted: what was stored is exactly what the lines said, defaults filled in.
    const model = modelLines(doc);
    assert.ok(model, `${label}: accepted input that is not NDJSON`);
    const result = JSON.parse(out.stdout);
    assert.equal(result.inserted, model.length, label);
    if (model.length === 0) continue;
    ledger.ackBulk(
      result,
      model.map((value) => {
        const e = value as Record<string, string | null>;
        return {
          operation: e.operation!,
          details: e.details ?? "",
          sku: e.sku ?? null,
          user: e.user ?? defaults.user,
          run_id: e.run_id ?? defaults.run_id,
        };
      }),
    );
  }

  // b) Argument lists, in-process, on a database of their own (what they log is not tracked).
  const argvDb = await migratedDb(dir.path, "argv.db");
  const argvEnv = { ...env, AUDIT_TRAIL_DB: argvDb };
  const stdinFor = (r: Random) => encoder.encode(ndjson([validEvent(r)]));
  for (let i = 0; i < 2000; i++) {
    cases++;
    tally.badInputs++;
    const args = argumentList(r);
    if (r.chance(0.2)) {
      args.push("--db", r.pick([argvDb, join(dir.path, "missing", "x.db"), dir.path]));
    }
    const { io, out } = fakeIo({ stdin: stdinFor(r), env: argvEnv, cwd: dir.path });
    let code: number;
    try {
      code = await main(args, io);
    } catch (error) {
      throw new Error(`argv case ${i} ${JSON.stringify(args)} threw: ${(error as Error).stack}`);
    }
    check(`argv case ${i} ${JSON.stringify(args)}`, code, out.stderr);
  }

  // c) Well-formed `log` arguments with wild text, in-process: the record read back is the record sent.
  for (let i = 0; i < 600; i++) {
    cases++;
    const event = validEvent(r);
    if (event.details === undefined || (event.details?.length ?? 0) > 2000) {
      event.details = text(r, 200);
    }
    const sent: ExpectedEvent = {
      operation: event.operation!,
      details: event.details ?? "",
      sku: event.sku ?? null,
      user: event.user ?? "fuzz-user",
      run_id: event.run_id ?? null,
    };
    const args = ["log", `--format=json`];
    // "--opt=value" keeps values that start with "-" from reading as options.
    args.push(`--details=${sent.details}`);
    if (sent.sku !== null) args.push(`--sku=${sent.sku}`);
    if (event.user) args.push(`--user=${event.user}`);
    if (sent.run_id !== null) args.push(`--run-id=${sent.run_id}`);
    args.push("--", sent.operation);
    const { io, out } = fakeIo({ env, cwd: dir.path });
    const code = await main(args, io);
    check(`log case ${i}`, code, out.stderr);
    assert.equal(code, 0, `log case ${i} ${JSON.stringify(args)}: ${out.stderr}`);
    const record = JSON.parse(out.stdout);
    assert.deepEqual(
      {
        operation: record.operation,
        details: record.details,
        sku: record.sku,
        user: record.user,
        run_id: record.run_id,
      },
      sent,
    );
    ledger.ack(record.audit_id, sent);
  }

  // d) Through real processes and pipes: wild text in, the same text out of `query`.
  const batches = Array.from({ length: 6 }, () => Array.from({ length: 300 }, () => validEvent(r)));
  const results = await Promise.all(
    batches.map((events) =>
      runTimed(["log", "--stdin", "--db", db], {
        stdin: ndjson(events),
        env: { AUDIT_TRAIL_USER: "pipe-user" },
      })
    ),
  );
  for (const [b, result] of results.entries()) {
    cases++;
    assert.equal(result.code, 0, result.stderr);
    const inserted = JSON.parse(result.stdout);
    const expected = batches[b].map((e) => ({
      operation: e.operation!,
      details: e.details ?? "",
      sku: e.sku ?? null,
      user: e.user ?? "pipe-user",
      run_id: e.run_id ?? null,
    }));
    ledger.ackBulk(inserted, expected);
    const query = await runTimed([
      "query",
      "--after-id",
      String(inserted.first_audit_id - 1),
      "--before-id",
      String(inserted.last_audit_id + 1),
      "--order",
      "asc",
      "--limit",
      "0",
      "--format",
      b % 2 ? "json" : "ndjson",
      "--db",
      db,
    ]);
    assert.equal(query.code, 0, query.stderr);
    const rows = b % 2
      ? JSON.parse(query.stdout)
      : query.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((row: ExpectedEvent) => ({
        operation: row.operation,
        details: row.details,
        sku: row.sku,
        user: row.user,
        run_id: row.run_id,
      })),
      expected,
    );
  }

  const seconds = (performance.now() - started) / 1000;
  report(`  ${cases} fuzz cases (seed ${FUZZ_SEED}) in ${seconds.toFixed(1)} s`);
  ledger.verify();
  assert.equal(countEvents(db), ledger.size, "events appeared that nobody acknowledged");
  assertIntact(db);
  assertIntact(argvDb);
  await assertChainIntact(db);
  await assertChainIntact(argvDb);
});

// 9 ------------------------------------------------------------------------------------------

const FAKETIME_LIBRARIES = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
  "/usr/lib/faketime/libfaketimeMT.so.1",
];

async function faketimeLibrary(): Promise<string | null> {
  for (const path of FAKETIME_LIBRARIES) {
    try {
      await Deno.stat(path);
      return path;
    } catch {
      // try the next
    }
  }
  return null;
}

const FAKETIME = await faketimeLibrary();

reliabilityCase({
  name: "reliability 9: a clock that jumps back keeps insertion order and durations of 0 or more",
}, async (t) => {
  await using dir = await tempDir();

  // a) The real CLI under libfaketime, the clock set back between events.
  await optionalStep(t, {
    name: "the real CLI under libfaketime",
    unavailable: FAKETIME ? null : "libfaketime is not installed (apt-get install faketime)",
  }, async () => {
    const library = FAKETIME!;
    const db = await migratedDb(dir.path, "faketime.db");
    const ledger = new Ledger(db);
    const at = (time: string) => ({
      env: { LD_PRELOAD: library, FAKETIME: `@${time}`, FAKETIME_DONT_RESET: "1" },
    });
    const start = await runTimed(
      ["batch", "start", "clock test", "--db", db],
      at("2026-03-01 12:00:00"),
    );
    assert.equal(start.code, 0, start.stderr);
    const run = start.stdout.trim();
    const steps = [
      ["STEP_1", "2026-03-01 11:00:00"], // an hour back
      ["STEP_2", "2026-02-27 12:00:00"], // two days back
      ["STEP_3", "2026-03-01 12:05:00"], // forward again
      ["STEP_4", "2026-03-01 11:59:59"],
    ];
    for (const [operation, time] of steps) {
      tally.faults++;
      const result = await runTimed(["log", operation, "--run-id", run, "--db", db], at(time));
      ackLog(ledger, result, { operation, run_id: run });
    }
    const end = await runTimed(
      ["batch", "end", run, "done", "--db", db],
      at("2026-03-01 09:00:00"),
    );
    assert.equal(end.code, 0, end.stderr);
    const show = await runTimed(["batch", "show", run, "--db", db]);
    assert.equal(show.code, 0, show.stderr);
    const report = JSON.parse(show.stdout);
    assert.match(report.events[1].timestamp, /^2026-03-01T11:00/, "libfaketime had no effect");
    {
      assert.deepEqual(report.events.map((e: { operation: string }) => e.operation), [
        "BATCH_START",
        ...steps.map((s) => s[0]),
        "BATCH_END",
      ]);
      const ids = report.events.map((e: { audit_id: number }) => e.audit_id);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
      assert.ok(report.duration_seconds >= 0, `duration ${report.duration_seconds}`);
      const query = await runTimed(["query", "--run-id", run, "--order", "asc", "--db", db]);
      assert.deepEqual(JSON.parse(query.stdout).map((e: { audit_id: number }) => e.audit_id), ids);
      const list = await runTimed(["batch", "list", "--db", db]);
      for (const batch of JSON.parse(list.stdout)) assert.ok(batch.duration_seconds >= 0);
    }
    ledger.verify();
    assertIntact(db);
    await assertChainIntact(db);
  });

  // b) Always: rows whose timestamps go backwards, written by another program into a batch.
  const db = await migratedDb(dir.path, "backwards.db");
  const ledger = new Ledger(db);
  withSqlite(db, (s) => {
    const insert = s.prepare(
      "INSERT INTO audit_log (timestamp, operation, run_id) VALUES (?, ?, 'run_back')",
    );
    insert.run("2026-03-01T12:00:00.000Z", "BATCH_START");
    insert.run("2026-03-01 11:00:00", "LEGACY_FORM_EARLIER");
    insert.run("2026-02-01T00:00:00.000Z", "MONTH_EARLIER");
    insert.run("2026-03-01T11:30:00.000Z", "BATCH_END");
  });
  tally.faults++;
  const show = await runTimed(["batch", "show", "run_back", "--db", db]);
  const report = JSON.parse(show.stdout);
  assert.deepEqual(report.events.map((e: { operation: string }) => e.operation), [
    "BATCH_START",
    "LEGACY_FORM_EARLIER",
    "MONTH_EARLIER",
    "BATCH_END",
  ]);
  assert.equal(report.duration_seconds, 0);
  const list = JSON.parse((await runTimed(["batch", "list", "--db", db])).stdout);
  assert.equal(list[0].duration_seconds, 0);
  const desc = JSON.parse((await runTimed(["query", "--db", db])).stdout);
  assert.deepEqual(desc.map((e: { audit_id: number }) => e.audit_id), [4, 3, 2, 1]);
  const next = await logOne(ledger, { operation: "AFTER_BACKWARDS", run_id: "run_back" });
  assert.equal(next, 5);

  // c) durationSeconds itself.
  assert.equal(durationSeconds("2026-03-01T12:00:00.000Z", "2026-03-01T11:00:00.000Z"), 0);
  assert.equal(durationSeconds("2026-03-01T12:00:00.000Z", "2026-03-01T12:00:01.500Z"), 1.5);
  assert.equal(durationSeconds("2026-03-01T12:00:00.000Z", "2026-03-01T12:00:00.000Z"), 0);
  assert.equal(durationSeconds("not a time", "2026-03-01T12:00:00.000Z"), 0);
  ledger.verify();
  assertIntact(db);
});
