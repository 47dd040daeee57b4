/**
 * `audit-trail bundle` as support staff and developers use it, through the real `cli.ts`:
 * the files and their content, ZIPs, checksums, and bundles of databases that are being
 * written, locked, damaged or missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { LATEST_SCHEMA_VERSION, type Manifest } from "./internals.ts";
import { openZip } from "../lib/bundle/zip.ts";
import { fingerprint, ROOT, runCli, runMain, sqliteRows, tempDir } from "./helpers.ts";
import { databaseWithEvents, eventCount, listDir, migratedFile } from "./fixtures.ts";

const BUNDLE_NAME = /^debug_bundle_\d{8}_\d{6}(_\d+)?$/;
const ALWAYS = [
  "README.txt",
  "audit_log.csv",
  "database_backup.db",
  "database_stats.json",
  "manifest.json",
  "report.html",
  "system_info.json",
];

/** Every file of a bundle folder or ZIP, by name inside the bundle. */
async function bundleFiles(path: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  if (path.endsWith(".zip")) {
    const zip = await openZip(path);
    try {
      for (const entry of zip.entries) {
        const chunks: Uint8Array[] = [];
        await entry.read(new WritableStream({ write: (chunk) => void chunks.push(chunk) }));
        files.set(entry.name.split("/").slice(1).join("/"), concat(chunks));
      }
    } finally {
      await zip.close();
    }
  } else {
    for (const name of await listDir(path)) files.set(name, await Deno.readFile(join(path, name)));
  }
  return files;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const manifestOf = async (path: string): Promise<Manifest> =>
  JSON.parse(await Deno.readTextFile(join(path, "manifest.json")));

/** RFC 4180 rows of CSV text. */
function parseCsv(csv: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < csv.length; i++) {
    const c = csv[i];
    if (quoted) {
      if (c === '"' && csv[i + 1] === '"') cell += csv[++i];
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && csv[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  return rows;
}

Deno.test("CLI bundle writes every file into debug_bundles/ beside the database and prints its path", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 3);
  const before = await fingerprint(db);
  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  const path = result.stdout.trim();
  assert.equal(join(path, ".."), join(dir.path, "debug_bundles"));
  assert.match(path.split(/[\\/]/).pop()!, BUNDLE_NAME);
  assert.deepEqual(await listDir(path), ALWAYS);
  assert.deepEqual(await listDir(join(dir.path, "debug_bundles")), [path.split(/[\\/]/).pop()]);
  assert.equal(await fingerprint(db), before, "the live database is only read");
  const readme = await Deno.readTextFile(join(path, "README.txt"));
  assert.match(readme, /^audit-trail debug bundle debug_bundle_/);
  assert.match(
    readme,
    /Integrity check: +ok \(SQLite's quick check; every index compared with its table\)\r\n/,
  );
  assert.match(readme, new RegExp(`Schema version: +${LATEST_SCHEMA_VERSION} \\(current\\)`));
  assert.match(readme, /Events: +3\r\n/);
  assert.match(readme, /Errors: +none/);
  assert.match(readme, /Restore the backup/);
  assert.match(readme, /bundle verify/);
  const stats = JSON.parse(await Deno.readTextFile(join(path, "database_stats.json")));
  assert.equal(stats.schema_version, LATEST_SCHEMA_VERSION);
  assert.deepEqual(stats.integrity_check.messages, ["ok"]);
  assert.equal(stats.integrity_check.mode, "quick_check+indexes");
  assert.equal(stats.tables.find((t: { name: string }) => t.name === "audit_log").rows, 3);
  assert.ok(stats.indexes.some((i: { name: string }) => i.name === "idx_audit_log_run_id"));
  for (const field of ["page_size", "page_count", "freelist_count", "journal_mode", "wal_bytes"]) {
    assert.ok(field in stats, field);
  }
  const system = JSON.parse(await Deno.readTextFile(join(path, "system_info.json")));
  assert.equal(system.versions.deno, Deno.version.deno);
  assert.match(system.versions.sqlite, /^3\.\d+/);
  assert.equal(system.os, Deno.build.os);
  assert.equal(
    sqliteRows(join(path, "database_backup.db"), "SELECT count(*) AS n FROM audit_log")[0].n,
    3,
  );
});

Deno.test("CLI bundle audit_log.csv holds the newest N events, UTF-8 with BOM, formula cells neutralised", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const risky = ["=SUM(A1:A9)", "+1", "-2", "@cmd", "\tTAB", "\rCR", "\nLF", 'plain, "quoted"'];
  const lines = ["OLDEST", ...risky].map((details, i) =>
    JSON.stringify({ operation: i === 0 ? "OLD" : "RISKY", details, sku: '=HYPERLINK("x")' })
  ).join("\n");
  assert.equal((await runCli(["log", "--stdin", "--db", db], { stdin: lines })).code, 0);
  const result = await runCli(["bundle", "--db", db, "--audit-limit", String(risky.length)]);
  assert.equal(result.code, 0, result.stderr);
  const bytes = await Deno.readFile(join(result.stdout.trim(), "audit_log.csv"));
  assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
  const rows = parseCsv(text(bytes.subarray(3)));
  assert.deepEqual(rows[0], [
    "audit_id",
    "timestamp",
    "operation",
    "sku",
    "details",
    "user",
    "run_id",
  ]);
  assert.equal(rows.length, 1 + risky.length, "the oldest event is past the limit");
  assert.deepEqual(rows.slice(1).map((r) => Number(r[0])), [9, 8, 7, 6, 5, 4, 3, 2]);
  assert.deepEqual(
    rows.slice(1).map((r) => r[4]),
    [...risky].reverse().map((d) => /^[=+\-@\t\r\n]/.test(d) ? `'${d}` : d),
  );
  assert.ok(rows.slice(1).every((r) => r[3] === '\'=HYPERLINK("x")'));
  const manifest = await manifestOf(result.stdout.trim());
  assert.equal(manifest.audit_records_exported, risky.length);
  assert.equal(manifest.audit_records_count, risky.length + 1);
});

Deno.test("CLI bundle --compress writes one ZIP holding the bundle folder, and no folder", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 5);
  const out = join(dir.path, "support");
  const result = await runCli(["bundle", "--db", db, "--compress", "--output", out]);
  assert.equal(result.code, 0, result.stderr);
  const zipPath = result.stdout.trim();
  assert.equal(join(zipPath, ".."), out);
  assert.match(zipPath.split(/[\\/]/).pop()!.replace(/\.zip$/, ""), BUNDLE_NAME);
  assert.deepEqual(await listDir(out), [zipPath.split(/[\\/]/).pop()]);
  const id = zipPath.split(/[\\/]/).pop()!.replace(/\.zip$/, "");
  const zip = await openZip(zipPath);
  const names = zip.entries.map((e) => e.name).sort();
  await zip.close();
  assert.deepEqual(names, ALWAYS.map((n) => `${id}/${n}`).sort());
  const files = await bundleFiles(zipPath);
  const copy = join(dir.path, "restored.db");
  await Deno.writeFile(copy, files.get("database_backup.db")!);
  assert.equal(eventCount(copy), 5);
  assert.equal(JSON.parse(text(files.get("manifest.json"))).bundle_id, id);
});

