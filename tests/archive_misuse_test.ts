import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { datedDatabase, eventTime, filesIn } from "./archive_fixtures.ts";
import { assertCleanError, available, mountUnavailable, tmpfs } from "./reliability/_support.ts";

/**
 * Runs the CLI as root without the right to read what its mode forbids (as any other user
 * would be), or null when this machine cannot: not root, or no setpriv.
 */
const WITHOUT_READ_OVERRIDE = Deno.uid() === 0 && await available("setpriv")
  ? [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
  ]
  : null;

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

Deno.test("archive stops at a timestamp that is no time, and says why a run stops early", async () => {
  await using dir = await tempDir();
  // As an adopted table may hold them: text that is no date, a Unix time, a clock set wrong.
  const db = datedDatabase(dir.path, [
    "2024-01-01 10:00:00",
    "01/02/2030",
    "1704200000",
    "2024-01-04 10:00:00",
  ]);
  const dry = await runCli(["archive", "--before", "2024-02-01", "--dry-run", "--db", db]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(JSON.parse(dry.stdout).last_audit_id, 1);
  const result = await runCli(["archive", "--before", "2024-02-01", "--db", db]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).last_audit_id, 1);
  assert.equal(
    result.stderr,
    'audit-trail: warning: Archiving stops at event 2: its timestamp "01/02/2030" is not a time; the older event logged after it stays in the database, as only a run of events from the start of the log is archived.\n',
  );
  const future = datedDatabase(dir.path, [
    "2024-01-01 10:00:00",
    "2999-01-01 00:00:00",
    "2024-01-03T10:00:00.000Z",
  ], "future.db");
  const stuck = await runCli(["archive", "--keep", "30", "--db", future, "--format", "table"]);
  assert.equal(stuck.code, 0, stuck.stderr);
  assert.match(stuck.stdout, /^Archived 1 event \(1–1\)/);
  assert.match(
    stuck.stderr,
    /^audit-trail: warning: Archiving stops at event 2: it is dated 2999-01-01T00:00:00\.000Z, in the future; the older event logged after it stays/,
  );
  // Nothing stops a run early: no word.
  const plain = datedDatabase(dir.path, 10, "plain.db");
  const quiet = await runCli(["archive", "--before", "2024-01-02", "--db", plain]);
  assert.equal(quiet.stderr, "");
});

Deno.test("query and stats leave a timestamp that is no time out of every time range, as archive does", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, [
    "2024-01-01 10:00:00",
    "01/02/2030",
    "1704200000",
    "garbage",
    "2024-01-04 10:00:00",
    "12345",
  ]);
  const ids = async (...args: string[]) => {
    const result = await runCli(["query", "--order", "asc", "--db", db, ...args]);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout).map((e: { audit_id: number }) => e.audit_id);
  };
  assert.deepEqual(await ids(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(await ids("--since", "0001-01-01"), [1, 5]);
  assert.deepEqual(await ids("--until", "2100-01-01"), [1, 5]);
  assert.deepEqual(await ids("--since", "2024-01-02"), [5]);
  assert.deepEqual(await ids("--until", "2024-01-02"), [1]);
  const stats = async (...args: string[]) => {
    const result = await runCli(["stats", "--db", db, ...args]);
    assert.equal(result.code, 0, result.stderr);
    const { events, without_valid_time, per_day } = JSON.parse(result.stdout);
    return { events, without_valid_time, per_day };
  };
  assert.deepEqual(await stats(), {
    events: 6,
    without_valid_time: 4,
    per_day: [{ day: "2024-01-01", count: 1 }, { day: "2024-01-04", count: 1 }],
  });
  assert.deepEqual(await stats("--until", "2100-01-01"), {
    events: 2,
    without_valid_time: 0,
    per_day: [{ day: "2024-01-01", count: 1 }, { day: "2024-01-04", count: 1 }],
  });
  // archive stops at the first of them, as before.
  const dry = await runCli(["archive", "--keep", "0", "--dry-run", "--db", db]);
  assert.equal(JSON.parse(dry.stdout).last_audit_id, 1);
});

