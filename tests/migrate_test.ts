import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  getAuditLog,
  KNOWN_MIGRATIONS,
  LATEST_SCHEMA_VERSION,
  migrate,
  MIGRATIONS,
  migrationStatus,
  openDatabase,
  requireCurrentSchema,
  SchemaError,
  schemaVersion,
} from "./internals.ts";
import {
  cliCommand,
  collectOutput,
  fingerprint,
  lockWaitUnobservable,
  runMain,
  sqliteRows,
  tempDir,
  untilWaitingForLock,
} from "./helpers.ts";
import { dumpTable, LEGACY_ROWS, openMigrated, writeLegacyDatabase } from "./fixtures.ts";

const ALL_APPLIED = MIGRATIONS.map(({ version, name }) => ({ version, name }));

function columns(path: string, table: string): string[] {
  return sqliteRows(path, "SELECT name FROM pragma_table_info(?)", table).map((r) =>
    String(r.name)
  );
}

function indexes(path: string): Record<string, string> {
  const rows = sqliteRows(
    path,
    "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'audit_log' AND sql IS NOT NULL",
  );
  return Object.fromEntries(rows.map((r) => [String(r.name), String(r.sql)]));
}

/** The plan SQLite picks for a time-bounded query, as audit-trail writes it. */
function timeQueryPlan(path: string): string {
  using db = openDatabase(path);
  const rows = db.sqlite.prepare(
    `EXPLAIN QUERY PLAN SELECT audit_id FROM audit_log
     WHERE coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), timestamp) >= ?`,
  ).all("2026-02-16T00:00:00.000Z");
  return rows.map((r) => String(r.detail)).join("\n");
}

Deno.test("migrate() creates the schema of a new database and records every migration", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  using db = openDatabase(path, { create: true });
  const result = migrate(db);
  assert.deepEqual(result, {
    database: path,
    from_version: 0,
    to_version: LATEST_SCHEMA_VERSION,
    applied: ALL_APPLIED,
  });
  assert.equal(schemaVersion(db), LATEST_SCHEMA_VERSION);
  for (const column of ["audit_id", "timestamp", "operation", "sku", "details", "user", "run_id"]) {
    assert.ok(columns(path, "audit_log").includes(column), column);
  }
  assert.deepEqual(
    migrationStatus(db).map(({ version, status }) => ({ version, status })),
    MIGRATIONS.map(({ version }) => ({ version, status: "applied" })),
  );
  requireCurrentSchema(db);
  assert.equal(
    sqliteRows(path, "SELECT count(*) AS n FROM audit_log")[0].n,
    0,
    "migrating records no event",
  );
});

Deno.test("migration 002 adds run_id and its indexes to a database at version 1", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  const raw = new DatabaseSync(path);
  const [m001] = MIGRATIONS;
  raw.exec(m001.sql);
  raw.exec(
    `CREATE TABLE audit_trail_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
       checksum TEXT NOT NULL,
       applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`,
  );
  raw.prepare("INSERT INTO audit_trail_migrations (version, name, checksum) VALUES (?, ?, ?)")
    .run(m001.version, m001.name, m001.checksum);
  raw.exec("INSERT INTO audit_log (operation, sku) VALUES ('SKU_CREATED', 'SKU-1')");
  raw.close();
  assert.ok(!columns(path, "audit_log").includes("run_id"));

  using db = openDatabase(path);
  assert.throws(() => requireCurrentSchema(db), SchemaError);
  const result = migrate(db);
  assert.equal(result.from_version, 1);
  assert.equal(result.to_version, LATEST_SCHEMA_VERSION);
  assert.deepEqual(result.applied, ALL_APPLIED.slice(1));
  assert.ok(columns(path, "audit_log").includes("run_id"));
  const found = indexes(path);
  assert.match(found.idx_audit_log_run_id, /ON audit_log\s*\(run_id\)/);
  assert.match(found.idx_audit_log_timestamp, /timestamp\)\s*DESC\)$/);
  assert.deepEqual(
    getAuditLog(db).map((e) => [e.audit_id, e.operation, e.sku, e.run_id]),
    [[1, "SKU_CREATED", "SKU-1", null]],
  );
});

Deno.test("migrate() a second time applies nothing and changes nothing", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  {
    using db = openMigrated(dir.path);
    db.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  const before = await fingerprint(path);
  using db = openDatabase(path);
  assert.deepEqual(migrate(db), {
    database: path,
    from_version: LATEST_SCHEMA_VERSION,
    to_version: LATEST_SCHEMA_VERSION,
    applied: [],
  });
  db.close();
  assert.equal(await fingerprint(path), before);
  assert.equal(
    sqliteRows(path, "SELECT count(*) AS n FROM audit_trail_migrations")[0].n,
    MIGRATIONS.length,
  );
});

