import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  archiveEvents,
  chainHead,
  logAuditEvent,
  openDatabase,
  TamperingFoundError,
  UsageError,
  verifyChain,
} from "../mod.ts";
import { readCheckpoints } from "../lib/archive/checkpoint_list.ts";
import { IS_TIME_SQL, TIME_BEFORE_SQL, UTC_TIMESTAMP_SQL } from "../lib/event_row.ts";
import {
  ARCHIVE_CHECK_WORKER,
  type FileCheck,
  startArchiveChecks,
} from "../lib/archive/check_files.ts";
import { fingerprint, tempDir } from "./helpers.ts";
import { recordStatements } from "./fixtures.ts";
import { datedDatabase, filesIn, rowsOf } from "./archive_fixtures.ts";

/** 2024-02-01: events 0-123 of datedDatabase() are older (four a day from 2024-01-01). */
const FEBRUARY = "2024-02-01T00:00:00Z";

Deno.test("archiveEvents() moves the oldest events, exactly as stored, with their seals", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 400);
  const before = { events: rowsOf(path, "audit_log"), seals: rowsOf(path, "audit_trail_chain") };
  using db = openDatabase(path);
  const result = await archiveEvents(db, { before: FEBRUARY });
  const file = join(dir.path, "archive", "audit_archive_1_124.db");
  assert.deepEqual({ ...result, sha256: result.sha256?.length }, {
    archived: 124,
    first_audit_id: 1,
    last_audit_id: 124,
    file,
    sha256: 64,
    bytes: Deno.statSync(file).size,
  });
  assert.equal(result.sha256, await fingerprint(file));
  // The archive holds the rows as they were (legacy timestamps untouched) and their seals.
  assert.deepEqual(rowsOf(file, "audit_log"), before.events.slice(0, 124));
  assert.equal(rowsOf(file, "audit_log", "audit_id = 1")[0].timestamp, "2024-01-01 00:00:00");
  assert.deepEqual(rowsOf(file, "audit_trail_chain"), before.seals.slice(0, 124));
  const [info] = rowsOf(file, "audit_trail_archive", "1").map((row) => ({ ...row }));
  assert.equal(info.first_audit_id, 1);
  assert.equal(info.last_audit_id, 124);
  assert.deepEqual(info.previous_hash, new Uint8Array(32));
  assert.deepEqual(info.last_hash, before.seals[123].hash);
  // The live log keeps the rest, and of the archived seals only the last: its chain's root.
  assert.deepEqual(rowsOf(path, "audit_log"), before.events.slice(124));
  assert.deepEqual(rowsOf(path, "audit_trail_chain"), before.seals.slice(123));
  const [checkpoint] = readCheckpoints(db);
  assert.deepEqual({ ...checkpoint, created_at: undefined, checkpoint_id: undefined }, {
    checkpoint_id: undefined,
    created_at: undefined,
    first_audit_id: 1,
    last_audit_id: 124,
    events: 124,
    previous_hash: "0".repeat(64),
    last_hash: Array.from(
      before.seals[123].hash as Uint8Array,
      (b) => b.toString(16).padStart(2, "0"),
    ).join(""),
    file: "audit_archive_1_124.db",
    sha256: result.sha256,
    bytes: result.bytes,
  });
  const verified = await verifyChain(db);
  assert.equal(verified.intact, true);
  assert.equal(verified.archived_through, 124);
  assert.equal(verified.events_checked, 276);
  const all = await verifyChain(db, { archives: join(dir.path, "archive") });
  assert.equal(all.intact, true, all.failure?.message);
  assert.equal(all.events_checked, 400);
  assert.deepEqual(all.archives, [{
    file: "audit_archive_1_124.db",
    first_audit_id: 1,
    last_audit_id: 124,
    events_checked: 124,
    intact: true,
  }]);
});

