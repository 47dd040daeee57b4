/**
 * Telling why a site's central copy and this database disagree, from what this database
 * recorded of its syncs. A chain that differs where the central store had acknowledged it is
 * evidence of a change; one that differs only past that point is most likely an operator's
 * mistake (a database restored from a backup, two PCs syncing as one site), and a central
 * copy that ends inside this database's archives is a central store restored from a backup.
 *
 * @module
 */
import type { AuditDatabase } from "../db.ts";
import { AuditTrailError } from "../errors.ts";
import { readCheckpoints } from "../archive/checkpoint_list.ts";
import { CentralDivergenceError } from "./connection.ts";
import { centralRecord } from "./local.ts";

/** Where the central store stands for a site, as `sync` read it. */
export interface CentralHead {
  /** Whether the central store knows the site at all. */
  known: boolean;
  /** The newest event it holds for the site, or null when it holds none. */
  lastId: number | null;
}

/** Where a site's central copy first differs from this database. */
export interface Divergence {
  /** The first central event that is not the local one. */
  differing: number;
  /** The site's newest central event. */
  head: number | null;
  /** Another machine than this one that the site's latest central events came from. */
  otherHost: string | null;
  /** Whether the central copy starts with events this database holds as they are. */
  shared: boolean;
}

/**
 * The error for a site whose central copy differs from this database: tampering when the
 * central store had acknowledged the differing event to this database, else the likely
 * mistakes that lead there.
 */
export function divergenceError(
  db: AuditDatabase,
  site: string,
  { differing, head: centralHead, otherHost, shared }: Divergence,
): CentralDivergenceError {
  const record = centralRecord(db);
  const acknowledged = record?.acknowledged_audit_id ?? null;
  if (acknowledged !== null && differing <= acknowledged) {
    return new CentralDivergenceError(
      `Event ${differing} of site ${site} differs from the copy the central store holds: this database was changed after it was sent`,
      differing,
    );
  }
  const held = centralHead === null
    ? ""
    : ` (up to event ${centralHead}${
      otherHost === null ? "" : `, last sent from ${JSON.stringify(otherHost)}`
    })`;
  const left =
    "Nothing at or after that event was sent, and nothing central was changed: leave this database as it is";
  if (record === null && shared) {
    // Events in common: this database is the site's own, from before its first sync.
    return new CentralDivergenceError(
      `Site ${site} in the central store holds events this database never sent${held}: it has the same events up to ${
        differing - 1
      }, then its event ${differing} differs from this database's`,
      differing,
      {
        hint:
          `Most likely this database is a copy of ${site}'s, restored from a backup older than its first sync or copied from its PC; syncing it under another name would store those events twice. ${left} and tell your supervisor.`,
      },
    );
  }
  if (record === null) {
    return new CentralDivergenceError(
      `Site ${site} in the central store holds events this database never sent${held}: its event ${differing} differs from this database's`,
      differing,
      {
        hint:
          `Most likely another PC already syncs as ${site}: each PC needs a site name of its own, so sync this one under its own name. ${left}.`,
      },
    );
  }
  return new CentralDivergenceError(
    `Site ${site} in the central store holds events this database did not send${held}: its event ${differing} differs from this database's, which had ${
      acknowledged === null ? "none of its events" : `events up to ${acknowledged}`
    } acknowledged`,
    differing,
    {
      hint:
        `Most likely this database was restored from a backup older than its last sync, or another PC also syncs as ${site} (each PC needs a site name of its own). ${left} and tell your supervisor.`,
    },
  );
}

/** The events this database archived that the central copy of a site lacks. */
export interface CentralBehind {
  /** The first and last archived event the central store lacks. */
  from: number;
  through: number;
  /**
   * Where the site's central copy starts when the central store lost the site altogether:
   * after the events archived before the first sync (null: at the first event).
   */
  start: { audit_id: number; seal: string } | null;
  /** The error to give when the archive files cannot make up for them. */
  error(reason: string): AuditTrailError;
}

/**
 * Whether the central copy of the site ends before events this database archived: they are
 * then only in the archive files, and the central chain cannot go on without them. It
 * happens when the central store was restored from a backup older than the archived events'
 * sync, or when events were archived (forced) before they reached it. Null when it does not.
 */
export function centralBehindArchives(
  db: AuditDatabase,
  site: string,
  head: CentralHead,
): CentralBehind | null {
  const checkpoints = readCheckpoints(db);
  const archived = checkpoints.at(-1)?.last_audit_id;
  if (archived === undefined) return null;
  const record = centralRecord(db);
  const acknowledged = record?.acknowledged_audit_id ?? null;
  // Checkpoints recorded before the first sync are of events the central copy never held.
  const beforeFirstSync = checkpoints.filter((c) =>
    record === null || c.created_at < record.first_sync_at
  );
  if (head.known) {
    if (head.lastId !== null && head.lastId >= archived) return null;
  } else if (acknowledged === null || beforeFirstSync.length === checkpoints.length) {
    // A site new to the central store starts after its archived events.
    return null;
  }
  const startedAfter = beforeFirstSync.at(-1);
  const start = head.known || !startedAfter
    ? null
    : { audit_id: startedAfter.last_audit_id, seal: startedAfter.last_hash };
  const lastId = head.lastId ?? start?.audit_id ?? null;
  const from = (lastId ?? 0) + 1;
  const restored = acknowledged !== null && acknowledged > (lastId ?? 0);
  const cause = restored
    ? `it had acknowledged events up to ${acknowledged}, so it was most likely restored from an older backup`
    : "they were archived before they reached it";
  const held = lastId === null
    ? `no event of site ${site}`
    : `site ${site} only up to event ${lastId}`;
  return {
    from,
    through: archived,
    start,
    error: (reason) =>
      new AuditTrailError(
        `The central store holds ${held}, but events ${from} to ${archived} are archived on this PC: ${cause}`,
        {
          hint:
            `Nothing was sent. They are sent from this PC's archive files, which could not be read (${reason}): give the folder that holds them, and keep them (they hold the only copy of those events).`,
        },
      ),
  };
}
