/**
 * Appending many events at once (`log --stdin`, `logAuditEvents`): the input is checked and
 * staged first, then copied into `audit_log` and sealed in one transaction, all or nothing.
 *
 * A module of its own, loaded on demand: a single `log` never reads it.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { encodingSql } from "./chain/encoding.ts";
import { sealRows } from "./chain/seal.ts";
import {
  type AuditDatabase,
  bulkWriteTransaction,
  guard,
  raisePageCache,
  tempTransaction,
} from "./db.ts";
import { fieldProblem, InvalidInputError } from "./errors.ts";
import {
  appendEvent,
  checkDefaults,
  type CheckedEvent,
  checkEvent,
  type EventDefaults,
  type NewAuditEvent,
  NOW_SQL,
  tipForWriting,
} from "./events.ts";

/** Result of appending many events at once. */
export interface BulkInsertResult {
  inserted: number;
  first_audit_id: number | null;
  last_audit_id: number | null;
}

/** One event of a numbered input (an NDJSON line), not yet checked. */
export interface NumberedInput {
  /** 1-based number of the input line, used in error messages. */
  line: number;
  /** The parsed value: should be an event object. */
  value: unknown;
}

/**
 * Appends many events as one transaction: either all are stored or none is. Input is
 * checked and staged first, so the database's write lock is held only for the final copy,
 * however slowly the input arrives. Inside a transaction the application holds open on `db`,
 * the events join it, as with `logAuditEvent`. Calls from concurrent tasks on one
 * connection take turns, each input whole.
 *
 * @param db The open database.
 * @param events The events, from an array, generator or async stream.
 * @param defaults The user and run id for events that give none.
 * @returns How many were stored and the first and last `audit_id`.
 * @throws {InvalidInputError} Naming the first invalid event (1-based); nothing is stored.
 * @throws {UsageError} When the database is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvents, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const result = await logAuditEvents(db, [
 *   { operation: "ORDER_CONFIRMED", sku: "SKU-1", details: "Order ORD-1: 3 units" },
 *   { operation: "ORDER_CONFIRMED", sku: "SKU-2", details: "Order ORD-2: 5 units" },
 * ], { run_id: "run_manual_1" });
 * assert.deepEqual(result, { inserted: 2, first_audit_id: 1, last_audit_id: 2 });
 * ```
 */
export async function logAuditEvents(
  db: AuditDatabase,
  events: Iterable<NewAuditEvent> | AsyncIterable<NewAuditEvent>,
  defaults: EventDefaults = {},
): Promise<BulkInsertResult> {
  async function* numbered(): AsyncIterable<NumberedInput> {
    let line = 0;
    for await (const value of events) yield { line: ++line, value };
  }
  return await logNumberedEvents(db, numbered(), defaults, "Event");
}

/**
 * Like {@linkcode logAuditEvents}, for input whose items carry their own line numbers
 * (NDJSON, where blank lines are skipped but still counted).
 */
export function logNumberedEvents(
  db: AuditDatabase,
  inputs: Iterable<NumberedInput> | AsyncIterable<NumberedInput>,
  defaults: EventDefaults = {},
  unit = "Line",
): Promise<BulkInsertResult> {
  // Appends on one connection take turns: each stages its input in the connection's one
  // staging table, and appends from concurrent tasks must not mix their inputs.
  const previous = appendsInProgress.get(db) ?? Promise.resolve();
  const appended = previous.catch(() => {}).then(() => appendNumbered(db, inputs, defaults, unit));
  appendsInProgress.set(db, appended);
  return appended;
}

/** The latest append on each connection, which the next one waits for. */
const appendsInProgress = new WeakMap<AuditDatabase, Promise<unknown>>();

