/**
 * Opening the database and what a write may store, through the real command line: paths that
 * name no file, a schema migrated by another build, operation names with control characters,
 * and time bounds at the ends of the calendar.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  cliCommand,
  type CliResult,
  collectOutput,
  fingerprint,
  runCli,
  runMain,
  tempDir,
} from "./helpers.ts";
import { eventCount, inParallel, migratedFile } from "./fixtures.ts";

const ONE_ERROR = /^audit-trail: error: [^\n]+\n(hint: [^\n]+\n)?$/;

/** Commands that open the database given with --db, each with the least it needs to run. */
const OPENING_COMMANDS = [
  ["migrate"],
  ["migrate", "--status"],
  ["log", "X"],
  ["query"],
  ["head"],
  ["verify"],
  ["batch", "list"],
];

Deno.test("CLI: --db :memory: (or empty, or a file: URI) is a usage error for every command, and nothing is created", async () => {
  await using dir = await tempDir();
  const commands = [...OPENING_COMMANDS, ["batch", "start"], ["bundle"]];
  const paths = [":memory:", "file::memory:", "file:app.db?mode=memory"];
  const cases = paths.flatMap((path) => commands.map((args) => [...args, "--db", path]));
  cases.push(["log", "X"], ["query"]);
  const results = await inParallel(cases.map((args, i) => () =>
    runCli(args, {
      cwd: dir.path,
      // The last two take the path from the environment, where "" would mean "unset".
      env: i >= cases.length - 2 ? { AUDIT_TRAIL_DB: ":memory:" } : {},
    })
  ));
  results.forEach((result, i) => {
    const label = `${cases[i].join(" ")}\n${result.stderr}`;
    assert.equal(result.code, 2, label);
    assert.match(result.stderr, ONE_ERROR, label);
    assert.match(
      result.stderr,
      /Database path ".*" (names a temporary in-memory database|is a SQLite URI), not a database file/,
      label,
    );
    assert.equal(result.stdout, "", label);
  });
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
});

Deno.test("CLI: after a migration checksum mismatch, log, query, batch and head refuse as migrate does", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  assert.equal((await runCli(["log", "BEFORE", "--db", db])).code, 0);
  const raw = new DatabaseSync(db);
  raw.exec("UPDATE audit_trail_migrations SET checksum = 'edited elsewhere' WHERE version = 2");
  raw.close();
  const before = await fingerprint(db);
  const cases = [
    ["migrate"],
    ["log", "AFTER"],
    ["query"],
    ["head"],
    ["batch", "start"],
    ["batch", "list"],
  ];
  const results = await inParallel(cases.map((args) => () => runCli([...args, "--db", db])));
  results.forEach((result, i) => {
    const label = `${cases[i].join(" ")}\n${result.stderr}`;
    assert.equal(result.code, 1, label);
    assert.match(result.stderr, ONE_ERROR, label);
    assert.match(
      result.stderr,
      /Migration 002_add_run_id_to_audit_log applied to ".*" differs from the one in this tool/,
      label,
    );
    assert.equal(result.stdout, "", label);
  });
  assert.equal(eventCount(db), 1);
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI: an operation with a control character is refused, alone and in --stdin, storing nothing", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const bad = [
    ["ORDER\tCONFIRMED", "U+0009"],
    ["ORDER\nCONFIRMED", "U+000A"],
    ["\x1b[31mORDER", "U+001B"],
    ["ORDER\x7f", "U+007F"],
    ["ORDER\u0085", "U+0085"],
    ["ORDER\u202eDEMRIFNOC", "U+202E"],
  ];
  const cases = bad.flatMap(([operation, code]) => [
    { args: ["log", operation, "--db", db], code, stdin: undefined },
    {
      args: ["log", "--stdin", "--db", db],
      code,
      stdin: `{"operation":"FINE"}\n${JSON.stringify({ operation })}\n`,
    },
  ]);
  const results = await inParallel(cases.map((c) => () => runCli(c.args, { stdin: c.stdin })));
  results.forEach((result, i) => {
    const { args, code, stdin } = cases[i];
    const label = `${JSON.stringify(args)}\n${result.stderr}`;
    assert.equal(result.code, 2, label);
    assert.match(result.stderr, ONE_ERROR, label);
    assert.match(
      result.stderr,
      new RegExp(
        `^audit-trail: error: ${
          stdin ? 'Line 2: "operation"' : "OPERATION"
        } contains a control character \\(${code.replace("+", "\\+")}\\)`,
      ),
      label,
    );
  });
  assert.equal(eventCount(db), 0);
  // Other text is not an operation's concern: details keep their tabs and newlines.
  const ok = await runCli(["log", "ÜBERPRÜFT_✓", "--details", "a\tb\nc", "--db", db]);
  assert.equal(ok.code, 0, ok.stderr);
});

