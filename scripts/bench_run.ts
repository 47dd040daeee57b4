/**
 * Running commands for the benchmark: wall time of each process from start to exit, and its
 * peak memory (resident set) where GNU time is installed. Input and output go through files,
 * redirected by the shell, so the benchmark itself never sits in a pipe it would slow down.
 *
 * Also what a benchmark case is (scripts/bench.ts holds the table of them; a script of its own,
 * such as scripts/bench_bundle.ts, may export `cases` of the same shape), the machine's load
 * average printed beside every figure, and emptying the page cache of the files a command reads
 * so that it can be measured cold.
 *
 * Why not hyperfine: it runs all the runs of one command before the next, so a change in the
 * machine's load falls on one side only; here the commands take turns (a, b, c, a, b, c, …), and
 * each run may be preceded by a step outside the timed span (emptying the cache). It also needs
 * no installation.
 *
 * @module
 */

/** What one run of a command cost. */
export interface RunResult {
  /** Wall time from start to exit, in milliseconds. */
  ms: number;
  /** Peak resident memory in kilobytes, or `null` when it could not be measured. */
  rssKb: number | null;
  /** Processor time (user + system) in seconds, or `null` when it could not be measured. */
  cpuSeconds: number | null;
  /** Standard output, when it was captured. */
  stdout: string;
}

/** Where a command reads and writes. */
export interface RunOptions {
  /** A file fed to standard input (default: none). */
  stdinFile?: string;
  /** A file standard output goes to (default: captured and returned). */
  stdoutFile?: string;
  cwd?: string;
  env?: Record<string, string>;
}

const GNU_TIME = "/usr/bin/time";
let gnuTime: boolean | undefined;

/** Whether `/usr/bin/time` (GNU time, for peak memory) is installed. */
export async function hasGnuTime(): Promise<boolean> {
  gnuTime ??= await succeeds([GNU_TIME, "-f", "%M", "true"]);
  return gnuTime;
}