Deno.test("query and batch show without --archives tell a person when what was asked may be archived", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40); // events 6 hours apart from 2024-01-01; run_i: 10 each
  assert.equal((await runCli(["archive", "--before", "2024-01-05", "--db", db])).code, 0); // 1-16
  const note =
    "audit-trail: note: events 1 to 16 are archived and were not read: add --archives DIR (archive/ beside the database, unless archived elsewhere) to search them too\n";
  const cases: [string[], boolean][] = [
    [["query", "--until", "2024-01-02"], true],
    [["query", "--sku", "SKU-1"], true],
    [["query", "--before-id", "20"], true],
    [["query", "--order", "asc", "--limit", "1"], true],
    [["query", "--since", "2024-01-05"], false],
    [["query", "--after-id", "16"], false],
    [["query", "--limit", "1"], false], // newest first, the page ends in the live log
    [["query", "--until", "2024-01-02", "--archives", join(dir.path, "archive")], false],
  ];
  for (const [args, noted] of cases) {
    // A table is read by a person; JSON to a script's log (no terminal) gets no note.
    const result = await runCli([...args, "--db", db, "--format", "table"]);
    assert.equal(result.code, 0, result.stderr);
    // (After the table's own "more match" line, when a page stopped at its limit.)
    const notes = result.stderr.split(/(?<=\n)/).filter((line) => line.includes(" note: "));
    assert.deepEqual(notes, noted ? [note] : [], args.join(" "));
    assert.equal((await runCli([...args, "--db", db, "--format", "json"])).stderr, "");
  }
  const empty = await runCli(["query", "--until", "2024-01-02", "--db", db]);
  assert.equal(empty.stdout, "[]\n");
  // run_1 (events 11-20) spans the boundary; run_3 lies in the live log.
  const half = await runCli(["batch", "show", "run_1", "--db", db, "--format", "table"]);
  assert.match(half.stdout, /event_count +4/);
  assert.equal(half.stderr, note.replace("search them", "read them"));
  const list = await runCli(["batch", "list", "--db", db, "--format", "table"]);
  assert.equal(
    list.stderr,
    "audit-trail: note: events 1 to 16 are archived and were not read: a batch that began among them is counted and timed from its events in the database\n",
  );
  const started = await runCli(["batch", "start", "--db", db]);
  const live = await runCli([
    "batch",
    "show",
    started.stdout.trim(),
    "--db",
    db,
    "--format",
    "table",
  ]);
  assert.equal(live.stderr, "");
});

Deno.test("stats and report say that archived events are not counted", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  assert.equal((await runCli(["archive", "--before", "2024-01-05", "--db", db])).code, 0); // 1-16
  const stats = await runCli(["stats", "--db", db, "--format", "table"]);
  assert.match(stats.stdout, /^Events +24,/);
  assert.equal(
    stats.stderr,
    "audit-trail: note: events 1 to 16 are archived and were not counted: stats counts the events left in the database\n",
  );
  const later = await runCli(["stats", "--since", "2024-01-06", "--db", db, "--format", "table"]);
  assert.equal(later.stderr, "");
  assert.equal((await runCli(["stats", "--db", db])).stderr, "");
  const output = join(dir.path, "report.html");
  const report = await runCli(["report", "--output", output, "--db", db]);
  assert.equal(report.code, 0, report.stderr);
  const html = Deno.readTextFileSync(output);
  assert.match(html, /UTC; events up to 16 archived, not counted/);
  assert.match(
    html,
    /24 seals checked from the newest archive checkpoint \(events up to 16 archived\)/,
  );
});

Deno.test("a --keep that is not a whole number of days gets a hint as well", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 5);
  const unchanged = await fingerprint(db);
  for (const keep of ["-1", "1.5", "1e3", "365d", "", "99999999999999999999"]) {
    const result = await runCli(["archive", "--keep", keep, "--db", db]);
    assertCleanError(
      result,
      2,
      // Digits alone past 2^53 are a whole number, only too large, and the message says so.
      keep === "99999999999999999999"
        ? /--keep is too large: at most 9007199254740991, not "99999999999999999999"/
        : new RegExp(`--keep must be a whole number of 0 or more, not "${keep}"`),
    );
    assert.match(
      result.stderr,
      /\nhint: Give the number of days to keep, a whole number, e\.g\. --keep 365/,
    );
  }
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(dir.path), ["app.db"]);
});

