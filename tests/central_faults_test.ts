/**
 * Exactly once, whatever happens on the way: syncs killed with SIGKILL, run twice at once,
 * cut off by a restarting or stopped server, and `sync --watch` as a service. Each case goes
 * through the real CLI and checks the exact central counts afterwards.
 */
import assert from "node:assert/strict";
import { cliCommand, fingerprint, migratedDb, runCli, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres, type TestPostgres } from "./pg_support.ts";
import { openDatabase, syncToCentral } from "../mod.ts";

/** Events in the backlog of the fault cases: enough for a sync to take a few batches. */
const BACKLOG = 60_000;

async function count(pg: TestPostgres, url: string): Promise<number> {
  const out = await pg.psql(
    "SELECT count(*) || ' ' || count(DISTINCT audit_id) FROM audit_trail_events",
    new URL(url).pathname.slice(1),
  );
  const [all, distinct] = out.trim().split(" ").map(Number);
  assert.equal(all, distinct, "an event is stored twice");
  return all;
}

/** Waits until the central store holds more than `above` events (or the process ended). */
async function untilStored(
  pg: TestPostgres,
  url: string,
  above: number,
  child?: Deno.ChildProcess,
) {
  let ended = false;
  child?.status.then(() => ended = true);
  for (let i = 0; i < 6000 && !ended; i++) {
    if (await count(pg, url) > above) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function freshCentral(pg: TestPostgres): Promise<string> {
  const url = await pg.createDatabase();
  await cliJson(["central", "init", "--central", url]);
  return url;
}

Deno.test("central store: every event stored exactly once through kills, races and restarts", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const backlog = await migratedDb(dir.path, "backlog.db");
  await logEvents(backlog, BACKLOG);
  const copy = async (name: string) => {
    const path = `${dir.path}/${name}`;
    await Deno.copyFile(backlog, path);
    return path;
  };

  await t.step(
    "sync killed with SIGKILL mid-way, again and again, then run to the end",
    async () => {
      const url = await freshCentral(pg);
      const db = await copy("killed.db");
      const seen: number[] = [];
      for (let kill = 0; kill < 3; kill++) {
        const before = await count(pg, url);
        const child = cliCommand(["sync", "--central", url, "--site", "WH-K", "--db", db], {})
          .spawn();
        await untilStored(pg, url, before, child);
        // A random moment after the first batch of this run landed.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 150));
        try {
          child.kill("SIGKILL");
        } catch {
          // It finished first.
        }
        await child.output();
        seen.push(await count(pg, url));
      }
      assert.ok(seen[0] > 0 && seen[0] < BACKLOG, `killed mid-way: ${seen}`);
      const last = await cliJson(["sync", "--central", url, "--db", db]);
      assert.equal(last.central_last_audit_id, BACKLOG);
      // A batch whose sender was killed after sending it still commits (or not) as a whole, so
      // the central copy may have grown since it was counted.
      assert.ok(last.sent <= BACKLOG - seen[seen.length - 1]);
      assert.equal(await count(pg, url), BACKLOG);
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
    },
  );

  await t.step(
    "verify --central while a sync commits batches never takes them for tampering",
    async () => {
      const url = await freshCentral(pg);
      const db = await copy("verified-meanwhile.db");
      const child = cliCommand(["sync", "--central", url, "--site", "WH-V", "--db", db], {})
        .spawn();
      let ended = false;
      const done = child.output().then((output) => {
        ended = true;
        return output;
      });
      await untilStored(pg, url, 0, child);
      const codes: number[] = [];
      while (!ended) {
        const result = await runCli(["verify", "--central", url]);
        assert.equal(result.code, 0, result.stdout + result.stderr);
        codes.push(result.code);
      }
      assert.equal((await done).code, 0);
      assert.ok(codes.length > 0);
    },
  );

  await t.step("two syncs of one site at once store each event once", async () => {
    const url = await freshCentral(pg);
    const db = await copy("parallel.db");
    // The site is recorded by the first accepted sync; give both the same name.
    const [a, b] = await Promise.all(
      [1, 2].map(() => runCli(["sync", "--central", url, "--site", "WH-P", "--db", db])),
    );
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const sent = JSON.parse(a.stdout).sent + JSON.parse(b.stdout).sent;
    assert.equal(sent, BACKLOG);
    assert.equal(await count(pg, url), BACKLOG);
    const verified = await cliJson(["verify", "--central", url]);
    assert.equal(verified.sites[0].events_checked, BACKLOG);
  });

  await t.step(
    "syncs of one site racing batch for batch each go on from where the other got",
    async () => {
      // Small batches of different sizes, started together in one process: their batches keep
      // meeting on the same events (a key already stored, or a deadlock PostgreSQL breaks by
      // rolling one back), and the one refused goes on from the new central head.
      const url = await freshCentral(pg);
      const path = await copy("race.db");
      const results = await Promise.all([500, 730].map(async (batchSize) => {
        using db = openDatabase(path);
        return await syncToCentral(db, { central: url, site: "WH-Q", batchSize });
      }));
      assert.equal(results[0].sent + results[1].sent, BACKLOG);
      for (const result of results) assert.equal(result.central_last_audit_id, BACKLOG);
      assert.equal(await count(pg, url), BACKLOG);
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
    },
  );

  await t.step(
    "a server restarted in the middle of a sync: the next sync sends exactly what is missing",
    async () => {
      const url = await freshCentral(pg);
      const db = await copy("restart.db");
      const child = cliCommand(["sync", "--central", url, "--site", "WH-R", "--db", db], {})
        .spawn();
      await untilStored(pg, url, 0, child);
      await pg.stop();
      const cut = await child.output();
      await pg.start();
      const stderr = new TextDecoder().decode(cut.stderr);
      if (cut.code !== 0) {
        assert.equal(cut.code, 1, stderr);
        assert.match(stderr, /^audit-trail: error: Central store at .* cannot be reached/);
        assert.ok(!stderr.includes(pg.password));
      }
      const held = await count(pg, url);
      const again = await cliJson(["sync", "--central", url, "--db", db]);
      assert.equal(again.sent, BACKLOG - held);
      assert.equal(await count(pg, url), BACKLOG);
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
    },
  );

  await t.step(
    "a server that stops answering mid-sync is given up (exit 1); the next sync completes",
    async () => {
      const url = await freshCentral(pg);
      const db = await copy("frozen.db");
      const child = cliCommand(["sync", "--central", url, "--site", "WH-F", "--db", db], {})
        .spawn();
      await untilStored(pg, url, 0, child);
      const pid = (await pg.psql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'audit-trail sync' LIMIT 1",
      )).trim();
      assert.match(pid, /^\d+$/, "the sync's server process");
      Deno.kill(Number(pid), "SIGSTOP");
      const cut = await child.output();
      Deno.kill(Number(pid), "SIGCONT");
      const stderr = new TextDecoder().decode(cut.stderr);
      // Unless it had just finished, it must give up on the silent server by itself.
      if (cut.code !== 0) {
        assert.equal(cut.code, 1, stderr);
        assert.match(stderr, /gave no answer in 40 s/);
        assert.ok(!stderr.includes(pg.password));
      }
      // The frozen batch commits or rolls back whole once its server process goes on.
      const done = await cliJson(["sync", "--central", url, "--db", db]);
      assert.equal(done.central_last_audit_id, BACKLOG);
      assert.equal(await count(pg, url), BACKLOG);
    },
  );

  await t.step(
    "server stopped: exit 1, one clear line, nothing lost; back up: exactly the rest goes",
    async () => {
      const url = await freshCentral(pg);
      const db = await migratedDb(dir.path, "stopped.db");
      await logEvents(db, 10);
      await cliJson(["sync", "--central", url, "--site", "WH-S", "--db", db]);
      await logEvents(db, 7, "offline");
      await pg.stop();
      const before = await fingerprint(db);
      const down = await runCli(["sync", "--central", url, "--db", db]);
      await pg.start();
      assert.equal(down.code, 1);
      assert.equal(down.stdout, "");
      assert.match(
        down.stderr,
        /^audit-trail: error: Central store at postgres:\/\/postgres:\*\*\*@.* cannot be reached: .*\nhint: .*run it again/,
      );
      assert.equal(await fingerprint(db), before);
      const back = await cliJson(["sync", "--central", url, "--db", db]);
      assert.deepEqual([back.sent, back.first_audit_id, back.last_audit_id], [7, 11, 17]);
      assert.equal(await count(pg, url), 17);
    },
  );

  await t.step(
    "sync --watch sends new events within the interval, rides out an outage, and stops on SIGTERM",
    async () => {
      const url = await freshCentral(pg);
      const db = await migratedDb(dir.path, "watch.db");
      await logEvents(db, 4);
      const child = cliCommand(
        ["sync", "--watch", "--interval", "1", "--central", url, "--site", "WH-W", "--db", db],
        {},
      ).spawn();
      const stderr = collect(child.stderr);
      const stdout = collect(child.stdout);
      await untilStored(pg, url, 3, child);
      await logEvents(db, 5, "later");
      await untilStored(pg, url, 8, child);
      assert.equal(await count(pg, url), 9);
      await pg.stop();
      for (let i = 0; i < 600 && !/sync failed/.test(stderr.text); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await pg.start();
      await logEvents(db, 2, "after outage");
      await untilStored(pg, url, 10, child);
      assert.equal(await count(pg, url), 11);
      child.kill("SIGTERM");
      const status = await child.status;
      await Promise.all([stdout.done, stderr.done]);
      assert.equal(status.code, 0);
      const rounds = stdout.text.trim().split("\n").map((line) => JSON.parse(line));
      assert.ok(rounds.length >= 3);
      assert.equal(rounds.reduce((sum, r) => sum + r.sent, 0), 11);
      assert.ok(rounds.every((r) => r.site === "WH-W" && !r.central.includes(pg.password)));
      assert.match(
        stderr.text,
        /^audit-trail: warning: sync failed \(Central store at .* cannot be reached/m,
      );
      assert.ok(!stderr.text.includes(pg.password));
    },
  );
});

/** Reads a stream to text as it comes, so a test can look at it before the process ends. */
function collect(stream: ReadableStream<Uint8Array>) {
  const result = { text: "", done: Promise.resolve() };
  const decoder = new TextDecoder();
  result.done = (async () => {
    for await (const chunk of stream) result.text += decoder.decode(chunk, { stream: true });
  })();
  return result;
}
