/**
 * `sync --watch` on a PC whose disk has filled up: a round with nothing to send writes nothing
 * locally, so it still succeeds, and the central store goes on being checked. Through the real
 * CLI against a real PostgreSQL, the database on a small tmpfs filled to the last byte.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { logAuditEvent, migrate, openDatabase, syncToCentral } from "../mod.ts";
import { cliCommand, migratedDb, sqliteRows } from "./helpers.ts";
import { cliJson, logEvents, startPostgres } from "./pg_support.ts";
import { mountUnavailable, tmpfs } from "./reliability/_support.ts";

const MOUNT = await mountUnavailable();

Deno.test({
  name:
    "central store: sync --watch on a full disk goes on with its rounds when there is nothing to send",
  ignore: MOUNT !== null,
}, async () => {
  await using setup = await centralAndSmallDisk(5);
  const { disk, url, db } = setup;

  const { round, stop } = watch(db, url);
  try {
    assert.equal((await round()).sent, 5);
    const before = sqliteRows(db, "SELECT * FROM audit_trail_central");
    const filler = await fill(disk.path);
    for (let i = 0; i < 3; i++) {
      const result = await round();
      assert.deepEqual([result.sent, result.central_last_audit_id], [0, 5]);
    }
    await Deno.remove(filler);
    assert.deepEqual(sqliteRows(db, "SELECT * FROM audit_trail_central"), before);
  } finally {
    const { code, stderr } = await stop();
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /disk is full|sync failed/i);
  }
});

Deno.test({
  name:
    "central store: sync --watch started on a disk with no byte free sends what is logged once there is room",
  ignore: MOUNT !== null,
}, async () => {
  await using setup = await centralAndSmallDisk(3);
  const { disk, url, db } = setup;
  await cliJson(["sync", "--site", "WH-FULL", "--db", db, "--central", url]);
  await logEvents(db, 2);
  const filler = await fill(disk.path);
  const { round, stop } = watch(db, url);
  try {
    assert.equal((await round()).sent, 2);
    await Deno.remove(filler);
    await logEvents(db, 2);
    // A round may have begun before those events were logged: a later one sends them (a
    // connection that went on reading the file alone never would).
    const rounds = [await round()];
    while (rounds.at(-1)!.sent === 0 && rounds.length < 5) rounds.push(await round());
    const last = rounds.at(-1)!;
    assert.deepEqual([last.sent, last.central_last_audit_id], [2, 7], JSON.stringify(rounds));
  } finally {
    const { code, stderr } = await stop();
    assert.equal(code, 0, stderr);
  }
});

Deno.test({
  name:
    "central store: a one-off sync on a disk with no byte free sends what is new, its local record following once there is room",
  ignore: MOUNT !== null,
}, async () => {
  await using setup = await centralAndSmallDisk(3);
  const { disk, url, db } = setup;
  const sync = () => cliJson(["sync", "--site", "WH-FULL", "--db", db, "--central", url]);
  assert.equal((await sync()).sent, 3);
  await logEvents(db, 2);
  const recorded = () => sqliteRows(db, "SELECT * FROM audit_trail_central");
  const before = recorded();
  // Closed cleanly: no WAL index, and none can be made once the disk is full.
  const filler = await fill(disk.path);
  const files = [...Deno.readDirSync(disk.path)].map((entry) => entry.name).sort();
  const sent = await sync();
  assert.deepEqual([sent.sent, sent.central_last_audit_id], [2, 5]);
  assert.deepEqual([...Deno.readDirSync(disk.path)].map((entry) => entry.name).sort(), files);
  await Deno.remove(filler);
  assert.deepEqual(recorded(), before);
  assert.equal((await sync()).sent, 0);
  assert.equal(recorded()[0].acknowledged_audit_id, 5);
});

Deno.test({
  name:
    "central store: a sync that sent events on a full disk succeeds, its local record moving on later",
  ignore: MOUNT !== null,
}, async () => {
  await using setup = await centralAndSmallDisk();
  const { pg, disk, url } = setup;
  using db = openDatabase(join(disk.path, "app.db"), { create: true });
  migrate(db);
  const log = (n: number) => {
    for (let i = 0; i < n; i++) logAuditEvent(db, { operation: "STOCK_COUNT", sku: `SKU-${i}` });
  };
  const acknowledged = () =>
    db.sqlite.prepare("SELECT acknowledged_audit_id AS id FROM audit_trail_central").get()?.id;
  log(3);
  assert.equal((await syncToCentral(db, { central: url, site: "WH-FULL" })).sent, 3);
  log(2);
  const filler = await fill(disk.path);
  // Sent, though the local record of it cannot be written; then nothing to send.
  const sent = await syncToCentral(db, { central: url });
  assert.deepEqual([sent.sent, sent.central_last_audit_id], [2, 5]);
  assert.equal(acknowledged(), 3);
  assert.equal((await syncToCentral(db, { central: url })).sent, 0);
  await Deno.remove(filler);
  assert.equal((await syncToCentral(db, { central: url })).sent, 0);
  assert.equal(acknowledged(), 5);
  assert.equal(
    await pg.psql("SELECT count(*) FROM audit_trail_events", new URL(url).pathname.slice(1)),
    "5\n",
  );
});

/**
 * Starts `sync --watch` (a round a second) on `db`: `round` awaits its next round's result and
 * fails at a round that failed; `stop` ends it and returns its exit code and stderr.
 */
