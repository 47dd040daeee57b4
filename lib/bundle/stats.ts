/**
 * `database_stats.json`: what a developer asks first about a database — schema version,
 * tables and their row counts, indexes, page and freelist figures, journal mode, WAL size,
 * and whether SQLite's integrity check passes.
 *
 * @module
 */
import { openDatabase, readTransaction } from "../db.ts";
import { schemaVersion } from "../migrate.ts";
import { errorMessage, fileSize } from "./files.ts";
import { quote } from "./logical_copy.ts";

/** The content of `database_stats.json`. */
export interface DatabaseStats {
  database_path: string;
  database_bytes: number | null;
  wal_bytes: number | null;
  /** 0 when audit-trail never migrated the database. */
  schema_version: number;
  journal_mode: string;
  page_size: number;
  page_count: number;
  freelist_count: number;
  tables_count: number;
  /** Rows of all tables together. */
  total_rows: number;
  tables: { name: string; rows: number | null; error?: string }[];
  indexes: { name: string; table: string }[];
  integrity_check: {
    /** `true` when SQLite reported `ok`. */
    ok: boolean;
    /** SQLite's messages: `["ok"]`, or up to 100 problems, or why the check could not run. */
    messages: string[];
    duration_ms: number;
  };
}

/** Options of {@linkcode collectDatabaseStats}. */
export interface StatsOptions {
  busyTimeoutMs: number;
}

const MAX_INTEGRITY_MESSAGES = 100;

/**
 * Reads the figures of `database_stats.json` from the live database, opened read-only, in one
 * read transaction so that the counts belong together. A table whose count fails is listed
 * with its error; an integrity check that cannot run says why.
 *
 * @throws When the database cannot be opened or read at all.
 */
export async function collectDatabaseStats(
  databasePath: string,
  options: StatsOptions,
): Promise<DatabaseStats> {
  const [databaseBytes, walBytes] = await Promise.all([
    fileSize(databasePath),
    fileSize(databasePath + "-wal"),
  ]);
  using db = openDatabase(databasePath, { readOnly: true, busyTimeoutMs: options.busyTimeoutMs });
  const pragma = (name: string) => db.sqlite.prepare(`PRAGMA ${name}`).get()?.[name];
  const stats = readTransaction(db, () => {
    const tables = (db.sqlite.prepare(
      `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
       ORDER BY name`,
    ).all() as { name: string }[]).map(({ name }) => {
      try {
        const row = db.sqlite.prepare(`SELECT count(*) AS n FROM ${quote(name)}`).get();
        return { name, rows: Number(row!.n) };
      } catch (error) {
        return { name, rows: null, error: errorMessage(error) };
      }
    });
    const indexes = db.sqlite.prepare(
      `SELECT name, tbl_name AS "table" FROM sqlite_schema WHERE type = 'index' ORDER BY name`,
    ).all() as { name: string; table: string }[];
    return {
      database_path: databasePath,
      database_bytes: databaseBytes,
      wal_bytes: walBytes,
      schema_version: schemaVersion(db),
      journal_mode: String(pragma("journal_mode")),
      page_size: Number(pragma("page_size")),
      page_count: Number(pragma("page_count")),
      freelist_count: Number(pragma("freelist_count")),
      tables_count: tables.length,
      total_rows: tables.reduce((sum, t) => sum + (t.rows ?? 0), 0),
      tables,
      indexes: indexes.map(({ name, table }) => ({ name, table })),
    };
  });
  const started = performance.now();
  let messages: string[];
  try {
    messages = (db.sqlite.prepare(`PRAGMA integrity_check(${MAX_INTEGRITY_MESSAGES})`).all() as {
      integrity_check: string;
    }[]).map((row) => row.integrity_check);
  } catch (error) {
    // A badly damaged file makes the check itself fail instead of listing problems.
    messages = [`the check could not run: ${errorMessage(error)}`];
  }
  return {
    ...stats,
    integrity_check: {
      ok: messages.length === 1 && messages[0] === "ok",
      messages,
      duration_ms: Math.round(performance.now() - started),
    },
  };
}