Deno.test("migrate({ dryRun }) reports the pending migrations and writes nothing", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  const before = await fingerprint(path);
  using db = openDatabase(path);
  assert.deepEqual(migrate(db, { dryRun: true }), {
    database: path,
    from_version: 0,
    to_version: LATEST_SCHEMA_VERSION,
    applied: ALL_APPLIED,
    dry_run: true,
  });
  db.close();
  assert.equal(await fingerprint(path), before);
});

Deno.test("migrate() refuses a database whose schema is newer than the tool", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  using db = openMigrated(dir.path);
  db.sqlite.prepare("INSERT INTO audit_trail_migrations (version, name, checksum) VALUES (?, ?, ?)")
    .run(LATEST_SCHEMA_VERSION + 1, "from_the_future", "0".repeat(64));
  const message = new RegExp(
    `schema version ${LATEST_SCHEMA_VERSION + 1}, newer than this tool knows`,
  );
  assert.throws(() => migrate(db), (e) => e instanceof SchemaError && message.test(e.message));
  assert.throws(() => migrate(db, { dryRun: true }), SchemaError);
  assert.throws(() => migrationStatus(db), SchemaError);
  assert.throws(() => requireCurrentSchema(db), SchemaError);
  assert.equal(
    sqliteRows(path, "SELECT max(version) AS v FROM audit_trail_migrations")[0].v,
    LATEST_SCHEMA_VERSION + 1,
  );
});

Deno.test("migrate() refuses a database whose applied migration text has changed", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  db.sqlite.exec("UPDATE audit_trail_migrations SET checksum = 'edited' WHERE version = 1");
  assert.throws(
    () => migrate(db),
    (e) =>
      e instanceof SchemaError &&
      /Migration 001_create_audit_log applied to ".*" differs from the one in this tool/.test(
        e.message,
      ),
  );
  assert.throws(() => migrationStatus(db), SchemaError);
});

Deno.test("each migration's checksum is the SHA-256 of its text, LF line ends", async () => {
  const { createHash } = await import("node:crypto");
  for (const migration of MIGRATIONS) {
    const file = new URL(
      `../migrations/${String(migration.version).padStart(3, "0")}_${migration.name}.sql`,
      import.meta.url,
    );
    const text = (await Deno.readTextFile(file)).replaceAll("\r\n", "\n");
    assert.equal(text, migration.sql);
    assert.equal(
      migration.checksum,
      createHash("sha256").update(text).digest("hex"),
      `${migration.version}_${migration.name}: write this checksum into lib/schema.ts`,
    );
  }
  // What every command checks a database against is what migrate applies.
  assert.deepEqual(
    MIGRATIONS.map(({ version, name, checksum }) => ({ version, name, checksum })),
    KNOWN_MIGRATIONS,
  );
});

Deno.test("requireCurrentSchema() refuses a database whose applied migration text has changed", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  requireCurrentSchema(db);
  db.sqlite.exec("UPDATE audit_trail_migrations SET checksum = 'edited' WHERE version = 3");
  assert.throws(
    () => requireCurrentSchema(db),
    (e) =>
      e instanceof SchemaError &&
      /Migration 003_append_only_hash_chain applied to ".*" differs from the one in this tool/
        .test(e.message),
  );
});

Deno.test("requireCurrentSchema() refuses a database audit-trail never migrated", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  using db = openDatabase(path);
  assert.throws(
    () => requireCurrentSchema(db),
    (e) => e instanceof SchemaError && /not set up for audit-trail yet/.test(e.message),
  );
  assert.equal(schemaVersion(db), 0);
});

Deno.test("migrate() adopts an inventory database in place: every row kept, other tables untouched", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  const inventory = dumpTable(path, "inventory");
  const schemaVersionTable = dumpTable(path, "schema_version");
  const audit = dumpTable(path, "audit_log");
  assert.equal(audit.rows.length, LEGACY_ROWS.length);

  using db = openDatabase(path);
  assert.deepEqual(migrate(db).applied, ALL_APPLIED);

  assert.deepEqual(dumpTable(path, "inventory"), inventory);
  assert.deepEqual(dumpTable(path, "schema_version"), schemaVersionTable);
  assert.deepEqual(
    columns(path, "audit_log"),
    ["audit_id", "timestamp", "operation", "sku", "details", "user", "run_id"],
  );
  assert.deepEqual(
    dumpTable(path, "audit_log").rows,
    audit.rows.map((row) => ({ ...(row as object), run_id: null })),
  );
  const found = indexes(path);
  assert.ok(found.idx_audit_log_run_id);
  assert.ok(found.idx_audit_log_timestamp);
  assert.match(
    timeQueryPlan(path),
    /SEARCH audit_log USING (COVERING )?INDEX idx_audit_log_timestamp/,
  );
  assert.deepEqual(migrate(db).applied, []);
});

