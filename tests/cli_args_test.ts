/**
 * The command line as scripts meet it: a value is always its option's value, global options
 * are recognised only where they can be options, and a format a command cannot print is
 * refused. Through the real `cli.ts`, checking that nothing was stored.
 *
 * @module
 */
import assert from "node:assert/strict";
import { main } from "../cli.ts";
import type { CliIo } from "../cli/context.ts";
import { join } from "node:path";
import { runCli, runMain, tempDir } from "./helpers.ts";
import { eventCount, migratedFile } from "./fixtures.ts";

const ONE_ERROR = /^audit-trail: error: [^\n]+\nhint: [^\n]+\n$/;

Deno.test("a value that looks like --version, -h or --help is never taken for the flag", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  for (
    const args of [
      ["log", "NOTE", "--details", "--version"],
      ["log", "NOTE", "--details", "-h"],
      ["log", "NOTE", "--sku", "--help"],
      ["log", "NOTE", "--user", "--db"],
      ["query", "--sku", "--help"],
      ["batch", "start", "--user", "--version"],
    ]
  ) {
    const result = await runCli([...args, "--db", db]);
    const label = `${args.join(" ")}\n${result.stderr}`;
    assert.equal(result.code, 2, label);
    assert.equal(result.stdout, "", label);
    assert.match(result.stderr, ONE_ERROR, label);
    assert.match(result.stderr, /needs a value, not the option-like/, label);
    assert.match(result.stderr, /write --[a-z]+=-/, label);
  }
  assert.equal(eventCount(db), 0);
});

Deno.test("a value given with '=' is stored as written, even when it looks like a flag", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const logged = await runCli(["log", "NOTE", "--details=--version", "--sku=-h", "--db", db]);
  assert.equal(logged.code, 0, logged.stderr);
  assert.match(logged.stdout, /^\d+\n$/);
  const shown = await runCli(["query", "--db", db, "--format", "json"]);
  const [event] = JSON.parse(shown.stdout);
  assert.equal(event.details, "--version");
  assert.equal(event.sku, "-h");
});

Deno.test("global options work before the command, after it, and between batch and its subcommand", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const started = await runCli(["batch", "--db", db, "start", "Nightly"]);
  assert.equal(started.code, 0, started.stderr);
  const runId = started.stdout.trim();
  const shown = await runCli(["--format", "json", "batch", "show", runId, "--db", db]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).event_count, 1);
  const help = await runCli(["batch", "show", runId, "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^audit-trail batch/);
  const version = await runCli(["query", "--version"]);
  assert.match(version.stdout, /^audit-trail \d+\.\d+\.\d+\n$/);
});

Deno.test("an option given twice is refused, not silently the last one", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  for (
    const args of [
      ["log", "NOTE", "--sku", "A", "--sku", "B", "--db", db],
      ["query", "--limit", "1", "--limit=2", "--db", db],
      ["--db", db, "log", "NOTE", "--db", db],
      ["log", "NOTE", "--db", db, "--format", "json", "--format", "json"],
    ]
  ) {
    const result = await runCli(args);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /is given more than once/);
  }
  assert.equal(eventCount(db), 0);
});

Deno.test("a --format a command cannot print is a usage error, not silently ignored", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const cases: [string[], string | undefined][] = [
    [["migrate", "--format", "csv"], undefined],
    [["verify", "--format", "csv"], undefined],
    [["head", "--format", "csv"], undefined],
    [["log", "--stdin", "--format", "csv"], '{"operation":"X"}\n'],
    [["bundle", "verify", "nowhere.zip", "--format", "csv"], undefined],
    [["batch", "start", "--format", "csv"], undefined],
    [["batch", "end", "R1", "--format", "csv"], undefined],
  ];
  // These print a path, an address or nothing of their own: no format at all.
  const plain = [
    ["report", "--format", "json"],
    ["bundle", "--format", "csv"],
    ["serve", "--port", "0", "--format", "table"],
    ["batch", "exec", "--format", "ndjson", "--", "true"],
  ];
  const files = () => [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  const before = files();
  for (const [args, stdin] of [...cases, ...plain.map((args) => [args, undefined] as const)]) {
    const result = await runCli([...args, "--db", db], { stdin });
    const label = `${args.join(" ")}\n${result.stderr}`;
    assert.equal(result.code, 2, label);
    assert.match(result.stderr, /cannot print --format (csv|json|table|ndjson)\nhint: /, label);
    if (plain.includes(args)) assert.match(result.stderr, /prints no records: leave out --format/);
    assert.equal(result.stdout, "", label);
  }
  assert.deepEqual(files(), before, "no report, bundle or batch was made");
  assert.equal(eventCount(db), 0);
});

