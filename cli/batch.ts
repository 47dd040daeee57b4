import { resolve } from "node:path";
import { splitAtName } from "./args.ts";
import { BATCH_END, endBatch, getBatchOperations, listBatches, startBatch } from "../lib/batch.ts";
import { type AuditDatabase, openDatabase } from "../lib/db.ts";
import { AuditTrailError, UsageError } from "../lib/errors.ts";
import { logAuditEvent } from "../lib/events.ts";
import { requireCurrentSchema } from "../lib/migrate.ts";
import { writeObject, writeRecords } from "../lib/output.ts";
import { validateRunId } from "../lib/run_id.ts";
import {
  type Command,
  type CommandContext,
  expectAtMost,
  GLOBAL_OPTIONS,
  parseCommandArgs,
  parseCount,
  requireValidText,
  resolveUser,
} from "./context.ts";

const SUMMARY_COLUMNS = ["run_id", "event_count", "start_time", "end_time", "duration_seconds"];

export const command: Command = {
  help: `audit-trail batch — group the events of one batch operation under a run id

USAGE
  audit-trail batch start [DESCRIPTION] [--user USER]
  audit-trail batch end RUN_ID [SUMMARY] [--user USER]
  audit-trail batch show RUN_ID [--format F]
  audit-trail batch list [--limit N] [--format F]
  audit-trail batch exec [--description TEXT] -- COMMAND [ARGS...]

SUBCOMMANDS
  start   make a new run id, log BATCH_START with the description, print the run id
  end     log BATCH_END with the summary; prints its audit_id
  show    every event of the batch, oldest first, with start, end and duration:
          {"run_id", "event_count", "events", "start_time", "end_time", "duration_seconds"}
  list    recent batches, most recently active first (default --limit 20; 0 = all)
  exec    start a batch, run COMMAND with AUDIT_TRAIL_RUN_ID (and AUDIT_TRAIL_DB) set so
          that every "audit-trail log" inside it joins the batch, then log BATCH_END with
          its exit code and duration; exits with COMMAND's exit code

OPTIONS
  --user USER          who runs the batch (default: $AUDIT_TRAIL_USER, else login name);
                       with exec, also the user of every log inside it
  --description TEXT   (exec) the BATCH_START details (default: the command line)
  --limit N            (list) how many batches
  --format F           json | ndjson | csv | table (default: table on a terminal, else json)
  --db PATH            the database (default: $AUDIT_TRAIL_DB, else data/app.db)

EXAMPLES
  RUN=$(audit-trail batch start "Import of supplier file 2026-02-16")
  audit-trail log ORDER_CONFIRMED --sku SKU-1 --run-id "$RUN"
  audit-trail batch end "$RUN" "15 orders confirmed"
  audit-trail batch show "$RUN" --format table
  audit-trail batch exec --description "Nightly reorder" -- ./reorder.sh --all
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
    });
    expectAtMost("batch start", positionals, 1);
    requireValidText({ DESCRIPTION: positionals[0], "--user": values.user });
    using db = openCurrent(context);
    const event = startBatch(db, positionals[0] ?? "", {
      user: resolveUser(context.io, values.user),
    });
    await printEvent(context, event, event.run_id!);
    return 0;
  },

  async end(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch end", args, {
      user: { type: "string" },
    });
    if (positionals.length === 0) throw missingRunId("end");
    expectAtMost("batch end", positionals, 2);
    requireValidText({ SUMMARY: positionals[1], "--user": values.user });
    validateRunId(positionals[0]);
    using db = openCurrent(context);
    const event = endBatch(db, positionals[0], positionals[1] ?? "", {
      user: resolveUser(context.io, values.user),
    });
    await printEvent(context, event, String(event.audit_id));
    return 0;
  },

  async show(context, args) {
    const { positionals } = parseCommandArgs(context, "batch show", args, {});
    if (positionals.length === 0) throw missingRunId("show");
    expectAtMost("batch show", positionals, 1);
    validateRunId(positionals[0]);
    using db = openCurrent(context);
    const report = getBatchOperations(db, positionals[0]);
    const { io, format } = context;
    if (format === "csv") {
      await writeRecords(io.stdout, [report.events], "csv");
    } else if (format === "table") {
      await writeObject(io.stdout, { ...report }, "table");
      await io.stdout.write("\n");
      await writeRecords(io.stdout, [report.events], "table");
    } else {
      await writeObject(io.stdout, { ...report }, format);
    }
    return 0;
  },

  async list(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch list", args, {
      limit: { type: "string" },
    });
    expectAtMost("batch list", positionals, 0);
    const limit = values.limit === undefined ? undefined : parseCount(values.limit, "--limit");
    using db = openCurrent(context);
    const batches = listBatches(db, { limit });
    await writeRecords(context.io.stdout, [batches], context.format, SUMMARY_COLUMNS);
    return 0;
  },

  async exec(context, args) {
    const { values, positionals } = parseCommandArgs(context, "batch exec", args, {
      description: { type: "string" },
      user: { type: "string" },
    });
    if (positionals.length === 0) {
      throw new UsageError("Missing COMMAND to run", {
        hint: 'Example: audit-trail batch exec --description "Nightly reorder" -- ./reorder.sh',
      });
    }
    requireValidText({ "--description": values.description, "--user": values.user });
    const [program, ...programArgs] = positionals;
    const user = resolveUser(context.io, values.user);
    const dbPath = resolve(context.io.cwd(), context.dbPath);
    const runId = withCurrent(
      context,
      (db) => startBatch(db, values.description ?? positionals.join(" "), { user }).run_id!,
    );

    const started = performance.now();
    let exitCode: number;
    let outcome: string;
    let startFailure: string | undefined;
    // Ctrl-C reaches the child too; this process stays to record how the batch ended.
    const ignoreInterrupt = () => {};
    Deno.addSignalListener("SIGINT", ignoreInterrupt);
    try {
      const child = new Deno.Command(program, {
        args: programArgs,
        env: {
          AUDIT_TRAIL_RUN_ID: runId,
          AUDIT_TRAIL_DB: dbPath,
          // An explicit --user speaks for the whole batch, nested logs included.
          ...(values.user === undefined ? {} : { AUDIT_TRAIL_USER: values.user }),
        },
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
      const status = await child.status;
      exitCode = status.signal ? 128 + signalNumber(status.signal) : status.code;
      outcome = status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
    } catch (error) {
      exitCode = 1;
      startFailure = error instanceof Deno.errors.NotFound
        ? `Command not found: "${program}"`
        : `Could not start "${program}": ${(error as Error).message}`;
      outcome = startFailure;
    } finally {
      Deno.removeSignalListener("SIGINT", ignoreInterrupt);
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(3);
    withCurrent(context, (db) =>
      logAuditEvent(db, {
        operation: BATCH_END,
        details: `${outcome} after ${seconds} s`,
        run_id: runId,
      }, { user }));
    if (startFailure) {
      throw new AuditTrailError(startFailure, {
        hint: `Batch ${runId} was recorded as failed. Check the command's name and PATH.`,
      });
    }
    return exitCode;
  },
};

function openCurrent(context: CommandContext): AuditDatabase {
  const db = openDatabase(context.dbPath);
  try {
    requireCurrentSchema(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function withCurrent<T>(context: CommandContext, work: (db: AuditDatabase) => T): T {
  using db = openCurrent(context);
  return work(db);
}

async function printEvent(
  context: CommandContext,
  event: object,
  plain: string,
): Promise<void> {
  const format = context.explicitFormat;
  if (format === "json" || format === "ndjson") await writeObject(context.io.stdout, event, format);
  else await context.io.stdout.write(plain + "\n");
}

function missingRunId(sub: string): UsageError {
  return new UsageError(`Missing RUN_ID for batch ${sub}`, {
    hint: "Use the id printed by `audit-trail batch start` (see `audit-trail batch list`).",
  });
}

function signalNumber(signal: Deno.Signal): number {
  const numbers: Partial<Record<Deno.Signal, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGSEGV: 11,
    SIGPIPE: 13,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 1;
}
