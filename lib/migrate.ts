/**
 * Schema migrations: the bundled `migrations/*.sql` files, applied in order, each in its own
 * transaction together with its bookkeeping row (version, name, checksum of its text). A
 * migration may also carry a code step for work SQL cannot do (hashing), run right after its
 * SQL in the same transaction.
 *
 * @module
 */
import m001 from "../migrations/001_create_audit_log.sql" with { type: "text" };
import m002 from "../migrations/002_add_run_id_to_audit_log.sql" with { type: "text" };
import m003 from "../migrations/003_append_only_hash_chain.sql" with { type: "text" };
import m004 from "../migrations/004_archive_checkpoints.sql" with { type: "text" };
import m005 from "../migrations/005_central_sync.sql" with { type: "text" };
import { sealExistingEvents } from "./chain/seal.ts";
import { type AuditDatabase, guard, writeTransaction } from "./db.ts";
import { SchemaError } from "./errors.ts";

/** One schema migration bundled with the tool. */
export interface Migration {
  /** Sequence number; migrations apply in ascending order. */
  version: number;
  /** The file name without number and extension, e.g. `create_audit_log`. */
  name: string;
  /** The SQL text, line endings normalised to LF. */
  sql: string;
  /** SHA-256 (hex) of `sql`, recorded when applied so later edits are caught. */
  checksum: string;
  /**
   * Work SQL cannot do, run after `sql` in the same transaction (so both apply or neither).
   * It is not covered by the checksum: once released, a step's effect must never change.
   */
  afterSql?: (db: AuditDatabase) => void;
}

function bundled(
  version: number,
  name: string,
  text: string,
  checksum: string,
  afterSql?: (db: AuditDatabase) => void,
): Migration {
  // A Windows checkout may turn LF into CRLF; the checksum must not depend on it.
  const sql = text.replaceAll("\r\n", "\n");
  return { version, name, sql, checksum, ...(afterSql ? { afterSql } : {}) };
}

/**
 * Every migration this version of the tool knows, in order. Each checksum is written out
 * rather than computed, because every command compares them with the database's at start
 * (hashing the texts would cost each process milliseconds); a test proves each one is the
 * SHA-256 of its file.
 */
export const MIGRATIONS: readonly Migration[] = [
  bundled(
    1,
    "create_audit_log",
    m001,
    "f345de282e7d68a149820304eb3425b4e4251bf8c361019c6460b52122cbf4fa",
  ),
  bundled(
    2,
    "add_run_id_to_audit_log",
    m002,
    "a858fa9b724af3df691f58591b3b0731b1dca8fe7031d165632b10abbaab462c",
  ),
  // Existing events, legacy ones included, are sealed into the chain as they are.
  bundled(
    3,
    "append_only_hash_chain",
    m003,
    "25ef9209794744d68ec56b3056e307ade5aac6644b0153a8bb5b8cb6b2c5b7eb",
    (db) => void sealExistingEvents(db),
  ),
  bundled(
    4,
    "archive_checkpoints",
    m004,
    "8d186515ad302191cc711b8ad9aeef60093c3e206cc335f2b3fdbb3f0b2cd99e",
  ),
  bundled(
    5,
    "central_sync",
    m005,
    "dd7c575214dc9d40d9700d13bb2eb19b40dc78344663b117354998ff30d743ff",
  ),
];

/** The schema version this tool writes and expects. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1].version;

const BOOKKEEPING_TABLE = "audit_trail_migrations";

/** One migration and whether it is applied, as `migrate --status` reports it. */
export interface MigrationStatus {
  version: number;
  name: string;
  status: "applied" | "pending";
  applied_at: string | null;
}

/** The result of {@linkcode migrate}, with the field names `audit-trail migrate` prints. */
export interface MigrateResult {
  database: string;
  from_version: number;
  to_version: number;
  applied: { version: number; name: string }[];
  /** Present and true when nothing was written (`dryRun`). */
  dry_run?: boolean;
}

