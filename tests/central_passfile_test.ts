/** libpq's password file, read as libpq reads it (lib/central/passfile.ts, cli/central.ts). */
import assert from "node:assert/strict";
import { passwordFromPassfile } from "../lib/central/mod.ts";
import { resolveCentral } from "../cli/central.ts";
import { tempDir, testIo } from "./helpers.ts";

const target = { host: "db.example", port: 5432, database: "audit", user: "wh_lyon" };

Deno.test("password file: the first matching line wins; * matches any field", () => {
  const file = [
    "# comment:with:five:fields:x",
    "db.example:5432:audit:bi:for-bi",
    "db.example:5433:audit:wh_lyon:other-port",
    "db.example:*:audit:wh_lyon:first",
    "*:*:*:*:fallback",
  ].join("\n");
  assert.equal(passwordFromPassfile(file, target), "first");
  assert.equal(passwordFromPassfile(file, { ...target, user: "bi" }), "for-bi");
  assert.equal(passwordFromPassfile(file, { ...target, host: "other" }), "fallback");
  assert.equal(passwordFromPassfile("db.example:5432:audit:wh_lyon:a\r\n", target), "a");
});

Deno.test("password file: backslash escapes colon, backslash and star; a colon ends the password", () => {
  assert.equal(passwordFromPassfile("db.example:5432:audit:wh_lyon:p\\:w\\\\d", target), "p:w\\d");
  assert.equal(passwordFromPassfile("db.example:5432:audit:wh_lyon:pw:extra", target), "pw");
  // An escaped star is a star, not "any".
  assert.equal(passwordFromPassfile("\\*:5432:audit:wh_lyon:x", target), null);
  assert.equal(passwordFromPassfile("\\*:5432:audit:wh_lyon:x", { ...target, host: "*" }), "x");
  const user = { ...target, user: "a:b" };
  assert.equal(passwordFromPassfile("db.example:5432:audit:a\\:b:colon-user", user), "colon-user");
});

Deno.test("password file: short lines, an empty password and no file give none", () => {
  assert.equal(passwordFromPassfile("db.example:5432:audit:wh_lyon", target), null);
  assert.equal(passwordFromPassfile("db.example:5432:audit:wh_lyon:", target), null);
  assert.equal(passwordFromPassfile("", target), null);
});

Deno.test("password file: with no host named, the local socket's folder matches a localhost line, as with libpq", async () => {
  await using dir = await tempDir();
  const passfile = `${dir.path}/pgpass`;
  await Deno.writeTextFile(passfile, "localhost:5432:audit:ana:local-pw\n*:*:*:*:other\n", {
    mode: 0o600,
  });
  const { io } = testIo({ env: { PGPASSFILE: passfile } });
  const local = await resolveCentral(io, "postgres://ana@/audit");
  assert.ok(local.host.startsWith("/") || local.host === "localhost", local.host);
  assert.equal(local.password, "local-pw");
  // A socket folder named explicitly is matched as written.
  const named = await resolveCentral(io, "postgres://ana@%2Fsrv%2Fpg/audit");
  assert.equal(named.password, "other");
});