Deno.test("migrate() adopts a database where the earlier audit module already added run_id", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path, { legacy002: true });
  const inventory = dumpTable(path, "inventory");
  const audit = dumpTable(path, "audit_log");

  using db = openDatabase(path);
  assert.deepEqual(migrate(db).applied, ALL_APPLIED);
  requireCurrentSchema(db);

  assert.deepEqual(dumpTable(path, "inventory"), inventory);
  assert.deepEqual(dumpTable(path, "audit_log").rows, audit.rows);
  assert.deepEqual(
    getAuditLog(db, { runId: "run_20260216_235959_0a1b2c3d", order: "asc" }).map((e) => e.audit_id),
    [5, 6],
  );
  // Time filters must still be served by an index on the normalised timestamp.
  assert.match(
    timeQueryPlan(path),
    /SEARCH audit_log USING (COVERING )?INDEX idx_audit_log_timestamp/,
  );
});

Deno.test("migrate() switches the database to WAL journaling", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  assert.equal(sqliteRows(path, "PRAGMA journal_mode")[0].journal_mode, "delete");
  using db = openDatabase(path);
  migrate(db);
  assert.equal(sqliteRows(path, "PRAGMA journal_mode")[0].journal_mode, "wal");
});

Deno.test("migrate() refuses an audit_log of another program, changing nothing, and the CLI says so in one line", async () => {
  await using dir = await tempDir();
  const shapes: [string, string, RegExp][] = [
    [
      "columns.db",
      "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, what TEXT); INSERT INTO audit_log (what) VALUES ('x')",
      /it has no audit_id, timestamp, operation, sku, details, user columns$/,
    ],
    [
      "sku.db",
      "CREATE TABLE audit_log (audit_id INTEGER PRIMARY KEY, timestamp TEXT, operation TEXT, details TEXT, user TEXT)",
      /it has no sku column$/,
    ],
    [
      "text_id.db",
      "CREATE TABLE audit_log (audit_id TEXT PRIMARY KEY, timestamp, operation, sku, details, user)",
      /its audit_id is not an INTEGER PRIMARY KEY$/,
    ],
    [
      "source.db",
      "CREATE TABLE audit_log (audit_id INTEGER PRIMARY KEY, timestamp, operation, sku, details, user, source TEXT NOT NULL)",
      /its column source is NOT NULL without a default, and audit-trail's events leave it empty$/,
    ],
    [
      "sku_required.db",
      "CREATE TABLE audit_log (audit_id INTEGER PRIMARY KEY, timestamp, operation, sku TEXT NOT NULL DEFAULT '', details, user)",
      /its column sku is NOT NULL, and audit-trail's events leave it empty$/,
    ],
    [
      "view.db",
      "CREATE TABLE t (x); CREATE VIEW audit_log AS SELECT x FROM t",
      /it is a view, not a table$/,
    ],
  ];
  for (const [name, sql, problem] of shapes) {
    const path = join(dir.path, name);
    const raw = new DatabaseSync(path);
    raw.exec(sql);
    raw.close();
    const before = await fingerprint(path);
    const refused = (e: unknown) =>
      e instanceof SchemaError && problem.test(e.message) &&
      e.message.startsWith(`Database "${path}" already has an audit_log that audit-trail cannot`);
    {
      using db = openDatabase(path);
      assert.throws(() => migrate(db, { dryRun: true }), refused, name);
      assert.throws(() => migrate(db), refused, name);
    }
    const cli = await runMain(["migrate", "--db", path]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(
      cli.stderr,
      /^audit-trail: error: Database ".*" already has an audit_log [^\n]+\nhint: It belongs to another program\. Nothing was changed\.[^\n]+\n$/,
    );
    assert.equal(cli.stdout, "");
    assert.equal(await fingerprint(path), before, `${name} is left as it was`);
    assert.deepEqual(
      [...Deno.readDirSync(dir.path)].filter((e) => e.name.startsWith(name + "-")),
      [],
    );
  }
});

Deno.test({
  name: "CLI migrate waits while another program reads the file it switches to WAL",
  ignore: (await lockWaitUnobservable()) !== null,
}, async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  // The application's own file, in SQLite's default rollback-journal mode, read by the
  // application in a transaction: switching the mode needs the file to itself, and SQLite
  // answers "locked" at once, without waiting.
  const reader = new DatabaseSync(path);
  reader.exec("CREATE TABLE stock (sku TEXT); INSERT INTO stock VALUES ('SKU-1')");
  reader.exec("BEGIN");
  reader.prepare("SELECT * FROM stock").all();
  const migration = cliCommand(["migrate", "--db", path]).spawn();
  // The application finishes its read while migrate waits (or once it has failed).
  await untilWaitingForLock(migration);
  reader.exec("COMMIT");
  reader.close();
  const result = await collectOutput(migration);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).to_version, LATEST_SCHEMA_VERSION);
  assert.equal(sqliteRows(path, "PRAGMA journal_mode")[0].journal_mode, "wal");
});
