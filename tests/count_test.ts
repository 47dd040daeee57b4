/**
 * Whole numbers of 0 or more: one reading of typed text (lib/count.ts's parseCount, for the
 * command line and the viewer's URLs) and one check of the numbers given to the library.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  exportDebugBundle,
  getAuditLog,
  getStats,
  listBatches,
  streamAuditLog,
  UsageError,
} from "./internals.ts";
import { parseCount, requireCount } from "../lib/count.ts";
import { streamWithArchives } from "../lib/archive/read.ts";
import { runCli, runMain, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

Deno.test("parseCount() reads digits alone, as typed; anything else names the option and the text", () => {
  for (
    const [text, value] of [["0", 0], ["42", 42], [" 7 ", 7], ["9007199254740991", 2 ** 53 - 1]]
  ) {
    assert.equal(parseCount(text as string, "--limit"), value, JSON.stringify(text));
  }
  for (const text of ["", "x", "-1", "+1", "1.5", "1e3", "0x10", "٣", "1 2"]) {
    assert.throws(
      () => parseCount(text, "--limit"),
      (e) =>
        e instanceof UsageError &&
        e.message === `--limit must be a whole number of 0 or more, not "${text}"` &&
        e.hint?.startsWith("Write --limit in the digits 0-9 alone") === true,
      JSON.stringify(text),
    );
  }
  // Digits alone, past 2^53: the number is whole, only too large, and the message says so.
  for (const text of ["9007199254740992", " 99999999999999999999"]) {
    assert.throws(
      () => parseCount(text, "--limit"),
      (e) =>
        e instanceof UsageError &&
        e.message === `--limit is too large: at most 9007199254740991, not "${text}"` &&
        e.hint === "Give --limit a smaller number.",
      JSON.stringify(text),
    );
  }
});

Deno.test("requireCount() takes whole numbers of 0 or more and names the value, not a flag", () => {
  assert.equal(requireCount(0, "Limit"), 0);
  assert.equal(requireCount(2 ** 53 - 1, "Limit"), 2 ** 53 - 1);
  for (const value of [-1, 1.5, NaN, Infinity, 1e21]) {
    assert.throws(
      () => requireCount(value, "Limit"),
      (e) =>
        e instanceof UsageError &&
        e.message === `Limit must be a whole number of 0 or more, not "${value}"`,
      String(value),
    );
  }
  assert.throws(
    () => requireCount(2 ** 53, "Limit"),
    { message: 'Limit is too large: at most 9007199254740991, not "9007199254740992"' },
  );
});

Deno.test("every library function that takes a count refuses a bad one in the same words, naming no flag", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const cases: [string, () => unknown, string][] = [
    ["getAuditLog", () => getAuditLog(db, { limit: -1 }), "Limit"],
    ["getAuditLog", () => getAuditLog(db, { offset: 0.5 }), "Offset"],
    [
      "streamWithArchives",
      () => [...streamWithArchives(db, join(dir.path, "archive"), { limit: -1 }, streamAuditLog)],
      "Limit",
    ],
    [
      "streamWithArchives",
      () => [...streamWithArchives(db, join(dir.path, "archive"), { offset: -2 }, streamAuditLog)],
      "Offset",
    ],
    ["getStats", () => getStats(db, { top: -1 }), "Top"],
    ["listBatches", () => listBatches(db, { limit: -1 }), "Limit"],
  ];
  for (const [name, call, what] of cases) {
    assert.throws(
      call,
      (e) =>
        e instanceof UsageError &&
        new RegExp(`^${what} must be a whole number of 0 or more, not "[^"]+"$`).test(e.message),
      name,
    );
  }
  await assert.rejects(
    exportDebugBundle({ database: db.path, auditLimit: -1, outputDir: dir.path }),
    (e) =>
      e instanceof UsageError &&
      e.message === 'The audit limit must be a whole number of 0 or more, not "-1"',
  );
  // Refused before anything was made.
  const made = [...Deno.readDirSync(dir.path)].map((e) => e.name);
  assert.deepEqual(made.filter((name) => !name.startsWith("app.db")), []);
});

Deno.test("CLI: a bad count is a usage error (exit 2) naming the flag, for every command that takes one", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const cases: [string[], string, string][] = [
    [["query"], "--offset", "x"],
    [["batch", "list"], "--limit", "x"],
    [["stats"], "--top", "1.5"],
    [["bundle"], "--audit-limit", "-1"],
    [["archive", "--dry-run"], "--keep", "x"],
    [["serve"], "--port", "http"],
  ];
  for (const [command, flag, value] of cases) {
    const args = [...command, flag, value, "--db", db.path];
    const result = await runMain(args);
    assert.equal(result.code, 2, `${command.join(" ")}: ${result.stderr}`);
    if (command === cases[0][0]) assert.deepEqual(await runCli(args), result);
    const [message, hint, end] = result.stderr.split("\n");
    assert.equal(
      message,
      `audit-trail: error: ${flag} must be a whole number of 0 or more, not "${value}"`,
    );
    // What to write instead (archive --keep says it in days).
    assert.match(
      hint,
      flag === "--keep" ? /^hint: Give the number of days/ : /^hint: Write .* 0-9/,
    );
    assert.equal(end, "");
  }
  const tooLarge = await runMain(["batch", "list", "--limit", "9007199254740993", "--db", db.path]);
  assert.equal(tooLarge.code, 2);
  assert.equal(
    tooLarge.stderr,
    'audit-trail: error: --limit is too large: at most 9007199254740991, not "9007199254740993"\n' +
      "hint: Give --limit a smaller number.\n",
  );
});
