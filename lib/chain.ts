/**
 * Tamper evidence: every audit event is sealed into a SHA-256 hash chain, and the chain can be
 * checked offline.
 *
 * An event's seal is `SHA-256(E)`, written as 64 lowercase hex digits, where `E` is the UTF-8
 * text of the JSON array
 *
 * ```text
 * [previous_seal, audit_id, timestamp, operation, sku, details, user, run_id]
 * ```
 *
 * with no spaces. `previous_seal` is the seal of the event before it (by `audit_id`), or 64
 * zeros for the first event; `audit_id` is a JSON number; the other fields are exactly as
 * stored (`timestamp` unconverted, so legacy `YYYY-MM-DD HH:MM:SS` values stay as they are),
 * each a JSON string, or `null` for SQL NULL (so NULL and `""` differ). Strings escape only `"`,
 * `\` and control characters (`\b \f \n \r \t`, else `\u00XX` in lowercase hex), as
 * `JSON.stringify`, SQLite's `json_array()` and Python's
 * `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` all write them. A BLOB, which
 * audit-trail never writes, is encoded as the string `x'HEX'`.
 *
 * Seals live in `audit_trail_chain (audit_id, hash)`, beside `audit_log`, and are written in
 * the same transaction as their events, under the write lock, so concurrent writers always
 * extend one chain.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { type AuditDatabase, guard, readTransaction } from "./db.ts";
import { UsageError } from "./errors.ts";
import { sha256Hex } from "./sha256.ts";

/** The `previous_seal` of the first event: 64 zeros. */
export const GENESIS_HASH: string = "0".repeat(64);

/** The schema version (migration 003) from which every event must be sealed. */
export const CHAIN_SCHEMA_VERSION = 3;

/** The fields of a stored event that its seal covers, as stored. */
export interface SealedFields {
  audit_id: number;
  timestamp: string | null;
  operation: string | null;
  sku: string | null;
  details: string | null;
  user: string | null;
  run_id: string | null;
}

/** The newest sealed event: write it down somewhere else to use it later as an anchor. */
export interface ChainHead {
  audit_id: number;
  hash: string;
}

/** What happened to the first event that fails verification. */
export type TamperKind = "modified" | "deleted" | "inserted" | "reordered";

/** The first event that fails verification, and what happened to it. */
export interface ChainFailure {
  audit_id: number;
  kind: TamperKind;
  message: string;
}

/** Options of {@linkcode verifyChain}. */
export interface VerifyChainOptions {
  /**
   * A head noted earlier (`ID:HASH` or an object): the event must still be there with that
   * seal. This catches deleted newest events and a chain rewritten from start to end.
   */
  anchor?: ChainHead | string;
}

/** The result of {@linkcode verifyChain}; `audit-trail verify --format json` prints it. */
export interface ChainVerifyResult {
  /** True when every event is sealed, in order and unchanged (and the anchor matches). */
  intact: boolean;
  /** Events whose seal was checked and found right, before the first failure if any. */
  events_checked: number;
  /** The newest seal reached (the whole chain's head when intact), or null when empty. */
  head: ChainHead | null;
  /** The anchor given, and whether the event still carries that seal (null: not reached). */
  anchor: (ChainHead & { matches: boolean | null }) | null;
  /** Whether the triggers that refuse changes and deletions are in place. */
  append_only: boolean;
  /** The first event that fails, or null. */
  failure: ChainFailure | null;
}

/**
 * The seal of one event, from its fields as stored and the seal before it.
 *
 * @param previousHash The previous event's seal, or {@linkcode GENESIS_HASH} for the first.
 * @param event The event's fields exactly as stored.
 * @returns 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import { chainHash, GENESIS_HASH } from "./chain.ts";
 * const hash = chainHash(GENESIS_HASH, {
 *   audit_id: 1, timestamp: "2026-02-16 08:00:00", operation: "SKU_CREATED",
 *   sku: "SKU-1", details: null, user: null, run_id: null,
 * });
 * console.log(hash.length); // 64
 * ```
 */
