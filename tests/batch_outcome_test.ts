/**
 * How `batch exec` records the end of its command in `BATCH_END`, and how that is read back,
 * in TypeScript and in SQL, for the JSON form and for the text of earlier versions.
 *
 * @module
 */
import assert from "node:assert/strict";
import { logAuditEvent } from "../mod.ts";
import {
  BATCH_FAILED_SQL,
  batchFailed,
  type BatchOutcome,
  formatBatchOutcome,
  parseBatchOutcome,
  signalNumber,
} from "../lib/batch_outcome.ts";
import { tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

const OUTCOMES: BatchOutcome[] = [
  { exit_code: 0, signal: null, error: null, duration_seconds: 1.234 },
  { exit_code: 3, signal: null, error: null, duration_seconds: 0.05 },
  { exit_code: 143, signal: "SIGTERM", error: null, duration_seconds: 12 },
  { exit_code: 1, signal: null, error: 'Command not found: "x y"', duration_seconds: 0.002 },
];

Deno.test("formatBatchOutcome() writes one JSON object that parseBatchOutcome() reads back", () => {
  assert.deepEqual(OUTCOMES.map(formatBatchOutcome), [
    '{"exit_code":0,"duration_seconds":1.234}',
    '{"exit_code":3,"duration_seconds":0.05}',
    '{"exit_code":143,"signal":"SIGTERM","duration_seconds":12}',
    '{"exit_code":1,"error":"Command not found: \\"x y\\"","duration_seconds":0.002}',
  ]);
  for (const outcome of OUTCOMES) {
    assert.deepEqual(parseBatchOutcome(formatBatchOutcome(outcome)), outcome);
  }
  assert.deepEqual(OUTCOMES.map(batchFailed), [false, true, true, true]);
});

/** Details as earlier versions of batch exec wrote them, and what they mean. */
const LEGACY: [string, BatchOutcome][] = [
  ["exit code 0 after 1.234 s", {
    exit_code: 0,
    signal: null,
    error: null,
    duration_seconds: 1.234,
  }],
  ["exit code 3 after 0.050 s", {
    exit_code: 3,
    signal: null,
    error: null,
    duration_seconds: 0.05,
  }],
  ["killed by SIGTERM after 2.000 s", {
    exit_code: 143,
    signal: "SIGTERM",
    error: null,
    duration_seconds: 2,
  }],
  ['Command not found: "no-such" after 0.002 s', {
    exit_code: 1,
    signal: null,
    error: 'Command not found: "no-such"',
    duration_seconds: 0.002,
  }],
  ['Could not start "./run.sh": Permission denied (os error 13) after 0.001 s', {
    exit_code: 1,
    signal: null,
    error: 'Could not start "./run.sh": Permission denied (os error 13)',
    duration_seconds: 0.001,
  }],
];

/** BATCH_END details that record no outcome: summaries of `batch end`, and near misses. */
const NOT_OUTCOMES = [
  "",
  "15 orders confirmed",
  "exit code 3",
  "{not json",
  "[1,2]",
  '{"exit_code":"3"}',
  '{"exit_code":1.5}',
];

Deno.test("parseBatchOutcome() reads the text earlier versions wrote, and nothing else", () => {
  for (const [details, outcome] of LEGACY) assert.deepEqual(parseBatchOutcome(details), outcome);
  for (const summary of NOT_OUTCOMES) assert.equal(parseBatchOutcome(summary), null, summary);
});

Deno.test("BATCH_FAILED_SQL agrees with parseBatchOutcome() and batchFailed() on every form", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const details = [
    ...OUTCOMES.map(formatBatchOutcome),
    ...LEGACY.map(([text]) => text),
    ...NOT_OUTCOMES,
    '{"exit_code":0,"signal":"SIGINT"}',
    '{"exit_code":0,"error":"x"}',
  ];
  for (const text of details) {
    logAuditEvent(db, { operation: "BATCH_END", details: text, run_id: "run_a" });
  }
  // An adopted legacy table may hold NULL details.
  const legacyNull = db.sqlite.prepare(
    `SELECT ${BATCH_FAILED_SQL} AS failed FROM (SELECT NULL AS details)`,
  )
    .get();
  assert.equal(legacyNull?.failed, 0);
  const rows = db.sqlite.prepare(
    `SELECT details, ${BATCH_FAILED_SQL} AS failed FROM audit_log ORDER BY audit_id`,
  ).all();
  assert.equal(rows.length, details.length);
  for (const row of rows) {
    const outcome = parseBatchOutcome(row.details as string);
    assert.equal(
      row.failed === 1,
      outcome !== null && batchFailed(outcome),
      `${row.details}: SQL says ${row.failed}`,
    );
  }
  const expected = [
    [0, 1, 1, 1], // the JSON form
    [0, 1, 1, 1, 1], // the text of earlier versions
    NOT_OUTCOMES.map(() => 0),
    [1, 1], // a signal or an error with exit code 0
  ];
  assert.deepEqual(rows.map((r) => r.failed), expected.flat());
});

Deno.test({
  name: "signalNumber() on Linux gives the number the system's own kill -l gives for each name",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const names = new Map<number, string[]>();
    for (let n = 1; n <= 31; n++) names.set(n, []);
    const all: Deno.Signal[] = [
      "SIGABRT",
      "SIGALRM",
      "SIGBUS",
      "SIGCHLD",
      "SIGCONT",
      "SIGFPE",
      "SIGHUP",
      "SIGILL",
      "SIGINT",
      "SIGIO",
      "SIGKILL",
      "SIGPIPE",
      "SIGPOLL",
      "SIGPROF",
      "SIGPWR",
      "SIGQUIT",
      "SIGSEGV",
      "SIGSTKFLT",
      "SIGSTOP",
      "SIGSYS",
      "SIGTERM",
      "SIGTRAP",
      "SIGTSTP",
      "SIGTTIN",
      "SIGTTOU",
      "SIGUNUSED",
      "SIGURG",
      "SIGUSR1",
      "SIGUSR2",
      "SIGVTALRM",
      "SIGWINCH",
      "SIGXCPU",
      "SIGXFSZ",
    ];
    for (const name of all) {
      const n = signalNumber(name, "linux");
      assert.ok(n !== undefined && names.has(n), `${name}: ${n}`);
      names.get(n)!.push(name.slice(3));
    }
    // `kill -l N` prints the system's name for signal N (one of its aliases for 29 and 31);
    // a shell that has no name for one prints the number instead.
    const script = Array.from(names.keys(), (n) => `kill -l ${n}`).join("; ");
    const { stdout } = await new Deno.Command("sh", { args: ["-c", script] }).output();
    const system = new TextDecoder().decode(stdout).trim().split("\n");
    assert.equal(system.length, 31);
    for (const [i, name] of system.entries()) {
      if (name === String(i + 1)) continue;
      assert.ok(
        names.get(i + 1)!.includes(name),
        `${i + 1}: system ${name}, table ${names.get(i + 1)}`,
      );
    }
    assert.equal(signalNumber("SIGBREAK", "linux"), undefined);
    assert.deepEqual(
      ["SIGUSR1", "SIGBUS", "SIGCHLD"].map((s) => signalNumber(s as Deno.Signal, "darwin")),
      [30, 10, 20],
    );
    assert.deepEqual(
      ["SIGINT", "SIGBREAK", "SIGTERM"].map((s) => signalNumber(s as Deno.Signal, "windows")),
      [2, 21, 15],
    );
  },
});
