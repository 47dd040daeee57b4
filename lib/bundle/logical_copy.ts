/**
 * Copying a database row by row into a new file: the snapshot method when SQLite's ATTACH
 * (and with it `VACUUM INTO`) is unavailable, and the way to salvage what is still readable
 * from a damaged file.
 *
 * @module
 */
import type { DatabaseSync, DatabaseSyncOptions, SQLInputValue, StatementSync } from "node:sqlite";
import { DatabaseSync as Database } from "node:sqlite";
import { readSnapshot } from "../db.ts";
import { errorMessage } from "../errors.ts";

/** What {@linkcode copyDatabase} copied. */
export interface CopyReport {
  /** Rows copied per table. */
  tables: { name: string; rows: number }[];
  /** Problems skipped over (salvage only): unreadable rows, objects that could not be made. */
  problems: string[];
}

/** Options of {@linkcode copyDatabase}. */
export interface CopyOptions {
  /**
   * Skip what cannot be read instead of failing: rows of damaged pages, tables whose schema
   * cannot be created. Without it the first error aborts the copy.
   */
  salvage?: boolean | undefined;
  /** Stops the copy between pages. */
  signal?: AbortSignal | undefined;
}

const PAGE_ROWS = 2000;
const MIN_ROWID = -(2n ** 63n);
const MAX_ROWID = 2n ** 63n - 1n;

interface SchemaEntry {
  type: string;
  name: string;
  sql: string;
}

/**
 * Copies schema and rows of `source` into a new database file at `targetPath`. Strict copies
 * run inside one read transaction, so the result is one consistent moment of a database that
 * other processes go on writing. Rows are read by rowid pages with `all()`, which reports a
 * failed read instead of ending early as `iterate()` would, and integers are read as BigInt so
 * none loses precision. Indexes and triggers are made after the rows, which is faster and
 * keeps triggers from firing on copied rows.
 *
 * @param source An open connection to the database to copy: a raw one, as the salvage of a
 * damaged copy opens it without `openDatabase`'s checks and settings.
 * @param targetPath A path where no file exists yet.
 * @param options `salvage` to skip unreadable parts; `signal` to stop.
 * @returns Rows copied per table, and what was skipped.
 */
export async function copyDatabase(
  source: DatabaseSync,
  targetPath: string,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const report: CopyReport = { tables: [], problems: [] };
  const salvage = options.salvage ?? false;
  // The shadow tables of virtual tables (FTS5) are copied as they are, which SQLite's
  // defensive mode forbids; the target is a new file no one else uses. (Deno's node:sqlite
  // takes the option; its type declarations lack it.)
  // Rows go in as the source holds them, table by table in the order they were made: a table
  // may refer to one made after it (the application rebuilt that one), and rows the application
  // stored past its CHECK constraints (ignore_check_constraints) are its data all the same.
  const target = new Database(
    targetPath,
    { defensive: false, enableForeignKeyConstraints: false } as DatabaseSyncOptions,
  );
  try {
    using _snapshot = readSnapshot(source);
    const header = (pragma: string) => source.prepare(`PRAGMA ${pragma}`).get()?.[pragma];
    // The target is a new file nobody else uses: no journal, no syncing until it is done.
    target.exec(
      `PRAGMA page_size = ${Number(header("page_size")) || 4096};
       PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA ignore_check_constraints = ON;
       PRAGMA user_version = ${Number(header("user_version")) || 0};
       PRAGMA application_id = ${Number(header("application_id")) || 0};`,
    );
    const schema = source.prepare(
      "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid",
    ).all() as unknown as SchemaEntry[];
    const tables = schema.filter((e) => e.type === "table" && !e.name.startsWith("sqlite_"));
    const made = new Set<string>();
    for (const table of tables) {
      try {
        target.exec(table.sql);
        made.add(table.name);
      } catch (error) {
        // A virtual table makes its own shadow tables, which are then listed again.
        if (target.prepare("SELECT 1 FROM sqlite_schema WHERE name = ?").get(table.name)) {
          target.exec(`DELETE FROM ${quote(table.name)}`);
          made.add(table.name);
        } else if (salvage) {
          report.problems.push(`table ${table.name} could not be made: ${errorMessage(error)}`);
        } else {
          throw error;
        }
      }
    }
    const copied = [...tables, { type: "table", name: "sqlite_sequence", sql: "" }];
    for (const table of copied) {
      if (/^\s*CREATE\s+VIRTUAL\s/i.test(table.sql)) continue;
      if (table.name === "sqlite_sequence") {
        if (!schema.some((e) => e.name === "sqlite_sequence")) continue;
        if (!target.prepare("SELECT 1 FROM sqlite_schema WHERE name = ?").get(table.name)) {
          continue;
        }
        target.exec("DELETE FROM sqlite_sequence");
      } else if (!made.has(table.name)) {
        continue;
      }
      try {
        const rows = await copyRows(source, target, table.name, salvage, report, options.signal);
        report.tables.push({ name: table.name, rows });
      } catch (error) {
        if (!salvage || options.signal?.aborted) throw error;
        report.problems.push(`table ${table.name} could not be read: ${errorMessage(error)}`);
      }
    }
    for (const entry of schema) {
      if (entry.type === "table" || entry.name.startsWith("sqlite_")) continue;
      try {
        target.exec(entry.sql);
      } catch (error) {
        if (!salvage) throw error;
        report.problems.push(
          `${entry.type} ${entry.name} could not be made: ${errorMessage(error)}`,
        );
      }
    }
    target.exec("PRAGMA journal_mode = DELETE");
  } finally {
    target.close();
  }
  return report;
}

