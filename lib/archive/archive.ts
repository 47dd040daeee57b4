/**
 * Moving the oldest events into an archive file, in an order that a crash at any moment
 * cannot break: the file is written under a temporary name, synced, read back and checked,
 * renamed, and only then does one transaction remove the events and record the checkpoint.
 * A crash leaves the events in the live log, or a complete archive with its checkpoint, or
 * (between the rename and the commit) both: an orphan file, which the next run replaces.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import {
  type AuditDatabase,
  guard,
  raisePageCache,
  readSnapshot,
  readTransaction,
  refuseOpenTransaction,
  stoppableWriteTransaction,
} from "../db.ts";
import { IS_TIME_SQL, TIME_BEFORE_SQL, UTC_TIMESTAMP_SQL } from "../event_row.ts";
import { AuditTrailError, errorMessage, TamperingFoundError, UsageError } from "../errors.ts";
import { hashFile } from "../bundle/files.ts";
import { refuseReferencedEvents, renumberedByVacuum } from "./application.ts";
import { requireAcknowledged } from "./central.ts";
import { type Checkpoint, readCheckpoints } from "./checkpoint_list.ts";
import { insertCheckpoint, liveStart } from "./checkpoints.ts";
import {
  archiveFileName,
  type ArchiveInfo,
  type ArchiveRange,
  checkArchiveFile,
  divergedArchive,
  openArchive,
  readArchiveInfo,
  sharesHistory,
  writeArchiveFile,
} from "./file.ts";
import { ArchiveFolder } from "./folder.ts";
import { reclaimSpace } from "./space.ts";

/** Options of {@linkcode archiveEvents}. */
export interface ArchiveOptions {
  /** Archive the events logged before this time (a `Date`, or an ISO date-time in UTC). */
  before: Date | string;
  /** The folder of the archive files (default: `archive/` beside the database). */
  dir?: string | undefined;
  /** Only work out what would be archived; write nothing. */
  dryRun?: boolean | undefined;
  /**
   * A central store is set up for this database (`$AUDIT_TRAIL_CENTRAL`), even if it never
   * synced: then, as once it has synced, only events it acknowledged are archived.
   */
  central?: boolean | undefined;
  /** Archive even events that the configured central store has not acknowledged yet. */
  force?: boolean | undefined;
  /**
   * Stops the run when aborted (while it writes the file or waits for the write lock), as
   * long as the events are not removed yet: the temporary file is removed, nothing is
   * archived, and the signal's reason is thrown. Once the events are removed, it stops waiting
   * for the space to be given back (which the next run does) and returns with `stopped` set:
   * the VACUUM under way in its worker thread commits nothing if the process ends now, and
   * otherwise ends on its own.
   */
  signal?: AbortSignal | undefined;
}

/** What {@linkcode archiveEvents} did (or, with `dryRun`, would do). */
export interface ArchiveResult {
  /** How many events were moved (0: nothing was old enough). */
  archived: number;
  first_audit_id: number | null;
  last_audit_id: number | null;
  /** The archive file's path. */
  file: string | null;
  /** SHA-256 of the archive file (null with `dryRun`). */
  sha256: string | null;
  bytes: number | null;
  /** Present and true when nothing was written. */
  dry_run?: boolean;
  /** Set when the events were archived but the space could not all be given back. */
  warning?: string;
  /**
   * True when the signal stopped the run while it gave the space back: the events are
   * archived, the space stays in the database until the next run.
   */
  stopped?: boolean;
}

/**
 * Moves the longest run of events from the start of the live log whose timestamps are all
 * before `before` into one archive file, `audit_archive_<FIRST>_<LAST>.db`, and records a
 * checkpoint; then gives the space back to the file system. Running it again with nothing
 * older is a no-op. Events logged later continue the numbering and the chain.
 *
 * @param db The open database (current schema).
 * @param options The cut, the folder, and whether to only report.
 * @returns What was archived.
 * @throws {UsageError} For a cut that is not a time, or (unless `dryRun`) while the application
 * holds a transaction open on `db`: a rollback of it would not bring the events back.
 * @throws {TamperingFoundError} When the events to archive do not match their seals.
 * @throws {AuditTrailError} When the folder cannot be written, another run works on it, or the
 * central store has not acknowledged the events yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archiveEvents, logAuditEvent, migrate, openDatabase, verifyChain } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * using db = openDatabase(`${dir}/app.db`, { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * const result = await archiveEvents(db, { before: new Date(Date.now() + 1000) });
 * assert.equal(result.archived, 1);
 * assert.equal(result.file, `${dir}/archive/audit_archive_1_1.db`);
 * const verified = await verifyChain(db, { archives: `${dir}/archive` });
 * assert.equal(verified.intact, true);
 * assert.equal(verified.archived_through, 1);
 * ```
 */
