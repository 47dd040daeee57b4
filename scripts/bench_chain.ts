/**
 * What the hash chain costs: `verify` of a large log, bulk ingest with and without the chain
 * (in the same run, alternating), the latency of a single logged event with and without it,
 * and sealing an adopted log as migration 003 does.
 *
 * `deno task bench` (scripts/bench.ts) calls the parts on its own event set and database and
 * prints them in its table. Run alone for these figures only:
 *
 *     deno run --allow-all scripts/bench_chain.ts [--events N] [--rounds N] [--json]
 *
 * "Without the chain" is the same library call on a database at schema version 2 (no seals,
 * no append-only triggers): everything else, from NDJSON parsing to the final copy, is the
 * same code.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CHAIN_SCHEMA_VERSION, sealExistingEvents } from "../lib/chain/seal.ts";
import { checkEvent } from "../lib/events.ts";
import {
  type AuditDatabase,
  logAuditEvent,
  migrate,
  type NewAuditEvent,
  openDatabase,
  verifyChain,
} from "../mod.ts";
import { writeTransaction } from "../lib/db.ts";
import { logNumberedEvents } from "../lib/bulk_append.ts";
import { MIGRATIONS } from "../lib/migrate.ts";
import { readNdjson } from "../lib/ndjson.ts";
import { writeEventFiles } from "./bench_data.ts";
import { formatLoad, loadAverage, run } from "./bench_run.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

/** Bulk ingest of the same input with and without the chain, in milliseconds. */
export interface ChainIngestResult {
  events: number;
  /** Medians of the rounds. */
  with_chain_ms: number;
  without_chain_ms: number;
  /** with / without; the budget is 1.25. */
  ratio: number;
  /** What the chain adds to each event, in microseconds: (with - without) / events. */
  chain_us_per_event: number;
  /** The load average before the first round and after the last. */
  load: (number | null)[];
  /** Every round's time, in the order run. */
  samples: { with_chain_ms: number[]; without_chain_ms: number[] };
}

/** `verify` of every event of a database, in milliseconds. */
export interface VerifyBenchResult {
  events: number;
  /** `audit-trail verify` as a process, start-up included. */
  cli_ms: number;
  /** Its peak memory in KiB, where GNU time is installed. */
  cli_rss_kb: number | null;
  /** `verifyChain()` in this process. */
  library_ms: number;
}

