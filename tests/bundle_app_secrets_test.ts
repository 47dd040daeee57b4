/**
 * The inventory application's own credentials in a bundle: columns whose name says they hold
 * one are masked whole in the database copy, values the secret patterns recognise are masked
 * anywhere in the application's tables, and near misses, NULLs, views, audit-trail's own
 * tables and the live database stay as they are.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { isCredentialColumn } from "../lib/bundle/app_secrets.ts";
import { SecretMasker } from "../lib/bundle/mask.ts";
import { maskDatabase } from "../lib/bundle/mask_database.ts";
import { fingerprint, migratedDb, runCli, sqliteRows, tempDir } from "./helpers.ts";

Deno.test("isCredentialColumn() takes a column whose last word names a credential, and no near miss", () => {
  const credentials = [
    "password",
    "passwd",
    "pwd",
    "user_pwd",
    "password_hash",
    "hashed_password",
    "passwordHash",
    "PASSWORD_HASH",
    "passwordhash",
    "pwd_digest",
    "passphrase",
    "secret",
    "client_secret",
    "clientSecret",
    "totp_secret",
    "secret_key",
    "api_key",
    "apiKey",
    "APIKEY",
    "api_key_hash",
    "private_key",
    "private_key_pem",
    "license_key",
    "token",
    "tokens",
    "api_token",
    "api_token2",
    "accessToken",
    "refresh_token",
    "reset-token",
    "pin",
    "pin_code",
    "pincode",
    "pin_hash",
    "salt",
    "password_salt",
    "credentials",
    "creds",
    "otp",
    "session_cookie",
    "user password",
    "it's api key",
  ];
  const nearMisses = [
    "sku",
    "quantity",
    "token_count",
    "password_changed_at",
    "passwordChangedAt",
    "secretary_name",
    "secretariat",
    "spin_speed",
    "pinned",
    "pinyin",
    "tokenizer",
    "tokenized_name",
    "passport_no",
    "passage",
    "keyboard",
    "key",
    "keys",
    "sort_key",
    "hash",
    "file_hash",
    "previous_hash",
    "sha256",
    "has_password",
    "is_secret",
    "uses_pin",
    "password_reset_required",
    "pin_attempts",
    "token_expires_at",
    "api_key_id",
    "salted",
    "signature",
    "customer_signature",
    "secrets_count",
    "qc_pass",
  ];
  for (const name of credentials) assert.equal(isCredentialColumn(name), true, name);
  for (const name of nearMisses) assert.equal(isCredentialColumn(name), false, name);
});

const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const SAS_SIG = "AbC%2Bdef123XyZ%3D";
const SAS =
  `https://inventory.blob.core.windows.net/backups/a.db?sv=2022-11-02&sp=r&sig=${SAS_SIG}`;
const SLACK_PATH = "services/T0AB12CDE/B0FG34HIJ/abcdefGHIJKLmnopQRSTuvwx";
const PEM =
  "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
const BEARER = "abc123DEF456ghi789";
const FTS_BEARER = "zz9TOKENfts77xy";
const SECRETS = [
  "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9",
  "tok_live_8f3a9c2e71d44b0b",
  "tok_live_0c1d2e3f4a5b6c7d",
  "cs_live_9Kq2ZxW7vL0pR4tY",
  "sess_5e6f7a8b9c0d1e2f",
  "Sunshine-2026",
  "AKIA-shop-east-key",
  JWT,
  SAS_SIG,
  SLACK_PATH,
  "MIIBVQIBADANBgkqhkiG9w0BAQEFAASC",
  BEARER,
];

/** The application's tables: each kind of credential column, near misses, and odd shapes. */
function applicationTables(path: string): void {
  const app = new DatabaseSync(path);
  app.exec(`
    CREATE TABLE users (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, sku TEXT, quantity INTEGER,
      password_hash TEXT, api_token TEXT UNIQUE, pin INTEGER CHECK (pin BETWEEN 0 AND 9999),
      pin_code TEXT CHECK (length(pin_code) = 4), passwordSalt BLOB, pwd_digest BLOB,
      token_count INTEGER, password_changed_at TEXT, secretary_name TEXT, has_password INTEGER,
      notes TEXT, updated_at TEXT);
    CREATE TRIGGER users_touch AFTER UPDATE ON users
    BEGIN UPDATE users SET updated_at = 'touched' WHERE id = NEW.id; END;
    CREATE TABLE integrations (id INTEGER PRIMARY KEY, name TEXT, client_secret TEXT NOT NULL,
      webhook_url TEXT, privateKey TEXT, config TEXT, icon BLOB) STRICT;
    CREATE TABLE sessions (token TEXT PRIMARY KEY, user_id INTEGER, expires_at TEXT) WITHOUT ROWID;
    CREATE TABLE "shop ""east"" logins" ("user password" TEXT, "it's api key" TEXT, label TEXT);
    CREATE VIEW user_secrets AS SELECT name, password_hash, api_token FROM users;
    CREATE VIRTUAL TABLE notes_search USING fts5(body);
    INSERT INTO notes_search (body) VALUES ('retried with Bearer ${FTS_BEARER} at noon');
  `);
  app.prepare(
    `INSERT INTO users (name, sku, quantity, password_hash, api_token, pin, pin_code, passwordSalt,
       pwd_digest, token_count, password_changed_at, secretary_name, has_password, notes)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    "alice",
    "SKU-1",
    5,
    SECRETS[0],
    SECRETS[1],
    4321,
    "1234",
    new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    new TextEncoder().encode("Sunshine-2026"),
    17,
    "2026-01-02 10:00:00",
    "Bob Smith",
    1,
    `called with Authorization: Bearer ${BEARER}`,
  );
  app.exec(`INSERT INTO users (name, sku, quantity, notes) VALUES ('bob', 'SKU-2', 7, 'plain note');
    INSERT INTO users (name, sku, quantity, password_hash, api_token, pin, token_count,
      secretary_name) VALUES ('carol', 'SKU-3', 0, '', '${SECRETS[2]}', 0, 0, 'Carol Jones');`);
  const integration = app.prepare(
    "INSERT INTO integrations (name, client_secret, webhook_url, privateKey, config, icon) VALUES (?, ?, ?, ?, ?, ?)",
  );
  integration.run(
    "erp",
    SECRETS[3],
    SAS,
    PEM,
    JSON.stringify({ auth: JWT }),
    new TextEncoder().encode(`\x00${JWT}\x00`),
  );
  integration.run(
    "Basic settings",
    "",
    `https://hooks.slack.com/${SLACK_PATH}`,
    null,
    "retry=3; design=1",
    null,
  );
  const session = app.prepare("INSERT INTO sessions VALUES (?, ?, ?)");
  session.run(SECRETS[4], 1, "2026-02-01");
  session.run("sess_0a1b2c3d4e5f6a7b", 2, "2026-02-02");
  session.run("sess_ffeeddccbbaa9988", 3, "2026-02-03");
  app.prepare(`INSERT INTO "shop ""east"" logins" VALUES (?, ?, ?)`).run(
    SECRETS[5],
    SECRETS[6],
    "front desk",
  );
  app.close();
}

