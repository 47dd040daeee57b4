/**
 * Running commands for the benchmark: wall time of each process from start to exit, and its
 * peak memory (resident set) where GNU time is installed. Input and output go through files,
 * redirected by the shell, so the benchmark itself never sits in a pipe it would slow down.
 *
 * @module
 */

/** What one run of a command cost. */
export interface RunResult {
  /** Wall time from start to exit, in milliseconds. */
  ms: number;
  /** Peak resident memory in kilobytes, or `null` when it could not be measured. */
  rssKb: number | null;
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
    const argv = (await hasGnuTime()) ? [GNU_TIME, "-f", "%M", "-o", rssFile, ...shell] : shell;
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
    const rss = gnuTime ? Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop()) : NaN;
    return {
      ms,
      rssKb: Number.isFinite(rss) ? rss : null,
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
