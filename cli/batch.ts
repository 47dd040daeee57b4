import { archivedReach, batchesArchivedReach } from "../lib/archive/checkpoint_list.ts";
import {
  DEFAULT_BATCH_LIST_LIMIT,
  listBatches,
  unknownDuration,
  writeBatchReport,
} from "../lib/batch.ts";
import type { BatchOutcome } from "../lib/batch_outcome.ts";
import type { SignalSource } from "../lib/batch_run.ts";
import { AuditTrailError, UsageError } from "../lib/errors.ts";
import { writeObject, writeRecords } from "../lib/output.ts";
import { validateRunId } from "../lib/run_id.ts";
import {
  acknowledge,
  addArchives,
  type Command,
  type CommandContext,
  expectAtMost,
  GLOBAL_OPTIONS,
  importOnDemand,
  namedAsGiven,
  noteArchived,
  openCurrentDatabase,
  parseCommandArgs,
  requireValidText,
  resolveUser,
  splitAtName,
  userOption,
} from "./context.ts";
import { countOf, parseCount } from "../lib/count.ts";

/** What `batch start` and `end` print: the id alone (also as a table), or the whole record. */
const RECORD_FORMATS = ["json", "ndjson", "table"] as const;

const SUMMARY_COLUMNS = ["run_id", "event_count", "start_time", "end_time", "duration_seconds"];

export const command: Command = {
  help: `audit-trail batch — group the events of one batch operation under a run id

USAGE
  audit-trail batch start [DESCRIPTION] [--user USER]
  audit-trail batch end RUN_ID [SUMMARY] [--user USER] [--archives DIR]
  audit-trail batch show RUN_ID [--archives DIR] [--format F]
  audit-trail batch list [--limit N] [--format F]
  audit-trail batch exec [--description TEXT] [--bundle-on-failure] -- COMMAND [ARGS...]

SUBCOMMANDS
  start   make a new run id, log BATCH_START with the description, print the run id
  end     log BATCH_END with the summary; prints its audit_id (exit 2 when no event has
          RUN_ID, or the batch has ended already)
  show    every event of the batch, oldest first, with start, end and duration:
          {"run_id", "event_count", "events", "start_time", "end_time", "duration_seconds"}
          (duration_seconds is 0 when the latest event is dated before the first, as after
          a clock was set back: as a table, a note on stderr says its duration is not known)
  list    recent batches, most recently active first (default --limit 20; 0 = all); as a
          table, stderr says when the limit left batches out
  exec    start a batch, run COMMAND with AUDIT_TRAIL_RUN_ID (and AUDIT_TRAIL_DB) set so
          that every "audit-trail log" inside it joins the batch, then log BATCH_END with
          how it ended, e.g. {"exit_code":3,"duration_seconds":1.234} (plus "signal" when
          a signal ended it, "error" when it could not start); exits with COMMAND's exit
          code, 128 + the signal's number when one ended it, 1 when it could not start.
          SIGTERM, SIGINT and SIGHUP (Ctrl-C, Ctrl-Break on Windows) are passed on to
          COMMAND; the batch waits for it and records its end before exiting. Those
          ignored when it started (SIGHUP under nohup) stay ignored.

OPTIONS
  --user USER          who runs the batch (default: $AUDIT_TRAIL_USER, else login name);
                       with exec, also the user of every log inside it
  --description TEXT   (exec) the BATCH_START details (default: COMMAND's name alone; its
                       arguments are not stored, as they may hold passwords)
  --bundle-on-failure  (exec) when COMMAND fails, is killed or cannot start, make a
                       compressed debug bundle (debug_bundles/ beside the database) and
                       print "bundle: PATH" on stderr; the exit code stays COMMAND's
  --limit N            (list) how many batches
  --archives DIR       (show) also read the archive files in DIR (audit-trail archive);
                       without it, a note on stderr (table format, or a terminal) says
                       when the batch may reach into them; (end) find a batch whose
                       events were archived while it ran, and its end if it has one
  --format F           (show, list) json | ndjson | csv | table (default: table on a
                       terminal, else json); (start, end) json | ndjson print the whole
                       record instead of the id
  --db PATH            the database (default: $AUDIT_TRAIL_DB, else data/app.db)

EXAMPLES
  RUN=$(audit-trail batch start "Import of supplier file 2026-02-16")
  audit-trail log ORDER_CONFIRMED --sku SKU-1 --run-id "$RUN"
  audit-trail batch end "$RUN" "15 orders confirmed"
  audit-trail batch show "$RUN" --format table
  audit-trail batch exec --description "Nightly reorder" -- ./reorder.sh --all
  audit-trail batch exec --bundle-on-failure -- ./import.sh supplier.csv
`,
  async run(context, args) {
    // Global options may stand between "batch" and its subcommand.
    const { before, name: sub, after } = splitAtName(args, GLOBAL_OPTIONS);
    const handler = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub)
      ? SUBCOMMANDS[sub]
      : undefined;
    if (!handler) {
      parseCommandArgs(context, "batch", before, {}); // --help, --version, or a bad option
      throw new UsageError(
        sub === undefined
          ? "Missing batch subcommand: start, end, show, list or exec"
          : `Unknown batch subcommand "${sub}"`,
        { hint: 'Run "audit-trail batch --help" for usage.' },
      );
    }
    return await handler(context, [...before, ...after]);
  },
};

