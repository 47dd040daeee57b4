/**
 * What the hash chain costs: `verify` of a large log, bulk ingest with and without the chain
 * (in the same run, alternating), and the latency of a single logged event.
 *
 * Run alone (`deno run --allow-all scripts/bench_chain.ts [--events N] [--ingest N]
 * [--rounds N] [--json]`) or import {@linkcode benchChain} from another benchmark.
 *
 * "Without the chain" is the same library call on a database at schema version 2 (no seals,
 * no append-only triggers): everything else, from NDJSON parsing to the final copy, is the
 * same code.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CHAIN_SCHEMA_VERSION, sealExistingEvents } from "../lib/chain.ts";
import {
  type AuditDatabase,
  logAuditEvent,
  logNumberedEvents,
  migrate,
  MIGRATIONS,
  openDatabase,
  readNdjson,
  verifyChain,
  writeTransaction,
} from "../mod.ts";
import { PERMISSION_FLAGS } from "./permissions.ts";

/** Sizes of {@linkcode benchChain}'s workloads. */
export interface ChainBenchOptions {
  /** Events in the log that `verify` checks (default 1,000,000). */
  events?: number;
  /** Events per bulk ingest (default 1,000,000, the size `deno task bench` uses). */
  ingest?: number;
  /** Ingest rounds per side, alternating; the median is reported (default 3). */
  rounds?: number;
  /** Single events logged per side for the latency figure (default 200). */
  singles?: number;
  /** Where to put the databases (default: a new temporary folder, removed afterwards). */
  dir?: string;
}

/** The figures, in milliseconds unless named otherwise. */
export interface ChainBenchResult {
  verify: {
    events: number;
    /** `audit-trail verify` as a process, start-up included. */
    cli_ms: number;
    /** `verifyChain()` in this process. */
    library_ms: number;
    /** Sealing that many existing events, as migration 003 does for an adopted log. */
    seal_ms: number;
  };
  ingest: {
    events: number;
    with_chain_ms: number;
    without_chain_ms: number;
    /** with / without; the budget is 1.25. */
    ratio: number;
  };
  single_log: {
    /** Median `logAuditEvent()` (one durable transaction), microseconds. */
    with_chain_us: number;
    without_chain_us: number;
  };
}

const CLI = new URL("../cli.ts", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");

/** Runs the three measurements and returns their figures. */
export async function benchChain(options: ChainBenchOptions = {}): Promise<ChainBenchResult> {
  const events = options.events ?? 1_000_000;
  const ingest = options.ingest ?? 1_000_000;
  const rounds = options.rounds ?? 3;
  const singles = options.singles ?? 200;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "audit-trail-bench-chain-" });
  try {
    const input = join(dir, "events.ndjson");
    await Deno.writeTextFile(input, ndjsonEvents(ingest));
    const withMs: number[] = [];
    const withoutMs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate, so that a slower moment of a shared machine hits both sides alike.
      withoutMs.push(await timedIngest(join(dir, `plain_${round}.db`), input, ingest, false));
      withMs.push(await timedIngest(join(dir, `chain_${round}.db`), input, ingest, true));
    }
    const single = {
      without_chain_us: singleLatency(join(dir, "single_plain.db"), false, singles),
      with_chain_us: singleLatency(join(dir, "single_chain.db"), true, singles),
    };

    const big = join(dir, "big.db");
    const sealMs = buildLargeLog(big, events);
    const cliMs = await timedCliVerify(big, events);
    const start = performance.now();
    {
      using db = openDatabase(big);
      const result = await verifyChain(db);
      if (!result.intact || result.events_checked !== events) throw new Error("verify failed");
    }
    const libraryMs = Math.round(performance.now() - start);
    const withChain = median(withMs);
    const withoutChain = median(withoutMs);
    return {
      verify: { events, cli_ms: cliMs, library_ms: libraryMs, seal_ms: sealMs },
      ingest: {
        events: ingest,
        with_chain_ms: withChain,
        without_chain_ms: withoutChain,
        ratio: Math.round(withChain / withoutChain * 1000) / 1000,
      },
      single_log: single,
    };
  } finally {
    if (!options.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function ndjsonEvents(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(JSON.stringify({
      operation: i % 5 ? "ORDER_CONFIRMED" : "STOCK_ADJUSTED",
      sku: `SKU-${1000 + i % 5000}`,
      details: `Order ORD-${100000 + i}: ${1 + i % 90} units`,
      ...(i % 3 ? {} : { run_id: "run_20260216_143005_a1b2c3d4" }),
    }));
  }
  return lines.join("\n") + "\n";
}

/** A database at the latest schema, or at the last one before the chain. */
function freshDatabase(path: string, chain: boolean): AuditDatabase {
  // The page cache `log --stdin` asks for.
  const db = openDatabase(path, { create: true, cacheMiB: 32 });
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
  using db = freshDatabase(path, chain);
  const file = await Deno.open(input);
  const start = performance.now();
  const result = await logNumberedEvents(db, readNdjson(file.readable), { user: "bench" });
  const ms = performance.now() - start;
  if (result.inserted !== expected) throw new Error(`ingest stored ${result.inserted}`);
  return Math.round(ms);
}

function singleLatency(path: string, chain: boolean, count: number): number {
  using db = freshDatabase(path, chain);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    logAuditEvent(db, { operation: "STOCK_COUNT", sku: `SKU-${i}`, details: "counted" });
    times.push(performance.now() - start);
  }
  return Math.round(median(times) * 1000);
}

/** Fills a log with `count` events in SQL, then seals them as migration 003 would. */
function buildLargeLog(path: string, count: number): number {
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
  return timed(() => writeTransaction(db, () => sealExistingEvents(db)));
}

async function timedCliVerify(path: string, events: number): Promise<number> {
  const start = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMISSION_FLAGS, CLI, "verify", "--db", path, "--format", "json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = Math.round(performance.now() - start);
  const report = JSON.parse(new TextDecoder().decode(output.stdout));
  if (output.code !== 0 || report.events_checked !== events) {
    throw new Error(`verify failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return ms;
}

function timed(work: () => unknown): number {
  const start = performance.now();
  work();
  return Math.round(performance.now() - start);
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
      events: { type: "string" },
      ingest: { type: "string" },
      rounds: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const number = (text: string | undefined) => text === undefined ? undefined : Number(text);
  const result = await benchChain({
    events: number(values.events),
    ingest: number(values.ingest),
    rounds: number(values.rounds),
  });
  const print = (text: string) => Deno.stdout.write(new TextEncoder().encode(text + "\n"));
  if (values.json) {
    await print(JSON.stringify(result, null, 2));
  } else {
    const { verify, ingest, single_log: single } = result;
    await print(
      [
        `verify ${
          verify.events.toLocaleString("en-US")
        } events: ${verify.cli_ms} ms (CLI), ${verify.library_ms} ms (library); sealing them: ${verify.seal_ms} ms`,
        `bulk ingest ${
          ingest.events.toLocaleString("en-US")
        } events: ${ingest.with_chain_ms} ms with the chain, ${ingest.without_chain_ms} ms without (x${ingest.ratio})`,
        `single log (library, durable commit): ${single.with_chain_us} us with the chain, ${single.without_chain_us} us without`,
      ].join("\n"),
    );
  }
}
