/**
 * Opening the database and what a write may store, through the real command line: paths that
 * name no file, a schema migrated by another build, operation names with control characters,
 * and time bounds at the ends of the calendar.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { eventCount, inParallel, migratedFile } from "./fixtures.ts";

const ONE_ERROR = /^audit-trail: error: [^\n]+\n(hint: [^\n]+\n)?$/;

Deno.test("CLI: --db :memory: (or empty, or a file: URI) is a usage error for every command, and nothing is created", async () => {
  await using dir = await tempDir();
  const commands = [
    ["migrate"],
    ["migrate", "--status"],
    ["log", "X"],
    ["query"],
    ["head"],
    ["verify"],
    ["batch", "start"],
    ["batch", "list"],
    ["bundle"],
  ];
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
          stdin ? "Line 2: " : ""
        }"operation" contains a control character \\(${code.replace("+", "\\+")}\\)`,
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
