/**
 * Least privilege in the central store, enforced by PostgreSQL itself: what a site's role,
 * a reader and even the owner can and cannot do, tried through plain SQL as well as the CLI.
 */
import assert from "node:assert/strict";
import { migratedDb, runCli, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres } from "./pg_support.ts";

Deno.test("central store: the database enforces what each role may do", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  await pg.psql(`
    CREATE ROLE admin LOGIN PASSWORD 'admin-pw';
    CREATE ROLE site_a LOGIN PASSWORD 'a-pw';
    CREATE ROLE site_b LOGIN PASSWORD 'b-pw';
    CREATE ROLE bi LOGIN PASSWORD 'bi-pw'`);
  const superUrl = await pg.createDatabase("admin");
  const database = new URL(superUrl).pathname.slice(1);
  const as = (user: string, password: string) => pg.url({ user, password, database });
  const admin = as("admin", "admin-pw");
  const siteA = { user: "site_a", password: "a-pw" };
  const refused = async (sql: string, who: { user: string; password: string }, why: RegExp) => {
    await assert.rejects(pg.psql(sql, database, who), why, sql);
  };

  // The administrator needs no superuser rights: owning the database is enough.
  await cliJson(["central", "init", "--central", admin]);
  assert.deepEqual(
    await cliJson(["central", "grant", "WH-A", "--role", "site_a", "--central", admin]),
    { site: "WH-A", role: "site_a" },
  );
  await cliJson(["central", "grant", "WH-B", "--role", "site_b", "--central", admin]);
  assert.deepEqual(
    await cliJson(["central", "grant", "--reader", "--role", "bi", "--central", admin]),
    { site: null, role: "bi", reader: true },
  );
  const dbA = await migratedDb(dir.path, "a.db");
  const dbB = await migratedDb(dir.path, "b.db");
  await logEvents(dbA, 5, "A");
  await logEvents(dbB, 5, "B");
  await cliJson(["sync", "--central", as("site_a", "a-pw"), "--site", "WH-A", "--db", dbA]);
  await cliJson(["sync", "--central", as("site_b", "b-pw"), "--site", "WH-B", "--db", dbB]);

  await t.step("a site role cannot change, delete or truncate even its own events", async () => {
    const denied = /permission denied/;
    await refused("UPDATE audit_trail_events SET details = 'x' WHERE site = 'WH-A'", siteA, denied);
    await refused("DELETE FROM audit_trail_events WHERE site = 'WH-A'", siteA, denied);
    await refused("TRUNCATE audit_trail_events", siteA, denied);
  });

  await t.step(
    "a site role cannot read or write another site, nor rewrite the sites' heads",
    async () => {
      assert.equal(
        await pg.psql("SELECT count(*) FROM audit_trail_events", database, siteA),
        "5\n",
      );
      assert.equal(
        await pg.psql("SELECT string_agg(site, ',') FROM audit_trail_sites", database, siteA),
        "WH-A\n",
      );
      assert.equal(
        await pg.psql(
          "SELECT string_agg(role || ':' || site, ',') FROM audit_trail_grants",
          database,
          siteA,
        ),
        "site_a:WH-A\n",
      );
      await refused(
        `INSERT INTO audit_trail_events (site, audit_id, operation, seal)
       VALUES ('WH-B', 6, 'FORGED', sha256('x'))`,
        siteA,
        /row-level security/,
      );
      await refused(
        "UPDATE audit_trail_sites SET last_audit_id = 0 WHERE site = 'WH-A'",
        siteA,
        /permission denied/,
      );
      await refused("DELETE FROM audit_trail_grants", siteA, /permission denied/);
      await refused(
        "SELECT audit_trail_start_site('WH-C', 100, sha256('x'))",
        siteA,
        /site_a may not write site WH-C/,
      );
      // Through the CLI: syncing another site's database with site_a's login is refused.
      const other = await migratedDb(dir.path, "other.db");
      await logEvents(other, 2);
      const result = await runCli([
        "sync",
        "--central",
        as("site_a", "a-pw"),
        "--site",
        "WH-B",
        "--db",
        other,
      ]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /does not let "site_a" write site "WH-B"/);
      assert.match(result.stderr, /hint: .*central grant WH-B --role site_a/);
      assert.ok(!result.stderr.includes("a-pw"));
    },
  );

  await t.step(
    "an event with a forged seal is refused by the database, whoever sends it",
    async () => {
      for (const who of [siteA, { user: "admin", password: "admin-pw" }]) {
        await refused(
          `INSERT INTO audit_trail_events (site, audit_id, local_timestamp, operation, seal)
         VALUES ('WH-A', 6, '2026-01-01T00:00:00.000Z', 'FORGED', sha256('x'))`,
          who,
          /Event 6 of site WH-A does not continue the site's chain/,
        );
      }
      // Several events in one statement: a forged one after a good one, and a good-looking
      // chain that starts from a forged event, are refused whole, naming the forged event.
      const good6 = `sha256((SELECT last_seal FROM audit_trail_sites WHERE site = 'WH-A')
        || audit_trail_encoding(6, '2026-01-01T00:00:00.000Z', 'OK', NULL, NULL, NULL, NULL))`;
      const event = (id: number, operation: string, seal: string) =>
        `SELECT 'WH-A', ${id}::bigint, '2026-01-01T00:00:00.000Z'::timestamptz,
                '2026-01-01T00:00:00.000Z', '${operation}', ${seal}`;
      const insert = (...events: string[]) =>
        `INSERT INTO audit_trail_events
           (site, audit_id, "timestamp", local_timestamp, operation, seal)
         ${events.join(" UNION ALL ")}`;
      await refused(
        insert(event(6, "OK", good6), event(7, "FORGED", "sha256('x')")),
        siteA,
        /Event 7 of site WH-A does not continue the site's chain/,
      );
      const chainedFromForged = `sha256(sha256('x')
        || audit_trail_encoding(7, '2026-01-01T00:00:00.000Z', 'OK', NULL, NULL, NULL, NULL))`;
      await refused(
        insert(event(6, "FORGED", "sha256('x')"), event(7, "OK", chainedFromForged)),
        siteA,
        /Event 6 of site WH-A does not continue the site's chain/,
      );
      // The statements themselves are sound: the good event alone goes in (rolled back here).
      assert.equal(
        await pg.psql(
          `BEGIN; ${insert(event(6, "OK", good6))};
           SELECT count(*) FROM audit_trail_events WHERE site = 'WH-A'; ROLLBACK`,
          database,
          siteA,
        ),
        "6\n",
      );
      // A gap filled in below the head, even with a seal that chains, is refused too.
      await refused(
        `INSERT INTO audit_trail_events (site, audit_id, operation, seal)
       SELECT 'WH-A', 0, 'FORGED', last_seal FROM audit_trail_sites WHERE site = 'WH-A'`,
        siteA,
        /comes before the newest event/,
      );
      assert.equal(await pg.psql("SELECT count(*) FROM audit_trail_events", database), "10\n");
    },
  );

  await t.step("the owner cannot change, delete or truncate events either", async () => {
    const owner = { user: "admin", password: "admin-pw" };
    await refused(
      "UPDATE audit_trail_events SET details = 'x'",
      owner,
      /audit_trail_events is append-only: update is not allowed/,
    );
    await refused("DELETE FROM audit_trail_events", owner, /append-only: delete/);
    await refused("TRUNCATE audit_trail_events", owner, /append-only: truncate/);
    await refused("UPDATE audit_trail_sites SET events = 0", owner, /kept by the central store/);
    assert.equal(await pg.psql("SELECT count(*) FROM audit_trail_events", database), "10\n");
  });

  await t.step("a reader reads every site and writes nothing", async () => {
    const bi = as("bi", "bi-pw");
    const events = await cliJson(["query", "--central", bi, "--limit", "0"]);
    assert.deepEqual(
      [...new Set(events.map((e: { site: string }) => e.site))].sort(),
      ["WH-A", "WH-B"],
    );
    const verified = await cliJson(["verify", "--central", bi]);
    assert.deepEqual(verified.sites.map((s: { intact: boolean }) => s.intact), [true, true]);
    const sites = await cliJson(["central", "sites", "--central", bi]);
    assert.deepEqual(
      sites.map((s: { site: string; events: number; last_audit_id: number }) => [
        s.site,
        s.events,
        s.last_audit_id,
      ]),
      [["WH-A", 5, 5], ["WH-B", 5, 5]],
    );
    await refused(
      "INSERT INTO audit_trail_events (site, audit_id, operation, seal) VALUES ('WH-A', 9, 'X', sha256('x'))",
      { user: "bi", password: "bi-pw" },
      /permission denied/,
    );
  });

  await t.step("granting to a role that does not exist is a usage error", async () => {
    const result = await runCli([
      "central",
      "grant",
      "WH-C",
      "--role",
      "nobody",
      "--central",
      admin,
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /There is no role "nobody"/);
    assert.match(result.stderr, /hint: Create it first/);
    const bad = await runCli([
      "central",
      "grant",
      "bad site",
      "--role",
      "site_a",
      "--central",
      admin,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a valid site name/);
  });
});
