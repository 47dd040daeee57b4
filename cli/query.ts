import { countOf } from "../lib/count.ts";
import type { AuditDatabase } from "../lib/db.ts";
import {
  type AuditLogFilter,
  DEFAULT_QUERY_LIMIT,
  streamAuditRows,
  writeQuery,
} from "../lib/query.ts";
import {
  filterFromOptions,
  QUERY_OPTION_NAMES,
  type QueryOptionName,
} from "../lib/query_options.ts";
import { UsageError } from "../lib/errors.ts";
import { archivedReach } from "../lib/archive/checkpoint_list.ts";
import type { Command } from "./context.ts";
import {
  addArchives,
  expectAtMost,
  importOnDemand,
  noteArchived,
  openCurrentDatabase,
  parseCommandArgs,
} from "./context.ts";

export const command: Command = {
  help: `audit-trail query — find events

USAGE
  audit-trail query [FILTERS] [--limit N] [--offset K] [--order desc|asc] [--format F]

Prints matching events, newest first (by audit_id). Filters combine with AND.

FILTERS
  --sku S            events of this SKU
  --operation O      events of this operation, e.g. ORDER_CONFIRMED
  --run-id R         events of this batch
  --user U           events by this user
  --since T          at or after T: an ISO date or date-time in UTC (2026-02-16,
                     2026-02-16T14:30, 2026-02-16T14:30:00Z), or with an offset
                     (2026-02-16T15:30+01:00, the same time as 14:30Z)
  --until T          up to the end of T (--until 2026-02-16 includes all of the 16th);
                     it may not end before --since begins. An event whose stored
                     timestamp is no time (damaged text, a Unix time) matches neither:
                     it is listed only without --since and --until
  --contains TEXT    details contain TEXT (case-insensitive)
  --after-id N       only events with audit_id above N (with --order asc, the cursor for
                     reading forward: newest first, a page would skip the older new ones)
  --before-id N      only events with audit_id below N (cursor for paging back)

OPTIONS
  --limit N          at most N events (default ${DEFAULT_QUERY_LIMIT}); 0 = all, streamed
  --offset K         skip the first K matches (prefer --before-id for paging)
  --order desc|asc   newest first (default) or oldest first
  --archives DIR     also search the archive files in DIR (audit-trail archive); without
                     it, a note on stderr (table format, or a terminal) says when the
                     events asked for may be archived
  --format F         json | ndjson | csv | table (default: table on a terminal, else json)
  --db PATH          the database (default: $AUDIT_TRAIL_DB, else data/app.db)

ACROSS SITES
  --central URL      read the central store (PostgreSQL) instead: every site's events,
                     newest first by timestamp (then site, then audit_id), each with "site";
                     what the URL leaves out comes from its ?service= (or PGSERVICE), then
                     PGHOST, PGPORT, PGUSER, PGDATABASE as with libpq (postgres:///audit;
                     see audit-trail help sync); each answer is awaited
                     $AUDIT_TRAIL_CENTRAL_TIMEOUT seconds (default 40)
  --site SITE        with --central: only this site (needed for --after-id/--before-id)

OUTPUT
  Each record: {"audit_id", "timestamp", "operation", "sku", "details", "user", "run_id"};
  json is an array ([] when nothing matches), ndjson one record per line; csv has a
  header row and neutralises cells a spreadsheet would run as a formula. table is for
  people: ∅ is an empty (NULL) field, control characters show escaped (\\n, \\x1b),
  details longer than 60 columns (or than fits the terminal, down to 10) end in …;
  when --limit stops it before every match, stderr says so.

EXAMPLES
  audit-trail query --sku SKU-1001 --limit 10
  audit-trail query --since 2026-02-16 --until 2026-02-16 --format csv > day.csv
  audit-trail query --limit 0 --format ndjson | jq -c 'select(.user == "ana")'
  audit-trail query --before-id 5000 --limit 100      # the page below event 5000
  audit-trail query --after-id 5000 --order asc       # what came after event 5000
  audit-trail query --sku SKU-1001 --archives data/archive   # live and archived events
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(
      context,
      "query",
      args,
      {
        ...Object.fromEntries(
          [...QUERY_OPTION_NAMES, "central", "site"].map((
            name,
          ) => [name, { type: "string" as const }]),
        ),
        archives: { type: "string" as const },
      },
      { paths: ["archives"] },
    );
    expectAtMost("query", positionals, 0);
    const { archives, central, site, ...options } = values as Partial<
      Record<QueryOptionName | "archives" | "central" | "site", string>
    >;
    const filter = filterFromOptions(options);
    if (central !== undefined) {
      if (archives !== undefined) {
        throw new UsageError("--archives is for this database, not for --central", {
          hint: "Leave out --archives or --central: the central store keeps archived events.",
        });
      }
      const cursor = options["after-id"] !== undefined ? "after-id" : "before-id";
      if (site === undefined && options[cursor] !== undefined) {
        throw new UsageError(`--${cursor} needs --site: event ids are numbered per site`, {
          hint: "Add --site SITE, or use --since/--until across sites.",
        });
      }
      const { queryCentral } = await importOnDemand<typeof import("./central.ts")>(
        "cli/central.ts",
      );
      return await queryCentral(context, central, { ...filter, site });
    }
    if (site !== undefined) {
      throw new UsageError("--site is for --central", { hint: "Add --central URL." });
    }
    using db = openCurrentDatabase(context, { onlyReads: true });
    const rows = archives === undefined ? undefined : await withArchives(db, archives);
    const width = context.format === "table" && context.io.stdout.isTerminal
      ? context.io.terminalColumns?.()
      : undefined;
    const result = await writeQuery(context.io.stdout, db, filter, context.format, { rows, width });
    if (result.more && context.format === "table") {
      // A table is read by a person, who would otherwise take the page for the whole answer.
      const next = filter.order === "desc"
        ? `--before-id ${result.lastId}`
        : `--after-id ${result.lastId}`;
      await context.io.stderr.write(
        `${
          countOf(result.written, "event")
        } shown; more match: use --limit 0 for all, or ${next} for the next page\n`,
      );
    }
    // Newest first, a page that stopped at its limit never reached the archived events.
    if (archives === undefined && !(result.more && filter.order !== "asc")) {
      await noteArchived(context, () => archivedReach(db, filter), addArchives("search"));
    }
    return 0;
  },
};

/** The rows of the live database and of the archive files in `dir` together. */
async function withArchives(db: AuditDatabase, dir: string) {
  const { streamWithArchives } = await importOnDemand<typeof import("../lib/archive/read.ts")>(
    "lib/archive/read.ts",
  );
  return (filter: AuditLogFilter) => streamWithArchives(db, dir, filter, streamAuditRows);
}