Deno.test("CLI: --until 9999-12-31 and --since 0001-01-01 match every event; year 0075 stays 0075", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const raw = new DatabaseSync(db);
  // As an older writer stored it; the query reads its timestamp in either form.
  raw.exec("INSERT INTO audit_log (timestamp, operation) VALUES ('0075-03-01 10:00:00', 'OLD')");
  raw.close();
  assert.equal((await runCli(["log", "NOW", "--db", db])).code, 0);
  const operations = async (...args: string[]) => {
    const result = await runCli(["query", "--db", db, "--format", "json", ...args]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout).map((e: { operation: string }) => e.operation);
  };
  assert.deepEqual(await operations("--until", "9999-12-31"), ["NOW", "OLD"]);
  assert.deepEqual(await operations("--until", "9999-12-31T23:59:59.999-23:59"), ["NOW", "OLD"]);
  assert.deepEqual(await operations("--since", "0001-01-01"), ["NOW", "OLD"]);
  assert.deepEqual(await operations("--since", "0075-03-01", "--until", "0075-03-01"), ["OLD"]);
  assert.deepEqual(await operations("--since", "1975-03-01", "--until", "1975-03-01"), []);
  const json = JSON.parse((await runCli(["query", "--db", db, "--format", "json"])).stdout);
  assert.equal(json[1].timestamp, "0075-03-01T10:00:00.000Z");
});

/**
 * Runs the CLI, killing it after two minutes: not a time limit on the command, only so that a
 * command that waits forever (on a named pipe) fails the test instead of stalling the suite.
 */
async function runUnlessStuck(
  args: string[],
  cwd: string,
): Promise<CliResult & { stuck: boolean }> {
  const child = cliCommand(args, { cwd }).spawn();
  let stuck = false;
  const timer = setTimeout(() => {
    stuck = true;
    child.kill("SIGKILL");
  }, 120_000);
  try {
    return { ...await collectOutput(child), stuck };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "CLI: a --db that is a named pipe, a device, a link loop or broken link, or ends in / fails at once, creating nothing",
  // Named pipes and device files as Unix has them.
  ignore: Deno.build.os === "windows",
}, async () => {
  await using dir = await tempDir();
  const made = await new Deno.Command("mkfifo", { args: [join(dir.path, "pipe.db")] }).output();
  assert.equal(made.code, 0, "mkfifo");
  const paths: [string, RegExp, number][] = [
    ["pipe.db", /Database path "pipe\.db" is a named pipe, not a database file/, 1],
    ["loop.db", /Database path "loop\.db" is a loop of symbolic links/, 1],
    [
      "broken.db",
      /Database path "broken\.db" is a symbolic link to ".*gone.db", which does not/,
      1,
    ],
    ["new/", /Database path "new\/" ends in a folder separator, not a file name/, 2],
  ];
  Deno.symlinkSync("loop2.db", join(dir.path, "loop.db"));
  Deno.symlinkSync("loop.db", join(dir.path, "loop2.db"));
  Deno.symlinkSync(join(dir.path, "missing", "gone.db"), join(dir.path, "broken.db"));
  // A copy of /dev/null: SQLite once left "null-journal" beside the device it was given.
  if (Deno.uid() === 0) {
    const device = await new Deno.Command("mknod", {
      args: [join(dir.path, "null.db"), "c", "1", "3"],
    }).output();
    if (device.code === 0) {
      paths.push(["null.db", /Database path "null\.db" is a device, not a database file/, 1]);
    }
  }
  const listed = () => [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  const before = listed();
  const commands = [
    ...OPENING_COMMANDS,
    ["stats"],
    ["report"],
    ["archive", "--keep", "1", "--dry-run"],
    ["serve", "--port", "0"],
  ];
  const cases = paths.flatMap(([path, message, code]) =>
    commands.map((args) => ({ args: [...args, "--db", path], message, code }))
  );
  const results = await inParallel(cases.map(({ args }) => () => runUnlessStuck(args, dir.path)));
  results.forEach((result, i) => {
    const label = `${cases[i].args.join(" ")}\n${result.stderr}`;
    assert.ok(!result.stuck, `${label}: still waiting after two minutes`);
    assert.equal(result.code, cases[i].code, label);
    assert.match(result.stderr, ONE_ERROR, label);
    assert.match(result.stderr, cases[i].message, label);
    assert.equal(result.stdout, "", label);
  });
  assert.deepEqual(listed(), before, "no journal, database or folder was created");

  // A bundle is made whatever the database: it says what it is instead of reading the pipe.
  const bundle = await runUnlessStuck(["bundle", "--db", "pipe.db", "--output", "out"], dir.path);
  assert.ok(!bundle.stuck, "bundle still waiting after two minutes");
  assert.equal(bundle.code, 1, bundle.stderr);
  assert.match(bundle.stdout, /out\/debug_bundle_\d{8}_\d{6}\n$/);
  assert.match(bundle.stderr, /incomplete: database_backup\.db: .*is a named pipe/);
});

Deno.test("CLI: migrate into a folder that cannot be made says why, with a hint, and makes nothing", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "inventory.csv");
  await Deno.writeTextFile(file, "sku,qty\n");
  const result = await runMain(["migrate", "--db", join(file, "data", "app.db")]);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, ONE_ERROR);
  assert.match(
    result.stderr,
    /^audit-trail: error: Cannot create the folder for ".*inventory\.csv\/data\/app\.db": a part of ".*inventory\.csv\/data" is a file, not a folder\n/,
  );
  assert.match(
    result.stderr,
    /\nhint: Check the path: a part of it may be a file rather than a folder/,
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["inventory.csv"]);
});

Deno.test({
  name: "CLI: a database SQLite cannot open or create is named, without SQLite's own words",
  // /proc takes no new files, whoever runs the test (root included).
  ignore: Deno.build.os !== "linux",
  async fn() {
    const path = "/proc/audit-trail-test.db";
    const result = await runMain(["migrate", "--db", path]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `audit-trail: error: Cannot open the database "${path}"\n` +
        "hint: Check that the path is right and that this user may read and write the file and its folder.\n",
    );
    assert.equal(result.stdout, "");
  },
});