function watch(db: string, url: string) {
  const child = cliCommand(
    ["sync", "--watch", "--interval", "1", "--site", "WH-FULL", "--db", db, "--central", url],
  ).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const nextLine = async (): Promise<string | null> => {
    while (!pending.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) return null;
      pending += value;
    }
    const end = pending.indexOf("\n");
    const line = pending.slice(0, end);
    pending = pending.slice(end + 1);
    return line;
  };
  // A round that fails says so on stderr: the test fails then rather than wait for a round
  // that, backing off, comes later and later.
  let stderr = "";
  const failed = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += text;
      if (/sync failed/.test(stderr)) return `a round failed: ${stderr.trim()}`;
    }
    return `stderr closed: ${stderr.trim()}`;
  })();
  const round = async () => {
    const line = await Promise.race([nextLine(), failed]);
    assert.ok(line !== null && line.startsWith("{"), String(line));
    return JSON.parse(line);
  };

  const stop = async () => {
    child.kill("SIGTERM");
    const status = await child.status;
    await lines.cancel().catch(() => {});
    return { code: status.code, stderr };
  };
  return { round, stop };
}

/**
 * A central store site WH-FULL may write, and a 2 MiB tmpfs for the local database `db`,
 * migrated, with `events` events logged.
 */
async function centralAndSmallDisk(events = 0) {
  const pg = await startPostgres();
  const disk = await tmpfs("2m");
  const url = await pg.createDatabase();
  await cliJson(["central", "init", "--central", url]);
  await cliJson(["central", "grant", "WH-FULL", "--role", "postgres", "--central", url]);
  const db = await migratedDb(disk.path);
  if (events > 0) await logEvents(db, events);
  return {
    pg,
    disk,
    url,
    db,
    async [Symbol.asyncDispose]() {
      await disk[Symbol.asyncDispose]();
      await pg[Symbol.asyncDispose]();
    },
  };
}

/** Fills the file system of `folder` to the last byte; returns the filler file. */
async function fill(folder: string): Promise<string> {
  const path = join(folder, `filler-${crypto.randomUUID()}`);
  using file = await Deno.open(path, { write: true, createNew: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) await file.write(chunk);
  } catch (error) {
    if (!/No space left|os error 28/i.test(String(error))) throw error;
  }
  // A last partial block, where a whole chunk no longer fitted.
  try {
    for (;;) await file.write(chunk.subarray(0, 512));
  } catch (error) {
    if (!/No space left|os error 28/i.test(String(error))) throw error;
  }
  return path;
}