export async function archiveEvents(
  db: AuditDatabase,
  options: ArchiveOptions,
): Promise<ArchiveResult> {
  const cut = cutInstant(options.before);
  if (!options.dryRun) refuseOpenTransaction(db);
  const dir = options.dir ?? join(dirname(db.path), "archive");
  const { plan, stopped } = readTransaction(db, () => {
    const stop = firstNotBefore(db, cut);
    const plan = planArchive(db, stop);
    if (plan) refuseReferencedEvents(db, plan.first_audit_id, plan.last_audit_id);
    return { plan, stopped: stoppedEarly(db, cut, stop) };
  });
  if (!plan) {
    // Space an earlier run could not give back (the database was busy) goes back now.
    const space = options.dryRun || !spaceLeftBehind(db)
      ? {}
      : await giveSpaceBack(db, options.signal);
    const warning = joinWarnings(stopped, space.warning);
    return {
      ...(warning ? { warning } : {}),
      ...(space.stopped ? { stopped: true } : {}),
      archived: 0,
      first_audit_id: null,
      last_audit_id: null,
      file: null,
      sha256: null,
      bytes: null,
      ...(options.dryRun ? { dry_run: true } : {}),
    };
  }
  if (!options.force) {
    requireAcknowledged(db, plan.first_audit_id, plan.last_audit_id, options.central ?? false);
  }
  requireEarlierArchives(dir, readCheckpoints(db));
  const name = archiveFileName(plan.first_audit_id, plan.last_audit_id);
  const result: ArchiveResult = {
    archived: plan.events,
    first_audit_id: plan.first_audit_id,
    last_audit_id: plan.last_audit_id,
    file: join(dir, name),
    sha256: null,
    bytes: null,
    ...(stopped ? { warning: stopped } : {}),
  };
  if (options.dryRun) return { ...result, dry_run: true };

  const signal = options.signal;
  await using folder = await ArchiveFolder.open(dir);
  signal?.throwIfAborted();
  const temporary = await folder.temporaryPath(name);
  let renamed = false;
  try {
    try {
      using _snapshot = readSnapshot(db);
      await writeArchiveFile(db, temporary, plan, signal);
    } catch (error) {
      signal?.throwIfAborted();
      throw folder.writeError(error);
    }
    await folder.sync(temporary);
    signal?.throwIfAborted();
    const check = checkArchiveFile(temporary, name, plan);
    if (check.failure && !check.chainFailed) {
      throw new AuditTrailError(
        `The archive file just written did not read back as written: ${check.failure.message}`,
        { hint: "Nothing was archived. Check the disk of the archive folder, then run it again." },
      );
    }
    if (check.failure) {
      throw new TamperingFoundError(
        `Tampering found in the events to archive: ${check.failure.message}`,
        {
          hint:
            "Nothing was archived. Run audit-trail verify, leave the database as it is, and tell your supervisor.",
        },
      );
    }
    const { bytes, sha256 } = await hashFile(temporary);
    signal?.throwIfAborted();
    const final = join(dir, name);
    refuseForeignFile(db, dir, final, plan);
    // Under the write lock from here to the commit, so no other run can archive the same
    // events or replace the file meanwhile.
    const restoreCache = raisePageCache(db);
    try {
      await stoppableWriteTransaction(db, () => {
        requireStillLive(db, plan);
        // Asked again under the lock: the first sync of this database may have recorded its
        // central store while the file was written, and the events it has not stored yet
        // must stay.
        if (!options.force) {
          requireAcknowledged(
            db,
            plan.first_audit_id,
            plan.last_audit_id,
            options.central ?? false,
          );
        }
        // The application may have added a reference to one of them while the file was
        // written.
        refuseReferencedEvents(db, plan.first_audit_id, plan.last_audit_id);
        folder.renameSync(temporary, final);
        renamed = true;
        insertCheckpoint(db, { ...plan, file: name, sha256, bytes });
        removeArchived(db, plan);
      }, signal);
    } finally {
      restoreCache();
    }
    result.sha256 = sha256;
    result.bytes = bytes;
  } catch (error) {
    if (!renamed) await folder.remove(temporary);
    else if (!recorded(db, name)) await folder.remove(join(dir, name));
    throw error;
  }
  await folder.removeOrphans(db, readCheckpoints(db));
  const space = await giveSpaceBack(db, signal);
  const warning = joinWarnings(stopped, space.warning);
  if (warning) result.warning = warning;
  if (space.stopped) result.stopped = true;
  return result;
}

