/**
 * The command line as users and scripts run it: migrate, log, query, help and the global
 * options, each through the real `cli.ts` in a subprocess.
 *
 * @module
 */
import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { LATEST_SCHEMA_VERSION, MIGRATIONS, openDatabase } from "./internals.ts";
import { TOOL_VERSION as VERSION } from "../lib/version.ts";
import {
  cliCommand,
  collectOutput,
  fingerprint,
  lockWaitUnobservable,
  runCli,
  runMain,
  sqliteRows,
  tempDir,
  untilWaitingForLock,
} from "./helpers.ts";
import {
  eventCount,
  inParallel,
  insertRaw,
  ISO_TIMESTAMP,
  LEGACY_ROWS,
  migratedFile,
  writeLegacyDatabase,
} from "./fixtures.ts";

const FIELDS = ["audit_id", "timestamp", "operation", "sku", "details", "user", "run_id"];
const ALL_APPLIED = MIGRATIONS.map(({ version, name }) => ({ version, name }));

type Event = Record<string, unknown> & { audit_id: number };
const idsOf = (stdout: string) => (JSON.parse(stdout) as Event[]).map((e) => e.audit_id);

Deno.test("CLI migrate creates data/app.db and its folder, and a second run applies nothing", async () => {
  await using dir = await tempDir();
  const first = await runCli(["migrate"], { cwd: dir.path });
  assert.equal(first.stderr, "");
  assert.equal(first.code, 0);
  assert.deepEqual(JSON.parse(first.stdout), {
    database: join(dir.path, "data", "app.db"),
    from_version: 0,
    to_version: LATEST_SCHEMA_VERSION,
    applied: ALL_APPLIED,
  });
  assert.equal(eventCount(join(dir.path, "data", "app.db")), 0);
  const again = await runCli(["migrate", "--db", join("data", "app.db")], { cwd: dir.path });
  assert.equal(again.code, 0);
  assert.deepEqual(JSON.parse(again.stdout), {
    database: join("data", "app.db"),
    from_version: LATEST_SCHEMA_VERSION,
    to_version: LATEST_SCHEMA_VERSION,
    applied: [],
  });
  const table = await runCli(["migrate", "--format", "table", "--db", "data/app.db"], {
    cwd: dir.path,
  });
  assert.equal(
    table.stdout,
    `data/app.db is up to date (schema version ${LATEST_SCHEMA_VERSION}).\n`,
  );
});

Deno.test("CLI migrate --status --format table lines up each migration's status", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const table = await runCli(["migrate", "--status", "--format", "table", "--db", db]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n").slice(1);
  assert.equal(lines.length, MIGRATIONS.length);
  const at = lines.map((line) => line.indexOf("  applied ("));
  assert.ok(at[0] > 0, lines[0]);
  assert.deepEqual(at, lines.map(() => at[0]), table.stdout);
});