Deno.test("CLI bundle manifest.json has the counts, versions, steps and each file's size and SHA-256", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 12);
  // Whole seconds: the bundle id and created_at may be rounded down to one.
  const before = Math.floor(Date.now() / 1000) * 1000;
  const result = await runCli(["bundle", "--db", db, "--audit-limit", "10"]);
  const after = Date.now();
  assert.equal(result.code, 0, result.stderr);
  const path = result.stdout.trim();
  const manifest = await manifestOf(path);
  assert.equal(manifest.bundle_id, path.split(/[\\/]/).pop());
  const created = Date.parse(manifest.created_at);
  assert.ok(created >= before && created <= after, `created_at ${manifest.created_at}`);
  assert.equal(manifest.database_path, db);
  assert.equal(manifest.database_exists, true);
  assert.equal(manifest.database_size_bytes, (await Deno.stat(db)).size);
  assert.equal(
    manifest.database_size_mb,
    Math.round(manifest.database_size_bytes! / 10485.76) / 100,
  );
  assert.equal(manifest.schema_version, LATEST_SCHEMA_VERSION);
  const tables = sqliteRows(db, "SELECT name FROM sqlite_schema WHERE type = 'table'")
    .map((row) => row.name as string);
  assert.equal(manifest.tables_count, tables.length);
  assert.equal(
    manifest.total_rows,
    tables.reduce(
      (sum, name) => sum + Number(sqliteRows(db, `SELECT count(*) AS n FROM "${name}"`)[0].n),
      0,
    ),
  );
  assert.equal(manifest.audit_records_count, 12);
  assert.equal(manifest.audit_records_exported, 10);
  assert.equal(manifest.integrity_ok, true);
  assert.equal(manifest.deno_version, Deno.version.deno);
  assert.match(manifest.sqlite_version, /^3\.\d+\.\d+$/);
  assert.equal(manifest.platform, `${Deno.build.os} ${Deno.build.arch}`);
  assert.equal(manifest.settings_included, false);
  assert.deepEqual(manifest.snapshot.method, "vacuum_into");
  assert.equal(manifest.snapshot.consistent, true);
  assert.equal(manifest.complete, true);
  assert.deepEqual(manifest.errors, []);
  assert.deepEqual(manifest.steps.map((s) => [s.file, s.status]), [
    ["settings.json", "ok"],
    ["database_backup.db", "ok"],
    ["database_stats.json", "ok"],
    ["audit_log.csv", "ok"],
    ["report.html", "ok"],
    ["system_info.json", "ok"],
  ]);
  assert.ok(manifest.steps.every((s) => Number.isInteger(s.duration_ms) && s.duration_ms >= 0));
  assert.deepEqual(manifest.files.map((f) => f.name), ALWAYS.filter((n) => n !== "manifest.json"));
  for (const file of manifest.files) {
    const bytes = await Deno.readFile(join(path, file.name));
    assert.equal(file.bytes, bytes.length, file.name);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    assert.equal(file.sha256, Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
  }
});

