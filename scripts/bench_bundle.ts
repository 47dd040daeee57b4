/**
 * `bundle --compress` beside its peer, `sqlite3 .backup` followed by `zip -6`, on the same
 * database a moment apart, the two sides taking turns going first. The database holds the
 * benchmark's event set (scripts/bench_data.ts: every event with a user and one of 1,000 run
 * ids), the harder case for the bundle's checks and compression. The load average is printed
 * beside the figure: the bundle runs several threads, so a busy machine is part of what is
 * measured, not an excuse.
 *
 * With `--cold`, the database file is dropped from the page cache before every run of either
 * side (`dd iflag=nocache`, this file only), as on a PC where the database was not read
 * lately; by default it is warm, as while the inventory application runs.
 *
 * Alone (`deno run --allow-all scripts/bench_bundle.ts`):
 *
 *     deno run -A scripts/bench_bundle.ts                    # 1,000,000 events, 3 rounds
 *     deno run -A scripts/bench_bundle.ts --db ours.db --runs 5 --cold
 *
 * From `deno task bench`: its exported `cases` take the place of bench.ts's own `bundle` case
 * (`deno task bench --only bundle` runs it alone there), on the database bench.ts built, warm:
 * support staff make a bundle while the inventory application runs.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";
import { writeEventFiles } from "./bench_data.ts";
import {
  type BenchCase,
  bundlePeerCommand,
  fmtMs,
  type Measured,
  round,
  run,
  type RunResult,
  skipped,
  succeeds,
  summarize,
} from "./bench_run.ts";

/** A run with the processor time it used (user + system, all threads), by GNU time. */
interface CpuRun extends RunResult {
  cpuMs: number | null;
}

/**
 * Runs `command` as bench_run.ts's `run` does, and adds its processor time: on a busy machine
 * the wall time follows the processor time each side needs, which says why a ratio moves.
 */
async function runWithCpu(command: string[]): Promise<CpuRun> {
  const cpuFile = await Deno.makeTempFile({ prefix: "audit-trail-bench-cpu-" });
  try {
    const timed = await succeeds(["/usr/bin/time", "-f", "%U", "true"]);
    const result = await run(
      timed ? ["/usr/bin/time", "-f", "%U %S", "-o", cpuFile, ...command] : command,
    );
    const [user, system] = timed
      ? (await Deno.readTextFile(cpuFile)).trim().split("\n").pop()!.split(" ").map(Number)
      : [NaN, NaN];
    const cpu = (user + system) * 1000;
    return { ...result, cpuMs: Number.isFinite(cpu) ? cpu : null };
  } finally {
    await Deno.remove(cpuFile).catch(() => {});
  }
}

/** The median of the runs' processor times, or `null` when unknown. */
function medianCpu(runs: CpuRun[]): number | null {
  const cpu = runs.map((r) => r.cpuMs).filter((c): c is number => c !== null).sort((a, b) => a - b);
  if (cpu.length === 0) return null;
  const middle = cpu.length >> 1;
  return cpu.length % 2 ? cpu[middle] : (cpu[middle - 1] + cpu[middle]) / 2;
}

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const CLI = join(ROOT, "cli.ts");

/** The target: the bundle within 1.5× the peer's time, its ZIP within 1.25× the peer's. */
export const BUNDLE_TIME_LIMIT = 1.5;
export const BUNDLE_SIZE_LIMIT = 1.25;
/**
 * Rounds of the `deno task bench` case at the least, whatever bench.ts's own count for long
 * figures: one sample per side moved the ratio by a third between runs on a busy machine.
 */
export const BUNDLE_MIN_RUNS = 3;

/** What {@linkcode benchBundle} measured. */
export interface BundleBench {
  ours: Measured;
  peer: Measured;
  /** `ours.ms / peer.ms`. */
  ratio: number;
  /** Median processor time (user + system, all threads) of each side, when GNU time is there. */
  oursCpuMs: number | null;
  peerCpuMs: number | null;
  /** Each run's processor time, in the order run (`null` where unknown). */
  oursCpuRuns: (number | null)[];
  peerCpuRuns: (number | null)[];
  oursZipBytes: number;
  peerZipBytes: number;
  sizeRatio: number;
  /** `/proc/loadavg`'s three figures before the first and after the last run. */
  loadBefore: string;
  loadAfter: string;
  cold: boolean;
  pass: boolean;
}