Deno.test("CLI migrate --status and --dry-run on a missing database report and create nothing", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "data", "app.db");
  const [status, dryRun, table] = await Promise.all([
    runCli(["migrate", "--status", "--db", db]),
    runCli(["migrate", "--dry-run", "--db", db]),
    runCli(["migrate", "--dry-run", "--db", db, "--format", "table"]),
  ]);
  assert.deepEqual([status.code, status.stderr, dryRun.code, dryRun.stderr], [0, "", 0, ""]);
  assert.deepEqual(JSON.parse(status.stdout), {
    database: db,
    exists: false,
    current_version: 0,
    latest_version: LATEST_SCHEMA_VERSION,
    migrations: MIGRATIONS.map(({ version, name }) => ({
      version,
      name,
      status: "pending",
      applied_at: null,
    })),
  });
  assert.deepEqual(JSON.parse(dryRun.stdout), {
    database: db,
    from_version: 0,
    to_version: LATEST_SCHEMA_VERSION,
    applied: ALL_APPLIED,
    dry_run: true,
  });
  assert.match(table.stdout, /: schema version 0 -> \d+; would apply 001_create_audit_log, /);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("CLI migrate adopts an inventory database: --dry-run changes nothing, then every row is kept", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  writeLegacyDatabase(db);
  const before = await fingerprint(db);
  const dryRun = await runCli(["migrate", "--dry-run", "--db", db]);
  assert.equal(dryRun.code, 0);
  assert.deepEqual(JSON.parse(dryRun.stdout).applied, ALL_APPLIED);
  assert.equal(await fingerprint(db), before);

  const migrated = await runCli(["migrate", "--db", db]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.equal(JSON.parse(migrated.stdout).from_version, 0);
  const status = JSON.parse((await runCli(["migrate", "--status", "--db", db])).stdout);
  assert.equal(status.current_version, LATEST_SCHEMA_VERSION);
  assert.ok(status.migrations.every((m: { status: string }) => m.status === "applied"));
  for (const m of status.migrations) assert.match(m.applied_at, ISO_TIMESTAMP);

  const query = await runCli(["query", "--db", db, "--order", "asc"]);
  const events = JSON.parse(query.stdout) as Event[];
  assert.deepEqual(
    events.map((e) => [e.operation, e.sku, e.details, e.user, e.run_id]),
    LEGACY_ROWS.map((
      [, operation, sku, details, user],
    ) => [operation, sku, details ?? "", user, null]),
  );
  assert.deepEqual(
    events.map((e) => e.timestamp),
    LEGACY_ROWS.map(([timestamp]) => timestamp.replace(" ", "T") + ".000Z"),
  );
  assert.equal(
    sqliteRows(db, "SELECT count(*) AS n FROM inventory")[0].n,
    3,
  );
});

Deno.test("CLI log prints the new audit_id alone, or the whole record with --format json or ndjson", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const plain = await runCli([
    "log",
    "ORDER_CONFIRMED",
    "--db",
    db,
    "--sku",
    "SKU-1001",
    "--details",
    "Order ORD-123: 45 units",
    "--user",
    "ana",
    "--run-id",
    "run_manual",
  ]);
  assert.deepEqual(plain, { code: 0, stdout: "1\n", stderr: "" });
  const json = await runCli(["log", "STOCK_COUNT", "--db", db, "--format", "json"]);
  assert.equal(json.code, 0);
  const record = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(record), FIELDS);
  assert.match(record.timestamp, ISO_TIMESTAMP);
  assert.deepEqual({ ...record, timestamp: "" }, {
    audit_id: 2,
    timestamp: "",
    operation: "STOCK_COUNT",
    sku: null,
    details: "",
    user: record.user,
    run_id: null,
  });
  const ndjson = await runCli([
    "--format",
    "ndjson",
    "log",
    "PICKED",
    "--db",
    db,
    "--details",
    "-5 units",
  ]);
  assert.equal(ndjson.stdout.split("\n").length, 2);
  assert.equal(JSON.parse(ndjson.stdout).audit_id, 3);
  assert.equal(JSON.parse(ndjson.stdout).details, "-5 units");
  const [first] = JSON.parse(
    (await runCli(["query", "--db", db, "--order", "asc", "--limit", "1"])).stdout,
  );
  assert.deepEqual({ ...first, timestamp: "" }, {
    audit_id: 1,
    timestamp: "",
    operation: "ORDER_CONFIRMED",
    sku: "SKU-1001",
    details: "Order ORD-123: 45 units",
    user: "ana",
    run_id: "run_manual",
  });
});