Deno.test("archiveEvents() cuts legacy and ISO timestamps alike, at the first event not older", async () => {
  await using dir = await tempDir();
  const times = [
    "2024-01-01 10:00:00",
    "2024-01-01T11:00:00.000Z",
    "2024-01-31 23:59:59",
    "2024-01-31T23:59:59.999Z",
    "2024-02-01 00:00:00", // the cut itself: not before it
    "2024-01-05T00:00:00.000Z", // older, but after a newer one: stays with it
  ];
  const path = datedDatabase(dir.path, times);
  using db = openDatabase(path);
  const result = await archiveEvents(db, { before: new Date(FEBRUARY), dir: join(dir.path, "a") });
  assert.equal(result.archived, 4);
  assert.equal(result.last_audit_id, 4);
  assert.deepEqual(rowsOf(path, "audit_log").map((row) => row.timestamp), times.slice(4));
  // Nothing older is left at the start: running it again does nothing at all.
  const unchanged = await fingerprint(path);
  const again = await archiveEvents(db, { before: FEBRUARY, dir: join(dir.path, "a") });
  assert.deepEqual(again, {
    archived: 0,
    first_audit_id: null,
    last_audit_id: null,
    file: null,
    sha256: null,
    bytes: null,
  });
  assert.equal(await fingerprint(path), unchanged);
  assert.deepEqual(filesIn(join(dir.path, "a")), [
    ".audit_trail_archive.lock",
    "audit_archive_1_4.db",
  ]);
});

Deno.test("archiveEvents() run after run: each archive continues the one before, verify proves all", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 300);
  using db = openDatabase(path);
  const folder = join(dir.path, "archive");
  const cuts = ["2024-01-10", "2024-01-20T12:00:00Z", "2024-02-15"];
  for (const before of cuts) assert.ok((await archiveEvents(db, { before })).archived > 0);
  assert.deepEqual(filesIn(folder), [
    ".audit_trail_archive.lock",
    "audit_archive_1_36.db",
    "audit_archive_37_78.db",
    "audit_archive_79_180.db",
  ]);
  const checkpoints = readCheckpoints(db);
  assert.deepEqual(checkpoints.map((c) => [c.first_audit_id, c.last_audit_id]), [
    [1, 36],
    [37, 78],
    [
      79,
      180,
    ],
  ]);
  for (let k = 1; k < checkpoints.length; k++) {
    assert.equal(checkpoints[k].previous_hash, checkpoints[k - 1].last_hash);
  }
  // Only the newest checkpoint's last seal stays in the live database.
  assert.deepEqual(rowsOf(path, "audit_trail_chain", "audit_id <= 180").map((r) => r.audit_id), [
    180,
  ]);
  const result = await verifyChain(db, { archives: folder });
  assert.equal(result.intact, true, result.failure?.message);
  assert.equal(result.events_checked, 300);
  assert.equal(result.archived_through, 180);
});

Deno.test("after every event is archived, new events continue the numbering and the chain", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 20);
  using db = openDatabase(path);
  const head = chainHead(db)!;
  await archiveEvents(db, { before: new Date() });
  assert.equal(rowsOf(path, "audit_log").length, 0);
  // The head is still the last event's seal, so it stays a valid anchor.
  assert.deepEqual(chainHead(db), head);
  assert.equal((await verifyChain(db, { anchor: head })).intact, true);
  const event = logAuditEvent(db, { operation: "STOCK_COUNTED", sku: "SKU-1" });
  assert.equal(event.audit_id, 21);
  const archives = join(dir.path, "archive");
  const result = await verifyChain(db, { archives, anchor: `5:${sealOf(archives, 5)}` });
  assert.equal(result.intact, true, result.failure?.message);
  assert.equal(result.events_checked, 21);
  assert.equal(result.anchor?.matches, true);
});

Deno.test("archiveEvents() gives the space back to the file system", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 4000);
  using db = openDatabase(path);
  db.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const size = Deno.statSync(path).size;
  await archiveEvents(db, { before: "2026-01-01" });
  const pages = db.sqlite.prepare("PRAGMA freelist_count").get()!.freelist_count;
  assert.equal(pages, 0);
  assert.ok(Deno.statSync(path).size < size * 0.6, `${Deno.statSync(path).size} of ${size}`);
  assert.equal(Deno.statSync(`${path}-wal`).size, 0);
  // Later runs move only the freed pages: the database is now in incremental vacuum mode.
  assert.equal(db.sqlite.prepare("PRAGMA auto_vacuum").get()!.auto_vacuum, 2);
  await archiveEvents(db, { before: "2027-01-01" });
  assert.equal(db.sqlite.prepare("PRAGMA freelist_count").get()!.freelist_count, 0);
  assert.ok(Deno.statSync(path).size < size * 0.2);
});

