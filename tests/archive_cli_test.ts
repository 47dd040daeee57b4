import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { datedDatabase, filesIn, rowsOf } from "./archive_fixtures.ts";
import {
  assertCleanError,
  available,
  mountUnavailable,
  readOnlyBind,
  sh,
  tmpfs,
} from "./reliability/_support.ts";

// What this machine allows: a test that needs what is missing is reported as ignored.
/** Why a tmpfs cannot be mounted here (it needs root), or `null`. */
const MOUNT = await mountUnavailable();
const SQLITE3 = await available("sqlite3", ["-version"]);

Deno.test("archive --before prints what it moved; verify starts from the checkpoint", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 200);
  const result = await runCli(["archive", "--before", "2024-01-15", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  const printed = JSON.parse(result.stdout);
  const file = join(dir.path, "archive", "audit_archive_1_56.db");
  assert.deepEqual(printed, {
    archived: 56,
    first_audit_id: 1,
    last_audit_id: 56,
    file,
    sha256: await fingerprint(file),
    bytes: Deno.statSync(file).size,
  });
  const verify = await runCli(["verify", "--db", db]);
  assert.equal(verify.code, 0, verify.stderr);
  const report = JSON.parse(verify.stdout);
  assert.equal(report.archived_through, 56);
  assert.equal(report.events_checked, 144);
  assert.equal(report.archives, null);
  const table = await runCli([
    "verify",
    "--db",
    db,
    "--format",
    "table",
    "--archives",
    join(dir.path, "archive"),
  ]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^events up to 56 archived$/m);
  assert.match(table.stdout, /^archive audit_archive_1_56\.db: events 1–56 intact$/m);
  assert.match(table.stdout, /200 events checked/);
});

Deno.test("archive --keep and --dry-run, on a terminal and as JSON; a rerun does nothing", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 30);
  const folder = join(dir.path, "old");
  const dry = await runCli(["archive", "--keep", "30", "--to", folder, "--dry-run", "--db", db]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(JSON.parse(dry.stdout), {
    archived: 30,
    first_audit_id: 1,
    last_audit_id: 30,
    file: join(folder, "audit_archive_1_30.db"),
    sha256: null,
    bytes: null,
    dry_run: true,
  });
  assert.deepEqual(filesIn(folder), []);
  const done = await runCli([
    "archive",
    "--keep",
    "30",
    "--to",
    folder,
    "--db",
    db,
    "--format",
    "table",
  ]);
  assert.equal(done.code, 0, done.stderr);
  assert.match(
    done.stdout,
    new RegExp(
      `^Archived 30 events \\(1–30\\) to ${folder}/audit_archive_1_30\\.db\\nsha256  [0-9a-f]{64}  \\(\\d+ bytes\\)\\n$`,
    ),
  );
  const unchanged = await fingerprint(db);
  const again = await runCli(["archive", "--keep", "30", "--to", folder, "--db", db]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).archived, 0);
  assert.equal(await fingerprint(db), unchanged);
});

Deno.test("archive takes --before in the legacy form as well as ISO forms", async () => {
  await using dir = await tempDir();
  for (
    const [before, archived] of [["2024-01-02 00:00:00", 4], ["2024-01-03T00:00", 8], [
      "2024-01-04T00:00:00.000Z",
      12,
    ]] as const
  ) {
    const db = datedDatabase(dir.path, 20, `${archived}.db`);
    const result = await runCli([
      "archive",
      "--before",
      before,
      "--db",
      db,
      "--to",
      join(dir.path, `a${archived}`),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).archived, archived, before);
  }
});

Deno.test("archive refuses bad options with exit 2, changing nothing", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 20);
  const unchanged = await fingerprint(db);
  const cases: [string[], RegExp][] = [
    [[], /archive needs --before DATE or --keep DAYS/],
    [["--before", "2024-01-02", "--keep", "3"], /Give either --before or --keep, not both/],
    [["--before", "2024-13-01"], /--before "2024-13-01" is not a valid date or time/],
    [["--before", "yesterday"], /--before "yesterday" is not a valid date or time/],
    [["--before", "2999-01-01"], /--before 2999-01-01 is in the future/],
    [["--keep", "-1"], /--keep must be a whole number of 0 or more, not "-1"/],
    [["--keep", "1.5"], /--keep must be a whole number of 0 or more, not "1.5"/],
    [["--keep", "999999999999"], /--keep 999999999999 reaches back before any possible date/],
    [["--keep", "5", "--to", ""], /--to must not be empty/],
    [["--keep", "5", "extra"], /Unexpected argument "extra" for archive/],
    [["--keep", "5", "--bogus"], /Unknown option "--bogus" for archive/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(["archive", ...args, "--db", db]);
    assertCleanError(result, 2, message);
  }
  const future = await runCli(["archive", "--before", "2999-01-01", "--db", db]);
  assert.match(future.stderr, /hint: .*--keep 0/);
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(dir.path), ["app.db"]);
});