/** Whether `command` runs and exits 0. */
export async function succeeds(command: string[]): Promise<boolean> {
  try {
    const { code } = await new Deno.Command(command[0], {
      args: command.slice(1),
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

/** Runs `command` once; throws, with its stderr, when it fails. */
export async function run(command: string[], options: RunOptions = {}): Promise<RunResult> {
  const rssFile = await Deno.makeTempFile({ prefix: "audit-trail-bench-rss-" });
  try {
    // `exec` replaces the shell, so GNU time measures the command itself.
    const script = `exec "$@"${options.stdinFile ? ' < "$AT_BENCH_IN"' : " < /dev/null"}${
      options.stdoutFile ? ' > "$AT_BENCH_OUT"' : ""
    }`;
    const shell = ["sh", "-c", script, "sh", ...command];
    const argv = (await hasGnuTime())
      ? [GNU_TIME, "-f", "%M %U %S", "-o", rssFile, ...shell]
      : shell;
    const start = performance.now();
    const output = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: options.cwd,
      env: {
        ...options.env,
        AT_BENCH_IN: options.stdinFile ?? "",
        AT_BENCH_OUT: options.stdoutFile ?? "",
      },
      stdout: options.stdoutFile ? "null" : "piped",
      stderr: "piped",
    }).output();
    const ms = performance.now() - start;
    if (output.code !== 0) {
      throw new Error(
        `${command.join(" ")} failed (exit ${output.code}): ${
          new TextDecoder().decode(output.stderr).trim().slice(0, 2000)
        }`,
      );
    }
    // GNU time's last line (a line before it may say the command was signalled).
    const [rss, user, system] = gnuTime
      ? (await Deno.readTextFile(rssFile)).trim().split("\n").pop()!.split(" ").map(Number)
      : [NaN, NaN, NaN];
    return {
      ms,
      rssKb: Number.isFinite(rss) ? rss : null,
      cpuSeconds: Number.isFinite(user + system) ? user + system : null,
      stdout: options.stdoutFile ? "" : new TextDecoder().decode(output.stdout),
    };
  } finally {
    await Deno.remove(rssFile).catch(() => {});
  }
}

/** Summary of repeated runs: the median time and the highest peak memory. */
export interface Measured {
  ms: number;
  rssKb: number | null;
  runs: number;
  /** Every run's time, in the order run. */
  samples: number[];
  stdout: string;
}

/**
 * Runs each command `times` times, taking turns (a, b, a, b, …) so that a change in the
 * machine's load falls on every side alike, and returns the median of each.
 */
export async function compare(
  commands: Record<string, { command: string[]; options?: RunOptions; before?: () => unknown }>,
  times: number,
): Promise<Record<string, Measured>> {
  const results: Record<string, RunResult[]> = {};
  for (let i = 0; i < times; i++) {
    for (const [name, { command, options, before }] of Object.entries(commands)) {
      await before?.();
      (results[name] ??= []).push(await run(command, options));
    }
  }
  return Object.fromEntries(
    Object.entries(results).map(([name, runs]) => [name, summarize(runs)]),
  );
}

/** Median time and highest peak memory of `runs`. */
export function summarize(runs: RunResult[]): Measured {
  const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const ms = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const rss = runs.map((r) => r.rssKb).filter((r): r is number => r !== null);
  return {
    ms,
    rssKb: rss.length ? Math.max(...rss) : null,
    runs: runs.length,
    samples: runs.map((r) => Math.round(r.ms * 10) / 10),
    stdout: runs[runs.length - 1].stdout,
  };
}

/** The machine's load average over the last minute, from /proc/loadavg (`null` elsewhere). */
export function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

/** The load averages seen while a figure was measured, as printed beside it. */
export function formatLoad(load: readonly (number | null)[]): string {
  const known = load.filter((l): l is number => l !== null);
  if (!known.length) return "?";
  const low = Math.min(...known).toFixed(1);
  const high = Math.max(...known).toFixed(1);
  return low === high ? low : `${low}-${high}`;
}

/**
 * How a cold page cache is made before a run:
 *
 * - `files` (the default): the files the commands read are dropped from the page cache one by
 *   one (`posix_fadvise(DONTNEED)` after a sync, through python3, else `dd iflag=nocache`): the
 *   database and the programs' own files (sources, Deno's emitted code and code cache). The
 *   runtimes themselves (the `deno` and `python3` binaries and libraries) stay cached, as any
 *   other program using them keeps them on a machine. Needs no root.
 * - `system`: `sync; echo 1 > /proc/sys/vm/drop_caches`, everything not in use (root only).
 * - `off`: nothing is dropped; only warm figures.
 */
export type ColdMethod = "files" | "system" | "off";

/** Drops files from the page cache; `why` says how, or why it cannot. */
export interface PageCache {
  method: ColdMethod;
  /** What is done, or why nothing can be. */
  why: string;
  /** Drops `paths` (missing ones are ignored) from the cache; resolves when done. */
  drop(paths: readonly string[]): Promise<void>;
  /** Percentage of `path` in the cache (fincore), or `null` when it cannot be seen. */
  cachedPercent(path: string): Promise<number | null>;
}

const FADVISE = `
import os, sys
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        continue
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
`;

/** Sets up `method` here: falls back to what the machine allows, and says so in `why`. */
export async function pageCache(method: ColdMethod, python: string | null): Promise<PageCache> {
  const fincore = await succeeds(["fincore", "--version"]);
  const cachedPercent = async (path: string) => {
    if (!fincore) return null;
    const out = await new Deno.Command("fincore", {
      args: ["--bytes", "--noheadings", "--output", "RES,SIZE", path],
      stdout: "piped",
      stderr: "null",
    }).output();
    const [res, size] = new TextDecoder().decode(out.stdout).trim().split(/\s+/).map(Number);
    return out.code === 0 && size > 0 ? Math.round((100 * res) / size) : null;
  };
  const exists = (paths: readonly string[]) =>
    paths.filter((path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    });
  if (method === "system") {
    const drop = async () => {
      await run(["sync"]);
      await Deno.writeTextFile("/proc/sys/vm/drop_caches", "1");
    };
    try {
      await drop();
      return {
        method,
        why: "sync; echo 1 > /proc/sys/vm/drop_caches before each run (every file not in use)",
        drop,
        cachedPercent,
      };
    } catch (error) {
      const files = await pageCache("files", python);
      return {
        ...files,
        why: `drop_caches is not writable here (${(error as Error).name}); ${files.why}`,
      };
    }
  }
  if (method === "off") {
    return {
      method,
      why: "not measured cold (--cold off)",
      drop: () => Promise.resolve(),
      cachedPercent,
    };
  }
  if (Deno.build.os !== "linux") {
    return {
      method: "off",
      why: `no page cache control on ${Deno.build.os}: warm figures only`,
      drop: () => Promise.resolve(),
      cachedPercent,
    };
  }
  const drop = python
    ? async (paths: readonly string[]) => {
      await run([python, "-c", FADVISE, ...exists(paths)]);
    }
    : async (paths: readonly string[]) => {
      await run(["sync"]);
      const script = 'for f; do dd if="$f" iflag=nocache count=0 status=none; done';
      await run(["sh", "-c", script, "sh", ...exists(paths)]);
    };
  return {
    method,
    why: `before each run, the files the commands read are dropped from the page cache (${
      python ? "posix_fadvise through python3" : "dd iflag=nocache"
    }): the database and the programs' own files; the runtimes stay cached`,
    drop,
    cachedPercent,
  };
}

/** Every file below `folder` (none when it does not exist). */
export function filesBelow(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.isFile) found.push(path);
    }
  };
  walk(folder);
  return found;
}

