/**
 * The central store's roles as an administrator changes them: a role whose name needs quoting
 * (in SQL and in the shell), and a site's role dropped while its `sync --watch` runs. Through
 * the real CLI against a real PostgreSQL.
 */
import assert from "node:assert/strict";
import { cliCommand, migratedDb, runCli, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres } from "./pg_support.ts";

/** Reads a stream line by line, on demand. */
function lines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    /** The next line that matches `pattern` (earlier lines are skipped), or null at the end. */
    async next(pattern: RegExp): Promise<string | null> {
      for (;;) {
        const end = buffer.indexOf("\n");
        if (end >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          if (pattern.test(line)) return line;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffer += value;
      }
    },
    async rest(): Promise<string> {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return buffer;
        buffer += value;
      }
    },
  };
}

Deno.test("central store: roles as an administrator changes them", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const url = await pg.createDatabase();
  const database = new URL(url).pathname.slice(1);
  await cliJson(["central", "init", "--central", url]);
  const role = `Wh "Lyon" o'1`;
  const sqlRole = `"Wh ""Lyon"" o'1"`;
  const siteUrl = pg.url({ user: role, password: "lyon-pw", database });
  const db = await migratedDb(dir.path);

  await t.step(
    "a role whose name needs quoting is granted, syncs, and is named so it can be pasted",
    async () => {
      await pg.psql(`CREATE ROLE ${sqlRole} LOGIN PASSWORD 'lyon-pw'`);
      assert.deepEqual(
        await cliJson(["central", "grant", "WH-Q", "--role", role, "--central", url]),
        { site: "WH-Q", role },
      );
      await logEvents(db, 3);
      assert.equal(
        (await cliJson(["sync", "--central", siteUrl, "--site", "WH-Q", "--db", db])).sent,
        3,
      );
      await pg.psql(`REVOKE INSERT ON audit_trail_events FROM ${sqlRole}`, database);
      await logEvents(db, 1);
      const refused = await runCli(["sync", "--central", siteUrl, "--db", db]);
      assert.equal(refused.code, 1, refused.stderr);
      // The hint's command, pasted into a shell, names this role.
      assert.ok(
        refused.stderr.includes(`central grant SITE --role 'Wh "Lyon" o'\\''1'`),
        refused.stderr,
      );
      await cliJson(["central", "grant", "WH-Q", "--role", role, "--central", url]);
      assert.equal((await cliJson(["sync", "--central", siteUrl, "--db", db])).sent, 1);
    },
  );

  await t.step(
    "a role named in other letter case than PostgreSQL stored it is named in the hint",
    async () => {
      // Written without double quotes, CREATE ROLE WH_Paris makes wh_paris.
      await pg.psql("CREATE ROLE WH_Paris LOGIN");
      const result = await runCli([
        "central",
        "grant",
        "WH-P",
        "--role",
        "WH_Paris",
        "--central",
        url,
      ]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(
        result.stderr,
        /^audit-trail: error: There is no role "WH_Paris" in the central store at .*\nhint: There is a role "wh_paris" \(PostgreSQL folds .*\): grant to --role wh_paris\.\n$/,
      );
      assert.equal(
        (await pg.psql("SELECT count(*) FROM audit_trail_grants WHERE site = 'WH-P'", database))
          .trim(),
        "0",
      );
    },
  );

  await t.step(
    "a role dropped while sync --watch runs: each round warns, none stops it; granted again, it catches up",
    async () => {
      const child = cliCommand([
        "sync",
        "--watch",
        "--interval",
        "1",
        "--central",
        siteUrl,
        "--db",
        db,
      ])
        .spawn();
      const out = lines(child.stdout);
      const err = lines(child.stderr);
      try {
        assert.ok(await out.next(/"central_last_audit_id":4\b/), "a first round");
        await pg.psql(`DROP OWNED BY ${sqlRole}`, database);
        await pg.psql(`DROP ROLE ${sqlRole}`);
        await logEvents(db, 2);
        const warning = await err.next(/warning/);
        assert.match(
          warning ?? "",
          /^audit-trail: warning: sync failed \(Central store refused the login of ".*" at postgres:\/\/.*:\*\*\*@127\.0\.0\.1:\d+\/central_\d+\); trying again in \d+ s$/,
        );
        assert.ok(!warning!.includes("lyon-pw"));
        await pg.psql(`CREATE ROLE ${sqlRole} LOGIN PASSWORD 'lyon-pw'`);
        await cliJson(["central", "grant", "WH-Q", "--role", role, "--central", url]);
        const caughtUp = await out.next(/"central_last_audit_id":6\b/);
        assert.equal(JSON.parse(caughtUp!).sent, 2);
      } finally {
        child.kill("SIGTERM");
      }
      assert.equal((await child.status).code, 0, await err.rest());
      assert.equal(
        (await pg.psql("SELECT count(*) FROM audit_trail_events WHERE site = 'WH-Q'", database))
          .trim(),
        "6",
      );
    },
  );
});
