/**
 * Whether every index holds exactly its table's rows, found by sequential reads instead of
 * SQLite's full integrity check, which seeks every index once for every row (on events that
 * each carry a user and a run id, reads all over the file: most of that check's time).
 *
 * For each index, every entry is read through the index alone (a covering scan) and folded
 * into a count and a 64-bit sum of a hash of its values and rowid; one scan of the table
 * computes the same figures from the rows (respecting a partial index's `WHERE`). Because
 * the sum does not depend on order, an index missing a row, holding one too many, or
 * holding a stale value for a row (its row changed, the entry did not) gives other figures.
 * A table whose figures differ, or that this check cannot read this way (`WITHOUT ROWID`,
 * a `UNIQUE` index, an index it cannot parse or SQLite cannot read alone), is handed to
 * SQLite's own `PRAGMA integrity_check(TABLE)`, whose messages are reported: so what is
 * reported is always SQLite's word, and the cost of its full check is paid only where it
 * finds something, or where this check cannot vouch.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { errorMessage } from "../errors.ts";
import { quote } from "./logical_copy.ts";

/** What {@linkcode checkIndexes} found. */
export interface IndexCheck {
  /** SQLite's messages for the tables whose indexes do not match them (none: all match). */
  messages: string[];
  /** Tables checked by SQLite's full check instead, and why. */
  fullyChecked: { table: string; reason: string }[];
}

/**
 * Compares every index of the database with its table (see the module's notes). Runs inside
 * the caller's read transaction, if any: rows written meanwhile would make the two differ.
 *
 * @param sqlite The open database; two SQL functions of this check are added to it.
 * @param limit The most messages to report.
 * @returns SQLite's messages for the tables whose indexes differ (none when all match), and
 * the tables its full check was run on, with why.
 *
 * @example A healthy index
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 * import { checkIndexes } from "./index_check.ts";
 * const db = new DatabaseSync(":memory:");
 * db.exec("CREATE TABLE t (a TEXT); CREATE INDEX t_a ON t (a); INSERT INTO t VALUES ('x')");
 * assert.deepEqual(checkIndexes(db, 100), { messages: [], fullyChecked: [] });
 * ```
 */
export function checkIndexes(sqlite: DatabaseSync, limit: number): IndexCheck {
  const result: IndexCheck = { messages: [], fullyChecked: [] };
  const accumulate = registerFunctions(sqlite);
  for (const table of tablesWithIndexes(sqlite)) {
    if (result.messages.length >= limit) break;
    let reason: string | null;
    try {
      reason = compareTable(sqlite, table, accumulate);
    } catch (error) {
      // A value this check cannot read (an integer beyond 2^53) or a plan it did not
      // expect: SQLite's own check decides.
      reason = `the comparison failed (${errorMessage(error)})`;
    }
    if (reason === null) continue;
    result.fullyChecked.push({ table: table.name, reason });
    let lines: string[];
    try {
      lines = sqlite.prepare(`PRAGMA integrity_check(${quote(table.name)})`).all()
        .flatMap((row) => String(row.integrity_check).split("\n"));
    } catch (error) {
      lines = [`integrity check of ${table.name} could not run: ${errorMessage(error)}`];
    }
    for (const line of lines) {
      if (line.trim() !== "" && line !== "ok" && result.messages.length < limit) {
        result.messages.push(line);
      }
    }
  }
  return result;
}

// --- internals -------------------------------------------------------------------------------

/** An index as this check reads it. */
interface IndexPlan {
  name: string;
  /** The SQL of each key term: a quoted column name or the index's expression. */
  terms: string[];
  /** The partial index's condition, or `null`. */
  where: string | null;
}

interface TableIndexes {
  name: string;
  /** The indexes, or why they cannot be compared. */
  indexes: IndexPlan[] | string;
  /** How the table's rowid is named in SQL, or `null` when it has none that can be named. */
  rowid: string | null;
}

/**
 * Running figures of one index, or of what its table says it should hold: the entries'
 * count, and two 32-bit sums of `k1(values) + rowid × k2(values)`. Linear in the rowid, so
 * that entries of one value can be added up as a group: `count × k1 + (sum of rowids) × k2`.
 */
