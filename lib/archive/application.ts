/**
 * What archiving must respect of the inventory application that shares the database file:
 * its rows that refer to events, and the row numbers of its tables.
 *
 * @module
 */
import { type AuditDatabase, guard } from "../db.ts";
import { AuditTrailError } from "../errors.ts";
import { PARSED_TIMESTAMP_SQL } from "../event_row.ts";
import { quote } from "../bundle/logical_copy.ts";

interface Reference {
  table: string;
  from: string;
  to: string;
}

/**
 * Fails when a row of another table refers to an event from `first` to `last` by a foreign key.
 * Deleting such an event would delete or change that row (`ON DELETE CASCADE`, `SET NULL`:
 * the tool's connections enforce foreign keys), or fail half-way through the archive run.
 *
 * @throws {AuditTrailError} Naming the oldest event referred to, and where from.
 */
export function refuseReferencedEvents(db: AuditDatabase, first: number, last: number): void {
  const references = guard(db.path, () =>
    db.statement(
      `SELECT m.name AS "table", f."from" AS "from", coalesce(f."to", 'audit_id') AS "to"
       FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
       WHERE m.type = 'table' AND lower(f."table") = 'audit_log'
       ORDER BY m.name, f.id, f.seq`,
    ).all()) as unknown as Reference[];
  let found: { id: number; reference: Reference } | undefined;
  for (const reference of references) {
    const row = guard(db.path, () =>
      db.sqlite.prepare(
        `SELECT a.audit_id AS id FROM audit_log AS a JOIN ${quote(reference.table)} AS r
           ON r.${quote(reference.from)} = a.${quote(reference.to)}
         WHERE a.audit_id BETWEEN ? AND ? ORDER BY a.audit_id LIMIT 1`,
      ).get(first, last)) as { id: number } | undefined;
    if (row && (!found || row.id < found.id)) found = { ...row, reference };
  }
  if (!found) return;
  const { id, reference } = found;
  const timestamp = guard(
    db.path,
    () =>
      db.statement(`SELECT ${PARSED_TIMESTAMP_SQL} AS t FROM audit_log WHERE audit_id = ?`).get(id),
  )
    ?.t as string | null;
  throw new AuditTrailError(
    `Cannot archive events ${first} to ${last}: event ${id} is referred to by ${reference.table}.${reference.from}, a table of another program`,
    {
      hint: id > first && timestamp !== null
        ? `Nothing was archived. Archive only the events before it (--before ${timestamp}), or have that program drop its reference first.`
        : "Nothing was archived. The oldest events stay until that program drops its reference to them.",
    },
  );
}

/**
 * The first table whose rows VACUUM may renumber: a table with row numbers of its own and no
 * INTEGER PRIMARY KEY to keep them (SQLite's VACUUM documentation), or null when there is none.
 * The application may refer to those numbers; the tool's own tables all keep theirs.
 */
export function renumberedByVacuum(db: AuditDatabase): string | null {
  const row = guard(db.path, () =>
    db.statement(
      `SELECT l.name FROM pragma_table_list AS l
       WHERE l.schema = 'main' AND l.type IN ('table', 'shadow') AND l.wr = 0
         AND l.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         AND NOT (
           (SELECT count(*) FROM pragma_table_info(l.name) WHERE pk > 0) = 1
           AND (SELECT upper(type) FROM pragma_table_info(l.name) WHERE pk > 0) = 'INTEGER'
         )
       ORDER BY l.name LIMIT 1`,
    ).get());
  return (row?.name as string | undefined) ?? null;
}
