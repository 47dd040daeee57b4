import { dirname, join, resolve } from "node:path";
import { AuditTrailError, errorMessage, notWrittenBecause, UsageError } from "../lib/errors.ts";
import { checkTimeRange } from "../lib/query_options.ts";
import { writeReport } from "../lib/report/report.ts";
import { TOOL_VERSION } from "../lib/version.ts";
import { type Command, expectAtMost, openCurrentDatabase, parseCommandArgs } from "./context.ts";

export const command: Command = {
  help: `audit-trail report — one HTML file with charts and the newest events, to open offline

USAGE
  audit-trail report [--output FILE] [--since T] [--until T]

Writes one self-contained HTML file and prints its path: events per day and per operation,
the most active SKUs and users, recent batches with their durations and failures, the hash
chain's verdict and head, and the newest 1,000 events in a table that filters as you type
(details longer than 500 characters are cut, with a mark). It loads nothing from the network,
so it opens from a mail attachment on a PC with no network; it stays under 3 MB.

OPTIONS
  --output FILE   where to write it (default: audit_report_YYYYMMDD_HHMMSS.html beside the
                  database); an existing file is replaced, unless it is a SQLite
                  database (the audit log itself, say) or a folder: that is refused;
                  a pipe or device (/dev/stdout) is written into as it is;
                  - writes the page to standard output instead of a file
  --since T       only events at or after T: an ISO date or date-time in UTC, or with
                  an offset (2026-01-01T00:00+02:00: the heading shows it in UTC)
  --until T       only events up to the end of T (--until 2026-02-16 includes the 16th)
                  (an event whose timestamp is no time is in no range; without one,
                  it is counted, as "without a valid time")
  --db PATH       the database (default: $AUDIT_TRAIL_DB, else data/app.db)

EXAMPLES
  audit-trail report
  audit-trail report --since 2026-02-01 --until 2026-02-28 --output february.html
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "report", args, {
      output: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
    }, { formats: [], paths: ["output"] });
    expectAtMost("report", positionals, 0);
    const dbPath = resolve(context.io.cwd(), context.dbPath);
    const now = new Date();
    const output = values.output === undefined
      ? join(dirname(dbPath), reportFileName(now))
      : resolve(context.io.cwd(), values.output);
    checkTimeRange(values.since, values.until);
    // "-" is standard output, as for most tools: on Windows, which has no /dev/stdout, the one
    // way to send the page down a pipe. It made a file named "-".
    const toStdout = values.output === "-";
    const target = toStdout ? null : reportTarget(output, dbPath);
    using db = openCurrentDatabase(context, { readOnly: true });
    let page = "";
    await writeReport(db, { write: (text) => Promise.resolve(void (page += text)) }, {
      since: values.since,
      until: values.until,
      now,
      version: TOOL_VERSION,
    });
    if (target === null) {
      await context.io.stdout.write(page);
      return 0;
    }
    if (target.inPlace) await writeInPlace(output, page);
    else await replaceFile(target.path, page);
    await context.io.stdout.write(output + "\n");
    return 0;
  },
};

/** `audit_report_20260216_143005.html` for that time (UTC). */
export function reportFileName(now: Date): string {
  const iso = now.toISOString();
  return `audit_report_${iso.slice(0, 10).replaceAll("-", "")}_${
    iso.slice(11, 19).replaceAll(":", "")
  }.html`;
}

/** The first bytes of every SQLite database file. */
const SQLITE_HEADER = "SQLite format 3\0";

/**
 * Where the report goes, checked before anything is read or written. The report replaces a
 * file by renaming a new one over it: over the database (a slip of `--output` for `--db`),
 * one of the files SQLite keeps beside it or any other SQLite database, that would lose the
 * events it holds, and over a device (/dev/null, as root) it would put a file in its place.
 * So those are refused, a device or pipe is written into as it is, and through a symbolic link
 * the file it names is replaced (the link stays).
 *
 * @throws {UsageError} When `output` is a folder, the database or one of its files, or another
 * SQLite database.
 */
function reportTarget(output: string, dbPath: string): { path: string; inPlace: boolean } {
  const hint = "Nothing was written. Choose another file name for the report, e.g. report.html.";
  const companions = ["", "-wal", "-shm", "-journal"].map((suffix) => dbPath + suffix);
  const target = statOrNull(output);
  if (
    companions.some((path) => {
      if (path === output) return true;
      const file = target && statOrNull(path);
      return file && file.ino !== null && file.ino === target.ino && file.dev === target.dev;
    })
  ) {
    throw new UsageError(`--output "${output}" is the database or one of its files`, { hint });
  }
  if (target === null) return { path: output, inPlace: false };
  if (target.isDirectory) {
    throw new UsageError(`--output "${output}" is a folder`, {
      hint: `Give a file name, e.g. --output "${join(output, "report.html")}".`,
    });
  }
  if (!target.isFile) return { path: output, inPlace: true };
  if (startsWith(output, SQLITE_HEADER)) {
    throw new UsageError(`--output "${output}" is a SQLite database, not a report`, { hint });
  }
  return { path: Deno.realPathSync(output), inPlace: false };
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

function startsWith(path: string, header: string): boolean {
  try {
    using file = Deno.openSync(path);
    const bytes = new Uint8Array(header.length);
    const read = file.readSync(bytes) ?? 0;
    return new TextDecoder().decode(bytes.subarray(0, read)) === header;
  } catch {
    return false;
  }
}

/** Writes `text` into a special file (a device, a pipe) as it is. */
async function writeInPlace(path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text, { create: false });
  } catch (error) {
    throw new AuditTrailError(`Cannot write the report to "${path}": ${errorMessage(error)}`, {
      hint: "Choose another --output.",
    });
  }
}

/** Writes `text` beside `path` and renames it over `path`: never a half-written report. */
async function replaceFile(path: string, text: string): Promise<void> {
  const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.partial`;
  try {
    await Deno.writeTextFile(temporary, text, { createNew: true });
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new AuditTrailError(
      `Cannot write the report to "${path}": ${notWrittenBecause(error, dirname(path))}`,
      {
        hint: "Check that the folder exists and can be written, or choose another --output.",
      },
    );
  }
}
