/**
 * Which schema a database is at, and the check every command but `migrate` makes before it
 * touches one: migrated by this tool, to its latest version, by migrations whose text is the
 * one this tool has. Kept apart from the migration runner (`migrate.ts`), so that a command
 * checks the schema without loading the migrations' SQL.
 *
 * @module
 */
import { type AuditDatabase, guard } from "./db.ts";
import { SchemaError } from "./errors.ts";

/** What a database records of each migration applied to it. */
export interface MigrationRecord {
  /** Sequence number; migrations apply in ascending order. */
  version: number;
  /** The file name without number and extension, e.g. `create_audit_log`. */
  name: string;
  /** SHA-256 (hex) of the migration's SQL text, line endings normalised to LF. */
  checksum: string;
}

/**
 * Every migration this version of the tool knows, in order, as a database records it. The
 * checksums are written out rather than computed, because every command compares them with
 * the database's at start (hashing the texts would cost each process milliseconds); a test
 * proves each one is the SHA-256 of its file, and `migrate.ts` pairs each with its text.
 */
export const KNOWN_MIGRATIONS: readonly MigrationRecord[] = [
  {
    version: 1,
    name: "create_audit_log",
    checksum: "f345de282e7d68a149820304eb3425b4e4251bf8c361019c6460b52122cbf4fa",
  },
  {
    version: 2,
    name: "add_run_id_to_audit_log",
    checksum: "a858fa9b724af3df691f58591b3b0731b1dca8fe7031d165632b10abbaab462c",
  },
  {
    version: 3,
    name: "append_only_hash_chain",
    checksum: "25ef9209794744d68ec56b3056e307ade5aac6644b0153a8bb5b8cb6b2c5b7eb",
  },
  {
    version: 4,
    name: "archive_checkpoints",
    checksum: "8d186515ad302191cc711b8ad9aeef60093c3e206cc335f2b3fdbb3f0b2cd99e",
  },
  {
    version: 5,
    name: "central_sync",
    checksum: "dd7c575214dc9d40d9700d13bb2eb19b40dc78344663b117354998ff30d743ff",
  },
];

/**
 * A migration text that shipped and was later replaced, as databases migrated by that build
 * record it. `migrate` brings such a database to the text this tool has, in place (see
 * `migrate.ts`); every other command asks for `migrate` rather than calling the database
 * foreign.
 */
export interface SupersededMigration extends MigrationRecord {
  /** The version of the migration in {@linkcode KNOWN_MIGRATIONS} that replaces it. */
  becomes: number;
  /** What the old text made that the new one does not, to remove before the new one runs. */
  cleanupSql?: string;
  /** Its seals are hex text by an older rule: checked by it, then made again (`hex_seals.ts`). */
  hexSeals?: true;
}

/** Every superseded migration text, by checksum (they are never reused). */
export const SUPERSEDED_MIGRATIONS: readonly SupersededMigration[] = [
  // Before it replaced the earlier audit module's raw-text timestamp index.
  {
    version: 2,
    name: "add_run_id_to_audit_log",
    checksum: "45f6d7d0da48251e357bdafaad91e53ae28306f2fbc2d122ad5639337244b88b",
    becomes: 2,
  },
  // Seals as hex text, each hashing the previous one's hex digits.
  {
    version: 3,
    name: "append_only_hash_chain",
    checksum: "beec1af5c19edf8726910df2a7354205e354e5946ab101a537aad96792fd6efc",
    becomes: 3,
    hexSeals: true,
  },
  // The central store's table came as migration 004 before archiving took that number; the
  // first of these texts also had a trigger keeping the site, which sync now keeps itself.
  {
    version: 4,
    name: "central_sync",
    checksum: "4d8eae850de38748f81f092f4f1151f02538af30ef70dc7d69d32cdd4a7c0046",
    becomes: 5,
    cleanupSql: "DROP TRIGGER IF EXISTS audit_trail_central_site_fixed",
  },
  {
    version: 4,
    name: "central_sync",
    checksum: "dd7c575214dc9d40d9700d13bb2eb19b40dc78344663b117354998ff30d743ff",
    becomes: 5,
  },
];

/** The superseded migrations `applied` records, which `migrate` replaces. */
export function supersededIn(
  applied: Map<number, AppliedMigration>,
): SupersededMigration[] {
  return SUPERSEDED_MIGRATIONS.filter((old) => applied.get(old.version)?.checksum === old.checksum);
}

/** The schema version this tool writes and expects. */
export const LATEST_SCHEMA_VERSION: number = KNOWN_MIGRATIONS[KNOWN_MIGRATIONS.length - 1]!
  .version;