// --- internals -------------------------------------------------------------------------------

/** What to archive: a range of the live log, with the seals it starts from and ends on. */
type ArchivePlan = ArchiveRange;

function cutInstant(before: Date | string): string {
  const time = before instanceof Date ? before.getTime() : Date.parse(before);
  if (!Number.isFinite(time)) {
    throw new UsageError(`The archive cut "${String(before)}" is not a date or time`, {
      hint: "Give an ISO date or date-time in UTC, e.g. 2025-01-01 or 2025-01-01T00:00:00Z.",
    });
  }
  return new Date(time).toISOString();
}

/** The event the run stops at: the first whose timestamp is not before `cut`. */
interface Stop {
  audit_id: number;
  timestamp: unknown;
  /** Its timestamp as a time, or null when it is none. */
  parsed: string | null;
}

/**
 * The first event whose timestamp (legacy ones normalised) is not before `cut`, if any. A
 * timestamp that is not a time (see IS_TIME_SQL) is not before it either: compared as stored,
 * "01/02/2030" or any number sorts before every ISO cut.
 */
function firstNotBefore(db: AuditDatabase, cut: string): Stop | undefined {
  return guard(db.path, () =>
    db.statement(
      `SELECT audit_id, timestamp, ${TIME_OR_NULL} AS parsed FROM audit_log
       WHERE NOT coalesce(${TIME_BEFORE_SQL}, 0) ORDER BY audit_id LIMIT 1`,
    ).get(cut)) as Stop | undefined;
}

/** The timestamp as a time, or NULL when it is none. */
const TIME_OR_NULL = `CASE WHEN ${IS_TIME_SQL} THEN ${UTC_TIMESTAMP_SQL} END`;

/**
 * The longest run of events from the start of the live log that ends before `stop`, or null
 * when there is none. Reads inside the caller's transaction.
 */
function planArchive(db: AuditDatabase, stop: Stop | undefined): ArchivePlan | null {
  const start = liveStart(db);
  if (start.failure) {
    throw new TamperingFoundError(`Tampering found: ${start.failure.message}`, {
      hint: "Nothing was archived. Run audit-trail verify and tell your supervisor.",
    });
  }
  const row = guard(db.path, () =>
    db.statement(
      `SELECT min(audit_id) AS first, max(audit_id) AS last, count(*) AS events
       FROM audit_log WHERE audit_id < ?`,
    ).get(stop?.audit_id ?? Number.MAX_SAFE_INTEGER))!;
  if (!row.events) return null;
  const last = row.last as number;
  refuseUnsealedEvent(db, row.first as number, last);
  const seal = guard(
    db.path,
    () =>
      db.statement("SELECT lower(hex(hash)) AS hash FROM audit_trail_chain WHERE audit_id = ?")
        .get(last),
  );
  return {
    first_audit_id: row.first as number,
    last_audit_id: last,
    events: row.events as number,
    previous_hash: start.previous,
    last_hash: (seal?.hash as string | undefined) ?? "",
  };
}

/**
 * Fails when an event in the range has no seal: a program other than audit-trail wrote it
 * (the inventory application, or an earlier audit module still running on the file). Found
 * here, it is named as tampering; found while the file is written, it read as a full disk.
 */
function refuseUnsealedEvent(db: AuditDatabase, first: number, last: number): void {
  // One look-up by key per event, beside the copy of every event that follows.
  const unsealed = guard(db.path, () =>
    db.statement(
      `SELECT l.audit_id AS id FROM audit_log l
       WHERE l.audit_id BETWEEN ? AND ?
         AND NOT EXISTS (SELECT 1 FROM audit_trail_chain c WHERE c.audit_id = l.audit_id)
       ORDER BY l.audit_id LIMIT 1`,
    ).get(first, last))?.id;
  if (unsealed === undefined) return;
  throw new TamperingFoundError(
    `Tampering found: Event ${unsealed} was inserted: it has no seal, so it was not recorded through audit-trail`,
    { hint: "Nothing was archived. Run audit-trail verify and tell your supervisor." },
  );
}