export function chainHash(previousHash: string, event: SealedFields): string {
  const { audit_id, timestamp, operation, sku, details, user, run_id } = event;
  return sha256Hex(
    JSON.stringify([previousHash, audit_id, timestamp, operation, sku, details, user, run_id]),
  );
}

/**
 * The newest seal of the chain, or null while the log is empty. Note it outside the machine
 * (a ticket, an e-mail) and pass it to {@linkcode verifyChain} later as the anchor.
 *
 * @param db The open database (schema version 3 or later).
 * @returns `{audit_id, hash}` of the newest sealed event, or null.
 *
 * @example
 * ```ts
 * import { chainHead, logAuditEvent, migrate, openDatabase } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * console.log(chainHead(db)); // null
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * console.log(chainHead(db)?.audit_id); // 1
 * ```
 */
export function chainHead(db: AuditDatabase): ChainHead | null {
  const row = guard(
    db.path,
    () =>
      db.statement("SELECT audit_id, hash FROM audit_trail_chain ORDER BY audit_id DESC LIMIT 1")
        .get(),
  );
  return row ? { audit_id: row.audit_id as number, hash: row.hash as string } : null;
}

/**
 * Reads an anchor written as `ID:HASH` (what `audit-trail head` prints).
 *
 * @param text For example `1042:9f2c…` (the hash is 64 hex digits).
 * @returns The anchor, with the hash in lowercase.
 * @throws {UsageError} When the text is not `ID:HASH`.
 *
 * @example
 * ```ts
 * import { parseAnchor } from "./chain.ts";
 * console.log(parseAnchor("7:" + "AB".repeat(32)).audit_id); // 7
 * ```
 */
export function parseAnchor(text: string): ChainHead {
  const match = /^\s*(\d{1,15}):([0-9a-fA-F]{64})\s*$/.exec(text);
  if (!match || Number(match[1]) < 1) {
    throw new UsageError(`Anchor "${text}" is not ID:HASH`, {
      hint:
        "Give it as printed by audit-trail head, e.g. 1042:9f2c… (the event id, a colon, then 64 hex digits).",
    });
  }
  return { audit_id: Number(match[1]), hash: match[2].toLowerCase() };
}

/**
 * Walks the whole chain, oldest event first, and reports the first event that fails: one
 * changed since it was sealed (`modified`), missing (`deleted`), added without going through
 * audit-trail (`inserted`), or moved (`reordered`). Without an anchor, deleting the newest
 * events or recomputing every seal after a change cannot be seen; with one, it can.
 *
 * Reads one consistent snapshot; writers are not blocked. 1,000,000 events take 2–3 s.
 *
 * @param db The open database (schema version 3 or later).
 * @param options An anchor noted earlier.
 * @returns Whether the log is intact and, if not, the first event that fails.
 * @throws {UsageError} When the anchor is not `ID:HASH`.
 *
 * @example
 * ```ts
 * import { chainHead, logAuditEvent, migrate, openDatabase, verifyChain } from "../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * const anchor = chainHead(db)!;
 * logAuditEvent(db, { operation: "SKU_UPDATED", sku: "SKU-1" });
 * const result = await verifyChain(db, { anchor });
 * console.log(result.intact, result.events_checked, result.anchor?.matches); // true 2 true
 * ```
 */
export async function verifyChain(
  db: AuditDatabase,
  options: VerifyChainOptions = {},
): Promise<ChainVerifyResult> {
  const anchor = typeof options.anchor === "string" ? parseAnchor(options.anchor) : options.anchor;
  const fastLink = await nativeLink();
  return readTransaction(db, () => {
    const result: ChainVerifyResult = {
      intact: false,
      events_checked: 0,
      head: null,
      anchor: anchor ? { audit_id: anchor.audit_id, hash: anchor.hash, matches: null } : null,
      append_only: appendOnly(db),
      failure: missingTable(db) ?? outOfRangeId(db),
    };
    if (result.failure) return result;
    result.failure = walk(db, result, fastLink);
    if (!result.failure && anchor) result.failure = checkAnchor(db, anchor, result);
    result.intact = result.failure === null;
    return result;
  });
}