Deno.test("archiveEvents() removes the events in slices of 10,000, each with a large page cache", async () => {
  // One DELETE of every archived event lists them all in memory first (the tables have
  // triggers): 60 MB at 2.5 million events. And with SQLite's 2 MiB page cache, removing them
  // from five indexes took twice as long.
  await using dir = await tempDir();
  const minutes = Array.from(
    { length: 25_000 },
    (_, i) => new Date(Date.UTC(2020, 0, 1) + i * 600_000).toISOString(),
  );
  const path = datedDatabase(dir.path, minutes);
  using db = openDatabase(path);
  // Before each event is deleted: how many rows the last statement finished changed (the
  // checkpoint's insert, then each slice before this one), and the page cache then.
  const seen = new Set<string>();
  db.sqlite.function("probe", (changes, cache) => {
    seen.add(`${changes} rows before, cache ${cache}`);
    return null;
  });
  db.sqlite.exec(`CREATE TEMP TRIGGER probe BEFORE DELETE ON main.audit_log
    BEGIN SELECT probe(changes(), (SELECT cache_size FROM pragma_cache_size)); END`);
  using recording = recordStatements(db);
  const { statements } = recording;
  const result = await archiveEvents(db, { before: minutes[23_456] });
  assert.equal(result.archived, 23_456);
  assert.deepEqual([...seen], [
    "1 rows before, cache -32768",
    "10000 rows before, cache -32768",
  ]);
  // Each slice is found and deleted by key, where the last one ended: never from the start.
  const slicing = [...new Set(statements)].filter((sql) => /DELETE|OFFSET/.test(sql));
  assert.equal(slicing.length, 4);
  for (const sql of slicing) {
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail));
    assert.ok(
      plan.every((step) => /^SEARCH \w+ USING INTEGER PRIMARY KEY/.test(step)),
      `${sql}\n${plan}`,
    );
  }
  // The connection gets its own cache back, and the chain goes on from the last archived seal.
  assert.equal(db.sqlite.prepare("PRAGMA cache_size").get()!.cache_size, -2000);
  assert.deepEqual(rowsOf(path, "audit_trail_chain", "audit_id < 23457").map((r) => r.audit_id), [
    23_456,
  ]);
  const verified = await verifyChain(db, { archives: join(dir.path, "archive") });
  assert.equal(verified.intact, true);
  assert.equal(verified.events_checked, 25_000);
});

Deno.test("archive's cut reads each timestamp once, and agrees with the time rule on every kind of value", () => {
  // The cut walks the events by id, where no index holds the formatted value: it reads each
  // timestamp with julianday() once instead of formatting it with strftime() three times.
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE audit_log (timestamp)");
  const values: (string | number | null | Uint8Array)[] = [
    "2023-12-01T07:00:00.000Z",
    "2023-12-01T06:59:59.999Z",
    "2023-12-01T07:00:00.001Z",
    "2023-12-01T06:59:59.9996Z",
    "2023-12-01T06:59:59.9994Z",
    "2023-12-01 07:00:00",
    "2023-12-01 06:59:59",
    "2023-12-01",
    "2023-12-01T09:00:00+02:00",
    "2023-12-01T08:59:59.999+02:00",
    "2023-12-01T01:30:00-05:30",
    "2023-12-01t06:00:00z",
    " 2023-12-01 06:00:00",
    "2023-02-30 00:00:00",
    "2023-13-01 00:00:00",
    "2026-01-05 10h",
    "01/02/2030",
    "garbage",
    "",
    "T",
    "0000-01-01 00:00:00",
    "-0001-01-01 00:00:00",
    "9999-12-31T23:59:59.999Z",
    "10000-01-01T00:00:00.000Z",
    "2461000",
    2461000,
    2461000.5,
    12345,
    1721059.5,
    1721059.4,
    1700000000,
    -1,
    null,
    new Uint8Array([0x32, 0x30, 0x32, 0x33]),
  ];
  const insert = db.prepare("INSERT INTO audit_log (timestamp) VALUES (?)");
  for (const value of values) insert.run(value);
  const cuts = [
    "2023-12-01T07:00:00.000Z",
    "2023-12-01T06:59:59.999Z",
    "0000-01-01T00:00:00.000Z",
    "0000-01-01T00:00:00.001Z",
    "9999-12-31T23:59:59.999Z",
    "+010000-01-01T00:00:00.000Z",
    "-000001-01-01T00:00:00.000Z",
  ];
  const before = (condition: string, cut: string) =>
    db.prepare(`SELECT rowid AS id FROM audit_log WHERE coalesce(${condition}, 0) ORDER BY rowid`)
      .all(cut).map((row) => row.id);
  let matched = 0;
  for (const cut of cuts) {
    const rule = before(`${UTC_TIMESTAMP_SQL} < ? AND ${IS_TIME_SQL}`, cut);
    assert.deepEqual(before(TIME_BEFORE_SQL, cut), rule, cut);
    matched += rule.length;
  }
  assert.ok(matched > 20, `only ${matched} values before a cut`);
  db.close();
});