/** Options of {@linkcode benchBundle}. */
export interface BundleBenchOptions {
  /** Rounds (each runs both sides once); the median of each side is taken. */
  runs: number;
  /** A scratch folder for the bundles and the peer's files. */
  workDir: string;
  /** Drops the database from the page cache before every run (default: left warm). */
  drop?: (paths: string[]) => Promise<void>;
}

/** Whether the peer's tools (`sqlite3`, `zip`) are installed. */
export async function bundlePeerAvailable(): Promise<boolean> {
  return await succeeds(["sqlite3", "-version"]) && await succeeds(["zip", "-v"]);
}

/** Times `bundle --compress` of `db` and its peer, `runs` rounds in turns. */
export async function benchBundle(db: string, options: BundleBenchOptions): Promise<BundleBench> {
  const cold = options.drop !== undefined;
  const evict = async () => await options.drop?.([db, `${db}-wal`]);
  const p = (name: string) => join(options.workDir, name);
  const oursRuns: CpuRun[] = [];
  const peerRuns: CpuRun[] = [];
  let oursZipBytes = 0;
  let peerZipBytes = 0;
  const clean = async () => {
    await Deno.remove(p("bundles"), { recursive: true }).catch(() => {});
    await Deno.remove(p("peer_bundle"), { recursive: true }).catch(() => {});
  };
  const sides = {
    ours: async () => {
      await evict();
      const made = await runWithCpu([
        Deno.execPath(),
        "run",
        "--quiet",
        ...RUNTIME_FLAGS,
        CLI,
        "bundle",
        "--compress",
        "--output",
        p("bundles"),
        "--db",
        db,
      ]);
      oursRuns.push(made);
      oursZipBytes = (await Deno.stat(made.stdout.trim())).size;
    },
    peer: async () => {
      await evict();
      await Deno.mkdir(p("peer_bundle/debug_bundle"), { recursive: true });
      peerRuns.push(
        await runWithCpu(bundlePeerCommand(db, p("peer_bundle"))),
      );
      peerZipBytes = (await Deno.stat(p("peer_bundle/bundle.zip"))).size;
    },
  };
  const loadBefore = loadAverage();
  try {
    for (let i = 0; i < options.runs; i++) {
      const order = i % 2 === 0 ? [sides.ours, sides.peer] : [sides.peer, sides.ours];
      for (const side of order) {
        await clean();
        await side();
      }
    }
  } finally {
    await clean();
  }
  const oursMeasured = summarize(oursRuns);
  const peerMeasured = summarize(peerRuns);
  const ratio = oursMeasured.ms / peerMeasured.ms;
  const sizeRatio = oursZipBytes / peerZipBytes;
  return {
    ours: oursMeasured,
    peer: peerMeasured,
    ratio,
    oursCpuMs: medianCpu(oursRuns),
    peerCpuMs: medianCpu(peerRuns),
    oursCpuRuns: oursRuns.map((r) => r.cpuMs),
    peerCpuRuns: peerRuns.map((r) => r.cpuMs),
    oursZipBytes,
    peerZipBytes,
    sizeRatio,
    loadBefore,
    loadAfter: loadAverage(),
    cold,
    pass: ratio <= BUNDLE_TIME_LIMIT && sizeRatio <= BUNDLE_SIZE_LIMIT,
  };
}

