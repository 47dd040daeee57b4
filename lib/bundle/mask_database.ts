/**
 * Masking the bundle's copy of the database (never the live file), through SQLite so that
 * indexes stay right:
 *
 * - in every table, the settings' secrets (mask.ts) wherever a text cell or a BLOB holds one;
 * - in the inventory application's tables (every table but audit-trail's own), the values of
 *   columns whose name says they hold a credential, and whatever the bundle's patterns
 *   recognise anywhere else (app_secrets.ts gives the rules and what a masked value becomes).
 *
 * Tables are read in pages of keys (`rowid`, or a WITHOUT ROWID table's primary key), each
 * page with all() and written before the next: memory stays bounded however large a table is.
 * SQLite picks the cells worth reading (a credential column's non-NULL values, cells holding a
 * secret's text or a pattern's fixed text), so a table without any costs one scan and no
 * JavaScript per row.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { SecretMasker } from "./mask.ts";
import { quote } from "./logical_copy.ts";
import {
  BY_COLUMN_NAME,
  BY_SETTINGS,
  type Cell,
  isCredentialColumn,
  isToolTable,
  maskCredential,
  maskPatternsInBytes,
  maskPatternsInText,
  numbered,
  patternCandidate,
} from "./app_secrets.ts";

/** One column that had values masked. */
export interface MaskedColumn {
  table: string;
  column: string;
  /** Cells whose value was masked. */
  cells: number;
  /**
   * Why, sorted: `column name` (its name says it holds a credential: every value masked),
   * `settings` (a secret of the settings found in it), or the patterns.ts rule ids that
   * recognised a secret by its shape (`jwt`, `url-signature`, …).
   */
  by: string[];
}

/** What masking the secrets in the bundle's database snapshot changed. */
export interface DatabaseMasking {
  /** Cells whose value was masked, all tables together. */
  cells: number;
  /** Occurrences masked (a cell may hold several; a credential column's value counts one). */
  occurrences: number;
  /** Per column that had any, by table and column name. */
  columns: MaskedColumn[];
  /**
   * The events of `audit_log` that were masked: their seals no longer match them, so
   * `audit-trail verify` of the copy reports them as modified. `ranges` lists them as
   * `[first, last]` audit_id pairs (at most 1,000; `complete` says whether
   * that is all of them).
   */
  audit_ids: { count: number; ranges: [number, number][]; complete: boolean };
}

/** How many audit_id ranges the manifest lists at most. */
export const MAX_RANGES = 1000;
/** Rows read and changed per page: bounds the memory they take in JavaScript. */
const PAGE_ROWS = 2000;
/** SQLite's page cache while masking, in KiB: bounds what SQLite holds, whatever the table. */
const CACHE_KIB = 65_536;

interface Table {
  name: string;
  /** The columns that identify a row: `rowid`, or a WITHOUT ROWID table's primary key. */
  key: string[];
  columns: Column[];
  fts5: boolean;
}

interface Column {
  name: string;
  /** Every value is masked: the name says it holds a credential. */
  credential: boolean;
  /** The patterns of patterns.ts are looked for in it. */
  patterns: boolean;
  /** A UNIQUE index (or a WITHOUT ROWID table's key) covers it. */
  unique: boolean;
}

