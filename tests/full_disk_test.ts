/**
 * A completely full disk: every command that only reads answers as it does on a disk with
 * room (the database, closed cleanly, has no WAL index, and none can be made there), and every
 * writer still says the disk is full. Nothing is left beside the database by either. Needs
 * root to mount a small tmpfs, and is reported as ignored where that is impossible.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { DiskFullError, logAuditEvent, logAuditEvents, openDatabase } from "../mod.ts";
import { cliCommand, tempDir } from "./helpers.ts";
import {
  assertCleanError,
  fill,
  leaveChangeInWal,
  listFiles,
  mountUnavailable,
  ndjson,
  reliabilityCase,
  runTimed,
  tally,
  tmpfs,
  withSqlite,
} from "./reliability/_support.ts";

const MOUNT = await mountUnavailable();

/**
 * The same audit log twice: `full`, on a tmpfs filled to the last byte, and `room`, a copy on
 * a disk with room; `archives`, where its oldest events were archived (on the disk with room).
 * `filler` fills the disk; `files` lists what is beside `full` once the disk is full.
 */
async function fullDisk(): Promise<
  & { full: string; room: string; archives: string; filler: string; files: string[] }
  & AsyncDisposable
> {
  const disk = await tmpfs("1m");
  const roomDir = await tempDir();
  const full = join(disk.path, "app.db");
  const archives = join(roomDir.path, "archives");
  const run = async (args: string[], stdin?: string) => {
    const result = await runTimed([...args, "--db", full], { stdin });
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim();
  };
  await run(["migrate"]);
  await run(["log", "--stdin"], ndjson([{ operation: "OLD", sku: "SKU-0", details: "archived" }]));
  await run(["archive", "--keep", "0", "--to", archives, "--format", "json"]);
  await run(
    ["log", "--stdin"],
    ndjson(Array.from({ length: 5 }, (_, i) => ({
      operation: i % 2 ? "PICKED" : "RECEIVED",
      sku: `SKU-${i}`,
      details: `item ${i}`,
      user: "ana",
    }))),
  );
  const runId = await run(["batch", "start", "night count"]);
  await run(["log", "COUNTED", "--sku", "SKU-9", "--run-id", runId]);
  await run(["batch", "end", runId, "done"]);
  const room = join(roomDir.path, "app.db");
  await Deno.copyFile(full, room);
  const filler = await fill(disk.path);
  const files = await listFiles(disk.path);
  assert.ok(!files.some((name) => name.startsWith("app.db-")), `not closed cleanly: ${files}`);
  return {
    full,
    room,
    archives,
    filler,
    files,
    async [Symbol.asyncDispose]() {
      await disk[Symbol.asyncDispose]();
      await roomDir[Symbol.asyncDispose]();
    },
  };
}

/**
 * What a run printed, with the archives' folder and the database's folder (which differs
 * between the two) named alike.
 */
function normalized(text: string, db: string, archives: string): string {
  return text.replaceAll(archives, "<archives>").replaceAll(dirname(db), "<dir>");
}

/**
 * Runs `args` on the full disk and on the disk with room: both succeed, print the same, and
 * the full disk holds the same files afterwards.
 */
async function assertSameOnFullDisk(
  setup: { full: string; room: string; archives: string; files: string[] },
  args: string[],
) {
  tally.faults++;
  const onFull = await runTimed([...args, "--db", setup.full]);
  const onRoom = await runTimed([...args, "--db", setup.room]);
  assert.equal(onRoom.code, 0, onRoom.stderr);
  assert.equal(onFull.code, 0, `${args.join(" ")} on a full disk: ${onFull.stderr}`);
  assert.equal(
    normalized(onFull.stdout, setup.full, setup.archives),
    normalized(onRoom.stdout, setup.room, setup.archives),
  );
  assert.equal(
    normalized(onFull.stderr, setup.full, setup.archives),
    normalized(onRoom.stderr, setup.room, setup.archives),
  );
  assert.deepEqual(await listFiles(join(setup.full, "..")), setup.files, args.join(" "));
}

