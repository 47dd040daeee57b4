import assert from "node:assert/strict";
import { generateRunId, runIdProblem, UsageError, validateRunId } from "./internals.ts";

const RUN_ID = /^run_\d{8}_\d{6}_[0-9a-f]{8}$/;

Deno.test("generateRunId() makes run_YYYYMMDD_HHMMSS_xxxxxxxx from the current UTC time", () => {
  const before = new Date();
  const id = generateRunId();
  const after = new Date();
  assert.match(id, RUN_ID);
  const stamp = (d: Date) => d.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "_");
  assert.ok(
    id.slice(4, 19) >= stamp(before) && id.slice(4, 19) <= stamp(after),
    `${id} between ${stamp(before)} and ${stamp(after)}`,
  );
});

Deno.test("generateRunId() stamps UTC whatever the time zone of the given time", () => {
  assert.match(
    generateRunId(new Date("2026-02-16T23:30:05-05:00")),
    /^run_20260217_043005_[0-9a-f]{8}$/,
  );
  assert.match(
    generateRunId(new Date("2026-01-01T00:00:00.999+01:00")),
    /^run_20251231_230000_[0-9a-f]{8}$/,
  );
  assert.match(generateRunId(new Date(Date.UTC(2026, 8, 9, 7, 5, 3))), /^run_20260909_070503_/);
});

Deno.test("generateRunId() makes ids that differ within the same second", () => {
  const now = new Date("2026-02-16T09:30:05Z");
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = generateRunId(now);
    assert.match(id, /^run_20260216_093005_[0-9a-f]{8}$/);
    ids.add(id);
  }
  // 32 random bits: two of 10,000 ids share them in about 1 run of 86 (a birthday collision),
  // ten or more never in practice. Requiring all 10,000 distinct failed now and then.
  assert.ok(ids.size >= 9_990, `${10_000 - ids.size} repeated ids`);
});

Deno.test("validateRunId() accepts 1-128 printable ASCII characters without whitespace", () => {
  for (
    const id of [
      "r",
      "run_20260216_093005_0a1b2c3d",
      "nightly-2026-02-16",
      "x".repeat(128),
      "a!~{}",
    ]
  ) {
    assert.equal(validateRunId(id), id);
    assert.equal(runIdProblem(id), null);
  }
});

Deno.test("validateRunId() refuses empty, long, whitespace and non-ASCII run ids", () => {
  const cases: [string, string][] = [
    ["", "Run id must not be empty"],
    ["x".repeat(129), "Run id is 129 characters long; at most 128 are allowed"],
    ["run 1", 'Run id "run 1" contains whitespace'],
    [" run1", 'Run id " run1" contains whitespace'],
    ["run1\n", 'Run id "run1\n" contains whitespace'],
    ["run\t1", 'Run id "run\t1" contains whitespace'],
    ["lauf_ä", 'Run id "lauf_ä" may hold only printable ASCII characters'],
    ["run\x001", 'Run id "run\\u00001" may hold only printable ASCII characters'],
  ];
  for (const [id, message] of cases) {
    assert.throws(
      () => validateRunId(id),
      (e) => e instanceof UsageError && e.message === message,
      JSON.stringify(id),
    );
  }
});
