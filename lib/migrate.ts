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
import { dropCheckedHexSeals } from "./chain/hex_seals.ts";
import { sealExistingEvents } from "./chain/seal.ts";
import {
  type AuditDatabase,
  guard,
  refuseOpenTransaction,
  useWriteAheadLog,
  writeTransaction,
} from "./db.ts";
import { SchemaError } from "./errors.ts";
import {
  type AppliedMigration,
  appliedMigrations,
  BOOKKEEPING_TABLE,
  checkAppliedMigrations,
  currentVersion,
  KNOWN_MIGRATIONS,
  LATEST_SCHEMA_VERSION,
  type MigrationRecord,
  refuseArchiveFile,
  supersededIn,
  type SupersededMigration,
} from "./schema.ts";

/**
 * One schema migration bundled with the tool: its record (see `schema.ts`), whose checksum is
 * that of `sql`, recorded when applied so later edits are caught.
 */
export interface Migration extends MigrationRecord {
  /** The SQL text, line endings normalised to LF. */
  sql: string;
  /**
   * Work SQL cannot do, run after `sql` in the same transaction (so both apply or neither).
   * It is not covered by the checksum: once released, a step's effect must never change.
   */
  afterSql?: (db: AuditDatabase) => void;
}

function bundled(
  version: number,
  text: string,
  afterSql?: (db: AuditDatabase) => void,
): Migration {
  const record = KNOWN_MIGRATIONS.find((known) => known.version === version)!;
  // A Windows checkout may turn LF into CRLF; the checksum must not depend on it.
  const sql = text.replaceAll("\r\n", "\n");
  return { ...record, sql, ...(afterSql ? { afterSql } : {}) };
}

/**
 * Every migration this version of the tool knows, in order, with its text: one for each of
 * `KNOWN_MIGRATIONS` (`schema.ts`), whose checksums a test proves are those of these texts.
 */
export const MIGRATIONS: readonly Migration[] = [
  bundled(1, m001),
  bundled(2, m002),
  // Existing events, legacy ones included, are sealed into the chain as they are.
  bundled(3, m003, (db) => void sealExistingEvents(db)),
  bundled(4, m004),
  bundled(5, m005),
];

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
  dryRun?: boolean | undefined;
}

/**
 * Brings the database's schema up to the newest version this build knows. Each pending migration
 * runs in its own transaction with its bookkeeping row, so an interrupted run leaves the
 * database at a whole version. An existing `audit_log` of the inventory application (without
 * `run_id`, legacy timestamps) is adopted in place: rows and other tables are kept.
 *
 * @param db The open database.
 * @param options `dryRun` to only report.
 * @returns The versions before and after and the migrations applied.
 * @throws {SchemaError} When the database is newer than the tool or an applied migration's
 * text has changed since.
 * @throws {UsageError} When there is something to apply and the application holds a
 * transaction open on `db` (a rollback of it would not undo the migration).
 *
 * @example Migrate a new database
 * ```ts
 * import assert from "node:assert/strict";
 * import { migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * const result = migrate(db);
 * assert.equal(result.from_version, 0);
 * assert.deepEqual(result.applied.map((m) => m.version), Array.from(
 *   { length: result.to_version },
 *   (_, i) => i + 1,
 * ));
 * const again = migrate(db); // a second run applies nothing
 * assert.deepEqual([again.from_version, again.to_version, again.applied], [result.to_version, result.to_version, []]);
 * ```
 */
export function migrate(db: AuditDatabase, options: MigrateOptions = {}): MigrateResult {
  const recorded = appliedMigrations(db);
  const fromVersion = currentVersion(recorded);
  const applied = options.dryRun
    ? replacedInMemory(recorded, supersededIn(recorded))
    : replaceSuperseded(db, recorded);
  checkAppliedMigrations(db, applied);
  if (fromVersion === 0) {
    refuseArchiveFile(db);
    requireAdoptableAuditLog(db);
  }
  const pending = MIGRATIONS.filter((m) => !applied.has(m.version));
  const result: MigrateResult = {
    database: db.path,
    from_version: fromVersion,
    to_version: options.dryRun ? LATEST_SCHEMA_VERSION : currentVersion(applied),
    applied: pending.map(({ version, name }) => ({ version, name })),
  };
  if (options.dryRun) return { ...result, dry_run: true };
  if (pending.length === 0) return result;
  refuseOpenTransaction(db);

  useWriteAheadLog(db);
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
    // A superseded migration may have become a later version than one still pending.
    result.to_version = Math.max(result.to_version, migration.version);
  }
  return result;
}

/**
 * Brings every superseded migration the database records to the text this tool has, each in
 * a transaction with its bookkeeping row: the new text runs over what the old one made (the
 * migrations are written to run again), and the row takes the new version, name and checksum,
 * keeping when it was applied. Returns the migrations the database then records.
 */