/** The table where a database records the migrations applied to it. */
export const BOOKKEEPING_TABLE = "audit_trail_migrations";

/** A migration as a database recorded it. */
export interface AppliedMigration extends MigrationRecord {
  applied_at: string;
}

const APPLIED_SQL =
  `SELECT version, name, checksum, applied_at FROM ${BOOKKEEPING_TABLE} ORDER BY version`;

/**
 * Fails unless the database is at exactly the schema version this tool writes, by migrations
 * whose text is the one this tool has. Every command but `migrate` calls it first; it costs
 * one read of a tiny table.
 *
 * @throws {SchemaError} When the database is not migrated, behind, newer than this tool, or
 * was migrated by a build whose migration text differs.
 */
export function requireCurrentSchema(db: AuditDatabase): void {
  let applied: Map<number, AppliedMigration>;
  try {
    applied = byVersion(db.statement(APPLIED_SQL).all() as unknown as AppliedMigration[]);
  } catch (error) {
    if (!/no such table/.test((error as Error).message)) throw error;
    applied = new Map();
  }
  if (applied.size === 0) {
    refuseArchiveFile(db);
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

/**
 * Fails when the file is an archive that `audit-trail archive` wrote (it has no migrations,
 * like a database not set up yet): migrating it would replace its guards and let its events be
 * changed or archived again, and its SHA-256 would no longer be the one its checkpoint records.
 *
 * @throws {SchemaError} When `db` is an archive file.
 */
export function refuseArchiveFile(db: AuditDatabase): void {
  const range = guard(db.path, () => {
    const table = db.sqlite.prepare(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_trail_archive'",
    ).get();
    return table
      ? db.sqlite.prepare("SELECT first_audit_id, last_audit_id FROM audit_trail_archive").get()
      : undefined;
  });
  if (!range) return;
  throw new SchemaError(
    `"${db.path}" is an audit-trail archive file (events ${range.first_audit_id} to ${range.last_audit_id}), not a database to work in`,
    {
      hint:
        "Nothing was changed: archive files are never changed. Give the live database with --db; read archived events with --archives DIR (query, batch show, verify).",
    },
  );
}

/** The schema version recorded in the database, or 0 when audit-trail never migrated it. */
export function schemaVersion(db: AuditDatabase): number {
  return currentVersion(appliedMigrations(db));
}

/** The migrations the database records, by version (none when it has no bookkeeping). */
export function appliedMigrations(db: AuditDatabase): Map<number, AppliedMigration> {
  const exists = guard(
    db.path,
    () =>
      db.sqlite.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")
        .get(BOOKKEEPING_TABLE),
  );
  if (!exists) return new Map();
  return byVersion(
    guard(db.path, () => db.sqlite.prepare(APPLIED_SQL).all()) as unknown as AppliedMigration[],
  );
}

/** The newest version among `applied`, or 0. */
export function currentVersion(applied: Map<number, AppliedMigration>): number {
  return Math.max(0, ...applied.keys());
}

/**
 * Fails when the database is newer than this tool, or when a migration it applied differs
 * from the one this tool has.
 */
export function checkAppliedMigrations(
  db: AuditDatabase,
  applied: Map<number, AppliedMigration>,
): void {
  const newest = currentVersion(applied);
  if (newest > LATEST_SCHEMA_VERSION) {
    throw new SchemaError(
      `Database "${db.path}" has schema version ${newest}, newer than this tool knows (${LATEST_SCHEMA_VERSION})`,
      { hint: "Use a newer audit-trail; this one could misread or damage the data." },
    );
  }
  const superseded = supersededIn(applied)[0];
  if (superseded) {
    throw new SchemaError(
      `Database "${db.path}" was set up by an earlier audit-trail (migration ${
        migrationLabel(superseded)
      }); this tool needs schema version ${LATEST_SCHEMA_VERSION}`,
      { hint: `Run: audit-trail migrate --db "${db.path}"` },
    );
  }
  for (const migration of KNOWN_MIGRATIONS) {
    const row = applied.get(migration.version);
    if (row && row.checksum !== migration.checksum) {
      throw new SchemaError(
        `Migration ${
          migrationLabel(migration)
        } applied to "${db.path}" differs from the one in this tool`,
        {
          hint:
            "The database was migrated by a different build of audit-trail. Use that build, or ask support before changing anything.",
        },
      );
    }
  }
}

function migrationLabel(migration: MigrationRecord): string {
  return `${String(migration.version).padStart(3, "0")}_${migration.name}`;
}

function byVersion(rows: AppliedMigration[]): Map<number, AppliedMigration> {
  return new Map(rows.map((row) => [row.version, row]));
}
