/**
 * The local side of a sync: reading sealed events in order, and the database's own record of
 * the central store (which site it is, what the central store acknowledged).
 *
 * @module
 */
import { type AuditDatabase, guard, writeTransaction } from "../db.ts";
import { HASH_HEX_SQL } from "../chain/seal.ts";
import { readCheckpoints } from "../archive/checkpoint_list.ts";

/** A local event with its seal, every field exactly as stored (as the seal covers it). */
export type SealedRow = [
  audit_id: number,
  timestamp: string | null,
  operation: string | null,
  sku: string | null,
  details: string | null,
  user: string | null,
  run_id: string | null,
  /** 64 hex digits, or null when the event has no seal. */
  seal: string | null,
];

/** The fields as their canonical encoding reads them: a BLOB (never written by audit-trail) as `x'HEX'`. */
const STORED_COLUMNS = ["timestamp", "operation", "sku", "details", "user", "run_id"]
  .map((c) => `CASE typeof(e.${c}) WHEN 'blob' THEN 'x''' || hex(e.${c}) || '''' ELSE e.${c} END`)
  .join(", ");

/**
 * Reads up to `limit` sealed events after `afterId`, oldest first, stopping early once about
 * `maxChars` characters of text are read (so a backlog of long details keeps memory flat).
 */
export function readSealedRows(
  db: AuditDatabase,
  afterId: number,
  limit: number,
  maxChars: number,
): SealedRow[] {
  const statement = db.statement(
    `SELECT e.audit_id, ${STORED_COLUMNS},
       iif(c.audit_id IS NULL, NULL, lower(hex(c.hash))) AS seal
     FROM audit_log AS e LEFT JOIN audit_trail_chain AS c ON c.audit_id = e.audit_id
     WHERE e.audit_id > ? ORDER BY e.audit_id LIMIT ?`,
  ) as unknown as { setReturnArrays(on: boolean): void; all(...p: number[]): unknown[] };
  statement.setReturnArrays(true);
  const rows: SealedRow[] = [];
  let chars = 0;
  let cursor = afterId;
  const page = Math.min(limit, 2000);
  while (rows.length < limit && chars < maxChars) {
    const got = guard(
      db.path,
      () => statement.all(cursor, Math.min(page, limit - rows.length)),
    ) as SealedRow[];
    for (const row of got) {
      rows.push(row);
      chars += (row[4]?.length ?? 0) + 200;
    }
    if (got.length < page) break;
    cursor = got[got.length - 1]![0];
  }
  return rows;
}

/**
 * The local seal of event `id` in hex: of a live event, or of the last event of an archive
 * (its checkpoint keeps it); null when this database holds no such sealed event.
 */
export function localSeal(db: AuditDatabase, id: number): string | null {
  const row = guard(db.path, () =>
    db.statement(
      `SELECT ${HASH_HEX_SQL} AS hash FROM audit_trail_chain AS c
       WHERE c.audit_id = ? AND EXISTS (SELECT 1 FROM audit_log AS e WHERE e.audit_id = c.audit_id)`,
    ).get(id));
  if (row) return row.hash as string;
  return readCheckpoints(db).find((c) => c.last_audit_id === id)?.last_hash ?? null;
}

/**
 * Where the live chain starts when older events were archived: the newest checkpoint's last
 * event and seal, or null when nothing was archived (the chain starts from 32 zero bytes).
 */
export function localRoot(db: AuditDatabase): { audit_id: number; seal: string } | null {
  const newest = readCheckpoints(db).at(-1);
  return newest ? { audit_id: newest.last_audit_id, seal: newest.last_hash } : null;
}

/** The newest local event id, or 0 when the log is empty. */
export function newestLocalId(db: AuditDatabase): number {
  return guard(
    db.path,
    () =>
      db.statement("SELECT coalesce(max(audit_id), 0) AS id FROM audit_log").get()!.id as number,
  );
}

/** What this database records about the central store it sends to. */
export interface CentralRecord {
  site: string;
  central: string;
  first_sync_at: string;
  last_sync_at: string;
  /** The newest event the central store confirmed holding, or null before any. */
  acknowledged_audit_id: number | null;
}

/**
 * The database's record of its central store, or null before its first accepted sync (or
 * in a schema before the central store's, version 5).
 */
export function centralRecord(db: AuditDatabase): CentralRecord | null {
  const table = guard(db.path, () =>
    db.statement(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_trail_central'",
    ).get());
  if (!table) return null;
  const row = guard(db.path, () =>
    db.statement(
      `SELECT site, central, first_sync_at, last_sync_at, acknowledged_audit_id
       FROM audit_trail_central WHERE id = 1`,
    ).get());
  return row ? (row as unknown as CentralRecord) : null;
}

/**
 * Records (or confirms) the site and what the central store acknowledged. The site is fixed
 * by the first call; the acknowledged id only moves forward. A record that would not change
 * (the same site and central store, nothing newer acknowledged) is not written again, so
 * that a round with nothing to send writes nothing locally: on a full disk such a round
 * still succeeds, and `last_sync_at` is when the record last moved.
 */
export function recordCentral(
  db: AuditDatabase,
  site: string,
  central: string,
  acknowledged: number | null,
): void {
  const current = centralRecord(db);
  if (
    current !== null && current.site === site && current.central === central &&
    (acknowledged === null || (current.acknowledged_audit_id ?? -Infinity) >= acknowledged)
  ) return;
  writeTransaction(db, () => {
    db.statement(
      `INSERT INTO audit_trail_central (id, site, central, acknowledged_audit_id)
       VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET
         central = excluded.central,
         last_sync_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
         acknowledged_audit_id = max(coalesce(acknowledged_audit_id, excluded.acknowledged_audit_id),
                                     coalesce(excluded.acknowledged_audit_id, acknowledged_audit_id))
       WHERE site = excluded.site`,
    ).run(site, central, acknowledged);
  });
}
