/**
 * The user recorded when neither `--user`, `AUDIT_TRAIL_USER` nor the environment's login
 * variables say: the operating system's login name, before `system`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { userInfo } from "node:os";
import { passwdName } from "../cli/login_name.ts";
import { RUNTIME_FLAGS } from "../scripts/runtime_flags.ts";
import { CLI, collectOutput, sqliteRows, tempDir } from "./helpers.ts";
import { migratedFile } from "./fixtures.ts";

Deno.test("passwdName() finds a user id's name in /etc/passwd text", () => {
  const passwd = [
    "# a comment:x:1000:",
    "root:x:0:0:root:/root:/bin/bash",
    "ana:x:1000:1000:Ana,,,:/home/ana:/bin/bash",
    "broken line",
    ":x:1001:1001::/:/bin/false",
    "",
  ].join("\n");
  assert.equal(passwdName(passwd, 0), "root");
  assert.equal(passwdName(passwd, 1000), "ana");
  assert.equal(passwdName(passwd, 1001), undefined);
  assert.equal(passwdName(passwd, 10), undefined);
  assert.equal(passwdName(undefined, 0), undefined);
});

Deno.test("CLI log with USER, LOGNAME and USERNAME unset records the OS login name, not system", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const expected = userInfo().username;
  assert.ok(expected && expected !== "system");
  // Only what Deno itself needs to run: no login variable at all.
  const keep = ["PATH", "HOME", "DENO_DIR", "SystemRoot", "TEMP", "TMP", "USERPROFILE"];
  const env = Object.fromEntries(
    keep.flatMap((name) => Deno.env.get(name) === undefined ? [] : [[name, Deno.env.get(name)!]]),
  );
  const runs: [string[], string][] = [
    [["log", "CLEARED"], "CLEARED"],
    [["batch", "start"], "BATCH_START"],
  ];
  for (const [args, operation] of runs) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...RUNTIME_FLAGS, CLI, ...args, "--db", db],
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const result = await collectOutput(child);
    assert.equal(result.code, 0, result.stderr);
    const [row] = sqliteRows(db, "SELECT user FROM audit_log WHERE operation = ?", operation);
    assert.equal(row.user, expected);
  }
});
