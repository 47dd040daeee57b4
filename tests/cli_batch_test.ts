/**
 * `audit-trail batch` through the real command line: start, end, show, list and exec with
 * nested `log` calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { openZip } from "../lib/bundle/zip.ts";
import {
  CLI,
  cliCommand,
  collectOutput,
  fingerprint,
  runCli,
  runMain,
  sqliteRows,
  tempDir,
} from "./helpers.ts";
import {
  eventCount,
  inParallel,
  ISO_TIMESTAMP,
  LEGACY_002_SQL,
  LEGACY_AUDIT_LOG_SQL,
  migratedFile,
} from "./fixtures.ts";

const RUN_ID = /^run_\d{8}_\d{6}_[0-9a-f]{8}$/;
const SUMMARY_FIELDS = ["run_id", "event_count", "start_time", "end_time", "duration_seconds"];

type Event = { audit_id: number; operation: string; sku: string | null; details: string };

/** The events of `db`, oldest first, read straight from SQLite. */
function rows(db: string) {
  return sqliteRows(
    db,
    "SELECT audit_id, operation, sku, details, user, run_id FROM audit_log ORDER BY audit_id",
  )
    .map((r) => ({ ...r }));
}

Deno.test("CLI batch start, log, end and show record and report one batch", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const start = await runCli([
    "batch",
    "start",
    "Import of supplier file",
    "--db",
    db,
    "--user",
    "ana",
  ]);
  assert.equal(start.code, 0, start.stderr);
  assert.equal(start.stderr, "");
  const runId = start.stdout.trimEnd();
  assert.match(runId, RUN_ID);
  assert.equal(start.stdout, runId + "\n");
  for (const sku of ["SKU-1", "SKU-2"]) {
    const logged = await runCli(["log", "ORDER_CONFIRMED", "--db", db, "--sku", sku], {
      env: { AUDIT_TRAIL_RUN_ID: runId, AUDIT_TRAIL_USER: "importer" },
    });
    assert.equal(logged.code, 0, logged.stderr);
  }
  const end = await runCli(["batch", "end", runId, "2 orders confirmed", "--db", db], {
    env: { AUDIT_TRAIL_USER: "ana" },
  });
  assert.deepEqual(end, { code: 0, stdout: "4\n", stderr: "" });
  assert.deepEqual(rows(db), [
    {
      audit_id: 1,
      operation: "BATCH_START",
      sku: null,
      details: "Import of supplier file",
      user: "ana",
      run_id: runId,
    },
    {
      audit_id: 2,
      operation: "ORDER_CONFIRMED",
      sku: "SKU-1",
      details: "",
      user: "importer",
      run_id: runId,
    },
    {
      audit_id: 3,
      operation: "ORDER_CONFIRMED",
      sku: "SKU-2",
      details: "",
      user: "importer",
      run_id: runId,
    },
    {
      audit_id: 4,
      operation: "BATCH_END",
      sku: null,
      details: "2 orders confirmed",
      user: "ana",
      run_id: runId,
    },
  ]);

  const [show, table, csv, ndjson] = await inParallel([
    () => runCli(["batch", "show", runId, "--db", db]),
    () => runCli(["batch", "show", runId, "--db", db, "--format", "table"]),
    () => runCli(["batch", "show", runId, "--db", db, "--format", "csv"]),
    () => runCli(["batch", "show", runId, "--db", db, "--format", "ndjson"]),
  ]);
  const report = JSON.parse(show.stdout);
  assert.deepEqual(Object.keys(report), [
    "run_id",
    "event_count",
    "events",
    "start_time",
    "end_time",
    "duration_seconds",
  ]);
  assert.equal(report.run_id, runId);
  assert.equal(report.event_count, 4);
  assert.deepEqual(report.events.map((e: Event) => e.audit_id), [1, 2, 3, 4]);
  assert.equal(report.start_time, report.events[0].timestamp);
  assert.equal(report.end_time, report.events[3].timestamp);
  assert.match(report.end_time, ISO_TIMESTAMP);
  assert.equal(
    report.duration_seconds,
    (Date.parse(report.end_time) - Date.parse(report.start_time)) / 1000,
  );
  assert.ok(report.duration_seconds > 0);
  assert.deepEqual(JSON.parse(ndjson.stdout), report);
  assert.equal(ndjson.stdout.split("\n").length, 2);
  assert.match(table.stdout, new RegExp(`^run_id +${runId}\nevent_count +4\nstart_time +\\S+\n`));
  assert.match(table.stdout, /\n\naudit_id +timestamp +operation/);
  assert.equal(csv.stdout.split("\r\n")[0], "audit_id,timestamp,operation,sku,details,user,run_id");
  assert.equal(csv.stdout.split("\r\n").length, 6);

  const json = await runCli(["batch", "start", "--db", db, "--format", "json"]);
  const record = JSON.parse(json.stdout);
  assert.deepEqual([record.audit_id, record.operation, record.details], [5, "BATCH_START", ""]);
  assert.match(record.run_id, RUN_ID);
});