class Figures {
  count = 0;
  low = 0;
  high = 0;
  /**
   * Adds `count` entries whose values hash to `h` and whose rowids sum to `rowids` (mod
   * 2^32); the four keys are drawn from `h` apart.
   */
  add(h: number, count: number, rowids: number): void {
    this.count += count;
    const a1 = avalanche(h, 0x85ebca6b);
    const a2 = avalanche(h ^ 0x5bd1e995, 0xc2b2ae35) | 1;
    const b1 = avalanche(h ^ 0x68e31da4, 0x27d4eb2f);
    const b2 = avalanche(h ^ 0x1b873593, 0x165667b1) | 1;
    this.low = (this.low + Math.imul(a1, count) + Math.imul(a2, rowids)) >>> 0;
    this.high = (this.high + Math.imul(b1, count) + Math.imul(b2, rowids)) >>> 0;
  }
  equals(other: Figures): boolean {
    return this.count === other.count && this.low === other.low && this.high === other.high;
  }
}

const GROUP_FUNCTION = "audit_trail_index_group";
const ROW_FUNCTION = "audit_trail_index_row";
/** Rowid sums are taken modulo this, in SQL, so that they stay exact numbers. */
const MODULUS = 4294967296;

/** The figures being added up, set before each scan. */
interface Accumulator {
  /** Where `audit_trail_index_group(count, rowids, terms…)` adds. */
  group: Figures | null;
  /**
   * What `audit_trail_index_row(rowid, [flag,] terms…, …)` adds to, index by index (the flag
   * only for a partial index).
   */
  rows: { figures: Figures; terms: number; partial: boolean }[];
}

const connections = new WeakMap<DatabaseSync, Accumulator>();

function registerFunctions(sqlite: DatabaseSync): Accumulator {
  const known = connections.get(sqlite);
  if (known) return known;
  const accumulator: Accumulator = { group: null, rows: [] };
  sqlite.function(
    GROUP_FUNCTION,
    { deterministic: false, directOnly: true, varargs: true },
    (...args: SQLInputValue[]) => {
      const h = hashValues(args, 2, args.length - 2);
      accumulator.group!.add(h, Number(args[0]), Number(args[1]) >>> 0);
      return 0;
    },
  );
  sqlite.function(
    ROW_FUNCTION,
    { deterministic: false, directOnly: true, varargs: true },
    (...args: SQLInputValue[]) => {
      const rowid = Number(args[0]) >>> 0;
      const rows = accumulator.rows;
      let at = 1;
      for (let i = 0; i < rows.length; i++) {
        const { figures, terms, partial } = rows[i]!;
        // A partial index's flag: whether the row belongs in it.
        if (partial && args[at++] !== 1) {
          at += terms;
          continue;
        }
        figures.add(hashValues(args, at, terms), 1, rowid);
        at += terms;
      }
      return 0;
    },
  );
  connections.set(sqlite, accumulator);
  return accumulator;
}

const floats = new Float64Array(1);
const words = new Uint32Array(floats.buffer);

/**
 * A 32-bit hash of `count` values of `args` from `from`; each value's type is mixed in, so
 * that `1`, `'1'` and NULL differ. A stale entry goes unseen with odds of 1 in 2^32.
 * (Plain loops, no closures or arrays: it runs for every row of every index.)
 */
function hashValues(args: SQLInputValue[], from: number, count: number): number {
  let h = 0x243f6a88;
  for (let i = from; i < from + count; i++) {
    const v = args[i];
    if (typeof v === "string") {
      h = Math.imul(h ^ 3, 0x9e3779b1);
      for (let j = 0; j < v.length; j++) h = Math.imul(h ^ v.charCodeAt(j), 0x01000193);
      h = Math.imul(h ^ v.length, 0x9e3779b1);
    } else if (v === null) {
      h = Math.imul(h ^ 1, 0x9e3779b1);
    } else if (typeof v === "number") {
      floats[0] = v;
      h = Math.imul(h ^ 2, 0x9e3779b1);
      h = Math.imul(h ^ words[0]!, 0x9e3779b1);
      h = Math.imul(h ^ words[1]!, 0x9e3779b1);
    } else if (typeof v === "bigint") {
      h = Math.imul(h ^ 4, 0x9e3779b1);
      h = Math.imul(h ^ Number(BigInt.asUintN(32, v)), 0x9e3779b1);
      h = Math.imul(h ^ Number(BigInt.asUintN(32, v >> 32n)), 0x9e3779b1);
    } else {
      const bytes = new Uint8Array(v!.buffer, v!.byteOffset, v!.byteLength);
      h = Math.imul(h ^ 5, 0x9e3779b1);
      for (let j = 0; j < bytes.length; j++) h = Math.imul(h ^ bytes[j]!, 0x01000193);
      h = Math.imul(h ^ bytes.length, 0x9e3779b1);
    }
    h ^= h >>> 15;
  }
  return h;
}