/** Where a writer's events go in the chain. */
export interface ChainTip {
  /** The newest seal, or {@linkcode GENESIS_HASH} when nothing is sealed yet. */
  previousHash: string;
  /**
   * Set only when seals exist past the newest event (its events were deleted): new events
   * must be numbered above it, so no event takes over a deleted one's seal.
   */
  reservedUpTo: number | null;
}

/**
 * Reads the chain's tip inside the writer's transaction. Null when the database has no chain
 * yet (schema before version 3).
 */
export function chainTip(db: AuditDatabase): ChainTip | null {
  let row;
  try {
    row = db.statement(
      `SELECT (SELECT max(audit_id) FROM audit_log) AS log_id, c.audit_id, c.hash
       FROM (SELECT 1) LEFT JOIN
         (SELECT audit_id, hash FROM audit_trail_chain ORDER BY audit_id DESC LIMIT 1) AS c`,
    ).get()!;
  } catch (error) {
    if (/no such table: audit_trail_chain/.test((error as Error).message)) return null;
    throw error;
  }
  const sealedId = row.audit_id as number | null;
  const logId = row.log_id as number | null;
  return {
    previousHash: (row.hash as string | null) ?? GENESIS_HASH,
    reservedUpTo: sealedId !== null && (logId === null || sealedId > logId) ? sealedId : null,
  };
}

/**
 * Seals the events with ids `firstId`..`lastId` (already in `audit_log`), chaining from
 * `previousHash`. Must run inside the transaction that wrote them. Returns how many were
 * sealed and the new head's hash. `hash` may be {@linkcode nativeLink}'s, for many events.
 */
export function sealEvents(
  db: AuditDatabase,
  previousHash: string,
  firstId: number,
  lastId: number,
  hash: Link = link,
): { sealed: number; hash: string } {
  return sealRows(
    db,
    previousHash,
    `SELECT audit_id, ${ENCODING_SQL} AS encoded
     FROM audit_log WHERE audit_id BETWEEN ? AND ? ORDER BY audit_id`,
    [firstId, lastId],
    hash,
  );
}

/**
 * The canonical encoding (without the previous seal) of an event whose fields are the given
 * SQL expressions, for events on their way into `audit_log`. Only for values audit-trail
 * writes itself (text or NULL, never a BLOB).
 */
export function encodingSql(fields: Record<keyof SealedFields, string>): string {
  const { audit_id, timestamp, operation, sku, details, user, run_id } = fields;
  return `json_array(${audit_id}, ${timestamp}, ${operation}, ${sku}, ${details}, ${user}, ${run_id})`;
}

/**
 * Seals events given by `rowsSql`, a SELECT of `audit_id` and `encoded` (see
 * {@linkcode encodingSql}) in ascending `audit_id`, chaining from `previousHash`. Must run
 * in the transaction that writes those events. Returns how many were sealed and the new head.
 */
export function sealRows(
  db: AuditDatabase,
  previousHash: string,
  rowsSql: string,
  params: SQLInputValue[],
  hash: Link = link,
): { sealed: number; hash: string } {
  const state = linkState(db.sqlite);
  state.active = true;
  state.link = hash;
  state.previous = previousHash;
  state.lastId = -Infinity;
  state.count = 0;
  try {
    // One statement, evaluated in C, calls back into JS only to hash: much faster than
    // reading the rows out and inserting seals one by one.
    const { changes } = guard(db.path, () =>
      db.statement(
        `INSERT INTO audit_trail_chain (audit_id, hash)
         SELECT audit_id, ${LINK_FUNCTION}(audit_id, encoded) FROM (${rowsSql})`,
      ).run(...params));
    if (Number(changes) !== state.count) {
      throw new Error(`sealed ${state.count} events but stored ${changes} seals`);
    }
    return { sealed: state.count, hash: state.previous };
  } finally {
    state.active = false;
  }
}

/** Seals every event not sealed yet; migration 003 runs it on the events that existed. */
export function sealExistingEvents(db: AuditDatabase): number {
  const head = chainHead(db);
  return sealEvents(
    db,
    head?.hash ?? GENESIS_HASH,
    head ? head.audit_id + 1 : -Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER,
  ).sealed;
}