Deno.test("CLI batch show of an unknown run id prints an empty batch", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const result = await runCli(["batch", "show", "run_20260216_000000_deadbeef", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    run_id: "run_20260216_000000_deadbeef",
    event_count: 0,
    events: [],
    start_time: null,
    end_time: null,
    duration_seconds: 0,
  });
});

Deno.test("CLI batch show shows every batch batch list lists, run ids the earlier audit module allowed included", async () => {
  await using dir = await tempDir();
  const db = `${dir.path}/inventory.db`;
  // The earlier audit module stored any run id its caller gave, spaces and accents included.
  const legacy = new DatabaseSync(db);
  legacy.exec(`${LEGACY_AUDIT_LOG_SQL}; ${LEGACY_002_SQL}`);
  const insert = legacy.prepare("INSERT INTO audit_log (operation, run_id) VALUES (?, ?)");
  for (const runId of ["night import", "rücklauf_1", "night import"]) insert.run("COUNT", runId);
  legacy.close();
  assert.equal((await runCli(["migrate", "--db", db])).code, 0);
  const listed = await runCli(["batch", "list", "--db", db]);
  const runIds = JSON.parse(listed.stdout).map((b: { run_id: string }) => b.run_id);
  assert.deepEqual(runIds, ["night import", "rücklauf_1"]);
  const before = await fingerprint(db);
  for (const [runId, count] of [["night import", 2], ["rücklauf_1", 1]] as const) {
    const shown = await runCli(["batch", "show", runId, "--db", db]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(JSON.parse(shown.stdout).event_count, count);
  }
  // An empty id is still a usage error: most likely an unset shell variable.
  const empty = await runCli(["batch", "show", "", "--db", db]);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /^audit-trail: error: Missing RUN_ID for batch show\nhint: [^\n]+\n$/);
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI batch end of an unknown run id is a bad value: exit 2, nothing stored", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const before = await fingerprint(db);
  const result = await runCli(["batch", "end", "run_20260216_000000_deadbeef", "--db", db]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^audit-trail: error: No batch with run id "run_20260216_000000_deadbeef"\nhint: [^\n]+\n$/,
  );
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI batch end of a batch that has ended is a bad value: exit 2, nothing stored, also when two end it at once", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const failed = await runCli(["batch", "exec", "--db", db, "--", "false"]);
  assert.equal(failed.code, 1, failed.stderr);
  const [execRun] = JSON.parse((await runCli(["batch", "list", "--db", db])).stdout);
  const started = await runCli(["batch", "start", "Count", "--db", db]);
  const runId = started.stdout.trimEnd();
  const ends = await Promise.all(
    ["first", "second"].map((summary) => runCli(["batch", "end", runId, summary, "--db", db])),
  );
  assert.deepEqual(ends.map((e) => e.code).sort(), [0, 2], JSON.stringify(ends));
  const firstEnd = ends.find((e) => e.code === 0)!.stdout.trimEnd();
  const before = await fingerprint(db);
  // Ending again would stand in reports for how the batch ended: the failed one would look fine.
  for (const [run, endId] of [[runId, firstEnd], [execRun.run_id, "2"]]) {
    const again = await runCli(["batch", "end", run, "all fine", "--db", db]);
    assert.equal(again.code, 2);
    assert.equal(again.stdout, "");
    assert.equal(
      again.stderr,
      `audit-trail: error: Batch "${run}" has already ended (event ${endId})\n` +
        `hint: Nothing was written. To add a note to it, log an event with --run-id ${run}.\n`,
    );
  }
  assert.equal(await fingerprint(db), before);
  assert.equal(rows(db).filter((e) => e.operation === "BATCH_END").length, 2);
});

