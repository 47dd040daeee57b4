/**
 * What sending to the central store costs, beside its peer measured in the same run:
 *
 * - first sync of a backlog (default 300,000 events) through `audit-trail sync` as a site's
 *   role (row-level security, the chain trigger, every index), against `psql \copy` loading
 *   the same rows into a table with the same columns and primary key; rounds take turns
 *   going first; peak memory of the sync process; beside them, `\copy` into a table with the
 *   schema's indexes too (what the indexes alone cost);
 * - an incremental sync of 5 events, beside its floor: a bare Deno process that loads the same
 *   client, logs in and asks one question (scripts/bench_bare_central.ts); the CLI's own
 *   process start and one round trip are printed too;
 * - `query --central` plans (EXPLAIN) for every filter over a central table of 10,000,000
 *   rows (`--explain-rows`, 0 to skip).
 *
 *     deno run --allow-all scripts/bench_central.ts [--central URL] [--events N]
 *       [--rounds N] [--explain-rows N]
 *
 * Without `--central` it starts its own PostgreSQL (as the tests do). With it, the URL's role
 * must be able to create databases and roles (a superuser, on a server kept for benchmarks).
 *
 * @module
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { connectCentral, explainCentralQuery } from "../lib/central/mod.ts";
import type { CentralFilter } from "../lib/central/query.ts";
import { writeEventFiles } from "./bench_data.ts";
import { run, type RunResult, summarize } from "./bench_run.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";
import { build } from "./build.ts";
import { generatedEventsSql, startPostgres } from "../tests/pg_support.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    central: { type: "string" },
    events: { type: "string", default: "300000" },
    rounds: { type: "string", default: "3" },
    "explain-rows": { type: "string", default: "10000000" },
    kills: { type: "string", default: "5" },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const EXPLAIN_ROWS = Number(values["explain-rows"]);
const KILLS = Number(values.kills);
/** Incremental syncs measured (each beside a run of the bare client). */
const INCREMENTS = 11;
// The built program the executable is compiled from (scripts/compile.ts), as `deno task bench`.
const CLI = (await build()).entry;
const bareCentral = (url: string, site: string) => [
  Deno.execPath(),
  "run",
  "--quiet",
  ...RUNTIME_FLAGS,
  new URL("./bench_bare_central.ts", import.meta.url).pathname,
  url,
  site,
];
const cli = (
  ...args: string[]
) => [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, CLI, ...args];
const CLOCK_TICKS = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  ),
) || 100;
/**
 * Processor time the server has used so far, in seconds: the postmaster's, its live
 * children's, and that of the children it has reaped (the backends of ended connections).
 * Null when the server is not ours (`--central`).
 */
