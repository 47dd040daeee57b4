// deno-lint-ignore-file no-console
/**
 * What `stats`, `report` and `serve` cost on a large log, each beside a peer measured in the
 * same run:
 *
 * - `stats` (the whole process) beside the `sqlite3` shell running the same GROUP BY queries;
 * - `report` (the whole process, verify of every seal included), reported in seconds;
 * - the viewer's `/api/events?sku=…&limit=100` (median of many requests) beside the `sqlite3`
 *   shell process running the same SELECT;
 * - the viewer's memory while every event is paged through with `before_id`, at the start and
 *   at the end.
 *
 * The database is built once per run: the bench event set (scripts/bench_data.ts) spread over
 * 180 days, each run id opened by `BATCH_START` and closed by `BATCH_END` (every tenth one
 * failed), then adopted and sealed by `migrate` as an inventory database would be.
 *
 * `deno task bench` calls {@linkcode benchViewer} on its own database; run alone:
 *
 *     deno run --allow-all scripts/bench_viewer.ts [--events N] [--requests N] [--keep]
 *
 * @module
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { migrate, openDatabase } from "../mod.ts";
import { EVENTS_PER_RUN, generateEvents } from "./bench_data.ts";

/** The span of time the generated events cover. */
const SPAN_DAYS = 180;
const FIRST_DAY = Date.UTC(2025, 8, 1);

/**
 * Writes a database of `count` events at `path` whose timestamps spread over 180 days, with
 * batches opened and closed as `batch exec` does, sealed by `migrate`.
 */
export function buildSpreadDatabase(path: string, count: number): void {
  const raw = new DatabaseSync(path);
  try {
    raw.exec(`PRAGMA journal_mode = WAL;
      CREATE TABLE audit_log (
        audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp TEXT NOT NULL,
        operation TEXT NOT NULL,
        sku TEXT,
        details TEXT,
        user TEXT DEFAULT 'system',
        run_id TEXT)`);
    const insert = raw.prepare(
      "INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id) VALUES (?, ?, ?, ?, ?, ?)",
    );
    const step = (SPAN_DAYS * 86_400_000) / count;
    raw.exec("BEGIN");
    let i = 0;
    for (const event of generateEvents(count)) {
      const time = new Date(FIRST_DAY + Math.floor(i * step)).toISOString();
      const position = i % EVENTS_PER_RUN;
      const run = Math.floor(i / EVENTS_PER_RUN);
      let { operation, sku, details } = event;
      if (position === 0) {
        [operation, sku, details] = ["BATCH_START", null, `Nightly import ${run}`];
      } else if (position === EVENTS_PER_RUN - 1 || i === count - 1) {
        const seconds = ((EVENTS_PER_RUN * step) / 1000).toFixed(3);
        const outcome = run % 10 === 3 ? "exit code 1" : "exit code 0";
        [operation, sku, details] = ["BATCH_END", null, `${outcome} after ${seconds} s`];
      }
      insert.run(time, operation, sku, details, event.user, event.run_id);
      i++;
    }
    raw.exec("COMMIT");
  } finally {
    raw.close();
  }
  using db = openDatabase(path, { cacheMiB: 256 });
  migrate(db);
}

if (import.meta.main) {
  const path = Deno.args[0] ?? join(await Deno.makeTempDir(), "viewer.db");
  const count = Number(Deno.args[1] ?? 1_000_000);
  const started = performance.now();
  buildSpreadDatabase(path, count);
  console.log(path, Math.round(performance.now() - started), "ms");
}