Deno.test("CLI batch list shows every batch, most recently active first", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  assert.equal((await runCli(["batch", "list", "--db", db])).stdout, "[]\n");
  const stdin = [
    { operation: "A", run_id: "run_1" },
    { operation: "A", run_id: "run_2" },
    { operation: "NO_BATCH" },
    { operation: "B", run_id: "run_1" },
    { operation: "A", run_id: "run_3" },
    { operation: "B", run_id: "run_2" },
  ].map((e) => JSON.stringify(e)).join("\n");
  assert.equal((await runCli(["log", "--stdin", "--db", db], { stdin })).code, 0);
  const [all, limited, csv] = await inParallel([
    () => runCli(["batch", "list", "--db", db]),
    () => runCli(["batch", "list", "--db", db, "--limit", "1"]),
    () => runCli(["batch", "list", "--db", db, "--format", "csv", "--limit", "0"]),
  ]);
  const batches = JSON.parse(all.stdout);
  assert.deepEqual(
    batches.map((b: { run_id: string; event_count: number }) => [b.run_id, b.event_count]),
    [
      ["run_2", 2],
      ["run_3", 1],
      ["run_1", 2],
    ],
  );
  for (const batch of batches) {
    assert.deepEqual(Object.keys(batch), SUMMARY_FIELDS);
    assert.equal(
      batch.duration_seconds,
      (Date.parse(batch.end_time) - Date.parse(batch.start_time)) / 1000,
    );
  }
  assert.deepEqual(JSON.parse(limited.stdout), [batches[0]]);
  const lines = csv.stdout.split("\r\n");
  assert.equal(lines[0], SUMMARY_FIELDS.join(","));
  assert.deepEqual(lines.slice(1).map((line) => line.split(",")[0]), [
    "run_2",
    "run_3",
    "run_1",
    "",
  ]);
  // A table says on stderr when the limit left batches out; a script's JSON or CSV does not.
  const [table, whole, json] = await inParallel([
    () => runCli(["batch", "list", "--db", db, "--format", "table", "--limit", "2"]),
    () => runCli(["batch", "list", "--db", db, "--format", "table", "--limit", "3"]),
    () => runCli(["batch", "list", "--db", db, "--limit", "2"]),
  ]);
  assert.equal(table.code, 0);
  assert.deepEqual(table.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(" ")[0]), [
    "run_2",
    "run_3",
  ]);
  assert.equal(
    table.stderr,
    "2 batches shown, the most recently active; more exist: use --limit 0 for all\n",
  );
  assert.equal(whole.stderr, "");
  assert.equal(JSON.parse(json.stdout).length, 2);
  assert.equal(json.stderr, "");
});

Deno.test("CLI batch exec: nested log calls join the batch, BATCH_END has exit code and duration, the exit code is passed on", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  // COMMAND logs two events through the real CLI (inheriting AUDIT_TRAIL_RUN_ID and
  // AUDIT_TRAIL_DB from batch exec), waits a little, and fails with exit code 3.
  const script = `
    for (const sku of ["SKU-1", "SKU-2"]) {
      const { code } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", ${JSON.stringify(CLI)}, "log", "ORDER_CONFIRMED", "--sku", sku],
        stdout: "inherit", stderr: "inherit",
      }).output();
      if (code !== 0) Deno.exit(10 + code);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    Deno.exit(3);`;
  const result = await runCli([
    "--db",
    db,
    "batch",
    "exec",
    "--description",
    "Nightly reorder",
    "--",
    Deno.execPath(),
    "eval",
    script,
  ], { env: { AUDIT_TRAIL_USER: "scheduler" } });
  assert.equal(result.stderr, "");
  assert.equal(result.code, 3);
  assert.equal(result.stdout, "2\n3\n", "COMMAND's own output passes through");

  const events = rows(db);
  const runId = events[0].run_id as string;
  assert.match(runId, RUN_ID);
  assert.deepEqual(
    events.map(({ operation, sku, user, run_id }) => [operation, sku, user, run_id]),
    [
      ["BATCH_START", null, "scheduler", runId],
      ["ORDER_CONFIRMED", "SKU-1", "scheduler", runId],
      ["ORDER_CONFIRMED", "SKU-2", "scheduler", runId],
      ["BATCH_END", null, "scheduler", runId],
    ],
  );
  assert.equal(events[0].details, "Nightly reorder");
  const details = events[3].details as string;
  assert.match(details, /^\{"exit_code":3,"duration_seconds":\d+(\.\d{1,3})?\}$/);
  const recorded = JSON.parse(details).duration_seconds;
  const report = JSON.parse((await runCli(["batch", "show", runId, "--db", db])).stdout);
  assert.equal(report.event_count, 4);
  assert.ok(recorded >= 0.05, details);
  assert.ok(report.duration_seconds >= 0.05, String(report.duration_seconds));
});

