-- The central store this database sends its events to (audit-trail sync). Tool bookkeeping,
-- not events: one row, written by the first sync the central store accepted. `site` names
-- this database's chain centrally and never changes (sync updates only the row of the same
-- site), so one chain cannot split across two sites; `acknowledged_audit_id` is the newest
-- event the central store confirmed holding, which tells what may be archived without losing
-- an event the central store lacks.
CREATE TABLE IF NOT EXISTS audit_trail_central (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  site TEXT NOT NULL,
  central TEXT NOT NULL,
  first_sync_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  last_sync_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  acknowledged_audit_id INTEGER
);