Deno.test("dryRun reports what would be archived and writes nothing", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 50);
  const unchanged = await fingerprint(path);
  using db = openDatabase(path);
  const result = await archiveEvents(db, { before: FEBRUARY, dryRun: true });
  assert.deepEqual(result, {
    archived: 50,
    first_audit_id: 1,
    last_audit_id: 50,
    file: join(dir.path, "archive", "audit_archive_1_50.db"),
    sha256: null,
    bytes: null,
    dry_run: true,
  });
  assert.equal(await fingerprint(path), unchanged);
  assert.deepEqual(filesIn(dir.path), ["app.db", "app.db-shm", "app.db-wal"]);
});

Deno.test("the delete guard lets through only events a checkpoint covers; updates never", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 10);
  {
    using db = openDatabase(path);
    await archiveEvents(db, { before: "2024-01-02T06:00:00Z" }); // events 1-5
  }
  const raw = new DatabaseSync(path);
  try {
    const refused = (sql: string, message: RegExp) => assert.throws(() => raw.exec(sql), message);
    refused("DELETE FROM audit_log WHERE audit_id = 7", /audit events cannot be deleted/);
    refused("DELETE FROM audit_log", /audit events cannot be deleted/);
    refused("UPDATE audit_log SET details = 'x' WHERE audit_id = 7", /cannot be changed/);
    refused("DELETE FROM audit_trail_chain WHERE audit_id = 7", /seals cannot be deleted/);
    // The root of the live chain stays, though a checkpoint covers it.
    refused("DELETE FROM audit_trail_chain WHERE audit_id = 5", /seals cannot be deleted/);
    refused("DELETE FROM audit_trail_checkpoints", /checkpoints cannot be deleted/);
    refused("UPDATE audit_trail_checkpoints SET file = 'x'", /checkpoints cannot be changed/);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM audit_log").get()!.n, 5);
  } finally {
    raw.close();
  }
});

Deno.test("archiveEvents() refuses a log whose events to archive fail their seals, writing nothing", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 30);
  const raw = new DatabaseSync(path);
  raw.exec(`DROP TRIGGER audit_log_no_update;
    UPDATE audit_log SET details = 'forged' WHERE audit_id = 12`);
  raw.close();
  const unchanged = await fingerprint(path);
  using db = openDatabase(path);
  await assert.rejects(
    archiveEvents(db, { before: FEBRUARY }),
    (error) => error instanceof TamperingFoundError && /Event 12 was modified/.test(error.message),
  );
  assert.equal(await fingerprint(path), unchanged);
  assert.deepEqual(filesIn(join(dir.path, "archive")), [".audit_trail_archive.lock"]);
});

Deno.test("archiveEvents() never overwrites another database's archive of the same ids", async () => {
  await using dir = await tempDir();
  const folder = join(dir.path, "shared");
  const first = datedDatabase(dir.path, 40, "first.db");
  const times = Array.from(
    { length: 40 },
    (_, i) => i < 16 ? "2023-06-01 00:00:00" : "2025-01-01 00:00:00",
  );
  const second = datedDatabase(dir.path, times, "second.db");
  {
    using db = openDatabase(first);
    await archiveEvents(db, { before: "2024-01-05", dir: folder });
  }
  const theirs = await fingerprint(join(folder, "audit_archive_1_16.db"));
  const events = rowsOf(second, "audit_log");
  using db = openDatabase(second);
  await assert.rejects(
    archiveEvents(db, { before: "2024-01-01", dir: folder }),
    /audit_archive_1_16.db" already exists and is not an archive of this database/,
  );
  assert.equal(await fingerprint(join(folder, "audit_archive_1_16.db")), theirs);
  assert.deepEqual(rowsOf(second, "audit_log"), events);
  assert.deepEqual(readCheckpoints(db), []);
  assert.deepEqual(filesIn(folder), [".audit_trail_archive.lock", "audit_archive_1_16.db"]);
});

Deno.test("archiveEvents() refuses a cut that is not a time", async () => {
  await using dir = await tempDir();
  using db = openDatabase(datedDatabase(dir.path, 5));
  await assert.rejects(archiveEvents(db, { before: "soon" }), UsageError);
  assert.deepEqual(filesIn(dir.path).filter((name) => name === "archive"), []);
});

