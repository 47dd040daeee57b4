/**
 * The central store through the real CLI against a real PostgreSQL: init, sync, query and
 * verify across sites, divergence, and what a person sees when something is wrong.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { chainHash, GENESIS_HASH } from "./internals.ts";
import { LEGACY_ROWS, writeLegacyDatabase } from "./fixtures.ts";
import { fingerprint, migratedDb, runCli, tempDir } from "./helpers.ts";
import { connectCentral, explainCentralQuery } from "../lib/central/mod.ts";
import {
  cliJson,
  generatedEventsSql,
  logEvents,
  startPostgres,
  type TestPostgres,
} from "./pg_support.ts";

/** The rows of a site in the central store, as psql prints them (one line each). */
async function centralRows(pg: TestPostgres, url: string, site: string): Promise<string[]> {
  const out = await pg.psql(
    `SELECT audit_id, local_timestamp, operation, coalesce(sku, '~'), coalesce(details, '~'),
            coalesce("user", '~'), coalesce(run_id, '~'), encode(seal, 'hex')
     FROM audit_trail_events WHERE site = '${site}' ORDER BY audit_id`,
    new URL(url).pathname.slice(1),
  );
  return out.trim() ? out.trim().split("\n") : [];
}

/** The same rows read from the local SQLite file. */
function localRows(path: string): string[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare(
      `SELECT e.audit_id || '|' || e.timestamp || '|' || e.operation || '|' ||
         coalesce(e.sku, '~') || '|' || coalesce(e.details, '~') || '|' ||
         coalesce(e.user, '~') || '|' || coalesce(e.run_id, '~') || '|' || lower(hex(c.hash)) AS line
       FROM audit_log AS e JOIN audit_trail_chain AS c USING (audit_id) ORDER BY e.audit_id`,
    ).all().map((row) => row.line as string);
  } finally {
    db.close();
  }
}