const serverCpuSeconds = async (): Promise<number | null> => {
  if (!own) return null;
  const pid = (await Deno.readTextFile(join(own.dataDirectory, "postmaster.pid"))).split("\n")[0];
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = (text: string) => text.slice(text.lastIndexOf(")") + 2).split(" ");
  let ticks = 0;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    if (!stat) continue;
    const f = fields(stat); // f[1] = ppid, f[11..14] = utime, stime, cutime, cstime
    if (entry.name === pid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    else if (f[1] === pid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLOCK_TICKS;
};
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const loadAverage = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
// deno-lint-ignore no-console
const log = (text: string) => console.log(text);

await using own = values.central ? null : await startPostgres();
const adminUrl = values.central ?? own!.url();
const work = await Deno.makeTempDir({ prefix: "audit-trail-bench-central-" });
const admin = await connectCentral(adminUrl);
const sitePassword = `bench-${crypto.randomUUID()}`;

try {
  log(`load average before: ${loadAverage()}`);
  const db = join(work, "site.db");
  const ndjson = join(work, "events.ndjson");
  await writeEventFiles(EVENTS, ndjson);
  await run(cli("migrate", "--db", db));
  await run(cli("log", "--stdin", "--db", db), { stdinFile: ndjson });
  await admin.sql.unsafe(`DROP ROLE IF EXISTS bench_site`);
  await admin.sql.unsafe(`CREATE ROLE bench_site LOGIN PASSWORD '${sitePassword}'`);

  let databases = 0;
  const freshDatabase = async () => {
    const name = `bench_central_${Date.now()}_${++databases}`;
    await admin.sql.unsafe(`CREATE DATABASE ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return { name, adminUrl: url.href, siteUrl: siteUrl(url) };
  };
  const siteUrl = (url: URL) => {
    const site = new URL(url.href);
    site.username = "bench_site";
    site.password = sitePassword;
    return site.href;
  };

  // The peer's input: the central rows as PostgreSQL itself writes them for \copy.
  const csv = join(work, "central.csv");
  const syncs: RunResult[] = [];
  const copies: RunResult[] = [];
  const indexedCopies: RunResult[] = [];
  const syncServerCpu: number[] = [];
  const copyServerCpu: number[] = [];
  const withServerCpu = async (into: number[], step: () => Promise<RunResult>) => {
    const before = await serverCpuSeconds();
    const result = await step();
    const after = await serverCpuSeconds();
    if (before !== null && after !== null) into.push(after - before);
    return result;
  };
  const psqlArgs = (url: string, command: string) => ["psql", "-X", "-q", "-d", url, "-c", command];
  const columns =
    `site, audit_id, "timestamp", operation, sku, details, "user", run_id, seal, received_at, local_timestamp`;
  for (let round = 0; round < ROUNDS; round++) {
    const central = await freshDatabase();
    await run(cli("central", "init", "--central", central.adminUrl));
    await run(
      cli("central", "grant", "BENCH", "--role", "bench_site", "--central", central.adminUrl),
    );
    await run(psqlArgs(
      central.adminUrl,
      // The same columns (types and collations) and key; no other index, trigger or policy.
      `CREATE TABLE peer (LIKE audit_trail_events, PRIMARY KEY (site, audit_id));
       -- Beside it, what the schema's indexes alone cost: its every index, still no trigger
       -- or policy.
       CREATE TABLE peer_indexed (LIKE audit_trail_events INCLUDING ALL)`,
    ));
    const sync = () =>
      withServerCpu(
        syncServerCpu,
        () => run(cli("sync", "--central", central.siteUrl, "--site", "BENCH", "--db", db)),
      );
    const copy = () =>
      withServerCpu(
        copyServerCpu,
        () => run(psqlArgs(central.adminUrl, `\\copy peer FROM '${csv}' CSV`)),
      );
    const copyIndexed = async () =>
      indexedCopies.push(
        await run(psqlArgs(central.adminUrl, `\\copy peer_indexed FROM '${csv}' CSV`)),
      );
    if (round === 0) {
      syncs.push(await sync());
      await run(psqlArgs(
        central.adminUrl,
        `\\copy (SELECT ${columns} FROM audit_trail_events ORDER BY audit_id) TO '${csv}' CSV`,
      ));
      copies.push(await copy());
      await copyIndexed();
    } else if (round % 2 === 1) {
      copies.push(await copy());
      await copyIndexed();
      syncs.push(await sync());
    } else {
      syncs.push(await sync());
      await copyIndexed();
      copies.push(await copy());
    }
    await dropLater(central.name);
  }
  const s = summarize(syncs);
  const c = summarize(copies);
  log(
    `first sync of ${EVENTS} events: ${(s.ms / 1000).toFixed(2)} s (rounds ${
      s.samples.map((x) => (x / 1000).toFixed(2)).join(", ")
    }), peak ${Math.round((s.rssKb ?? 0) / 1024)} MB`,
  );
  log(
    `psql \\copy of the same rows: ${(c.ms / 1000).toFixed(2)} s (rounds ${
      c.samples.map((x) => (x / 1000).toFixed(2)).join(", ")
    })`,
  );
  const cpu = (runs: RunResult[]) => median(runs.map((r) => r.cpuSeconds ?? NaN));
  if (syncServerCpu.length > 0) {
    // What the machine had to do, whoever did it: no schedule on these cores takes less
    // wall time than all of it divided among them.
    const cores = navigator.hardwareConcurrency;
    const syncWork = cpu(syncs) + median(syncServerCpu);
    const copyWork = cpu(copies) + median(copyServerCpu);
    // Each round's server time is printed too: it counts every server process, so the work of
    // the others (checkpoints, autovacuum, the first heavy write of a new cluster: half a
    // second more in round 0's sync here) lands in whichever step runs then. A gap between two
    // builds' medians within the rounds' spread is no gap.
    const rounds = (values: number[]) => values.map((x) => x.toFixed(2)).join(", ");
    log(
      `processor time (medians): sync ${cpu(syncs).toFixed(2)} s client + ${
        median(syncServerCpu).toFixed(2)
      } s server (rounds ${rounds(syncServerCpu)}) = ${syncWork.toFixed(2)} s; \\copy ${
        cpu(copies).toFixed(2)
      } s psql + ${median(copyServerCpu).toFixed(2)} s server (rounds ${rounds(copyServerCpu)}) = ${
        copyWork.toFixed(2)
      } s; ratio of work ${
        (syncWork / copyWork).toFixed(2)
      }x; on ${cores} cores the sync cannot take less than ${(syncWork / cores).toFixed(2)} s = ${
        (syncWork / cores / (c.ms / 1000)).toFixed(2)
      }x the \\copy's wall time`,
    );
  }
  log(
    `ratio sync / \\copy: ${
      (s.ms / c.ms).toFixed(2)
    }x (target 2.0x); load average ${loadAverage()}`,
  );
  const indexed = summarize(indexedCopies);
  log(
    `  beside: psql \\copy into a table with the schema's indexes too (no trigger, no policy): ${
      (indexed.ms / 1000).toFixed(2)
    } s = ${(indexed.ms / c.ms).toFixed(2)}x the plain \\copy; sync / that: ${
      (s.ms / indexed.ms).toFixed(2)
    }x`,
  );

  // Incremental: a few new events after a full sync.
  const central = await freshDatabase();
  await run(cli("central", "init", "--central", central.adminUrl));
  await run(
    cli("central", "grant", "BENCH", "--role", "bench_site", "--central", central.adminUrl),
  );
  await run(cli("sync", "--central", central.siteUrl, "--site", "BENCH", "--db", db));
  const increments: RunResult[] = [];
  const bareClients: RunResult[] = [];
  const starts: RunResult[] = [];
  const five = join(work, "five.ndjson");
  await Deno.writeTextFile(five, '{"operation":"COUNTED","sku":"SKU-1"}\n'.repeat(5));
  for (let i = 0; i < INCREMENTS; i++) {
    await run(cli("log", "--stdin", "--db", db), { stdinFile: five });
    const steps = [
      async () => increments.push(await run(cli("sync", "--central", central.siteUrl, "--db", db))),
      async () => bareClients.push(await run(bareCentral(central.siteUrl, "BENCH"))),
    ];
    // In turns, so that neither always runs on the caches the other warmed.
    if (i % 2 === 1) steps.reverse();
    for (const step of steps) await step();
    starts.push(await run(cli("--version")));
  }
  const site = await connectCentral(central.siteUrl);
  const trips: number[] = [];
  await site.sql`SELECT 1`;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await site.sql`SELECT 1`;
    trips.push(performance.now() - t);
  }
  await site.close();
  trips.sort((a, b) => a - b);
  const inc = summarize(increments);
  const bare = summarize(bareClients);
  const start = summarize(starts);
  log(
    `incremental sync of 5 events: ${inc.ms.toFixed(0)} ms (median of ${INCREMENTS}); ` +
      `bare client (process start, npm postgres, login, one query: ` +
      `scripts/bench_bare_central.ts) ${bare.ms.toFixed(0)} ms; ratio ${
        (inc.ms / bare.ms).toFixed(2)
      }x`,
  );
  log(
    `  beside: process start of the CLI (--version) ${start.ms.toFixed(0)} ms; one round trip ${
      trips[10].toFixed(2)
    } ms; load average ${loadAverage()}`,
  );
  await dropLater(central.name);

  if (KILLS > 0) await killedSyncs(await freshDatabase(), db);
  if (EXPLAIN_ROWS > 0) await explainAtScale(await freshDatabase());
} finally {
  await admin.sql.unsafe(`DROP ROLE IF EXISTS bench_site`).catch(() => {});
  await admin.close();
  await Deno.remove(work, { recursive: true }).catch(() => {});
}

/**
 * The fault run: `sync` of the whole backlog killed with SIGKILL at random moments, `KILLS`
 * times, then run to the end; prints the central count after each kill and checks that every
 * event is there once and every chain intact.
 */
async function killedSyncs(central: { name: string; adminUrl: string }, db: string) {
  await run(cli("central", "init", "--central", central.adminUrl));
  const target = await connectCentral(central.adminUrl);
  const counted = async () => {
    const [row] = await target.sql.unsafe(
      "SELECT count(*)::int AS n, count(DISTINCT audit_id)::int AS d FROM audit_trail_events",
    );
    return row as unknown as { n: number; d: number };
  };
  try {
    const seen: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      const child = new Deno.Command(cli()[0], {
        args: [...cli("sync", "--central", central.adminUrl, "--site", "BENCH", "--db", db)]
          .slice(1),
        stdout: "null",
        stderr: "null",
      }).spawn();
      // Well inside a whole sync (about 4 s here), so that each kill lands mid-way.
      await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 600));
      try {
        child.kill("SIGKILL");
      } catch {
        // It finished first.
      }
      await child.status;
      seen.push((await counted()).n);
    }
    const last = JSON.parse(
      (await run(cli("sync", "--central", central.adminUrl, "--db", db))).stdout,
    );
    const { n, d } = await counted();
    const local = new DatabaseSync(db, { readOnly: true });
    const expected = local.prepare("SELECT count(*) AS n FROM audit_log").get()!.n as number;
    local.close();
    const verified = await new Deno.Command(cli()[0], {
      args: cli("verify", "--central", central.adminUrl).slice(1),
      stdout: "null",
      stderr: "null",
    }).output();
    log(
      `\nfault run: ${KILLS} syncs killed with SIGKILL at random moments of a ${EVENTS}-event backlog; central count after each: ${
        seen.join(", ")
      }; the final sync sent ${last.sent}; stored ${n} rows, ${d} distinct ids (expected ${expected} and ${expected}); verify --central exit ${verified.code}; load average ${loadAverage()}`,
    );
  } finally {
    await target.close();
    await dropLater(central.name);
  }
}