/**
 * Why the run stops early, when the event it stops at is not older than the cut only because
 * its timestamp is no time or lies in the future (a clock set wrong), while events logged after
 * it are older: without a word, a scheduled run would archive nothing more, day after day.
 */
function stoppedEarly(db: AuditDatabase, cut: string, stop: Stop | undefined): string | undefined {
  if (!stop) return undefined;
  const parsed = stop.parsed;
  if (parsed !== null && parsed <= new Date().toISOString()) return undefined;
  const older = guard(db.path, () =>
    db.statement(
      `SELECT count(*) AS n FROM audit_log WHERE audit_id > ? AND ${TIME_BEFORE_SQL}`,
    ).get(stop.audit_id, cut))!.n as number;
  if (older === 0) return undefined;
  const why = parsed === null
    ? `its timestamp ${JSON.stringify(stop.timestamp)} is not a time`
    : `it is dated ${parsed}, in the future`;
  const left = older === 1
    ? "the older event logged after it stays"
    : `the ${older} older events logged after it stay`;
  return `Archiving stops at event ${stop.audit_id}: ${why}; ${left} in the database, as only a run of events from the start of the log is archived.`;
}

function joinWarnings(...warnings: (string | undefined)[]): string | undefined {
  return warnings.filter((w) => w !== undefined).join(" ") || undefined;
}

/**
 * Under the write lock: the events are still the oldest of the live log, and nobody archived
 * them meanwhile (a second run on another folder, say).
 */
function requireStillLive(db: AuditDatabase, plan: ArchivePlan): void {
  const start = liveStart(db);
  const firstLive = guard(
    db.path,
    () => db.statement("SELECT min(audit_id) AS id FROM audit_log").get()!.id,
  );
  if (
    start.failure || start.previous !== plan.previous_hash || firstLive !== plan.first_audit_id
  ) {
    throw new AuditTrailError(
      `Events ${plan.first_audit_id} to ${plan.last_audit_id} were archived by another run meanwhile`,
      { hint: "Nothing was done by this run. Run audit-trail verify --archives to check." },
    );
  }
}

/**
 * A file under the final name is replaced only when it is an orphan of these very events
 * (left by a run that crashed before its commit): an archive of another database with the
 * same range of ids must never be overwritten.
 */
function refuseForeignFile(
  db: AuditDatabase,
  dir: string,
  path: string,
  plan: ArchivePlan,
): void {
  let exists = true;
  try {
    Deno.statSync(path);
  } catch {
    exists = false;
  }
  if (!exists) return;
  let ours = false;
  let info: ArchiveInfo | null = null;
  try {
    using archive = openArchive(path);
    info = readArchiveInfo(archive);
    ours = info?.first_audit_id === plan.first_audit_id && info.last_hash === plan.last_hash &&
      info.previous_hash === plan.previous_hash;
  } catch {
    ours = false;
  }
  if (!ours && info && sharesHistory(db, dir, readCheckpoints(db), path, info)) {
    // The only copy of events this log held before it was restored: never to be moved aside.
    throw new AuditTrailError(divergedArchive(basename(path), info), {
      hint:
        "Nothing was archived. Keep that file: it is the only copy of those events. Tell your supervisor, and send support a debug bundle (audit-trail bundle).",
    });
  }
  if (!ours) {
    throw new AuditTrailError(
      `"${path}" already exists and is not an archive of this database's events`,
      {
        hint:
          "Nothing was archived. Archive into a folder of this database's own (--to DIR), or move that file away.",
      },
    );
  }
}

/**
 * Fails unless every earlier run's archive file is in `dir`: `verify --archives` and
 * `query --archives` read one folder, where a file left in another (the first runs into
 * `archive/`, the scheduled ones `--to` elsewhere) is missing, which `verify` must call
 * deleted.
 */
function requireEarlierArchives(dir: string, checkpoints: Checkpoint[]): void {
  for (const checkpoint of checkpoints) {
    try {
      Deno.statSync(join(dir, checkpoint.file));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) continue; // the run's own checks report it
      throw new AuditTrailError(
        `Archive ${checkpoint.file} of an earlier run is not in "${dir}"`,
        {
          hint:
            "Nothing was archived. Keep every archive file of this database in one folder, which verify --archives and query --archives read: move the earlier files there first, or give --to the folder that holds them.",
        },
      );
    }
  }
}

/**
 * Whether a checkpoint names `file`, after a failure between the rename and the commit: a file
 * no checkpoint names is removed, and one that cannot be told is left as an orphan.
 */
