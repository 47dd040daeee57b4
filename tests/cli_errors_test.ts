/**
 * Bad input through the command line: a one-line error, the right exit code, empty stdout,
 * and nothing stored or changed. The cases run through `main()` in this process (a process
 * each would add only start-up time); the first of each group also runs as a real process,
 * which must give the same result.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { LATEST_SCHEMA_VERSION } from "./internals.ts";
import {
  cliCommand,
  type CliOptions,
  type CliResult,
  fingerprint,
  runCli,
  runMain,
  tempDir,
} from "./helpers.ts";
import { eventCount, migratedFile, writeLegacyDatabase } from "./fixtures.ts";

interface BadInput {
  args: string[];
  code: 1 | 2;
  message: RegExp;
  options?: CliOptions;
}

/** The error line, and at most one hint line after it: nothing else, no stack trace. */
const ONE_ERROR = /^audit-trail: error: [^\n]+\n(hint: [^\n]+\n)?$/;
/** The error line and its hint: what to do instead. */
const ERROR_AND_HINT = /^audit-trail: error: [^\n]+\nhint: [^\n]+\n$/;

/**
 * Runs each bad input against `db` and checks it failed cleanly and changed nothing. The
 * first also runs as a process: the real path must agree with the in-process one.
 */
async function expectRefused(
  db: string,
  cases: BadInput[],
  shape: RegExp = ONE_ERROR,
): Promise<void> {
  const before = await fingerprint(db);
  const events = eventCount(db);
  const results: CliResult[] = [];
  for (const c of cases) results.push(await runMain(c.args, c.options));
  assert.deepEqual(await runCli(cases[0].args, cases[0].options), results[0], "as a process");
  results.forEach((result, i) => {
    const { args, code, message } = cases[i];
    const label = `${JSON.stringify(args).slice(0, 120)}\n${result.stderr}`;
    assert.equal(result.code, code, label);
    assert.match(result.stderr, shape, label);
    assert.match(result.stderr.split("\n")[0], message, label);
    assert.equal(result.stdout, "", label);
  });
  assert.equal(eventCount(db), events);
  assert.equal(await fingerprint(db), before);
}

Deno.test("CLI: unknown commands and options are usage errors (exit 2)", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await expectRefused(db, [
    { args: ["frobnicate", "--db", db], code: 2, message: /Unknown command "frobnicate"/ },
    { args: ["--db", db, "qeury"], code: 2, message: /Unknown command "qeury"/ },
    { args: ["help", "frobnicate"], code: 2, message: /Unknown command "frobnicate"/ },
    { args: ["--bogus", "query", "--db", db], code: 2, message: /Unknown option "--bogus"/ },
    { args: ["query", "--db", db, "--bogus"], code: 2, message: /Unknown option "--bogus"/ },
    {
      args: ["log", "X", "--db", db, "--sku-id", "S"],
      code: 2,
      message: /Unknown option "--sku-id"/,
    },
    { args: ["log", "X", "--db", db, "-x"], code: 2, message: /Unknown option "-x"/ },
    { args: ["migrate", "--db", db, "--force"], code: 2, message: /Unknown option "--force"/ },
    {
      args: ["batch", "--db", db, "stop", "r"],
      code: 2,
      message: /Unknown batch subcommand "stop"/,
    },
    { args: ["batch", "--db", db], code: 2, message: /Missing batch subcommand/ },
    { args: ["batch", "list", "--db", db, "--all"], code: 2, message: /Unknown option "--all"/ },
    { args: ["query", "--db", db, "SKU-1"], code: 2, message: /Unexpected argument "SKU-1"/ },
    { args: ["log", "A", "B", "--db", db], code: 2, message: /Unexpected argument "B"/ },
    { args: ["query", "--db"], code: 2, message: /Option --db needs a value/ },
    { args: ["query", "--db", db, "--format"], code: 2, message: /Option --format needs a value/ },
    { args: ["query", "--db", db, "--sku"], code: 2, message: /Option --sku needs a value/ },
  ]);
});