Deno.test("CLI log takes AUDIT_TRAIL_DB, AUDIT_TRAIL_USER and AUDIT_TRAIL_RUN_ID, and options win over them", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const other = migratedFile(dir.path, "other.db");
  const runs: [string[], Record<string, string>][] = [
    [["log", "ENV_ALL"], {
      AUDIT_TRAIL_DB: db,
      AUDIT_TRAIL_USER: "env-user",
      AUDIT_TRAIL_RUN_ID: "run_env",
    }],
    [["log", "OPTIONS_WIN", "--db", db, "--user", "opt-user", "--run-id", "run_opt"], {
      AUDIT_TRAIL_DB: other,
      AUDIT_TRAIL_USER: "env-user",
      AUDIT_TRAIL_RUN_ID: "run_env",
    }],
    [["log", "LOGIN_NAME", "--db", db], { USER: "login-name", USERNAME: "", LOGNAME: "" }],
    [["log", "WINDOWS_LOGIN", "--db", db], { USER: "", USERNAME: "win-name", LOGNAME: "" }],
    [["log", "NOBODY", "--db", db], { USER: "", USERNAME: "", LOGNAME: "" }],
    [["log", "ENV_OVER_LOGIN", "--db", db], { AUDIT_TRAIL_USER: "env-user", USER: "login-name" }],
  ];
  const results = await inParallel(runs.map(([args, env]) => () => runCli(args, { env })));
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  const rows = sqliteRows(db, "SELECT operation, user, run_id FROM audit_log ORDER BY operation");
  assert.deepEqual(rows.map((r) => [r.operation, r.user, r.run_id]), [
    ["ENV_ALL", "env-user", "run_env"],
    ["ENV_OVER_LOGIN", "env-user", null],
    ["LOGIN_NAME", "login-name", null],
    ["NOBODY", userInfo().username, null], // the OS login name
    ["OPTIONS_WIN", "opt-user", "run_opt"],
    ["WINDOWS_LOGIN", "win-name", null],
  ]);
  assert.equal(eventCount(other), 0);
});

Deno.test("CLI log --stdin stores every line in one go and prints inserted, first and last id", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await runCli(["log", "BEFORE", "--db", db]);
  const input = "\ufeff" + [
    '{"operation":"ORDER_CONFIRMED","sku":"SKU-1","details":"Order ORD-1: 5 units"}',
    "",
    '{"operation":"ORDER_CONFIRMED","sku":"SKU-2","user":"ana","run_id":"run_own"}',
    '{"operation":"STOCK_COUNT","sku":null,"details":null}',
    "",
  ].join("\r\n");
  const result = await runCli(["log", "--stdin", "--db", db, "--user", "importer"], {
    stdin: input,
    env: { AUDIT_TRAIL_RUN_ID: "run_env" },
  });
  assert.deepEqual(result, {
    code: 0,
    stdout: '{"inserted":3,"first_audit_id":2,"last_audit_id":4}\n',
    stderr: "",
  });
  assert.deepEqual(
    sqliteRows(
      db,
      "SELECT audit_id, operation, sku, details, user, run_id FROM audit_log WHERE audit_id > 1",
    )
      .map((r) => ({ ...r })),
    [
      {
        audit_id: 2,
        operation: "ORDER_CONFIRMED",
        sku: "SKU-1",
        details: "Order ORD-1: 5 units",
        user: "importer",
        run_id: "run_env",
      },
      {
        audit_id: 3,
        operation: "ORDER_CONFIRMED",
        sku: "SKU-2",
        details: "",
        user: "ana",
        run_id: "run_own",
      },
      {
        audit_id: 4,
        operation: "STOCK_COUNT",
        sku: null,
        details: "",
        user: "importer",
        run_id: "run_env",
      },
    ],
  );
  const [empty, json] = await Promise.all([
    runCli(["log", "--stdin", "--db", db], { stdin: "\n\n" }),
    runCli(["log", "--stdin", "--db", db, "--format", "json", "--run-id", "run_opt"], {
      stdin: '{"operation":"A"}',
      env: { AUDIT_TRAIL_RUN_ID: "run_env" },
    }),
  ]);
  assert.equal(empty.stdout, '{"inserted":0,"first_audit_id":null,"last_audit_id":null}\n');
  assert.deepEqual(JSON.parse(json.stdout), { inserted: 1, first_audit_id: 5, last_audit_id: 5 });
  assert.equal(
    json.stdout,
    JSON.stringify({ inserted: 1, first_audit_id: 5, last_audit_id: 5 }, null, 2) + "\n",
  );
  assert.equal(
    sqliteRows(db, "SELECT run_id FROM audit_log WHERE audit_id = 5")[0].run_id,
    "run_opt",
  );
});

