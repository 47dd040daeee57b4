/**
 * Masking the settings' secrets inside the bundle's copy of the database (never the live
 * file): every text cell of every table, and the BLOBs, that holds one.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { SecretMasker } from "./mask.ts";
import { REDACTED } from "./redact.ts";
import { quote } from "./logical_copy.ts";

/** What {@linkcode maskDatabase} changed. */
export interface DatabaseMasking {
  /** Cells whose value was masked, all tables together. */
  cells: number;
  /** Occurrences masked (a cell may hold several). */
  occurrences: number;
  /** Per column that had any: `{ table, column, cells }`. */
  columns: { table: string; column: string; cells: number }[];
  /**
   * The events of `audit_log` that were masked: their seals no longer match them, so
   * `audit-trail verify` of the copy reports them as modified. `ranges` lists them as
   * `[first, last]` audit_id pairs (at most {@linkcode MAX_RANGES}; `complete` says whether
   * that is all of them).
   */
  audit_ids: { count: number; ranges: [number, number][]; complete: boolean };
}

/** How many audit_id ranges the manifest lists at most. */
export const MAX_RANGES = 1000;
/** Rows read and changed per page (and transaction): bounds memory and the in-memory journal. */
const PAGE_ROWS = 2000;

interface Table {
  name: string;
  /** The columns that identify a row: `rowid`, or a WITHOUT ROWID table's primary key. */
  key: string[];
  columns: string[];
  fts5: boolean;
}

/**
 * Masks every text and BLOB cell of the database at `path` that holds a secret of `masker`,
 * through SQLite (indexes stay right). Triggers are set aside meanwhile (the append-only ones
 * would refuse the change) and restored afterwards; `secure_delete` zeroes what the old values
 * leave behind in the file. FTS5 tables are masked through their own interface and merged,
 * so their index no longer holds the old words.
 */
export function maskDatabase(
  path: string,
  masker: SecretMasker,
  signal?: AbortSignal,
): DatabaseMasking {
  const result: DatabaseMasking = {
    cells: 0,
    occurrences: 0,
    columns: [],
    audit_ids: { count: 0, ranges: [], complete: true },
  };
  if (!masker.active) return result;
  // A raw connection that begins and commits its own transactions: the file is the bundle's
  // private copy, which nobody else opens, so openDatabase's settings and writeTransaction's
  // lock waits (made for the shared database) have nothing to do here.
  // A secret can be a key that the application's rows refer to: each cell is masked on its
  // own, so parent and child differ for a moment (or for good, when UNIQUE values are numbered).
  const db = new DatabaseSync(path, { enableForeignKeyConstraints: false });
  try {
    // The journal is kept in memory, so no page with a secret is written to a file beside it.
    db.exec("PRAGMA secure_delete = ON; PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF");
    const triggers = db.prepare(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY rowid",
    ).all() as { name: string; sql: string }[];
    db.exec("BEGIN");
    for (const { name } of triggers) db.exec(`DROP TRIGGER ${quote(name)}`);
    db.exec("COMMIT");
    try {
      for (const table of maskableTables(db)) {
        signal?.throwIfAborted();
        maskTable(db, table, masker, result, signal);
      }
    } finally {
      if (db.isTransaction) db.exec("ROLLBACK");
      db.exec("BEGIN");
      for (const { sql } of triggers) db.exec(sql);
      db.exec("COMMIT");
    }
    db.exec("PRAGMA journal_mode = DELETE");
  } finally {
    db.close();
  }
  return result;
}

function maskableTables(db: DatabaseSync): Table[] {
  const list = db.prepare("PRAGMA table_list").all() as {
    schema: string;
    name: string;
    type: string;
    wr: number;
  }[];
  const tables: Table[] = [];
  for (const entry of list) {
    // Shadow tables belong to a virtual table, which is masked through its own interface.
    if (entry.schema !== "main" || entry.name.startsWith("sqlite_")) continue;
    if (entry.type !== "table" && entry.type !== "virtual") continue;
    const sql = (db.prepare("SELECT sql FROM sqlite_schema WHERE name = ?").get(entry.name)
      ?.sql ?? "") as string;
    const fts5 = /\bUSING\s+fts5\b/i.test(sql);
    if (entry.type === "virtual" && !fts5) continue;
    const info = db.prepare(`PRAGMA table_xinfo(${quote(entry.name)})`).all() as {
      name: string;
      pk: number;
      hidden: number;
    }[];
    // hidden 1: a virtual table's hidden column; 2 and 3: generated columns (computed).
    const columns = info.filter((c) => c.hidden === 0).map((c) => c.name);
    const key = entry.wr
      ? info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name)
      : ["rowid"];
    tables.push({ name: entry.name, key, columns, fts5 });
  }
  return tables.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

