-- Tamper evidence. Each event gets a seal in audit_trail_chain: the SHA-256 of the previous
-- seal and of the event's fields (see lib/chain/encoding.ts). The seals live in their own table
-- so that audit_log keeps exactly its columns, and so that an event deleted from audit_log
-- leaves its seal behind as evidence. A seal is stored as its 32 bytes (a BLOB), half the size
-- of its hex text, which a bulk import of a million events feels. SQL cannot hash: the
-- migration runner seals the events that already exist right after this text, in the same
-- transaction.
CREATE TABLE IF NOT EXISTS audit_trail_chain (
  audit_id INTEGER PRIMARY KEY,
  hash BLOB NOT NULL
);

-- Append-only: events and seals can be added, never changed or removed. These stop mistakes
-- and casual edits; someone who drops them (or uses INSERT OR REPLACE, which deletes without
-- firing DELETE triggers unless recursive_triggers is on) can still change the file, and the
-- chain is what makes that visible (audit-trail verify). No INSERT trigger guards against
-- REPLACE: it would cost every bulk insert a trigger run per row.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: audit events cannot be changed. Record a correcting event instead.');
END;

CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only: audit events cannot be deleted.');
END;

CREATE TRIGGER IF NOT EXISTS audit_trail_chain_no_update BEFORE UPDATE ON audit_trail_chain
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_chain is append-only: integrity seals cannot be changed.');
END;

CREATE TRIGGER IF NOT EXISTS audit_trail_chain_no_delete BEFORE DELETE ON audit_trail_chain
BEGIN
  SELECT RAISE(ABORT, 'audit_trail_chain is append-only: integrity seals cannot be deleted.');
END;