Deno.test("CLI query applies every filter, cursor, limit and order", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  writeLegacyDatabase(db);
  assert.equal((await runCli(["migrate", "--db", db])).code, 0);
  {
    using handle = openDatabase(db);
    insertRaw(handle, "2026-02-16T23:59:59.500Z", "ORDER_CONFIRMED", {
      sku: "SKU-1002",
      details: "Order ORD-3: Äpfel 100%",
      user: "ana",
      run_id: "run_b",
    });
    insertRaw(handle, "2026-02-15T12:00:00.000Z", "STOCK_ADJUSTED", {
      sku: "SKU-1001",
      details: "late sync",
      run_id: "run_b",
    });
    insertRaw(handle, "2026-02-17T00:00:00.001Z", "SKU_UPDATED", { sku: "SKU-1003", user: "ana" });
    insertRaw(handle, "2026-02-16T14:30:00.000Z", "STOCK_COUNT", { details: "aisle_4" });
  }
  const cases: [string[], number[]][] = [
    [[], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]],
    [["--order", "asc"], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    [["--order", "desc", "--limit", "3"], [10, 9, 8]],
    [["--sku", "SKU-1001"], [8, 5, 2, 1]],
    [["--operation", "ORDER_CONFIRMED"], [7, 5, 3]],
    [["--run-id", "run_b"], [8, 7]],
    [["--user", "ana"], [9, 7]],
    [["--user", "clerk", "--sku", "SKU-1001"], [2]],
    [["--since", "2026-02-16", "--until", "2026-02-16"], [10, 7, 5, 4, 3]],
    [["--until", "2026-02-15"], [8, 2, 1]],
    [["--since", "2026-02-16T14:30"], [10, 9, 7, 6, 5]],
    [["--since", "2026-02-17T01:00:00+01:00"], [9, 6]],
    [["--contains", "order ord"], [7, 5, 3]],
    [["--contains", "ÄPFEL"], [7]],
    [["--contains", "100%"], [7]],
    [["--contains", "_"], [10]],
    [["--after-id", "8"], [10, 9]],
    [["--before-id", "3"], [2, 1]],
    [["--after-id", "2", "--before-id", "6", "--order", "asc"], [3, 4, 5]],
    [["--limit", "2", "--offset", "3"], [7, 6]],
    [["--limit", "0"], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]],
    [["--sku", "SKU-404"], []],
  ];
  const results = await inParallel(
    cases.map(([args]) => () => runCli(["query", "--db", db, ...args])),
  );
  results.forEach((result, i) => {
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsOf(result.stdout), cases[i][1], cases[i][0].join(" "));
  });
  const all = JSON.parse(results[0].stdout) as Event[];
  for (const event of all) {
    assert.deepEqual(Object.keys(event), FIELDS);
    assert.match(event.timestamp as string, ISO_TIMESTAMP);
  }
  assert.equal(results[results.length - 1].stdout, "[]\n");
});

Deno.test("CLI query prints json, ndjson, csv and table, and an empty result in each", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const empty = await inParallel(
    ["json", "ndjson", "csv", "table"].map((format) => () =>
      runCli(["query", "--db", db, "--format", format])
    ),
  );
  assert.deepEqual(empty.map((r) => r.stdout), [
    "[]\n",
    "",
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n",
    "(nothing found)\n",
  ]);
  await runCli(["log", "--stdin", "--db", db], {
    stdin: [
      {
        operation: "ORDER_CONFIRMED",
        sku: "SKU-1",
        details: '=HYPERLINK("http://x")',
        user: "ana",
      },
      { operation: "NOTE", details: 'two\nlines, "quoted"', user: "system", run_id: "run_a" },
    ].map((e) => JSON.stringify(e)).join("\n"),
  });
  const [json, ndjson, csv, table, defaulted] = await inParallel(
    [["--format", "json"], ["--format", "ndjson"], ["--format", "csv"], ["--format", "table"], []]
      .map((args) => () => runCli(["query", "--db", db, ...args])),
  );
  const events = JSON.parse(json.stdout) as Event[];
  assert.deepEqual(events.map((e) => e.audit_id), [2, 1]);
  assert.equal(defaulted.stdout, json.stdout, "json is the default when stdout is not a terminal");
  assert.deepEqual(ndjson.stdout.split("\n").map((line) => line && JSON.parse(line)), [
    ...events,
    "",
  ]);
  const [t2, t1] = events.map((e) => e.timestamp);
  assert.equal(
    csv.stdout,
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n" +
      `2,${t2},NOTE,,"two\nlines, ""quoted""",system,run_a\r\n` +
      `1,${t1},ORDER_CONFIRMED,SKU-1,"'=HYPERLINK(""http://x"")",ana,\r\n`,
  );
  assert.deepEqual(table.stdout.split("\n").map((line) => line.split(/\s{2,}/)), [
    FIELDS,
    ["2", t2, "NOTE", "∅", 'two\\nlines, "quoted"', "system", "run_a"],
    ["1", t1, "ORDER_CONFIRMED", "SKU-1", '=HYPERLINK("http://x")', "ana", "∅"],
    [""],
  ]);
});

