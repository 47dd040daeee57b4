/**
 * Results that cannot be written after their events were committed (stdout on a full disk):
 * the error says what was stored, so nobody repeats it, and never calls it unexpected.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CliResult, runCli, sqliteRows, tempDir } from "./helpers.ts";
import { migratedFile } from "./fixtures.ts";

const HAS_DEV_FULL = Deno.build.os === "linux";

/** Runs the real CLI with its standard output on /dev/full, where every write fails. */
async function runToFullDisk(args: string[], stdin?: string): Promise<CliResult> {
  return await runCli(args, { stdin, wrapper: ["sh", "-c", 'exec "$@" > /dev/full', "sh"] });
}

function operations(db: string): string[] {
  return sqliteRows(db, "SELECT operation FROM audit_log ORDER BY audit_id")
    .map((r) => r.operation as string);
}

Deno.test({
  name: "CLI log to a full disk: the event is stored once, and the error says so with its id",
  ignore: !HAS_DEV_FULL,
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    for (const format of [[], ["--format", "json"]]) {
      const result = await runToFullDisk(["log", "ORDER_CONFIRMED", "--db", db, ...format]);
      assert.equal(result.code, 1);
      const id = operations(db).length;
      assert.equal(
        result.stderr,
        `audit-trail: error: Event ${id} was stored; its ${
          format.length ? "record" : "id"
        } could not be written: No space left on device (os error 28)\n` +
          "hint: Do not log it again: it is in the audit log, and would be stored twice.\n",
      );
    }
    assert.deepEqual(operations(db), ["ORDER_CONFIRMED", "ORDER_CONFIRMED"]);
  },
});

Deno.test({
  name: "CLI log --stdin to a full disk names the events it stored",
  ignore: !HAS_DEV_FULL,
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const input = '{"operation":"A"}\n{"operation":"B"}\n{"operation":"C"}\n';
    const result = await runToFullDisk(["log", "--stdin", "--db", db], input);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^audit-trail: error: 3 event\(s\) were stored \(ids 1 to 3\); the summary could not be written: No space left on device \(os error 28\)\nhint: Do not [^\n]+\n$/,
    );
    assert.deepEqual(operations(db), ["A", "B", "C"]);
  },
});

Deno.test({
  name: "CLI batch start and end to a full disk name the run id and the event they stored",
  ignore: !HAS_DEV_FULL,
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const start = await runToFullDisk(["batch", "start", "Count", "--db", db]);
    assert.equal(start.code, 1);
    const [{ run_id: runId }] = sqliteRows(db, "SELECT run_id FROM audit_log");
    assert.equal(
      start.stderr,
      `audit-trail: error: Batch ${runId} was started (event 1 stored); its run id could not be written: No space left on device (os error 28)\n` +
        `hint: Use run id ${runId} from this message: starting again would make a second batch.\n`,
    );
    const end = await runToFullDisk(["batch", "end", String(runId), "--db", db]);
    assert.equal(end.code, 1);
    assert.match(
      end.stderr,
      new RegExp(
        `^audit-trail: error: Batch ${runId} was ended \\(event 2 stored\\); its id could not be written: No space`,
      ),
    );
    assert.deepEqual(operations(db), ["BATCH_START", "BATCH_END"]);
  },
});

Deno.test({
  name:
    "CLI commands that only read say their output could not be written, not that it was unexpected",
  ignore: !HAS_DEV_FULL,
  async fn() {
    await using dir = await tempDir();
    const db = migratedFile(dir.path);
    const result = await runToFullDisk(["query", "--db", db]);
    assert.deepEqual(result, {
      code: 1,
      stdout: "",
      stderr:
        "audit-trail: error: Could not write to standard output: No space left on device (os error 28)\n" +
        "hint: Check where standard output goes (a full disk, a removed drive) and run again.\n",
    });
  },
});

Deno.test({
  name: "CLI migrate to a full disk says which migrations it applied",
  ignore: !HAS_DEV_FULL,
  async fn() {
    await using dir = await tempDir();
    const db = `${dir.path}/new.db`;
    const first = await runToFullDisk(["migrate", "--db", db]);
    assert.equal(first.code, 1);
    assert.match(
      first.stderr,
      /^audit-trail: error: The database is now at schema version \d+ \(applied 001_create_audit_log, [^)]+\); the summary could not be written: No space left on device \(os error 28\)\nhint: Running migrate again is safe[^\n]+\n$/,
    );
    const again = await runCli(["migrate", "--db", db]);
    assert.deepEqual(JSON.parse(again.stdout).applied, []);
  },
});