type Handler = (context: CommandContext, args: string[]) => Promise<number>;

const SUBCOMMANDS: Record<string, Handler> = {
  async start(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch start", args, {
      user: { type: "string" },
    }, { formats: RECORD_FORMATS });
    expectAtMost("batch start", positionals, 1);
    requireValidText({ DESCRIPTION: positionals[0], "--user": values.user });
    const { startBatch } = await batchRun();
    using db = openCurrentDatabase(context);
    const user = await resolveUser(context.io, values.user);
    let event;
    try {
      event = startBatch(db, positionals[0] ?? "", { user });
    } catch (error) {
      throw namedAsGiven(error, { details: "DESCRIPTION", user: userOption(values.user) });
    }
    await printEvent(context, event, event.run_id!, {
      stored: `Batch ${event.run_id} was started (event ${event.audit_id} stored)`,
      what: "its run id",
      hint:
        `Use run id ${event.run_id} from this message: starting again would make a second batch.`,
    });
    return 0;
  },

  async end(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch end", args, {
      user: { type: "string" },
      archives: { type: "string" },
    }, { formats: RECORD_FORMATS, paths: ["archives"] });
    if (positionals.length === 0) throw missingRunId("end");
    expectAtMost("batch end", positionals, 2);
    requireValidText({ SUMMARY: positionals[1], "--user": values.user });
    validateRunId(positionals[0]);
    const { endBatch } = await batchRun();
    using db = openCurrentDatabase(context);
    const dir = values.archives;
    const read = dir === undefined
      ? undefined
      : (await importOnDemand<typeof import("../lib/archive/read.ts")>("lib/archive/read.ts"))
        .batchStateWithArchives;
    const user = await resolveUser(context.io, values.user);
    let event;
    try {
      event = endBatch(db, positionals[0], positionals[1] ?? "", {
        user,
        archived: read && ((runId) => read(db, dir!, runId)),
      });
    } catch (error) {
      throw namedAsGiven(error, { details: "SUMMARY", user: userOption(values.user) });
    }
    await printEvent(context, event, String(event.audit_id), {
      stored: `Batch ${event.run_id} was ended (event ${event.audit_id} stored)`,
      what: "its id",
      hint: "It has ended: do not end it again.",
    });
    return 0;
  },

  async show(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch show", args, {
      archives: { type: "string" },
    }, { paths: ["archives"] });
    // Only an empty id is refused: reading takes any id `batch list` prints, and databases
    // adopted from the earlier audit module hold ids new batches may not have (spaces, accents).
    if (positionals.length === 0 || positionals[0] === "") throw missingRunId("show");
    expectAtMost("batch show", positionals, 1);
    using db = openCurrentDatabase(context, { onlyReads: true });
    const { io, format } = context;
    if (values.archives === undefined) {
      const span = await writeBatchReport(io.stdout, db, positionals[0], format, {
        width: format === "table" && io.stdout.isTerminal ? io.terminalColumns?.() : undefined,
      });
      if (span) await noteUnknownDurations(context, [{ run_id: positionals[0], ...span }]);
      await noteArchived(
        context,
        () => archivedReach(db, { runId: positionals[0] }),
        addArchives("read"),
      );
      return 0;
    }
    const report =
      (await importOnDemand<typeof import("../lib/archive/read.ts")>("lib/archive/read.ts"))
        .getArchivedBatchOperations(db, values.archives, positionals[0]);
    if (format === "csv") {
      await writeRecords(io.stdout, [report.events], "csv");
    } else if (format === "table") {
      await writeObject(io.stdout, { ...report }, "table");
      await io.stdout.write("\n");
      await writeRecords(io.stdout, [report.events], "table");
    } else {
      await writeObject(io.stdout, { ...report }, format);
    }
    if (format !== "csv") await noteUnknownDurations(context, [report]);
    return 0;
  },

  async list(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch list", args, {
      limit: { type: "string" },
    });
    expectAtMost("batch list", positionals, 0);
    const limit = values.limit === undefined
      ? DEFAULT_BATCH_LIST_LIMIT
      : parseCount(values.limit, "--limit");
    using db = openCurrentDatabase(context, { onlyReads: true });
    // One batch beyond the limit tells whether more exist; it is never printed.
    const batches = listBatches(db, { limit: limit === 0 ? 0 : limit + 1 });
    const more = limit !== 0 && batches.length > limit;
    if (more) batches.length = limit;
    await writeRecords(context.io.stdout, [batches], context.format, SUMMARY_COLUMNS);
    await noteUnknownDurations(context, batches);
    if (more && context.format === "table") {
      // A table is read by a person, who would otherwise take the latest batches for all.
      await context.io.stderr.write(
        `${countOf(limit, "batch", "batches")} shown, the most recently active; more exist: ` +
          "use --limit 0 for all\n",
      );
    }
    // A batch that began among the archived events is listed with its live events alone.
    await noteArchived(
      context,
      () => batchesArchivedReach(db, batches.map((batch) => batch.run_id)),
      "read: a batch that began among them is counted and timed from its events in the database",
    );
    return 0;
  },

  async exec(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch exec", args, {
      description: { type: "string" },
      user: { type: "string" },
      "bundle-on-failure": { type: "boolean" },
    }, { formats: [] });
    if (positionals.length === 0 || positionals[0] === "") {
      throw new UsageError("Missing COMMAND to run", {
        hint: 'Example: audit-trail batch exec --description "Nightly reorder" -- ./reorder.sh',
      });
    }
    requireValidText({ "--description": values.description, "--user": values.user });
    const [program, ...programArgs] = positionals;
    const user = await resolveUser(context.io, values.user);
    const [{ BatchEndNotRecordedError, execBatch }, { batchFailed }] = await Promise.all([
      batchRun(),
      importOnDemand<typeof import("../lib/batch_outcome.ts")>("lib/batch_outcome.ts"),
    ]);
    // Heard from here on, so that a signal during start-up still ends the batch in order.
    using signals = processSignals(context.io.stderr.isTerminal);
    const env: Record<string, string> = {
      AUDIT_TRAIL_DB: absolutePath(context.io.cwd(), context.dbPath),
      // An explicit --user speaks for the whole batch, nested logs included.
      ...(values.user === undefined ? {} : { AUDIT_TRAIL_USER: values.user }),
    };
    let outcome: BatchOutcome;
    let runId: string;
    let failure: unknown;
    {
      using db = openCurrentDatabase(context);
      try {
        ({ outcome, run_id: runId } = await execBatch(db, { program, args: programArgs, env }, {
          description: values.description,
          user,
          signals: signals.source,
        }));
      } catch (error) {
        if (!(error instanceof BatchEndNotRecordedError)) {
          throw namedAsGiven(error, {
            // Without --description, the details are COMMAND's name.
            details: values.description === undefined ? "COMMAND" : "--description",
            user: userOption(values.user),
          });
        }
        ({ outcome, runId } = error);
        failure = error;
      }
    }
    if (values["bundle-on-failure"] && batchFailed(outcome)) {
      await bundleAfterFailure(context, signals.source);
    }
    if (failure) throw failure;
    if (outcome.error !== null) {
      throw new AuditTrailError(outcome.error, {
        hint:
          `Batch ${runId} was recorded as failed. Check the command's name and PATH, and that this user may run it.`,
      });
    }
    return outcome.exit_code;
  },
};

