/**
 * Databases for the archive tests: events with chosen timestamps (as an adopted inventory
 * database holds them, legacy and ISO forms mixed), sealed by the real migrations.
 *
 * @module
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migrate, openDatabase } from "../mod.ts";

/** The first timestamp of {@linkcode datedDatabase}'s events. */
export const FIRST_DAY = Date.parse("2024-01-01T00:00:00Z");
/** Hours between two events of {@linkcode datedDatabase}. */
export const STEP_HOURS = 6;

/** The timestamp of the `i`-th event (0-based): every third one in the legacy form. */
export function eventTime(i: number): string {
  const iso = new Date(FIRST_DAY + i * STEP_HOURS * 3_600_000).toISOString();
  return i % 3 === 0 ? iso.slice(0, 19).replace("T", " ") : iso;
}

/**
 * A database `name` in `dir` holding `count` events 6 hours apart from 2024-01-01 (or the
 * given timestamps), written as the inventory application writes them, then migrated (which
 * seals them). Event `i` has id `i + 1`, SKU `SKU-(i % 7)`, run id `run_(i / 10)`.
 */
export function datedDatabase(
  dir: string,
  count: number | string[],
  name = "app.db",
): string {
  const path = join(dir, name);
  const times = typeof count === "number"
    ? Array.from({ length: count }, (_, i) => eventTime(i))
    : count;
  const raw = new DatabaseSync(path);
  try {
    raw.exec(`CREATE TABLE audit_log (
      audit_id INTEGER PRIMARY KEY, timestamp TEXT NOT NULL, operation TEXT NOT NULL, sku TEXT,
      details TEXT NOT NULL DEFAULT '', user TEXT NOT NULL DEFAULT 'system', run_id TEXT)`);
    const insert = raw.prepare(
      "INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id) VALUES (?, ?, ?, ?, ?, ?)",
    );
    raw.exec("BEGIN");
    times.forEach((time, i) =>
      insert.run(
        time,
        i % 2 ? "STOCK_COUNTED" : "ORDER_CONFIRMED",
        `SKU-${i % 7}`,
        `Event ${i}: ${i % 5} units, bin "A-${i % 11}"`,
        `clerk${i % 3}`,
        `run_${Math.floor(i / 10)}`,
      )
    );
    raw.exec("COMMIT");
  } finally {
    raw.close();
  }
  using db = openDatabase(path);
  migrate(db);
  return path;
}

/** Every row of `table` in the SQLite file at `path`, by rowid (`audit_id`), values as stored. */
export function rowsOf(path: string, table: string, where = "1"): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(`SELECT * FROM ${table} WHERE ${where} ORDER BY rowid`).all()
      .map((row) => ({ ...row }));
  } finally {
    db.close();
  }
}

/** The names in `dir`, sorted; none when it does not exist. */
export function filesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}