/** Options of {@linkcode migrate}. */
export interface MigrateOptions {
  /** Report what would be applied, and check the database, without changing it. */
  dryRun?: boolean;
}

/**
 * Brings the database's schema up to {@linkcode LATEST_SCHEMA_VERSION}. Each pending migration
 * runs in its own transaction with its bookkeeping row, so an interrupted run leaves the
 * database at a whole version. An existing `audit_log` of the inventory application (without
 * `run_id`, legacy timestamps) is adopted in place: rows and other tables are kept.
 *
 * @param db The open database.
 * @param options `dryRun` to only report.
 * @returns The versions before and after and the migrations applied.
 * @throws {SchemaError} When the database is newer than the tool or an applied migration's
 * text has changed since.
 *
 * @example Migrate a new database
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDatabase } from "./db.ts";
 * import { migrate, migrationStatus } from "./migrate.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * const result = migrate(db);
 * assert.equal(result.from_version, 0);
 * assert.equal(result.to_version, migrationStatus(db).at(-1)!.version);
 * assert.deepEqual(migrate(db).applied, []); // a second run applies nothing
 * ```
 */
export function migrate(db: AuditDatabase, options: MigrateOptions = {}): MigrateResult {
  const applied = appliedMigrations(db);
  checkAppliedMigrations(db, applied);
  const fromVersion = currentVersion(applied);
  const pending = MIGRATIONS.filter((m) => !applied.has(m.version));
  const result: MigrateResult = {
    database: db.path,
    from_version: fromVersion,
    to_version: options.dryRun ? LATEST_SCHEMA_VERSION : fromVersion,
    applied: pending.map(({ version, name }) => ({ version, name })),
  };
  if (options.dryRun) return { ...result, dry_run: true };
  if (pending.length === 0) return result;

  // WAL lets readers work while one writer commits; the mode is stored in the file, and
  // can only be changed outside a transaction.
  guard(db.path, () => db.sqlite.exec("PRAGMA journal_mode = WAL"));
  for (const migration of pending) {
    const done = writeTransaction(db, () => {
      // Scripts that all run "migrate" at start-up race here: the one that got the write lock
      // first may have applied this migration while this one waited, and then it is done.
      if (isApplied(db, migration.version)) return false;
      db.sqlite.exec(
        `CREATE TABLE IF NOT EXISTS ${BOOKKEEPING_TABLE} (
           version INTEGER PRIMARY KEY,
           name TEXT NOT NULL,
           checksum TEXT NOT NULL,
           applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         )`,
      );
      db.sqlite.exec(adoptableSql(db, migration.sql));
      migration.afterSql?.(db);
      db.sqlite.prepare(
        `INSERT INTO ${BOOKKEEPING_TABLE} (version, name, checksum) VALUES (?, ?, ?)`,
      ).run(migration.version, migration.name, migration.checksum);
      return true;
    });
    if (!done) result.applied = result.applied.filter((m) => m.version !== migration.version);
    result.to_version = migration.version;
  }
  return result;
}

function isApplied(db: AuditDatabase, version: number): boolean {
  const table = db.sqlite.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")
    .get(BOOKKEEPING_TABLE);
  return table !== undefined &&
    db.sqlite.prepare(`SELECT 1 FROM ${BOOKKEEPING_TABLE} WHERE version = ?`).get(version) !==
      undefined;
}

/**
 * Lists every known migration with whether it is applied. Reads only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDatabase } from "./db.ts";
 * import { migrate, migrationStatus } from "./migrate.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * assert.ok(migrationStatus(db).every((m) => m.status === "pending"));
 * migrate(db);
 * assert.ok(migrationStatus(db).every((m) => m.status === "applied"));
 * ```
 */
export function migrationStatus(db: AuditDatabase): MigrationStatus[] {
  const applied = appliedMigrations(db);
  checkAppliedMigrations(db, applied);
  return MIGRATIONS.map(({ version, name }) => ({
    version,
    name,
    status: applied.has(version) ? "applied" : "pending",
    applied_at: applied.get(version)?.applied_at ?? null,
  }));
}

