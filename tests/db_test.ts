import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  AuditTrailError,
  BUSY_TIMEOUT_MS,
  DatabaseBusyError,
  DatabaseCorruptError,
  DatabaseNotFoundError,
  logAuditEvent,
  logAuditEvents,
  openDatabase,
  readTransaction,
  requireCurrentSchema,
  UsageError,
  verifyChain,
  writeTransaction,
} from "./internals.ts";
import { databaseExists, stoppableWriteTransaction } from "../lib/db.ts";
import { fingerprint, runCli, sqliteRows, tempDir, whileWriteLockHeld } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

Deno.test("openDatabase() on a missing path fails and creates neither file nor folder", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "data", "app.db");
  assert.throws(
    () => openDatabase(path),
    (e) =>
      e instanceof DatabaseNotFoundError && e.path === path &&
      e.hint ===
        "Check the path. A new database is made by openDatabase(path, { create: true }) followed by migrate(db).",
  );
  assert.equal(existsSync(join(dir.path, "data")), false);
});

Deno.test("openDatabase({ create }) makes the file and its folders", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "a", "b", "app.db");
  openDatabase(path, { create: true }).close();
  assert.ok(existsSync(path));
});

Deno.test("openDatabase() refuses a folder as a folder, not as a damaged file", async () => {
  await using dir = await tempDir();
  assert.throws(
    () => openDatabase(dir.path, { create: true }),
    (e) =>
      e instanceof AuditTrailError && !(e instanceof DatabaseCorruptError) &&
      e.message === `Database path "${dir.path}" is a folder, not a database file` &&
      !/support|damaged/.test(e.hint!),
  );
});

Deno.test("openDatabase() refuses paths that name no file: :memory:, empty, file: URIs", async () => {
  await using dir = await tempDir();
  const cwd = Deno.cwd();
  Deno.chdir(dir.path);
  try {
    for (const path of [":memory:", "", "file::memory:", "file:app.db", "file:app.db?mode=rwc"]) {
      assert.throws(() => openDatabase(path, { create: true }), UsageError, path);
      assert.throws(() => databaseExists(path), UsageError, path);
    }
  } finally {
    Deno.chdir(cwd);
  }
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("every connection the tool opens refuses INSERT OR REPLACE of an event or a seal", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const first = logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1", details: "12 units" });
  logAuditEvent(db, { operation: "COUNTED", sku: "SKU-2" });
  const before = sqliteRows(db.path, "SELECT * FROM audit_log ORDER BY audit_id");
  const seals = sqliteRows(db.path, "SELECT audit_id, hex(hash) AS h FROM audit_trail_chain");
  assert.equal(db.sqlite.prepare("PRAGMA recursive_triggers").get()!.recursive_triggers, 1);
  for (
    const sql of [
      `INSERT OR REPLACE INTO audit_log (audit_id, timestamp, operation)
       VALUES (${first.audit_id}, '${first.timestamp}', 'FORGED')`,
      `REPLACE INTO audit_log (audit_id, timestamp, operation)
       SELECT audit_id, timestamp, 'FORGED' FROM audit_log`,
      `INSERT OR REPLACE INTO audit_trail_chain (audit_id, hash) VALUES (1, zeroblob(32))`,
    ]
  ) {
    assert.throws(() => db.sqlite.exec(sql), /is append-only: .* cannot be deleted/, sql);
  }
  assert.deepEqual(sqliteRows(db.path, "SELECT * FROM audit_log ORDER BY audit_id"), before);
  assert.deepEqual(
    sqliteRows(db.path, "SELECT audit_id, hex(hash) AS h FROM audit_trail_chain"),
    seals,
  );
  // A read-only connection has the setting too (a REPLACE there fails as read-only anyway).
  using reader = openDatabase(db.path, { readOnly: true });
  assert.equal(reader.sqlite.prepare("PRAGMA recursive_triggers").get()!.recursive_triggers, 1);
});

Deno.test("log, query and head, and the library's write path, load no Node module but node:sqlite", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const script = `
    import { openDatabase } from "${new URL("../lib/db.ts", import.meta.url)}";
    import { logAuditEvent } from "${new URL("../lib/events.ts", import.meta.url)}";
    import { requireCurrentSchema } from "${new URL("../lib/schema.ts", import.meta.url)}";
    using db = openDatabase(Deno.args[0]);
    requireCurrentSchema(db);
    logAuditEvent(db, { operation: "STARTED" });`;
  const loaded = async (args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args,
      env: { DENO_LOG_LAZY_LOAD: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    return stderr.split("\n").filter((l) => l.includes("<-")).map((l) => l.split(/\s+/)[2])
      .sort();
  };
  const bare = await loaded([
    "eval",
    `import { DatabaseSync } from "node:sqlite"; new DatabaseSync(":memory:").close();`,
  ]);
  assert.ok(bare.includes("ext:deno_node/sqlite.ts"), bare.join("\n"));
  assert.deepEqual(await loaded(["eval", script, db.path]), bare);
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  for (const args of [["log", "X"], ["query"], ["head"]]) {
    const modules = await loaded(["run", "--allow-all", cli, ...args, "--db", db.path]);
    assert.deepEqual(modules, bare, args.join(" "));
  }
  assert.equal(sqliteRows(db.path, "SELECT count(*) AS n FROM audit_log")[0].n, 2);
});

Deno.test("a file that is not SQLite is reported as unreadable and left byte-for-byte untouched", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "notes.db");
  await Deno.writeTextFile(path, "Inventory notes\n".repeat(200));
  const before = await fingerprint(path);
  assert.throws(() => {
    using db = openDatabase(path);
    requireCurrentSchema(db);
  }, DatabaseCorruptError);
  assert.equal(await fingerprint(path), before);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["notes.db"]);
});