/**
 * One note a batch on stderr, for a person (a table, or a terminal), when a batch's duration
 * is not known: its `duration_seconds` of 0 would read as "took no time".
 */
async function noteUnknownDurations(
  context: CommandContext,
  batches: readonly { run_id: string; start_time: string | null; end_time: string | null }[],
): Promise<void> {
  if (context.format !== "table" && !context.io.stderr.isTerminal) return;
  for (const batch of batches) {
    const why = unknownDuration(batch);
    if (why) {
      await context.io.stderr.write(
        `audit-trail: note: batch ${batch.run_id}: ${why} (duration_seconds is 0)\n`,
      );
    }
  }
}

/**
 * Starting, ending and running a batch, loaded by those subcommands only: `show` and `list`
 * read, and need neither the event writer nor the seal.
 */
function batchRun() {
  return importOnDemand<typeof import("../lib/batch_run.ts")>("lib/batch_run.ts");
}

/**
 * Makes the compressed debug bundle of `batch exec --bundle-on-failure` and names it on
 * stderr. A bundle that cannot be made is a warning: the exit code stays the command's.
 */
async function bundleAfterFailure(context: CommandContext, signals: SignalSource): Promise<void> {
  const { io } = context;
  const controller = new AbortController();
  using _interrupt = signals(() => controller.abort(new Error("Interrupted")));
  try {
    const { exportDebugBundle } = await importOnDemand<typeof import("../lib/bundle/mod.ts")>(
      "lib/bundle/mod.ts",
    );
    const result = await exportDebugBundle({
      database: context.dbPath,
      compress: true,
      signal: controller.signal,
    });
    await io.stderr.write(`bundle: ${result.path}\n`);
    if (!result.complete) {
      const parts = result.errors.map((e) => e.step).join(", ");
      await io.stderr.write(`audit-trail: warning: the bundle is incomplete (${parts})\n`);
    }
  } catch (error) {
    const reason = controller.signal.aborted
      ? "interrupted"
      : error instanceof Error
      ? error.message
      : String(error);
    await io.stderr.write(`audit-trail: warning: no debug bundle was made: ${reason}\n`)
      .catch(() => {});
  }
}