const plain = (rows: unknown[]) => rows.map((r) => ({ ...r as object }));

Deno.test("CLI bundle masks the application's credentials in the copy only: by column name and by shape, near misses, NULLs and views left", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  const logged = await runCli([
    "log",
    "API_CALL",
    "--details",
    `Authorization: Bearer ${BEARER}`,
    "--db",
    db,
  ]);
  assert.equal(logged.code, 0, logged.stderr);
  applicationTables(db);
  const before = await fingerprint(db);
  const liveNames = (await Array.fromAsync(Deno.readDir(dir.path), (e) => e.name)).sort();

  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  const folder = result.stdout.trim();
  const copy = join(folder, "database_backup.db");

  assert.deepEqual(
    plain(sqliteRows(
      copy,
      `SELECT name, sku, quantity, password_hash, api_token, pin, pin_code, hex(passwordSalt) AS salt,
         hex(pwd_digest) AS digest, token_count, password_changed_at, secretary_name,
         has_password, notes, updated_at FROM users ORDER BY id`,
    )),
    [
      {
        name: "alice",
        sku: "SKU-1",
        quantity: 5,
        password_hash: "[REDACTED]",
        api_token: "[REDACTED 1]",
        pin: 0,
        pin_code: "[REDACTED]",
        salt: "2A".repeat(8),
        digest: "2A".repeat(13),
        token_count: 17,
        password_changed_at: "2026-01-02 10:00:00",
        secretary_name: "Bob Smith",
        has_password: 1,
        notes: "called with Authorization: Bearer [REDACTED]",
        updated_at: null,
      },
      {
        name: "bob",
        sku: "SKU-2",
        quantity: 7,
        password_hash: null,
        api_token: null,
        pin: null,
        pin_code: null,
        salt: "",
        digest: "",
        token_count: null,
        password_changed_at: null,
        secretary_name: null,
        has_password: null,
        notes: "plain note",
        updated_at: null,
      },
      {
        name: "carol",
        sku: "SKU-3",
        quantity: 0,
        password_hash: "",
        api_token: "[REDACTED 2]",
        pin: 0,
        pin_code: null,
        salt: "",
        digest: "",
        token_count: 0,
        password_changed_at: null,
        secretary_name: "Carol Jones",
        has_password: null,
        notes: null,
        updated_at: null,
      },
    ],
  );
  // Types kept: the number is still an integer, the BLOBs still BLOBs.
  assert.deepEqual(
    plain(sqliteRows(
      copy,
      "SELECT typeof(pin) AS pin, typeof(passwordSalt) AS salt FROM users WHERE id = 1",
    )),
    [{ pin: "integer", salt: "blob" }],
  );
  assert.deepEqual(
    plain(sqliteRows(
      copy,
      "SELECT name, client_secret, webhook_url, privateKey, config, hex(icon) AS icon FROM integrations ORDER BY id",
    )),
    [
      {
        name: "erp",
        client_secret: "[REDACTED]",
        webhook_url: SAS.replace(SAS_SIG, "[REDACTED]"),
        privateKey: "[REDACTED]",
        config: JSON.stringify({ auth: "[REDACTED]" }),
        icon: `00${"2A".repeat(JWT.length)}00`,
      },
      {
        name: "Basic settings",
        client_secret: "",
        webhook_url: "https://hooks.slack.com/[REDACTED]",
        privateKey: null,
        config: "retry=3; design=1",
        icon: "", // hex() of NULL
      },
    ],
  );
  // A WITHOUT ROWID table keyed by the credential: each key numbered, the rows kept.
  assert.deepEqual(
    plain(sqliteRows(copy, "SELECT token, user_id FROM sessions ORDER BY user_id")).map((r) =>
      (r as { user_id: number }).user_id
    ),
    [1, 2, 3],
  );
  assert.deepEqual(
    plain(sqliteRows(copy, "SELECT token FROM sessions ORDER BY token")),
    [{ token: "[REDACTED 1]" }, { token: "[REDACTED 2]" }, { token: "[REDACTED 3]" }],
  );
  assert.deepEqual(plain(sqliteRows(copy, `SELECT * FROM "shop ""east"" logins"`)), [
    { "user password": "[REDACTED]", "it's api key": "[REDACTED]", label: "front desk" },
  ]);
  // A full-text table is masked through its own interface, and its index merged: the token's
  // words are gone from the file.
  assert.deepEqual(plain(sqliteRows(copy, "SELECT body FROM notes_search")), [
    { body: "retried with Bearer [REDACTED] at noon" },
  ]);
  assert.deepEqual(
    plain(sqliteRows(copy, "SELECT rowid FROM notes_search WHERE notes_search MATCH 'noon'")),
    [{ rowid: 1 }],
  );
  // The view is untouched and shows the masked rows; the trigger is back, and did not fire.
  const schema = `SELECT type, name, sql FROM sqlite_schema WHERE type IN ('view', 'trigger')
    ORDER BY name`;
  assert.deepEqual(plain(sqliteRows(copy, schema)), plain(sqliteRows(db, schema)));
  assert.deepEqual(
    plain(sqliteRows(copy, "SELECT password_hash FROM user_secrets WHERE name = 'alice'")),
    [
      { password_hash: "[REDACTED]" },
    ],
  );
  // The one thing masking breaks, as README.txt says: `[REDACTED]` is not 4 characters long.
  assert.deepEqual(plain(sqliteRows(copy, "PRAGMA integrity_check")), [
    { integrity_check: "CHECK constraint failed in users" },
  ]);
  // audit-trail's own tables keep their treatment: the event is as logged, the chain intact.
  assert.deepEqual(plain(sqliteRows(copy, "SELECT details FROM audit_log")), [
    { details: `Authorization: Bearer ${BEARER}` },
  ]);
  const verified = await runCli(["verify", "--db", copy]);
  assert.equal(verified.code, 0, verified.stderr + verified.stdout);

  // No credential of the application is left anywhere in the copy's bytes.
  const bytes = new TextDecoder("latin1").decode(await Deno.readFile(copy));
  for (const secret of SECRETS.slice(0, -1)) assert.ok(!bytes.includes(secret), secret);
  assert.ok(!bytes.toLowerCase().includes(FTS_BEARER.toLowerCase()), "the full-text index");

  const manifest = JSON.parse(await Deno.readTextFile(join(folder, "manifest.json")));
  assert.deepEqual(manifest.redactions.database.columns, [
    { table: "integrations", column: "client_secret", cells: 1, by: ["column name"] },
    {
      table: "integrations",
      column: "webhook_url",
      cells: 2,
      by: ["slack-webhook", "url-signature"],
    },
    { table: "integrations", column: "privateKey", cells: 1, by: ["column name"] },
    { table: "integrations", column: "config", cells: 1, by: ["jwt"] },
    { table: "integrations", column: "icon", cells: 1, by: ["jwt"] },
    { table: "notes_search", column: "body", cells: 1, by: ["authorization-header"] },
    { table: "sessions", column: "token", cells: 3, by: ["column name"] },
    { table: 'shop "east" logins', column: "user password", cells: 1, by: ["column name"] },
    { table: 'shop "east" logins', column: "it's api key", cells: 1, by: ["column name"] },
    { table: "users", column: "password_hash", cells: 1, by: ["column name"] },
    { table: "users", column: "api_token", cells: 2, by: ["column name"] },
    { table: "users", column: "pin", cells: 1, by: ["column name"] },
    { table: "users", column: "pin_code", cells: 1, by: ["column name"] },
    { table: "users", column: "passwordSalt", cells: 1, by: ["column name"] },
    { table: "users", column: "pwd_digest", cells: 1, by: ["column name"] },
    { table: "users", column: "notes", cells: 1, by: ["authorization-header"] },
  ]);
  assert.equal(manifest.redactions.database.cells, 20);
  assert.equal(manifest.redactions.files["database_backup.db"], 20);
  assert.equal(manifest.redactions.database.audit_ids.count, 0);
  const readme = await Deno.readTextFile(join(folder, "README.txt"));
  assert.match(readme, /APPLICATION CREDENTIALS/);
  assert.match(readme, /users\.password_hash: 1 \(column name\)/);
  assert.match(readme, /integrations\.webhook_url: 2 \(slack-webhook, url-signature\)/);

  // The live database is byte for byte as it was, and nothing was added beside it.
  assert.equal(await fingerprint(db), before);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(dir.path), (e) => e.name)).sort(),
    [...liveNames, "debug_bundles"].sort(),
  );
  assert.equal(
    (sqliteRows(db, "SELECT password_hash FROM users WHERE id = 1")[0] as {
      password_hash: string;
    }).password_hash,
    SECRETS[0],
  );
  const bundleVerified = await runCli(["bundle", "verify", folder]);
  assert.equal(bundleVerified.code, 0, bundleVerified.stderr);
});