Deno.test("connections wait 10 s for locks and commit with synchronous=FULL in WAL mode", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  assert.equal(BUSY_TIMEOUT_MS, 10_000);
  assert.equal(db.sqlite.prepare("PRAGMA busy_timeout").get()!.timeout, 10_000);
  assert.equal(db.sqlite.prepare("PRAGMA synchronous").get()!.synchronous, 2);
  assert.equal(db.sqlite.prepare("PRAGMA journal_mode").get()!.journal_mode, "wal");
});

Deno.test("a writer that cannot get the lock in time fails with DatabaseBusyError and writes nothing", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  openMigrated(dir.path).close();
  await whileWriteLockHeld(path, async () => {
    using db = openDatabase(path, { busyTimeoutMs: 150 });
    const started = performance.now();
    assert.throws(() => logAuditEvent(db, { operation: "PICKED" }), DatabaseBusyError);
    assert.ok(performance.now() - started >= 140, "waited for the lock first");
    await assert.rejects(
      logAuditEvents(db, [{ operation: "A" }, { operation: "B" }]),
      DatabaseBusyError,
    );
  });
  assert.equal(sqliteRows(path, "SELECT count(*) AS n FROM audit_log")[0].n, 0);
});

Deno.test("stoppableWriteTransaction() stops waiting for the lock when its signal aborts, writing nothing", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  openMigrated(dir.path).close();
  await whileWriteLockHeld(path, async () => {
    // A wait of an hour: only the abort can end it while the lock stays held.
    using db = openDatabase(path, { busyTimeoutMs: 3_600_000 });
    const stop = new AbortController();
    let ran = false;
    const waiting = stoppableWriteTransaction(db, () => {
      ran = true;
      db.sqlite.exec("INSERT INTO audit_log (operation) VALUES ('LATE')");
    }, stop.signal);
    // The wait leaves this thread free: the abort comes from a timer of this very thread.
    setTimeout(() => stop.abort(new Error("stopped by Ctrl-C")), 300);
    await assert.rejects(waiting, /stopped by Ctrl-C/);
    assert.equal(ran, false);
    assert.equal(db.sqlite.isTransaction, false);
    assert.equal(db.sqlite.prepare("PRAGMA busy_timeout").get()!.timeout, 3_600_000);
  });
  assert.equal(sqliteRows(path, "SELECT count(*) AS n FROM audit_log")[0].n, 0);
});

Deno.test("stoppableWriteTransaction() gives up as writeTransaction() does, and writes once free", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  openMigrated(dir.path).close();
  using db = openDatabase(path, { busyTimeoutMs: 250 });
  const signal = new AbortController().signal;
  await whileWriteLockHeld(path, async () => {
    await assert.rejects(
      stoppableWriteTransaction(
        db,
        () => db.sqlite.exec("INSERT INTO audit_log (operation) VALUES ('A')"),
        signal,
      ),
      DatabaseBusyError,
    );
  });
  await stoppableWriteTransaction(
    db,
    () => db.sqlite.exec("INSERT INTO audit_log (operation) VALUES ('B')"),
    signal,
  );
  assert.deepEqual(sqliteRows(path, "SELECT operation FROM audit_log").map((r) => r.operation), [
    "B",
  ]);
});

Deno.test("writeTransaction() takes the write lock up front and rolls back everything on failure", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const other = new DatabaseSync(db.path);
  other.exec("PRAGMA busy_timeout = 0");
  try {
    writeTransaction(db, () => {
      // BEGIN IMMEDIATE: another writer is locked out before anything was written.
      assert.throws(() => other.exec("BEGIN IMMEDIATE"), /locked|busy/);
    });
  } finally {
    other.close();
  }
  assert.throws(() =>
    writeTransaction(db, () => {
      db.sqlite.exec("INSERT INTO audit_log (operation) VALUES ('HALF')");
      throw new Error("power cut");
    }), /power cut/);
  assert.equal(db.sqlite.isTransaction, false);
  assert.equal(sqliteRows(db.path, "SELECT count(*) AS n FROM audit_log")[0].n, 0);
});

Deno.test("a read that meets damage part-way fails as a damaged database, not as a raw SQLite error", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "damaged.db");
  {
    using db = openMigrated(dir.path, "damaged.db");
    const details = "x".repeat(200);
    await logAuditEvents(
      db,
      Array.from({ length: 3000 }, (_, i) => ({ operation: `FILL_${i}`, details })),
    );
    db.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  // The header and the schema stay readable; pages of the events in the middle do not.
  const pages = (await Deno.stat(path)).size / 4096;
  {
    using file = await Deno.open(path, { write: true });
    await file.seek(Math.floor(pages / 2) * 4096, Deno.SeekMode.Start);
    const garbage = new Uint8Array(3 * 4096).fill(0xff);
    for (let at = 0; at < garbage.length;) at += await file.write(garbage.subarray(at));
  }
  using db = openDatabase(path);
  requireCurrentSchema(db);
  const walk = () =>
    db.sqlite.prepare("SELECT count(*) AS n, max(length(details)) FROM audit_log").get();
  assert.throws(() => readTransaction(db, walk), DatabaseCorruptError);
  await assert.rejects(verifyChain(db), DatabaseCorruptError);
  assert.equal(db.sqlite.isTransaction, false);
  // The command line only reports what the library raised.
  const verify = await runCli(["verify", "--db", path]);
  assert.equal(verify.code, 1, verify.stderr);
  assert.match(
    verify.stderr,
    /^audit-trail: error: Database cannot be read: .*the file is damaged/,
  );
});
