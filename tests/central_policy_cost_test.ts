/**
 * What row-level security costs a site's sync and reads: the policies look up the role's
 * grants, and the OID its name has now (central schema version 2), once per statement however
 * many rows it has, and the refusals of a grant made to an earlier role of the name run only
 * for a row that no grant of the role's own covers. Checked on the plans PostgreSQL ran for a
 * real sync (auto_explain, with actual row counts) and on the calls it counted
 * (track_functions), not on time.
 */
import assert from "node:assert/strict";
import { migratedDb, tempDir } from "./helpers.ts";
import { cliJson, logEvents, startPostgres, type TestPostgres } from "./pg_support.ts";

/** Two batches of the sync (2,000 events each at most). */
const EVENTS = 2500;
/** What the site's role reads: every row of its site, through the read policy. */
const COUNT = "SELECT count(*) FROM audit_trail_events";

/** The plans auto_explain logged since `from` (an offset in the server's log), by query text. */
async function loggedPlans(pg: TestPostgres, from: number) {
  const entries = (await pg.serverLog()).slice(from).split(/\n(?=\S)/);
  return entries.filter((entry) => /\bplan:\n/.test(entry));
}

/** The lines of `plan` that read the grants or the roles, and how often each ran. */
function lookups(plan: string) {
  return plan.split("\n").filter((line) => /audit_trail_grants|pg_authid/.test(line));
}

/** How often PostgreSQL counted each function of the central schema as called. */
async function calls(pg: TestPostgres, database: string) {
  const rows = await pg.psql(
    "SELECT funcname || '=' || calls FROM pg_stat_user_functions ORDER BY funcname",
    database,
  );
  return Object.fromEntries(
    rows.trim().split("\n").filter(Boolean).map((row) => {
      const [name, count] = row.split("=");
      return [name, Number(count)];
    }),
  );
}

Deno.test("central store: the policies look up a role's grants once per statement, not per row", async () => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const url = await pg.createDatabase();
  const database = new URL(url).pathname.slice(1);
  await cliJson(["central", "init", "--central", url]);
  await pg.psql("CREATE ROLE wh_cost LOGIN PASSWORD 'cost-pw'");
  await cliJson(["central", "grant", "WH-COST", "--role", "wh_cost", "--central", url]);
  // Every statement of the site's role has its plan logged as run, with row counts per node.
  await pg.psql(
    `ALTER ROLE wh_cost IN DATABASE ${database} SET session_preload_libraries = 'auto_explain'`,
  );
  for (const setting of ["log_min_duration = 0", "log_analyze = on", "log_timing = off"]) {
    await pg.psql(`ALTER ROLE wh_cost IN DATABASE ${database} SET auto_explain.${setting}`);
  }
  await pg.psql(`ALTER DATABASE ${database} SET track_functions = 'all'`);
  const site = pg.url({ user: "wh_cost", password: "cost-pw", database });
  const db = await migratedDb(dir.path, "site.db");
  await logEvents(db, EVENTS);
  const from = (await pg.serverLog()).length;

  const sent = await cliJson(["sync", "--central", site, "--site", "WH-COST", "--db", db]);
  assert.equal(sent.sent, EVENTS);
  await pg.psql(COUNT, database, {
    user: "wh_cost",
    password: "cost-pw",
  });

  const plans = await loggedPlans(pg, from);
  const inserts = plans.filter((plan) => /Insert on audit_trail_events/.test(plan));
  // Both batches, each through the append and read policies (the statement returns rows).
  assert.deepEqual(
    inserts.map((plan) => Number(/Insert on audit_trail_events .*rows=(\d+)/.exec(plan)?.[1])),
    [2000, 500],
  );
  const read = plans.filter((plan) => plan.includes(`Query Text: ${COUNT}`));
  assert.equal(read.length, 1, plans.join("\n"));
  assert.match(read[0], /on audit_trail_events .*actual rows=2500 loops=1\)/, read[0]);
  for (const plan of [...inserts, ...read]) {
    // A subquery that depends on the row would be a SubPlan, run once per row.
    assert.doesNotMatch(plan, /SubPlan/, plan);
    const looked = lookups(plan);
    // The append policy reads the grants in the plan itself; the read policy through
    // audit_trail_readable_sites(), whose calls are counted below.
    if (inserts.includes(plan)) assert.ok(looked.length > 0, plan);
    for (const line of looked) assert.match(line, /loops=1\)|never executed/, plan);
  }

  // The refusals of earlier roles' grants are never asked: the role's own grant answered
  // first, for every row. The chain check ran once per batch: the calls are counted.
  let counted: Record<string, number> = {};
  for (let attempt = 0; attempt < 200 && counted.audit_trail_events_check !== 2; attempt++) {
    // A connection's counts reach the shared statistics when it ends, just after the sync.
    await new Promise((resolve) => setTimeout(resolve, 50));
    counted = await calls(pg, database);
  }
  assert.equal(counted.audit_trail_events_check, 2, JSON.stringify(counted));
  // The read policy's sites, at most twice per statement the role ran (its batches, their
  // reads of the site's head, the count: 6 to 8 calls), never once per row (5,006 calls for
  // the 2,500 rows when the policy called it per row).
  assert.ok(counted.audit_trail_readable_sites >= 1, JSON.stringify(counted));
  assert.ok(counted.audit_trail_readable_sites <= 40, JSON.stringify(counted));
  assert.equal(counted.audit_trail_refuse_stale_grant, undefined, JSON.stringify(counted));
  assert.equal(counted.audit_trail_refuse_stale_reader, undefined, JSON.stringify(counted));
});
