/**
 * Databases for the tests: a freshly migrated one, and inventory databases as the inventory
 * application (and the audit module that came before audit-trail) left them.
 *
 * @module
 */
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import {
  type AuditDatabase,
  logAuditEvent,
  logAuditEvents,
  migrate,
  type NewAuditEvent,
  openDatabase,
} from "../mod.ts";

/** Opens a new database `name` in `dir`, migrated to the latest schema. */
export function openMigrated(dir: string, name = "app.db"): AuditDatabase {
  const db = openDatabase(join(dir, name), { create: true });
  migrate(db);
  return db;
}

/**
 * Calls `before` with each SQL text `db` prepares, until disposed: tests watch what a reader
 * reads, or write from another connection while it reads.
 */
export function onEachStatement(db: AuditDatabase, before: (sql: string) => void): Disposable {
  const prepare = db.statement.bind(db);
  db.statement = (sql: string) => {
    before(sql);
    return prepare(sql);
  };
  return { [Symbol.dispose]: () => void (db.statement = prepare) };
}

/** The SQL texts `db` prepares, recorded until `stop()` (or disposal). */
export function recordStatements(
  db: AuditDatabase,
): { statements: string[]; stop(): void } & Disposable {
  const statements: string[] = [];
  const hook = onEachStatement(db, (sql) => statements.push(sql));
  const stop = () => hook[Symbol.dispose]();
  return { statements, stop, [Symbol.dispose]: stop };
}

/**
 * Until disposed, another connection logs an event (`ARRIVED` in run `run_a`) each time `db`
 * prepares a statement: a reader whose figures come from several statements counts some of
 * those events in one figure and not in another unless it reads one snapshot.
 */
export function logOnEachStatement(db: AuditDatabase): Disposable {
  const other = openDatabase(db.path);
  const hook = onEachStatement(db, () => {
    logAuditEvent(other, { operation: "ARRIVED", run_id: "run_a" });
  });
  return {
    [Symbol.dispose]() {
      hook[Symbol.dispose]();
      other.close();
    },
  };
}

/** Creates the database `path`, migrated, with `batches` of events logged in turn, and closes it. */
export async function createLog(path: string, ...batches: NewAuditEvent[][]): Promise<void> {
  using db = openDatabase(path, { create: true });
  migrate(db);
  for (const events of batches) await logAuditEvents(db, events);
}

/**
 * Opens `path` read-only with a page cache of 8 pages, so that a page read twice is read from
 * the file twice (what `bytesRead()` counts), and returns it with the bytes `names` (tables and
 * indexes) take in the file, to compare with what a reader read.
 */
export function openToCountReads(
  path: string,
  ...names: string[]
): { db: AuditDatabase; bytes: number } {
  const db = openDatabase(path, { readOnly: true });
  db.sqlite.exec("PRAGMA cache_size = 8");
  const bytes = db.sqlite.prepare(
    `SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN (${names.map(() => "?").join(", ")})`,
  ).get(...names)!.bytes as number;
  return { db, bytes };
}

/** The audit table of the inventory application: no run_id, `CURRENT_TIMESTAMP` text. */
export const LEGACY_AUDIT_LOG_SQL = `CREATE TABLE audit_log (
  audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  operation TEXT NOT NULL,
  sku TEXT,
  details TEXT,
  user TEXT DEFAULT 'system')`;

/** What the earlier audit module's migration 002 did to that table. */
export const LEGACY_002_SQL = `ALTER TABLE audit_log ADD COLUMN run_id TEXT DEFAULT NULL;
CREATE INDEX idx_audit_log_run_id ON audit_log(run_id);
CREATE INDEX idx_audit_log_timestamp ON audit_log(timestamp DESC);`;

/** The legacy rows every legacy fixture holds, in `audit_id` order (ids 1-6). */
export const LEGACY_ROWS:
  readonly (readonly [string, string, string | null, string | null, string])[] = [
    ["2026-02-15 08:00:00", "SKU_CREATED", "SKU-1001", "Created Widget", "admin"],
    ["2026-02-15 23:59:59", "STOCK_ADJUSTED", "SKU-1001", null, "clerk"],
    ["2026-02-16 00:00:00", "ORDER_CONFIRMED", "SKU-1002", "Order ORD-1: 5 units", "system"],
    ["2026-02-16 12:30:00", "STOCK_COUNT", null, null, "clerk"],
    ["2026-02-16 23:59:59", "ORDER_CONFIRMED", "SKU-1001", "Order ORD-2: 7 units", "admin"],
    ["2026-02-17 00:00:00", "SKU_UPDATED", "SKU-1003", "Safety stock: 10 -> 20", "admin"],
  ];