Deno.test("CLI: log refuses a missing, empty or over-long operation and over-long details, naming OPERATION or the option", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await expectRefused(db, [
    { args: ["log", "--db", db], code: 2, message: /Missing OPERATION/ },
    { args: ["log", "--db", db, "--sku", "SKU-1"], code: 2, message: /Missing OPERATION/ },
    {
      args: ["log", "", "--db", db],
      code: 2,
      message: /^audit-trail: error: OPERATION must not be empty$/,
    },
    {
      args: ["log", "  ", "--db", db],
      code: 2,
      message: /^audit-trail: error: OPERATION must not be empty$/,
    },
    {
      args: ["log", "O".repeat(101), "--db", db],
      code: 2,
      message: /^audit-trail: error: OPERATION is 101 characters long; at most 100 are allowed$/,
    },
    {
      args: ["log", "X", "--db", db, "--details", "d".repeat(65_537)],
      code: 2,
      message:
        /^audit-trail: error: --details is 65537 characters long; at most 65536 are allowed$/,
    },
    {
      args: ["log", "X", "--db", db, "--sku", "s".repeat(257)],
      code: 2,
      message: /^audit-trail: error: --sku is 257 characters long; at most 256 are allowed$/,
    },
    {
      args: ["batch", "start", "d".repeat(65_537), "--db", db],
      code: 2,
      message:
        /^audit-trail: error: DESCRIPTION is 65537 characters long; at most 65536 are allowed$/,
    },
    {
      args: ["batch", "end", "R1", "d".repeat(65_537), "--db", db],
      code: 2,
      message: /^audit-trail: error: SUMMARY is 65537 characters long; at most 65536 are allowed$/,
    },
    {
      // Was named "details", its field in the library, and nothing was run.
      args: ["batch", "exec", "--description", "d".repeat(65_537), "--db", db, "--", "true"],
      code: 2,
      message:
        /^audit-trail: error: --description is 65537 characters long; at most 65536 are allowed$/,
    },
    {
      args: ["batch", "exec", "--db", db, "--", "c".repeat(65_537)],
      code: 2,
      message: /^audit-trail: error: COMMAND is 65537 characters long; at most 65536 are allowed$/,
    },
    // From the environment rather than an option: the field keeps its own name.
    {
      args: ["log", "X", "--db", db],
      code: 2,
      message: /^audit-trail: error: "user" is 257 characters long; at most 256 are allowed$/,
      options: { env: { AUDIT_TRAIL_USER: "u".repeat(257) } },
    },
  ]);
  // Every one of them with the same hint.
  const refused = await runMain(["log", "", "--db", db]);
  assert.equal(
    refused.stderr.split("\n")[1],
    "hint: Nothing was written. Correct it and run it again.",
  );
  // Exactly at the limits is accepted.
  const ok = await runCli(["log", "O".repeat(100), "--db", db, "--details", "d".repeat(65_536)]);
  assert.deepEqual(ok, { code: 0, stdout: "1\n", stderr: "" });
  const [event] = JSON.parse((await runMain(["query", "--db", db])).stdout);
  assert.equal(event.operation.length, 100);
  assert.equal(event.details.length, 65_536);
});

Deno.test("CLI: a run id with whitespace is refused wherever it is given", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await runMain(["log", "SEED", "--db", db, "--run-id", "run_ok"]);
  const whitespace = /Run id "run 1" contains whitespace/;
  await expectRefused(db, [
    { args: ["log", "X", "--db", db, "--run-id", "run 1"], code: 2, message: whitespace },
    {
      args: ["log", "X", "--db", db],
      code: 2,
      message: /AUDIT_TRAIL_RUN_ID: run id "run 1" contains whitespace/,
      options: { env: { AUDIT_TRAIL_RUN_ID: "run 1" } },
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /AUDIT_TRAIL_RUN_ID: run id "run 1" contains whitespace/,
      options: { env: { AUDIT_TRAIL_RUN_ID: "run 1" }, stdin: '{"operation":"X"}\n' },
    },
    {
      args: ["log", "--stdin", "--db", db, "--run-id", "run 1"],
      code: 2,
      message: whitespace,
      options: { stdin: '{"operation":"X"}\n' },
    },
    {
      args: ["log", "X", "--db", db, "--run-id", "run_ok\t"],
      code: 2,
      message: /contains whitespace/,
    },
    { args: ["batch", "end", "run 1", "--db", db], code: 2, message: whitespace },
    {
      args: ["log", "X", "--db", db, "--run-id", "r".repeat(129)],
      code: 2,
      message: /at most 128/,
    },
  ]);
  // The hints name the command that prints a run id as every other hint names a command:
  // plainly, without Markdown's backticks.
  const hints = await Promise.all([
    runMain(["log", "X", "--db", db, "--run-id", "run 1"]),
    runMain(["log", "X", "--db", db], { env: { AUDIT_TRAIL_RUN_ID: "run 1" } }),
    runMain(["batch", "end", "--db", db]),
  ]);
  assert.deepEqual(hints.map((result) => result.stderr.split("\n")[1]), [
    "hint: Use the id printed by audit-trail batch start, or 1-128 characters without spaces.",
    "hint: Unset it, or set it to a run id printed by audit-trail batch start.",
    "hint: Use the id printed by audit-trail batch start (audit-trail batch list shows them).",
  ]);
});

