/**
 * Bulk ingest, measured three ways, each beside its peer in the same run with the load
 * average of the machine at each step:
 *
 * - `log --stdin` against the `sqlite3` shell's `.import` of the same events as CSV into the
 *   same schema (rounds in turns, fresh databases);
 * - single `log` processes started every 0.3 s while a `log --stdin` ingest runs: how many
 *   were started, how many succeeded, how long they took (every one must succeed, and the
 *   ingest must store every line);
 * - what `recursive_triggers` (on in every connection the tool opens, so that INSERT OR
 *   REPLACE cannot bypass the append-only triggers) costs the ingest: the same library call
 *   with it on and off, in turns.
 *
 * `deno task bench` can call the parts; run alone:
 *
 *     deno run --allow-all scripts/bench_ingest.ts [--events N] [--rounds N] [--only NAME]
 *       [--cold] [--json]
 *
 * NAME is `import`, `writers` or `triggers`; `--cold` drops each side's input from the page
 * cache before it runs (Linux).
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { openDatabase } from "../mod.ts";
import { logNumberedEvents } from "../lib/bulk_append.ts";
import { readNdjson } from "../lib/ndjson.ts";
import { writeEventFiles } from "./bench_data.ts";
import { run } from "./bench_run.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
const cli = (
  ...args: string[]
) => [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, CLI, ...args];

/** The 1-minute load average (Linux), or null where it cannot be read. */
export function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

/** `log --stdin` against `sqlite3 .import`, in milliseconds. */
export interface ImportRatioResult {
  events: number;
  /** Medians of the rounds. */
  ours_ms: number;
  peer_ms: number;
  /** ours / peer; the target is 1.2. */
  ratio: number;
  /**
   * Medians of the processor time (user + system) each side used, where GNU time is
   * installed: on a busy machine wall time mostly says how long a process waited for a
   * processor, this what it asked of one.
   */
  ours_cpu_ms: number | null;
  peer_cpu_ms: number | null;
  cpu_ratio: number | null;
  /** Every round in the order run, with the load average before it. */
  rounds: {
    ours_ms: number;
    peer_ms: number;
    ratio: number;
    ours_cpu_ms: number | null;
    peer_cpu_ms: number | null;
    load: number | null;
  }[];
  ours_rss_kb: number | null;
}

/** What one process cost: wall time, processor time (user + system) and peak memory. */
interface Cost {
  ms: number;
  cpuMs: number | null;
  rssKb: number | null;
  stdout: string;
}

/**
 * Runs `command` with `stdinFile` as its input, under GNU time where it is installed (for
 * processor time and peak memory). Throws, with its stderr, when it fails.
 */
