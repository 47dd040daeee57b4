/**
 * `audit-trail head` prints ID:HASH alone wherever its output goes, so that
 * `verify --anchor "$(audit-trail head)"` works in a script.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { migratedFile } from "./fixtures.ts";

const ANCHOR = /^\d+:[0-9a-f]{64}$/;

Deno.test("CLI head in a pipe prints ID:HASH alone, which verify --anchor takes back", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  for (const operation of ["FIRST", "SECOND"]) await runCli(["log", operation, "--db", db]);
  const head = await runCli(["head", "--db", db]);
  assert.equal(head.code, 0, head.stderr);
  assert.equal(head.stderr, "");
  assert.match(head.stdout, /^2:[0-9a-f]{64}\n$/);
  // What a shell's "$(audit-trail head)" gives: the output without its line end.
  const anchor = head.stdout.replace(/\n$/, "");
  assert.match(anchor, ANCHOR);
  const verified = await runCli(["verify", "--db", db, "--anchor", anchor, "--format", "json"]);
  assert.equal(verified.code, 0, verified.stderr);
  const report = JSON.parse(verified.stdout);
  assert.deepEqual(report.anchor, {
    audit_id: 2,
    hash: anchor.split(":")[1],
    matches: true,
  });
  // Later events keep an old anchor valid.
  await runCli(["log", "THIRD", "--db", db]);
  const later = await runCli(["verify", "--db", db, "--anchor", anchor]);
  assert.equal(later.code, 0, later.stderr);
});

Deno.test("CLI head --format json gives the record; table is ID:HASH; csv is a usage error", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await runCli(["log", "FIRST", "--db", db]);
  const [plain, json, ndjson, table, csv] = await Promise.all([
    runCli(["head", "--db", db]),
    runCli(["head", "--db", db, "--format", "json"]),
    runCli(["head", "--db", db, "--format", "ndjson"]),
    runCli(["head", "--db", db, "--format", "table"]),
    runCli(["head", "--db", db, "--format", "csv"]),
  ]);
  const record = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(record), ["audit_id", "hash", "anchor"]);
  assert.equal(record.anchor, plain.stdout.trimEnd());
  assert.equal(`${record.audit_id}:${record.hash}\n`, plain.stdout);
  assert.deepEqual(JSON.parse(ndjson.stdout), record);
  assert.equal(ndjson.stdout.split("\n").length, 2);
  assert.equal(table.stdout, plain.stdout);
  assert.deepEqual(csv, {
    code: 2,
    stdout: "",
    stderr: "audit-trail: error: head cannot print --format csv\n" +
      "hint: Use one of: json, ndjson, table.\n",
  });
});

Deno.test("CLI head of an empty log prints nothing on stdout and says why on stderr", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const [plain, json] = await Promise.all([
    runCli(["head", "--db", db]),
    runCli(["head", "--db", db, "--format", "json"]),
  ]);
  assert.deepEqual(plain, {
    code: 0,
    stdout: "",
    stderr: "audit-trail: the audit log is empty: nothing to anchor yet\n",
  });
  assert.deepEqual(JSON.parse(json.stdout), { audit_id: null, hash: null, anchor: null });
});

Deno.test("CLI verify --anchor on a log now empty says the log is empty, not that it ends at event 0", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const before = await fingerprint(db);
  const result = await runCli(["verify", "--anchor", `3:${"a".repeat(64)}`, "--db", db]);
  assert.equal(result.code, 3, result.stderr);
  assert.equal(
    result.stderr.split("\n")[0],
    "audit-trail: error: Tampering found: Event 3, the anchor, was deleted: the log is now empty, so the newest events are gone (deleted, or the database was restored from a copy older than the anchor)",
  );
  assert.equal(JSON.parse(result.stdout).failure.kind, "deleted");
  assert.equal(await fingerprint(db), before);
});

Deno.test("CLI head of a log whose seals were removed is tampering (exit 3), never an empty log", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  for (const operation of ["FIRST", "SECOND"]) await runCli(["log", operation, "--db", db]);
  const removals = [
    "DROP TRIGGER audit_trail_chain_no_delete; DELETE FROM audit_trail_chain",
    "DROP TABLE audit_trail_chain",
  ];
  for (const sql of removals) {
    const raw = new DatabaseSync(db);
    raw.exec(sql);
    raw.close();
    const before = await fingerprint(db);
    for (const format of [[], ["--format", "json"]]) {
      const head = await runCli(["head", "--db", db, ...format]);
      assert.equal(head.code, 3, `${sql}: ${head.stderr}`);
      assert.equal(head.stdout, "");
      assert.match(
        head.stderr,
        /^audit-trail: error: Tampering found: the audit log holds events, but their integrity seals are gone: there is no seal to note as an anchor\nhint: [^\n]*audit-trail verify[^\n]*\n$/,
      );
    }
    assert.equal(await fingerprint(db), before);
  }
});
