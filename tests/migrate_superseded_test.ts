/**
 * Databases migrated by earlier builds whose migration text was replaced after it shipped:
 * migration 002 before it replaced the earlier audit module's raw-text timestamp index, and
 * the central store's table when it was migration 004. The texts below are those builds'
 * files, byte for byte (their checksums are the ones those databases record).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  type AuditDatabase,
  MIGRATIONS,
  openDatabase,
  SUPERSEDED_MIGRATIONS,
} from "./internals.ts";
import { fingerprint, runCli, sqliteRows, tempDir } from "./helpers.ts";
import { writeLegacyDatabase } from "./fixtures.ts";

const OLD_002 =
  `-- Groups the events of one batch operation. Databases adopted from the inventory application
-- may already have this column; the migration runner skips an ADD COLUMN that is already done.
ALTER TABLE audit_log ADD COLUMN run_id TEXT;

CREATE INDEX IF NOT EXISTS idx_audit_log_run_id ON audit_log(run_id);

-- Legacy rows hold "YYYY-MM-DD HH:MM:SS", new ones "YYYY-MM-DDTHH:MM:SS.sssZ"; as text the two
-- forms do not sort together, so time is indexed (newest first) in one normalised form. Queries
-- must use exactly this expression for SQLite to use the index.
CREATE INDEX IF NOT EXISTS idx_audit_log_timestamp
  ON audit_log(coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), timestamp) DESC);
`;

const OLD_004_CENTRAL_SYNC =
  `-- The central store this database sends its events to (audit-trail sync). Tool bookkeeping,
-- not events: one row, written by the first sync the central store accepted. \`site\` names
-- this database's chain centrally and never changes, so one chain cannot split across two
-- sites; \`acknowledged_audit_id\` is the newest event the central store confirmed holding,
-- which tells what may be archived without losing an event the central store lacks.
CREATE TABLE IF NOT EXISTS audit_trail_central (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  site TEXT NOT NULL,
  central TEXT NOT NULL,
  first_sync_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  last_sync_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  acknowledged_audit_id INTEGER
);

CREATE TRIGGER IF NOT EXISTS audit_trail_central_site_fixed
BEFORE UPDATE OF site ON audit_trail_central WHEN NEW.site IS NOT OLD.site
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_central: the site of a database cannot change');
END;
`;

const OLD_003_HEX_SEALS =
  `-- Tamper evidence. Each event gets a seal in audit_trail_chain: the SHA-256 of the previous
-- seal and of the event's fields (see lib/chain.ts). The seals live in their own table so that
-- audit_log keeps exactly its columns, and so that an event deleted from audit_log leaves its
-- seal behind as evidence. SQL cannot hash: the migration runner seals the events that already
-- exist right after this text, in the same transaction.
CREATE TABLE IF NOT EXISTS audit_trail_chain (
  audit_id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL
);

-- Append-only: events and seals can be added, never changed or removed. These stop mistakes
-- and casual edits; someone who drops them (or uses INSERT OR REPLACE, which deletes without
-- firing DELETE triggers unless recursive_triggers is on) can still change the file, and the
-- chain is what makes that visible (audit-trail verify). No INSERT trigger guards against
-- REPLACE: it would cost every bulk insert a trigger run per row.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: audit events cannot be changed. Record a correcting event instead.');
END;

CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: audit events cannot be deleted.');
END;

CREATE TRIGGER IF NOT EXISTS audit_trail_chain_no_update BEFORE UPDATE ON audit_trail_chain
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_chain is append-only: integrity seals cannot be changed.');
END;

CREATE TRIGGER IF NOT EXISTS audit_trail_chain_no_delete BEFORE DELETE ON audit_trail_chain
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_chain is append-only: integrity seals cannot be deleted.');
END;
`;

/** The seals that text's build wrote: hex text, each hashing the previous one's hex digits. */
function writeHexSeals(db: AuditDatabase): void {
  let previous = "0".repeat(64);
  const rows = db.sqlite.prepare(
    "SELECT audit_id, timestamp, operation, sku, details, user, run_id FROM audit_log ORDER BY audit_id",
  ).all();
  for (const { audit_id, timestamp, operation, sku, details, user, run_id } of rows) {
    previous = sha256(
      JSON.stringify([previous, audit_id, timestamp, operation, sku, details, user, run_id]),
    );
    db.sqlite.prepare("INSERT INTO audit_trail_chain (audit_id, hash) VALUES (?, ?)")
      .run(audit_id as number, previous);
  }
}