Deno.test("CLI: bad --limit, --offset, --order, --format, --since and --until values are usage errors", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await runMain(["log", "SEED", "--db", db]);
  const count = /--limit must be a whole number of 0 or more/;
  await expectRefused(db, [
    {
      args: ["query", "--db", db, "--limit", "-1"],
      code: 2,
      message: /--limit must be a whole number of 0 or more, not "-1"/,
    },
    { args: ["batch", "list", "--db", db, "--limit", "-3"], code: 2, message: count },
    { args: ["query", "--db", db, "--after-id", "-2"], code: 2, message: /--after-id must be/ },
    { args: ["query", "--db", db, "--limit=-1"], code: 2, message: count },
    { args: ["query", "--db", db, "--limit", "ten"], code: 2, message: count },
    { args: ["query", "--db", db, "--limit", "1.5"], code: 2, message: count },
    { args: ["query", "--db", db, "--limit", ""], code: 2, message: count },
    { args: ["batch", "list", "--db", db, "--limit", "x"], code: 2, message: count },
    {
      args: ["query", "--db", db, "--offset", "-"],
      code: 2,
      message: /--offset must be a whole number/,
    },
    { args: ["query", "--db", db, "--before-id", "abc"], code: 2, message: /--before-id must be/ },
    {
      args: ["query", "--db", db, "--order", "up"],
      code: 2,
      message: /--order must be "desc" or "asc", not "up"/,
    },
    { args: ["query", "--db", db, "--format", "xml"], code: 2, message: /Unknown format "xml"/ },
    { args: ["--format=XML", "query", "--db", db], code: 2, message: /Unknown format "XML"/ },
    {
      args: ["log", "X", "--db", db, "--format", "yaml"],
      code: 2,
      message: /Unknown format "yaml"/,
    },
    {
      args: ["query", "--db", db, "--since", "yesterday"],
      code: 2,
      message: /--since "yesterday" is not a valid date or time/,
    },
    {
      args: ["query", "--db", db, "--since", "2026-02-30"],
      code: 2,
      message: /--since "2026-02-30"/,
    },
    {
      args: ["query", "--db", db, "--until", "16.02.2026"],
      code: 2,
      message: /--until "16.02.2026"/,
    },
    {
      args: ["query", "--db", db, "--since", "2026-02-16T12:00+99:99"],
      code: 2,
      message: /--since "2026-02-16T12:00\+99:99" is not a valid date or time/,
    },
    {
      args: ["query", "--db", db, "--until", "2026-02-16T12:00+05:99"],
      code: 2,
      message: /--until "2026-02-16T12:00\+05:99" is not a valid date or time/,
    },
    { args: ["query", "--db", db, "--since", "0000-12-31"], code: 2, message: /--since "0000/ },
  ]);
});

Deno.test("CLI: log --stdin refuses an invalid line, names it, and stores nothing of the input", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await runMain(["log", "SEED", "--db", db]);
  const good = '{"operation":"A"}\n{"operation":"B"}\n';
  const stdin = (text: string) => ({ stdin: text });
  await expectRefused(db, [
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /^audit-trail: error: Line 3: not valid JSON/,
      options: stdin(good + '{"operation": "C"\n{"operation":"D"}\n'),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 4: expected an event object like \{"operation": "..."\}, got an array/,
      options: stdin(good + '\n["operation"]\n'),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 2: expected an event object .*got string/,
      options: stdin('{"operation":"A"}\r\n"ORDER_CONFIRMED"\r\n'),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 1: "operation" is missing/,
      options: stdin('{"sku":"SKU-1","details":"no operation"}\n' + good),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 3: field "user" is given more than once$/,
      options: stdin(good + '{"operation":"C","user":"ana","user":"bo"}\n'),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 2: "sku" must be a string, got number/,
      options: stdin('{"operation":"A"}\n{"operation":"B","sku":1001}\n'),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 3: "details" is 65537 characters long/,
      options: stdin(good + JSON.stringify({ operation: "C", details: "d".repeat(65_537) }) + "\n"),
    },
    {
      args: ["log", "--stdin", "--db", db],
      code: 2,
      message: /Line 2: is not valid UTF-8 text/,
      options: {
        stdin: new Uint8Array([...new TextEncoder().encode(good.slice(0, 18)), 0xc3, 0x28, 0x0a]),
      },
    },
    {
      args: ["log", "--stdin", "X", "--db", db],
      code: 2,
      message: /log --stdin takes no OPERATION argument/,
      options: stdin(good),
    },
    {
      args: ["log", "--stdin", "--sku", "S", "--db", db],
      code: 2,
      message: /--sku cannot be used with --stdin/,
      options: stdin(good),
    },
  ]);
});