Deno.test("CLI batch exec passes on exit code 0, describes the batch by its program alone, and gives --user to nested logs", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const result = await runCli([
    "batch",
    "exec",
    "--db",
    db,
    "--user",
    "ops",
    "--",
    Deno.execPath(),
    "run",
    "-A",
    CLI,
    "log",
    "STOCK_COUNT",
    "--details",
    "aisle 4",
  ]);
  assert.deepEqual(result, { code: 0, stdout: "2\n", stderr: "" });
  const events = rows(db);
  assert.deepEqual(events.map((e) => e.operation), ["BATCH_START", "STOCK_COUNT", "BATCH_END"]);
  assert.equal(events[0].details, Deno.execPath());
  assert.equal(events[1].details, "aisle 4");
  assert.match(events[2].details as string, /^\{"exit_code":0,"duration_seconds":[\d.]+\}$/);
  assert.equal(new Set(events.map((e) => e.run_id)).size, 1);
  assert.deepEqual(events.map((e) => e.user), ["ops", "ops", "ops"]);
});

Deno.test("CLI batch exec of a command that does not exist exits 1 and still records BATCH_END", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const result = await runCli(["batch", "exec", "--db", db, "--", "no-such-command-3f9a", "--all"]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^audit-trail: error: Command not found: "no-such-command-3f9a"\nhint: Batch run_\S+ was recorded as failed\.[^\n]*\n$/,
  );
  const events = rows(db);
  assert.deepEqual(events.map((e) => e.operation), ["BATCH_START", "BATCH_END"]);
  assert.equal(events[0].details, "no-such-command-3f9a");
  const end = JSON.parse(events[1].details as string);
  assert.deepEqual(Object.keys(end), ["exit_code", "error", "duration_seconds"]);
  assert.deepEqual([end.exit_code, end.error], [1, 'Command not found: "no-such-command-3f9a"']);
  assert.equal(events[0].run_id, events[1].run_id);
});

Deno.test({
  name:
    "CLI batch exec of a file that is no program, a folder or a script without its interpreter says so in words and records BATCH_END",
  ignore: Deno.build.os === "windows",
}, async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const notes = `${dir.path}/notes.txt`;
  await Deno.writeTextFile(notes, "count aisle 4\n");
  for (const program of [notes, dir.path]) {
    const result = await runCli(["batch", "exec", "--db", db, "--", program]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    const why = "it is a folder, or a file this user may not run as a program";
    assert.match(
      result.stderr,
      new RegExp(
        `^audit-trail: error: Could not start "${RegExp.escape(program)}": ${why}\n` +
          "hint: Batch run_\\S+ was recorded as failed\\. Check the command's name and PATH, and that this user may run it\\.\n$",
      ),
    );
    const end = JSON.parse(rows(db).at(-1)!.details as string);
    assert.equal(end.error, `Could not start "${program}": ${why}`);
  }
  // A script there whose "#!" names a program that is not: the script is not "not found".
  const script = `${dir.path}/count.sh`;
  await Deno.writeTextFile(script, "#!/no/such/interpreter\necho counted\n");
  await Deno.chmod(script, 0o755);
  const orphan = await runCli(["batch", "exec", "--db", db, "--", script]);
  assert.equal(orphan.code, 1, orphan.stderr);
  assert.equal(
    orphan.stderr.split("\n")[0],
    `audit-trail: error: Could not start "${script}": the interpreter named on its first line (#!) is not installed`,
  );
  assert.deepEqual(rows(db).map((e) => e.operation), [
    "BATCH_START",
    "BATCH_END",
    "BATCH_START",
    "BATCH_END",
    "BATCH_START",
    "BATCH_END",
  ]);
});