/** Computes a seal from the previous seal and an event's encoding (`[audit_id, …]`). */
export type Link = (previousHash: string, encoded: string) => string;

let native: Link | undefined;

/**
 * The same seal computed with node:crypto's native SHA-256: about twice as fast per event as
 * sha256.ts, but loading Node's crypto module costs every process start-up time, so only
 * work on many events (verify, large bulk inserts) asks for it.
 */
export async function nativeLink(): Promise<Link> {
  if (!native) {
    const { createHash } = await import("node:crypto");
    native = (previousHash, encoded) =>
      createHash("sha256").update(`["${previousHash}",${encoded.slice(1)}`).digest("hex");
  }
  return native;
}

// --- internals -------------------------------------------------------------------------------

const LINK_FUNCTION = "audit_trail_link";
const PAGE_SIZE = 4096;
/** How far past a failing event to look for the event that belongs in its place. */
const REORDER_WINDOW = 100_000;
const TRIGGERS = [
  "audit_log_no_update",
  "audit_log_no_delete",
  "audit_trail_chain_no_update",
  "audit_trail_chain_no_delete",
];

/** The canonical encoding of the current `audit_log` row, without the previous seal. */
const ENCODING_SQL = `json_array(audit_id, ${
  ["timestamp", "operation", "sku", "details", "user", "run_id"]
    // json_array() would read a BLOB as SQLite's binary JSON, which an attacker could shape
    // to look like text or make unreadable: encode it as its hex instead.
    .map((c) => `CASE typeof(${c}) WHEN 'blob' THEN 'x''' || hex(${c}) || '''' ELSE ${c} END`)
    .join(", ")
})`;

/** The seal of an event given its encoding from {@linkcode ENCODING_SQL}: `[id,...]`. */
function link(previousHash: string, encoded: string): string {
  return sha256Hex('["', previousHash, '",', encoded.slice(1));
}

interface LinkState {
  active: boolean;
  link: Link;
  previous: string;
  lastId: number;
  count: number;
}

const linkStates = new WeakMap<DatabaseSync, LinkState>();

/**
 * The SQL function that chains rows as SQLite hands them over. It keeps the running seal in
 * JS, so it refuses to run outside {@linkcode sealEvents} or on rows out of order.
 */
function linkState(sqlite: DatabaseSync): LinkState {
  const state = linkStates.get(sqlite);
  if (state) return state;
  const fresh: LinkState = {
    active: false,
    link,
    previous: GENESIS_HASH,
    lastId: 0,
    count: 0,
  };
  sqlite.function(
    LINK_FUNCTION,
    { deterministic: false, directOnly: true },
    (id: SQLInputValue, encoded: SQLInputValue) => {
      if (!fresh.active) throw new Error(`${LINK_FUNCTION}() is for audit-trail's own writes`);
      if (typeof id !== "number" || !(id > fresh.lastId) || typeof encoded !== "string") {
        throw new Error(`events reached the chain out of order (${id} after ${fresh.lastId})`);
      }
      fresh.lastId = id;
      fresh.previous = fresh.link(fresh.previous, encoded);
      fresh.count++;
      return fresh.previous;
    },
  );
  linkStates.set(sqlite, fresh);
  return fresh;
}

function appendOnly(db: AuditDatabase): boolean {
  const row = guard(db.path, () =>
    db.sqlite.prepare(
      `SELECT count(*) AS n FROM sqlite_schema WHERE type = 'trigger' AND name IN (${
        TRIGGERS.map(() => "?").join(", ")
      })`,
    ).get(...TRIGGERS))!;
  return row.n === TRIGGERS.length;
}

function missingTable(db: AuditDatabase): ChainFailure | null {
  const tables = new Set(
    guard(db.path, () =>
      db.sqlite.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN ('audit_log', 'audit_trail_chain')",
      ).all()).map((row) => row.name),
  );
  if (tables.size === 2) return null;
  const what = tables.has("audit_log")
    ? "the integrity seals (table audit_trail_chain) are gone"
    : "the audit log itself (table audit_log) is gone";
  return { audit_id: 1, kind: "deleted", message: `The audit log cannot be verified: ${what}` };
}

/** Ids beyond 2^53 cannot be read as numbers; audit-trail never writes them. */
function outOfRangeId(db: AuditDatabase): ChainFailure | null {
  for (const table of ["audit_log", "audit_trail_chain"]) {
    const row = guard(db.path, () =>
      db.sqlite.prepare(
        `SELECT CAST(audit_id AS TEXT) AS id FROM ${table}
         WHERE audit_id NOT BETWEEN ? AND ? ORDER BY audit_id LIMIT 1`,
      ).get(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
    if (row) {
      const kind = table === "audit_log" ? "inserted" : "modified";
      return {
        audit_id: Number(row.id),
        kind,
        message: `Event ${row.id} was ${kind} outside audit-trail: its id is out of range`,
      };
    }
  }
  return null;
}

/** Keyset pages of `[audit_id, value]` rows of `table`, by ascending id. */
function pager(db: AuditDatabase, columns: string, table: string) {
  const sql = (where: string) =>
    `SELECT ${columns} FROM ${table} ${where} ORDER BY audit_id LIMIT ${PAGE_SIZE}`;
  const first = guard(db.path, () => db.sqlite.prepare(sql("")));
  const next = guard(db.path, () => db.sqlite.prepare(sql("WHERE audit_id > ?")));
  // Arrays instead of objects: a third less time to read a million rows. (The method exists
  // in Deno's node:sqlite but is missing from its type declarations.)
  for (const statement of [first, next]) {
    (statement as unknown as { setReturnArrays(on: boolean): void }).setReturnArrays(true);
  }
  return (after: number | null): [number, string][] =>
    guard(
      db.path,
      () => (after === null ? first.all() : next.all(after)) as unknown as [number, string][],
    );
}

/**
 * The walk: events and seals are read in keyset pages with `all()` (which, unlike `iterate()`,
 * cannot end early without an error) and merged by id. Each event is checked against its own
 * seal and the stored seal before it, so one changed event fails alone.
 */
function walk(
  db: AuditDatabase,
  result: ChainVerifyResult,
  fastLink: Link,
): ChainFailure | null {
  const events = pager(db, `audit_id, ${ENCODING_SQL}`, "audit_log");
  const seals = pager(db, "audit_id, hash", "audit_trail_chain");
  let previous = GENESIS_HASH;
  let previousId: number | null = null;
  let cursor: number | null = null;
  for (;;) {
    const e = events(cursor);
    const s = seals(cursor);
    if (e.length === 0 && s.length === 0) return null;
    // A full page may stop before the other's last id; ids past the shorter reach are read
    // again with the next page.
    const end = Math.min(
      e.length === PAGE_SIZE ? e[e.length - 1][0] : Infinity,
      s.length === PAGE_SIZE ? s[s.length - 1][0] : Infinity,
    );
    let i = 0;
    let j = 0;
    for (;;) {
      const eventId = i < e.length && e[i][0] <= end ? e[i][0] : Infinity;
      const sealId = j < s.length && s[j][0] <= end ? s[j][0] : Infinity;
      if (eventId === sealId) {
        if (eventId === Infinity) break;
        const hash = s[j][1];
        if (fastLink(previous, e[i][1]) !== hash) {
          return classifyMismatch(db, eventId, previous, previousId, e[i][1], hash);
        }
        previous = hash;
        previousId = eventId;
        result.events_checked++;
        result.head = { audit_id: eventId, hash };
        i++;
        j++;
      } else if (eventId < sealId) {
        return {
          audit_id: eventId,
          kind: "inserted",
          message:
            `Event ${eventId} was inserted: it has no seal, so it was not recorded through audit-trail`,
        };
      } else {
        return {
          audit_id: sealId,
          kind: "deleted",
          message: `Event ${sealId} was deleted: its seal is still there but the event is gone`,
        };
      }
    }
    if (end === Infinity) return null;
    cursor = end;
  }
}

/**
 * Works out what happened to an event whose seal does not match. Runs once, on failure, so
 * it may read ahead: each test recomputes a few seals from the stored ones.
 */
function classifyMismatch(
  db: AuditDatabase,
  id: number,
  previous: string,
  previousId: number | null,
  encoded: string,
  storedHash: string,
): ChainFailure {
  const following = sealedEvents(db, id, 1)[0];
  if (following && link(link(previous, encoded), following.encoded) === following.hash) {
    return {
      audit_id: id,
      kind: "modified",
      message: `Event ${id} was modified: the event is unchanged but its seal was altered`,
    };
  }
  if (following && link(previous, following.encoded) === following.hash) {
    return {
      audit_id: id,
      kind: "inserted",
      message: `Event ${id} was inserted: the chain runs from event ${
        previousId ?? "(start)"
      } straight to event ${following.audit_id}`,
    };
  }
  const origin = findMovedEvent(db, id, previous, storedHash);
  if (origin !== null) {
    return {
      audit_id: id,
      kind: "reordered",
      message:
        `Event ${id} is out of order: the event sealed at this place is now stored as event ${origin} (events were reordered)`,
    };
  }
  if (previousId !== null && id !== previousId + 1) {
    const missing = previousId + 1 === id - 1
      ? `event ${previousId + 1} is`
      : `events ${previousId + 1} to ${id - 1} are`;
    return {
      audit_id: previousId + 1,
      kind: "deleted",
      message: `Event ${previousId + 1} was deleted: ${missing} missing, seals and all`,
    };
  }
  return {
    audit_id: id,
    kind: "modified",
    message: `Event ${id} was modified: it no longer matches its seal`,
  };
}

interface SealedEvent {
  audit_id: number;
  encoded: string;
  hash: string | null;
}

function sealedEvents(db: AuditDatabase, afterId: number, limit: number): SealedEvent[] {
  return guard(db.path, () =>
    db.sqlite.prepare(
      `SELECT a.audit_id, a.encoded, c.hash
       FROM (SELECT audit_id, ${ENCODING_SQL} AS encoded FROM audit_log
             WHERE audit_id > ? ORDER BY audit_id LIMIT ?) AS a
       LEFT JOIN audit_trail_chain AS c ON c.audit_id = a.audit_id
       ORDER BY a.audit_id`,
    ).all(afterId, limit)) as unknown as SealedEvent[];
}

/**
 * Looks for the event that was sealed at `id`: moved elsewhere, with or without its seal,
 * its encoding under `id` would give `storedHash` (or its own seal) again.
 */
function findMovedEvent(
  db: AuditDatabase,
  id: number,
  previous: string,
  storedHash: string,
): number | null {
  let after = id;
  for (let seen = 0; seen < REORDER_WINDOW;) {
    const page = sealedEvents(db, after, PAGE_SIZE);
    for (const event of page) {
      const asHere = `[${id}${event.encoded.slice(event.encoded.indexOf(","))}`;
      const hash = link(previous, asHere);
      if (hash === storedHash || hash === event.hash) return event.audit_id;
    }
    if (page.length < PAGE_SIZE) return null;
    seen += page.length;
    after = page[page.length - 1].audit_id;
  }
  return null;
}

function checkAnchor(
  db: AuditDatabase,
  anchor: ChainHead,
  result: ChainVerifyResult,
): ChainFailure | null {
  const row = guard(
    db.path,
    () =>
      db.sqlite.prepare("SELECT hash FROM audit_trail_chain WHERE audit_id = ?").get(
        anchor.audit_id,
      ),
  );
  result.anchor!.matches = row?.hash === anchor.hash;
  if (result.anchor!.matches) return null;
  const id = anchor.audit_id;
  if (!row) {
    const newest = result.head?.audit_id ?? 0;
    return {
      audit_id: id,
      kind: "deleted",
      message: id > newest
        ? `Event ${id}, the anchor, was deleted: the log now ends at event ${newest}, so the newest events are gone`
        : `Event ${id}, the anchor, was deleted: it is not in the chain any more`,
    };
  }
  return {
    audit_id: id,
    kind: "modified",
    message:
      `Event ${id} does not match the anchor: it or an event before it was changed, and the chain recomputed to hide it`,
  };
}