function recorded(db: AuditDatabase, file: string): boolean {
  try {
    return readCheckpoints(db).some((c) => c.file === file);
  } catch {
    return true;
  }
}

/**
 * Deletes the archived events, and their seals but the last (the live chain's new root), in
 * the caller's transaction.
 */
function removeArchived(db: AuditDatabase, plan: ArchivePlan): void {
  const removed = deleteInSlices(db, "audit_log", plan.first_audit_id, plan.last_audit_id);
  if (removed !== plan.events) {
    throw new Error(`removed ${removed} of the ${plan.events} archived events`);
  }
  deleteInSlices(db, "audit_trail_chain", -Number.MAX_SAFE_INTEGER, plan.last_audit_id - 1);
}

/** Rows one DELETE statement of {@linkcode deleteInSlices} removes at most. */
export const DELETE_SLICE_ROWS = 10_000;

/**
 * Deletes the rows of `table` (`audit_log` or `audit_trail_chain`) with `from` ≤ `audit_id` ≤
 * `to`, one slice of at most {@linkcode DELETE_SLICE_ROWS} rows per statement, and returns how
 * many it deleted. A DELETE on a table with triggers (both have their append-only guard) first
 * lists every row it is about to delete, in memory that SQLite never spills to disk: in one
 * statement, 2.5 million events held some 60 MB until the commit.
 */
function deleteInSlices(
  db: AuditDatabase,
  table: "audit_log" | "audit_trail_chain",
  from: number,
  to: number,
): number {
  const sliceEnd = db.statement(
    `SELECT audit_id FROM ${table} WHERE audit_id BETWEEN ? AND ?
     ORDER BY audit_id LIMIT 1 OFFSET ${DELETE_SLICE_ROWS - 1}`,
  );
  const remove = db.statement(`DELETE FROM ${table} WHERE audit_id BETWEEN ? AND ?`);
  let removed = 0;
  for (let start = from;;) {
    const end = (sliceEnd.get(start, to)?.audit_id as number | undefined) ?? to;
    removed += Number(remove.run(start, end).changes);
    if (end >= to) return removed;
    start = end + 1;
  }
}

/**
 * Whether pages freed by an archive run are still held (only archive runs free pages): under
 * incremental vacuum, or where the first run's switch to it was stopped or failed (the file
 * has checkpoints, yet no auto_vacuum) and a VACUUM renumbers nothing.
 */
function spaceLeftBehind(db: AuditDatabase): boolean {
  const mode = autoVacuum(db);
  const free = () =>
    (guard(
      db.path,
      () => db.sqlite.prepare("PRAGMA freelist_count").get()!.freelist_count,
    ) as number) > 0;
  if (mode === 2) return free();
  return mode === 0 && free() && readCheckpoints(db).length > 0 && renumberedByVacuum(db) === null;
}

function autoVacuum(db: AuditDatabase): number {
  return guard(db.path, () => db.sqlite.prepare("PRAGMA auto_vacuum").get()!.auto_vacuum as number);
}

/**
 * Gives the freed pages back to the file system. The first archive switches the database to
 * incremental vacuum, which takes one full VACUUM; later runs move only the pages at the end.
 * A database the application set to auto_vacuum = FULL got them back at the commit already,
 * and one with a table whose rows VACUUM would renumber keeps them for new events.
 * The events are archived by then: a failure here is only a warning, and `signal` stops it
 * (nothing of it is kept: the next run gives the space back).
 */
async function giveSpaceBack(
  db: AuditDatabase,
  signal: AbortSignal | undefined,
): Promise<{ warning?: string; stopped?: boolean }> {
  try {
    const mode = autoVacuum(db);
    const renumbered = mode === 0 ? renumberedByVacuum(db) : null;
    if (renumbered !== null) {
      return {
        warning:
          `The events were archived; their space stays in the database for new events, as giving it back (VACUUM) would renumber the rows of the table "${renumbered}" (it has no INTEGER PRIMARY KEY).`,
      };
    }
    const how = mode === 2 ? "incremental" : mode === 0 ? "vacuum" : "checkpoint";
    return (await reclaimSpace(db.path, how, signal)) === "stopped"
      ? {
        stopped: true,
        warning:
          "The events were archived; giving their space back to the disk was stopped, and the next archive run gives it back.",
      }
      : {};
  } catch (error) {
    return {
      warning: `The events were archived, but their space could not be given back yet (${
        errorMessage(error)
      }); the next archive run tries again.`,
    };
  }
}