Deno.test("CLI bundle verify passes an intact bundle and names each tampered, missing or added file", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 4);
  const folder = (await runCli(["bundle", "--db", db])).stdout.trim();
  const zipPath = (await runCli(["bundle", "--db", db, "--compress"])).stdout.trim();
  for (const path of [folder, zipPath]) {
    const ok = await runCli(["bundle", "verify", path]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), {
      path,
      bundle_id: path.split(/[\\/]/).pop()!.replace(/\.zip$/, ""),
      ok: true,
      files_checked: 6,
      problems: [],
    });
  }

  await Deno.writeTextFile(join(folder, "audit_log.csv"), "\uFEFFaudit_id\r\n", { append: true });
  const stats = await Deno.readFile(join(folder, "database_stats.json"));
  stats[stats.length - 3] ^= 1; // same size, different content
  await Deno.writeFile(join(folder, "database_stats.json"), stats);
  await Deno.remove(join(folder, "system_info.json"));
  await Deno.writeTextFile(join(folder, "extra.txt"), "added later");
  const bad = await runCli(["bundle", "verify", folder]);
  assert.equal(bad.code, 1);
  assert.deepEqual(JSON.parse(bad.stdout).problems, [
    `audit_log.csv: size is ${
      (await Deno.stat(join(folder, "audit_log.csv"))).size
    } bytes, the manifest says ${
      (await manifestOf(folder)).files.find((f) => f.name === "audit_log.csv")!.bytes
    }`,
    "database_stats.json: SHA-256 differs from the manifest (content changed)",
    "system_info.json: missing",
    "extra.txt: not listed in the manifest",
  ]);
  assert.match(
    bad.stderr,
    /^audit-trail: error: The bundle does not match its manifest: .*audit_log\.csv/,
  );
  assert.match(bad.stderr, /database_stats\.json.*system_info\.json.*extra\.txt/);

  // A ZIP changed in place: its entry no longer inflates or matches its checksum. The byte
  // changed is inside the compressed backup (its local header's name, then well past it),
  // wherever the entry lies in the ZIP.
  const zipBytes = await Deno.readFile(zipPath);
  const at = new TextDecoder("latin1").decode(zipBytes).indexOf("/database_backup.db") + 400;
  zipBytes[at] ^= 0xff;
  await Deno.writeFile(zipPath, zipBytes);
  const badZip = await runCli(["bundle", "verify", zipPath]);
  assert.equal(badZip.code, 1, badZip.stdout);
  assert.equal(JSON.parse(badZip.stdout).ok, false);

  const missing = join(dir.path, "nothing-here");
  const none = await runCli(["bundle", "verify", missing]);
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr,
    `audit-trail: error: No bundle at "${missing}": it does not exist\n` +
      "hint: Give the bundle folder or its .zip file.\n",
  );
  assert.equal(none.stdout, "");
  const usage = await runCli(["bundle", "verify"]);
  assert.equal(usage.code, 2);
});

Deno.test("CLI bundle of a missing database still makes a bundle, exits 1, and creates no database", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "data", "app.db");
  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 1);
  const path = result.stdout.trim();
  assert.match(
    result.stderr,
    /^audit-trail: error: The bundle was saved, but incomplete: database: Database not found/,
  );
  assert.deepEqual(await listDir(join(dir.path, "data")), ["debug_bundles"]);
  assert.deepEqual(await listDir(path), [
    "README.txt",
    "manifest.json",
    "report.html",
    "system_info.json",
  ]);
  // The report is there all the same, and says why it has nothing to show.
  assert.match(
    await Deno.readTextFile(join(path, "report.html")),
    /<h2>The database could not be read<\/h2>\s*<p>Database not found: /,
  );
  const manifest = await manifestOf(path);
  assert.equal(manifest.complete, false);
  assert.equal(manifest.database_exists, false);
  assert.equal(manifest.audit_records_count, null);
  assert.deepEqual(manifest.errors.map((e) => e.step), ["database"]);
  assert.deepEqual(manifest.steps.map((s) => s.status), [
    "ok",
    "skipped",
    "skipped",
    "skipped",
    "ok",
    "ok",
  ]);
  assert.match(await Deno.readTextFile(join(path, "README.txt")), /Database size: +no database at/);
  assert.equal((await runCli(["bundle", "verify", path])).code, 0);
});