reliabilityCase({
  name: "full disk: query, head and stats print what they print on a disk with room",
  unavailable: MOUNT,
}, async () => {
  await using setup = await fullDisk();
  for (
    const args of [
      ["query", "--limit", "0", "--format", "ndjson"],
      ["query", "--sku", "SKU-1", "--format", "csv"],
      ["query", "--format", "table"],
      ["query", "--archives", setup.archives, "--limit", "0", "--format", "json"],
      ["head", "--format", "json"],
      ["stats", "--format", "json"],
    ]
  ) await assertSameOnFullDisk(setup, args);
});

reliabilityCase({
  name:
    "full disk: verify, with and without the archives, gives the verdict it gives on a disk with room",
  unavailable: MOUNT,
}, async () => {
  await using setup = await fullDisk();
  await assertSameOnFullDisk(setup, ["verify", "--format", "json"]);
  await assertSameOnFullDisk(setup, ["verify", "--archives", setup.archives, "--format", "json"]);
});

reliabilityCase({
  name: "full disk: batch list and batch show print what they print on a disk with room",
  unavailable: MOUNT,
}, async () => {
  await using setup = await fullDisk();
  await assertSameOnFullDisk(setup, ["batch", "list", "--format", "json"]);
  const list = await runTimed(["batch", "list", "--format", "json", "--db", setup.room]);
  const [{ run_id }] = JSON.parse(list.stdout);
  await assertSameOnFullDisk(setup, ["batch", "show", run_id, "--format", "json"]);
  await assertSameOnFullDisk(setup, [
    "archive",
    "--keep",
    "0",
    "--dry-run",
    "--to",
    setup.archives,
    "--format",
    "json",
  ]);
});

reliabilityCase({
  name: "full disk: a report and a bundle written to another disk are whole",
  unavailable: MOUNT,
}, async () => {
  await using setup = await fullDisk();
  await using out = await tempDir();
  const report = await runTimed(["report", "--output", "-", "--db", setup.full]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /SKU-9/);
  const bundles = join(out.path, "bundles");
  const bundle = await runTimed(["bundle", "--output", bundles, "--db", setup.full]);
  assert.equal(bundle.code, 0, bundle.stderr);
  const [name] = await listFiles(bundles);
  const manifest = JSON.parse(await Deno.readTextFile(join(bundles, name, "manifest.json")));
  const roomBundles = join(out.path, "room");
  assert.equal((await runTimed(["bundle", "--output", roomBundles, "--db", setup.room])).code, 0);
  const [roomName] = await listFiles(roomBundles);
  assert.equal(
    await Deno.readTextFile(join(bundles, name, "audit_log.csv")),
    await Deno.readTextFile(join(roomBundles, roomName, "audit_log.csv")),
  );
  assert.equal(manifest.complete, true, JSON.stringify(manifest.problems ?? manifest));
  assert.equal(manifest.chain_verify?.intact, true);
  assert.equal(manifest.audit_records_exported, 8);
  assert.deepEqual(await listFiles(join(setup.full, "..")), setup.files);
});

reliabilityCase({
  name: "full disk: serve answers what it answers on a disk with room",
  unavailable: MOUNT,
}, async () => {
  await using setup = await fullDisk();
  const answers = async (db: string) => {
    await using viewer = await serve(db);
    const bodies: string[] = [];
    for (const path of ["/api/events", "/api/stats", "/api/verify", "/api/batches"]) {
      bodies.push(`${path} ${normalized(await viewer.get(path), db, setup.archives)}`);
    }
    return bodies;
  };
  tally.faults++;
  const onFull = await answers(setup.full);
  assert.deepEqual(onFull, await answers(setup.room));
  for (const answer of onFull) assert.match(answer, /^\S+ 200 /);
  assert.match(onFull[0], /SKU-9/);
  assert.deepEqual(await listFiles(join(setup.full, "..")), setup.files);

  // Once there is room again, what is logged shows on the next page, as on any disk.
  await using viewer = await serve(setup.full);
  assert.doesNotMatch(await viewer.get("/api/events"), /AFTER_ROOM/);
  await Deno.remove(setup.filler);
  assert.equal((await runTimed(["log", "AFTER_ROOM", "--db", setup.full])).code, 0);
  assert.match(await viewer.get("/api/events"), /AFTER_ROOM/);
});

