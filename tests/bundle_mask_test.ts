/**
 * Masking the settings' secrets in a bundle: the length rules, the copy of the database, raw
 * files, and the patterns that recognise secrets by their shape (each against a real-looking
 * sample and against near misses that must stay).
 *
 * @module
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { maskFileBytes, SecretMasker } from "../lib/bundle/mask.ts";
import { maskDatabase } from "../lib/bundle/mask_database.ts";
import { findSecretSpans, ownSecretSpans } from "../lib/bundle/patterns.ts";
import { REDACTED, redactSettings } from "../lib/bundle/redact.ts";
import { tempDir } from "./helpers.ts";

const masker = (...values: string[]) =>
  new SecretMasker(values.map((value, i) => ({ path: `k${i}`, value })));

Deno.test("SecretMasker masks a short secret only as a whole token, a long one anywhere, and never one under 4 characters", () => {
  const m = masker("admin", "4321", "Hunter2-Secret", "12");
  const cases: [string, string][] = [
    ["admin", REDACTED],
    ["user=admin;", `user=${REDACTED};`],
    ["Order ORD-4321: 5 units", `Order ORD-${REDACTED}: 5 units`],
    ["4321.50 EUR", `${REDACTED}.50 EUR`],
    ["administrator", "administrator"],
    ["sysadmin", "sysadmin"],
    ["admin_2", "admin_2"],
    ["adminé", "adminé"],
    ["ADMIN", "ADMIN"],
    ["14321 units, bin 43210", "14321 units, bin 43210"],
    ["pw:xHunter2-Secrety", `pw:x${REDACTED}y`],
    ["12 units, 4312", "12 units, 4312"],
  ];
  for (const [input, expected] of cases) assert.equal(m.mask(input).text, expected, input);
  assert.equal(m.mask("admin and admin").count, 2);
  assert.deepEqual(m.unsearched.map((u) => u.key), ["k3"]);
});

Deno.test("SecretMasker finds a secret in its JSON-escaped form, and one that starts or ends with punctuation", () => {
  const m = masker('pa"ss\\word', "#12!");
  assert.equal(m.mask(JSON.stringify({ p: 'pa"ss\\word' })).text, `{"p":"${REDACTED}"}`);
  assert.equal(m.mask("x#12!y").text, `x${REDACTED}y`);
});

Deno.test("SecretMasker.maskJson() masks strings but keeps numbers, and keys only when asked", () => {
  const m = masker("4321", "admin");
  const { value, count } = m.maskJson({ page_count: 4321, note: "pin 4321", admin: ["admin"] });
  assert.deepEqual(value, { page_count: 4321, note: `pin ${REDACTED}`, admin: [REDACTED] });
  assert.equal(count, 2);
  assert.deepEqual(m.maskJson({ admin: 1 }, { keys: true }).value, { [REDACTED]: 1 });
});

Deno.test("SecretMasker.maskBytes() overwrites long secrets only, keeping the length", () => {
  const m = masker("admin", "Hunter2-Secret");
  const bytes = new TextEncoder().encode("admin\x00Hunter2-Secret\x01");
  const { bytes: masked, count } = m.maskBytes(bytes);
  assert.equal(count, 1);
  assert.equal(new TextDecoder().decode(masked), "admin\x00**************\x01");
  assert.equal(new TextDecoder().decode(bytes), "admin\x00Hunter2-Secret\x01", "input unchanged");
});

Deno.test("maskFileBytes() overwrites every secret in place, also across its 1 MiB chunks", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "raw.db");
  const size = 3 * 1024 * 1024;
  const bytes = new Uint8Array(size).fill(0x2e);
  const put = (at: number, text: string) => bytes.set(new TextEncoder().encode(text), at);
  put(10, "admin");
  put(1024 * 1024 - 6, "Hunter2-Secret"); // straddles the first chunk's end
  put(2 * 1024 * 1024 - 2, "admin"); // and the second's
  put(size - 5, "admin");
  await Deno.writeFile(path, bytes);
  assert.equal(await maskFileBytes(path, masker("admin", "Hunter2-Secret")), 4);
  const after = await Deno.readFile(path);
  assert.equal(after.length, size);
  const text = new TextDecoder("latin1").decode(after);
  assert.ok(!text.includes("admin") && !text.includes("Hunter2"));
  assert.equal(text.replaceAll(".", "").length, 5 + 14 + 5 + 5);
});

Deno.test("maskDatabase() masks every table of a copy: triggers set aside and restored, UNIQUE values numbered, WITHOUT ROWID, BLOBs, FTS5 merged", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "copy.db");
  const db = new DatabaseSync(path);
  db.exec(`
    CREATE TABLE orders (id INTEGER PRIMARY KEY, number TEXT UNIQUE, note TEXT, qty INTEGER);
    CREATE TRIGGER orders_frozen BEFORE UPDATE ON orders BEGIN SELECT RAISE(ABORT, 'frozen'); END;
    CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
    CREATE VIRTUAL TABLE search USING fts5(body);
  `);
  const order = db.prepare("INSERT INTO orders (number, note, qty) VALUES (?, ?, ?)");
  order.run("X-4321", "pin 4321", 4321);
  order.run("X-1234", "admin said Hunter2-Secret", 1);
  order.run("X-9999", "administrator", 2);
  db.prepare("INSERT INTO kv VALUES (?, ?)").run("login", "admin");
  db.prepare("INSERT INTO kv VALUES (?, ?)").run(
    "blob",
    new TextEncoder().encode("\x00Hunter2-Secret\x00"),
  );
  db.prepare("INSERT INTO search (body) VALUES (?)").run("reset Hunter2-Secret today");
  db.close();

  const result = maskDatabase(path, masker("4321", "1234", "admin", "Hunter2-Secret"));
  const check = new DatabaseSync(path);
  try {
    const rows = (sql: string) => check.prepare(sql).all().map((r) => ({ ...r }));
    assert.deepEqual(rows("SELECT number, note, qty FROM orders ORDER BY id"), [
      { number: `X-${REDACTED}`, note: `pin ${REDACTED}`, qty: 4321 },
      { number: "X-[REDACTED 2]", note: `${REDACTED} said ${REDACTED}`, qty: 1 },
      { number: "X-9999", note: "administrator", qty: 2 },
    ]);
    assert.deepEqual(
      rows("SELECT k, CASE typeof(v) WHEN 'blob' THEN hex(v) ELSE v END AS v FROM kv ORDER BY k"),
      [
        { k: "blob", v: `00${"2A".repeat(14)}00` },
        { k: "login", v: REDACTED },
      ],
    );
    assert.deepEqual(rows("SELECT body FROM search"), [{ body: `reset ${REDACTED} today` }]);
    assert.deepEqual(rows("SELECT rowid FROM search WHERE search MATCH 'today'"), [{ rowid: 1 }]);
    assert.deepEqual(rows("SELECT name FROM sqlite_schema WHERE type = 'trigger'"), [
      { name: "orders_frozen" },
    ]);
    assert.equal(check.prepare("PRAGMA integrity_check").get()!.integrity_check, "ok");
    assert.equal(check.prepare("PRAGMA journal_mode").get()!.journal_mode, "delete");
  } finally {
    check.close();
  }
  assert.deepEqual(result.columns, [
    { table: "kv", column: "v", cells: 2, by: ["settings"] },
    { table: "orders", column: "number", cells: 2, by: ["settings"] },
    { table: "orders", column: "note", cells: 2, by: ["settings"] },
    { table: "search", column: "body", cells: 1, by: ["settings"] },
  ]);
  assert.equal(result.cells, 7);
  assert.equal(result.occurrences, 8);
  assert.equal(result.audit_ids.count, 0);
  // secure_delete and the FTS merge leave no copy of the old text anywhere in the file.
  const raw = new TextDecoder("latin1").decode(await Deno.readFile(path));
  assert.ok(!raw.includes("Hunter2-Secret"), "the long secret is gone from the file's bytes");
  assert.ok(!raw.includes("hunter2"), "and from the full-text index");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir.path), (e) => e.name), ["copy.db"]);
});

Deno.test("maskDatabase() lists the masked events of audit_log as audit_id ranges", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "copy.db");
  const db = new DatabaseSync(path);
  // Without a sync per row: 5,000 single-row commits would take half a minute on a busy disk.
  db.exec(`PRAGMA synchronous = OFF;
    CREATE TABLE audit_log (audit_id INTEGER PRIMARY KEY, user TEXT);`);
  const insert = db.prepare("INSERT INTO audit_log (audit_id, user) VALUES (?, ?)");
  for (let id = 1; id <= 5000; id++) insert.run(id, id % 1000 < 3 ? "clerk" : "admin");
  db.close();
  const { audit_ids } = maskDatabase(path, masker("admin"));
  assert.equal(audit_ids.count, 5000 - 15);
  assert.deepEqual(audit_ids.ranges.slice(0, 3), [[3, 999], [1003, 1999], [2003, 2999]]);
  assert.equal(audit_ids.ranges.length, 5);
  assert.equal(audit_ids.complete, true);
});

// --- patterns --------------------------------------------------------------------------------

/** The texts our own patterns hide in `text`. */
const hidden = (text: string) => ownSecretSpans(text).map((s) => text.slice(s.start, s.end));