Deno.test("CLI bundle of a damaged database ships the raw files, what SQLite recovered, and says so", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 3000);
  // Two leaf pages of audit_log in the middle of the table, wherever the schema puts them.
  const leaves = sqliteRows(
    db,
    "SELECT pageno FROM dbstat WHERE name = 'audit_log' AND pagetype = 'leaf' ORDER BY pageno",
  ).map((row) => row.pageno as number);
  using file = await Deno.open(db, { write: true });
  for (const page of leaves.slice(leaves.length >> 1, (leaves.length >> 1) + 2)) {
    await file.seek((page - 1) * 4096, Deno.SeekMode.Start);
    await file.write(new Uint8Array(4096).fill(0x41));
  }
  file.close();
  const damaged = await fingerprint(db);

  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 1);
  const path = result.stdout.trim();
  assert.equal(await fingerprint(db), damaged, "the damaged file is left as it was");
  assert.ok((await listDir(path)).includes("database_raw.db"));
  assert.equal(await fingerprint(join(path, "database_raw.db")), damaged);
  const manifest = await manifestOf(path);
  assert.equal(manifest.snapshot.method, "recovered");
  assert.equal(manifest.snapshot.consistent, false);
  assert.equal(manifest.integrity_ok, false);
  assert.match(manifest.errors.map((e) => e.message).join("\n"), /damaged|malformed/);
  const recovered = eventCount(join(path, "database_backup.db"));
  assert.ok(recovered > 2000 && recovered < 3000, `recovered ${recovered} of 3000`);
  assert.equal(
    sqliteRows(join(path, "database_backup.db"), "PRAGMA integrity_check")[0].integrity_check,
    "ok",
  );
  const readme = await Deno.readTextFile(join(path, "README.txt"));
  assert.match(readme, /Integrity check: +FAILED/);
  // The raw file cannot be masked row by row: the README says what it may still hold.
  assert.match(readme, /database_raw\.db is the database file as it was found/);
  assert.match(readme, /the application's credentials are\r\n {2}still there/);

  // A file that is no SQLite database at all still gets a bundle with its raw copy.
  const junk = join(dir.path, "junk.db");
  await Deno.writeTextFile(junk, "this is not a database ".repeat(500));
  const junkResult = await runCli(["bundle", "--db", junk]);
  assert.equal(junkResult.code, 1);
  const junkFiles = await listDir(junkResult.stdout.trim());
  assert.ok(junkFiles.includes("database_raw.db") && !junkFiles.includes("database_backup.db"));
  assert.equal((await manifestOf(junkResult.stdout.trim())).snapshot.method, null);
});

Deno.test("CLI bundle of a locked database still makes a bundle", async () => {
  await using dir = await tempDir();
  // WAL: a writer's exclusive transaction does not stop readers, so the bundle is complete.
  const wal = await databaseWithEvents(dir.path, 10);
  const writer = new DatabaseSync(wal);
  writer.exec("BEGIN EXCLUSIVE; INSERT INTO audit_log (operation) VALUES ('UNCOMMITTED')");
  try {
    const result = await runCli(["bundle", "--db", wal]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(eventCount(join(result.stdout.trim(), "database_backup.db")), 10);
  } finally {
    writer.exec("ROLLBACK");
    writer.close();
  }

  // Rollback journal, as older inventory installations run: the lock stops every reader.
  const legacy = join(dir.path, "legacy.db");
  {
    const setup = new DatabaseSync(join(dir.path, "app.db"));
    setup.prepare("VACUUM INTO ?").run(legacy);
    setup.close();
  }
  const locker = new DatabaseSync(legacy);
  locker.exec("PRAGMA journal_mode = DELETE; BEGIN EXCLUSIVE;");
  locker.exec("INSERT INTO audit_log (operation) VALUES ('UNCOMMITTED')");
  try {
    const result = await runCli(["bundle", "--db", legacy, "--compress"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /locked by another program/);
    const files = await bundleFiles(result.stdout.trim());
    assert.ok(files.has("database_raw.db"));
    const manifest = JSON.parse(text(files.get("manifest.json")));
    assert.equal(manifest.snapshot.method, "recovered");
    assert.ok(manifest.errors.some((e: { step: string }) => e.step === "database_backup.db"));
    assert.ok(files.has("README.txt") && files.has("system_info.json"));
  } finally {
    locker.exec("ROLLBACK");
    locker.close();
  }
});

Deno.test("CLI bundle with settings that are not valid JSON reports it, leaves them out, and makes the rest", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 2);
  await Deno.writeTextFile(
    join(dir.path, "settings.json"),
    '{\n  "host": "db1",\n  "password": "Hunter2-Secret",\n  oops\n}',
  );
  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 1);
  const path = result.stdout.trim();
  assert.ok(!(await listDir(path)).includes("settings.json"));
  const manifest = await manifestOf(path);
  assert.equal(manifest.settings_included, false);
  assert.deepEqual(manifest.errors.map((e) => e.step), ["settings.json"]);
  assert.match(manifest.errors[0].message, /not valid JSON \(line 4, column 3\)/);
  assert.equal(manifest.audit_records_exported, 2);
  for (const [name, bytes] of await bundleFiles(path)) {
    assert.ok(!text(bytes).includes("Hunter2-Secret"), name);
  }
  assert.ok(!result.stderr.includes("Hunter2-Secret"));

  // Unreadable settings (here a folder) are reported the same way.
  const folder = join(dir.path, "settings.d");
  await Deno.mkdir(folder);
  const unreadable = await runCli(["bundle", "--db", db, "--settings", folder]);
  assert.equal(unreadable.code, 1);
  assert.match(unreadable.stderr, /settings\.json: Cannot read the settings file/);
  assert.ok((await listDir(unreadable.stdout.trim())).includes("database_backup.db"));

  // A settings file named but not there: said in words, not in the runtime's system call.
  const absent = join(dir.path, "no-such-settings.json");
  const missing = await runCli(["bundle", "--db", db, "--settings", absent]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr.split("\n")[0],
    `audit-trail: error: The bundle was saved, but incomplete: settings.json: Cannot read the settings file "${absent}": it does not exist`,
  );
  const missingManifest = await manifestOf(missing.stdout.trim());
  assert.deepEqual(missingManifest.errors, [{
    step: "settings.json",
    message: `Cannot read the settings file "${absent}": it does not exist`,
  }]);
});

