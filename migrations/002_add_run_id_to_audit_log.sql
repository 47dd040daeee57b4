-- Groups the events of one batch operation. Databases adopted from the inventory application
-- may already have this column; the migration runner skips an ADD COLUMN that is already done.
ALTER TABLE audit_log ADD COLUMN run_id TEXT;

CREATE INDEX IF NOT EXISTS idx_audit_log_run_id ON audit_log(run_id);

-- Legacy rows hold "YYYY-MM-DD HH:MM:SS", new ones "YYYY-MM-DDTHH:MM:SS.sssZ"; as text the two
-- forms do not sort together, so time is indexed (newest first) in one normalised form. Queries
-- must use exactly this expression for SQLite to use the index. The earlier audit module's own
-- migration 002 used this index name for the raw text, which such queries cannot use: replace it.
DROP INDEX IF EXISTS idx_audit_log_timestamp;
CREATE INDEX IF NOT EXISTS idx_audit_log_timestamp
  ON audit_log(coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), timestamp) DESC);