async function copyRows(
  source: DatabaseSync,
  target: DatabaseSync,
  table: string,
  salvage: boolean,
  report: CopyReport,
  signal?: AbortSignal,
): Promise<number> {
  const columns = (source.prepare(`PRAGMA table_xinfo(${quote(table)})`).all() as {
    name: string;
    hidden: number;
  }[]).filter((c) => c.hidden === 0).map((c) => c.name); // 2 and 3 are generated columns
  const list = columns.map(quote).join(", ");
  const hasRowid = (() => {
    try {
      source.prepare(`SELECT _rowid_ FROM ${quote(table)} LIMIT 0`);
      return true;
    } catch {
      return false;
    }
  })();
  const marks = columns.map(() => "?").join(", ");
  let read: StatementSync;
  let insert: StatementSync;
  if (hasRowid) {
    read = source.prepare(
      `SELECT _rowid_, ${list} FROM ${quote(table)} WHERE _rowid_ > ? ORDER BY _rowid_ LIMIT ?`,
    );
    insert = target.prepare(`INSERT INTO ${quote(table)} (_rowid_, ${list}) VALUES (?, ${marks})`);
  } else {
    read = source.prepare(`SELECT NULL, ${list} FROM ${quote(table)} LIMIT ? OFFSET ?`);
    insert = target.prepare(`INSERT INTO ${quote(table)} (${list}) VALUES (${marks})`);
  }
  read.setReadBigInts(true);
  // Present in Deno's node:sqlite, missing from its type declarations.
  (read as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
  const readAfter = (after: bigint, limit: number) =>
    (hasRowid ? read.all(after, limit) : read.all(limit, offset)) as unknown as SQLInputValue[][];
  const readable = (after: bigint) => {
    try {
      readAfter(after, 1);
      return true;
    } catch {
      return false;
    }
  };
  let cursor = MIN_ROWID;
  let offset = 0;
  let count = 0;
  let skipped = 0;
  let size = PAGE_ROWS;
  for (;;) {
    signal?.throwIfAborted();
    let page: SQLInputValue[][];
    try {
      page = readAfter(cursor, size);
    } catch (error) {
      if (!salvage || !hasRowid) throw error;
      if (size > 1) {
        size = 1; // go row by row up to the damaged one
        continue;
      }
      // The row after `cursor` is unreadable: skip to where reading works again.
      const next = nextReadable(cursor, readable);
      if (next === null) break;
      skipped++;
      cursor = next;
      continue;
    }
    if (page.length === 0) break;
    // The target is a new file of this copy's own, with no journal: none of writeTransaction's
    // lock waits apply, and a failed copy is removed, never used.
    target.exec("BEGIN");
    try {
      for (const row of page) insert.run(...(hasRowid ? row : row.slice(1)));
      target.exec("COMMIT");
    } catch (error) {
      // Left open, the transaction would fail every later table of a salvage as well.
      if (target.isTransaction) target.exec("ROLLBACK");
      throw error;
    }
    count += page.length;
    offset += page.length;
    if (hasRowid) cursor = page[page.length - 1]![0] as bigint;
    if (page.length < size) break;
    size = Math.min(PAGE_ROWS, size * 2);
    // Let timers and signal handlers run between pages of a long copy.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  if (skipped) report.problems.push(`table ${table}: ${skipped} damaged stretches skipped`);
  return count;
}

/**
 * The first place after `cursor` from which rows can be read again: jump ahead, twice as far
 * each time, until a read works; then bisect back, so that only rows of damaged pages are
 * lost.
 */
function nextReadable(cursor: bigint, readable: (after: bigint) => boolean): bigint | null {
  let bad = cursor;
  let good: bigint | undefined;
  for (let step = 1n; cursor + step <= MAX_ROWID; step *= 2n) {
    if (readable(cursor + step)) {
      good = cursor + step;
      break;
    }
    bad = cursor + step;
  }
  if (good === undefined) return null;
  while (good - bad > 1n) {
    const middle: bigint = (bad + good) / 2n;
    if (readable(middle)) good = middle;
    else bad = middle;
  }
  return good;
}

/** `name` as an SQL identifier: names come from the schema and cannot be bound. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
