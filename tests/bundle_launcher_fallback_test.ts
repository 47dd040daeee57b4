/**
 * The launcher has no --output: when the folder beside the database cannot take the bundle,
 * it must still make one, somewhere it can, and name it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";
import { logAuditEvents } from "./internals.ts";
import { type LauncherIo, runLauncher } from "../launcher.ts";

Deno.test("the launcher writes the bundle to its fallback folder when the default one cannot be written", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "data"));
  {
    using db = openMigrated(join(dir.path, "data"));
    await logAuditEvents(db, [{ operation: "HELLO" }]);
  }
  // A file where the bundle folder should be: no user, root included, can write there.
  await Deno.writeTextFile(join(dir.path, "data", "debug_bundles"), "in the way");
  let shown = "";
  const io: LauncherIo = {
    out: { write: (text) => Promise.resolve(void (shown += text)) },
    env: () => undefined,
    cwd: () => dir.path,
    execPath: () => join(dir.path, "audit-trail-bundle"),
    exists: (path) => path === join(dir.path, "data", "app.db"),
    waitForEnter: null,
    fallbackDir: () => join(dir.path, "fallback"),
  };
  assert.equal(await runLauncher(io), 0, shown);
  assert.match(shown, /Cannot write the debug bundle to ".*debug_bundles"/);
  assert.match(shown, /Trying this folder instead: .*fallback\n/);
  const zipPath = /The debug bundle is this file:\n\n {4}(.+\.zip)\n/.exec(shown)?.[1];
  assert.ok(zipPath && zipPath.startsWith(join(dir.path, "fallback")), shown);
  assert.equal((await runCli(["bundle", "verify", zipPath])).code, 0);
  assert.equal(await Deno.readTextFile(join(dir.path, "data", "debug_bundles")), "in the way");
});
