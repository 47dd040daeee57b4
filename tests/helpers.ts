/**
 * Shared test helpers: temporary folders that clean themselves up, and running the real
 * `cli.ts` in a subprocess with exactly the permissions the compiled binary gets.
 *
 * @module
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { CliIo } from "../cli/context.ts";
import { RUNTIME_FLAGS } from "../scripts/runtime_flags.ts";

export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
/**
 * The program the CLI tests run: `cli.ts`, or the built program (`deno task build`) when
 * `AUDIT_TRAIL_TEST_CLI` names its entry (as `tests/build_test.ts` does).
 */
export const CLI: string = Deno.env.get("AUDIT_TRAIL_TEST_CLI") || join(ROOT, "cli.ts");

/** A temporary folder removed when disposed (`await using dir = await tempDir()`). */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "audit-trail-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Empty values count as unset, so the runner's own AUDIT_TRAIL_* settings cannot leak in. */
const CLEARED_ENV: Readonly<Record<string, string>> = {
  AUDIT_TRAIL_DB: "",
  AUDIT_TRAIL_RUN_ID: "",
  AUDIT_TRAIL_USER: "",
  // A developer's own PostgreSQL password must not reach the tests' servers.
  PGPASSWORD: "",
  PGPASSFILE: "/nonexistent/audit-trail-tests/pgpass",
  // Nor where their libpq connects by default (empty stands for unset, as with libpq).
  PGHOST: "",
  PGPORT: "",
  PGUSER: "",
  PGDATABASE: "",
  PGCONNECT_TIMEOUT: "",
  PGHOSTADDR: "",
  PGSERVICE: "",
  PGAPPNAME: "",
  AUDIT_TRAIL_CENTRAL_TIMEOUT: "",
};

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Text or bytes fed to stdin (default: none, stdin closed). */
  stdin?: string | Uint8Array;
  /** Extra environment; AUDIT_TRAIL_* variables of the test runner are never inherited. */
  env?: Record<string, string>;
  cwd?: string;
  /** A program and its arguments to run the CLI through: `[...wrapper, deno, "run", …]`. */
  wrapper?: string[];
  /** Another build's entry to run instead of {@linkcode CLI} (an earlier release, say). */
  cli?: string;
}

/** Runs `deno run <RUNTIME_FLAGS> cli.ts ...args` and collects its output. */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return await collectOutput(cliCommand(args, options).spawn(), options.stdin);
}

/**
 * Feeds `stdin` (if any) to a spawned process, waits for it, and returns its exit code and
 * output as text. A process that exits without reading its input is not an error.
 */
export async function collectOutput(
  child: Deno.ChildProcess,
  stdin?: string | Uint8Array,
): Promise<CliResult> {
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const bytes = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
    await writer.write(bytes).catch(() => {});
    await writer.close().catch(() => {});
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * The output of `child` once it has ended by itself. A command that should have given up long
 * before (its own bound is seconds) and is still running after a minute is ended, and the test
 * fails saying `waiting` rather than hangs.
 */
export async function endedByItself(
  child: Deno.ChildProcess,
  output: Promise<CliResult>,
  waiting: string,
): Promise<CliResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 60_000));
  const ended = await Promise.race([output, stuck]);
  clearTimeout(timer);
  if (ended === null) {
    child.kill("SIGKILL");
    await output;
    throw new Error(`${waiting} after a minute`);
  }
  return ended;
}

/**
 * Streams for calling `main(args, io)` in this process, and what it wrote to them. The
 * environment is this process's, with `env` over it and the AUDIT_TRAIL_* variables unset, as
 * for {@linkcode runCli}; stdout and stderr are not terminals. Output past `limit` characters
 * is dropped (a fuzzed command may print a great deal).
 */
export function testIo(
  options: CliOptions & { limit?: number } = {},
): { io: CliIo; out: { stdout: string; stderr: string } } {
  const out = { stdout: "", stderr: "" };
  const limit = options.limit ?? Infinity;
  const sink = (key: "stdout" | "stderr") => ({
    isTerminal: false,
    write(text: string) {
      if (out[key].length < limit) out[key] += text;
      return Promise.resolve();
    },
  });
  const input = typeof options.stdin === "string"
    ? new TextEncoder().encode(options.stdin)
    : options.stdin ?? new Uint8Array(0);
  const env: Record<string, string> = { ...CLEARED_ENV, ...options.env };
  const io: CliIo = {
    stdin: new ReadableStream({
      start(controller) {
        if (input.length) controller.enqueue(input);
        controller.close();
      },
    }),
    stdout: sink("stdout"),
    stderr: sink("stderr"),
    env: (name) => name in env ? env[name] : Deno.env.get(name),
    cwd: () => options.cwd ?? Deno.cwd(),
  };
  return { io, out };
}

/**
 * Runs the CLI's `main(args, io)` in this process: the exit code and output the command would
 * give, without starting a process (each costs Deno's start-up, 100 ms or more on a busy
 * machine). For usage errors and checks where the process adds nothing; {@linkcode runCli}
 * tests the real path (permissions, argv bytes, exit status, signals).
 */
