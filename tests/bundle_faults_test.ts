/**
 * `audit-trail bundle` stopped on purpose while it writes: killed, or interrupted by Ctrl-C or
 * SIGTERM. Apart from tests/bundle_test.ts so that `deno task test:fast` can leave these slow
 * runs out (each bundles a 60 MB database, several times).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { cliCommand, runCli, tempDir } from "./helpers.ts";
import { databaseWithEvents, listDir } from "./fixtures.ts";

/** A database of about 60 MB that does not compress, so that a ZIP takes a moment. */
async function bigDatabaseIn(dir: string): Promise<string> {
  const path = await databaseWithEvents(dir, 100);
  const db = new DatabaseSync(path);
  db.exec(`CREATE TABLE attachment (data BLOB);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
    INSERT INTO attachment SELECT randomblob(40000) FROM n;`);
  db.close();
  return path;
}

async function waitFor(path: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await Deno.stat(path).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} never appeared`);
}

async function partialZipOf(out: string): Promise<string> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const names = await listDir(out).catch(() => []);
    const partial = names.find((n) => n.endsWith(".zip.partial"));
    if (partial) return join(out, partial);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("the ZIP was never started");
}

Deno.test("CLI bundle --compress killed part-way leaves no file under the final name", async () => {
  await using dir = await tempDir();
  const bigDatabase = await bigDatabaseIn(dir.path);
  const out = join(dir.path, "out");
  const child = cliCommand(["bundle", "--db", bigDatabase, "--compress", "--output", out]).spawn();
  const partial = await partialZipOf(out);
  await waitFor(partial);
  child.kill("SIGKILL");
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", "killed while writing the ZIP");
  await child.stdout.cancel();
  await child.stderr.cancel();
  const names = await listDir(out);
  assert.ok(names.every((n) => n.endsWith(".partial")), names.join(", "));
  // The next bundle is not disturbed by the leftovers.
  const again = await runCli(["bundle", "--db", bigDatabase, "--compress", "--output", out]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await runCli(["bundle", "verify", again.stdout.trim()])).code, 0);
});

Deno.test({
  name: "CLI bundle stopped by Ctrl-C or SIGTERM removes its temporary files and exits 130 or 143",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    const db = await bigDatabaseIn(dir.path);
    for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
      const out = join(dir.path, `out-${signal}`);
      const child = cliCommand(["bundle", "--db", db, "--compress", "--output", out]).spawn();
      await partialZipOf(out);
      child.kill(signal);
      const output = await child.output();
      assert.deepEqual([output.code, output.signal], [code, null], signal);
      assert.equal(
        new TextDecoder().decode(output.stderr),
        "audit-trail: interrupted: no bundle was saved, and its temporary files were removed\n",
      );
      assert.deepEqual(await listDir(out), [], signal);
    }
  },
});