Deno.test("log --stdin says on stderr how to end the input when a person types it", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdin: ReadableStream.from([new TextEncoder().encode('{"operation":"TYPED"}\n')]),
    stdinIsTerminal: true,
    stdout: { isTerminal: false, write: (text) => Promise.resolve(void (stdout += text)) },
    stderr: { isTerminal: true, write: (text) => Promise.resolve(void (stderr += text)) },
    env: () => undefined,
    cwd: () => dir.path,
  };
  assert.equal(await main(["log", "--stdin", "--db", db], io), 0, stderr);
  assert.match(stderr, /end with Ctrl-D \(on Windows: Ctrl-Z, Enter\)/);
  assert.equal(JSON.parse(stdout).inserted, 1);
  assert.equal(eventCount(db), 1);
});

Deno.test("log --stdin shows its summary as a table on a terminal, as one JSON line in a pipe", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  for (const isTerminal of [true, false]) {
    let stdout = "";
    const io: CliIo = {
      stdin: ReadableStream.from([
        new TextEncoder().encode('{"operation":"A"}\n{"operation":"B"}\n'),
      ]),
      stdout: { isTerminal, write: (text) => Promise.resolve(void (stdout += text)) },
      stderr: { isTerminal: false, write: () => Promise.resolve() },
      env: () => undefined,
      cwd: () => dir.path,
    };
    assert.equal(await main(["log", "--stdin", "--db", db], io), 0);
    const first = isTerminal ? 1 : 3;
    assert.equal(
      stdout,
      isTerminal
        ? `inserted        2\nfirst_audit_id  ${first}\nlast_audit_id   ${first + 1}\n`
        : `{"inserted":2,"first_audit_id":${first},"last_audit_id":${first + 1}}\n`,
    );
  }
});

Deno.test("an error quoting what was given shows its control characters escaped, never raw", async () => {
  await using dir = await tempDir();
  const result = await runCli(["\x1b[2J\u202Elog"], { cwd: dir.path });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr.split("\n")[0],
    'audit-trail: error: Unknown command "\\x1b[2J\\u202Elog"',
  );
  assert.ok(!result.stderr.includes("\x1b") && !result.stderr.includes("\u202e"));
  const path = await runCli(["query", "--db", `${dir.path}/\x07bell\u202E.db`]);
  assert.equal(path.code, 1);
  assert.match(path.stderr, /\\x07bell\\u202E\.db/);
  assert.ok(!path.stderr.includes("\x07") && !path.stderr.includes("\u202e"));
  // A line break is escaped too, in the message and in the hint: neither a space that names
  // another file, nor a hint cut in two.
  const broken = await runCli(["query", "--db", "in\nventory.db"], { cwd: dir.path });
  assert.equal(broken.code, 1);
  assert.equal(
    broken.stderr,
    'audit-trail: error: Database not found: "in\\nventory.db"\n' +
      'hint: Create it with: audit-trail migrate --db "in\\nventory.db" (or pass --db / set AUDIT_TRAIL_DB)\n',
  );
});

Deno.test("an empty file or folder option is a usage error, never taken for the working folder", async () => {
  await using dir = await tempDir();
  const work = join(dir.path, "work");
  Deno.mkdirSync(work);
  const db = migratedFile(work);
  const cases = [
    ["report", "--output", ""],
    ["report", "--output="],
    ["bundle", "--output", ""],
    ["bundle", "--settings", ""],
    ["query", "--archives", ""],
    ["verify", "--archives", ""],
    ["batch", "show", "R1", "--archives", ""],
    ["archive", "--keep", "1", "--to", ""],
    ["sync", "--site", "S1", "--central", "postgres://u@127.0.0.1:1/d", "--archives", ""],
  ];
  const results = [
    await runCli([...cases[0], "--db", db], { cwd: work }),
    ...await Promise.all(cases.map((args) => runMain([...args, "--db", db], { cwd: work }))),
  ];
  results.forEach((result, i) => {
    const args = cases[Math.max(0, i - 1)];
    const option = args.findLast((a) => a.startsWith("--") && a !== "--keep" && a !== "--db")!;
    const name = option.replace(/=$/, "");
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(
      result.stderr,
      `audit-trail: error: ${name} must not be empty\nhint: Give a path with ${name}, or leave the option out.\n`,
    );
    assert.equal(result.stdout, "");
  });
  const names = (path: string) => [...Deno.readDirSync(path)].map((e) => e.name).sort();
  assert.deepEqual(names(dir.path), ["work"], "nothing written beside the working folder");
  assert.deepEqual(names(work).filter((n) => !n.startsWith("app.db")), []);
});