Deno.test("CLI batch exec without a COMMAND, or with an empty one, is a usage error and starts no batch", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const results = [
    await runMain(["batch", "exec", "--db", db]),
    await runMain(["batch", "exec", "--db", db, "--description", "x", "--"]),
    // `batch exec -- "$CMD"` with CMD unset: a slip of the script, not a command that failed.
    await runMain(["batch", "exec", "--db", db, "--", "", "--all"]),
  ];
  for (const result of results) {
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^audit-trail: error: Missing COMMAND to run\nhint: [^\n]+\n$/);
  }
  assert.equal(eventCount(db), 0);
});

const POSIX = Deno.build.os !== "windows";

/** Whether process `pid` still exists (a reaped child no longer has a /proc entry). */
function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until `path` exists and holds text, and returns that text; or `null` if `process`
 * ends first (it failed before the file could be written).
 */
async function waitForFile(path: string, process: Deno.ChildProcess): Promise<string | null> {
  let ended = false;
  process.status.then(() => ended = true);
  for (;;) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text.trim() !== "") return text.trim();
    if (ended) return null;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether `process` ends within a minute: a bound for a process that may never end. */
async function endsWithinAMinute(process: Deno.ChildProcess): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    process.status.then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 60_000)),
  ]);
  clearTimeout(timer);
  return ended;
}

/** A signal sent to batch exec, what it exits with, and options to give it. */
const INTERRUPTIONS: [Deno.Signal, number, string[]][] = [
  ["SIGTERM", 143, []],
  ["SIGINT", 130, []],
  ["SIGHUP", 129, ["--bundle-on-failure"]],
];

for (const [signal, code, options] of INTERRUPTIONS) {
  Deno.test({
    name:
      `CLI batch exec under ${signal} passes it on, waits for the command, records BATCH_END and exits ${code}`,
    ignore: !POSIX || !alive(Deno.pid),
    async fn() {
      await using dir = await tempDir();
      const db = migratedFile(dir.path);
      const pidFile = `${dir.path}/command.pid`;
      // The command notes its pid, then on the signal logs one last event into the batch
      // (which batch exec must wait for) and exits 0.
      const script = `
        trap '"$DENO" run -A "$CLI" log CLEANUP_AFTER_SIGNAL; exit 0' ${signal.slice(3)}
        echo $$ > "$PID_FILE"
        while :; do sleep 0.05; done`;
      const child = cliCommand(
        ["batch", "exec", "--db", db, ...options, "--", "sh", "-c", script],
        {
          env: { DENO: Deno.execPath(), CLI, PID_FILE: pidFile },
        },
      ).spawn();
      const pid = await waitForFile(pidFile, child);
      if (pid === null) {
        assert.fail(`batch exec ended early: ${(await collectOutput(child)).stderr}`);
      }
      const commandPid = Number(pid);
      child.kill(signal);
      // Not a speed limit: without passing the signal on, nothing would ever end.
      const ended = await endsWithinAMinute(child);
      if (!ended) child.kill("SIGKILL");
      // A command left running would hold the output pipes open: end it before reading them.
      const leftRunning = alive(commandPid);
      if (leftRunning) Deno.kill(commandPid, "SIGKILL");
      const result = await collectOutput(child);
      assert.ok(ended, `batch exec and the command were still running a minute after ${signal}`);
      assert.equal(leftRunning, false, "the command was left running");
      assert.equal(result.code, code, result.stderr);
      if (options.length === 0) assert.equal(result.stderr, "");
      else assert.match(result.stderr, /^bundle: \S+\.zip\n$/, "a batch ended by a signal failed");
      const events = rows(db);
      assert.deepEqual(events.map((e) => e.operation), [
        "BATCH_START",
        "CLEANUP_AFTER_SIGNAL",
        "BATCH_END",
      ]);
      assert.equal(new Set(events.map((e) => e.run_id)).size, 1);
      const end = JSON.parse(events[2].details as string);
      assert.deepEqual([end.exit_code, end.signal, end.error], [code, signal, undefined]);
    },
  });
}