async function measure(command: string[], stdinFile: string): Promise<Cost> {
  const report = await Deno.makeTempFile({ prefix: "audit-trail-bench-time-" });
  try {
    const gnuTime = await new Deno.Command("/usr/bin/time", { args: ["-f", "%U", "true"] })
      .output().then((o) => o.success, () => false);
    const argv = gnuTime ? ["/usr/bin/time", "-f", "%U %S %M", "-o", report, ...command] : command;
    using input = await Deno.open(stdinFile);
    const start = performance.now();
    const child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    await input.readable.pipeTo(child.stdin);
    const output = await child.output();
    const ms = performance.now() - start;
    if (!output.success) {
      throw new Error(`${command.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    const [user, system, rss] = gnuTime
      ? (await Deno.readTextFile(report)).trim().split("\n").pop()!.split(" ").map(Number)
      : [NaN, NaN, NaN];
    return {
      ms,
      cpuMs: Number.isFinite(user + system) ? Math.round((user + system) * 1000) : null,
      rssKb: Number.isFinite(rss) ? rss : null,
      stdout: new TextDecoder().decode(output.stdout),
    };
  } finally {
    await Deno.remove(report).catch(() => {});
  }
}

/**
 * Ingests `ndjson` with `log --stdin` and `csv` with the `sqlite3` shell's `.import` (then one
 * `INSERT … SELECT` into `audit_log`, durable like ours), each into a fresh copy of the
 * migrated database `template`, taking turns; who goes first changes every round.
 */
export async function benchImportRatio(
  template: string,
  ndjson: string,
  csv: string,
  events: number,
  dir: string,
  rounds = 3,
  cold = false,
): Promise<ImportRatioResult> {
  const script = join(dir, "import.sql");
  await Deno.writeTextFile(
    script,
    `PRAGMA synchronous = FULL;
CREATE TEMP TABLE staging (operation, sku, details, user, run_id);
.import --csv --skip 1 --schema temp '${csv}' staging
BEGIN IMMEDIATE;
INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id)
  SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), operation, nullif(sku, ''), details, user,
    nullif(run_id, '')
  FROM temp.staging;
COMMIT;
`,
  );
  const result: ImportRatioResult["rounds"] = [];
  let rss: number | null = null;
  for (let round = 0; round < rounds; round++) {
    const load = loadAverage();
    const costs: Record<string, Cost> = {};
    const sides = round % 2 ? ["peer", "ours"] : ["ours", "peer"];
    for (const side of sides) {
      const db = join(dir, `${side}.db`);
      await Deno.copyFile(template, db);
      if (cold) await evictFromPageCache(side === "ours" ? ndjson : csv, db);
      if (side === "ours") {
        costs.ours = await measure(cli("log", "--stdin", "--db", db), ndjson);
        if (JSON.parse(costs.ours.stdout).inserted !== events) throw new Error("ingest incomplete");
        rss = Math.max(rss ?? 0, costs.ours.rssKb ?? 0) || null;
      } else {
        costs.peer = await measure(["sqlite3", db], script);
      }
      await removeDatabase(db);
    }
    result.push({
      ours_ms: Math.round(costs.ours.ms),
      peer_ms: Math.round(costs.peer.ms),
      ratio: round3(costs.ours.ms / costs.peer.ms),
      ours_cpu_ms: costs.ours.cpuMs,
      peer_cpu_ms: costs.peer.cpuMs,
      load,
    });
  }
  const ours = median(result.map((r) => r.ours_ms));
  const peer = median(result.map((r) => r.peer_ms));
  const cpu = (side: "ours_cpu_ms" | "peer_cpu_ms") =>
    result.every((r) => r[side] !== null) ? median(result.map((r) => r[side]!)) : null;
  const oursCpu = cpu("ours_cpu_ms");
  const peerCpu = cpu("peer_cpu_ms");
  return {
    events,
    ours_ms: ours,
    peer_ms: peer,
    ratio: round3(ours / peer),
    ours_cpu_ms: oursCpu,
    peer_cpu_ms: peerCpu,
    cpu_ratio: oursCpu !== null && peerCpu !== null ? round3(oursCpu / peerCpu) : null,
    rounds: result,
    ours_rss_kb: rss,
  };
}

/** Single `log` processes started during a bulk ingest. */
export interface WritersDuringIngestResult {
  events: number;
  ingest_ms: number;
  /** Whether the ingest stored every line, as one block of consecutive ids. */
  ingest_complete: boolean;
  singles_started: number;
  singles_succeeded: number;
  singles_failed: number;
  /** Of those started while the ingest ran. */
  singles_during_ingest: number;
  /** Longest and median time of a single `log` process, start to exit. */
  single_max_ms: number;
  single_median_ms: number;
  load_before: number | null;
  load_after: number | null;
  /** The first failure's stderr, if any. */
  first_failure?: string;
}

/**
 * Starts `log --stdin` of `ndjson` into a copy of `template`, and a single `log` every
 * `intervalMs` until it has finished; counts what succeeded.
 */
export async function benchWritersDuringIngest(
  template: string,
  ndjson: string,
  events: number,
  dir: string,
  intervalMs = 300,
): Promise<WritersDuringIngestResult> {
  const db = join(dir, "writers.db");
  await Deno.copyFile(template, db);
  const loadBefore = loadAverage();
  try {
    const started = performance.now();
    const ingest = new Deno.Command(cli()[0], {
      args: [...cli("log", "--stdin", "--db", db).slice(1)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const fed = (async () => {
      using file = await Deno.open(ndjson);
      await file.readable.pipeTo(ingest.stdin);
    })();
    let ingestMs = 0;
    const ingestDone = ingest.output().then((output) => {
      ingestMs = performance.now() - started;
      return output;
    });
    let finished = false;
    ingestDone.finally(() => finished = true);
    const singles: Promise<{ ok: boolean; ms: number; during: boolean; stderr: string }>[] = [];
    while (!finished) {
      const begun = performance.now();
      const during = !finished;
      singles.push(
        new Deno.Command(cli()[0], {
          args: cli("log", "PICKED", "--sku", `SKU-${singles.length}`, "--db", db).slice(1),
          stdout: "piped",
          stderr: "piped",
        }).output().then((output) => ({
          ok: output.code === 0 && /^\d+\n$/.test(new TextDecoder().decode(output.stdout)),
          ms: performance.now() - begun,
          during,
          stderr: new TextDecoder().decode(output.stderr),
        })),
      );
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
    const output = await ingestDone;
    await fed;
    const results = await Promise.all(singles);
    let complete = false;
    if (output.code === 0) {
      const summary = JSON.parse(new TextDecoder().decode(output.stdout));
      complete = summary.inserted === events &&
        summary.last_audit_id - summary.first_audit_id + 1 === events;
    }
    const failures = results.filter((r) => !r.ok);
    const times = results.map((r) => r.ms);
    return {
      events,
      ingest_ms: Math.round(ingestMs),
      ingest_complete: complete,
      singles_started: results.length,
      singles_succeeded: results.length - failures.length,
      singles_failed: failures.length,
      singles_during_ingest: results.filter((r) => r.during).length,
      single_max_ms: Math.round(Math.max(...times)),
      single_median_ms: Math.round(median(times)),
      load_before: loadBefore,
      load_after: loadAverage(),
      ...(failures.length ? { first_failure: failures[0].stderr.trim() } : {}),
    };
  } finally {
    await removeDatabase(db);
  }
}

/** The library ingest with `recursive_triggers` on (as the tool runs) and off. */
export interface TriggerCostResult {
  events: number;
  /** Medians of wall time. */
  on_ms: number;
  off_ms: number;
  /** on / off. */
  ratio: number;
  /** Medians of this process's processor time (user + system) during the ingest. */
  on_cpu_ms: number;
  off_cpu_ms: number;
  cpu_ratio: number;
  samples: { on_ms: number[]; off_ms: number[]; on_cpu_ms: number[]; off_cpu_ms: number[] };
  load_before: number | null;
}

/**
 * Ingests `ndjson` through `logNumberedEvents()` into copies of `template`, `rounds` times
 * with `recursive_triggers` on and off, in turns.
 */
export async function benchRecursiveTriggers(
  template: string,
  ndjson: string,
  events: number,
  dir: string,
  rounds = 3,
): Promise<TriggerCostResult> {
  const samples = {
    on_ms: [] as number[],
    off_ms: [] as number[],
    on_cpu_ms: [] as number[],
    off_cpu_ms: [] as number[],
  };
  const loadBefore = loadAverage();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [false, true] : [true, false];
    for (const on of order) {
      const path = join(dir, "triggers.db");
      await Deno.copyFile(template, path);
      try {
        using db = openDatabase(path);
        if (!on) db.sqlite.exec("PRAGMA recursive_triggers = OFF");
        using file = await Deno.open(ndjson);
        const start = performance.now();
        const cpuStart = processorMs();
        const result = await logNumberedEvents(db, readNdjson(file), { user: "bench" });
        const cpu = Math.round(processorMs() - cpuStart);
        const ms = Math.round(performance.now() - start);
        if (result.inserted !== events) throw new Error(`ingest stored ${result.inserted}`);
        (on ? samples.on_ms : samples.off_ms).push(ms);
        (on ? samples.on_cpu_ms : samples.off_cpu_ms).push(cpu);
      } finally {
        await removeDatabase(path);
      }
    }
  }
  const on = median(samples.on_ms);
  const off = median(samples.off_ms);
  const onCpu = median(samples.on_cpu_ms);
  const offCpu = median(samples.off_cpu_ms);
  return {
    events,
    on_ms: on,
    off_ms: off,
    ratio: round3(on / off),
    on_cpu_ms: onCpu,
    off_cpu_ms: offCpu,
    cpu_ratio: round3(onCpu / offCpu),
    samples,
    load_before: loadBefore,
  };
}

/**
 * Drops files from the operating system's page cache (Linux: written out with `sync`, then
 * dropped by GNU dd's `nocache`), as for input that was not just written or read. No root
 * needed; elsewhere, or without those tools, the files simply stay cached.
 */
export async function evictFromPageCache(...paths: string[]): Promise<void> {
  for (const path of paths) {
    for (
      const args of [["sync", path], [
        "dd",
        `if=${path}`,
        "iflag=nocache",
        "count=0",
        "status=none",
      ]]
    ) {
      await new Deno.Command(args[0], { args: args.slice(1), stdout: "null", stderr: "null" })
        .output().catch(() => {});
    }
  }
}

/** Processor time this process has used (user + system), in milliseconds. */
function processorMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function removeDatabase(path: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm", "-ingest"]) {
    await Deno.remove(path + suffix).catch(() => {});
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string", default: "1000000" },
      rounds: { type: "string", default: "3" },
      only: { type: "string" },
      cold: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  const events = Number(values.events);
  const rounds = Number(values.rounds);
  const wanted = (name: string) => values.only === undefined || values.only === name;
  const dir = await Deno.makeTempDir({ prefix: "audit-trail-bench-ingest-" });
  const lines: string[] = [];
  const say = (text: string) => {
    lines.push(text);
    if (!values.json) Deno.stderr.writeSync(new TextEncoder().encode(text + "\n"));
  };
  try {
    const ndjson = join(dir, "events.ndjson");
    const csv = join(dir, "events.csv");
    await writeEventFiles(events, ndjson, csv);
    const template = join(dir, "template.db");
    await run(cli("migrate", "--db", template));
    const n = events.toLocaleString("en-US");
    const result: Record<string, unknown> = {};
    if (wanted("writers")) {
      const w = await benchWritersDuringIngest(template, ndjson, events, dir);
      result.writers = w;
      say(
        `writers during a ${n}-event log --stdin (${(w.ingest_ms / 1000).toFixed(1)} s, ${
          w.ingest_complete ? "complete" : "INCOMPLETE"
        }): ${w.singles_succeeded} of ${w.singles_started} single logs succeeded (${w.singles_during_ingest} started during it), ${w.singles_failed} failed; longest ${w.single_max_ms} ms, median ${w.single_median_ms} ms; load ${w.load_before} -> ${w.load_after}`,
      );
      if (w.first_failure) say(`  first failure: ${w.first_failure}`);
    }
    if (wanted("import")) {
      const r = await benchImportRatio(template, ndjson, csv, events, dir, rounds, values.cold);
      result.import = r;
      say(
        `bulk ingest ${n} events${
          values.cold ? " (input not in the page cache)" : ""
        }: log --stdin ${r.ours_ms} ms vs sqlite3 .import ${r.peer_ms} ms (x${r.ratio}, median of ${rounds}); processor time ${r.ours_cpu_ms} ms vs ${r.peer_cpu_ms} ms (x${r.cpu_ratio}); rounds: ${
          r.rounds.map((x) => `x${x.ratio} at load ${x.load}`).join(", ")
        }; peak ${r.ours_rss_kb === null ? "?" : Math.round(r.ours_rss_kb / 1024)} MB`,
      );
    }
    if (wanted("triggers")) {
      const t = await benchRecursiveTriggers(template, ndjson, events, dir, rounds);
      result.triggers = t;
      say(
        `recursive_triggers on the ingest of ${n} events: ${t.on_ms} ms on, ${t.off_ms} ms off (x${t.ratio}); processor time ${t.on_cpu_ms} ms on, ${t.off_cpu_ms} ms off (x${t.cpu_ratio}; on ${
          t.samples.on_cpu_ms.join("/")
        }, off ${t.samples.off_cpu_ms.join("/")}); load before ${t.load_before}`,
      );
    }
    if (values.json) {
      await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(result, null, 2) + "\n"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