const SETTINGS = {
  app: { name: "inventory", listen: "0.0.0.0:8080" },
  database: {
    url: "postgresql://inv_user:Pg-Pa55word@db.local:5432/inventory",
    odbc: "Driver={SQL Server};Server=sql1;Uid=sa;Pwd=Odbc Secret 1;Encrypt=yes",
    credentials: { user: "inv_user", password: "Nested-Pa55" },
  },
  integrations: [
    {
      kind: "erp",
      apiKey: "AKIA-ERP-0123456789",
      webhook: "https://hooks.local/x?token=Tok-In-Query",
    },
    { kind: "mail", smtp: { host: "mx", auth: { pass: "Mail-Secret-9" } } },
  ],
  AUTH_TOKEN: "Bearer-Abc-123456",
  private_key: "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----",
  client_secret: 987654321,
};
const SECRETS = [
  "Pg-Pa55word",
  "Odbc Secret 1",
  "Nested-Pa55",
  "AKIA-ERP-0123456789",
  "Tok-In-Query",
  "Mail-Secret-9",
  "Bearer-Abc-123456",
  "MIIEvQ",
  "987654321",
];

Deno.test("CLI bundle keeps every secret of the settings out of every file, in a folder and in a ZIP", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 3);
  const settingsPath = join(dir.path, "config", "inventory.json");
  await Deno.mkdir(join(dir.path, "config"));
  await Deno.writeTextFile(settingsPath, JSON.stringify(SETTINGS, null, 2));
  const live = await fingerprint(settingsPath);
  for (const extra of [[], ["--compress"]]) {
    const result = await runCli(["bundle", "--db", db, "--settings", settingsPath, ...extra]);
    assert.equal(result.code, 0, result.stderr);
    const files = await bundleFiles(result.stdout.trim());
    assert.ok(files.has("settings.json"));
    for (const [name, bytes] of files) {
      for (const secret of SECRETS) {
        assert.ok(!text(bytes).includes(secret), `${secret} in ${name}`);
      }
    }
    const redacted = JSON.parse(text(files.get("settings.json")));
    assert.equal(redacted.app.listen, "0.0.0.0:8080");
    assert.equal(redacted.database.url, "postgresql://inv_user:[REDACTED]@db.local:5432/inventory");
    assert.equal(
      redacted.database.odbc,
      "Driver={SQL Server};Server=sql1;Uid=sa;Pwd=[REDACTED];Encrypt=yes",
    );
    assert.deepEqual(redacted.database.credentials, { user: "[REDACTED]", password: "[REDACTED]" });
    assert.equal(redacted.integrations[0].kind, "erp");
    assert.equal(redacted.integrations[0].apiKey, "[REDACTED]");
    assert.equal(redacted.integrations[0].webhook, "https://hooks.local/x?token=[REDACTED]");
    assert.deepEqual(redacted.integrations[1].smtp, { host: "mx", auth: { pass: "[REDACTED]" } });
    assert.equal(redacted.client_secret, "[REDACTED]");
    const manifest = JSON.parse(text(files.get("manifest.json")));
    assert.equal(manifest.settings_included, true);
    assert.ok(manifest.settings_redacted_keys.includes("database.credentials.password"));
  }
  assert.equal(await fingerprint(settingsPath), live, "the live settings file is never changed");
});

/** Rows as plain objects (SQLite gives them a null prototype). */
const plain = (rows: unknown[]) => rows.map((row) => ({ ...row as object }));

/** Logs one event through the real CLI. */
async function logEvent(db: string, ...args: string[]): Promise<void> {
  const logged = await runCli(["log", ...args, "--db", db]);
  assert.equal(logged.code, 0, logged.stderr);
}

/** Every byte of every file of a bundle (folder or ZIP), as text, for looking for secrets. */
async function everyFileText(path: string): Promise<Map<string, string>> {
  return new Map([...await bundleFiles(path)].map(([name, bytes]) => [name, text(bytes)]));
}

