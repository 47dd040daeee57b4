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
}

/**
 * The error for a site whose central copy differs from this database: tampering when the
 * central store had acknowledged the differing event to this database, else the likely
 * mistakes that lead there.
 */
export function divergenceError(
  db: AuditDatabase,
  site: string,
  { differing, head: centralHead, otherHost }: Divergence,
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

/**
 * Fails when the central copy of the site ends before events this database archived: they
 * are only in the archive files now, and the central chain cannot go on without them. It
 * happens when the central store was restored from a backup older than the archived events'
 * sync, or when events were archived (forced) before they reached it.
 *
 * @throws {AuditTrailError} Naming the events the central store lacks and the likely cause.
 */
export function requireCentralBeyondArchives(
  db: AuditDatabase,
  site: string,
  head: CentralHead,
): void {
  const checkpoints = readCheckpoints(db);
  const archived = checkpoints.at(-1)?.last_audit_id;
  if (archived === undefined) return;
  const record = centralRecord(db);
  const acknowledged = record?.acknowledged_audit_id ?? null;
  if (head.known) {
    if (head.lastId !== null && head.lastId >= archived) return;
  } else if (
    // A site new to the central store starts after its archived events, as long as they
    // were archived before this database's first sync (the central copy never held them).
    acknowledged === null || checkpoints.every((c) => c.created_at < record!.first_sync_at)
  ) {
    return;
  }
  const from = (head.lastId ?? 0) + 1;
  const restored = acknowledged !== null && acknowledged > (head.lastId ?? 0);
  const cause = restored
    ? `it had acknowledged events up to ${acknowledged}, so it was most likely restored from an older backup`
    : "they were archived before they reached it";
  const remedy = restored
    ? "The central store's administrator can restore a newer backup of it"
    : "The site cannot sync on until they reach the central store";
  throw new AuditTrailError(
    `The central store holds ${
      head.lastId === null
        ? "no event of site " + site
        : `site ${site} only up to event ${head.lastId}`
    }, but events ${from} to ${archived} are archived on this PC: ${cause}`,
    {
      hint:
        `Nothing was sent. Keep this PC's archive files: they hold the only copy of those events. ${remedy}; tell your supervisor.`,
    },
  );
}