/** One line of the benchmark's table: a figure beside its peer, measured in the same run. */
export interface Figure {
  figure: string;
  ours: string;
  peer: string;
  /** ours / peer, or `null` where a ratio means nothing. */
  ratio: number | null;
  target: string;
  /** `true` pass, `false` fail, `null` reported only or skipped. */
  pass: boolean | null;
  note?: string;
  /** The load averages seen while it was measured (filled in by the runner). */
  load?: string;
  raw?: Record<string, unknown>;
}

/** The programs a case may need; a missing one makes the case say it was skipped. */
export interface Tools {
  sqlite3: boolean;
  zip: boolean;
  sqliteUtils: boolean;
  /** The Python interpreter for the original design (`/usr/bin/python3` where it exists). */
  python: string | null;
  /** Whether `original.py` was found. */
  original: boolean;
  gnuTime: boolean;
}

/** What every case is given: the run's settings, its data, and how to run the programs. */
export interface BenchContext {
  /** Events in the large database. */
  events: number;
  /** Runs of each short figure (the median is taken); long figures take `longRuns`. */
  runs: number;
  longRuns: number;
  /** Events in the small database the growth figures compare with. */
  smallEvents: number;
  /** The run's scratch folder, and a path in it. */
  dir: string;
  path(name: string): string;
  tools: Tools;
  cache: PageCache;
  /** `deno run <permissions of the executable> <the built program> ARGS` (dist/js). */
  cli(...args: string[]): string[];
  /**
   * The built program as the executable starts it, for the start-up figures: `cli` with
   * `--no-config`. The executable reads no configuration file at start (`deno compile` resolved
   * it when it made the file), where `deno run` would find `deno.json` and `deno.lock` above
   * `dist/js` and read them at every start (about 1 ms).
   */
  cliAsExecutable(...args: string[]): string[];
  /** `deno run <permissions of the executable> cli.ts ARGS`: the program from its source. */
  cliSource(...args: string[]): string[];
  /** The bare Deno peer (scripts/bench_bare.ts) with `args`, reading no configuration file. */
  bare(...args: string[]): string[];
  /** `python3 original.py ARGS`, or `null` when python3 or original.py is missing. */
  original(...args: string[]): string[] | null;
  /** The event files (NDJSON and CSV) of `events` or `smallEvents` events, made on first use. */
  eventFiles(size: "large" | "small"): Promise<{ ndjson: string; csv: string }>;
  /** A migrated database holding the large or small event set, made on first use. */
  database(size: "large" | "small"): Promise<string>;
  /** Records that `path` holds the large event set (a case that made one hands it over). */
  adoptDatabase(path: string): void;
  /** The original design's database holding the large event set, or `null` if it cannot be made. */
  originalDatabase(): Promise<string | null>;
  /**
   * The environment of the start-up figures' Deno processes: a DENO_DIR of their own, in the
   * scratch folder. This process maps the code and module caches of the DENO_DIR it runs with,
   * and a mapped page cannot be dropped from the page cache, so a command sharing them would
   * find them warm on every cold run. The executable keeps its code cache in a file of its own,
   * which this small folder stands for.
   */
  startupEnv: Record<string, string>;
  /**
   * The files the commands read besides the databases, to drop for a cold run: the programs,
   * their sources and the start-up figures' DENO_DIR (ask after a first run has filled it).
   */
  programFiles(): string[];
  /** Measurements cases share (the ingest's, for the figures that compare it with others). */
  shared: Map<string, unknown>;
  /** Prints a progress line on stderr. */
  log(text: string): void;
}

