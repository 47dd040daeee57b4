import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { datedDatabase, filesIn } from "./archive_fixtures.ts";
import { assertCleanError } from "./reliability/_support.ts";

Deno.test("an archive file given as --db is refused by every command that writes, changing nothing", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  const folder = join(dir.path, "archive");
  assert.equal((await runCli(["archive", "--before", "2024-01-05", "--db", db])).code, 0);
  const file = join(folder, "audit_archive_1_16.db");
  const unchanged = await fingerprint(file);
  for (
    const args of [
      ["migrate"],
      ["migrate", "--dry-run"],
      ["log", "STOCK_COUNTED"],
      ["batch", "start"],
      ["archive", "--keep", "0"],
    ]
  ) {
    const result = await runCli([...args, "--db", file]);
    assertCleanError(
      result,
      1,
      /"[^"]*audit_archive_1_16\.db" is an audit-trail archive file \(events 1 to 16\), not a database to work in/,
    );
    // The hint of a database not set up yet, "Run: audit-trail migrate", would ruin it.
    assert.match(result.stderr, /hint: Nothing was changed: .*--archives DIR/, args.join(" "));
  }
  assert.equal(await fingerprint(file), unchanged);
  assert.deepEqual(filesIn(folder), [".audit_trail_archive.lock", "audit_archive_1_16.db"]);
  const verify = await runCli(["verify", "--db", db, "--archives", folder]);
  assert.equal(verify.code, 0, verify.stderr);
});