Deno.test("CLI bundle masks a short secret that equals a user name or part of an order number, instead of refusing", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await Deno.writeTextFile(
    join(dir.path, "settings.json"),
    JSON.stringify({ db: { host: "db1", user: "admin", password: "admin" }, pin: 4321 }),
  );
  await logEvent(db, "ORDER_CONFIRMED", "--user", "admin", "--details", "Order ORD-4321: 5 units");
  await logEvent(
    db,
    "STOCK_COUNT",
    "--user",
    "administrator",
    "--details",
    "14321 units, bin 43210",
  );
  await logEvent(db, "NOTE", "--user", "clerk", "--details", "nothing secret here");
  const live = await fingerprint(db);
  for (const extra of [[], ["--compress"]]) {
    // From the temporary folder: system_info.json names the working folder, and a checkout
    // in a folder such as ".../central-admin" would rightly have "admin" masked there too.
    const result = await runCli(["bundle", "--db", db, ...extra], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    const path = resolve(dir.path, result.stdout.trim());
    const files = await bundleFiles(path);
    // audit_log.csv: newest first; the whole-token rule spares "administrator" and 14321.
    const rows = parseCsv(text(files.get("audit_log.csv")).replace(/^\uFEFF/, ""));
    const header = rows[0];
    const cell = (row: string[], name: string) => row[header.indexOf(name)];
    assert.deepEqual(rows.slice(1).map((r) => [cell(r, "user"), cell(r, "details")]), [
      ["clerk", "nothing secret here"],
      ["administrator", "14321 units, bin 43210"],
      ["[REDACTED]", "Order ORD-[REDACTED]: 5 units"],
    ]);
    // database_backup.db: the same masking, in the copy only.
    const copy = join(dir.path, "copy.db");
    await Deno.writeFile(copy, files.get("database_backup.db")!);
    assert.deepEqual(
      plain(sqliteRows(copy, "SELECT audit_id, user, details FROM audit_log ORDER BY audit_id")),
      [
        { audit_id: 1, user: "[REDACTED]", details: "Order ORD-[REDACTED]: 5 units" },
        { audit_id: 2, user: "administrator", details: "14321 units, bin 43210" },
        { audit_id: 3, user: "clerk", details: "nothing secret here" },
      ],
    );
    const triggers = "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'trigger'";
    assert.deepEqual(
      plain(sqliteRows(copy, triggers)),
      plain(sqliteRows(db, triggers)),
      "the append-only triggers are back in the copy",
    );
    await Deno.remove(copy);
    const settings = JSON.parse(text(files.get("settings.json")));
    assert.deepEqual(settings, {
      db: { host: "db1", user: "[REDACTED]", password: "[REDACTED]" },
      pin: "[REDACTED]",
    });
    const manifest = JSON.parse(text(files.get("manifest.json")));
    assert.equal(manifest.complete, true);
    assert.equal(manifest.redactions.secrets_searched, 2);
    assert.deepEqual(manifest.redactions.not_searched, []);
    assert.deepEqual(manifest.redactions.files, {
      "settings.json": 3,
      "database_backup.db": 2,
      "audit_log.csv": 2,
    });
    assert.equal(manifest.redactions.total, 7);
    assert.deepEqual(manifest.redactions.database.columns, [
      { table: "audit_log", column: "details", cells: 1, by: ["settings"] },
      { table: "audit_log", column: "user", cells: 1, by: ["settings"] },
    ]);
    assert.deepEqual(manifest.redactions.database.audit_ids, {
      count: 1,
      ranges: [[1, 1]],
      complete: true,
    });
    assert.match(
      text(files.get("README.txt")),
      /Hash chain: 1 events of database_backup\.db were masked/,
    );
    assert.equal((await runCli(["bundle", "verify", path])).code, 0);
  }
  assert.equal(await fingerprint(db), live, "the live database is only read");
  assert.equal(
    sqliteRows(db, "SELECT user FROM audit_log WHERE audit_id = 1")[0].user,
    "admin",
  );
});

Deno.test("CLI bundle masks a leaked password in the snapshot too, and no file holds it; the copy's chain names the masked event", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await Deno.writeTextFile(join(dir.path, "settings.json"), '{"smtp_password": "Leaky-Pa55word"}');
  await logEvent(db, "MAIL_SETUP", "--details", "password set to Leaky-Pa55word");
  await logEvent(db, "MAIL_SENT", "--details", '{"auth":"Leaky-Pa55word","to":"ops"}');
  await logEvent(db, "NOTE", "--details", "unrelated");
  for (const extra of [[], ["--compress"]]) {
    const result = await runCli(["bundle", "--db", db, ...extra]);
    assert.equal(result.code, 0, result.stderr);
    const path = result.stdout.trim();
    for (const [name, content] of await everyFileText(path)) {
      assert.ok(!content.includes("Leaky-Pa55word"), `the password is in ${name}`);
    }
    const files = await bundleFiles(path);
    const copy = join(dir.path, "copy.db");
    await Deno.writeFile(copy, files.get("database_backup.db")!);
    assert.deepEqual(plain(sqliteRows(copy, "SELECT details FROM audit_log ORDER BY audit_id")), [
      { details: "password set to [REDACTED]" },
      { details: '{"auth":"[REDACTED]","to":"ops"}' },
      { details: "unrelated" },
    ]);
    // The masked events no longer match their seals, as README.txt and the manifest say.
    const verified = await runCli(["verify", "--db", copy, "--format", "json"]);
    assert.equal(verified.code, 3);
    assert.match(verified.stderr, /Event 1 was modified/);
    await Deno.remove(copy);
    const manifest = JSON.parse(text(files.get("manifest.json")));
    assert.equal(manifest.chain_verify.intact, true, "the live database's chain is intact");
    assert.deepEqual(manifest.redactions.database.audit_ids.ranges, [[1, 2]]);
    assert.equal(manifest.redactions.files["database_backup.db"], 2);
    assert.equal(manifest.redactions.files["audit_log.csv"], 2);
  }
});