/**
 * One benchmark: what it measures beside what, its target, and how. `run` returns the table's
 * lines (one per peer); a case that cannot run returns them with `pass: null` and a note
 * starting `skipped:`.
 */
export interface BenchCase {
  /** Short name, for `--only`. */
  id: string;
  /** Group names it also answers to in `--only` (e.g. `startup`). */
  groups?: string[];
  figure: string;
  peer: string;
  target: string;
  /** Preparation outside the measured time. */
  setup?(context: BenchContext): Promise<void>;
  run(context: BenchContext): Promise<Figure[]>;
}

/** A line for a case that could not run here. */
export function skipped(figure: string, target: string, reason: string): Figure {
  return {
    figure,
    ours: "-",
    peer: "-",
    ratio: null,
    target,
    pass: null,
    note: `skipped: ${reason}`,
  };
}

export const fmtMs = (ms: number): string =>
  ms >= 10_000
    ? `${(ms / 1000).toFixed(1)} s`
    : ms >= 100
    ? `${ms.toFixed(0)} ms`
    : `${ms.toFixed(1)} ms`;
export const fmtMb = (kb: number | null): string =>
  kb === null ? "?" : `${(kb / 1024).toFixed(0)} MB`;
export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * A line comparing two measurements: `ours / peer` against `limit` (`null`: reported only).
 */
export function ratioFigure(
  figure: string,
  ours: Measured,
  peer: Measured,
  peerName: string,
  target: string,
  limit: number | null,
  note?: string,
): Figure {
  const ratio = ours.ms / peer.ms;
  return {
    figure,
    ours: fmtMs(ours.ms),
    peer: `${fmtMs(peer.ms)} (${peerName})`,
    ratio: round(ratio),
    target,
    pass: limit === null ? null : ratio <= limit,
    note,
    raw: { ours, peer },
  };
}

/**
 * The peer of `bundle --compress`: `sqlite3 .backup` of `db` into `out/debug_bundle`, then
 * `zip -6` of that folder into `out/bundle.zip` (`out/debug_bundle` must exist).
 */
export function bundlePeerCommand(db: string, out: string): string[] {
  return [
    "sh",
    "-c",
    `sqlite3 "$1" ".backup '$2/debug_bundle/database_backup.db'" && cd "$2" && zip -6 -q -r bundle.zip debug_bundle`,
    "sh",
    db,
    out,
  ];
}