/** A database as the build with hex seals left it: three events, sealed, at version 3. */
function writeHexSealedDatabase(path: string): void {
  using db = openDatabase(path, { create: true });
  applyAsShipped(db, 1, "create_audit_log", current(1));
  applyAsShipped(db, 2, "add_run_id_to_audit_log", current(2));
  db.sqlite.exec(`INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id) VALUES
    ('2026-02-15 08:00:00', 'SKU_CREATED', 'SKU-1', 'Created "Widget"', 'admin', NULL),
    ('2026-03-01T08:01:00.000Z', 'STOCK_ADJUSTED', NULL, '', 'clerk', 'run_1'),
    ('2026-03-01T08:02:00.000Z', 'STOCK_COUNT', 'SKU-2', 'ünïcode', 'clerk', 'run_1')`);
  applyAsShipped(db, 3, "append_only_hash_chain", OLD_003_HEX_SEALS);
  writeHexSeals(db);
}

/**
 * Applies `sql` with its bookkeeping row, as the build that shipped it did: that runner skipped
 * an ADD COLUMN already done, which `adopted` leaves out.
 */
function applyAsShipped(
  db: AuditDatabase,
  version: number,
  name: string,
  sql: string,
  adopted = false,
): void {
  db.sqlite.exec(`CREATE TABLE IF NOT EXISTS audit_trail_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`);
  db.sqlite.exec(adopted ? sql.replace(/ALTER TABLE audit_log ADD COLUMN run_id TEXT;/, "") : sql);
  MIGRATIONS.find((m) => m.version === version && m.sql === sql)?.afterSql?.(db);
  db.sqlite.prepare("INSERT INTO audit_trail_migrations (version, name, checksum) VALUES (?, ?, ?)")
    .run(version, name, sha256(sql));
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function current(version: number): string {
  return MIGRATIONS.find((m) => m.version === version)!.sql;
}

/** The schema SQLite holds, but for the bookkeeping table (written out here differently). */
function schema(path: string): string[] {
  return sqliteRows(
    path,
    "SELECT type, name, sql FROM sqlite_schema WHERE name != 'audit_trail_migrations' ORDER BY type, name",
  )
    .map((r) => `${r.type} ${r.name}: ${r.sql}`);
}

async function json(args: string[]) {
  const result = await runCli(args);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

Deno.test("the texts here are the shipped ones the tool recognises", () => {
  assert.deepEqual(
    SUPERSEDED_MIGRATIONS.map((m) => m.checksum).filter((c) =>
      [OLD_002, OLD_003_HEX_SEALS, OLD_004_CENTRAL_SYNC].map(sha256).includes(c)
    ).length,
    3,
  );
});

Deno.test("a database with the central store's table as migration 004 is migrated: every event, the sync record and the chain kept", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  {
    using db = openDatabase(path, { create: true });
    applyAsShipped(db, 1, "create_audit_log", current(1));
    applyAsShipped(db, 2, "add_run_id_to_audit_log", current(2));
    db.sqlite.exec(`INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES
      ('2026-03-01T08:00:00.000Z', 'ORDER_CONFIRMED', 'SKU-1', 'Order ORD-1', 'clerk'),
      ('2026-03-01T08:01:00.000Z', 'STOCK_ADJUSTED', 'SKU-2', '', 'clerk'),
      ('2026-03-01T08:02:00.000Z', 'STOCK_COUNT', NULL, '', 'admin')`);
    applyAsShipped(db, 3, "append_only_hash_chain", current(3));
    applyAsShipped(db, 4, "central_sync", OLD_004_CENTRAL_SYNC);
    db.sqlite.exec(`INSERT INTO audit_trail_central (id, site, central, acknowledged_audit_id)
      VALUES (1, 'north', 'postgres://central.example/audit', 2)`);
  }
  const central = sqliteRows(path, "SELECT * FROM audit_trail_central");

  // Before: every command but migrate asks for migrate, not for the build that made it.
  const before = await runCli(["verify", "--db", path]);
  assert.equal(before.code, 1);
  assert.match(before.stderr, /set up by an earlier audit-trail \(migration 004_central_sync\)/);
  assert.match(before.stderr, /hint: Run: audit-trail migrate --db/);

  const status = await json(["migrate", "--status", "--db", path]);
  assert.deepEqual(
    status.migrations.filter((m: { status: string }) => m.status === "pending")
      .map((m: { version: number }) => m.version),
    [4],
  );
  const dryRun = await json(["migrate", "--dry-run", "--db", path]);
  assert.deepEqual(dryRun.applied, [{ version: 4, name: "archive_checkpoints" }]);
  assert.equal(sqliteRows(path, "SELECT max(version) AS v FROM audit_trail_migrations")[0].v, 4);

  const migrated = await json(["migrate", "--db", path]);
  assert.deepEqual(
    [migrated.from_version, migrated.to_version, migrated.applied],
    [4, 5, [{ version: 4, name: "archive_checkpoints" }]],
  );
  assert.deepEqual(sqliteRows(path, "SELECT * FROM audit_trail_central"), central);
  const verified = await json(["verify", "--db", path]);
  assert.deepEqual([verified.intact, verified.events_checked], [true, 3]);

  // The same schema as a database this tool set up from nothing, and it works as one.
  const fresh = join(dir.path, "fresh.db");
  await json(["migrate", "--db", fresh]);
  assert.deepEqual(schema(path), schema(fresh));
  assert.equal((await runCli(["log", "STOCK_COUNT", "--db", path])).stdout.trim(), "4");
  assert.deepEqual((await json(["migrate", "--db", path])).applied, []);
});

Deno.test("a database migrated by the first migration 002 text gets the timestamp index queries use", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "inventory.db");
  // The earlier audit module indexed the raw text under the same name; the first text of
  // 002 kept that index, which time-bounded queries cannot use.
  writeLegacyDatabase(path, { legacy002: true });
  {
    using db = openDatabase(path);
    applyAsShipped(db, 1, "create_audit_log", current(1));
    applyAsShipped(db, 2, "add_run_id_to_audit_log", OLD_002, true);
  }
  const rows = sqliteRows(path, "SELECT * FROM audit_log ORDER BY audit_id");
  const indexSql = () =>
    sqliteRows(path, "SELECT sql FROM sqlite_schema WHERE name = 'idx_audit_log_timestamp'")[0].sql;
  assert.match(String(indexSql()), /\(timestamp DESC\)/);

  const before = await runCli(["query", "--db", path]);
  assert.equal(before.code, 1);
  assert.match(before.stderr, /migration 002_add_run_id_to_audit_log.*\n.*audit-trail migrate/);

  const migrated = await json(["migrate", "--db", path]);
  assert.deepEqual([migrated.from_version, migrated.to_version], [2, 5]);
  assert.match(String(indexSql()), /coalesce\(strftime/);
  assert.deepEqual(sqliteRows(path, "SELECT * FROM audit_log ORDER BY audit_id"), rows);
  const verified = await json(["verify", "--db", path]);
  assert.deepEqual([verified.intact, verified.events_checked], [true, rows.length]);
  const day = await json(["query", "--since", "2026-02-16", "--until", "2026-02-16", "--db", path]);
  assert.equal(day.length, 3);
});