/**
 * Listens for the signals that end a batch (SIGTERM, SIGINT, SIGHUP; on Windows Ctrl-C and
 * Ctrl-Break) for as long as it is not disposed, so that none of them ends this process
 * before `BATCH_END` is stored. Signals that come while nobody listens through `source` are
 * kept and told to the next listener.
 *
 * A signal "has reached the command" when the system sends it to the command as well: on
 * Windows, Ctrl-C and Ctrl-Break go to every process of the console; at a terminal, Ctrl-C
 * and a hang-up go to every process of the foreground job. Those are not sent a second time.
 */
function processSignals(atTerminal: boolean): { source: SignalSource } & Disposable {
  const windows = Deno.build.os === "windows";
  const names: Deno.Signal[] = windows ? ["SIGINT", "SIGBREAK"] : ["SIGTERM", "SIGINT", "SIGHUP"];
  const pending: [Deno.Signal, boolean][] = [];
  let listener: ((signal: Deno.Signal, reachedCommand: boolean) => void) | undefined;
  const handlers: [Deno.Signal, () => void][] = [];
  const linux = linuxSignalState();
  // Only the terminal's foreground process group hears its Ctrl-C and hang-up: a background
  // batch's signals were sent to it alone (kill), and the command waits for them.
  const terminalReaches = linux ? linux.foreground : atTerminal;
  for (const name of names) {
    const reached = windows || (terminalReaches && name !== "SIGTERM");
    // A signal this process was started ignoring (nohup's SIGHUP, SIGINT in a script's
    // background job) stays ignored: it must neither end the command nor the batch. It is
    // still listened for, as Deno's first listener makes SIGHUP and SIGINT end the process.
    const handler = linux?.ignored.has(name)
      ? () => {}
      : () => listener ? listener(name, reached) : pending.push([name, reached]);
    try {
      Deno.addSignalListener(name, handler);
      handlers.push([name, handler]);
    } catch {
      // This system cannot catch it: it then ends the process the default way.
    }
  }
  return {
    source(next) {
      listener = next;
      for (const [signal, reached] of pending.splice(0)) next(signal, reached);
      return {
        [Symbol.dispose]() {
          if (listener === next) listener = undefined;
        },
      };
    },
    [Symbol.dispose]() {
      for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
    },
  };
}