const { privateKey: RSA_PEM } = generateKeyPairSync("rsa", {
  modulusLength: 1024,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const { privateKey: EC_PEM, publicKey: EC_PUBLIC } = generateKeyPairSync("ec", {
  namedCurve: "P-256",
  privateKeyEncoding: { type: "sec1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
});
const SLACK = "https://hooks.slack.com/services/T0AB12CDE/B0FG34HIJ/abcdefGHIJKLmnopQRSTuvwx";
const TEAMS =
  "https://contoso.webhook.office.com/webhookb2/3f1e6a2b-1c4d-4e5f-8a9b-0c1d2e3f4a5b@72f988bf-86f1-41af-91ab-2d7cd011db47/IncomingWebhook/9d1c0e5f3b2a4c6d8e7f9a0b1c2d3e4f/5a0e1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c";
const SAS =
  "https://inventory.blob.core.windows.net/backups/app.db?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&spr=https&sig=AbC%2Bdef123XyZ%3D";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

Deno.test("PEM private keys are hidden whole (also cut short), public keys and certificates are not", () => {
  assert.deepEqual(hidden(`key: ${RSA_PEM}`), [RSA_PEM.trimEnd()]);
  assert.deepEqual(hidden(EC_PEM), [EC_PEM.trimEnd()]);
  const cut = RSA_PEM.slice(0, 120);
  assert.deepEqual(hidden(`pasted: ${cut}`), [cut]);
  assert.deepEqual(hidden(EC_PUBLIC), []);
  assert.deepEqual(hidden("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"), []);
});

Deno.test("Slack and Teams webhook URLs keep their host and hide their path; other URLs stay", () => {
  assert.deepEqual(hidden(`alerts go to ${SLACK} now`), [SLACK.slice(24)]);
  assert.deepEqual(hidden(TEAMS), [TEAMS.slice(TEAMS.indexOf("webhookb2"))]);
  assert.deepEqual(
    hidden("https://hooks.slack.com/workflows/T01ABC/A02DEF/123456789/xyzSecret"),
    ["workflows/T01ABC/A02DEF/123456789/xyzSecret"],
  );
  for (
    const near of [
      "https://api.slack.com/messaging/webhooks",
      "https://hooks.slack.com/",
      "https://outlook.office.com/mail/inbox",
      "https://example.com/services/T0AB12CDE/B0FG34HIJ/abc",
    ]
  ) assert.deepEqual(hidden(near), [], near);
});

Deno.test("URL signatures (Azure SAS sig=) are hidden; sign=, signal= and design= are not", () => {
  assert.deepEqual(hidden(SAS), ["AbC%2Bdef123XyZ%3D"]);
  assert.deepEqual(hidden("https://s3.local/x?X-Amz-Signature=4f3e2d1c&X-Amz-Date=1"), [
    "4f3e2d1c",
  ]);
  for (const near of ["https://x.local/?sign=1", "/api?signal=5", "/p?design=3&sv=2022-11-02"]) {
    assert.deepEqual(hidden(near), [], near);
  }
});

Deno.test("Bearer and Basic credentials are hidden; the words in prose are not", () => {
  assert.deepEqual(hidden("Authorization: Bearer mF_9.B5f-4.1JqM"), ["mF_9.B5f-4.1JqM"]);
  assert.deepEqual(hidden("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='"), [
    "dXNlcjpwYXNzd29yZA==",
  ]);
  assert.deepEqual(hidden(`Bearer ${JWT}`), [JWT]);
  for (const near of ["Bearer of bad news", "Basic settings", "the Bearer reference", "Bearer"]) {
    assert.deepEqual(hidden(near), [], near);
  }
});

Deno.test("JSON Web Tokens are hidden; eyJ alone and dotted words are not", () => {
  assert.deepEqual(hidden(`token ${JWT} expired`), [JWT]);
  for (const near of ["eyJ", "eyJhbGciOiJIUzI1NiJ9", "eyJabc.def.ghi", "key.eyJ.value"]) {
    assert.deepEqual(hidden(near), [], near);
  }
});

Deno.test("findSecretSpans() adds secretlint's recommended rules (vendor tokens) to our patterns", async () => {
  const github = "ghp_" + "a1B2c3D4e5F6g7H8i9J0".repeat(2).slice(0, 36);
  const slackBot = "xoxb-" + "1234567890-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx";
  const text = `gh=${github} bot=${slackBot} hook=${SLACK}`;
  const spans = await findSecretSpans(text);
  const texts = spans.map((s) => text.slice(s.start, s.end));
  assert.ok(texts.includes(github), texts.join(" | "));
  assert.ok(texts.some((t) => t.includes(slackBot)), texts.join(" | "));
  assert.ok(texts.some((t) => t.includes("T0AB12CDE")), texts.join(" | "));
  assert.deepEqual(await findSecretSpans("host=db1 port=5432 user=inventory"), []);
});

Deno.test("redactSettings() hides secrets recognised by shape under harmless keys, and looks for them elsewhere", async () => {
  const { redacted, secrets } = await redactSettings({
    alerts: { slack: SLACK, teams: TEAMS },
    storage: SAS,
    proxy_header: `Bearer ${JWT}`,
    notes: `backup key:\n${RSA_PEM}`,
    host: "db1.local",
  });
  assert.deepEqual(redacted, {
    alerts: {
      slack: `https://hooks.slack.com/${REDACTED}`,
      teams: `https://contoso.webhook.office.com/${REDACTED}`,
    },
    storage: SAS.replace("AbC%2Bdef123XyZ%3D", REDACTED),
    proxy_header: `Bearer ${REDACTED}`,
    notes: `backup key:\n${REDACTED}\n`,
    host: "db1.local",
  });
  const values = secrets.map((s) => s.value);
  assert.ok(values.includes(JWT));
  assert.ok(values.includes(RSA_PEM.trimEnd()));
  assert.ok(values.includes("AbC%2Bdef123XyZ%3D"));
});