Deno.test({
  name:
    "CLI batch exec started with SIGHUP and SIGINT ignored (nohup, a script's background job) keeps ignoring them: the command runs on",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const [pidFile, goFile] = [`${dir.path}/command.pid`, `${dir.path}/go`];
    const script = `echo $$ > "$PID_FILE"; while [ ! -e "$GO_FILE" ]; do sleep 0.05; done`;
    const child = cliCommand(["batch", "exec", "--db", db, "--", "sh", "-c", script], {
      // As nohup does: the signals are ignored before audit-trail starts.
      wrapper: ["sh", "-c", `trap "" HUP INT; exec "$0" "$@"`],
      env: { PID_FILE: pidFile, GO_FILE: goFile },
    }).spawn();
    if (await waitForFile(pidFile, child) === null) {
      assert.fail(`batch exec ended early: ${(await collectOutput(child)).stderr}`);
    }
    for (const signal of ["SIGHUP", "SIGINT"] as const) child.kill(signal);
    await Deno.writeTextFile(goFile, "go");
    const result = await collectOutput(child);
    assert.deepEqual(result, { code: 0, stdout: "", stderr: "" });
    const end = rows(db).find((e) => e.operation === "BATCH_END")!;
    assert.deepEqual(JSON.parse(end.details as string).signal, undefined, end.details as string);
    assert.equal(JSON.parse(end.details as string).exit_code, 0);
  },
});

/** Whether util-linux `script`, which runs a command at a new terminal, is installed. */
function hasScript(): boolean {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "CLI batch exec in the background at a terminal passes on a SIGINT sent to it alone (the terminal's Ctrl-C never reached the command)",
  ignore: Deno.build.os !== "linux" || !hasScript(),
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const [pidFile, batchPidFile] = [`${dir.path}/command.pid`, `${dir.path}/batch.pid`];
    // A job-control shell at a terminal starts batch exec as a background job.
    const job = `set -m
"$DENO" run -A "$CLI" batch exec --db "$DB" -- sh -c \
  'trap "exit 0" INT; echo $$ > "$PID_FILE"; while :; do sleep 0.05; done' &
echo $! > "$BATCH_PID_FILE"
wait $!
`;
    await Deno.writeTextFile(`${dir.path}/job.sh`, job);
    const terminal = new Deno.Command("script", {
      args: ["-qec", `sh "${dir.path}/job.sh"`, "/dev/null"],
      env: {
        DENO: Deno.execPath(),
        CLI,
        DB: db,
        PID_FILE: pidFile,
        BATCH_PID_FILE: batchPidFile,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const commandPid = await waitForFile(pidFile, terminal);
    if (commandPid === null) assert.fail((await collectOutput(terminal)).stdout);
    Deno.kill(Number(await waitForFile(batchPidFile, terminal)), "SIGINT");
    // Not a speed limit: a SIGINT not passed on would leave the command looping for good.
    const ended = await endsWithinAMinute(terminal);
    const leftRunning = alive(Number(commandPid));
    if (leftRunning) Deno.kill(Number(commandPid), "SIGKILL");
    const output = await collectOutput(terminal);
    assert.ok(ended && !leftRunning, `the command did not get the SIGINT: ${output.stdout}`);
    const end = rows(db).find((e) => e.operation === "BATCH_END")!;
    assert.deepEqual(JSON.parse(end.details as string).signal, "SIGINT", end.details as string);
  },
});

Deno.test({
  name:
    "CLI batch exec: a command killed by a signal exits 128 + its Linux number (ABRT 134, USR1 138, ALRM 142)",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const cases: [string, number][] = [["ABRT", 134], ["USR1", 138], ["ALRM", 142], ["KILL", 137]];
    const results = await inParallel(
      cases.map(([name]) => () =>
        runCli(["batch", "exec", "--db", db, "--", "sh", "-c", `kill -${name} $$`])
      ),
    );
    const ends = sqliteRows(db, "SELECT details FROM audit_log WHERE operation = 'BATCH_END'")
      .map((r) => JSON.parse(r.details as string));
    for (const [i, [name, code]] of cases.entries()) {
      assert.equal(results[i].code, code, `SIG${name}: ${results[i].stderr}`);
      assert.equal(results[i].stderr, "");
      const end = ends.find((e) => e.signal === `SIG${name}`);
      assert.equal(end?.exit_code, code, JSON.stringify(ends));
    }
  },
});