async function dropLater(name: string) {
  await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/**
 * Fills a central table with `EXPLAIN_ROWS` generated rows (20 sites, a year of timestamps,
 * skewed SKUs) with the chain trigger off, then prints the plan of every filter.
 */
async function explainAtScale(central: { name: string; adminUrl: string }) {
  await run(cli("central", "init", "--central", central.adminUrl));
  const target = await connectCentral(central.adminUrl);
  try {
    const started = performance.now();
    await target.sql.unsafe(
      `ALTER TABLE audit_trail_events DISABLE TRIGGER audit_trail_events_chain`,
    );
    const chunk = 1_000_000;
    for (let from = 1; from <= EXPLAIN_ROWS; from += chunk) {
      const to = Math.min(EXPLAIN_ROWS, from + chunk - 1);
      await target.sql.unsafe(generatedEventsSql(from, to));
    }
    await target.sql.unsafe(
      `ALTER TABLE audit_trail_events ENABLE TRIGGER audit_trail_events_chain`,
    );
    await target.sql.unsafe(`ANALYZE audit_trail_events`);
    log(
      `\ncentral table of ${EXPLAIN_ROWS} rows filled in ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s; plans of query --central (limit 100):`,
    );
    const filters: [string, CentralFilter][] = [
      ["(no filter)", {}],
      ["--sku SKU-04321", { sku: "SKU-04321" }],
      ["--operation SKU_CREATED", { operation: "SKU_CREATED" }],
      ["--run-id run_4242", { runId: "run_4242" }],
      ["--user user7", { user: "user7" }],
      ["--since/--until one day", { since: "2025-03-01", until: "2025-03-01" }],
      ["--site WH-7", { site: "WH-7" }],
      ["--site WH-7 --after-id 400000 --order asc", {
        site: "WH-7",
        afterId: 400000,
        order: "asc",
      }],
      ["--sku SKU-00001 --since 2025-06-01", { sku: "SKU-00001", since: "2025-06-01" }],
      ["--contains ORD-4242", { contains: "ORD-4242" }],
    ];
    for (const [label, filter] of filters) {
      const plan = await explainCentralQuery(target, filter);
      const verdict = /Seq Scan/.test(plan) ? "SEQUENTIAL SCAN" : "from indexes";
      log(`\n${label}: ${verdict}\n${plan.split("\n").map((l) => `    ${l}`).join("\n")}`);
    }
  } finally {
    await target.close();
    await dropLater(central.name);
  }
}