Deno.test({
  name:
    "verify --archives: an archive file or folder this user may not read is exit 1, not tampering",
  ignore: WITHOUT_READ_OVERRIDE === null,
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  const folder = join(dir.path, "archive");
  await runCli(["archive", "--before", "2024-01-03", "--db", db]);
  await runCli(["archive", "--before", "2024-01-05", "--db", db]);
  const wrapper = WITHOUT_READ_OVERRIDE!;
  const named = join(folder, "audit_archive_9_16.db");
  Deno.chmodSync(named, 0o000);
  const result = await runCli(["verify", "--db", db, "--archives", folder], { wrapper });
  assertCleanError(
    result,
    1,
    /Archive audit_archive_9_16\.db in ".*" cannot be read: this user may not read it$/,
  );
  assert.match(result.stderr, /hint: Its events were not checked\. Let this user read/);
  Deno.chmodSync(named, 0o644);
  // A file no checkpoint names, unreadable: nothing says it is foreign.
  const extra = join(folder, "audit_archive_1_8.db.copy");
  Deno.copyFileSync(join(folder, "audit_archive_1_8.db"), extra);
  Deno.renameSync(extra, join(folder, "audit_archive_17_20.db"));
  Deno.chmodSync(join(folder, "audit_archive_17_20.db"), 0o000);
  const unnamed = await runCli(["verify", "--db", db, "--archives", folder], { wrapper });
  assertCleanError(
    unnamed,
    1,
    /Archive audit_archive_17_20\.db in ".*" cannot be read: this user may not read it$/,
  );
  Deno.removeSync(join(folder, "audit_archive_17_20.db"));
  // A folder it may not list (or not enter): every archive looked missing.
  for (const mode of [0o000, 0o311]) {
    Deno.chmodSync(folder, mode);
    const closed = await runCli(["verify", "--db", db, "--archives", folder], { wrapper });
    Deno.chmodSync(folder, 0o755);
    assertCleanError(closed, 1, /Archive folder ".*" cannot be read: this user may not read it$/);
    assert.match(closed.stderr, /hint: Let this user read the archive folder/);
  }
  const intact = await runCli(["verify", "--db", db, "--archives", folder], { wrapper });
  assert.equal(intact.code, 0, intact.stderr);
});

Deno.test("archive --to a file, not a folder: exit 1 saying so, nothing archived", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 10);
  const unchanged = await fingerprint(db);
  Deno.writeTextFileSync(join(dir.path, "notes.txt"), "x");
  for (const to of ["notes.txt", "notes.txt/2024"]) {
    const result = await runCli(["archive", "--keep", "0", "--to", join(dir.path, to), "--db", db]);
    assertCleanError(result, 1, /Archive folder ".*" cannot be made: a file is in its way/);
  }
  assert.equal(await fingerprint(db), unchanged);
});

Deno.test({
  name: "archive into a folder that can take no new file (no inode left): disk full, exit 1",
  ignore: (await mountUnavailable()) !== null,
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 10);
  const unchanged = await fingerprint(db);
  // The root, the lock file and one more: no room for the archive file.
  await using disk = await tmpfs("64k,nr_inodes=3");
  Deno.writeTextFileSync(join(disk.path, "other"), "");
  const result = await runCli(["archive", "--keep", "0", "--to", disk.path, "--db", db]);
  assertCleanError(result, 1, /Disk is full: cannot write to ".*"/);
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(disk.path), [".audit_trail_archive.lock", "other"]);
});

Deno.test("an archive run never removes another database's archive in a shared folder", async () => {
  await using dir = await tempDir();
  const shared = join(dir.path, "shared");
  const a = datedDatabase(dir.path, 40, "a.db");
  // Another site: its events a minute after a's, so other seals.
  const times = Array.from({ length: 20 }, (_, i) => `${eventTime(i).slice(0, 14)}01:00.000Z`);
  const b = datedDatabase(dir.path, times.map((t) => t.replace(" ", "T")), "b.db");
  const archive = (db: string, before: string) =>
    runCli(["archive", "--before", before, "--to", shared, "--db", db]);
  assert.equal((await archive(b, "2024-01-03")).code, 0); // b: 1-8
  const theirs = await fingerprint(join(shared, "audit_archive_1_8.db"));
  assert.equal((await archive(a, "2024-01-04")).code, 0); // a: 1-12
  // a's events 1-12 are archived: b's 1-8 looked like a's orphan by its name alone.
  assert.equal((await archive(a, "2024-01-06")).code, 0); // a: 13-20
  assert.deepEqual(filesIn(shared), [
    ".audit_trail_archive.lock",
    "audit_archive_13_20.db",
    "audit_archive_1_12.db",
    "audit_archive_1_8.db",
  ]);
  assert.equal(await fingerprint(join(shared, "audit_archive_1_8.db")), theirs);
  // Each database's own files check out; the other's are foreign to it.
  const own = join(dir.path, "b-only");
  Deno.mkdirSync(own);
  Deno.copyFileSync(join(shared, "audit_archive_1_8.db"), join(own, "audit_archive_1_8.db"));
  const verify = await runCli(["verify", "--db", b, "--archives", own]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(JSON.parse(verify.stdout).events_checked, 20);
});

Deno.test("verify --archives: a renamed archive is missing (exit 3), and the message names its new name", async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 40);
  const folder = join(dir.path, "archive");
  await runCli(["archive", "--before", "2024-01-03", "--db", db]);
  await runCli(["archive", "--before", "2024-01-05", "--db", db]);
  Deno.renameSync(
    join(folder, "audit_archive_9_16.db"),
    join(folder, "audit_archive_9_16 (copy).db"),
  );
  const result = await runCli(["verify", "--db", db, "--archives", folder]);
  assertTampering(
    result,
    /Tampering found: Archive audit_archive_9_16\.db is missing from ".*": audit_archive_9_16 \(copy\)\.db holds its events \(9 to 16\) under another name/,
  );
  Deno.renameSync(join(folder, "audit_archive_9_16 (copy).db"), join(folder, "old.db"));
  const gone = await runCli(["verify", "--db", db, "--archives", folder]);
  assertTampering(gone, /Archive audit_archive_9_16\.db is missing from ".*": old\.db holds/);
  Deno.removeSync(join(folder, "old.db"));
  const deleted = await runCli(["verify", "--db", db, "--archives", folder]);
  assertTampering(
    deleted,
    /Archive audit_archive_9_16\.db is missing: events 9 to 16 are gone/,
  );
});

