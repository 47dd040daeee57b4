/**
 * The "bare Deno" peer of the benchmark: the least a Deno program must do for each measured
 * command, with `node:sqlite` alone — open the database with the same settings audit-trail
 * uses (busy timeout, synchronous=FULL), run one statement, print the result as audit-trail
 * does. audit-trail's overhead over Deno itself is the ratio of its time to this script's.
 *
 * usage:
 *   deno run --allow-all scripts/bench_bare.ts log DB OPERATION SKU DETAILS USER
 *   deno run --allow-all scripts/bench_bare.ts query DB SKU LIMIT
 *   deno run --allow-all scripts/bench_bare.ts batch DB RUN_ID
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

const [mode, path, ...rest] = Deno.args;
const db = new DatabaseSync(path);
db.exec("PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;");
const COLUMNS = "audit_id, timestamp, operation, sku, details, user, run_id";
let out: string;
if (mode === "log") {
  const [operation, sku, details, user] = rest;
  db.exec("BEGIN IMMEDIATE");
  const row = db.prepare(
    `INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id)
     VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?, NULL) RETURNING audit_id`,
  ).get(operation, sku, details, user)!;
  db.exec("COMMIT");
  out = `${row.audit_id}\n`;
} else if (mode === "query") {
  const rows = db.prepare(
    `SELECT ${COLUMNS} FROM audit_log WHERE sku = ? ORDER BY audit_id DESC LIMIT ?`,
  ).all(rest[0], Number(rest[1]));
  out = rows.length ? `[\n${rows.map((r) => JSON.stringify(r)).join(",\n")}\n]\n` : "[]\n";
} else if (mode === "batch") {
  const events = db.prepare(
    `SELECT ${COLUMNS} FROM audit_log WHERE run_id = ? ORDER BY audit_id`,
  ).all(rest[0]);
  const start = events.length ? events[0].timestamp as string : null;
  const end = events.length ? events[events.length - 1].timestamp as string : null;
  const ms = start && end ? Date.parse(end) - Date.parse(start) : 0;
  out = JSON.stringify(
    {
      run_id: rest[0],
      event_count: events.length,
      events,
      start_time: start,
      end_time: end,
      duration_seconds: ms > 0 ? ms / 1000 : 0,
    },
    null,
    2,
  ) + "\n";
} else {
  throw new Error(`unknown mode "${mode}"`);
}
db.close();
await Deno.stdout.write(new TextEncoder().encode(out));