Deno.test("CLI: a --db that is a folder or not a SQLite file fails with exit 1 and is left untouched", async () => {
  await using dir = await tempDir();
  const notSqlite = join(dir.path, "inventory.csv");
  await Deno.writeTextFile(notSqlite, "sku,qty\nSKU-1,45\n".repeat(100));
  const before = await fingerprint(notSqlite);
  const cases: BadInput[] = [];
  for (
    const args of [["migrate"], ["log", "X"], ["query"], ["batch", "start"], ["batch", "list"]]
  ) {
    cases.push({
      args: [...args, "--db", dir.path],
      code: 1,
      message:
        /Database path ".*" is a folder, not a database file\nhint: Give the path of the database file itself/,
    });
    cases.push({
      args: [...args, "--db", notSqlite],
      code: 1,
      message: /Database cannot be read: ".*inventory\.csv"/,
    });
  }
  cases.push({
    args: ["migrate", "--status", "--db", notSqlite],
    code: 1,
    message: /Database cannot be read/,
  });
  cases.push({
    args: ["migrate", "--dry-run", "--db", notSqlite],
    code: 1,
    message: /Database cannot be read/,
  });
  const results: CliResult[] = [];
  for (const c of cases) results.push(await runMain(c.args));
  results.forEach((result, i) => {
    const label = `${cases[i].args.join(" ")}\n${result.stderr}`;
    assert.equal(result.code, 1, label);
    assert.match(result.stderr, ONE_ERROR, label);
    assert.match(result.stderr, cases[i].message, label);
    if (cases[i].args.includes(dir.path)) assert.doesNotMatch(result.stderr, /damaged|support/);
    assert.equal(result.stdout, "", label);
  });
  assert.equal(await fingerprint(notSqlite), before);
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["inventory.csv"]);
});

Deno.test("CLI: commands other than migrate fail on a missing database with a hint and create nothing", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "data", "app.db");
  const cases: string[][] = [
    ["log", "X", "--db", db],
    ["log", "--stdin", "--db", db],
    ["query", "--db", db],
    ["batch", "start", "--db", db],
    ["batch", "end", "run_1", "--db", db],
    ["batch", "show", "run_1", "--db", db],
    ["batch", "list", "--db", db],
    ["batch", "exec", "--db", db, "--", Deno.execPath(), "--version"],
    ["query"], // the default, data/app.db under the current folder
  ];
  const results: CliResult[] = [];
  for (const args of cases) {
    const stdin = args.includes("--stdin") ? '{"operation":"X"}\n' : undefined;
    results.push(await runMain(args, { cwd: dir.path, stdin }));
  }
  results.forEach((result, i) => {
    const label = `${cases[i].join(" ")}\n${result.stderr}`;
    assert.equal(result.code, 1, label);
    assert.equal(result.stdout, "", label);
    assert.match(
      result.stderr,
      /^audit-trail: error: Database not found: ".*app\.db"\nhint: Create it with: audit-trail migrate --db ".*app\.db"/,
      label,
    );
  });
  assert.equal(existsSync(join(dir.path, "data")), false);
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("CLI: filter values holding SQL are matched as text, never run", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await runMain(["log", "ORDER_CONFIRMED", "--db", db, "--sku", "SKU-1"]);
  await runMain(["log", "NOTE", "--db", db, "--sku", "x' OR 1=1 --"]);
  const before = await fingerprint(db);
  const cases: [string[], number[]][] = [
    [["--sku", "x' OR 1=1 --"], [2]],
    [["--sku", "' OR '1'='1"], []],
    [["--operation", "X'; DROP TABLE audit_log; --"], []],
    [["--run-id", "' OR run_id IS NULL --"], []],
    [["--user", '" OR ""="'], []],
    [["--contains", "%' OR 1=1 --"], []],
    [["--since", "2026-01-01' OR '1'='1"], []],
  ];
  const results: CliResult[] = [];
  for (const [args] of cases) results.push(await runMain(["query", "--db", db, ...args]));
  results.forEach((result, i) => {
    const [args, expected] = cases[i];
    if (args[0] === "--since") {
      assert.equal(result.code, 2, result.stderr);
      return;
    }
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      JSON.parse(result.stdout).map((e: { audit_id: number }) => e.audit_id),
      expected,
      args.join(" "),
    );
  });
  assert.equal(eventCount(db), 2);
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI: query --limit 0 stops quietly with exit 0 when the reader closes stdout early", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const lines = Array.from(
    { length: 20_000 },
    (_, i) => JSON.stringify({ operation: "COUNTED", sku: `SKU-${i}`, details: "x".repeat(40) }),
  );
  const seeded = await runMain(["log", "--stdin", "--db", db], { stdin: lines.join("\n") });
  assert.equal(seeded.code, 0, seeded.stderr);
  for (const format of ["ndjson", "json", "csv"]) {
    const child = cliCommand(["query", "--limit", "0", "--format", format, "--db", db]).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read(); // like `head -1`: one chunk, then close the pipe
    assert.ok(first.value && first.value.length > 0);
    await reader.cancel();
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.equal(stderr, "", format);
    assert.equal(status.code, 0, format);
  }
});

