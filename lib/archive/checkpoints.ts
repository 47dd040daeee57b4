/**
 * Archive checkpoints: what the live database remembers of the events `archive` moved out
 * (table `audit_trail_checkpoints`, migration 004), and where its chain goes on from.
 *
 * @module
 */
import { type AuditDatabase, guard } from "../db.ts";
import { GENESIS_HASH } from "../chain/encoding.ts";
import type { ChainFailure } from "../chain/classify.ts";
import { type Checkpoint, CHECKPOINTS_TABLE as TABLE, readCheckpoints } from "./checkpoint_list.ts";

/** A checkpoint about to be recorded. */
export type NewCheckpoint = Omit<Checkpoint, "checkpoint_id" | "created_at">;

/** Where the live chain starts: after the newest checkpoint, or at the beginning. */
export interface LiveStart {
  /** Every checkpoint, oldest first. */
  checkpoints: Checkpoint[];
  /** The newest checkpoint's last `audit_id`, or null when nothing was ever archived. */
  archivedThrough: number | null;
  /** The seal the first live event chains from. */
  previous: string;
  /** What is wrong with the checkpoints or the live chain's root, if anything. */
  failure: ChainFailure | null;
}

/** Records a checkpoint; must run in the transaction that removes its events. */
export function insertCheckpoint(db: AuditDatabase, checkpoint: NewCheckpoint): void {
  guard(db.path, () =>
    db.statement(
      `INSERT INTO ${TABLE} (first_audit_id, last_audit_id, events, previous_hash, last_hash,
         file, sha256, bytes)
       VALUES (?, ?, ?, unhex(?), unhex(?), ?, ?, ?)`,
    ).run(
      checkpoint.first_audit_id,
      checkpoint.last_audit_id,
      checkpoint.events,
      checkpoint.previous_hash,
      checkpoint.last_hash,
      checkpoint.file,
      checkpoint.sha256,
      checkpoint.bytes,
    ));
}

/**
 * Reads the checkpoints and checks the root of the live chain: the checkpoints follow one
 * another (each starts after the previous one ends, from its last seal), the live database
 * still holds the newest one's last seal, and no live event lies inside the archived range.
 * Must run inside the caller's read transaction, together with the walk that follows.
 */
export function liveStart(db: AuditDatabase): LiveStart {
  const checkpoints = readCheckpoints(db);
  const start: LiveStart = {
    checkpoints,
    archivedThrough: null,
    previous: GENESIS_HASH,
    failure: null,
  };
  if (checkpoints.length === 0) return start;
  const newest = checkpoints[checkpoints.length - 1]!;
  start.archivedThrough = newest.last_audit_id;
  start.previous = newest.last_hash;
  start.failure = checkpointsFailure(checkpoints) ?? rootFailure(db, newest);
  return start;
}

/** The checkpoint that covers `id`, if any. */
export function checkpointCovering(checkpoints: Checkpoint[], id: number): Checkpoint | undefined {
  return checkpoints.find((c) => c.first_audit_id <= id && id <= c.last_audit_id);
}

/** Whether the checkpoints form one unbroken run from the start of the chain. */
export function checkpointsFailure(checkpoints: Checkpoint[]): ChainFailure | null {
  let previous = GENESIS_HASH;
  let previousLast = -Infinity;
  for (const c of checkpoints) {
    if (c.first_audit_id <= previousLast || c.previous_hash !== previous) {
      return {
        audit_id: c.first_audit_id,
        kind: "modified",
        message:
          `The checkpoint of archive ${c.file} does not continue the one before it: the record of archived events ${c.first_audit_id} to ${c.last_audit_id} was altered`,
        file: c.file,
      };
    }
    previous = c.last_hash;
    previousLast = c.last_audit_id;
  }
  return null;
}

/** The live database's root: the newest checkpoint's last seal, and no event at or below it. */
function rootFailure(db: AuditDatabase, newest: Checkpoint): ChainFailure | null {
  const row = guard(db.path, () =>
    db.statement(
      `SELECT (SELECT lower(hex(hash)) FROM audit_trail_chain WHERE audit_id = ?1) AS seal,
         (SELECT min(audit_id) FROM audit_log) AS first_live`,
    ).get(newest.last_audit_id))!;
  const id = newest.last_audit_id;
  if (row.seal !== newest.last_hash) {
    return {
      audit_id: id,
      kind: row.seal === null ? "deleted" : "modified",
      message: row.seal === null
        ? `Event ${id}'s seal, where the live log goes on from archive ${newest.file}, was deleted`
        : `Event ${id}'s seal, where the live log goes on from archive ${newest.file}, was altered: it differs from the checkpoint's`,
      file: newest.file,
    };
  }
  const firstLive = row.first_live as number | null;
  if (firstLive !== null && firstLive <= id) {
    return {
      audit_id: firstLive,
      kind: "inserted",
      message:
        `Event ${firstLive} was inserted: it lies in the range that was moved to archive files (up to event ${id})`,
    };
  }
  return null;
}
