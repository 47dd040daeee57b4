-- Retention. `audit-trail archive` moves the oldest events into an archive file and records a
-- checkpoint here, in the transaction that removes them: which events left (first and last
-- audit_id, how many), the seal before the first and the seal of the last (32-byte BLOBs), and
-- the archive file's name, size and SHA-256. The seals of a run of archived checkpoints chain
-- into one another, and the newest one's last seal is where the live chain goes on, so the
-- history from the first event ever written stays provable (audit-trail verify --archives).
CREATE TABLE IF NOT EXISTS audit_trail_checkpoints (
  checkpoint_id INTEGER PRIMARY KEY,
  first_audit_id INTEGER NOT NULL,
  last_audit_id INTEGER NOT NULL,
  events INTEGER NOT NULL,
  previous_hash BLOB NOT NULL,
  last_hash BLOB NOT NULL,
  file TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  CHECK (first_audit_id <= last_audit_id AND events >= 1)
);

CREATE TRIGGER IF NOT EXISTS audit_trail_checkpoints_no_update
BEFORE UPDATE ON audit_trail_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_checkpoints is append-only: archive checkpoints cannot be changed.');
END;

CREATE TRIGGER IF NOT EXISTS audit_trail_checkpoints_no_delete
BEFORE DELETE ON audit_trail_checkpoints
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_checkpoints is append-only: archive checkpoints cannot be deleted.');
END;

-- The delete guards of migration 003, replaced: an event may leave audit_log only once a
-- checkpoint covers it, which only audit-trail archive records, with the archive file already in
-- place. UPDATE stays refused without exception. A seal may go with its event, except the seal
-- of the newest checkpoint's last event: it stays as the root the live chain grows from, so new
-- events chain on (and are numbered above it) even after every event was archived.
DROP TRIGGER IF EXISTS audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (
  SELECT 1 FROM audit_trail_checkpoints
  WHERE OLD.audit_id BETWEEN first_audit_id AND last_audit_id
)
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: audit events cannot be deleted. Old events leave only through audit-trail archive.');
END;

DROP TRIGGER IF EXISTS audit_trail_chain_no_delete;
CREATE TRIGGER audit_trail_chain_no_delete BEFORE DELETE ON audit_trail_chain
WHEN NOT (
  EXISTS (
    SELECT 1 FROM audit_trail_checkpoints
    WHERE OLD.audit_id BETWEEN first_audit_id AND last_audit_id
  )
  AND OLD.audit_id < (SELECT max(last_audit_id) FROM audit_trail_checkpoints)
)
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_chain is append-only: integrity seals cannot be deleted.');
END;
