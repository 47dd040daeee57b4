/**
 * What the central store has acknowledged (`audit-trail sync`): archive removes no event that
 * a configured central store does not hold yet, so no event lives only on one PC's archive.
 *
 * @module
 */
import type { AuditDatabase } from "../db.ts";
import { centralRecord } from "../central/local.ts";
import { AuditTrailError } from "../errors.ts";

/** Where a central store stands for this database. */
export interface CentralAcknowledgement {
  /** The site name the central store knows this database by, or null before the first sync. */
  site: string | null;
  /** The newest event the central store confirmed holding, or null when none yet. */
  acknowledged: number | null;
}

/**
 * Reads the sync bookkeeping (table `audit_trail_central`, written by the first sync the
 * central store accepted); null when this database was never synced.
 */
export function centralAcknowledgement(db: AuditDatabase): CentralAcknowledgement | null {
  const record = centralRecord(db);
  return record && { site: record.site, acknowledged: record.acknowledged_audit_id ?? null };
}

/**
 * Fails when events up to `lastId` are to be archived but a central store is configured
 * (this database was synced, or `configured` says a store is set up) and has not
 * acknowledged them all.
 *
 * @throws {AuditTrailError} Naming the events the central store lacks.
 */
export function requireAcknowledged(
  db: AuditDatabase,
  firstId: number,
  lastId: number,
  configured: boolean,
): void {
  const central = centralAcknowledgement(db);
  if (!central && !configured) return;
  const acknowledged = central?.acknowledged ?? null;
  if (acknowledged !== null && acknowledged >= lastId) return;
  const from = Math.max(firstId, (acknowledged ?? 0) + 1);
  const [events, them] = from === lastId
    ? [`Event ${from} has`, "it"]
    : [`Events ${from} to ${lastId} have`, "they"];
  throw new AuditTrailError(
    `${events} not reached the central store yet${
      acknowledged === null
        ? central ? " (it has acknowledged none)" : " (this database was never synced)"
        : ` (it has acknowledged events up to ${acknowledged})`
    }, so ${them} cannot be archived`,
    {
      hint:
        "Nothing was archived. Run audit-trail sync first, or add --force to keep them only in the archive file.",
    },
  );
}
