/**
 * Audit events: what one is, how it is checked, and how events are appended to `audit_log`.
 *
 * @module
 */
import type { StatementSync } from "node:sqlite";
import { encodingSql } from "./chain/encoding.ts";
import {
  CHAIN_SCHEMA_VERSION,
  type ChainTip,
  chainTip,
  sealEvents,
  sealRows,
} from "./chain/seal.ts";
import { type AuditDatabase, bulkWriteTransaction, guard, writeTransaction } from "./db.ts";
import { DatabaseCorruptError, InvalidInputError, UsageError } from "./errors.ts";
import { runIdProblem } from "./run_id.ts";
import { schemaVersion } from "./schema.ts";
import type { AuditEvent } from "./event_row.ts";

// --- what an event is, and how one is checked -------------------------------------------------
// (With the appending below in one module: every `log` loads both, and each module on its way
// costs a start, cold about a millisecond; see DEVELOPERS.md, "Start-up".)

/** An event to append. The database sets `audit_id` and `timestamp`. */
export interface NewAuditEvent {
  operation: string;
  details?: string | null;
  sku?: string | null;
  user?: string | null;
  run_id?: string | null;
}

/** Values used for fields an event leaves out. */
export interface EventDefaults {
  /** Who did it, when the event does not say (default `system`). */
  user?: string;
  /** The batch it belongs to, when the event does not say. */
  run_id?: string | null;
}

/** Longest operation name, in characters. */
export const MAX_OPERATION_LENGTH = 100;
/** Longest details text, in characters; longer text is refused, never truncated. */
export const MAX_DETAILS_LENGTH = 65_536;
/** Longest SKU and user name, in characters. */
export const MAX_NAME_LENGTH = 256;

const EVENT_FIELDS = new Set(["operation", "details", "sku", "user", "run_id"]);

/**
 * Characters no operation name may hold: C0 and C1 controls and DEL (a tab, a newline, an
 * escape sequence), and the bidirectional overrides and isolates that make a name display as
 * another. Operations are identifiers that scripts filter on and terminals show.
 */
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** An event that passed {@linkcode checkEvent}, with its defaults filled in. */
export type CheckedEvent = Required<Omit<NewAuditEvent, "details" | "user">> & {
  details: string;
  user: string;
};

/**
 * Checks one event against SPEC's limits and fills in defaults. `fail` builds the error so
 * that command-line arguments and NDJSON lines can report problems in their own terms.
 */
export function checkEvent(
  input: unknown,
  defaults: EventDefaults,
  fail: (problem: string) => Error,
): CheckedEvent {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    const kind = input === null ? "null" : Array.isArray(input) ? "an array" : typeof input;
    throw fail(`expected an event object like {"operation": "..."}, got ${kind}`);
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!EVENT_FIELDS.has(key)) {
      throw fail(
        `unknown field "${key}" (allowed: operation, details, sku, user, run_id)`,
      );
    }
  }
  const operation = record.operation;
  if (operation === undefined || operation === null) {
    throw fail(`"operation" is missing`);
  }
  if (typeof operation !== "string") throw fail(typeMessage("operation", operation));
  if (operation.trim() === "") throw fail(`"operation" must not be empty`);
  checkLength("operation", operation, MAX_OPERATION_LENGTH, fail);
  const control = CONTROL_CHARACTER.exec(operation);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw fail(
      `"operation" contains a control character (U+${code}); an operation is a name like ORDER_CONFIRMED`,
    );
  }

  const details = optionalString(record, "details", fail) ?? "";
  checkLength("details", details, MAX_DETAILS_LENGTH, fail);
  const sku = optionalString(record, "sku", fail);
  if (sku !== null) checkName("sku", sku, fail);
  const user = optionalString(record, "user", fail) ?? defaults.user ?? "system";
  checkName("user", user, fail);
  const runId = optionalString(record, "run_id", fail) ?? defaults.run_id ?? null;
  if (runId !== null) {
    const problem = runIdProblem(runId);
    if (problem) throw fail(problem);
  }
  return { operation, details, sku, user, run_id: runId };
}

function checkDefaults(defaults: EventDefaults): EventDefaults {
  const fail = (problem: string) => new UsageError(problem);
  if (defaults.user !== undefined) checkName("user", defaults.user, fail);
  if (defaults.run_id) {
    const problem = runIdProblem(defaults.run_id);
    if (problem) throw fail(problem);
  }
  return defaults;
}