Deno.test("central store: init, sync, query and verify through the CLI", async (t) => {
  await using pg = await startPostgres();
  await using dir = await tempDir();

  await t.step(
    "central init creates the schema once; running it again changes nothing",
    async () => {
      const url = await pg.createDatabase();
      assert.deepEqual(await cliJson(["central", "init", "--central", url]), {
        central: url.replace(`:${pg.password}@`, ":***@"),
        from_version: 0,
        to_version: 2,
      });
      const again = await cliJson(["central", "init", "--central", url]);
      assert.equal(again.from_version, 2);
      assert.equal(again.to_version, 2);
      const tables = await pg.psql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'audit_trail%'",
        new URL(url).pathname.slice(1),
      );
      assert.equal(
        tables.trim(),
        "audit_trail_events,audit_trail_grants,audit_trail_schema,audit_trail_sites",
      );
    },
  );

  await t.step("sync sends every event once, exactly as stored, and records the site", async () => {
    const url = await pg.createDatabase();
    await cliJson(["central", "init", "--central", url]);
    const db = await migratedDb(dir.path, "sync.db");
    await logEvents(db, 25);
    const shown = url.replace(`:${pg.password}@`, ":***@");
    const first = await cliJson(["sync", "--central", url, "--site", "WH-1", "--db", db]);
    assert.equal(typeof first.seconds, "number");
    delete first.seconds;
    assert.deepEqual(first, {
      site: "WH-1",
      central: shown,
      sent: 25,
      first_audit_id: 1,
      last_audit_id: 25,
      central_last_audit_id: 25,
    });
    assert.deepEqual(await centralRows(pg, url, "WH-1"), localRows(db));
    // Nothing new: nothing sent, and the recorded site is used without --site.
    const again = await cliJson(["sync", "--central", url, "--db", db]);
    assert.equal(again.sent, 0);
    assert.equal(again.first_audit_id, null);
    assert.equal(again.central_last_audit_id, 25);
    await logEvents(db, 3, "more");
    const more = await cliJson(["sync", "--central", url, "--db", db]);
    assert.deepEqual([more.sent, more.first_audit_id, more.last_audit_id], [3, 26, 28]);
    assert.equal((await centralRows(pg, url, "WH-1")).length, 28);
    const local = new DatabaseSync(db);
    const record = local.prepare(
      "SELECT site, central, acknowledged_audit_id FROM audit_trail_central",
    ).all();
    local.close();
    assert.deepEqual(record.map((r) => ({ ...r })), [
      { site: "WH-1", central: shown, acknowledged_audit_id: 28 },
    ]);
    // The record is bookkeeping, not an event.
    assert.equal(localRows(db).length, 28);
  });

  await t.step("a sync naming another site than the recorded one is refused (exit 2)", async () => {
    const url = await pg.createDatabase();
    await cliJson(["central", "init", "--central", url]);
    const db = await migratedDb(dir.path, "two-sites.db");
    await logEvents(db, 2);
    await cliJson(["sync", "--central", url, "--site", "WH-A", "--db", db]);
    await logEvents(db, 2);
    const before = await fingerprint(db);
    const result = await runCli(["sync", "--central", url, "--site", "WH-B", "--db", db]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /site "WH-A".*cannot sync as "WH-B"/);
    assert.equal(result.stdout, "");
    assert.equal(await fingerprint(db), before);
    assert.equal(await pg.psql("SELECT count(*) FROM audit_trail_events", dbName(url)), "2\n");
    // The environment variable names the site as --site does.
    const env = await runCli(["sync", "--central", url, "--db", db], {
      env: { AUDIT_TRAIL_SITE: "WH-C" },
    });
    assert.equal(env.code, 2);
  });

  await t.step(
    "a site whose first sync finds nothing to send is recorded all the same",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      const db = await migratedDb(dir.path, "empty.db");
      const result = await cliJson(["sync", "--central", url, "--site", "WH-EMPTY", "--db", db]);
      assert.deepEqual([result.sent, result.central_last_audit_id], [0, null]);
      const other = await runCli(["sync", "--central", url, "--site", "WH-X", "--db", db]);
      assert.equal(other.code, 2);
    },
  );

  await t.step("legacy timestamps keep their exact text centrally and print as ISO", async () => {
    const url = await pg.createDatabase();
    await cliJson(["central", "init", "--central", url]);
    const db = join(dir.path, "legacy.db");
    writeLegacyDatabase(db, { legacy002: true });
    assert.equal((await runCli(["migrate", "--db", db])).code, 0);
    await cliJson(["sync", "--central", url, "--site", "LEGACY", "--db", db]);
    const rows = await pg.psql(
      `SELECT local_timestamp || '|' || to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
       FROM audit_trail_events ORDER BY audit_id`,
      dbName(url),
    );
    assert.deepEqual(
      rows.trim().split("\n"),
      LEGACY_ROWS.map(([ts]) => `${ts}|${ts}`),
    );
    assert.deepEqual(await centralRows(pg, url, "LEGACY"), localRows(db));
    const printed = await cliJson([
      "query",
      "--central",
      url,
      "--since",
      "2026-02-16",
      "--until",
      "2026-02-16",
    ]);
    assert.deepEqual(printed.map((e: { timestamp: string }) => e.timestamp), [
      "2026-02-16T23:59:59.000Z",
      "2026-02-16T12:30:00.000Z",
      "2026-02-16T00:00:00.000Z",
    ]);
    // A NULL user and NULL details print as locally.
    const counted = printed.find((e: { operation: string }) => e.operation === "STOCK_COUNT");
    assert.deepEqual([counted.details, counted.user, counted.sku], ["", "clerk", null]);
    const verified = await cliJson(["verify", "--central", url]);
    assert.deepEqual(verified.sites, [{
      site: "LEGACY",
      events_checked: 6,
      intact: true,
      failure: null,
    }]);
  });

  await t.step(
    "query --central filters across sites, newest first, each record with its site",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      let runB = "";
      for (const site of ["WH-A", "WH-B"]) {
        const db = await migratedDb(dir.path, `q-${site}.db`);
        await logEvents(db, 12, site);
        runB = (await runCli(["batch", "start", "nightly", "--db", db])).stdout.trim();
        await cliJson(["sync", "--central", url, "--site", site, "--db", db]);
      }
      const all = await cliJson(["query", "--central", url, "--limit", "0"]);
      assert.equal(all.length, 26);
      assert.deepEqual(Object.keys(all[0]), [
        "site",
        "audit_id",
        "timestamp",
        "operation",
        "sku",
        "details",
        "user",
        "run_id",
      ]);
      const keys = all.map((e: { timestamp: string; site: string; audit_id: number }) =>
        [e.timestamp, e.site, String(e.audit_id).padStart(5, "0")].join(" ")
      );
      assert.deepEqual(keys, [...keys].sort().reverse());
      const bySku = await cliJson(["query", "--central", url, "--sku", "SKU-1", "--order", "asc"]);
      assert.deepEqual(
        bySku.map((e: { site: string; audit_id: number }) => `${e.site}:${e.audit_id}`),
        ["WH-A:2", "WH-B:2"],
      );
      const ana = await cliJson(["query", "--central", url, "--user", "ana", "--site", "WH-B"]);
      assert.equal(ana.length, 6);
      assert.ok(
        ana.every((e: { user: string; site: string }) => e.user === "ana" && e.site === "WH-B"),
      );
      const contains = await cliJson(["query", "--central", url, "--contains", "wh-a EVENT 1"]);
      assert.deepEqual(
        contains.map((e: { audit_id: number }) => e.audit_id).sort((a: number, b: number) => a - b),
        [2, 11, 12],
      );
      const run = await cliJson(["query", "--central", url, "--run-id", runB]);
      assert.deepEqual(run.map((e: { site: string; operation: string }) => [e.site, e.operation]), [
        ["WH-B", "BATCH_START"],
      ]);
      const page = await cliJson([
        "query",
        "--central",
        url,
        "--site",
        "WH-A",
        "--before-id",
        "5",
        "--order",
        "asc",
      ]);
      assert.deepEqual(page.map((e: { audit_id: number }) => e.audit_id), [1, 2, 3, 4]);
      const limited = await cliJson(["query", "--central", url, "--limit", "2", "--offset", "1"]);
      assert.deepEqual(limited, all.slice(1, 3));
      const none = await runCli(["query", "--central", url, "--sku", "nope"]);
      assert.equal(none.stdout, "[]\n");
      const csv = await runCli(["query", "--central", url, "--limit", "1", "--format", "csv"]);
      assert.match(csv.stdout, /^site,audit_id,timestamp,operation,sku,details,user,run_id\r?\n/);
      const noSite = await runCli(["query", "--central", url, "--after-id", "3"]);
      assert.equal(noSite.code, 2);
      assert.match(noSite.stderr, /--after-id needs --site/);
      const noSiteBefore = await runCli(["query", "--central", url, "--before-id", "3"]);
      assert.equal(noSiteBefore.code, 2);
      assert.match(noSiteBefore.stderr, /--before-id needs --site/);
      const badSite = await runCli(["query", "--site", "WH-A"]);
      assert.equal(badSite.code, 2);
    },
  );

  await t.step("hostile text is sealed the same way by the database as by the tool", async () => {
    const url = await pg.createDatabase();
    await cliJson(["central", "init", "--central", url]);
    const db = await migratedDb(dir.path, "hostile.db");
    const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join("");
    const texts = [
      controls,
      '"quoted" \\ back\\slash / solidus',
      "\u2028\u2029 line separators, \u007f DEL, \u00a0 nbsp",
      "emoji 📦🚚, Grüße, 日本語, \ud83d\ude00",
      "=cmd|' /C calc'!A0",
      "",
    ];
    const lines = texts.map((details, i) =>
      JSON.stringify({
        operation: `OP_${i}`,
        sku: `SKU-Grüße-📦-${i}`,
        user: `"ana" \\ ${i}`,
        details,
      })
    ).join("\n");
    assert.equal((await runCli(["log", "--stdin", "--db", db], { stdin: lines + "\n" })).code, 0);
    const sent = await cliJson(["sync", "--central", url, "--site", "WH-H", "--db", db]);
    assert.equal(sent.sent, texts.length);
    const back = await cliJson(["query", "--central", url, "--order", "asc"]);
    assert.deepEqual(back.map((e: { details: string }) => e.details), texts);
    assert.equal((await runCli(["verify", "--central", url])).code, 0);
  });

  await t.step(
    "a site whose oldest events were archived before its first sync starts after them",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      const db = await migratedDb(dir.path, "archived.db");
      const archives = join(dir.path, "archives");
      await logEvents(db, 20);
      await cliJson(["archive", "--keep", "0", "--to", archives, "--db", db]);
      await logEvents(db, 5, "after archive");
      const first = await cliJson(["sync", "--central", url, "--site", "WH-ARC", "--db", db]);
      assert.deepEqual([first.sent, first.first_audit_id, first.last_audit_id], [5, 21, 25]);
      const site = await pg.psql(
        `SELECT first_audit_id || ' ' || events || ' ' || last_audit_id FROM audit_trail_sites`,
        dbName(url),
      );
      assert.equal(site, "21 5 25\n");
      // Archiving what the central store acknowledged, then syncing on: no false alarm.
      await logEvents(db, 3, "more");
      await cliJson(["sync", "--central", url, "--db", db]);
      await cliJson(["archive", "--keep", "0", "--to", archives, "--db", db]);
      assert.equal((await cliJson(["sync", "--central", url, "--db", db])).sent, 0);
      await logEvents(db, 2, "last");
      const last = await cliJson(["sync", "--central", url, "--db", db]);
      assert.deepEqual([last.sent, last.first_audit_id, last.central_last_audit_id], [2, 29, 30]);
      const verified = await cliJson(["verify", "--central", url]);
      assert.deepEqual(verified.sites[0], {
        site: "WH-ARC",
        events_checked: 10,
        intact: true,
        failure: null,
      });
    },
  );

  await t.step(
    "query --central answers every filter from an index (EXPLAIN over 200,000 rows)",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      await pg.psql(
        `ALTER TABLE audit_trail_events DISABLE TRIGGER audit_trail_events_chain;
       ${generatedEventsSql(1, 200_000)};
       ALTER TABLE audit_trail_events ENABLE TRIGGER audit_trail_events_chain;
       ANALYZE audit_trail_events`,
        dbName(url),
      );
      await using central = await connectCentral(url);
      const filters = [
        {},
        { sku: "SKU-04321" },
        { operation: "SKU_CREATED" },
        { runId: "run_42" },
        { user: "user7" },
        { since: "2025-01-03", until: "2025-01-03" },
        { site: "WH-7" },
        { site: "WH-7", afterId: 9000, order: "asc" as const },
        { sku: "SKU-00001", since: "2025-01-05" },
        { limit: 0, operation: "STOCK_COUNT", user: "user3" },
      ];
      for (const filter of filters) {
        const plan = await explainCentralQuery(central, filter);
        assert.doesNotMatch(plan, /Seq Scan/, `${JSON.stringify(filter)}:\n${plan}`);
        assert.match(plan, /Index (Only )?Scan|Bitmap Index Scan/);
      }
    },
  );

  await t.step(
    "verify --central finds a central row changed behind the tool's back (exit 3)",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      for (const site of ["WH-A", "WH-B"]) {
        const db = await migratedDb(dir.path, `v-${site}.db`);
        await logEvents(db, 10, site);
        await cliJson(["sync", "--central", url, "--site", site, "--db", db]);
      }
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
      // Only a superuser who disables the triggers can change a row.
      await pg.psql(
        `SET session_replication_role = replica;
       UPDATE audit_trail_events SET details = 'forged' WHERE site = 'WH-B' AND audit_id = 7`,
        dbName(url),
      );
      const result = await runCli(["verify", "--central", url]);
      assert.equal(result.code, 3);
      const report = JSON.parse(result.stdout);
      assert.deepEqual(
        report.sites.map((s: { site: string; intact: boolean }) => [s.site, s.intact]),
        [
          ["WH-A", true],
          ["WH-B", false],
        ],
      );
      assert.equal(report.sites[1].failure.audit_id, 7);
      assert.equal(report.sites[1].events_checked, 6);
      assert.match(result.stderr, /Tampering found in the central store: Site WH-B: event 7/);
      const onlyA = await runCli(["verify", "--central", url, "--site", "WH-A"]);
      assert.equal(onlyA.code, 0);
      const tables = [
        await runCli(["verify", "--central", url, "--format", "table"]),
        await runCli(["verify", "--central", url, "--site", "WH-A", "--format", "table"]),
      ];
      assert.deepEqual(tables.map((t) => t.code), [3, 0]);
      assert.match(
        tables[0].stdout,
        /: 2 sites\nWH-A +10 events +intact\nWH-B +6 events +TAMPERED/,
      );
      assert.match(tables[1].stdout, /: 1 site\nWH-A +10 events +intact\n$/);
      // The newest events removed: the site's recorded head tells.
      await pg.psql(
        `SET session_replication_role = replica;
       DELETE FROM audit_trail_events WHERE site = 'WH-A' AND audit_id >= 9`,
        dbName(url),
      );
      const deleted = await runCli(["verify", "--central", url, "--site", "WH-A"]);
      assert.equal(deleted.code, 3);
      const failure = JSON.parse(deleted.stdout).sites[0].failure;
      assert.deepEqual([failure.audit_id, failure.kind], [10, "deleted"]);
    },
  );

  await t.step(
    "an event altered locally before it was sent is refused: exit 3, nothing at or after it stored",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      const db = await migratedDb(dir.path, "altered.db");
      await logEvents(db, 20);
      await cliJson(["sync", "--central", url, "--site", "WH-T", "--db", db]);
      await logEvents(db, 20, "later");
      const local = new DatabaseSync(db);
      local.exec(`DROP TRIGGER audit_log_no_update;
      UPDATE audit_log SET details = 'altered' WHERE audit_id = 31`);
      local.close();
      const result = await runCli(["sync", "--central", url, "--db", db]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /Event 31 of site WH-T/);
      assert.equal(result.stdout, "");
      const ids = await pg.psql(
        "SELECT min(audit_id) || '-' || max(audit_id) || ' ' || count(*) FROM audit_trail_events",
        dbName(url),
      );
      // The events before the altered one went in; nothing at or after it.
      assert.equal(ids, "1-30 30\n");
      assert.equal((await runCli(["verify", "--central", url])).code, 0);
    },
  );

  await t.step(
    "a local chain rewritten after its events were sent is refused, naming the first differing event",
    async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      const db = await migratedDb(dir.path, "rewritten.db");
      await logEvents(db, 40);
      await cliJson(["sync", "--central", url, "--site", "WH-R", "--db", db]);
      rewriteFrom(db, 13);
      const result = await runCli(["sync", "--central", url, "--db", db]);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /Event 13 of site WH-R differs/);
      assert.equal(await pg.psql("SELECT count(*) FROM audit_trail_events", dbName(url)), "40\n");
    },
  );

  await t.step(
    "missing schema, newer schema, wrong password, no server: exit 1 with a hint, no password shown",
    async () => {
      const url = await pg.createDatabase();
      const db = await migratedDb(dir.path, "errors.db");
      await logEvents(db, 3);
      const before = await fingerprint(db);
      const missing = await runCli(["sync", "--central", url, "--site", "WH-E", "--db", db]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /has no audit-trail schema\nhint: .*central init/);
      const verifyMissing = await runCli(["verify", "--central", url]);
      assert.equal(verifyMissing.code, 1);
      assert.match(verifyMissing.stderr, /has no audit-trail schema\nhint: .*central init/);
      await cliJson(["central", "init", "--central", url]);
      await pg.psql("INSERT INTO audit_trail_schema (version) VALUES (99)", dbName(url));
      const newer = await runCli(["sync", "--central", url, "--site", "WH-E", "--db", db]);
      assert.equal(newer.code, 1);
      assert.match(newer.stderr, /schema version 99, newer than this tool knows/);
      const verifyNewer = await runCli(["verify", "--central", url]);
      assert.equal(verifyNewer.code, 1);
      assert.match(verifyNewer.stderr, /schema version 99, newer than this tool knows/);
      const wrong = url.replace(pg.password, "not-the-password");
      const denied = await runCli(["sync", "--central", wrong, "--site", "WH-E", "--db", db]);
      assert.equal(denied.code, 1);
      assert.match(
        denied.stderr,
        /refused the login of "postgres" at postgres:\/\/postgres:\*\*\*@/,
      );
      const closed = `postgres://postgres:${pg.password}@127.0.0.1:1/nowhere`;
      const unreachable = await runCli(["sync", "--central", closed, "--site", "WH-E", "--db", db]);
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.stderr, /cannot be reached/);
      for (const out of [missing, verifyMissing, newer, verifyNewer, denied, unreachable]) {
        assert.ok(!out.stderr.includes(pg.password), out.stderr);
        assert.ok(!out.stderr.includes("not-the-password"), out.stderr);
        assert.equal(out.stderr.split("\n").filter(Boolean).length, 2, out.stderr);
      }
      assert.equal(await fingerprint(db), before);
    },
  );

  await t.step(
    "the password may come from PGPASSWORD or the password file; the URL's wins, as with libpq",
    async () => {
      const url = await pg.createDatabase();
      const bare = url.replace(`:${pg.password}@`, "@");
      const viaEnv = await cliJson(["central", "init", "--central", bare], 0, {
        PGPASSWORD: pg.password,
      });
      assert.equal(viaEnv.central, bare);
      const fromUrl = await cliJson(["central", "sites", "--central", url], 0, {
        PGPASSWORD: "wrong",
      });
      assert.deepEqual(fromUrl, []);
      const missing = await runCli(["central", "sites", "--central", bare], {
        env: { PGPASSWORD: "" },
      });
      assert.equal(missing.code, 1);
      const badMode = await runCli(["central", "sites", "--central", `${url}?sslmode=sometimes`]);
      assert.equal(badMode.code, 2);
      assert.ok(!badMode.stderr.includes(pg.password));
      assert.match(badMode.stderr, /unknown sslmode "sometimes"/);
      // The password file, as libpq reads it: after PGPASSWORD, only if no one else may read it.
      const passfile = `${dir.path}/pgpass`;
      const { port } = new URL(url);
      const escaped = pg.password.replaceAll("\\", "\\\\").replaceAll(":", "\\:");
      await Deno.writeTextFile(
        passfile,
        `# central store\nother.example:*:*:*:nope\n127.0.0.1:${port}:*:postgres:${escaped}\n`,
        { mode: 0o600 },
      );
      await Deno.chmod(passfile, 0o600);
      const fromFile = { PGPASSWORD: "", PGPASSFILE: passfile };
      assert.deepEqual(await cliJson(["central", "sites", "--central", bare], 0, fromFile), []);
      const envFirst = await runCli(["central", "sites", "--central", bare], {
        env: { ...fromFile, PGPASSWORD: "wrong" },
      });
      assert.equal(envFirst.code, 1, "PGPASSWORD comes before the password file");
      await Deno.chmod(passfile, 0o644);
      const open = await runCli(["central", "sites", "--central", bare], { env: fromFile });
      assert.equal(open.code, 1);
      assert.match(
        open.stderr,
        /^audit-trail: warning: password file ".*pgpass" has group or world access and is not read/,
      );
      assert.ok(!open.stderr.includes(pg.password));
      // The server has no TLS: "require" fails, "disable" and the default "prefer" connect.
      const require = await runCli(["central", "sites", "--central", `${url}?sslmode=require`]);
      assert.equal(require.code, 1);
      assert.equal(
        (await runCli(["central", "sites", "--central", `${url}?sslmode=disable`])).code,
        0,
      );
    },
  );
});

/** Changes event `from` and reseals it and every later one, as a careful forger would. */
function rewriteFrom(path: string, from: number) {
  const db = new DatabaseSync(path);
  try {
    db.exec(`DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_trail_chain_no_update;
      UPDATE audit_log SET details = 'rewritten' WHERE audit_id = ${from}`);
    const rows = db.prepare(
      "SELECT audit_id, timestamp, operation, sku, details, user, run_id FROM audit_log ORDER BY audit_id",
    ).all() as unknown as Parameters<typeof chainHash>[1][];
    let previous = GENESIS_HASH;
    const update = db.prepare("UPDATE audit_trail_chain SET hash = ? WHERE audit_id = ?");
    for (const row of rows) {
      previous = chainHash(previous, row);
      if (row.audit_id >= from) {
        update.run(
          Uint8Array.from(previous.match(/../g)!.map((h) => parseInt(h, 16))),
          row.audit_id,
        );
      }
    }
  } finally {
    db.close();
  }
}

function dbName(url: string): string {
  return new URL(url).pathname.slice(1);
}