function maskTable(
  db: DatabaseSync,
  table: Table,
  masker: SecretMasker,
  result: DatabaseMasking,
  signal?: AbortSignal,
): void {
  if (table.columns.length === 0) return;
  const name = quote(table.name);
  const keys = table.key.map((k) => k === "rowid" ? "rowid" : quote(k));
  const keyTuple = `(${keys.join(", ")})`;
  // SQLite finds the candidate rows (instr works on text and on a BLOB's bytes); the masker
  // then decides, by its token rule, what is really masked. Pages in key order, each read
  // with all() (iterate() can end early without an error) and written before the next, so
  // memory stays bounded however many rows hold a secret.
  const needles = masker.needles;
  const marks = `(${keys.map((_, i) => `?${needles.length + i + 1}`).join(", ")})`;
  const where = table.columns.flatMap((c) => needles.map((_, i) => `instr(${quote(c)}, ?${i + 1})`))
    .join(" OR ");
  const page = (after: SQLInputValue[] | null) =>
    db.prepare(
      `SELECT ${[...keys, ...table.columns.map(quote)].join(", ")} FROM ${name}
       WHERE ${after ? `${keyTuple} > ${marks} AND ` : ""}(${where})
       ORDER BY ${keys.join(", ")} LIMIT ${PAGE_ROWS}`,
    );
  const counts = table.columns.map(() => 0);
  const ids = isAuditLog(table) ? result.audit_ids : null;
  const statements = new Map<string, ReturnType<DatabaseSync["prepare"]>>();
  const keyWhere = keys.map((k) => `${k} = ?`).join(" AND ");
  let after: SQLInputValue[] | null = null;
  for (;;) {
    signal?.throwIfAborted();
    const read = page(after);
    read.setReadBigInts(true);
    (read as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
    const rows = read.all(...needles, ...(after ?? [])) as unknown as SQLInputValue[][];
    if (rows.length === 0) break;
    db.exec("BEGIN");
    for (const row of rows) {
      const key = row.slice(0, keys.length);
      const changes: [number, SQLInputValue][] = [];
      for (let i = 0; i < table.columns.length; i++) {
        const value = row[keys.length + i];
        let masked: SQLInputValue = value;
        let count = 0;
        if (typeof value === "string") ({ text: masked, count } = masker.mask(value));
        else if (value instanceof Uint8Array) ({ bytes: masked, count } = masker.maskBytes(value));
        if (count === 0) continue;
        changes.push([i, masked]);
        counts[i]++;
        result.occurrences += count;
      }
      if (changes.length === 0) continue;
      const shape = changes.map(([i]) => i).join(",");
      let update = statements.get(shape);
      if (!update) {
        const set = changes.map(([i]) => `${quote(table.columns[i])} = ?`).join(", ");
        update = db.prepare(`UPDATE ${name} SET ${set} WHERE ${keyWhere}`);
        statements.set(shape, update);
      }
      updateUnique(update, changes.map(([, v]) => v), key);
      if (ids) addId(ids, Number(key[0]));
    }
    db.exec("COMMIT");
    after = rows[rows.length - 1].slice(0, keys.length);
    if (rows.length < PAGE_ROWS) break;
  }
  if (table.fts5 && counts.some((n) => n > 0)) {
    // Merging the index drops the segments that still list the old words.
    db.prepare(`INSERT INTO ${name}(${name}) VALUES ('optimize')`).run();
  }
  table.columns.forEach((column, i) => {
    if (counts[i] === 0) return;
    result.columns.push({ table: table.name, column, cells: counts[i] });
    result.cells += counts[i];
  });
}

/**
 * Runs the update; where two values become the same once masked (`X-4321` and `X-1234`
 * both `X-[REDACTED]`) and a UNIQUE index refuses that, the marker is numbered instead
 * (`X-[REDACTED 2]`), so the row is still masked.
 */
function updateUnique(
  update: ReturnType<DatabaseSync["prepare"]>,
  values: SQLInputValue[],
  key: SQLInputValue[],
): void {
  const number = (n: number, only?: number) =>
    values.map((v, i) =>
      typeof v === "string" && (only === undefined || i === only)
        ? v.replaceAll(REDACTED, `[REDACTED ${n}]`)
        : v
    );
  // The values as masked; then, for n = 2, 3…, one column numbered at a time, then all.
  const attempts = function* () {
    yield values;
    for (let n = 2; n <= 100; n++) {
      for (let i = 0; i < values.length; i++) yield number(n, i);
      yield number(n);
    }
  };
  let last: unknown;
  for (const attempt of attempts()) {
    try {
      update.run(...attempt, ...key);
      return;
    } catch (error) {
      const code = (error as { errcode?: number }).errcode;
      // SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY may be numbered away; nothing else.
      if (code !== 2067 && code !== 1555) throw error;
      last = error;
    }
  }
  throw last;
}

function isAuditLog(table: Table): boolean {
  return table.name === "audit_log" && table.key[0] === "rowid";
}

/** Adds one audit_id, in ascending order, to the ranges. */
function addId(target: DatabaseMasking["audit_ids"], id: number): void {
  target.count++;
  if (!target.complete) return;
  const last = target.ranges[target.ranges.length - 1];
  if (last && id === last[1] + 1) last[1] = id;
  else if (target.ranges.length < MAX_RANGES) target.ranges.push([id, id]);
  else target.complete = false;
}