/** verify's failure: its report on stdout, the finding on stderr, exit 3. */
function assertTampering(
  result: { code: number; stdout: string; stderr: string },
  message: RegExp,
) {
  assert.equal(result.code, 3, result.stderr);
  assert.equal(JSON.parse(result.stdout).intact, false);
  assert.match(result.stderr.split("\n")[0], message);
}

Deno.test("verify --archives: another site's archive of the same ids in place of ours is named as such", async () => {
  await using dir = await tempDir();
  const ours = datedDatabase(dir.path, 20, "ours.db");
  const times = Array.from({ length: 20 }, (_, i) => `${eventTime(i).slice(0, 14)}01:00.000Z`);
  const theirs = datedDatabase(dir.path, times.map((t) => t.replace(" ", "T")), "theirs.db");
  for (const db of [ours, theirs]) {
    const to = join(dir.path, db === ours ? "ours" : "theirs");
    assert.equal(
      (await runCli(["archive", "--before", "2024-01-03", "--to", to, "--db", db])).code,
      0,
    );
  }
  Deno.copyFileSync(
    join(dir.path, "theirs", "audit_archive_1_8.db"),
    join(dir.path, "ours", "audit_archive_1_8.db"),
  );
  const result = await runCli(["verify", "--db", ours, "--archives", join(dir.path, "ours")]);
  assertTampering(
    result,
    /Archive audit_archive_1_8\.db holds other events than its checkpoint records \(other seals: another database's archive of the same ids, or events altered\)$/,
  );
  assert.equal(JSON.parse(result.stdout).failure.kind, "modified");
});

Deno.test({
  name: "archive into a folder this user may write to but not list: exit 1 with a hint",
  ignore: WITHOUT_READ_OVERRIDE === null,
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 10);
  const folder = join(dir.path, "archive");
  Deno.mkdirSync(folder);
  Deno.chmodSync(dir.path, 0o755);
  const unchanged = await fingerprint(db);
  Deno.chmodSync(folder, 0o333);
  const result = await runCli(["archive", "--keep", "0", "--db", db], {
    wrapper: WITHOUT_READ_OVERRIDE!,
  });
  Deno.chmodSync(folder, 0o755);
  assertCleanError(
    result,
    1,
    /^audit-trail: error: Cannot write to the archive folder "(.*)": this user may not write in "\1"$/,
  );
  assert.match(result.stderr, /hint: Nothing was archived\./);
  assert.equal(await fingerprint(db), unchanged);
  assert.deepEqual(filesIn(folder), [".audit_trail_archive.lock"]);
});

Deno.test({
  name: "archive --to a folder that cannot be made: exit 1 saying so in words, nothing archived",
  // /proc takes no new folder, whoever runs the test (root included).
  ignore: Deno.build.os !== "linux",
}, async () => {
  await using dir = await tempDir();
  const db = datedDatabase(dir.path, 10);
  const unchanged = await fingerprint(db);
  const result = await runCli([
    "archive",
    "--keep",
    "0",
    "--to",
    "/proc/audit-archive",
    "--db",
    db,
  ]);
  assertCleanError(
    result,
    1,
    /^audit-trail: error: Cannot write the archive in "\/proc\/audit-archive": the folder "\/proc\/audit-archive" does not exist$/,
  );
  assert.equal(await fingerprint(db), unchanged);
});
