/**
 * `database_stats.json`: what a developer asks first about a database — schema version,
 * tables and their row counts, indexes, page and freelist figures, journal mode, WAL size,
 * and whether SQLite's integrity check passes.
 *
 * @module
 */
import { guard, openDatabase, readSnapshot } from "../db.ts";
import { DatabaseBusyError, errorMessage } from "../errors.ts";
import { schemaVersion } from "../schema.ts";
import { fileSize } from "./files.ts";
import { quote } from "./logical_copy.ts";

/** The content of `database_stats.json`. */
export interface DatabaseStats {
  database_path: string;
  database_bytes: number | null;
  wal_bytes: number | null;
  /** 0 when audit-trail never migrated the database. */
  schema_version: number | null;
  journal_mode: string | null;
  page_size: number | null;
  page_count: number | null;
  freelist_count: number | null;
  tables_count: number;
  /** Rows of all tables together. */
  total_rows: number;
  tables: { name: string; rows: number | null; error?: string }[];
  indexes: { name: string; table: string }[];
  integrity_check: {
    /**
     * `integrity_check`, or `quick_check` for a database over 1 GiB: it skips comparing each
     * index with its table, which is most of the full check's time.
     */
    mode: "integrity_check" | "quick_check";
    /** `true` when SQLite reported `ok`. */
    ok: boolean;
    /** SQLite's messages: `["ok"]`, or up to 100 problems, or why the check could not run. */
    messages: string[];
    duration_ms: number;
  };
  /** Figures that could not be read, each with its error. */
  errors: string[];
}

/** Options of {@linkcode collectDatabaseStats}. */
export interface StatsOptions {
  busyTimeoutMs: number;
  /**
   * Read the file through a memory map for the integrity check (much faster on a database of
   * many indexed events). Only for a file just read through without an error: a read error
   * of the disk under a memory map ends the process, where SQLite reports it otherwise.
   */
  memoryMap?: boolean;
}

const MAX_INTEGRITY_MESSAGES = 100;
/** Page cache of the checking connection: a fixed bound, whatever the database's size. */
const INTEGRITY_CACHE_MIB = 32;
/** The largest memory map of the checking connection (the rest is read as usual). */
const INTEGRITY_MMAP_BYTES = 256 * 1024 * 1024;
/** Above this size the full check (measured: 20-30 s per GiB) gives way to the quick one. */
const FULL_CHECK_MAX_BYTES = 1024 ** 3;

/**
 * Reads the figures of `database_stats.json` from the live database, opened read-only, in one
 * read transaction so that the counts belong together. On a damaged database each figure is
 * read on its own: one that fails is `null` (its error in `errors`), and the integrity check
 * still runs.
 *
 * @throws When the database cannot be opened, is locked, or is no SQLite database at all.
 */
export async function collectDatabaseStats(
  databasePath: string,
  options: StatsOptions,
): Promise<DatabaseStats> {
  const [databaseBytes, walBytes] = await Promise.all([
    fileSize(databasePath),
    fileSize(databasePath + "-wal"),
  ]);
  using db = openDatabase(databasePath, {
    readOnly: true,
    busyTimeoutMs: options.busyTimeoutMs,
    // The integrity check reads every page several times over: a page cache larger than
    // SQLite's 2 MB default spares it most re-reads (measured: 6.2 s to 5.2 s at 1M events).
    cacheMiB: INTEGRITY_CACHE_MIB,
  });
  // For each row the check seeks every index, which on events that all carry a user and a
  // run id means reads all over the file: through a memory map they cost no system call and
  // copy (measured at 1,000,000 such events, load 6 on 2 cores: 10.8 s to 4.8 s). The map is
  // capped, so memory stays bounded; a read transaction keeps its pages from being truncated.
  if (options.memoryMap) db.sqlite.exec(`PRAGMA mmap_size = ${INTEGRITY_MMAP_BYTES}`);
  const errors: string[] = [];
  const read = <T>(what: string, work: () => T, fallback: T): T => {
    try {
      return guard(databasePath, work);
    } catch (error) {
      // Nothing else can be read either: the step fails as a whole, with this reason.
      if (error instanceof DatabaseBusyError || /not a SQLite database/.test(errorMessage(error))) {
        throw error;
      }
      errors.push(`${what}: ${errorMessage(error)}`);
      return fallback;
    }
  };
  const pragma = (name: string) =>
    read(name, () => db.sqlite.prepare(`PRAGMA ${name}`).get()?.[name] ?? null, null);
  let stats: Omit<DatabaseStats, "integrity_check" | "errors">;
  {
    using _snapshot = readSnapshot(db);
    const names = read("tables", () =>
      (db.sqlite.prepare(
        `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         ORDER BY name`,
      ).all() as { name: string }[]).map((row) => row.name), [] as string[]);
    const tables = names.map((name) => {
      try {
        const row = db.sqlite.prepare(`SELECT count(*) AS n FROM ${quote(name)}`).get();
        return { name, rows: Number(row!.n) };
      } catch (error) {
        return { name, rows: null, error: errorMessage(error) };
      }
    });
    const indexes = read("indexes", () =>
      db.sqlite.prepare(
        `SELECT name, tbl_name AS "table" FROM sqlite_schema WHERE type = 'index' ORDER BY name`,
      ).all().map(({ name, table }) => ({ name: String(name), table: String(table) })), []);
    const number = (name: string) => {
      const value = pragma(name);
      return value === null ? null : Number(value);
    };
    stats = {
      database_path: databasePath,
      database_bytes: databaseBytes,
      wal_bytes: walBytes,
      schema_version: read("schema version", () => schemaVersion(db), null),
      journal_mode: pragma("journal_mode") as string | null,
      page_size: number("page_size"),
      page_count: number("page_count"),
      freelist_count: number("freelist_count"),
      tables_count: tables.length,
      total_rows: tables.reduce((sum, t) => sum + (t.rows ?? 0), 0),
      tables,
      indexes,
    };
  }
  const started = performance.now();
  const mode = (databaseBytes ?? 0) > FULL_CHECK_MAX_BYTES ? "quick_check" : "integrity_check";
  let messages: string[];
  try {
    // SQLite may put several problems in one row, a line each: one message per problem.
    messages = db.sqlite.prepare(`PRAGMA ${mode}(${MAX_INTEGRITY_MESSAGES})`).all()
      .flatMap((row) => String(row[mode]).split("\n")).filter((line) => line.trim() !== "");
  } catch (error) {
    // A badly damaged file makes the check itself fail instead of listing problems.
    messages = [`the check could not run: ${errorMessage(error)}`];
  }
  return {
    ...stats,
    integrity_check: {
      mode,
      ok: messages.length === 1 && messages[0] === "ok",
      messages,
      duration_ms: Math.round(performance.now() - started),
    },
    errors,
  };
}
