/**
 * Audit events: what one is, how it is checked, and how one is appended to `audit_log`
 * (many at once: lib/bulk_append.ts).
 *
 * @module
 */
import { CHAIN_SCHEMA_VERSION, type ChainTip, chainTip, sealEvents } from "./chain/seal.ts";
import { appendTransaction, type AuditDatabase } from "./db.ts";
import { DatabaseCorruptError, EventRefusedError } from "./errors.ts";
import { runIdProblem } from "./run_id.ts";
import { schemaVersion } from "./schema.ts";
import type { AuditEvent } from "./event_row.ts";

// --- what an event is, and how one is checked -------------------------------------------------
// (With the appending of one event below in one module: every `log` loads both, and each module
// on its way costs a start, cold about a millisecond; see DEVELOPERS.md, "Start-up".)

/** An event to append. The database sets `audit_id` and `timestamp`. */
export interface NewAuditEvent {
  operation: string;
  details?: string | null | undefined;
  sku?: string | null | undefined;
  user?: string | null | undefined;
  run_id?: string | null | undefined;
}

/** Values used for fields an event leaves out. */
export interface EventDefaults {
  /** Who did it, when the event does not say (default `system`). */
  user?: string | undefined;
  /** The batch it belongs to, when the event does not say. */
  run_id?: string | null | undefined;
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
export interface CheckedEvent {
  operation: string;
  sku: string | null;
  details: string;
  user: string;
  run_id: string | null;
}

/**
 * Builds the error of an event's problem. When the problem is one field's, `field` names it
 * and `problem` is what is wrong with it ("is 101 characters long…"), so that command-line
 * arguments and NDJSON lines can report it in their own terms (`--details`, `"details"`).
 */
export type EventFailure = (problem: string, field?: string) => Error;

/** Checks one event against SPEC's limits and fills in defaults; `fail` builds the error. */
export function checkEvent(
  input: unknown,
  defaults: EventDefaults,
  fail: EventFailure,
): CheckedEvent {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    const kind = input === null ? "null" : Array.isArray(input) ? "an array" : typeof input;
    throw fail(`expected an event object like {"operation": "..."}, got ${kind}`);
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!EVENT_FIELDS.has(key)) {
      // query's records carry both: copied into log --stdin, they must not read as a typo.
      throw fail(
        key === "audit_id" || key === "timestamp"
          ? `"${key}" cannot be given: audit-trail sets each event's audit_id and timestamp as it logs it (fields: operation, details, sku, user, run_id)`
          : `unknown field "${key}" (allowed: operation, details, sku, user, run_id)`,
      );
    }
  }
  const operation = record.operation;
  if (operation === undefined || operation === null) {
    throw fail("is missing", "operation");
  }
  if (typeof operation !== "string") throw fail(typeMessage(operation), "operation");
  if (operation.trim() === "") throw fail("must not be empty", "operation");
  checkLength("operation", operation, MAX_OPERATION_LENGTH, fail);
  const control = CONTROL_CHARACTER.exec(operation);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    throw fail(
      `contains a control character (U+${code}); an operation is a name like ORDER_CONFIRMED`,
      "operation",
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

/** The error of an event (or its defaults) refused before anything was written. */
export function eventRefused(problem: string, field?: string): EventRefusedError {
  return new EventRefusedError(problem, field);
}

/** Checks the defaults given for events that leave fields out. */
export function checkDefaults(defaults: EventDefaults): EventDefaults {
  const fail = eventRefused;
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
  fail: EventFailure,
): string | null {
  const value = record[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw fail(typeMessage(value), field);
  return value;
}

function checkName(field: string, value: string, fail: EventFailure) {
  if (value === "") {
    throw fail(
      `must not be empty${field === "sku" ? " (leave it out for events without a SKU)" : ""}`,
      field,
    );
  }
  checkLength(field, value, MAX_NAME_LENGTH, fail);
}

function checkLength(
  field: string,
  value: string,
  limit: number,
  fail: EventFailure,
) {
  // SQLite stores a NUL, but node:sqlite reads text back only up to it, and a lone surrogate
  // turns into U+FFFD on the way to UTF-8: either would change the event silently.
  if (value.includes("\0")) {
    throw fail("contains a NUL character (\\u0000), which cannot be stored", field);
  }
  if (!value.isWellFormed()) {
    throw fail("contains an unpaired surrogate (\\ud800-\\udfff): not valid Unicode", field);
  }
  // Code units are an upper bound on characters: count code points only when it matters.
  if (value.length <= limit) return;
  let characters = 0;
  for (const _ of value) characters++;
  if (characters > limit) {
    throw fail(`is ${characters} characters long; at most ${limit} are allowed`, field);
  }
}

function typeMessage(value: unknown): string {
  const kind = Array.isArray(value) ? "an array" : typeof value;
  return `must be a string, got ${kind}`;
}

// --- appending events --------------------------------------------------------------------------

/** The time SQLite writes into a new event: UTC, to the millisecond. */
export const NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/**
 * Appends one event and returns it as stored. The event is durable when this returns.
 *
 * Inside a transaction the application holds open on `db` (its own stock change), the event
 * joins it: it is durable when the application commits, and gone, with its seal, if it rolls
 * back; an event that fails leaves that transaction open with the application's changes.
 * Begin such a transaction with `BEGIN IMMEDIATE`, so that no other program's event gets in
 * between (a plain `BEGIN` that has read already then fails with `DatabaseBusyError`).
 * Log on the connection that holds the transaction: another connection in the same process
 * would wait for it in vain, for the busy timeout.
 *
 * @param db The open database.
 * @param event The operation and optional details, SKU, user and run id.
 * @param defaults The user and run id for an event that gives none.
 * @returns The stored event, with its `audit_id` and `timestamp`.
 * @throws {EventRefusedError} When a field is missing, empty, too long or of the wrong type, or the
 * database is closed.
 * @throws {DatabaseBusyError} When another connection kept the database locked for the busy
 * timeout.
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
 *
 * @example Change stock and log it in one transaction of the application
 * ```ts
 * import assert from "node:assert/strict";
 * import { getAuditLog, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * db.sqlite.exec("CREATE TABLE stock (sku TEXT PRIMARY KEY, quantity INTEGER)");
 * function setStock(sku: string, quantity: number, operation: string) {
 *   db.sqlite.exec("BEGIN IMMEDIATE");
 *   try {
 *     db.sqlite.prepare("INSERT OR REPLACE INTO stock VALUES (?, ?)").run(sku, quantity);
 *     logAuditEvent(db, { operation, sku, details: `${quantity} units` });
 *     db.sqlite.exec("COMMIT");
 *   } catch (error) {
 *     db.sqlite.exec("ROLLBACK"); // the stock change and its event go together
 *     throw error;
 *   }
 * }
 * setStock("SKU-1", 12, "STOCK_SET");
 * assert.throws(() => setStock("SKU-1", 99, "")); // an empty operation is refused...
 * const quantity = db.sqlite.prepare("SELECT quantity FROM stock").get()?.quantity;
 * assert.equal(quantity, 12); // ...and the stock change was rolled back with it
 * assert.deepEqual(getAuditLog(db, { sku: "SKU-1" }).map((e) => e.details), ["12 units"]);
 * ```
 */
export function logAuditEvent(
  db: AuditDatabase,
  event: NewAuditEvent,
  defaults: EventDefaults = {},
): AuditEvent {
  const valid = checkEvent(event, defaults, eventRefused);
  return appendTransaction(db, () => appendEvent(db, valid));
}

/**
 * Appends one checked event and its seal inside the write transaction the caller holds, for
 * writers that must look at the log and append in one step (see `endBatch`).
 */
export function appendEvent(db: AuditDatabase, valid: CheckedEvent): AuditEvent {
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
  return {
    audit_id: row.audit_id as number,
    timestamp: row.timestamp as string,
    operation: valid.operation,
    sku: valid.sku,
    details: valid.details,
    user: valid.user,
    run_id: valid.run_id,
  };
}

/**
 * The chain tip new events extend, read under the write lock so that concurrent writers never
 * fork the chain. Null on a database not yet migrated to the chain (its events are sealed when
 * it is); a migrated one without its seals table has been tampered with.
 */
export function tipForWriting(db: AuditDatabase): ChainTip | null {
  const tip = chainTip(db);
  if (tip === null && schemaVersion(db) >= CHAIN_SCHEMA_VERSION) {
    throw new DatabaseCorruptError(
      db.path,
      "its integrity seals (table audit_trail_chain) are missing, so new events cannot be sealed",
    );
  }
  return tip;
}
