/**
 * The central store's inputs as an administrator writes them, against a real PostgreSQL:
 * a URL naming a Unix socket or an IPv6 address, each sslmode, a site `verify` finds nothing of, a first sync
 * as a site the role may not write, a URL pasted with spaces around it, and `sync --watch` with an
 * interval longer than a timer holds.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { cliCommand, fingerprint, migratedDb, runCli, sqliteRows, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres, type TestPostgres } from "./pg_support.ts";

Deno.test("central store: inputs as an administrator writes them", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const url = await pg.createDatabase();
  await cliJson(["central", "init", "--central", url]);

  await t.step(
    "a percent-encoded socket folder as HOST connects through the Unix socket",
    async () => {
      const database = new URL(url).pathname.slice(1);
      const folder = encodeURIComponent(dirname(pg.dataDirectory));
      const socketUrl = `postgres://postgres@${folder}:${pg.port}/${database}`;
      // No TLS over a socket, as with libpq: sslmode=require does not stand in the way.
      for (const address of [socketUrl, `${socketUrl}?sslmode=require`]) {
        assert.deepEqual(
          await cliJson(["central", "sites", "--central", address], 0, { PGPASSWORD: pg.password }),
          [],
        );
      }
    },
  );

  await t.step("an IPv6 host, or several hosts, are connected to as given", async () => {
    // The server listens on 127.0.0.1 only: [::1] must not reach it.
    const v6 = url.replace("@127.0.0.1:", "@[::1]:");
    const result = await runCli(["central", "sites", "--central", v6]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /cannot be reached: .*::1/);
    assert.ok(!result.stderr.includes(pg.password));
    // Several hosts, tried in turn as libpq does: the first has no server.
    const several = url.replace("@127.0.0.1:", "@127.0.0.9,127.0.0.1:");
    assert.deepEqual(await cliJson(["central", "sites", "--central", several]), []);
  });

  await t.step("sslmode as libpq reads it, against a server without TLS", async () => {
    assert.deepEqual(await cliJson(["central", "sites", "--central", `${url}?sslmode=allow`]), []);
    for (const mode of ["require", "verify-ca", "verify-full"]) {
      const refused = await runCli(["central", "sites", "--central", `${url}?sslmode=${mode}`]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(`did not set up TLS, and sslmode=${mode} insists on it\nhint: .*ssl = on`),
      );
      assert.ok(!refused.stderr.includes(pg.password));
    }
  });

  await t.step(
    "central init by a role without rights: PostgreSQL's words, nothing created",
    async () => {
      await pg.psql("CREATE ROLE no_rights LOGIN PASSWORD 'n'");
      const database = new URL(await pg.createDatabase()).pathname.slice(1);
      const asNoRights = pg.url({ user: "no_rights", password: "n", database });
      const refused = await runCli(["central", "init", "--central", asNoRights]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /refused "no_rights": permission denied for schema public\n/);
      const created = await pg.psql(
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'audit_trail%'",
        database,
      );
      assert.equal(created, "0\n");
    },
  );

  await t.step("verify --central --site of a site it holds nothing of says so", async () => {
    const verdict = await runCli(["verify", "--central", url, "--site", "WH-TYPO"]);
    assert.equal(verdict.code, 1, verdict.stdout);
    assert.equal(verdict.stdout, "");
    assert.match(verdict.stderr, /holds no events of site "WH-TYPO" that "postgres" may read\n/);
    assert.match(verdict.stderr, /\nhint: .*audit-trail central sites/);
  });

  await t.step("a login with no password anywhere says that none was given", async () => {
    const bare = pg.url({ password: null, database: new URL(url).pathname.slice(1) });
    const refused = await runCli(["central", "sites", "--central", bare]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /refused the login of "postgres".*\nhint: No password was given/);
    const wrong = await runCli(["central", "sites", "--central", bare], {
      env: { PGPASSWORD: "not-it" },
    });
    assert.match(wrong.stderr, /\nhint: Check the user, and the password from PGPASSWORD, with/);
  });

  await t.step(
    "a first sync with nothing to send, as a site the role may not write, ties nothing",
    async () => {
      const database = new URL(url).pathname.slice(1);
      await pg.psql("CREATE ROLE site_a LOGIN PASSWORD 'a-pw'");
      await cliJson(["central", "grant", "WH-A", "--role", "site_a", "--central", url]);
      const asSiteA = pg.url({ user: "site_a", password: "a-pw", database });
      const db = await migratedDb(dir.path, "fresh.db");
      const typo = await runCli(["sync", "--central", asSiteA, "--site", "WH-AA", "--db", db]);
      assert.equal(typo.code, 1, typo.stdout);
      assert.match(typo.stderr, /does not let "site_a" write site "WH-AA"\nhint: .*central grant/);
      assert.deepEqual(sqliteRows(db, "SELECT site FROM audit_trail_central"), []);
      const right = await cliJson(["sync", "--central", asSiteA, "--site", "WH-A", "--db", db]);
      assert.equal(right.site, "WH-A");
    },
  );

  await t.step(
    "a role granted nothing: sync and query say so without naming a table, and store nothing",
    async () => {
      const database = new URL(url).pathname.slice(1);
      await pg.psql("CREATE ROLE granted_nothing LOGIN PASSWORD 'g-pw'");
      const asNothing = pg.url({ user: "granted_nothing", password: "g-pw", database });
      const shown = asNothing.replace(":g-pw@", ":***@");
      const db = await migratedDb(dir.path, "ungranted.db");
      await logEvents(db, 2);
      const before = await fingerprint(db);
      for (const args of [["sync", "--site", "WH-N", "--db", db], ["query"]]) {
        const refused = await runCli([...args, "--central", asNothing]);
        assert.equal(refused.code, 1, refused.stderr);
        assert.equal(refused.stdout, "");
        assert.equal(
          refused.stderr,
          `audit-trail: error: Central store at ${shown} refused "granted_nothing": this role has not been given rights to the audit-trail tables\n` +
            "hint: A site's role gets its rights from the administrator (audit-trail central grant SITE --role granted_nothing); central init needs a role that may create tables in the database.\n",
        );
      }
      assert.equal(await fingerprint(db), before);
      assert.equal(
        await pg.psql("SELECT count(*) FROM audit_trail_events WHERE site = 'WH-N'", database),
        "0\n",
      );
    },
  );

  await t.step(
    "a URL pasted with spaces around it works and is stored without its password",
    async () => {
      const db = await migratedDb(dir.path, "spaces.db");
      await logEvents(db, 3);
      const result = await cliJson([
        "sync",
        "--central",
        ` ${url}\n`,
        "--site",
        "WH-S",
        "--db",
        db,
      ]);
      assert.equal(result.sent, 3);
      assert.equal(result.central, url.replace(`:${pg.password}@`, ":***@"));
      const [recorded] = sqliteRows(db, "SELECT central FROM audit_trail_central");
      assert.equal(recorded.central, result.central);
    },
  );

  await t.step(
    "sync --watch waits out an interval longer than a timer holds (24.8 days)",
    async () => {
      const db = await migratedDb(dir.path, "watch.db");
      await logEvents(db, 2);
      const child = cliCommand(
        [
          "sync",
          "--watch",
          "--interval",
          "2147484",
          "--central",
          url,
          "--site",
          "WH-W",
          "--db",
          db,
        ],
        {},
      ).spawn();
      const [stdout, stderr] = [child.stdout, child.stderr].map((stream) =>
        new Response(stream).text()
      );
      await untilSynced(pg, url, "WH-W");
      // Had the wait fired at once, more rounds would follow within milliseconds.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      child.kill("SIGTERM");
      const status = await child.status;
      assert.equal(status.code, 0, await stderr);
      assert.doesNotMatch(await stderr, /TimeoutOverflow/);
      const rounds = (await stdout).trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(rounds.map((r) => r.sent), [2]);
    },
  );
});

/** Waits until the central store records `site` as synced. */
async function untilSynced(pg: TestPostgres, url: string, site: string) {
  const database = new URL(url).pathname.slice(1);
  for (let i = 0; i < 600; i++) {
    const found = await pg.psql(
      `SELECT count(*) FROM audit_trail_sites WHERE site = '${site}'`,
      database,
    );
    if (found.trim() === "1") return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