async function appendNumbered(
  db: AuditDatabase,
  inputs: Iterable<NumberedInput> | AsyncIterable<NumberedInput>,
  defaults: EventDefaults,
  unit: string,
): Promise<BulkInsertResult> {
  const checkedDefaults = checkDefaults(defaults);
  const sqlite = db.sqlite;
  guard(db.path, () =>
    sqlite.exec(`
      PRAGMA temp_store = FILE;
      DROP TABLE IF EXISTS temp.audit_staging;
      CREATE TEMP TABLE audit_staging (
        seq INTEGER PRIMARY KEY, operation TEXT, sku TEXT, details TEXT, user TEXT, run_id TEXT
      );`));
  const restoreCache = raisePageCache(db);
  try {
    // The staging table lives in the connection's private temp database: filling it takes
    // no lock on the audit log, and memory stays bounded (it spills to a temp file).
    let staged = 0;
    const stage = new Stager(db);
    for await (const { line, value } of inputs) {
      stage.add(checkEvent(
        value,
        checkedDefaults,
        (problem, field) =>
          new InvalidInputError(line, fieldProblem(problem, field), {
            unit,
            hint: NOTHING_STORED_HINT,
          }),
      ));
      staged++;
    }
    stage.flush();
    if (staged === 0) return { inserted: 0, first_audit_id: null, last_audit_id: null };
    return await bulkWriteTransaction(db, () => {
      const tip = tipForWriting(db);
      // One time for the whole input, as SQLite's 'now' is within one statement.
      const timestamp = sqlite.prepare(`SELECT ${NOW_SQL} AS now`).get()!.now as string;
      const newest = sqlite.prepare("SELECT max(audit_id) AS id FROM audit_log").get()!.id ?? 0;
      sqlite.exec("SAVEPOINT bulk_append");
      // A trigger of the application on audit_log may add rows of its own amid the input's,
      // which then are not numbered consecutively (or, numbered by the input's order above a
      // reserved id, take one the input needs): each is appended and sealed on its own.
      const oneByOne = () => {
        sqlite.exec("ROLLBACK TO bulk_append; RELEASE bulk_append");
        return appendOneByOne(db);
      };
      let inserted;
      try {
        // A NULL id lets SQLite number the rows (seq counts from 1 in a fresh staging table).
        inserted = sqlite.prepare(
          `INSERT INTO audit_log (audit_id, timestamp, operation, sku, details, user, run_id)
           SELECT ?1 + seq, ?2, operation, sku, details, user, run_id
           FROM temp.audit_staging ORDER BY seq`,
        ).run(tip?.reservedUpTo ?? null, timestamp);
      } catch (error) {
        if ((error as { errcode?: number }).errcode === SQLITE_CONSTRAINT_PRIMARYKEY) {
          return oneByOne();
        }
        throw error;
      }
      const { changes, lastInsertRowid } = inserted;
      const added = sqlite.prepare("SELECT count(*) AS n FROM audit_log WHERE audit_id > ?")
        .get(newest)!.n as number;
      if (added !== Number(changes)) return oneByOne();
      sqlite.exec("RELEASE bulk_append");
      // One INSERT under the write lock numbers its rows consecutively; max(audit_id) + 1
      // would be wrong on an adopted AUTOINCREMENT table whose newest rows were deleted.
      const first = Number(lastInsertRowid) - Number(changes) + 1;
      const last = Number(lastInsertRowid);
      if (tip) {
        // Sealed from the staging table, which holds exactly what was copied: reading a large
        // input back out of audit_log would miss the page cache.
        // JavaScript numbers are bound as REAL, which JSON would write as 8.0.
        const id = "CAST(?1 AS INTEGER) + seq";
        const encoded = encodingSql({
          audit_id: id,
          timestamp: "?2",
          operation: "operation",
          sku: "sku",
          details: "details",
          user: "user",
          run_id: "run_id",
        });
        const sealed = sealRows(
          db,
          tip.previousHash,
          `SELECT ${id} AS audit_id, ${encoded} AS encoded FROM temp.audit_staging ORDER BY seq`,
          [first - 1, timestamp],
          first,
        );
        if (sealed.sealed !== Number(changes)) throw new Error("not every event was sealed");
      }
      return { inserted: Number(changes), first_audit_id: first, last_audit_id: last };
    });
  } finally {
    if (sqlite.isOpen) {
      try {
        sqlite.exec("DROP TABLE IF EXISTS temp.audit_staging");
        restoreCache();
      } catch {
        // The connection is about to close with its temp database; nothing is lost.
      }
    }
  }
}

/** An INSERT that gives a row an id another row holds. */
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;

/** Staged events read back per page by {@linkcode appendOneByOne}. */
const ONE_BY_ONE_PAGE = 1000;

/** Appends and seals the staged events one at a time, in the caller's write transaction. */
function appendOneByOne(db: AuditDatabase): BulkInsertResult {
  const page = db.sqlite.prepare(
    `SELECT seq, operation, sku, details, user, run_id FROM temp.audit_staging
     WHERE seq > ? ORDER BY seq LIMIT ${ONE_BY_ONE_PAGE}`,
  );
  const result: BulkInsertResult = { inserted: 0, first_audit_id: null, last_audit_id: null };
  for (let seq = 0;;) {
    const rows = page.all(seq) as unknown as (CheckedEvent & { seq: number })[];
    for (const { seq: _seq, ...event } of rows) {
      const { audit_id } = appendEvent(db, event);
      result.first_audit_id ??= audit_id;
      result.last_audit_id = audit_id;
      result.inserted++;
    }
    if (rows.length < ONE_BY_ONE_PAGE) return result;
    seq = rows[rows.length - 1]!.seq;
  }
}

/** Rows staged by one statement: a call per row costs more than binding its five values. */
const STAGE_BATCH = 50;
/**
 * Rows staged per transaction. Each is written in one go, never across an `await` of the
 * input: a transaction held open meanwhile would draw the application's own writes on the
 * connection into it (and roll them back with an invalid input).
 */
const STAGE_CHUNK = 20 * STAGE_BATCH;
const STAGE_SQL = "INSERT INTO temp.audit_staging (operation, sku, details, user, run_id) VALUES";

/** Fills the staging table in the input's order, {@linkcode STAGE_BATCH} rows a statement. */
class Stager {
  #db: AuditDatabase;
  #batch: StatementSync;
  #values: (string | null)[] = [];

  constructor(db: AuditDatabase) {
    this.#db = db;
    this.#batch = db.statement(stageSql(STAGE_BATCH));
  }

  add(event: CheckedEvent): void {
    this.#values.push(event.operation, event.sku, event.details, event.user, event.run_id);
    if (this.#values.length === STAGE_CHUNK * 5) this.flush();
  }

  /** Stages the rows held so far. */
  flush(): void {
    const values = this.#values;
    if (values.length === 0) return;
    tempTransaction(this.#db, () => {
      const full = values.length - values.length % (STAGE_BATCH * 5);
      for (let at = 0; at < full; at += STAGE_BATCH * 5) {
        this.#batch.run(...values.slice(at, at + STAGE_BATCH * 5));
      }
      if (full < values.length) {
        this.#db.sqlite.prepare(stageSql((values.length - full) / 5)).run(...values.slice(full));
      }
    });
    this.#values = [];
  }
}

function stageSql(rows: number): string {
  return `${STAGE_SQL} ${new Array(rows).fill("(?, ?, ?, ?, ?)").join(", ")}`;
}

const NOTHING_STORED_HINT = "Nothing from this input was stored. Fix the line and run again.";