function replaceSuperseded(
  db: AuditDatabase,
  recorded: Map<number, AppliedMigration>,
): Map<number, AppliedMigration> {
  if (supersededIn(recorded).length === 0) return recorded;
  writeTransaction(db, () => {
    // Another migrate may have replaced them while this one waited for the lock.
    const rows = appliedMigrations(db);
    for (const old of supersededIn(rows)) {
      const next = MIGRATIONS.find((m) => m.version === old.becomes)!;
      if (old.cleanupSql) db.sqlite.exec(old.cleanupSql);
      if (old.hexSeals) dropCheckedHexSeals(db);
      db.sqlite.exec(adoptableSql(db, next.sql));
      next.afterSql?.(db);
      db.sqlite.prepare(`DELETE FROM ${BOOKKEEPING_TABLE} WHERE version = ?`).run(old.version);
      db.sqlite.prepare(
        `INSERT INTO ${BOOKKEEPING_TABLE} (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)`,
      ).run(next.version, next.name, next.checksum, rows.get(old.version)!.applied_at);
    }
  });
  return appliedMigrations(db);
}

/** What the database would record once its superseded migrations are replaced. */
function replacedInMemory(
  recorded: Map<number, AppliedMigration>,
  superseded: SupersededMigration[],
): Map<number, AppliedMigration> {
  const rows = new Map(recorded);
  for (const old of superseded) {
    const { applied_at } = rows.get(old.version)!;
    rows.delete(old.version);
    const { version, name, checksum } = KNOWN_MIGRATIONS.find((m) => m.version === old.becomes)!;
    rows.set(version, { version, name, checksum, applied_at });
  }
  return rows;
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
  // A superseded migration is shown as what migrate makes of it, so pending is what it applies.
  const recorded = appliedMigrations(db);
  const applied = replacedInMemory(recorded, supersededIn(recorded));
  checkAppliedMigrations(db, applied);
  return MIGRATIONS.map(({ version, name }) => ({
    version,
    name,
    status: applied.has(version) ? "applied" : "pending",
    applied_at: applied.get(version)?.applied_at ?? null,
  }));
}

/** The columns of an inventory application's `audit_log` that migration 001 builds on. */
const ADOPTED_COLUMNS = ["audit_id", "timestamp", "operation", "sku", "details", "user"];

/** The columns an event leaves NULL: `sku` of a global operation, `run_id` outside a batch. */
const NULLABLE_COLUMNS = ["sku", "run_id"];

/**
 * Fails when the database already holds an `audit_log` that is not the inventory
 * application's: migration 001 keeps an existing table as it is, and the next statement
 * would fail on it halfway through with SQLite's words (or, worse, succeed on someone
 * else's rows).
 *
 * @throws {SchemaError} When `audit_log` lacks a column of the audit log, or is no table.
 */
function requireAdoptableAuditLog(db: AuditDatabase): void {
  const found = guard(
    db.path,
    () =>
      db.sqlite.prepare("SELECT type FROM sqlite_schema WHERE name = 'audit_log'").get() as
        | { type: string }
        | undefined,
  );
  if (found === undefined) return;
  const columns = guard(
    db.path,
    () =>
      db.sqlite.prepare(
        "SELECT name, type, pk, \"notnull\", dflt_value FROM pragma_table_info('audit_log')",
      ).all(),
  ) as { name: string; type: string; pk: number; notnull: number; dflt_value: unknown }[];
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const missing = ADOPTED_COLUMNS.filter((name) => !byName.has(name));
  const id = byName.get("audit_id");
  // Every event would fail to insert, long after the adoption seemed to work.
  const unwritable = columns.find((c) =>
    c.notnull === 1 && c.pk === 0 &&
    (NULLABLE_COLUMNS.includes(c.name.toLowerCase()) ||
      (!ADOPTED_COLUMNS.includes(c.name.toLowerCase()) && c.dflt_value === null))
  );
  const problem = found.type !== "table"
    ? `it is a ${found.type}, not a table`
    : missing.length
    ? `it has no ${missing.join(", ")} column${missing.length > 1 ? "s" : ""}`
    : id && (id.pk !== 1 || id.type.toUpperCase() !== "INTEGER")
    ? "its audit_id is not an INTEGER PRIMARY KEY"
    : unwritable
    ? `its column ${unwritable.name} is NOT NULL${
      NULLABLE_COLUMNS.includes(unwritable.name.toLowerCase()) ? "" : " without a default"
    }, and audit-trail's events leave it empty`
    : undefined;
  if (problem === undefined) return;
  throw new SchemaError(
    `Database "${db.path}" already has an audit_log that audit-trail cannot adopt: ${problem}`,
    {
      hint:
        "It belongs to another program. Nothing was changed. Give audit-trail a database file of its own with --db.",
    },
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