/**
 * Writes an inventory database at `path` as the inventory application keeps it: its own
 * `schema_version` and `inventory` tables, and an `audit_log` with legacy timestamps, some
 * NULL details and no `run_id`. With `legacy002`, the earlier audit module's migration 002
 * was applied too (so `run_id` and its indexes exist, and rows 5-6 belong to a batch).
 */
export function writeLegacyDatabase(path: string, options: { legacy002?: boolean } = {}): void {
  const db = new DatabaseSync(path);
  try {
    db.exec(`
      CREATE TABLE schema_version (version INTEGER);
      INSERT INTO schema_version VALUES (1);
      CREATE TABLE inventory (
        sku TEXT PRIMARY KEY, name TEXT NOT NULL, quantity INTEGER, price REAL, photo BLOB
      );
      ${LEGACY_AUDIT_LOG_SQL};
      CREATE INDEX idx_audit_log_sku ON audit_log(sku);
      CREATE INDEX idx_audit_log_operation ON audit_log(operation);`);
    const item = db.prepare(
      "INSERT INTO inventory (sku, name, quantity, price, photo) VALUES (?, ?, ?, ?, ?)",
    );
    item.run("SKU-1001", "Widget", 45, 2.5, new Uint8Array([0, 1, 2, 255]));
    item.run("SKU-1002", "Gadget 'deluxe'", null, 0.1, null);
    item.run("SKU-1003", "Grüne Schraube", -3, 1e-7, new Uint8Array(0));
    const event = db.prepare(
      "INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES (?, ?, ?, ?, ?)",
    );
    for (const row of LEGACY_ROWS) event.run(...row);
    if (options.legacy002) {
      db.exec(LEGACY_002_SQL);
      db.exec("INSERT INTO schema_version VALUES (2)");
      db.exec("UPDATE audit_log SET run_id = 'run_20260216_235959_0a1b2c3d' WHERE audit_id >= 5");
    }
  } finally {
    db.close();
  }
}

/** The definition and every row of `table`, straight from SQLite, to compare before/after. */
export function dumpTable(path: string, table: string): { sql: string; rows: unknown[] } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = ?").get(table)?.sql;
    const rows = db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all().map((r) => ({ ...r }));
    return { sql: String(sql), rows };
  } finally {
    db.close();
  }
}

/** Inserts a row with an explicit timestamp, as an older writer would have stored it. */
export function insertRaw(
  db: AuditDatabase,
  timestamp: string,
  operation: string,
  fields: { sku?: string | null; details?: string | null; user?: string; run_id?: string } = {},
): number {
  const values: SQLInputValue[] = [
    timestamp,
    operation,
    fields.sku ?? null,
    fields.details ?? "",
    fields.user ?? "system",
    fields.run_id ?? null,
  ];
  const result = db.sqlite.prepare(
    "INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(...values);
  return Number(result.lastInsertRowid);
}

/** The strict timestamp form audit-trail prints. */
export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A migrated database file `name` in `dir`, closed again (its WAL folded in). */
export function migratedFile(dir: string, name = "app.db"): string {
  using db = openMigrated(dir, name);
  return db.path;
}

/** How many events the database at `path` holds. */
export function eventCount(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT count(*) AS n FROM audit_log").get()!.n as number;
  } finally {
    db.close();
  }
}

/** Runs `tasks` at most `limit` at a time (spawned processes mostly wait on start-up). */
export async function inParallel<T>(tasks: (() => Promise<T>)[], limit = 4): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  async function worker() {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/** A migrated database in `dir` holding `count` events (`EVENT_n`, details `details n`). */
export async function databaseWithEvents(dir: string, count: number): Promise<string> {
  using db = openMigrated(dir);
  await logAuditEvents(
    db,
    Array.from({ length: count }, (_, i) => ({
      operation: `EVENT_${i + 1}`,
      details: `details ${i + 1}`,
      sku: `SKU-${i % 7}`,
    })),
  );
  return db.path;
}

/** The names in the folder `path`, sorted. */
export async function listDir(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  return names.sort();
}