/** `/proc/loadavg`'s 1, 5 and 15 minute figures, or `unknown`. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** Drops `paths` from the page cache, leaving every other file's pages be. */
async function dropWithDd(paths: string[]): Promise<void> {
  for (const file of paths) {
    await new Deno.Command("dd", {
      args: [`if=${file}`, "iflag=nocache", "count=0", "status=none"],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
  }
}

/** One line for a person: the figure, the peer, the ratio and the load it was measured under. */
export function describeBundleBench(result: BundleBench, events: number | null): string {
  const s = (m: Measured) => `${(m.ms / 1000).toFixed(1)} s`;
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  const cpu = (ms: number | null) => ms === null ? "unknown" : `${(ms / 1000).toFixed(1)} s`;
  const cpuRuns = (runs: (number | null)[]) =>
    runs.map((ms) => ms === null ? "?" : (ms / 1000).toFixed(1)).join(", ");
  return [
    `bundle --compress${events === null ? "" : `, ${events.toLocaleString("en")} events`}${
      result.cold ? " (cold page cache)" : ""
    }: ${s(result.ours)} (runs ${
      result.ours.samples.map((ms) => (ms / 1000).toFixed(1)).join(", ")
    }), ZIP ${mb(result.oursZipBytes)}`,
    `  peer sqlite3 .backup + zip -6: ${s(result.peer)} (runs ${
      result.peer.samples.map((ms) => (ms / 1000).toFixed(1)).join(", ")
    }), ZIP ${mb(result.peerZipBytes)}`,
    `  ratio ${result.ratio.toFixed(2)}x (target <= ${BUNDLE_TIME_LIMIT}x), ZIP ${
      result.sizeRatio.toFixed(2)
    }x (target <= ${BUNDLE_SIZE_LIMIT}x): ${result.pass ? "pass" : "FAIL"}`,
    `  processor time (median): ours ${cpu(result.oursCpuMs)} (runs ${
      cpuRuns(result.oursCpuRuns)
    }), peer ${cpu(result.peerCpuMs)} (runs ${cpuRuns(result.peerCpuRuns)})`,
    `  load average before ${result.loadBefore}, after ${result.loadAfter} (${navigator.hardwareConcurrency} cores)`,
  ].join("\n");
}

/** The case `deno task bench` runs in place of its own `bundle` case. */
export const cases: BenchCase[] = [{
  id: "bundle",
  figure: "bundle --compress",
  peer: "sqlite3 .backup + zip -6",
  target: `time ≤ ${BUNDLE_TIME_LIMIT}×, ZIP ≤ ${BUNDLE_SIZE_LIMIT}×`,
  async run(c) {
    if (!c.tools.sqlite3 || !c.tools.zip) {
      return [skipped(this.figure, this.target, "sqlite3 or zip is not installed")];
    }
    const runs = Math.max(c.longRuns, BUNDLE_MIN_RUNS);
    const result = await benchBundle(await c.database("large"), {
      runs,
      workDir: c.dir,
    });
    const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
    const cpu = (ms: number | null) => ms === null ? "?" : `${(ms / 1000).toFixed(1)} s`;
    return [{
      figure: this.figure,
      ours: `${fmtMs(result.ours.ms)}, ZIP ${mb(result.oursZipBytes)}, CPU ${
        cpu(result.oursCpuMs)
      }`,
      peer: `${fmtMs(result.peer.ms)}, ZIP ${mb(result.peerZipBytes)}, CPU ${
        cpu(result.peerCpuMs)
      } (sqlite3 .backup + zip -6)`,
      ratio: round(result.ratio),
      target: this.target,
      pass: result.pass,
      // Warm: the inventory application has the database open while support makes a bundle.
      note: `ZIP size ${
        round(result.sizeRatio)
      }×; database warm; sides in turns, median of ${runs}`,
      raw: { ...result },
    }];
  },
}];

/** The benchmark's report goes to stderr, as bench.ts's progress does. */
function say(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text + "\n"));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string", default: "1000000" },
      runs: { type: "string", default: "3" },
      db: { type: "string" },
      cold: { type: "boolean", default: false },
    },
  });
  if (!(await bundlePeerAvailable())) {
    say("bench_bundle: sqlite3 and zip are needed (apt-get install -y sqlite3 zip)");
    Deno.exit(1);
  }
  const workDir = await Deno.makeTempDir({ prefix: "audit-trail-bench-bundle-" });
  try {
    let db = values.db;
    let events: number | null = null;
    if (!db) {
      events = Number(values.events);
      db = join(workDir, "ours.db");
      say(`bench_bundle: writing ${events.toLocaleString("en")} events into ${db}`);
      await writeEventFiles(events, join(workDir, "events.ndjson"));
      const cli = [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, CLI];
      await run([...cli, "migrate", "--db", db]);
      await run([...cli, "log", "--stdin", "--db", db], {
        stdinFile: join(workDir, "events.ndjson"),
      });
      await Deno.remove(join(workDir, "events.ndjson"));
    }
    const result = await benchBundle(db, {
      runs: Number(values.runs),
      workDir,
      drop: values.cold ? dropWithDd : undefined,
    });
    say(describeBundleBench(result, events));
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}
