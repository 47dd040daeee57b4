import { writeObject } from "../lib/output.ts";
import { checkTimeRange } from "../lib/query_options.ts";
import { formatCount, formatDuration, statsSpan } from "../lib/report/format.ts";
import { type AuditStats, DEFAULT_STATS_TOP, getStats } from "../lib/stats.ts";
import { archivedReach } from "../lib/archive/checkpoint_list.ts";
import {
  type Command,
  expectAtMost,
  noteArchived,
  openCurrentDatabase,
  parseCommandArgs,
} from "./context.ts";
import { parseCount } from "../lib/count.ts";
import { padTo, showCell } from "../lib/table.ts";
import { everyMonth } from "../lib/report/charts.ts";

export const command: Command = {
  help: `audit-trail stats — events per day and operation, busiest SKUs and users, batches

USAGE
  audit-trail stats [--since T] [--until T] [--top N] [--format json|ndjson|table]

Counts the events of the whole log, or of a time range, from the database's indexes.

OPTIONS
  --since T     only events at or after T: an ISO date or date-time in UTC
                (2026-02-16, 2026-02-16T14:30, 2026-02-16T14:30:00Z), or with an
                offset (2026-02-16T15:30+01:00, the same time as 14:30Z)
  --until T     only events up to the end of T (--until 2026-02-16 includes all of the 16th)
                (an event whose timestamp is no time is in no range)
  --top N       how many SKUs and users to list (default ${DEFAULT_STATS_TOP}; 0 = all)
  --format F    json | ndjson | table (default: table on a terminal, else json)
  --db PATH     the database (default: $AUDIT_TRAIL_DB, else data/app.db)

OUTPUT (json)
  {"events", "without_valid_time", "first_timestamp", "last_timestamp",
   "per_day": [{"day", "count"}],
   "operations": [{"operation", "count"}], "top_skus": [{"sku", "count"}],
   "users": [{"user", "count"}], "batches": {"count", "failed", "median_duration_seconds"}}
  without_valid_time counts the events whose stored timestamp is no time (damaged text, a
  Unix time): they are in "events" and the other lists, but in no day, not first or last,
  and in no --since/--until range (there it is 0). Days (and the table's months) are UTC
  days, whatever the computer's time zone. The table shows months without events between
  the first and the last as 0, as the report does.
  operations lists every operation, most frequent first. batches.count counts run ids with an
  event in the range; failed, those whose BATCH_END records a non-zero exit, a signal or a
  command that could not start; the median covers batches with both BATCH_START and
  BATCH_END in the range (null when there are none).

Archived events (audit-trail archive) are not counted; a note on stderr (table format, or a
terminal) says so when the range reaches them.

EXAMPLES
  audit-trail stats --format table
  audit-trail stats --since 2026-02-01 --until 2026-02-28 --top 20
  audit-trail stats | jq '.per_day[] | select(.count > 1000)'
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "stats", args, {
      since: { type: "string" },
      until: { type: "string" },
      top: { type: "string" },
    }, { formats: ["json", "ndjson", "table"] });
    expectAtMost("stats", positionals, 0);
    checkTimeRange(values.since, values.until);
    const { io, format } = context;
    const top = values.top === undefined ? undefined : parseCount(values.top, "--top");
    using db = openCurrentDatabase(context, { readOnly: true });
    const stats = getStats(db, { since: values.since, until: values.until, top });
    if (format === "table") {
      const ranged = values.since !== undefined || values.until !== undefined;
      await io.stdout.write(statsTable(stats, ranged));
    } else await writeObject(io.stdout, stats, format);
    await noteArchived(
      context,
      () => archivedReach(db, { since: values.since }),
      "counted: stats counts the events left in the database",
    );
    return 0;
  },
};

const BAR_WIDTH = 30;
/** Widest a name is shown, in terminal columns; a longer one is cut with a mark. */
const LABEL_WIDTH = 40;

/**
 * The figures as text to read at a glance: totals first, then each list with bars. `ranged`:
 * whether a period was asked for (what an empty answer then means).
 */
export function statsTable(stats: AuditStats, ranged = false): string {
  if (stats.events === 0) return ranged ? "No events in this range.\n" : "No events in the log.\n";
  const { batches } = stats;
  const lines = [
    `Events    ${formatCount(stats.events)}, ${statsSpan(stats)}`,
    `Batches   ${formatCount(batches.count)}${
      batches.failed ? `, ${formatCount(batches.failed)} FAILED` : ", none failed"
    }${
      batches.median_duration_seconds === null
        ? ""
        : `; median duration ${formatDuration(batches.median_duration_seconds)}`
    }`,
  ];
  const days = stats.per_day;
  const byMonth = days.length > 31;
  const periods = byMonth
    ? everyMonth(days).map((m) => ({ label: m.key, count: m.count }))
    : days.map((d) => ({ label: d.day, count: d.count }));
  lines.push(
    "",
    ...section(
      byMonth ? `PER MONTH (UTC; ${days.length} days with events)` : "PER DAY (UTC)",
      periods,
    ),
    "",
    ...section(
      "OPERATIONS",
      stats.operations.map((o) => ({ label: o.operation, count: o.count })),
    ),
    "",
    ...section("TOP SKUS", stats.top_skus.map((s) => ({ label: s.sku, count: s.count }))),
    "",
    ...section("USERS", stats.users.map((u) => ({ label: u.user, count: u.count }))),
  );
  return lines.join("\n") + "\n";
}

function section(title: string, rows: { label: string; count: number }[]): string[] {
  if (rows.length === 0) return [title, "  (none)"];
  // Shown as the query table shows cells: a user stored as "\u202Enimda" must not read as
  // "admin", nor reverse or recolour the rest of the line; widths count terminal columns.
  const labels = rows.map((r) => showCell(r.label, LABEL_WIDTH));
  const width = Math.max(...labels.map((l) => l.width));
  const counts = rows.map((r) => formatCount(r.count));
  const countWidth = Math.max(...counts.map((c) => c.length));
  const max = Math.max(...rows.map((r) => r.count));
  return [
    title,
    ...rows.map((row, i) =>
      // A month without events (shown between the first and the last) gets no bar.
      `  ${padTo(labels[i], width)}  ${counts[i].padStart(countWidth)}  ${
        row.count === 0 ? "" : "█".repeat(Math.max(1, Math.round((row.count / max) * BAR_WIDTH)))
      }`.trimEnd()
    ),
  ];
}