export async function runMain(args: string[], options: CliOptions = {}): Promise<CliResult> {
  // Loaded on first use: test files that never call it do not load the CLI.
  const { main } = await import("../cli.ts");
  const { io, out } = testIo(options);
  const code = await main(args, io);
  return { code, stdout: out.stdout, stderr: out.stderr };
}

/** The `Deno.Command` for the CLI, for tests that need to control the process themselves. */
export function cliCommand(args: string[], options: CliOptions = {}): Deno.Command {
  const env: Record<string, string> = { NO_COLOR: "1", ...CLEARED_ENV, ...options.env };
  const [program, ...programArgs] = [
    ...(options.wrapper ?? []),
    Deno.execPath(),
    ...["run", "--quiet", ...RUNTIME_FLAGS, options.cli ?? CLI, ...args],
  ];
  return new Deno.Command(program, {
    args: programArgs,
    cwd: options.cwd,
    env,
    clearEnv: false,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** How a sleeping process's main thread shows on Linux while it sleeps in `nanosleep`. */
const NANOSLEEP = /nanosleep/;

function wchan(pid: number): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/wchan`);
  } catch {
    return null;
  }
}

let lockWaitProbe: Promise<string | null> | undefined;

/**
 * Runs `work` while another connection holds `path`'s write lock (`BEGIN IMMEDIATE`, as a
 * second program would), and gives the lock back when it ends, however it ends.
 */
export async function whileWriteLockHeld<T>(
  path: string,
  work: () => T | Promise<T>,
): Promise<T> {
  const holder = new DatabaseSync(path);
  holder.exec("BEGIN IMMEDIATE");
  try {
    return await work();
  } finally {
    holder.exec("ROLLBACK");
    holder.close();
  }
}

/**
 * `null` when {@linkcode untilWaitingForLock} can see a process wait here, else why not: it
 * reads `/proc/PID/wchan` (Linux), which some kernels hide.
 */
export function lockWaitUnobservable(): Promise<string | null> {
  lockWaitProbe ??= (async () => {
    if (Deno.build.os !== "linux") return `needs Linux's /proc, this is ${Deno.build.os}`;
    const sleeper = new Deno.Command("sleep", { args: ["5"], stdout: "null", stderr: "null" })
      .spawn();
    try {
      for (let i = 0; i < 200; i++) {
        if (NANOSLEEP.test(wchan(sleeper.pid) ?? "")) return null;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return "/proc/PID/wchan does not show a sleeping process here";
    } finally {
      sleeper.kill();
      await sleeper.status;
    }
  })();
  return lockWaitProbe;
}

/**
 * Resolves once `child` is waiting for a lock that another connection holds, or has exited.
 * SQLite's busy wait sleeps between tries (1, 2, 5, 10… ms), the only time a command's main
 * thread sleeps in `nanosleep`; seen asleep twice, 30 ms apart, it is in that wait. A lock
 * released after this resolves was met by the child, however late the child started: no
 * fixed delay decides what the test checks. (An exited child failed to wait: its result says
 * how.)
 */
export async function untilWaitingForLock(
  child: Deno.ChildProcess,
  timeoutMs = 60_000,
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true, () => exited = true);
  const deadline = performance.now() + timeoutMs;
  let firstSeen: number | null = null;
  while (!exited) {
    if (performance.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`process ${child.pid} neither waited for the lock nor exited`);
    }
    if (NANOSLEEP.test(wchan(child.pid) ?? "")) {
      firstSeen ??= performance.now();
      if (performance.now() - firstSeen >= 30) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A migrated database in `dir`, made through the real CLI. Returns its path. */
export async function migratedDb(dir: string, name = "app.db"): Promise<string> {
  const path = join(dir, name);
  const result = await runCli(["migrate", "--db", path]);
  if (result.code !== 0) throw new Error(`migrate failed: ${result.stderr}`);
  return path;
}

/** Reads rows straight from SQLite, bypassing audit-trail. */
export function sqliteRows(path: string, sql: string, ...params: (string | number | null)[]) {
  const db = new DatabaseSync(path);
  try {
    return db.prepare(sql).all(...params);
  } finally {
    db.close();
  }
}

/** Bytes and modification time of a file, to prove a command left it untouched. */
export async function fingerprint(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A `TextSink` that keeps what is written: `text` is all of it, `parts` each write. */
export function textSink(): { parts: string[]; text: string; write(text: string): Promise<void> } {
  const parts: string[] = [];
  return {
    parts,
    get text() {
      return parts.join("");
    },
    write(text: string) {
      parts.push(text);
      return Promise.resolve();
    },
  };
}

/**
 * Bytes the calling thread has read from files so far (Linux only): SQLite reads on the
 * thread that runs the statement, so the difference around a call is what it read, a measure
 * of work that does not depend on the machine's speed.
 */
export function bytesRead(): number {
  return Number(/rchar: (\d+)/.exec(Deno.readTextFileSync("/proc/thread-self/io"))![1]);
}
