-- The audit log: one row per event, append-only. audit_id is insertion order, the order of
-- truth; timestamps are UTC text set by the database when the event is inserted.
CREATE TABLE IF NOT EXISTS audit_log (
  audit_id INTEGER PRIMARY KEY,
  timestamp TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  operation TEXT NOT NULL,
  sku TEXT,
  details TEXT NOT NULL DEFAULT '',
  user TEXT NOT NULL DEFAULT 'system'
);

-- An index on one column also holds audit_id, so each of these serves its filter already
-- in audit_id order: "newest 100 events of this SKU" reads 100 index entries, no sort.
CREATE INDEX IF NOT EXISTS idx_audit_log_sku ON audit_log(sku);
CREATE INDEX IF NOT EXISTS idx_audit_log_operation ON audit_log(operation);
CREATE INDEX IF NOT EXISTS idx_audit_log_user ON audit_log(user);