Deno.test("CLI query returns 100 events by default and streams them all with --limit 0", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const input = Array.from(
    { length: 2345 },
    (_, i) => `{"operation":"COUNTED","details":"${i + 1}"}`,
  );
  await runCli(["log", "--stdin", "--db", db], { stdin: input.join("\n") });
  const [byDefault, all, ndjson] = await Promise.all([
    runCli(["query", "--db", db]),
    runCli(["query", "--db", db, "--limit", "0"]),
    runCli(["query", "--db", db, "--limit", "0", "--format", "ndjson", "--order", "asc"]),
  ]);
  assert.deepEqual(idsOf(byDefault.stdout), Array.from({ length: 100 }, (_, i) => 2345 - i));
  assert.deepEqual(idsOf(all.stdout), Array.from({ length: 2345 }, (_, i) => 2345 - i));
  const lines = ndjson.stdout.trimEnd().split("\n").map((line) => JSON.parse(line).audit_id);
  assert.deepEqual(lines, Array.from({ length: 2345 }, (_, i) => i + 1));
});

Deno.test("CLI global options work before or after the command", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const other = migratedFile(dir.path, "other.db");
  const logged = await inParallel([
    () => runCli(["--db", db, "log", "BEFORE"]),
    () => runCli(["log", "AFTER", "--db", db]),
    () => runCli(["log", "--db=" + db, "EQUALS"]),
  ]);
  for (const r of logged) assert.equal(r.code, 0, r.stderr);
  const results = await inParallel([
    () => runCli(["--db", db, "--format", "ndjson", "query", "--operation", "BEFORE"]),
    () => runCli(["query", "--operation", "AFTER", "--format=ndjson", "--db", db]),
    () => runCli(["--format", "csv", "query", "--db", db, "--limit", "0"]),
    () => runCli(["query", "--db", db], { env: { AUDIT_TRAIL_DB: other } }),
    () => runCli(["query"], { env: { AUDIT_TRAIL_DB: db } }),
  ]);
  assert.equal(JSON.parse(results[0].stdout).operation, "BEFORE");
  assert.equal(JSON.parse(results[1].stdout).operation, "AFTER");
  assert.equal(results[2].stdout.split("\r\n").length, 5);
  assert.equal(idsOf(results[3].stdout).length, 3, "--db wins over AUDIT_TRAIL_DB");
  assert.equal(idsOf(results[4].stdout).length, 3);
});