Deno.test("CLI: a database not migrated, or migrated by a newer tool, is refused and left untouched", async () => {
  await using dir = await tempDir();
  const legacy = join(dir.path, "legacy.db");
  writeLegacyDatabase(legacy);
  await expectRefused(legacy, [
    { args: ["log", "X", "--db", legacy], code: 1, message: /is not set up for audit-trail yet/ },
    { args: ["query", "--db", legacy], code: 1, message: /is not set up for audit-trail yet/ },
    {
      args: ["batch", "list", "--db", legacy],
      code: 1,
      message: /is not set up for audit-trail yet/,
    },
  ]);
  const newer = migratedFile(dir.path, "newer.db");
  const db = new DatabaseSync(newer);
  db.prepare(
    "INSERT INTO audit_trail_migrations (version, name, checksum) VALUES (?, 'future', '')",
  )
    .run(LATEST_SCHEMA_VERSION + 1);
  db.close();
  const newerThanTool = /newer than this tool knows/;
  await expectRefused(newer, [
    { args: ["migrate", "--db", newer], code: 1, message: newerThanTool },
    { args: ["migrate", "--status", "--db", newer], code: 1, message: newerThanTool },
    { args: ["log", "X", "--db", newer], code: 1, message: newerThanTool },
    { args: ["query", "--db", newer], code: 1, message: newerThanTool },
  ]);
});

Deno.test("CLI: usage errors found by generated command lines each say what to write instead", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const url = "postgres://u@127.0.0.1:1/d";
  await expectRefused(db, [
    {
      args: ["--db=", "log", "X"],
      code: 2,
      message: /^audit-trail: error: --db must not be empty$/,
    },
    {
      args: ["query", "--db", db, "--order", ""],
      code: 2,
      message: /--order must be "desc" or "asc"/,
    },
    {
      args: ["query", "--db", db, "--limit", "9007199254740993"],
      code: 2,
      message: /--limit is too large: at most 9007199254740991, not "9007199254740993"/,
    },
    { args: ["log", "a".repeat(101), "--db", db], code: 2, message: /at most 100 are allowed/ },
    { args: ["log", "\u202eX", "--db", db], code: 2, message: /control character \(U\+202E\)/ },
    {
      args: ["batch", "start", "--user", "", "--db", db],
      code: 2,
      message: /^audit-trail: error: --user must not be empty$/,
    },
    { args: ["batch", "end", "R1", "b".repeat(65_537), "--db", db], code: 2, message: /65537/ },
    { args: ["serve", "--db", db, "--host="], code: 2, message: /--host must not be empty/ },
    { args: ["serve", "--db", db, "--port", "65536"], code: 2, message: /65535 or less/ },
    { args: ["serve", "--db", db, "--time-limit", "-0"], code: 2, message: /seconds above 0/ },
    {
      args: ["query", "--db", db, "--central", url, "--archives", dir.path],
      code: 2,
      message: /--archives is for this database, not for --central/,
    },
    {
      args: ["sync", "--db", db, "--central", url, "--site", "s1", "--watch", "--interval", "0"],
      code: 2,
      message: /--interval must be at least 1 second/,
    },
    {
      args: ["verify", "--db", db, "--central", url, "--anchor", "1:ab"],
      code: 2,
      message: /--anchor is for this database, not for --central/,
    },
  ], ERROR_AND_HINT);
});
