/**
 * Telling what happened to the first event whose seal does not match: modified, inserted,
 * reordered or deleted.
 *
 * @module
 */
import { type AuditDatabase, guard } from "../db.ts";
import { ENCODING_SQL, linkHex } from "./encoding.ts";

/** What happened to the first event that fails verification. */
export type TamperKind = "modified" | "deleted" | "inserted" | "reordered";

/** The first event that fails verification, and what happened to it. */
export interface ChainFailure {
  audit_id: number;
  kind: TamperKind;
  message: string;
  /** The archive file the failure concerns, when it lies in one (`verify --archives`). */
  file?: string;
}

/** Rows read at a time while looking for a moved event. */
const PAGE_SIZE = 4096;
/** How far past a failing event to look for the event that belongs in its place. */
const REORDER_WINDOW = 100_000;

/**
 * Works out what happened to an event whose seal does not match. Runs once, on failure, so
 * it may read ahead: each test recomputes a few seals from the stored ones.
 */
export function classifyMismatch(
  db: AuditDatabase,
  id: number,
  previous: string,
  previousId: number | null,
  encoded: string,
  storedHash: string,
): ChainFailure {
  const following = sealedEvents(db, id, 1)[0];
  if (following && linkHex(linkHex(previous, encoded), following.encoded) === following.hash) {
    return {
      audit_id: id,
      kind: "modified",
      message: `Event ${id} was modified: the event is unchanged but its seal was altered`,
    };
  }
  if (following && linkHex(previous, following.encoded) === following.hash) {
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
      `SELECT a.audit_id, a.encoded, iif(c.audit_id IS NULL, NULL, lower(hex(c.hash))) AS hash
       FROM (SELECT audit_id, ${ENCODING_SQL} AS encoded FROM audit_log
             WHERE audit_id > ? ORDER BY audit_id LIMIT ?) AS a
       LEFT JOIN audit_trail_chain AS c ON c.audit_id = a.audit_id
       ORDER BY a.audit_id`,
    ).all(afterId, limit)) as unknown as SealedEvent[];
}

/**
 * Looks for the event that was sealed at `id`: moved elsewhere, with or without its seal,
 * its encoding under `id` would give `storedHash` (or its own seal) again. An event that still
 * fits its own place was not moved: it is a twin of the one sealed at `id` (a bulk load stamps
 * identical lines with one timestamp), so an edit of the event at `id` stays an edit.
 */
function findMovedEvent(
  db: AuditDatabase,
  id: number,
  previous: string,
  storedHash: string,
): number | null {
  let after = id;
  let sealBefore: string | null = storedHash;
  for (let seen = 0; seen < REORDER_WINDOW;) {
    const page = sealedEvents(db, after, PAGE_SIZE);
    for (const event of page) {
      const asHere = `[${id}${event.encoded.slice(event.encoded.indexOf(","))}`;
      const hash = linkHex(previous, asHere);
      const inPlace = sealBefore !== null && event.hash === linkHex(sealBefore, event.encoded);
      if (!inPlace && (hash === storedHash || hash === event.hash)) return event.audit_id;
      sealBefore = event.hash;
    }
    if (page.length < PAGE_SIZE) return null;
    seen += page.length;
    after = page[page.length - 1]!.audit_id;
  }
  return null;
}
