/**
 * Seals as the first release of migration 003 kept them: 64 hex digits of text, each the
 * SHA-256 of the JSON array `[previous seal in hex, audit_id, timestamp, operation, sku,
 * details, user, run_id]` (64 zeros before the first event). `migrate` checks such a chain by
 * that rule before it seals the same events again by today's, so that an event changed under
 * the old seals is found rather than sealed as if it were sound.
 *
 * @module
 */
import { type AuditDatabase, guard } from "../db.ts";
import { SchemaError } from "../errors.ts";
import { sha256Hex } from "../sha256.ts";
import { GENESIS_HASH } from "./encoding.ts";

/**
 * Checks every hex seal by the old rule, then drops them (with their table's guards) for the
 * migration to seal the events again. Must run inside the migration's transaction.
 *
 * @throws {SchemaError} When an event and its seal do not match (changed, removed or added
 * after it was sealed); nothing is changed then.
 */
export function dropCheckedHexSeals(db: AuditDatabase): void {
  const rows = guard(db.path, () =>
    db.sqlite.prepare(
      `SELECT c.audit_id AS sealed_id, c.hash, l.audit_id, l.timestamp, l.operation, l.sku,
              l.details, l.user, l.run_id
       FROM audit_trail_chain c LEFT JOIN audit_log l USING (audit_id)
       UNION ALL
       SELECT NULL, NULL, l.audit_id, NULL, NULL, NULL, NULL, NULL, NULL
       FROM audit_log l WHERE l.audit_id NOT IN (SELECT audit_id FROM audit_trail_chain)
       ORDER BY 3`,
    ).iterate());
  let previous = GENESIS_HASH;
  for (const row of rows) {
    const { audit_id, timestamp, operation, sku, details, user, run_id } = row;
    // A seal without its event, or an event without a seal, is as telling as a changed one.
    if (row.sealed_id === null || audit_id === null) throw unmatched(db, row.sealed_id ?? audit_id);
    const expected = sha256Hex(
      JSON.stringify([previous, audit_id, timestamp, operation, sku, details, user, run_id]),
    );
    if (expected !== row.hash) throw unmatched(db, audit_id);
    previous = expected;
  }
  db.sqlite.exec(`DROP TRIGGER IF EXISTS audit_trail_chain_no_update;
    DROP TRIGGER IF EXISTS audit_trail_chain_no_delete;
    DROP TABLE audit_trail_chain;`);
}

function unmatched(db: AuditDatabase, auditId: unknown): SchemaError {
  return new SchemaError(
    `Event ${auditId} in "${db.path}" does not match its seal (changed, removed or added after it was written), so its chain cannot be carried over; nothing was changed`,
    {
      hint:
        "Check it with the audit-trail build that set this database up (audit-trail verify), and ask support before going on.",
    },
  );
}