Deno.test("maskDatabase() masks a credential column page after page, numbering a UNIQUE one and a WITHOUT ROWID key", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "copy.db");
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA synchronous = OFF;
    CREATE TABLE users (id INTEGER PRIMARY KEY, api_token TEXT UNIQUE, pin INTEGER);
    CREATE TABLE sessions (token TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
    WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 5000)
    INSERT INTO users SELECT i, printf('tok_%08d', i), i FROM k;
    WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 5000)
    INSERT INTO sessions SELECT printf('%d_sess', i), i FROM k;`);
  db.close();
  const result = maskDatabase(path, new SecretMasker([]));
  assert.deepEqual(result.columns, [
    { table: "sessions", column: "token", cells: 5000, by: ["column name"] },
    { table: "users", column: "api_token", cells: 5000, by: ["column name"] },
    { table: "users", column: "pin", cells: 5000, by: ["column name"] },
  ]);
  const check = (sql: string) => plain(sqliteRows(path, sql))[0];
  assert.deepEqual(
    check(`SELECT count(DISTINCT api_token) AS tokens, sum(api_token LIKE '[REDACTED %]') AS marked,
      count(*) FILTER (WHERE pin = 0) AS pins FROM users`),
    { tokens: 5000, marked: 5000, pins: 5000 },
  );
  assert.deepEqual(
    check(`SELECT count(*) AS n, sum(token LIKE '[REDACTED %]') AS marked,
      count(DISTINCT n) AS kept FROM sessions`),
    { n: 5000, marked: 5000, kept: 5000 },
  );
  assert.deepEqual(check("PRAGMA integrity_check"), { integrity_check: "ok" });
});
