/**
 * The central store as a libpq user reaches it: what the URL leaves out comes from PGHOST,
 * PGPORT, PGUSER and PGDATABASE, then libpq's own defaults, for every command that takes
 * `--central` (or AUDIT_TRAIL_CENTRAL), each printing where it resolved to. Through the real
 * CLI against a real PostgreSQL, over TCP and its Unix socket.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { migratedDb, runCli, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres } from "./pg_support.ts";
import { osLoginName } from "../cli/login_name.ts";

Deno.test("central store: a URL leaving out host, port, user or database is completed as libpq does", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const full = await pg.createDatabase();
  const database = new URL(full).pathname.slice(1);
  const socketFolder = dirname(pg.dataDirectory);
  const env = {
    PGHOST: "127.0.0.1",
    PGPORT: String(pg.port),
    PGUSER: "postgres",
    PGDATABASE: database,
    PGPASSWORD: pg.password,
  };
  const resolved = `postgres://postgres@127.0.0.1:${pg.port}/${database}`;

  await t.step("every command takes postgres:///DATABASE from the PG* variables", async () => {
    const url = `postgres:///${database}`;
    const init = await cliJson(["central", "init", "--central", url], 0, env);
    assert.deepEqual(init, { central: resolved, from_version: 0, to_version: 2 });
    await pg.psql("CREATE ROLE wh_env LOGIN PASSWORD 'env-pw'");
    assert.deepEqual(
      await cliJson(["central", "grant", "WH-ENV", "--role", "wh_env", "--central", url], 0, env),
      { site: "WH-ENV", role: "wh_env" },
    );
    const db = await migratedDb(dir.path, "env.db");
    await logEvents(db, 3);
    // The site's own login: only the user and password differ from the administrator's.
    const site = { ...env, PGUSER: "wh_env", PGPASSWORD: "env-pw" };
    const sent = await cliJson(["sync", "--site", "WH-ENV", "--db", db], 0, {
      ...site,
      AUDIT_TRAIL_CENTRAL: "postgresql://",
    });
    assert.equal(sent.sent, 3);
    assert.equal(sent.central, `postgresql://wh_env@127.0.0.1:${pg.port}/${database}`);
    const sites = await cliJson(["central", "sites", "--central", url], 0, env);
    assert.deepEqual(sites.map((s: { site: string }) => s.site), ["WH-ENV"]);
    const verified = await cliJson(["verify", "--central", url], 0, env);
    assert.equal(verified.central, resolved);
    assert.equal(verified.sites[0].events_checked, 3);
    const rows = await cliJson(["query", "--central", "postgres://", "--format", "json"], 0, site);
    assert.equal(rows.length, 3);
  });

  await t.step("what the URL says wins over the variables", async () => {
    const wrong = { ...env, PGHOST: "127.0.0.9", PGPORT: "1", PGDATABASE: "nowhere" };
    const sites = await cliJson(["central", "sites", "--central", full], 0, wrong);
    assert.equal(sites.length, 1);
    // One part from the URL, the rest from the variables.
    const port = await cliJson(
      ["verify", "--central", `postgres://:${pg.port}`],
      0,
      { ...wrong, PGHOST: "127.0.0.1", PGDATABASE: database },
    );
    assert.equal(port.central, resolved);
  });

  await t.step(
    "libpq's own defaults last: the login name, and a database named as the user",
    async () => {
      const me = osLoginName();
      assert.ok(me, "this test needs a login name");
      const quoted = `"${me.replaceAll('"', '""')}"`;
      await pg.psql(`CREATE ROLE ${quoted} LOGIN PASSWORD 'me-pw'`);
      await pg.psql(`CREATE DATABASE ${quoted} OWNER ${quoted}`);
      const init = await cliJson(
        ["central", "init", "--central", `postgres://127.0.0.1:${pg.port}`],
        0,
        { PGPASSWORD: "me-pw" },
      );
      const name = encodeURIComponent(me);
      assert.equal(init.central, `postgres://${name}@127.0.0.1:${pg.port}/${name}`);
      // Port 5432 unless told: nothing of the test's server is reached there.
      const elsewhere = await runCli(["central", "sites", "--central", "postgres://127.0.0.1"], {
        env: { PGPASSWORD: "me-pw" },
      });
      assert.equal(elsewhere.code, 1, elsewhere.stderr);
      assert.match(
        elsewhere.stderr,
        new RegExp(
          `^audit-trail: error: Central store at postgres://${name}@127\\.0\\.0\\.1:5432/${name} `,
        ),
      );
    },
  );

  await t.step(
    "a Unix socket's folder as PGHOST or ?host= connects through the socket",
    async () => {
      const through = `postgres://postgres@%2F${encodeURIComponent(socketFolder.slice(1))}`;
      for (
        const [url, extra] of [
          [`postgres:///${database}`, { PGHOST: socketFolder }],
          [`postgres://postgres@127.0.0.9/${database}?host=${socketFolder}`, {}],
        ] as const
      ) {
        const result = await cliJson(["verify", "--central", url], 0, { ...env, ...extra });
        assert.equal(result.central, `${through}:${pg.port}/${database}`);
      }
      // No server there: one line naming the socket, exit 1.
      const missing = await runCli(["central", "sites", "--central", `postgres:///${database}`], {
        env: { ...env, PGHOST: `${socketFolder}/none` },
      });
      assert.equal(missing.code, 1, missing.stderr);
      const lines = missing.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 2, missing.stderr);
      assert.match(lines[0], /cannot be reached: .*\/none\/\.s\.PGSQL\.\d+/);
      assert.match(lines[1], /^hint: /);
      assert.ok(!missing.stderr.includes(pg.password));
    },
  );

  await t.step("a PGPORT that is no port is refused before connecting (exit 2)", async () => {
    const result = await runCli(["central", "sites", "--central", "postgres:///d"], {
      env: { ...env, PGPORT: "54x2" },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^audit-trail: error: PGPORT "54x2" is not a port\nhint: /);
  });
});
