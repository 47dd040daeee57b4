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
  await using setup = await centralAndSmallDisk();
  const { disk, url } = setup;
  const db = await migratedDb(disk.path);
  await logEvents(db, 5);

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
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await lines.cancel().catch(() => {});
  assert.equal(status.code, 0, stderr);
  assert.doesNotMatch(stderr, /disk is full|sync failed/i);
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

/** A central store site WH-FULL may write, and a 2 MiB tmpfs for the local database. */
async function centralAndSmallDisk() {
  const pg = await startPostgres();
  const disk = await tmpfs("2m");
  const url = await pg.createDatabase();
  await cliJson(["central", "init", "--central", url]);
  await cliJson(["central", "grant", "WH-FULL", "--role", "postgres", "--central", url]);
  return {
    pg,
    disk,
    url,
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
