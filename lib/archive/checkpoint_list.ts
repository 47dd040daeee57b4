/**
 * The archive checkpoints as the live database lists them (table `audit_trail_checkpoints`,
 * migration 004), and what they tell a read of the live log alone. Apart from the checks of
 * the chain (`checkpoints.ts`), so that `query` and `batch show` read them without loading
 * the seals' code.
 *
 * @module
 */
import { type AuditDatabase, guard } from "../db.ts";
import { PARSED_TIMESTAMP_SQL } from "../event_row.ts";
import type { AuditLogFilter } from "../query.ts";
import { parseTimeBound } from "../time_bound.ts";

/** One archive run as the live database records it (`bundle` lists these as `archives`). */
export interface Checkpoint {
  checkpoint_id: number;
  first_audit_id: number;
  last_audit_id: number;
  /** How many events the archive holds. */
  events: number;
  /** The seal before the first archived event (64 hex digits; zeros for the first ever). */
  previous_hash: string;
  /** The seal of the last archived event: where the next archive, or the live log, goes on. */
  last_hash: string;
  /** The archive file's name, without its folder. */
  file: string;
  /** SHA-256 of the archive file, 64 hex digits. */
  sha256: string;
  bytes: number;
  /** When the checkpoint was recorded, UTC. */
  created_at: string;
}

/** The table of the checkpoints. */
export const CHECKPOINTS_TABLE = "audit_trail_checkpoints";
const TABLE = CHECKPOINTS_TABLE;
const COLUMNS_SQL = `checkpoint_id, first_audit_id, last_audit_id, events,
  lower(hex(previous_hash)) AS previous_hash, lower(hex(last_hash)) AS last_hash,
  file, sha256, bytes, created_at`;

/** Every checkpoint, oldest first; none when the table does not exist (schema before 4). */
export function readCheckpoints(db: AuditDatabase): Checkpoint[] {
  const exists = guard(
    db.path,
    () => db.statement("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(TABLE),
  );
  if (!exists) return [];
  return guard(
    db.path,
    () => db.statement(`SELECT ${COLUMNS_SQL} FROM ${TABLE} ORDER BY last_audit_id`).all(),
  ) as unknown as Checkpoint[];
}

/** The archived events a read of the live log alone leaves out. */
export interface ArchivedRange {
  first_audit_id: number;
  last_audit_id: number;
}

/**
 * `range` in words, and whether it is one event: "event 4", not "events 4 to 4", so that
 * what is said of it can say "it was" rather than "they were".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archivedWords } from "./checkpoint_list.ts";
 *
 * assert.deepEqual(archivedWords({ first_audit_id: 4, last_audit_id: 4 }), { events: "event 4", one: true });
 * assert.equal(archivedWords({ first_audit_id: 1, last_audit_id: 6 }).events, "events 1 to 6");
 * ```
 */
export function archivedWords(range: ArchivedRange): { events: string; one: boolean } {
  const one = range.first_audit_id === range.last_audit_id;
  return {
    events: one
      ? `event ${range.first_audit_id}`
      : `events ${range.first_audit_id} to ${range.last_audit_id}`,
    one,
  };
}

/**
 * The archived events that `filter` may match, which the live log alone cannot show, or null
 * when it can reach none of them: nothing was archived, its id cursor starts after them, its
 * `since` is not older than the first live event (every archived event is older than the
 * first event left at its run), or its batch starts in the live log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archiveEvents, logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * import { archivedReach } from "./checkpoint_list.ts";
 * const dir = await Deno.makeTempDir();
 * using db = openDatabase(`${dir}/app.db`, { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * assert.equal(archivedReach(db, {}), null);
 * await archiveEvents(db, { before: new Date(Date.now() + 1000) });
 * assert.deepEqual(archivedReach(db, { sku: "SKU-1" }), { first_audit_id: 1, last_audit_id: 1 });
 * assert.equal(archivedReach(db, { afterId: 1 }), null);
 * ```
 */
export function archivedReach(db: AuditDatabase, filter: AuditLogFilter): ArchivedRange | null {
  const checkpoints = readCheckpoints(db);
  if (checkpoints.length === 0) return null;
  const range = {
    first_audit_id: checkpoints[0]!.first_audit_id,
    last_audit_id: checkpoints[checkpoints.length - 1]!.last_audit_id,
  };
  if (filter.afterId !== undefined && filter.afterId >= range.last_audit_id) return null;
  if (filter.beforeId !== undefined && filter.beforeId <= range.first_audit_id) return null;
  const first = guard(db.path, () =>
    db.statement(
      `SELECT operation, ${PARSED_TIMESTAMP_SQL} AS time FROM audit_log
       WHERE ${filter.runId === undefined ? "1" : "run_id = ?"} ORDER BY audit_id LIMIT 1`,
    ).get(...(filter.runId === undefined ? [] : [filter.runId])));
  if (filter.runId !== undefined && first?.operation === "BATCH_START") return null;
  if (filter.since !== undefined && filter.runId === undefined && typeof first?.time === "string") {
    if (parseTimeBound(filter.since).start >= first.time) return null;
  }
  return range;
}

/**
 * The archived events that one of the batches `runIds` may have begun among (the first such
 * batch's answer of {@linkcode archivedReach}), or null when each began in the live log: a
 * list of batches counts and times such a batch from its live events alone.
 */
export function batchesArchivedReach(
  db: AuditDatabase,
  runIds: Iterable<string>,
): ArchivedRange | null {
  for (const runId of runIds) {
    const reach = archivedReach(db, { runId });
    if (reach) return reach;
  }
  return null;
}
