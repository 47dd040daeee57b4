import { UsageError } from "../lib/errors.ts";
import { type EventDefaults, logAuditEvent } from "../lib/events.ts";
import { runIdProblem, validateRunId } from "../lib/run_id.ts";
import {
  acknowledge,
  type CliIo,
  type Command,
  type CommandContext,
  expectAtMost,
  importOnDemand,
  namedAsGiven,
  openCurrentDatabase,
  parseCommandArgs,
  type ParsedArgs,
  requireFormat,
  requireValidText,
  resolveUser,
  userOption,
} from "./context.ts";

export const command: Command = {
  help: `audit-trail log — record one event, or many from NDJSON

USAGE
  audit-trail log OPERATION [--details TEXT] [--sku SKU] [--user USER] [--run-id RUN_ID]
  audit-trail log --stdin [--user USER] [--run-id RUN_ID] < events.ndjson

Appends one event and prints its audit_id once it is safely on disk. With --stdin, reads
one JSON object per line ({"operation", "details"?, "sku"?, "user"?, "run_id"?}) and stores
all of them in one transaction, or none if any line is invalid (exit 2 names the line; a
field given twice is invalid too);
other writers wait for it while it appends. Each event's audit_id and timestamp are set as
it is logged: query's records carry both, so drop them to copy events from another log
(jq -c 'del(.audit_id, .timestamp)'); the copies are dated when they are logged.

OPTIONS
  --details TEXT   free text, at most 65,536 characters
  --sku SKU        the SKU concerned; leave out for global operations
  --user USER      who did it (default: $AUDIT_TRAIL_USER, else the login name, else system)
  --run-id ID      the batch it belongs to (default: $AUDIT_TRAIL_RUN_ID)
  --stdin          read NDJSON events from standard input; --user and --run-id are then
                   the defaults for lines that leave them out
  --format F       json | ndjson | csv | table: print the whole record instead of the id
                   (--stdin: json | ndjson | table)
  --db PATH        the database (default: $AUDIT_TRAIL_DB, else data/app.db)

OUTPUT
  one event: its audit_id, e.g. 42
  --stdin:   {"inserted": 3, "first_audit_id": 40, "last_audit_id": 42} (on a terminal,
             as a table)

EXAMPLES
  audit-trail log ORDER_CONFIRMED --sku SKU-1001 --details "Order ORD-123: 45 units"
  audit-trail log STOCK_COUNT_STARTED --user night-shift
  printf '{"operation":"PICKED","sku":"SKU-7"}\\n' | audit-trail log --stdin
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "log", args, OPTIONS);
    requireValidText({
      OPERATION: positionals[0],
      "--details": values.details,
      "--sku": values.sku,
      "--user": values.user,
    });
    const defaults = {
      user: await resolveUser(context.io, values.user),
      run_id: resolveRunId(context.io, values["run-id"]),
    };
    // Each mode in its own function: a single event, what scripts call most, compiles only its own.
    return await (values.stdin ? logMany : logOne)(context, values, positionals, defaults);
  },
};

/**
 * The run id to record: `--run-id`, else `$AUDIT_TRAIL_RUN_ID`, else none. A bad value is
 * refused here, naming the variable when it came from the environment.
 */
function resolveRunId(io: CliIo, given: string | undefined): string | null {
  if (given !== undefined) return validateRunId(given);
  const fromEnv = io.env("AUDIT_TRAIL_RUN_ID") || undefined;
  const problem = fromEnv === undefined ? null : runIdProblem(fromEnv);
  if (problem) {
    throw new UsageError(`AUDIT_TRAIL_RUN_ID: ${problem}`, {
      hint: "Unset it, or set it to a run id printed by audit-trail batch start.",
    });
  }
  return fromEnv ?? null;
}

const OPTIONS = {
  details: { type: "string" },
  sku: { type: "string" },
  user: { type: "string" },
  "run-id": { type: "string" },
  stdin: { type: "boolean" },
} as const;

type Values = ParsedArgs<typeof OPTIONS>["values"];

/** `log OPERATION`: appends one event and prints its id (or record) once it is on disk. */
async function logOne(
  context: CommandContext,
  values: Values,
  positionals: string[],
  defaults: EventDefaults,
): Promise<number> {
  if (positionals.length === 0) {
    throw new UsageError("Missing OPERATION: what happened, e.g. ORDER_CONFIRMED", {
      hint: 'Example: audit-trail log ORDER_CONFIRMED --sku SKU-1001 --details "45 units"',
    });
  }
  expectAtMost("log", positionals, 1);
  const { io } = context;
  using db = openCurrentDatabase(context);
  let event;
  try {
    event = logAuditEvent(db, {
      operation: positionals[0],
      details: values.details,
      sku: values.sku,
    }, defaults);
  } catch (error) {
    throw namedAsGiven(error, {
      operation: "OPERATION",
      details: "--details",
      sku: "--sku",
      user: userOption(values.user),
    });
  }
  const format = context.explicitFormat;
  const what = format === undefined ? "its id" : "its record";
  await acknowledge(`Event ${event.audit_id} was stored`, what, STORED_HINT, async () => {
    if (format === undefined) return await io.stdout.write(`${event.audit_id}\n`);
    const { writeObject, writeRecords } = await output();
    if (format === "json" || format === "ndjson") {
      return await writeObject(io.stdout, { ...event }, format);
    }
    return await writeRecords(io.stdout, [[event]], format);
  });
  return 0;
}

/** `log --stdin`: appends every event of the NDJSON input in one transaction, or none. */
async function logMany(
  context: CommandContext,
  values: Values,
  positionals: string[],
  defaults: EventDefaults,
): Promise<number> {
  if (positionals.length > 0) {
    throw new UsageError(`log --stdin takes no OPERATION argument ("${positionals[0]}")`, {
      hint: "Give each event's operation in its JSON line.",
    });
  }
  for (const option of ["details", "sku"] as const) {
    if (values[option] !== undefined) {
      throw new UsageError(`--${option} cannot be used with --stdin`, {
        hint: `Put "${option}" in each JSON line instead.`,
      });
    }
  }
  requireFormat(context, "log --stdin", ["json", "ndjson", "table"]);
  const { io } = context;
  const [{ readNdjson }, { logNumberedEvents }, { writeObject }] = await Promise.all([
    importOnDemand<typeof import("../lib/ndjson.ts")>("lib/ndjson.ts"),
    importOnDemand<typeof import("../lib/bulk_append.ts")>("lib/bulk_append.ts"),
    output(),
  ]);
  using db = openCurrentDatabase(context);
  if (io.stdinIsTerminal) {
    await io.stderr.write(
      "audit-trail: reading one JSON event per line; end with Ctrl-D (on Windows: Ctrl-Z, Enter)\n",
    );
  }
  const result = await logNumberedEvents(db, readNdjson(io.stdinFile ?? io.stdin), defaults);
  await acknowledge(
    result.inserted === 0
      ? "The input held no events"
      : `${result.inserted} event(s) were stored (ids ${result.first_audit_id} to ${result.last_audit_id})`,
    "the summary",
    result.inserted === 0
      ? "Nothing was stored."
      : "Do not send this input again: its events are in the audit log, and would be stored twice.",
    // A script reads one JSON line; a person at a terminal reads it as every summary is shown.
    () =>
      writeObject(
        io.stdout,
        { ...result },
        context.explicitFormat ?? (io.stdout.isTerminal ? "table" : "ndjson"),
      ),
  );
  return 0;
}

const STORED_HINT = "Do not log it again: it is in the audit log, and would be stored twice.";

/** The output formats, loaded only for `--format`: a plain `log` prints just the id. */
function output() {
  return importOnDemand<typeof import("../lib/output.ts")>("lib/output.ts");
}