Deno.test("verify with archives: a missing, altered, swapped or foreign archive is tampering", async (t) => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 120);
  const folder = join(dir.path, "archive");
  {
    using db = openDatabase(path);
    await archiveEvents(db, { before: "2024-01-08" });
    await archiveEvents(db, { before: "2024-01-15" });
  }
  const names = ["audit_archive_1_28.db", "audit_archive_29_56.db"];
  const originals = names.map((name) => Deno.readFileSync(join(folder, name)));
  const restore = () =>
    names.forEach((name, i) => Deno.writeFileSync(join(folder, name), originals[i]));
  const failure = async () => {
    using db = openDatabase(path);
    const result = await verifyChain(db, { archives: folder });
    return result.failure &&
      {
        kind: result.failure.kind,
        file: result.failure.file,
        id: result.failure.audit_id,
        message: result.failure.message,
      };
  };
  assert.equal(await failure(), null);

  await t.step("missing", async () => {
    Deno.removeSync(join(folder, names[1]));
    assert.deepEqual({ ...(await failure()), message: undefined }, {
      kind: "deleted",
      file: names[1],
      id: 29,
      message: undefined,
    });
    restore();
  });
  await t.step("an event changed", async () => {
    const raw = new DatabaseSync(join(folder, names[0]));
    raw.exec(
      "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET user = 'mallory' WHERE audit_id = 9",
    );
    raw.close();
    const found = await failure();
    assert.deepEqual([found?.kind, found?.file, found?.id], ["modified", names[0], 9]);
    restore();
  });
  await t.step("the file changed, its events not", async () => {
    const raw = new DatabaseSync(join(folder, names[1]));
    raw.exec("CREATE TABLE notes (x)");
    raw.close();
    const found = await failure();
    assert.deepEqual([found?.kind, found?.file], ["modified", names[1]]);
    assert.match(found!.message, /SHA-256 differs/);
    restore();
  });
  await t.step("swapped", async () => {
    Deno.writeFileSync(join(folder, names[0]), originals[1]);
    Deno.writeFileSync(join(folder, names[1]), originals[0]);
    const found = await failure();
    assert.deepEqual([found?.kind, found?.file], ["reordered", names[0]]);
    restore();
  });
  await t.step("a foreign archive file", async () => {
    Deno.writeFileSync(join(folder, "audit_archive_57_60.db"), originals[0]);
    const found = await failure();
    assert.deepEqual([found?.kind, found?.file], ["inserted", "audit_archive_57_60.db"]);
    Deno.removeSync(join(folder, "audit_archive_57_60.db"));
  });
  await t.step("an orphan of this log is only a warning", async () => {
    // What a run killed between its rename and its commit leaves: a copy of live events.
    const other = join(dir.path, "copy");
    Deno.mkdirSync(other);
    Deno.copyFileSync(path, join(other, "app.db"));
    for (const suffix of ["-wal", "-shm"]) {
      try {
        Deno.copyFileSync(path + suffix, join(other, "app.db" + suffix));
      } catch { /* not there */ }
    }
    // The copy's earlier archives go with it: a run keeps every archive in one folder.
    Deno.mkdirSync(join(other, "archive"));
    for (const name of names) Deno.copyFileSync(join(folder, name), join(other, "archive", name));
    {
      using copy = openDatabase(join(other, "app.db"));
      await archiveEvents(copy, { before: "2024-01-20", dir: join(other, "archive") });
    }
    Deno.copyFileSync(
      join(other, "archive", "audit_archive_57_76.db"),
      join(folder, "audit_archive_57_76.db"),
    );
    using db = openDatabase(path);
    const result = await verifyChain(db, { archives: folder });
    assert.equal(result.intact, true, result.failure?.message);
    assert.match(result.warnings.join("\n"), /audit_archive_57_76.db is named by no checkpoint/);
    // The next run replaces it with its own.
    await archiveEvents(db, { before: "2024-01-20" });
    assert.equal((await verifyChain(db, { archives: folder })).warnings.length, 0);
  });
});

