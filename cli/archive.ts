import { archiveEvents } from "../lib/archive/mod.ts";
import { UsageError } from "../lib/errors.ts";
import { writeObject } from "../lib/output.ts";
import { parseTimeBound } from "../lib/time_bound.ts";
import { type Command, expectAtMost, openCurrentDatabase, parseCommandArgs } from "./context.ts";
import { interruptible, Interruption, interruptionOf } from "./interrupt.ts";
import { countOf, parseCount } from "../lib/count.ts";

export const command: Command = {
  help: `audit-trail archive — move old events into a sealed archive file

USAGE
  audit-trail archive (--before DATE | --keep DAYS) [--to DIR] [--dry-run] [--force]

Moves the oldest events (the longest run from the start of the log whose timestamps are all
before the cut) into one archive file, audit_archive_<FIRST>_<LAST>.db, then removes them
from the database and records a checkpoint, and gives the space back to the disk. The
archive holds the events exactly as stored, with their seals, so "audit-trail verify
--archives DIR" still proves the whole history. Running it again with nothing older does
nothing. Keep the archive files: they are the only copy of those events. An event whose
timestamp is no time, or lies in the future (a clock set wrong), ends the run: a warning on
stderr says so when older events follow it. Events that another table of the database
refers to by a foreign key are not archived (exit 1, nothing changed).

OPTIONS
  --before DATE   archive events before DATE, an ISO date or date-time in UTC
                  (2025-01-01, 2025-01-01T00:00:00Z, or 2025-01-01 00:00:00), or with
                  an offset (2025-01-01T00:00+01:00)
  --keep DAYS     archive events older than DAYS days (0: every event up to now)
  --to DIR        folder of the archive files (default: archive/ beside the database);
                  every run of a database archives into the same one: a run whose
                  folder lacks an earlier run's file is refused (exit 1)
  --dry-run       print what would be archived; change nothing
  --force         archive even events the central store has not acknowledged yet
                  (with a central store set up, by $AUDIT_TRAIL_CENTRAL or an earlier
                  sync, a cut that reaches such events is refused otherwise: exit 1,
                  nothing archived, until audit-trail sync has sent them)
  --db PATH       the database (default: $AUDIT_TRAIL_DB, else data/app.db)
  --format F      json | ndjson | table (default: table on a terminal, else json)

OUTPUT (json)
  {"archived", "first_audit_id", "last_audit_id", "file", "sha256", "bytes"}
  (--dry-run: sha256 and bytes are null, and "dry_run": true is added; nothing old
  enough: archived 0, the rest null)

EXIT CODES
  0 archived (or nothing to do)   1 the folder or database cannot be written, disk full,
  another run is busy, events the central store lacks   2 bad option
  3 the events to archive fail their seals
  130 (Ctrl-C), 143 (SIGTERM) stopped before the events were removed (while writing the
  file, or waiting for another program's write lock): nothing archived; stopped while giving
  the space back: the events are archived (printed as usual), a warning says the space was
  not given back, and the next run gives it back

EXAMPLES
  audit-trail archive --keep 365                    # keep one year in the database
  audit-trail archive --before 2025-01-01 --to /mnt/audit-archive
  audit-trail archive --keep 365 --dry-run
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "archive", args, {
      before: { type: "string" },
      keep: { type: "string" },
      to: { type: "string" },
      "dry-run": { type: "boolean" },
      force: { type: "boolean" },
    }, { formats: ["json", "ndjson", "table"], paths: ["to"] });
    expectAtMost("archive", positionals, 0);
    const before = archiveCut(values.before, values.keep, Date.now());
    const { io, format } = context;
    // A dry run only reads, so it works on a full disk too.
    using db = openCurrentDatabase(context, { onlyReads: values["dry-run"] });
    let stop: AbortSignal | undefined;
    const result = await interruptible((signal) =>
      archiveEvents(db, {
        before,
        dir: values.to,
        dryRun: values["dry-run"] ?? false,
        force: values.force ?? false,
        central: (io.env("AUDIT_TRAIL_CENTRAL") ?? "") !== "",
        signal: stop = signal,
      })
    );
    if (result instanceof Interruption) {
      await io.stderr.write(
        "audit-trail: interrupted: nothing was archived, and the unfinished archive file was removed\n",
      );
      return result.exitCode;
    }
    const { warning, stopped, ...printed } = result;
    if (format === "table") {
      const verb = result.dry_run ? "Would archive" : "Archived";
      await io.stdout.write(
        result.archived === 0
          ? `Nothing to archive: the oldest event is not before ${before.toISOString()}\n`
          : `${verb} ${
            countOf(result.archived, "event")
          } (${result.first_audit_id}–${result.last_audit_id}) to ${result.file}\n` +
            (result.sha256 ? `sha256  ${result.sha256}  (${result.bytes} bytes)\n` : ""),
      );
    } else {
      await writeObject(io.stdout, printed, format === "ndjson" ? "ndjson" : "json");
    }
    if (warning) await io.stderr.write(`audit-trail: warning: ${warning}\n`);
    // Stopped while giving the space back: the events are archived (printed above), and the
    // exit code still says that the run was stopped.
    const interruption = stopped && stop ? interruptionOf(stop) : undefined;
    return interruption?.exitCode ?? 0;
  },
};

/** The cut of `--before DATE` or `--keep DAYS` (exactly one of them), relative to `now`. */
export function archiveCut(
  before: string | undefined,
  keep: string | undefined,
  now: number,
): Date {
  if ((before === undefined) === (keep === undefined)) {
    throw new UsageError(
      before === undefined
        ? "archive needs --before DATE or --keep DAYS"
        : "Give either --before or --keep, not both",
      { hint: "Example: audit-trail archive --keep 365 (keeps one year in the database)." },
    );
  }
  if (keep !== undefined) {
    const hint =
      "Give the number of days to keep, a whole number, e.g. --keep 365 (--keep 0: every event up to now).";
    let days: number;
    try {
      days = parseCount(keep, "--keep");
    } catch (error) {
      // A cron line with a typo must not leave its log with a bare "not a number".
      if (!(error instanceof UsageError)) throw error;
      throw new UsageError(error.message, { hint });
    }
    const cut = new Date(now - days * 86_400_000);
    if (Number.isNaN(cut.getTime())) {
      throw new UsageError(`--keep ${keep} reaches back before any possible date`, { hint });
    }
    return cut;
  }
  let start: string;
  try {
    start = parseTimeBound(before!).start;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(`--before ${error.message}`, { hint: error.hint });
  }
  const cut = new Date(start);
  if (cut.getTime() > now) {
    throw new UsageError(`--before ${before} is in the future`, {
      hint: "Nothing was archived. Check the year; to archive every event up to now, use --keep 0.",
    });
  }
  return cut;
}