Deno.test("--keep 0 archives every event; the next event continues numbering and chain", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 25);
  const head = (await runCli(["head", "--db", db, "--format", "table"])).stdout.trim();
  const result = await runCli(["archive", "--keep", "0", "--db", db]);
  assert.equal(JSON.parse(result.stdout).archived, 25);
  assert.equal((await runCli(["head", "--db", db, "--format", "table"])).stdout.trim(), head);
  assert.equal((await runCli(["log", "STOCK_COUNTED", "--db", db])).stdout, "26\n");
  const verify = await runCli([
    "verify",
    "--db",
    db,
    "--anchor",
    head,
    "--archives",
    join(dir.path, "archive"),
  ]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(JSON.parse(verify.stdout).events_checked, 26);
});

Deno.test("verify: an anchor among archived events without --archives is a usage error naming it", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  await runCli(["archive", "--before", "2024-01-05", "--db", db]);
  const [seal] = rowsOf(
    join(dir.path, "archive", "audit_archive_1_16.db"),
    "audit_trail_chain",
    "audit_id = 3",
  );
  const anchor = `3:${
    Array.from(seal.hash as Uint8Array, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
  const result = await runCli(["verify", "--db", db, "--anchor", anchor]);
  assertCleanError(result, 2, /Anchor 3 lies among the archived events \(events up to 16/);
  assert.match(result.stderr, /hint: .*--archives DIR/);
  const checked = await runCli([
    "verify",
    "--db",
    db,
    "--anchor",
    anchor,
    "--archives",
    join(dir.path, "archive"),
  ]);
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(JSON.parse(checked.stdout).anchor.matches, true);
});

Deno.test("verify --archives: a missing or changed archive is tampering (exit 3) naming the file", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  const folder = join(dir.path, "archive");
  await runCli(["archive", "--before", "2024-01-05", "--db", db]);
  const file = join(folder, "audit_archive_1_16.db");
  const original = Deno.readFileSync(file);
  Deno.removeSync(file);
  const missing = await runCli(["verify", "--db", db, "--archives", folder]);
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /Tampering found: Archive audit_archive_1_16\.db is missing/);
  assert.deepEqual(JSON.parse(missing.stdout).failure.file, "audit_archive_1_16.db");
  Deno.writeFileSync(file, original);
  const raw = new DatabaseSync(file);
  raw.exec("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE audit_id = 16");
  raw.close();
  const cut = await runCli(["verify", "--db", db, "--archives", folder, "--format", "table"]);
  assert.equal(cut.code, 3);
  assert.match(cut.stderr, /Archive audit_archive_1_16\.db is not intact: Event 16 was deleted/);
  assert.match(cut.stdout, /archive audit_archive_1_16\.db: events 1–16 NOT intact/);
  const nowhere = await runCli(["verify", "--db", db, "--archives", join(dir.path, "nowhere")]);
  assertCleanError(nowhere, 1, /Archive folder not found/);
  // One archive file given for the folder, as query and verify both read it.
  for (const command of [["verify"], ["query"]]) {
    const oneFile = await runCli([...command, "--db", db, "--archives", file]);
    assertCleanError(
      oneFile,
      1,
      /^audit-trail: error: Archive folder ".*audit_archive_1_16\.db" is a file, not a folder$/,
    );
    assert.match(
      oneFile.stderr,
      /\nhint: Give the folder that holds the audit_archive_\*\.db files/,
    );
  }
});

Deno.test({
  name: "a DELETE through the sqlite3 shell of an unarchived event is still refused",
  ignore: !SQLITE3,
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 30);
  await runCli(["archive", "--before", "2024-01-03", "--db", db]);
  for (
    const sql of [
      "DELETE FROM audit_log WHERE audit_id = 20;",
      "DELETE FROM audit_log;",
      "UPDATE audit_log SET user = 'x';",
    ]
  ) {
    const result = await sh("sqlite3", [db, sql]);
    assert.notEqual(result.code, 0, sql);
    assert.match(result.stderr, /audit_log is append-only/);
  }
  assert.equal(rowsOf(db, "audit_log").length, 22);
  assert.equal((await runCli(["verify", "--db", db])).code, 0);
});

Deno.test({
  name: "archive into a read-only folder fails with exit 1 and leaves the log as it was",
  ignore: MOUNT !== null,
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 30);
  Deno.mkdirSync(join(dir.path, "target"));
  await using readOnly = await readOnlyBind(join(dir.path, "target"));
  const unchanged = await fingerprint(db);
  for (const to of [readOnly.path, join(readOnly.path, "sub")]) {
    const result = await runCli(["archive", "--keep", "0", "--to", to, "--db", db]);
    assertCleanError(result, 1, /Cannot write to the archive folder ".*": Read-only file system/);
  }
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(join(dir.path, "target")), []);
});

Deno.test({
  name: "a full disk while writing the archive: exit 1, live log untouched, temporary file gone",
  ignore: MOUNT !== null,
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 20_000);
  await using disk = await tmpfs("256k");
  const unchanged = await fingerprint(db);
  const result = await runCli(["archive", "--keep", "0", "--to", disk.path, "--db", db]);
  assertCleanError(result, 1, /Disk is full: cannot write to ".*"/);
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(disk.path), [".audit_trail_archive.lock"]);
  assert.equal((await runCli(["verify", "--db", db])).code, 0);
});

Deno.test("a second archive run on the same folder at the same time is refused", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 20);
  const folder = join(dir.path, "archive");
  Deno.mkdirSync(folder);
  using lock = Deno.openSync(join(folder, ".audit_trail_archive.lock"), {
    create: true,
    write: true,
  });
  lock.lockSync(true);
  const result = await runCli(["archive", "--keep", "0", "--db", db]);
  assertCleanError(result, 1, /Another audit-trail archive run is writing to/);
  assert.equal(rowsOf(db, "audit_log").length, 20);
});

Deno.test("a bundle lists the archive checkpoints in its manifest and copies no archive file", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 60);
  await runCli(["archive", "--before", "2024-01-05", "--db", db]);
  await runCli(["archive", "--before", "2024-01-10", "--db", db]);
  const result = await runCli(["bundle", "--db", db, "--output", join(dir.path, "bundles")]);
  assert.equal(result.code, 0, result.stderr);
  const folder = result.stdout.trim();
  const manifest = JSON.parse(Deno.readTextFileSync(join(folder, "manifest.json")));
  assert.deepEqual(
    manifest.archives.map((
      c: Record<string, unknown>,
    ) => [c.file, c.first_audit_id, c.last_audit_id, c.events]),
    [["audit_archive_1_16.db", 1, 16, 16], ["audit_archive_17_36.db", 17, 36, 20]],
  );
  for (const checkpoint of manifest.archives) {
    assert.equal(checkpoint.sha256, await fingerprint(join(dir.path, "archive", checkpoint.file)));
  }
  assert.equal(manifest.chain_verify.intact, true);
  assert.ok(
    filesIn(folder).every((name) => !name.startsWith("audit_archive_")),
    filesIn(folder).join(),
  );
});

Deno.test("with a central store, archive keeps events it has not acknowledged unless --force", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  // What the first sync records (migration of the central store's local bookkeeping).
  const raw = new DatabaseSync(db);
  raw.exec(`CREATE TABLE IF NOT EXISTS audit_trail_central (
    id INTEGER PRIMARY KEY CHECK (id = 1), site TEXT NOT NULL, central TEXT NOT NULL,
    first_sync_at TEXT NOT NULL DEFAULT '', last_sync_at TEXT NOT NULL DEFAULT '',
    acknowledged_audit_id INTEGER);
    INSERT INTO audit_trail_central (id, site, central, acknowledged_audit_id)
    VALUES (1, 'WH-1', 'postgres://central/audit', 10)`);
  raw.close();
  const unchanged = await fingerprint(db);
  const refused = await runCli(["archive", "--before", "2024-01-05", "--db", db]);
  assertCleanError(
    refused,
    1,
    /Events 11 to 16 have not reached the central store yet \(it has acknowledged events up to 10\)/,
  );
  assert.match(refused.stderr, /hint: .*audit-trail sync.*--force/);
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(dir.path), ["app.db"]);
  // Up to what it acknowledged is fine; beyond it, --force says the archive is enough.
  const acknowledged = await runCli(["archive", "--before", "2024-01-03 12:00", "--db", db]);
  assert.equal(JSON.parse(acknowledged.stdout).last_audit_id, 10, acknowledged.stderr);
  const forced = await runCli(["archive", "--before", "2024-01-05", "--force", "--db", db]);
  assert.equal(JSON.parse(forced.stdout).last_audit_id, 16, forced.stderr);
  // A store set up for this database that never synced has acknowledged nothing.
  const fresh = datedDatabase(dir.path, 5, "fresh.db");
  const never = await runCli(["archive", "--keep", "0", "--db", fresh], {
    env: { AUDIT_TRAIL_CENTRAL: "postgres://central/audit" },
  });
  assertCleanError(
    never,
    1,
    /Events 1 to 5 have not reached the central store yet \(this database was never synced\)/,
  );
  const single = await runCli([
    "archive",
    "--keep",
    "0",
    "--db",
    datedDatabase(dir.path, 1, "one.db"),
  ], {
    env: { AUDIT_TRAIL_CENTRAL: "postgres://central/audit" },
  });
  assertCleanError(
    single,
    1,
    /error: Event 1 has not reached the central store yet \(this database was never synced\), so it cannot be archived$/m,
  );
});