/** Starts `serve` on `db`; `get` answers a path with its status and body; stopped on dispose. */
async function serve(db: string) {
  const child = cliCommand(["serve", "--port", "0", "--db", db]).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stop = async () => {
    // It may have ended already (failing to open the database).
    try {
      child.kill("SIGTERM");
    } catch {
      // Nothing to stop.
    }
    await reader.cancel();
    await child.stderr.cancel();
    await child.status;
  };
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      assert.ok(!done, "serve ended before printing its address");
      text += value;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const url = new URL(text.trim());
  return {
    async get(path: string): Promise<string> {
      const response = await fetch(new URL(path, url));
      return `${response.status} ${await response.text()}`;
    },
    [Symbol.asyncDispose]: stop,
  };
}

reliabilityCase({
  name: "full disk: writers still say the disk is full, and leave no -shm or -wal behind",
  unavailable: MOUNT,
}, async () => {
  await using setup = await fullDisk();
  const before = await Deno.readFile(setup.full);
  for (
    const [args, stdin] of [
      [["log", "REFUSED"]],
      [["log", "--stdin"], ndjson([{ operation: "REFUSED" }])],
      [["batch", "start", "refused"]],
      [["migrate"]],
      [["archive", "--keep", "0", "--to", setup.archives]],
    ] as [string[], string?][]
  ) {
    tally.faults++;
    const result = await runTimed([...args, "--db", setup.full], { stdin });
    assertCleanError(result, 1, /disk is full/i);
    assert.doesNotMatch(result.stderr, /read-only/i);
    assert.deepEqual(await listFiles(join(setup.full, "..")), setup.files, args.join(" "));
  }
  assert.deepEqual(await Deno.readFile(setup.full), before, "a refused write changed the file");

  // A program that opened it to read, then writes: the full disk, before anything begins.
  {
    using db = openDatabase(setup.full, { onlyReads: true });
    assert.equal(db.immutable, "full disk");
    assert.throws(() => logAuditEvent(db, { operation: "REFUSED" }), DiskFullError);
    await assert.rejects(logAuditEvents(db, [{ operation: "REFUSED" }]), DiskFullError);
  }
  assert.deepEqual(await listFiles(join(setup.full, "..")), setup.files);
  assert.deepEqual(await Deno.readFile(setup.full), before, "a refused write changed the file");

  // What a failed open by another program (the sqlite3 shell, say) leaves is tidied away.
  assert.throws(() => withSqlite(setup.full, (s) => s.prepare("SELECT 1 FROM audit_log").get()));
  assert.deepEqual(
    await listFiles(join(setup.full, "..")),
    [...setup.files, "app.db-shm", "app.db-wal"].sort(),
  );
  await assertSameOnFullDisk(setup, ["head", "--format", "json"]);
});

reliabilityCase({
  name: "full disk: changes still in the -wal file are refused clearly, never read stale",
  unavailable: MOUNT,
}, async () => {
  await using disk = await tmpfs("1m");
  const db = join(disk.path, "app.db");
  assert.equal((await runTimed(["migrate", "--db", db])).code, 0);
  leaveChangeInWal(db);
  await fill(disk.path);
  const files = await listFiles(disk.path);
  for (const args of [["query"], ["head"], ["verify"], ["stats"], ["batch", "list"]]) {
    tally.faults++;
    const result = await runTimed([...args, "--db", db]);
    assertCleanError(result, 1, /disk is full and its latest changes are still in "app\.db-wal"/);
    assert.match(result.stderr, /\nhint: Free some disk space/);
    assert.deepEqual(await listFiles(disk.path), files, args.join(" "));
  }
});