function optionalString(
  record: Record<string, unknown>,
  field: string,
  fail: (problem: string) => Error,
): string | null {
  const value = record[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw fail(typeMessage(field, value));
  return value;
}

function checkName(field: string, value: string, fail: (problem: string) => Error) {
  if (value === "") {
    throw fail(
      `"${field}" must not be empty${
        field === "sku" ? " (leave it out for events without a SKU)" : ""
      }`,
    );
  }
  checkLength(field, value, MAX_NAME_LENGTH, fail);
}

function checkLength(
  field: string,
  value: string,
  limit: number,
  fail: (problem: string) => Error,
) {
  // SQLite stores a NUL, but node:sqlite reads text back only up to it, and a lone surrogate
  // turns into U+FFFD on the way to UTF-8: either would change the event silently.
  if (value.includes("\0")) {
    throw fail(`"${field}" contains a NUL character (\\u0000), which cannot be stored`);
  }
  if (!value.isWellFormed()) {
    throw fail(`"${field}" contains an unpaired surrogate (\\ud800-\\udfff): not valid Unicode`);
  }
  // Code units are an upper bound on characters: count code points only when it matters.
  if (value.length <= limit) return;
  let characters = 0;
  for (const _ of value) characters++;
  if (characters > limit) {
    throw fail(`"${field}" is ${characters} characters long; at most ${limit} are allowed`);
  }
}

function typeMessage(field: string, value: unknown): string {
  const kind = Array.isArray(value) ? "an array" : typeof value;
  return `"${field}" must be a string, got ${kind}`;
}

// --- appending events --------------------------------------------------------------------------

/** Result of appending many events at once. */
export interface BulkInsertResult {
  inserted: number;
  first_audit_id: number | null;
  last_audit_id: number | null;
}

const NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/**
 * Appends one event and returns it as stored. The event is durable when this returns.
 *
 * @param db The open database.
 * @param event The operation and optional details, SKU, user and run id.
 * @param defaults The user and run id for an event that gives none.
 * @returns The stored event, with its `audit_id` and `timestamp`.
 * @throws {UsageError} When a field is missing, empty, too long or of the wrong type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const event = logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1", user: "ana" });
 * assert.deepEqual([event.audit_id, event.operation, event.run_id], [1, "SKU_CREATED", null]);
 * ```
 */
export function logAuditEvent(
  db: AuditDatabase,
  event: NewAuditEvent,
  defaults: EventDefaults = {},
): AuditEvent {
  const valid = checkEvent(event, defaults, (problem) => new UsageError(problem));
  const stored = writeTransaction(db, () => {
    const tip = tipForWriting(db);
    const row = db.statement(
      `INSERT INTO audit_log (audit_id, timestamp, operation, sku, details, user, run_id)
       VALUES (?, ${NOW_SQL}, ?, ?, ?, ?, ?) RETURNING audit_id, timestamp`,
    ).get(
      tip?.reservedUpTo == null ? null : tip.reservedUpTo + 1,
      valid.operation,
      valid.sku,
      valid.details,
      valid.user,
      valid.run_id,
    )!;
    if (tip) sealEvents(db, tip.previousHash, row.audit_id as number, row.audit_id as number);
    return row;
  });
  return {
    audit_id: stored!.audit_id as number,
    timestamp: stored!.timestamp as string,
    operation: valid.operation,
    sku: valid.sku,
    details: valid.details,
    user: valid.user,
    run_id: valid.run_id,
  };
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
 * however slowly the input arrives.
 *
 * @param db The open database.
 * @param events The events, from an array, generator or async stream.
 * @param defaults The user and run id for events that give none.
 * @returns How many were stored and the first and last `audit_id`.
 * @throws {InvalidInputError} Naming the first invalid event (1-based); nothing is stored.
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
export async function logNumberedEvents(
  db: AuditDatabase,
  inputs: Iterable<NumberedInput> | AsyncIterable<NumberedInput>,
  defaults: EventDefaults = {},
  unit = "Line",
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
  const restoreCache = raiseCache(db);
  try {
    // The staging table lives in the connection's private temp database: filling it takes
    // no lock on the audit log, and memory stays bounded (it spills to a temp file).
    let staged = 0;
    guard(db.path, () => sqlite.exec("BEGIN"));
    try {
      const stage = new Stager(db);
      for await (const { line, value } of inputs) {
        stage.add(checkEvent(
          value,
          checkedDefaults,
          (problem) => new InvalidInputError(line, problem, { unit, hint: NOTHING_STORED_HINT }),
        ));
        staged++;
      }
      stage.flush();
      guard(db.path, () => sqlite.exec("COMMIT"));
    } catch (error) {
      if (sqlite.isTransaction) sqlite.exec("ROLLBACK");
      throw error;
    }
    if (staged === 0) return { inserted: 0, first_audit_id: null, last_audit_id: null };
    return await bulkWriteTransaction(db, () => {
      const tip = tipForWriting(db);
      // One time for the whole input, as SQLite's 'now' is within one statement.
      const timestamp = sqlite.prepare(`SELECT ${NOW_SQL} AS now`).get()!.now as string;
      // A NULL id lets SQLite number the rows (seq counts from 1 in a fresh staging table).
      const { changes, lastInsertRowid } = sqlite.prepare(
        `INSERT INTO audit_log (audit_id, timestamp, operation, sku, details, user, run_id)
         SELECT ?1 + seq, ?2, operation, sku, details, user, run_id
         FROM temp.audit_staging ORDER BY seq`,
      ).run(tip?.reservedUpTo ?? null, timestamp);
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

/** Rows staged by one statement: a call per row costs more than binding its five values. */
const STAGE_BATCH = 50;
const STAGE_SQL = "INSERT INTO temp.audit_staging (operation, sku, details, user, run_id) VALUES";

/** Fills the staging table in the input's order, {@linkcode STAGE_BATCH} rows a statement. */
class Stager {
  #db: AuditDatabase;
  #batch: StatementSync;
  #values: (string | null)[] = new Array(STAGE_BATCH * 5);
  #count = 0;

  constructor(db: AuditDatabase) {
    this.#db = db;
    this.#batch = db.statement(stageSql(STAGE_BATCH));
  }

  add(event: CheckedEvent): void {
    const values = this.#values;
    const at = this.#count * 5;
    values[at] = event.operation;
    values[at + 1] = event.sku;
    values[at + 2] = event.details;
    values[at + 3] = event.user;
    values[at + 4] = event.run_id;
    if (++this.#count === STAGE_BATCH) {
      this.#batch.run(...values);
      this.#count = 0;
    }
  }

  /** Stages the rows of the last, partial batch. */
  flush(): void {
    if (this.#count === 0) return;
    this.#db.sqlite.prepare(stageSql(this.#count)).run(...this.#values.slice(0, this.#count * 5));
    this.#count = 0;
  }
}

function stageSql(rows: number): string {
  return `${STAGE_SQL} ${new Array(rows).fill("(?, ?, ?, ?, ?)").join(", ")}`;
}

/**
 * The chain tip new events extend, read under the write lock so that concurrent writers never
 * fork the chain. Null on a database not yet migrated to the chain (its events are sealed when
 * it is); a migrated one without its seals table has been tampered with.
 */
function tipForWriting(db: AuditDatabase): ChainTip | null {
  const tip = chainTip(db);
  if (tip === null && schemaVersion(db) >= CHAIN_SCHEMA_VERSION) {
    throw new DatabaseCorruptError(
      db.path,
      "its integrity seals (table audit_trail_chain) are missing, so new events cannot be sealed",
    );
  }
  return tip;
}

/**
 * Page cache of the final copy, in KiB. With SQLite's default of 2 MiB, a large import's
 * updates to five indexes at scattered places are written out and read back over and over
 * (twice as slow at a million events); 32 MiB keeps them in memory while the whole process
 * stays well under 200 MB.
 */
const BULK_CACHE_KIB = 32 * 1024;

/**
 * Gives the database at least {@linkcode BULK_CACHE_KIB} of page cache for the final copy
 * (the staging table has its own), and returns how to give the connection its own setting
 * back, so that a long-lived connection of a library caller does not keep the memory.
 */
function raiseCache(db: AuditDatabase): () => void {
  const sqlite = db.sqlite;
  const { cache_size: setting } = guard(db.path, () => sqlite.prepare("PRAGMA cache_size").get()!);
  const { page_size: pageSize } = guard(db.path, () => sqlite.prepare("PRAGMA page_size").get()!);
  // A negative setting is in KiB, a positive one in pages.
  const kib = (setting as number) < 0
    ? -(setting as number)
    : (setting as number) * (pageSize as number) / 1024;
  if (kib >= BULK_CACHE_KIB) return () => {};
  guard(db.path, () => sqlite.exec(`PRAGMA cache_size = -${BULK_CACHE_KIB}`));
  return () => sqlite.exec(`PRAGMA cache_size = ${Number(setting)}`);
}

const NOTHING_STORED_HINT = "Nothing from this input was stored. Fix the line and run again.";