Deno.test("CLI bundle recognises keys, JWTs, webhooks, signatures, bearer tokens and private keys in the settings, and masks them in the events too", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const slack = "https://hooks.slack.com/services/T0AB12CDE/B0FG34HIJ/abcdefGHIJKLmnopQRSTuvwx";
  const jwt =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdG9jay1zeW5jIn0.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
  const pemBody = "MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMx7";
  const settings = {
    license_key: "LK-7f3a9c2e",
    jwt,
    alerts: { slack, header: "Bearer 9f8e7d6c5b4a3f2e1d0c" },
    storage: "https://inv.blob.core.windows.net/b?sv=2022-11-02&sp=r&sig=Zm9vYmFyYmF6cXV4",
    notes: `-----BEGIN PRIVATE KEY-----\n${pemBody}\n-----END PRIVATE KEY-----`,
    host: "db1.local",
  };
  await Deno.writeTextFile(join(dir.path, "settings.json"), JSON.stringify(settings));
  await logEvent(db, "ALERT_SENT", "--details", `posted to ${slack}`);
  await logEvent(db, "SYNC", "--details", `token ${jwt} key LK-7f3a9c2e`);
  const result = await runCli(["bundle", "--db", db, "--compress"]);
  assert.equal(result.code, 0, result.stderr);
  const secrets = [
    "LK-7f3a9c2e",
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmU",
    "abcdefGHIJKLmnopQRSTuvwx",
    "9f8e7d6c5b4a3f2e1d0c",
    "Zm9vYmFyYmF6cXV4",
    pemBody,
  ];
  for (const [name, content] of await everyFileText(result.stdout.trim())) {
    for (const secret of secrets) assert.ok(!content.includes(secret), `${secret} in ${name}`);
  }
  const files = await bundleFiles(result.stdout.trim());
  assert.deepEqual(JSON.parse(text(files.get("settings.json"))), {
    license_key: "[REDACTED]",
    jwt: "[REDACTED]",
    alerts: { slack: "https://hooks.slack.com/[REDACTED]", header: "Bearer [REDACTED]" },
    storage: "https://inv.blob.core.windows.net/b?sv=2022-11-02&sp=r&sig=[REDACTED]",
    notes: "[REDACTED]",
    host: "db1.local",
  });
  const csv = text(files.get("audit_log.csv"));
  assert.match(csv, /token \[REDACTED\] key \[REDACTED\]/);
  assert.match(csv, /posted to https:\/\/hooks\.slack\.com\/\[REDACTED\]/);
  const manifest = JSON.parse(text(files.get("manifest.json")));
  assert.equal(manifest.redactions.files["database_backup.db"], 3);
});