/** A final mix, so that sums of hashes do not cancel out by structure. */
function avalanche(h: number, multiplier: number): number {
  h = Math.imul(h ^ (h >>> 16), multiplier);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Tables that have at least one index, each with its indexes planned. */
function tablesWithIndexes(sqlite: DatabaseSync): TableIndexes[] {
  const indexed = sqlite.prepare(
    `SELECT DISTINCT tbl_name AS name FROM sqlite_schema WHERE type = 'index' ORDER BY tbl_name`,
  ).all().map((row) => String(row.name));
  return indexed.map((name) => {
    const list = sqlite.prepare(
      `SELECT * FROM pragma_table_list WHERE schema = 'main' AND name = ?`,
    ).get(name);
    if (!list || list.type !== "table") {
      return { name, indexes: "it is not an ordinary table", rowid: null };
    }
    if (list.wr) return { name, indexes: "it is a WITHOUT ROWID table", rowid: null };
    const rowid = rowidName(sqlite, name);
    if (rowid === null) return { name, indexes: "its rowid cannot be named", rowid };
    return { name, indexes: planIndexes(sqlite, name), rowid };
  });
}

/** `rowid`, or one of its other names when a column took it. */
function rowidName(sqlite: DatabaseSync, table: string): string | null {
  const columns = new Set(
    sqlite.prepare(`SELECT lower(name) AS name FROM pragma_table_xinfo(?)`).all(table)
      .map((row) => String(row.name)),
  );
  return ["rowid", "_rowid_", "oid"].find((name) => !columns.has(name)) ?? null;
}

/** Each index of `table` as this check reads it, or why it cannot. */
function planIndexes(sqlite: DatabaseSync, table: string): IndexPlan[] | string {
  const list = sqlite.prepare(
    `SELECT l.name, l."unique", s.sql FROM pragma_index_list(?) AS l
     LEFT JOIN sqlite_schema AS s ON s.type = 'index' AND s.name = l.name ORDER BY l.name`,
  ).all(table);
  const plans: IndexPlan[] = [];
  for (const row of list) {
    const name = String(row.name);
    if (row.unique) return `its index ${name} is UNIQUE`;
    if (typeof row.sql !== "string") return `its index ${name} has no SQL`;
    const keys = sqlite.prepare(
      `SELECT cid, name FROM pragma_index_xinfo(?) WHERE key ORDER BY seqno`,
    ).all(name);
    const parsed = parseCreateIndex(row.sql);
    if (!parsed || parsed.terms.length !== keys.length) {
      return `its index ${name} was not understood`;
    }
    const terms = keys.map((key, i) =>
      Number(key.cid) >= 0 ? quote(String(key.name)) : parsed.terms[i]!
    );
    plans.push({ name, terms, where: parsed.where });
  }
  return plans;
}

/**
 * Compares each index of `table` with the table; `null` when all match, else why SQLite's
 * full check should decide.
 */
function compareTable(
  sqlite: DatabaseSync,
  table: TableIndexes,
  accumulator: Accumulator,
): string | null {
  if (typeof table.indexes === "string") return table.indexes;
  const name = quote(table.name);
  const rowid = table.rowid!;
  const fromRows = table.indexes.map((index) => ({
    figures: new Figures(),
    terms: index.terms.length,
    partial: index.where !== null,
  }));
  const fromEntries: Figures[] = [];
  for (const index of table.indexes) {
    // Entries of one value are read as one group, in index order: for a column of few
    // values, one call into JavaScript per value instead of per row. SQLite reads an
    // expression from the index only entry by entry.
    const terms = index.terms.join(", ");
    // Grouped by bytes, whatever the column's collation: the group's value stands for all.
    const groups = index.terms.map((term) => `${term} COLLATE BINARY`).join(", ");
    const from = `FROM ${name} INDEXED BY ${quote(index.name)}${
      index.where ? ` WHERE ${index.where}` : ""
    }`;
    const sql = [
      `SELECT max(x) FROM (SELECT ${GROUP_FUNCTION}(count(*), sum(${rowid}) % ${MODULUS}, ${terms})
         AS x ${from} GROUP BY ${groups})`,
      `SELECT max(${GROUP_FUNCTION}(1, ${rowid} % ${MODULUS}, ${terms})) ${from}`,
    ].find((sql) => coveredBy(sqlite, sql, index.name));
    // Read from the index alone, or the figures would come from the table twice over.
    if (sql === undefined) return `its index ${index.name} cannot be read alone`;
    const figures = new Figures();
    accumulator.group = figures;
    try {
      sqlite.prepare(sql).get();
    } finally {
      accumulator.group = null;
    }
    fromEntries.push(figures);
  }
  const columns = table.indexes.map((index) =>
    `${index.where ? `CASE WHEN ${index.where} THEN 1 ELSE 0 END, ` : ""}${index.terms.join(", ")}`
  );
  accumulator.rows = fromRows;
  try {
    sqlite.prepare(
      `SELECT max(${ROW_FUNCTION}(${rowid}, ${columns.join(", ")})) FROM ${name} NOT INDEXED`,
    ).get();
  } finally {
    accumulator.rows = [];
  }
  const differs = table.indexes.filter((_, i) => !fromEntries[i]!.equals(fromRows[i]!.figures));
  return differs.length === 0
    ? null
    : `its index ${differs.map((index) => index.name).join(", ")} does not match it`;
}

/** Whether SQLite answers `sql` from the index `name` alone, without reading the table. */
function coveredBy(sqlite: DatabaseSync, sql: string, name: string): boolean {
  const reads = sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((row) => String(row.detail))
    .filter((step) => /^(SCAN|SEARCH) /.test(step) && !/^(SCAN|SEARCH) \(subquery/.test(step));
  return reads.length === 1 && reads[0]!.endsWith(`USING COVERING INDEX ${name}`);
}

/**
 * The key terms and the `WHERE` of a `CREATE INDEX` statement, each as SQL text. A term's
 * `COLLATE` and `ASC`/`DESC` are left out: they order the index, they do not change its
 * values.
 *
 * @param sql The statement, as `sqlite_schema` keeps it.
 * @returns The terms and the condition (`null` for a full index), or `null` when the text
 * is not understood (then SQLite's full check decides).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCreateIndex } from "./index_check.ts";
 * assert.deepEqual(
 *   parseCreateIndex("CREATE INDEX i ON t (lower(a) COLLATE NOCASE DESC, b) WHERE b > 0"),
 *   { terms: ["lower(a)", "b"], where: "b > 0" },
 * );
 * ```
 */
export function parseCreateIndex(sql: string): { terms: string[]; where: string | null } | null {
  const tokens = tokenize(sql);
  if (tokens === null) return null;
  const open = tokens.findIndex((t) => t.text === "(");
  if (open < 0) return null;
  const terms: string[] = [];
  let depth = 0;
  let start = open + 1;
  let close = -1;
  for (let i = open + 1; i < tokens.length && close < 0; i++) {
    const text = tokens[i]!.text;
    if (text === "(") depth++;
    else if (text === ")" && depth > 0) depth--;
    else if ((text === "," || text === ")") && depth === 0) {
      const term = termText(sql, tokens.slice(start, i));
      if (term === null) return null;
      terms.push(term);
      start = i + 1;
      if (text === ")") close = i;
    }
  }
  if (close < 0) return null;
  const rest = tokens.slice(close + 1);
  if (rest.length === 0) return { terms, where: null };
  if (rest[0]!.text.toUpperCase() !== "WHERE" || rest.length < 2) return null;
  return { terms, where: sql.slice(rest[1]!.start, rest[rest.length - 1]!.end) };
}

interface Token {
  text: string;
  start: number;
  end: number;
}

/** The term without its trailing `COLLATE name` and `ASC`/`DESC`. */
function termText(sql: string, tokens: Token[]): string | null {
  let end = tokens.length;
  const word = (i: number) => tokens[i]?.text.toUpperCase();
  if (word(end - 1) === "ASC" || word(end - 1) === "DESC") end--;
  if (end >= 2 && word(end - 2) === "COLLATE") end -= 2;
  if (end === 0) return null;
  return sql.slice(tokens[0]!.start, tokens[end - 1]!.end);
}

/** SQL tokens, comments left out; `null` for an unterminated string or comment. */
function tokenize(sql: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      if (end < 0) return null;
      i = end + 2;
    } else if (c === "'" || c === '"' || c === "`" || c === "[") {
      const closing = c === "[" ? "]" : c;
      let j = i + 1;
      for (;;) {
        const at = sql.indexOf(closing, j);
        if (at < 0) return null;
        // A doubled quote is a quote inside (not for brackets).
        if (closing !== "]" && sql[at + 1] === closing) {
          j = at + 2;
          continue;
        }
        j = at + 1;
        break;
      }
      tokens.push({ text: sql.slice(i, j), start: i, end: j });
      i = j;
    } else if (/[A-Za-z0-9_$\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$\u0080-\uffff.]/.test(sql[j]!)) j++;
      tokens.push({ text: sql.slice(i, j), start: i, end: j });
      i = j;
    } else {
      tokens.push({ text: c, start: i, end: i + 1 });
      i++;
    }
  }
  return tokens;
}