/** One `logAuditEvent()` (one durable transaction), median in microseconds. */
export interface SingleLogResult {
  with_chain_us: number;
  without_chain_us: number;
  /** with / without. */
  ratio: number;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");

/**
 * Ingests the NDJSON file `input` (`events` lines) `rounds` times into fresh databases with
 * and without the chain, alternating, through the library call `log --stdin` makes.
 */
export async function benchChainIngest(
  input: string,
  events: number,
  dir: string,
  rounds = 3,
): Promise<ChainIngestResult> {
  const withMs: number[] = [];
  const withoutMs: number[] = [];
  const loadBefore = loadAverage();
  for (let round = 0; round < rounds; round++) {
    // Alternate, so that a slower moment of a shared machine hits both sides alike.
    withoutMs.push(await timedIngest(join(dir, "chain_bench_plain.db"), input, events, false));
    withMs.push(await timedIngest(join(dir, "chain_bench_sealed.db"), input, events, true));
  }
  const withChain = median(withMs);
  const withoutChain = median(withoutMs);
  return {
    events,
    with_chain_ms: withChain,
    without_chain_ms: withoutChain,
    ratio: Math.round(withChain / withoutChain * 1000) / 1000,
    chain_us_per_event: Math.round((withChain - withoutChain) / events * 1000 * 100) / 100,
    load: [loadBefore, loadAverage()],
    samples: { with_chain_ms: withMs, without_chain_ms: withoutMs },
  };
}

/** `verify` of the database at `path`, which holds `events` events, as a process and in-process. */
export async function benchVerify(path: string, events: number): Promise<VerifyBenchResult> {
  const cli = await run([
    Deno.execPath(),
    "run",
    "--quiet",
    ...RUNTIME_FLAGS,
    CLI,
    "verify",
    "--db",
    path,
    "--format",
    "json",
  ]);
  if (JSON.parse(cli.stdout).events_checked !== events) {
    throw new Error(`verify checked ${JSON.parse(cli.stdout).events_checked} events`);
  }
  const start = performance.now();
  {
    using db = openDatabase(path);
    const result = await verifyChain(db);
    if (!result.intact || result.events_checked !== events) throw new Error("verify failed");
  }
  return {
    events,
    cli_ms: Math.round(cli.ms),
    cli_rss_kb: cli.rssKb,
    library_ms: Math.round(performance.now() - start),
  };
}

/**
 * Logs `count` single events on each side, taking turns, and returns the medians. The side
 * without the chain does what `logAuditEvent()` does without it (check the event, insert it,
 * commit durably): called on a database without the chain, `logAuditEvent()` itself would
 * also pay for finding out that there is none, a failed statement per event.
 */
export function benchSingleLog(dir: string, count = 200): SingleLogResult {
  using sealed = freshDatabase(join(dir, "single_sealed.db"), true);
  using plain = freshDatabase(join(dir, "single_plain.db"), false);
  const times = { sealed: [] as number[], plain: [] as number[] };
  const sides = {
    sealed: (event: NewAuditEvent) => logAuditEvent(sealed, event),
    plain: (event: NewAuditEvent) => {
      const valid = checkEvent(event, {}, (problem) => new Error(problem));
      writeTransaction(plain, () =>
        plain.statement(
          `INSERT INTO audit_log (audit_id, timestamp, operation, sku, details, user, run_id)
           VALUES (NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?, ?)
           RETURNING audit_id, timestamp`,
        ).get(valid.operation, valid.sku, valid.details, valid.user, valid.run_id));
    },
  };
  for (let i = 0; i < count; i++) {
    // Which side goes first changes every time: a commit right after another one may wait
    // for the disk differently.
    const order = i % 2 ? ["plain", "sealed"] as const : ["sealed", "plain"] as const;
    for (const side of order) {
      const start = performance.now();
      sides[side]({ operation: "STOCK_COUNT", sku: `SKU-${i}`, details: "counted" });
      times[side].push(performance.now() - start);
    }
  }
  const withChain = Math.round(median(times.sealed) * 1000);
  const withoutChain = Math.round(median(times.plain) * 1000);
  return {
    with_chain_us: withChain,
    without_chain_us: withoutChain,
    ratio: Math.round(withChain / withoutChain * 1000) / 1000,
  };
}

/**
 * Fills a log with `count` events in SQL, then seals them as migration 003 does for an
 * adopted log, and returns how long sealing took in milliseconds.
 */
export function benchSealExisting(path: string, count: number): number {
  using db = freshDatabase(path, true);
  db.sqlite.exec(`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
    INSERT INTO audit_log (audit_id, timestamp, operation, sku, details, user, run_id)
    SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', (i - ${count}) || ' seconds'),
      CASE WHEN i % 5 THEN 'ORDER_CONFIRMED' ELSE 'STOCK_ADJUSTED' END,
      'SKU-' || (1000 + i % 5000), 'Order ORD-' || (100000 + i) || ': ' || (1 + i % 90) || ' units',
      CASE WHEN i % 7 THEN 'clerk' ELSE 'night-shift' END,
      CASE WHEN i % 3 = 0 THEN 'run_20260216_143005_a1b2c3d4' END
    FROM n`);
  const start = performance.now();
  writeTransaction(db, () => sealExistingEvents(db));
  return Math.round(performance.now() - start);
}

/** A database at the latest schema, or at the last one before the chain. */
function freshDatabase(path: string, chain: boolean): AuditDatabase {
  const db = openDatabase(path, { create: true });
  if (chain) {
    migrate(db);
  } else {
    db.sqlite.exec("PRAGMA journal_mode = WAL");
    for (const m of MIGRATIONS) if (m.version < CHAIN_SCHEMA_VERSION) db.sqlite.exec(m.sql);
  }
  return db;
}

async function timedIngest(
  path: string,
  input: string,
  expected: number,
  chain: boolean,
): Promise<number> {
  try {
    using db = freshDatabase(path, chain);
    using file = await Deno.open(input);
    const start = performance.now();
    const result = await logNumberedEvents(db, readNdjson(file.readable), { user: "bench" });
    const ms = performance.now() - start;
    if (result.inserted !== expected) throw new Error(`ingest stored ${result.inserted}`);
    return Math.round(ms);
  } finally {
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(path + suffix).catch(() => {});
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string", default: "1000000" },
      rounds: { type: "string", default: "3" },
      json: { type: "boolean" },
    },
  });
  const events = Number(values.events);
  const dir = await Deno.makeTempDir({ prefix: "audit-trail-bench-chain-" });
  try {
    const input = join(dir, "events.ndjson");
    await writeEventFiles(events, input);
    const ingest = await benchChainIngest(input, events, dir, Number(values.rounds));
    const single = benchSingleLog(dir);
    const big = join(dir, "big.db");
    const sealMs = benchSealExisting(big, events);
    const verify = await benchVerify(big, events);
    const result = { ingest, single_log: single, verify, seal_existing_ms: sealMs };
    const n = events.toLocaleString("en-US");
    const text = values.json ? JSON.stringify(result, null, 2) : [
      `verify ${n} events: ${verify.cli_ms} ms (CLI), ${verify.library_ms} ms (library); sealing them: ${sealMs} ms`,
      `bulk ingest ${n} events: ${ingest.with_chain_ms} ms with the chain, ${ingest.without_chain_ms} ms without (x${ingest.ratio}, ${ingest.chain_us_per_event} us an event for the chain; load ${
        formatLoad(ingest.load)
      })`,
      `single log (library, durable commit): ${single.with_chain_us} us with the chain, ${single.without_chain_us} us without`,
    ].join("\n");
    await Deno.stdout.write(new TextEncoder().encode(text + "\n"));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