Deno.test("CLI bundle hides a secret shorter than 4 characters in settings.json only and says so", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  await Deno.writeTextFile(join(dir.path, "settings.json"), '{"pin": 12, "api_key": "k9"}');
  await logEvent(db, "STOCK_ADJUSTED", "--details", "12 units of k9 kibble");
  const result = await runCli(["bundle", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  const files = await bundleFiles(result.stdout.trim());
  assert.match(text(files.get("audit_log.csv")), /12 units of k9 kibble/);
  assert.deepEqual(JSON.parse(text(files.get("settings.json"))), {
    pin: "[REDACTED]",
    api_key: "[REDACTED]",
  });
  const manifest = JSON.parse(text(files.get("manifest.json")));
  assert.deepEqual(manifest.redactions.not_searched.map((u: { key: string }) => u.key), [
    "pin",
    "api_key",
  ]);
  assert.equal(manifest.redactions.total, 2);
  assert.match(text(files.get("README.txt")), /Not looked for \(too short\): pin, api_key\./);
});

Deno.test("CLI bundle of a database being written gives a snapshot that is consistent and opens alone", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 30_000);
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { logAuditEvent, openDatabase } from ${JSON.stringify(join(ROOT, "mod.ts"))};
       using db = openDatabase(${JSON.stringify(db)});
       console.log("writing");
       for (;;) {
         logAuditEvent(db, { operation: "LIVE_WRITE", details: "x".repeat(500) });
         await new Promise((r) => setTimeout(r, 0));
       }`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = writer.stdout.getReader();
    await reader.read(); // the writer is running
    reader.releaseLock();
    const before = eventCount(db);
    const result = await runCli(["bundle", "--db", db, "--compress"]);
    assert.equal(result.code, 0, result.stderr);
    const after = eventCount(db);
    assert.ok(after > before, "events were written while the bundle was made");
    const copyDir = join(dir.path, "restore");
    await Deno.mkdir(copyDir);
    const files = await bundleFiles(result.stdout.trim());
    await Deno.writeFile(join(copyDir, "database_backup.db"), files.get("database_backup.db")!);
    const backup = new DatabaseSync(join(copyDir, "database_backup.db"), { readOnly: true });
    try {
      assert.equal(backup.prepare("PRAGMA integrity_check").get()!.integrity_check, "ok");
      assert.equal(backup.prepare("PRAGMA journal_mode").get()!.journal_mode, "delete");
      const { n, top } = backup.prepare("SELECT count(*) AS n, max(audit_id) AS top FROM audit_log")
        .get() as { n: number; top: number };
      assert.ok(n >= 30_000 && n <= after);
      assert.equal(n, top, "no gaps: one moment of the database");
    } finally {
      backup.close();
    }
    assert.deepEqual(await listDir(copyDir), ["database_backup.db"], "no -wal or -shm needed");
    const manifest = JSON.parse(text(files.get("manifest.json")));
    assert.equal(manifest.snapshot.consistent, true);
    assert.ok(manifest.audit_records_count >= 30_000);
  } finally {
    writer.kill("SIGKILL");
    await writer.status;
  }
});

Deno.test("CLI bundle into a folder that cannot be written fails at once with exit 1", async () => {
  await using dir = await tempDir();
  const db = await databaseWithEvents(dir.path, 1);
  const blocker = join(dir.path, "not-a-folder");
  await Deno.writeTextFile(blocker, "");
  const result = await runCli(["bundle", "--db", db, "--output", join(blocker, "bundles")]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^audit-trail: error: Cannot write the debug bundle to ".*not-a-folder.bundles": a part of ".*not-a-folder.bundles" is a file, not a folder\n/,
  );
  assert.match(
    result.stderr,
    /hint: Choose another folder for the bundle, one this user may write to\. Give it with --output DIR\./,
  );
  // --output naming the file itself: said in words, not as the runtime's "File exists".
  const onFile = await runCli(["bundle", "--db", db, "--output", blocker]);
  assert.equal(onFile.code, 1);
  assert.equal(onFile.stdout, "");
  assert.equal(
    onFile.stderr.split("\n")[0],
    `audit-trail: error: Cannot write the debug bundle to "${blocker}": "${blocker}" is a file, not a folder`,
  );
  assert.equal(await Deno.readTextFile(blocker), "");
});

Deno.test("CLI bundle rejects a bad --audit-limit and unknown arguments with exit 2", async () => {
  for (const args of [["--audit-limit", "ten"], ["--audit-limit=-1"], ["extra"], ["--zip"]]) {
    const result = await runMain(["bundle", ...args, "--db", "nowhere.db"]);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(result.stdout, "");
  }
  const help = await runMain(["bundle", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^audit-trail bundle — /);
  assert.match(help.stdout, /bundle verify PATH/);
});

Deno.test("the bundle verify example of bundle --help names where bundle writes by default", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "data"));
  await databaseWithEvents(join(dir.path, "data"), 2);
  // Run from the inventory application's folder, as the help's examples are.
  const made = await runCli(["bundle", "--compress"], { cwd: dir.path });
  assert.equal(made.code, 0, made.stderr);
  const name = made.stdout.trim().split("/").at(-1)!;
  const help = await runCli(["bundle", "--help"]);
  const example = help.stdout.match(/^ {2}audit-trail (bundle verify \S+\.zip)$/m);
  assert.ok(example, help.stdout);
  const args = example[1].replace(/debug_bundle_\d{8}_\d{6}\.zip$/, name).split(" ");
  const checked = await runCli(args, { cwd: dir.path });
  assert.equal(checked.code, 0, `${args.join(" ")}: ${checked.stderr}`);
  assert.equal(JSON.parse(checked.stdout).ok, true);
});

Deno.test("launcher makes the compressed bundle with the defaults and names the ZIP", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "data"));
  await databaseWithEvents(join(dir.path, "data"), 2);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", join(ROOT, "launcher.ts")],
    cwd: dir.path,
    env: { NO_COLOR: "1", AUDIT_TRAIL_DB: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const shown = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, shown + new TextDecoder().decode(output.stderr));
  assert.match(shown, /\[1\/8\] Reading the settings/);
  assert.match(shown, /\[8\/8\] Compressing \.\.\. debug_bundle_\d{8}_\d{6}\.zip, /);
  const zipPath = /The debug bundle is this file:\n\n {4}(.+\.zip)\n/.exec(shown)?.[1];
  assert.ok(zipPath, shown);
  assert.equal(join(zipPath, "..", ".."), join(dir.path, "data"));
  assert.match(shown, /Please e-mail this file to support/);
  assert.ok(!shown.includes("Press Enter"), "nobody to press Enter on a pipe");
  assert.equal((await runCli(["bundle", "verify", zipPath])).code, 0);
});
