/**
 * A settings file that is not JSON (YAML, INI, .env) is left out of the bundle, but its
 * secrets must still be found, so that a copy of them in the events is masked.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";
import { logAuditEvents } from "./internals.ts";
import { secretsInText } from "../lib/bundle/redact.ts";

Deno.test("secretsInText() reads key: value and key = value lines, quoted, exported, with CRLF", () => {
  const text = [
    "database:",
    "  password: Yaml-Secret-1",
    'api_key: "Yaml-Quoted-2"',
    "[smtp]",
    "Pwd = Ini-Secret-3",
    "export SMTP_PASS='Env Secret 4'",
    "host: db1",
    "token: ~",
    "secret: |",
  ].join("\r\n");
  assert.deepEqual(secretsInText(text).map((s) => s.value), [
    "Yaml-Secret-1",
    "Yaml-Quoted-2",
    "Ini-Secret-3",
    "Env Secret 4",
  ]);
});

Deno.test("CLI bundle masks in the events a secret of a YAML, INI or .env settings file it leaves out", async () => {
  const cases: [string, string][] = [
    ["yaml", "database:\n  password: Hunter2Secret99\n"],
    ["env", 'export SMTP_PASS="Hunter2Secret99"\r\n'],
    ["ini", "[db]\r\nPwd = Hunter2Secret99\r\n"],
  ];
  for (const [kind, settings] of cases) {
    await using dir = await tempDir();
    {
      using db = openMigrated(dir.path);
      await logAuditEvents(db, [{ operation: "NOTE", details: "login Hunter2Secret99 refused" }]);
    }
    await Deno.writeTextFile(join(dir.path, "settings.json"), settings);
    const result = await runCli(["bundle", "--db", join(dir.path, "app.db"), "--compress"]);
    assert.equal(result.code, 1, kind);
    assert.match(result.stderr, /settings\.json.*was left out: it is not valid JSON/, kind);
    const unpacked = join(dir.path, "unpacked");
    const unzip = await new Deno.Command("unzip", {
      args: ["-q", result.stdout.trim(), "-d", unpacked],
    }).output();
    assert.ok(unzip.success, kind);
    for await (const top of Deno.readDir(unpacked)) {
      for await (const file of Deno.readDir(join(unpacked, top.name))) {
        const bytes = await Deno.readFile(join(unpacked, top.name, file.name));
        assert.ok(
          !new TextDecoder("latin1").decode(bytes).includes("Hunter2Secret99"),
          `${kind}: ${file.name}`,
        );
      }
    }
  }
});

Deno.test("CLI bundle masks a non-ASCII secret of a settings file saved as Windows-1252 (ANSI)", async () => {
  await using dir = await tempDir();
  {
    using db = openMigrated(dir.path);
    await logAuditEvents(db, [{ operation: "NOTE", details: "login CaféSecret-77 refused" }]);
  }
  // "é" is the single byte E9 in Windows-1252, not valid UTF-8.
  await Deno.writeFile(
    join(dir.path, "settings.json"),
    new Uint8Array([
      ...new TextEncoder().encode('{"password": "Caf'),
      0xe9,
      ...new TextEncoder().encode('Secret-77"}'),
    ]),
  );
  const result = await runCli(["bundle", "--db", join(dir.path, "app.db")]);
  assert.equal(result.code, 0, result.stderr);
  const folder = result.stdout.trim();
  for await (const file of Deno.readDir(folder)) {
    const text = new TextDecoder().decode(await Deno.readFile(join(folder, file.name)));
    assert.ok(!text.includes("CaféSecret-77"), file.name);
  }
  assert.match(
    await Deno.readTextFile(join(folder, "audit_log.csv")),
    /login \[REDACTED\] refused/,
  );
});