Deno.test("CLI --help, help COMMAND and --version print to stdout and exit 0", async () => {
  const cases: [string[], RegExp][] = [
    [["--help"], /^audit-trail \S+ — who did what to which SKU, and when\n\nUSAGE\n/],
    [["-h"], /^audit-trail \S+ — who did what/],
    [["help"], /^audit-trail \S+ — who did what/],
    [["help", "log"], /^audit-trail log — record one event/],
    [["log", "--help"], /^audit-trail log — record one event/],
    [["query", "-h"], /^audit-trail query — find events\n\nUSAGE\n/],
    [["--help", "batch"], /^audit-trail batch — group the events/],
    [["help", "migrate"], /^audit-trail migrate — create the database/],
    [["batch", "exec", "--help"], /^audit-trail batch — /],
    [["--version"], new RegExp(`^audit-trail ${VERSION.replaceAll(".", "\\.")}\n$`)],
    [["query", "--version"], new RegExp(`^audit-trail ${VERSION.replaceAll(".", "\\.")}\n$`)],
  ];
  const results = [];
  for (const [args] of cases) results.push(await runMain(args));
  results.forEach((result, i) => {
    const label = cases[i][0].join(" ");
    assert.equal(result.code, 0, `${label}: ${result.stderr}`);
    assert.equal(result.stderr, "", label);
    assert.match(result.stdout, cases[i][1], label);
  });
  for (const help of results.slice(3, 9)) {
    assert.match(help.stdout, /\nUSAGE\n/);
    assert.match(help.stdout, /\nEXAMPLES\n/);
  }
  // The real process agrees.
  assert.deepEqual(await runCli(["--version"]), results.at(-2));
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, "");
  assert.match(
    bare.stderr,
    /^audit-trail \S+ — who did what[\s\S]*\naudit-trail: error: Missing command\n/,
  );
});

Deno.test("CLI log from many processes at once stores every event, each acknowledged once", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const results = await inParallel(
    Array.from({ length: 12 }, (_, i) => () => runCli(["log", `PARALLEL_${i}`, "--db", db])),
    12,
  );
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  const ids = results.map((r) => Number(r.stdout)).sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: 12 }, (_, i) => i + 1));
  assert.equal(eventCount(db), 12);
});

Deno.test({
  name: "CLI log waits for another program's write lock instead of failing at once",
  ignore: (await lockWaitUnobservable()) !== null,
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const holder = new DatabaseSync(db);
    holder.exec("BEGIN IMMEDIATE");
    const child = cliCommand(["log", "WAITED", "--db", db]).spawn();
    // Released only once the process is seen waiting for it, however late it started.
    await untilWaitingForLock(child);
    holder.exec("COMMIT");
    holder.close();
    assert.deepEqual(await collectOutput(child), { code: 0, stdout: "1\n", stderr: "" });
  },
});

Deno.test("every help text fits in 100 columns", async () => {
  const top = await runMain(["--help"]);
  const section = top.stdout.split("\nCOMMANDS\n")[1]!.split("\n\n")[0]!;
  const names = section.split("\n").map((line) => line.trim().split(/\s+/)[0]!);
  assert.ok(names.includes("sync") && names.includes("archive"), section);
  for (const args of [["--help"], ...names.map((name) => [name, "--help"])]) {
    const help = await runMain(args);
    assert.equal(help.code, 0, `${args.join(" ")}: ${help.stderr}`);
    const wide = help.stdout.split("\n").filter((line) => [...line].length > 100);
    assert.deepEqual(wide, [], `${args.join(" ")}: lines wider than 100 columns`);
  }
});

Deno.test("--help and README name every PG variable the central store's connection reads", async () => {
  // The variables read are found in the code that reads them, so a new one cannot be missed.
  const sources = await Promise.all(
    ["../lib/central/url.ts", "../cli/central.ts"].map((file) =>
      Deno.readTextFile(new URL(file, import.meta.url))
    ),
  );
  const read = new Set(sources.join("\n").match(/(?<=["'`])PG[A-Z_]+(?=["'`])/g));
  assert.ok(read.has("PGPASSWORD") && read.has("PGHOST"), [...read].join(" "));
  const help = (await runMain(["--help"])).stdout;
  const environment = help.split("\nENVIRONMENT\n")[1]!.split("\n\n")[0]!;
  assert.match(environment, /see audit-trail help sync/);
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const table = readme.split("\n### Environment\n")[1]!.split("\n#")[0]!;
  for (const name of read) {
    assert.match(environment, new RegExp(`\\b${name}\\b`), `top-level --help lacks ${name}`);
    assert.match(table, new RegExp(`\`${name}\``), `README's Environment lacks ${name}`);
  }
});