/** Linux signal numbers of the signals a batch listens for: bit (number - 1) of a mask. */
const LINUX_SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGTERM: 15,
};

/**
 * What Linux tells of this process in /proc: the signals it was started ignoring, and whether
 * it is in its terminal's foreground process group. Null elsewhere, or when /proc cannot be
 * read.
 */
function linuxSignalState(): { ignored: Set<Deno.Signal>; foreground: boolean } | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const mask = BigInt("0x" + (status.match(/^SigIgn:\s*([0-9a-f]+)$/m)?.[1] ?? "0"));
    const ignored = new Set(
      Object.entries(LINUX_SIGNAL_NUMBERS)
        .filter(([, number]) => (mask >> BigInt(number! - 1)) & 1n)
        .map(([name]) => name as Deno.Signal),
    );
    // After the name in parentheses: state, ppid, pgrp, session, tty_nr, tpgid.
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [pgrp, tpgid] = [Number(fields[2]), Number(fields[5])];
    return { ignored, foreground: tpgid > 0 && tpgid === pgrp };
  } catch {
    return null;
  }
}

/** `path` made absolute against `cwd`, so the command finds the database from any folder. */
function absolutePath(cwd: string, path: string): string {
  return /^(?:[A-Za-z]:)?[\\/]/.test(path) ? path : `${cwd}/${path}`;
}

/**
 * Prints a stored event: `plain` (its run id or audit id), or the whole record with
 * `--format json` or `ndjson`. `stored` says what was stored, should that fail.
 */
async function printEvent(
  context: CommandContext,
  event: object,
  plain: string,
  acknowledgement: { stored: string; what: string; hint: string },
): Promise<void> {
  const format = context.explicitFormat;
  const { stored, what, hint } = acknowledgement;
  await acknowledge(
    stored,
    format === "json" || format === "ndjson" ? "its record" : what,
    hint,
    () =>
      format === "json" || format === "ndjson"
        ? writeObject(context.io.stdout, event, format)
        : context.io.stdout.write(plain + "\n"),
  );
}

function missingRunId(sub: string): UsageError {
  return new UsageError(`Missing RUN_ID for batch ${sub}`, {
    hint: "Use the id printed by audit-trail batch start (audit-trail batch list shows them).",
  });
}