/**
 * Fails unless the database is at exactly the schema version this tool writes, by migrations
 * whose text is the one this tool has. Every command but `migrate` calls it first; it costs
 * one read of a tiny table.
 */
export function requireCurrentSchema(db: AuditDatabase): void {
  let applied: Map<number, AppliedMigration>;
  try {
    const rows = db.statement(
      `SELECT version, name, checksum, applied_at FROM ${BOOKKEEPING_TABLE} ORDER BY version`,
    ).all() as unknown as AppliedMigration[];
    applied = new Map(rows.map((row) => [row.version, row]));
  } catch (error) {
    if (!/no such table/.test((error as Error).message)) throw error;
    applied = new Map();
  }
  if (applied.size === 0) {
    throw new SchemaError(`Database "${db.path}" is not set up for audit-trail yet`, {
      hint: `Run: audit-trail migrate --db "${db.path}"`,
    });
  }
  checkAppliedMigrations(db, applied);
  const version = currentVersion(applied);
  if (version < LATEST_SCHEMA_VERSION) {
    throw new SchemaError(
      `Database "${db.path}" is at schema version ${version}; this tool needs version ${LATEST_SCHEMA_VERSION}`,
      { hint: `Run: audit-trail migrate --db "${db.path}"` },
    );
  }
}

/** The schema version recorded in the database, or 0 when audit-trail never migrated it. */
export function schemaVersion(db: AuditDatabase): number {
  return currentVersion(appliedMigrations(db));
}

interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  applied_at: string;
}

function appliedMigrations(db: AuditDatabase): Map<number, AppliedMigration> {
  const exists = guard(
    db.path,
    () =>
      db.sqlite.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")
        .get(BOOKKEEPING_TABLE),
  );
  if (!exists) return new Map();
  const rows = guard(db.path, () =>
    db.sqlite.prepare(
      `SELECT version, name, checksum, applied_at FROM ${BOOKKEEPING_TABLE} ORDER BY version`,
    ).all()) as unknown as AppliedMigration[];
  return new Map(rows.map((row) => [row.version, row]));
}

function currentVersion(applied: Map<number, AppliedMigration>): number {
  return Math.max(0, ...applied.keys());
}

function checkAppliedMigrations(db: AuditDatabase, applied: Map<number, AppliedMigration>) {
  const newest = currentVersion(applied);
  if (newest > LATEST_SCHEMA_VERSION) throw newerSchemaError(db.path, newest);
  for (const migration of MIGRATIONS) {
    const row = applied.get(migration.version);
    if (row && row.checksum !== migration.checksum) {
      throw new SchemaError(
        `Migration ${
          pad(migration.version)
        }_${migration.name} applied to "${db.path}" differs from the one in this tool`,
        {
          hint:
            "The database was migrated by a different build of audit-trail. Use that build, or ask support before changing anything.",
        },
      );
    }
  }
}

function newerSchemaError(path: string, version: number): SchemaError {
  return new SchemaError(
    `Database "${path}" has schema version ${version}, newer than this tool knows (${LATEST_SCHEMA_VERSION})`,
    { hint: "Use a newer audit-trail; this one could misread or damage the data." },
  );
}

/**
 * SQLite has no `ADD COLUMN IF NOT EXISTS`; a database adopted from the inventory
 * application may already have the column, so such a statement is dropped when it is.
 */
function adoptableSql(db: AuditDatabase, sql: string): string {
  return sql.replace(
    /ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)[^;]*;/gi,
    (statement, table: string, column: string) => {
      const columns = db.sqlite.prepare(`SELECT name FROM pragma_table_info(?)`).all(table);
      return columns.some((c) => c.name === column) ? "" : statement;
    },
  );
}

function pad(version: number): string {
  return String(version).padStart(3, "0");
}
