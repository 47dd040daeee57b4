import { UsageError } from "../lib/errors.ts";
import { DEFAULT_PORT, DEFAULT_TIME_LIMIT_MS, startViewer } from "../lib/viewer/server.ts";
import { type Command, expectAtMost, parseCommandArgs } from "./context.ts";
import { listenForStop } from "./interrupt.ts";
import { parseCount } from "../lib/count.ts";

export const command: Command = {
  help: `audit-trail serve — browse the audit log in a web browser (read-only)

USAGE
  audit-trail serve [--port N] [--host ADDR] [--open] [--time-limit S]

Serves a read-only viewer of the database and prints its address: charts, the events with
every query filter in the address (so a view can be bookmarked or mailed), counts by
operation, user and day, paging through any number of events, a page per batch, and CSV or
JSON downloads of any filtered view. Stop it with Ctrl-C.

The overview shows whether the audit chain is intact: the whole chain is checked once when
the viewer starts (the pages answer meanwhile) and again each time "Verify chain" is opened;
the overview names the last event checked, when, and the events logged since (not yet checked).

It listens on this computer only (127.0.0.1) unless --host says otherwise. The database is
opened read-only: nothing can be changed through the viewer.

OPTIONS
  --port N          the port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host ADDR       listen on ADDR instead of 127.0.0.1 (e.g. 0.0.0.0 for every network:
                    then anyone who can reach this computer can read the log)
  --open            open the viewer in the default web browser
  --time-limit S    stop a request that takes longer than S seconds, and cut off a download
                    whose client takes no data for as long (default ${DEFAULT_TIME_LIMIT_MS / 1000})
  --db PATH         the database (default: $AUDIT_TRAIL_DB, else data/app.db)

JSON API (the same data the commands print; parameters as query's flags, - written _)
  /api/events?sku=S&operation=O&run_id=R&user=U&since=T&until=T&contains=X
             &after_id=N&before_id=N&limit=N&order=desc|asc     what query prints
  /api/batches?limit=N       what batch list prints
  /api/batches/RUN_ID        what batch show prints (RUN_ID percent-encoded)
  /api/stats?since=T&until=T&top=N   what stats prints
  /api/verify                what verify --format json prints
  A bad or unknown parameter: 400 and {"error", "hint"}. T as for query; the + of an
  offset may stay unencoded (since=2026-02-16T01:00+02:00).

EXAMPLES
  audit-trail serve --open
  audit-trail serve --port 9000
  curl "http://127.0.0.1:8470/api/events?sku=SKU-1001&limit=10"
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "serve", args, {
      port: { type: "string" },
      host: { type: "string" },
      open: { type: "boolean" },
      "time-limit": { type: "string" },
    }, { formats: [] });
    expectAtMost("serve", positionals, 0);
    const port = values.port === undefined ? DEFAULT_PORT : parseCount(values.port, "--port");
    if (port > 65535) {
      throw new UsageError(`--port must be 65535 or less, not "${values.port}"`, {
        hint: `Leave --port out for ${DEFAULT_PORT}, or give 0 to take any free port.`,
      });
    }
    const timeLimit = values["time-limit"] === undefined
      ? DEFAULT_TIME_LIMIT_MS / 1000
      : Number(values["time-limit"]);
    if (!(timeLimit > 0) || !Number.isFinite(timeLimit)) {
      throw new UsageError(
        `--time-limit must be a number of seconds above 0, not "${values["time-limit"]}"`,
        { hint: `Give seconds such as 10 or 2.5 (default ${DEFAULT_TIME_LIMIT_MS / 1000}).` },
      );
    }
    if (values.host === "") {
      throw new UsageError("--host must not be empty", {
        hint: "Leave --host out to listen on 127.0.0.1 (this computer only), or give an address.",
      });
    }
    const { io } = context;
    const stop = new AbortController();
    const viewer = await startViewer({
      database: context.dbPath,
      hostname: values.host,
      port,
      timeLimitMs: Math.round(timeLimit * 1000),
      signal: stop.signal,
    });
    const stopListening = listenForStop(() => stop.abort());
    try {
      if (!viewer.loopback) {
        await io.stderr.write(
          `audit-trail: warning: listening on ${viewer.hostname}: anyone who can reach this computer on port ${viewer.port} can read the audit log\n`,
        );
      }
      await io.stdout.write(viewer.url + "\n");
      if (io.stderr.isTerminal) {
        await io.stderr.write(
          `Serving ${context.dbPath} read-only. Press Ctrl-C to stop.\n`,
        );
      }
      if (values.open) await openBrowser(viewer.url, io.stderr);
      await viewer.finished;
    } finally {
      stopListening();
    }
    return 0;
  },
};

/** Opens `url` in the default browser; says so on stderr when that fails. */
async function openBrowser(url: string, stderr: { write(text: string): Promise<void> }) {
  const [program, ...args] = Deno.build.os === "windows"
    ? ["cmd", "/c", "start", "", url]
    : Deno.build.os === "darwin"
    ? ["open", url]
    : ["xdg-open", url];
  try {
    const { success } = await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    if (success) return;
  } catch {
    // Reported below.
  }
  await stderr.write(`audit-trail: warning: could not open a browser; open ${url} yourself\n`);
}