Deno.test("a database with hex seals is migrated: its chain checked by the old rule, then sealed again", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeHexSealedDatabase(path);
  const rows = sqliteRows(path, "SELECT * FROM audit_log ORDER BY audit_id");
  const before = await runCli(["verify", "--db", path]);
  assert.equal(before.code, 1);
  assert.match(before.stderr, /migration 003_append_only_hash_chain.*\n.*audit-trail migrate/);

  const migrated = await json(["migrate", "--db", path]);
  assert.deepEqual([migrated.from_version, migrated.to_version], [3, 5]);
  assert.deepEqual(sqliteRows(path, "SELECT * FROM audit_log ORDER BY audit_id"), rows);
  const verified = await json(["verify", "--db", path]);
  assert.deepEqual([verified.intact, verified.events_checked], [true, 3]);
  const fresh = join(dir.path, "fresh.db");
  await json(["migrate", "--db", fresh]);
  assert.deepEqual(schema(path), schema(fresh));
  assert.equal((await runCli(["log", "STOCK_COUNT", "--db", path])).stdout.trim(), "4");
});

Deno.test("a database with hex seals and an event changed under them is not migrated, and says which", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeHexSealedDatabase(path);
  const db = new DatabaseSync(path);
  db.exec(`DROP TRIGGER audit_log_no_update;
    UPDATE audit_log SET details = 'Order ORD-9: 500 units' WHERE audit_id = 2;`);
  db.close();
  const print = await fingerprint(path);

  const result = await runCli(["migrate", "--db", path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^audit-trail: error: Event 2 in ".*" does not match its seal/);
  assert.match(result.stderr, /nothing was changed\nhint: /);
  assert.equal(await fingerprint(path), print);
});