Deno.test("an anchor among archived events needs the archives, and is checked in its archive", async () => {
  await using dir = await tempDir();
  const path = datedDatabase(dir.path, 60);
  const folder = join(dir.path, "archive");
  using db = openDatabase(path);
  await archiveEvents(db, { before: "2024-01-05" });
  const anchor = `7:${sealOf(folder, 7)}`;
  await assert.rejects(
    verifyChain(db, { anchor }),
    (error) => error instanceof UsageError && /--archives/.test(error.hint ?? ""),
  );
  const result = await verifyChain(db, { anchor, archives: folder });
  assert.equal(result.intact, true);
  assert.equal(result.anchor?.matches, true);
  const wrong = await verifyChain(db, { anchor: `7:${"ab".repeat(32)}`, archives: folder });
  assert.equal(wrong.intact, false);
  assert.deepEqual([wrong.failure?.kind, wrong.failure?.file], [
    "modified",
    "audit_archive_1_16.db",
  ]);
  // The newest archived event's seal is still the live chain's root: no archives needed.
  const root = await verifyChain(db, { anchor: `16:${sealOf(folder, 16)}` });
  assert.equal(root.anchor?.matches, true);
});

/** The seal of event `id`, read from the archive in `folder` that holds it. */
function sealOf(folder: string, id: number): string {
  for (const name of Deno.readDirSync(folder)) {
    const match = /^audit_archive_(\d+)_(\d+)\.db$/.exec(name.name);
    if (!match || id < Number(match[1]) || id > Number(match[2])) continue;
    const [row] = rowsOf(join(folder, name.name), "audit_trail_chain", `audit_id = ${id}`);
    return Array.from(row.hash as Uint8Array, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  throw new Error(`no archive holds event ${id}`);
}

Deno.test("archive checks shared by a worker and this thread find what one thread finds", async () => {
  await using dir = await tempDir();
  const { checkpoints, files } = await fiveArchivesTwoBad(dir.path);
  const found = await startArchiveChecks(files, true).finish();
  // Compared as plain data: a result the worker sends is a structured clone, whose objects
  // have Object.prototype where node:sqlite's rows (check.info) have none. Which files the
  // worker takes depends on how soon it starts, so a strict comparison failed only on a busy
  // machine, where it took some.
  assert.deepEqual(
    structuredClone(await startArchiveChecks(files, false).finish()),
    structuredClone(found),
  );
  assert.deepEqual(found.map((f) => [f.exists, f.check?.failure?.audit_id ?? null]), [
    [true, null],
    [false, null],
    [true, null],
    [true, 70],
    [true, null],
  ]);
  for (const k of [0, 2, 4]) {
    assert.deepEqual(found[k].hash, {
      bytes: checkpoints[k].bytes,
      sha256: await fingerprint(files[k].path),
    });
    assert.equal(found[k].check?.events_checked, checkpoints[k].events);
  }
});

Deno.test("a worker that takes every archive file finds what this thread finds", async () => {
  // The shared check above leaves which files the worker takes to chance (mostly none: this
  // thread is done before the worker has started); here the worker takes them all.
  await using dir = await tempDir();
  const { files } = await fiveArchivesTwoBad(dir.path);
  const worker = new Worker(new URL("../lib/archive/check_files.ts", import.meta.url), {
    type: "module",
    name: ARCHIVE_CHECK_WORKER,
  });
  const replies: FileCheck[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<{ index: number; result: FileCheck } | null>) => {
        if (event.data === null) resolve();
        else replies[event.data.index] = event.data.result;
      };
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
      worker.postMessage({ files, next: new Int32Array(new SharedArrayBuffer(4)) });
    });
  } finally {
    worker.terminate();
  }
  assert.deepEqual(structuredClone(await startArchiveChecks(files, false).finish()), replies);
});

/**
 * A database archived in five files (events 1-16, 17-36, 37-56, 57-76, 77-96): the second
 * removed, event 70 altered in the fourth.
 */
async function fiveArchivesTwoBad(dir: string) {
  const path = datedDatabase(dir, 200);
  const folder = join(dir, "archive");
  using db = openDatabase(path);
  for (const before of ["2024-01-05", "2024-01-10", "2024-01-15", "2024-01-20", "2024-01-25"]) {
    await archiveEvents(db, { before });
  }
  const checkpoints = readCheckpoints(db);
  Deno.removeSync(join(folder, checkpoints[1].file));
  const raw = new DatabaseSync(join(folder, checkpoints[3].file));
  raw.exec("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET sku = 'x' WHERE audit_id = 70");
  raw.close();
  const files = checkpoints.map((c) => ({ path: join(folder, c.file), name: c.file, expected: c }));
  return { checkpoints, files };
}