Deno.test("CLI batch exec never stores the command's arguments, which may hold passwords", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const result = await execExiting(db, 0, [], ["--password", "hunter2", "--token=abc123secret"]);
  assert.equal(result.code, 0, result.stderr);
  const events = rows(db);
  assert.equal(events[0].details, Deno.execPath());
  for (const secret of ["hunter2", "abc123secret"]) {
    assert.ok(!JSON.stringify(events).includes(secret), `${secret} was stored`);
  }
  // An explicit description is stored as given.
  await runCli(["batch", "exec", "--db", db, "--description", "Nightly reorder", "--", "true"]);
  assert.equal(rows(db)[2].details, "Nightly reorder");
});

/**
 * Runs `batch exec [options] -- deno eval "Deno.exit(code)" [args]` on `db`: a command that
 * exits with `code`.
 */
function execExiting(db: string, code: number, options: string[] = [], args: string[] = []) {
  return runCli([
    "batch",
    "exec",
    "--db",
    db,
    ...options,
    "--",
    Deno.execPath(),
    "eval",
    `Deno.exit(${code})`,
    ...args,
  ]);
}

/** The bundles in `dir`'s default bundle folder. */
function bundlesIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(`${dir}/debug_bundles`)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("CLI batch exec --bundle-on-failure makes a compressed bundle when the command fails, names it on stderr and keeps the exit code", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const ok = await execExiting(db, 0, ["--bundle-on-failure"]);
  assert.deepEqual([ok.code, ok.stderr], [0, ""]);
  assert.deepEqual(bundlesIn(dir.path), [], "a bundle for a command that succeeded");

  const failed = await execExiting(db, 4, ["--bundle-on-failure"]);
  assert.equal(failed.code, 4, failed.stderr);
  const match = /^bundle: (.+\.zip)\n$/.exec(failed.stderr);
  assert.ok(match, failed.stderr);
  assert.equal(match[1], `${dir.path}/debug_bundles/${bundlesIn(dir.path)[0]}`);
  const verified = await runCli(["bundle", "verify", match[1]]);
  assert.equal(verified.code, 0, verified.stderr);
  assert.equal(JSON.parse(verified.stdout).ok, true);
  // The bundle was made after BATCH_END, so it holds the whole failed batch.
  const zip = await openZip(match[1]);
  try {
    const entry = zip.entries.find((e) => e.name.endsWith("/manifest.json"))!;
    let text = "";
    const decoder = new TextDecoder();
    await entry.read(
      new WritableStream({
        write: (chunk) => void (text += decoder.decode(chunk, { stream: true })),
      }),
    );
    const manifest = JSON.parse(text + decoder.decode());
    assert.equal(manifest.audit_records_count, 4);
  } finally {
    await zip.close();
  }
});

Deno.test("CLI batch exec --bundle-on-failure: a command that cannot start gets a bundle too, and a bundle that cannot be made leaves the exit code alone", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const missing = await runCli(
    ["batch", "exec", "--bundle-on-failure", "--db", db, "--", "no-such-command-3f9a"],
  );
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^bundle: \S+\.zip\naudit-trail: error: Command not found: "no-such-command-3f9a"\nhint: /,
  );
  assert.equal(bundlesIn(dir.path).length, 1);

  // A file where the bundle folder should be: no bundle can be made there.
  await using other = await tempDir();
  const otherDb = migratedFile(other.path);
  await Deno.writeTextFile(`${other.path}/debug_bundles`, "not a folder");
  const failed = await execExiting(otherDb, 5, ["--bundle-on-failure"]);
  assert.equal(failed.code, 5, failed.stderr);
  assert.match(failed.stderr, /^audit-trail: warning: no debug bundle was made: .+\n$/);
  assert.deepEqual(rows(otherDb).map((e) => e.operation), ["BATCH_START", "BATCH_END"]);
});