/**
 * Masks the database at `path` as the module says. Triggers are set aside meanwhile (the
 * append-only ones would refuse the change, an application's would stamp rows) and restored
 * afterwards, CHECK constraints are not enforced (`[REDACTED]` is longer than a 4-digit PIN);
 * `secure_delete` zeroes what the old values leave behind in the file. FTS5 tables are
 * masked through their own interface and merged, so their index no longer holds the old
 * words.
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
  // A raw connection that begins and commits its own transactions: the file is the bundle's
  // private copy, which nobody else opens, so openDatabase's settings and writeTransaction's
  // lock waits (made for the shared database) have nothing to do here.
  // A secret can be a key that the application's rows refer to: each cell is masked on its
  // own, so parent and child differ for a moment (or for good, when UNIQUE values are numbered).
  const db = new DatabaseSync(path, { enableForeignKeyConstraints: false });
  try {
    const tables = maskableTables(db, masker);
    if (tables.length === 0) return result;
    // No journal: no page with a secret is written to a file beside it, and a table is masked
    // in one transaction without holding its old pages anywhere (a journal in memory would
    // grow with the table). Nothing needs rolling back: a copy whose masking failed is not
    // shipped. The cache holds a large table's index pages while their entries change.
    db.exec(`PRAGMA secure_delete = ON; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
      PRAGMA ignore_check_constraints = ON; PRAGMA cache_size = -${CACHE_KIB}`);
    const triggers = db.prepare(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY rowid",
    ).all() as { name: string; sql: string }[];
    db.exec("BEGIN");
    for (const { name } of triggers) db.exec(`DROP TRIGGER ${quote(name)}`);
    db.exec("COMMIT");
    try {
      for (const table of tables) {
        signal?.throwIfAborted();
        maskTable(db, table, masker, result, signal);
      }
    } finally {
      // Without a journal there is no rolling back: what was done is kept (and the copy is
      // not shipped, since the masking failed).
      if (db.isTransaction) db.exec("COMMIT");
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

/** The tables with anything to look for, by name. */
function maskableTables(db: DatabaseSync, masker: SecretMasker): Table[] {
  const list = db.prepare("PRAGMA table_list").all() as {
    schema: string;
    name: string;
    type: string;
    wr: number;
  }[];
  const tables: Table[] = [];
  for (const entry of list) {
    // Shadow tables belong to a virtual table, which is masked through its own interface;
    // views hold no rows of their own.
    if (entry.schema !== "main" || entry.name.startsWith("sqlite_")) continue;
    if (entry.type !== "table" && entry.type !== "virtual") continue;
    const sql = (db.prepare("SELECT sql FROM sqlite_schema WHERE name = ?").get(entry.name)
      ?.sql ?? "") as string;
    const fts5 = /\bUSING\s+fts5\b/i.test(sql);
    if (entry.type === "virtual" && !fts5) continue;
    const application = !isToolTable(entry.name);
    if (!application && !masker.active) continue;
    const info = db.prepare(`PRAGMA table_xinfo(${quote(entry.name)})`).all() as {
      name: string;
      pk: number;
      hidden: number;
    }[];
    const unique = uniqueColumns(db, entry.name);
    // hidden 1: a virtual table's hidden column; 2 and 3: generated columns (computed).
    const columns = info.filter((c) => c.hidden === 0).map((c) => {
      const credential = application && isCredentialColumn(c.name);
      return {
        name: c.name,
        credential,
        patterns: application && !credential,
        unique: unique.has(c.name),
      };
    });
    if (columns.length === 0) continue;
    const key = entry.wr
      ? info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name)
      : ["rowid"];
    tables.push({ name: entry.name, key, columns, fts5 });
  }
  return tables.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The columns of `table` that some UNIQUE index (a primary key's too) covers. */
function uniqueColumns(db: DatabaseSync, table: string): Set<string> {
  const names = new Set<string>();
  const indexes = db.prepare(`PRAGMA index_list(${quote(table)})`).all() as {
    name: string;
    unique: number;
  }[];
  for (const index of indexes.filter((i) => i.unique)) {
    for (const { name } of db.prepare(`PRAGMA index_info(${quote(index.name)})`).all()) {
      if (typeof name === "string") names.add(name);
    }
  }
  return names;
}

function maskTable(
  db: DatabaseSync,
  table: Table,
  masker: SecretMasker,
  result: DatabaseMasking,
  signal?: AbortSignal,
): void {
  const name = quote(table.name);
  const keys = table.key.map((k) => k === "rowid" ? "rowid" : quote(k));
  const keyTuple = `(${keys.join(", ")})`;
  // SQLite finds the candidate cells (instr works on text and on a BLOB's bytes); the masker
  // and the patterns then decide, by their own rules, what is really masked. A column is read
  // only in the rows where it is a candidate (a large BLOB beside a password is not).
  const needles = masker.needles;
  const condition = (column: Column) => {
    const c = quote(column.name);
    if (column.credential) return `${c} IS NOT NULL`;
    const parts = needles.map((_, i) => `instr(${c}, ?${i + 1})`);
    if (column.patterns) parts.push(patternCandidate(c));
    return parts.join(" OR ");
  };
  const conditions = table.columns.map(condition);
  const marks = `(${keys.map((_, i) => `?${needles.length + i + 1}`).join(", ")})`;
  const selected = table.columns.map((column, i) =>
    column.credential
      ? quote(column.name)
      : `CASE WHEN ${conditions[i]} THEN ${quote(column.name)} END`
  );
  const page = (next: boolean) => {
    const read = db.prepare(
      `SELECT ${[...keys, ...selected].join(", ")} FROM ${name}
       WHERE ${next ? `${keyTuple} > ${marks} AND ` : ""}(${conditions.join(" OR ")})
       ORDER BY ${keys.join(", ")} LIMIT ${PAGE_ROWS}`,
    );
    read.setReadBigInts(true);
    (read as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
    return read;
  };
  const first = page(false);
  const next = page(true);
  const counts = table.columns.map(() => 0);
  const reasons = table.columns.map(() => new Set<string>());
  const ids = isAuditLog(table) ? result.audit_ids : null;
  const statements = new Map<string, ReturnType<DatabaseSync["prepare"]>>();
  const keyWhere = keys.map((k) => `${k} = ?`).join(" AND ");
  const unique = { next: 1 };
  let after: SQLInputValue[] | null = null;
  db.exec("BEGIN");
  for (;;) {
    signal?.throwIfAborted();
    const read = after ? next : first;
    const rows = read.all(...needles, ...(after ?? [])) as unknown as Cell[][];
    if (rows.length === 0) break;
    for (const row of rows) {
      const changes: [number, Cell][] = [];
      for (let i = 0; i < table.columns.length; i++) {
        const masked = maskCell(table.columns[i]!, row[keys.length + i]!, masker);
        if (!masked) continue;
        changes.push([i, masked.value]);
        counts[i]!++;
        for (const reason of masked.by) reasons[i]!.add(reason);
        result.occurrences += masked.count;
      }
      if (changes.length === 0) continue;
      const key = row.slice(0, keys.length) as SQLInputValue[];
      const shape = changes.map(([i]) => i).join(",");
      let update = statements.get(shape);
      if (!update) {
        const set = changes.map(([i]) => `${quote(table.columns[i]!.name)} = ?`).join(", ");
        update = db.prepare(`UPDATE ${name} SET ${set} WHERE ${keyWhere}`);
        statements.set(shape, update);
      }
      // A credential column under a UNIQUE index would refuse the same marker twice: its
      // values are numbered straight away.
      const eager = changes.flatMap(([column], i) => {
        const c = table.columns[column]!;
        return c.credential && c.unique ? [i] : [];
      });
      updateUnique(update, changes.map(([, v]) => v), key, unique, eager);
      if (ids) addId(ids, Number(key[0]));
    }
    after = rows[rows.length - 1]!.slice(0, keys.length) as SQLInputValue[];
    if (rows.length < PAGE_ROWS) break;
  }
  db.exec("COMMIT");
  if (table.fts5 && counts.some((n) => n > 0)) {
    // Merging the index drops the segments that still list the old words.
    db.prepare(`INSERT INTO ${name}(${name}) VALUES ('optimize')`).run();
  }
  table.columns.forEach((column, i) => {
    if (counts[i] === 0) return;
    result.columns.push({
      table: table.name,
      column: column.name,
      cells: counts[i]!,
      by: [...reasons[i]!].sort(),
    });
    result.cells += counts[i]!;
  });
}

/** One cell masked by the column's rules, or `null` when it keeps its value. */
function maskCell(
  column: Column,
  value: Cell,
  masker: SecretMasker,
): { value: Cell; count: number; by: string[] } | null {
  if (column.credential) {
    const masked = maskCredential(value);
    return masked === null ? null : { value: masked, count: 1, by: [BY_COLUMN_NAME] };
  }
  // Figures are never a secret's text, nor a pattern's.
  if (value === null || typeof value === "bigint" || typeof value === "number") return null;
  const by: string[] = [];
  let count = 0;
  let masked: Cell = value;
  if (typeof masked === "string") {
    const settings = masker.mask(masked);
    const shapes = column.patterns ? maskPatternsInText(settings.text) : null;
    masked = shapes?.text ?? settings.text;
    if (settings.count) by.push(BY_SETTINGS);
    count = settings.count + (shapes?.rules.length ?? 0);
    by.push(...shapes?.rules ?? []);
  } else {
    const settings = masker.maskBytes(masked);
    const shapes = column.patterns ? maskPatternsInBytes(settings.bytes) : null;
    masked = shapes?.bytes ?? settings.bytes;
    if (settings.count) by.push(BY_SETTINGS);
    count = settings.count + (shapes?.rules.length ?? 0);
    by.push(...shapes?.rules ?? []);
  }
  return count === 0 ? null : { value: masked, count, by };
}

/**
 * Runs the update; where two values become the same once masked (`X-4321` and `X-1234`
 * both `X-[REDACTED]`, two PINs both 0) and a UNIQUE index refuses that, the marker is
 * numbered instead (`X-[REDACTED 2]`, -2), so the row is still masked. `unique.next` carries
 * the number on from row to row, without trying every number already taken. The values at
 * the positions `eager` are numbered at the first attempt.
 */
function updateUnique(
  update: ReturnType<DatabaseSync["prepare"]>,
  values: Cell[],
  key: SQLInputValue[],
  unique: { next: number },
  eager: number[],
): void {
  const number = (n: number, only?: number[]) =>
    values.map((v, i) => only === undefined || only.includes(i) ? numbered(v, n) : v);
  let last: unknown;
  const run = (attempt: Cell[], next: number): boolean => {
    try {
      update.run(...attempt as SQLInputValue[], ...key);
      unique.next = next;
      return true;
    } catch (error) {
      if (!numberable(error)) throw error;
      last = error;
      return false;
    }
  };
  if (eager.length ? run(number(unique.next, eager), unique.next + 1) : run(values, unique.next)) {
    return;
  }
  // Then, for n = next, next + 1… (from 2: the plain marker was the first), one column
  // numbered at a time, then all.
  const start = Math.max(unique.next, 2);
  for (let n = start; n < start + 100; n++) {
    for (let i = 0; i < values.length; i++) if (run(number(n, [i]), n + 1)) return;
    if (run(number(n), n + 1)) return;
  }
  throw last;
}

/** SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY may be numbered away; nothing else. */
function numberable(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode;
  return code === 2067 || code === 1555;
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
