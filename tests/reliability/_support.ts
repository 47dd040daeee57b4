/**
 * Support for the reliability suite: cases that report their own figures, a ledger of
 * acknowledged events checked against the database, fault tools (tmpfs mounts, lock holders,
 * kills) and checks that an error is a clean one.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import assert from "node:assert/strict";
import { cliCommand, type CliOptions, type CliResult } from "../helpers.ts";

/**
 * Figures of the case that is running, printed when it ends. Tests of one file run one after
 * another, and each case starts its own from zero: no case's result or report depends on
 * which other cases ran (`--filter` included).
 */
export const tally = { faults: 0, badInputs: 0, acknowledged: 0 };

/** Prints a line of the suite's report on stdout (beside the test runner's own lines). */
export function report(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

/** A reliability case or one of its parts, and why it cannot run here (or `null`). */
export interface Scenario {
  name: string;
  unavailable?: string | null;
}

/**
 * Registers a reliability case that prints its own figures when it passes. A case that cannot
 * run here (`unavailable`) is reported as ignored, with the reason printed, never as passed.
 */
export function reliabilityCase(
  { name, unavailable = null }: Scenario,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  if (unavailable) report(`${name.split(":")[0]} is ignored here: ${unavailable}`);
  Deno.test({
    name,
    ignore: unavailable !== null,
    async fn(t) {
      Object.assign(tally, { faults: 0, badInputs: 0, acknowledged: 0 });
      await fn(t);
      report(
        `  ${tally.faults} faults injected, ${tally.badInputs} bad inputs tried, ` +
          `${tally.acknowledged} acknowledged events all found again`,
      );
    },
  });
}

/** Runs one part of a case as a step, or reports it as ignored (with the reason) where it cannot run. */
export async function optionalStep(
  t: Deno.TestContext,
  { name, unavailable = null }: Scenario,
  fn: () => Promise<void>,
): Promise<void> {
  if (unavailable) report(`  ignored here: ${name}: ${unavailable}`);
  await t.step({ name, ignore: unavailable !== null, fn });
}

/** What the suite checks of every event it saw acknowledged. */
export interface ExpectedEvent {
  operation: string;
  details?: string;
  sku?: string | null;
  user?: string;
  run_id?: string | null;
}

/**
 * Every event acknowledged on one database (exit 0 and an id printed), to be found again,
 * unchanged, once the case's faults are over.
 */
export class Ledger {
  readonly #events = new Map<number, ExpectedEvent>();

  /** @param path The database the events were logged to. */
  constructor(readonly path: string) {}

  /** Records that `id` was acknowledged for `event`. An id acknowledged twice is a failure. */
  ack(id: number, event: ExpectedEvent): void {
    assert.ok(Number.isSafeInteger(id) && id > 0, `acknowledged id ${id} is not an event id`);
    assert.ok(!this.#events.has(id), `audit_id ${id} was acknowledged twice`);
    this.#events.set(id, event);
    tally.acknowledged++;
  }

  /** Records a bulk insert's `{inserted, first_audit_id, last_audit_id}` for `events`. */
  ackBulk(
    result: { inserted: number; first_audit_id: number; last_audit_id: number },
    events: ExpectedEvent[],
  ) {
    assert.equal(result.inserted, events.length);
    assert.equal(
      result.last_audit_id - result.first_audit_id + 1,
      events.length,
      "ids not contiguous",
    );
    events.forEach((event, i) => this.ack(result.first_audit_id + i, event));
  }

  get size(): number {
    return this.#events.size;
  }

  /**
   * Reads every acknowledged event back from `path` with SQLite directly; counts the missing
   * or changed ones as lost (and fails on any).
   */
  verify(): void {
    const path = this.path;
    const rows = new Map<number, Record<string, unknown>>();
    withSqlite(path, (db) => {
      // Read as bytes: node:sqlite would cut text at a NUL, and this check must see everything.
      const select = db.prepare(
        `SELECT CAST(operation AS BLOB) AS operation, CAST(details AS BLOB) AS details,
           CAST(sku AS BLOB) AS sku, CAST(user AS BLOB) AS user, CAST(run_id AS BLOB) AS run_id
         FROM audit_log WHERE audit_id = ?`,
      );
      for (const id of this.#events.keys()) {
        const row = select.get(id);
        if (row) rows.set(id, row);
      }
    });
    const problems: string[] = [];
    // ignoreBOM: a leading U+FEFF is part of the text, not a byte order mark to drop.
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    const text = (value: unknown) => value === null ? null : decoder.decode(value as Uint8Array);
    for (const [id, want] of this.#events) {
      const row = rows.get(id);
      const got = row && {
        operation: text(row.operation),
        details: text(row.details),
        sku: text(row.sku),
        user: text(row.user),
        run_id: text(row.run_id),
      };
      const mismatch = !got
        ? "missing"
        : (["operation", "details", "sku", "user", "run_id"] as const)
          .filter((field) => want[field] !== undefined && want[field] !== got[field])
          .map((field) =>
            `${field} ${JSON.stringify(got[field])} != ${JSON.stringify(want[field])}`
          )
          .join(", ");
      if (mismatch) problems.push(`audit_id ${id}: ${mismatch}`);
    }
    assert.deepEqual(problems.slice(0, 5), [], `${problems.length} acknowledged events lost`);
  }
}

/** Runs `work` on a plain SQLite connection (immutable when `immutable` is set). */
export function withSqlite<T>(path: string, work: (db: DatabaseSync) => T, immutable = false): T {
  let target: string | URL = path;
  if (immutable) {
    target = pathToFileURL(path);
    target.searchParams.set("immutable", "1");
  }
  const db = new DatabaseSync(target, { readOnly: immutable });
  try {
    db.exec("PRAGMA busy_timeout = 20000");
    return work(db);
  } finally {
    db.close();
  }
}

/**
 * Leaves the database at `path` with a committed event (operation IN_WAL_ONLY) in its "-wal"
 * file alone and no "-shm", as a copy taken while a connection was open is.
 */
export function leaveChangeInWal(path: string): void {
  withSqlite(path, (s) => {
    s.exec("PRAGMA wal_autocheckpoint = 0");
    s.prepare("INSERT INTO audit_log (operation) VALUES ('IN_WAL_ONLY')").run();
    Deno.copyFileSync(path, `${path}.copy`);
    Deno.copyFileSync(`${path}-wal`, `${path}.copy-wal`);
  });
  Deno.renameSync(`${path}.copy`, path);
  Deno.renameSync(`${path}.copy-wal`, `${path}-wal`);
}

/** Fails unless SQLite's `PRAGMA integrity_check` says `ok`. */
export function assertIntact(path: string, immutable = false): void {
  const result = withSqlite(
    path,
    (db) => db.prepare("PRAGMA integrity_check").all().map((r) => r.integrity_check).join("; "),
    immutable,
  );
  assert.equal(result, "ok", `integrity_check of ${path}`);
}

/** Fails unless `audit-trail verify` finds the hash chain intact: faults must not break it either. */
export async function assertChainIntact(
  path: string,
  run: (args: string[]) => Promise<CliResult> = runTimed,
): Promise<void> {
  const result = await run(["verify", "--format", "json", "--db", path]);
  assert.equal(result.code, 0, `verify ${path}: ${result.stdout} ${result.stderr}`);
  assert.equal(JSON.parse(result.stdout).intact, true);
}

/** `SELECT count(*) FROM audit_log` (plus an optional WHERE clause), read directly. */
export function countEvents(path: string, where = "1", ...params: (string | number)[]): number {
  return withSqlite(
    path,
    (db) =>
      db.prepare(`SELECT count(*) AS n FROM audit_log WHERE ${where}`).get(...params)!.n as number,
  );
}

/**
 * Fails unless `result` is a clean failure: exit `code`, stdout empty, stderr one
 * `audit-trail: error: …` line (plus at most a hint) matching `pattern`, no stack trace.
 */
export function assertCleanError(result: CliResult, code: number, pattern?: RegExp): void {
  const context = `exit ${result.code}, stderr: ${result.stderr.slice(0, 600)}`;
  assert.equal(result.code, code, context);
  assert.equal(result.stdout, "", `stdout of a failure must be empty; ${context}`);
  assertNoCrash(result.stderr);
  const lines = result.stderr.trimEnd().split("\n");
  assert.match(lines[0], /^audit-trail: error: \S/, context);
  assert.ok(lines.length <= 2 && (lines.length === 1 || lines[1].startsWith("hint: ")), context);
  if (pattern) assert.match(lines[0], pattern, context);
}

/** Text that only a crash leaves on stderr. */
const CRASH_SIGNS = [
  /^\s+at .+:\d+:\d+\)?$/m, // a stack frame
  /Uncaught|Unexpected failure|panicked|RUST_BACKTRACE|Segmentation fault/i,
  /^error: /m, // Deno's own report of an uncaught error
];

/** Fails when `stderr` shows an uncaught exception, a panic or a stack trace. */
export function assertNoCrash(stderr: string): void {
  for (const sign of CRASH_SIGNS) {
    assert.doesNotMatch(stderr, sign, `crash on stderr: ${stderr.slice(0, 800)}`);
  }
}

/** Options of {@linkcode runTimed}. */
export interface TimedOptions extends CliOptions {
  /** Kill the process and fail when it runs longer (default 30 s): a hang is a failure. */
  timeoutMs?: number;
}

/** Like `runCli`, but a process that outlives `timeoutMs` is killed and reported as hung. */
export async function runTimed(
  args: string[],
  options: TimedOptions = {},
): Promise<CliResult & { ms: number }> {
  const started = performance.now();
  const child = cliCommand(args, options).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, options.timeoutMs ?? 30_000);
  try {
    if (options.stdin !== undefined) await feed(child, options.stdin);
    const output = await child.output();
    const decoder = new TextDecoder();
    assert.ok(
      !hung,
      `audit-trail ${args.join(" ").slice(0, 200)} hung (killed after ${
        options.timeoutMs ?? 30_000
      } ms)`,
    );
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      ms: performance.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes `input` to the child's stdin and closes it; a child that stopped reading is fine. */
export async function feed(child: Deno.ChildProcess, input: string | Uint8Array): Promise<void> {
  const writer = child.stdin.getWriter();
  await writer.write(typeof input === "string" ? new TextEncoder().encode(input) : input).catch(
    () => {},
  );
  await writer.close().catch(() => {});
}

/** NDJSON text of `events`, one per line. */
export function ndjson(events: readonly object[]): string {
  return events.map((e) => JSON.stringify(e)).join("\n") + "\n";
}

/** Runs a program (not audit-trail) and returns its exit code and output. */
export async function sh(program: string, args: string[]): Promise<CliResult> {
  try {
    const output = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" })
      .output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (error) {
    return { code: 127, stdout: "", stderr: String(error) };
  }
}

/** Whether `program` can be started here. */
export async function available(program: string, probeArgs = ["--version"]): Promise<boolean> {
  return (await sh(program, probeArgs)).code !== 127;
}

let mountProbe: Promise<string | null> | undefined;

/** `null` when this process may mount a tmpfs, else the reason it may not. */
export function mountUnavailable(): Promise<string | null> {
  mountProbe ??= (async () => {
    if (Deno.build.os !== "linux") return `needs Linux, this is ${Deno.build.os}`;
    const dir = await Deno.makeTempDir({ prefix: "audit-trail-mount-probe-" });
    try {
      const result = await sh("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
      if (result.code !== 0) {
        return `mount -t tmpfs failed (${
          result.stderr.trim() || `exit ${result.code}`
        }); needs root`;
      }
      await sh("umount", [dir]);
      return null;
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  })();
  return mountProbe;
}

/** A tmpfs of `size` (e.g. `"1m"`) mounted on a new folder; unmounted and removed on dispose. */
export async function tmpfs(
  size: string,
): Promise<{ path: string; remount(options: string): Promise<void> } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "audit-trail-tmpfs-" });
  const mounted = await sh("mount", ["-t", "tmpfs", "-o", `size=${size},mode=1777`, "tmpfs", path]);
  assert.equal(mounted.code, 0, mounted.stderr);
  return {
    path,
    async remount(options: string) {
      const result = await sh("mount", ["-o", `remount,${options}`, path]);
      assert.equal(result.code, 0, result.stderr);
    },
    async [Symbol.asyncDispose]() {
      if ((await sh("umount", [path])).code !== 0) await sh("umount", ["-l", path]);
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Fills the file system of `folder` with a file, leaving about `leave` bytes free. */
export async function fill(folder: string, leave = 0): Promise<string> {
  const path = `${folder}/filler-${crypto.randomUUID()}`;
  const { statfsSync } = await import("node:fs");
  const { bavail, bsize } = statfsSync(folder);
  const size = Math.max(0, bavail * bsize - leave);
  const file = await Deno.open(path, { write: true, createNew: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (let written = 0; leave === 0 || written < size;) {
      const n = leave === 0 ? chunk.length : Math.min(chunk.length, size - written);
      if (n <= 0) break;
      written += await file.write(chunk.subarray(0, n));
    }
  } catch (error) {
    if (!/No space left|os error 28/i.test(String(error))) throw error;
  } finally {
    file.close();
  }
  return path;
}

/** A read-only bind mount of `source` on a new folder; unmounted on dispose. */
export async function readOnlyBind(source: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "audit-trail-robind-" });
  for (const args of [["--bind", source, path], ["-o", "remount,bind,ro", path]]) {
    const result = await sh("mount", args);
    assert.equal(result.code, 0, result.stderr);
  }
  return {
    path,
    async [Symbol.asyncDispose]() {
      if ((await sh("umount", [path])).code !== 0) await sh("umount", ["-l", path]);
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Another program holding the database's write lock (`BEGIN EXCLUSIVE`): the `sqlite3` shell
 * when asked for and installed, else a second Deno process. Resolves once the lock is held.
 */
export async function holdLock(
  path: string,
  program: "sqlite3" | "deno" = "sqlite3",
): Promise<{ program: string; release(): Promise<void> }> {
  const useShell = program === "sqlite3" && await available("sqlite3");
  const command = useShell
    ? new Deno.Command("sqlite3", { args: [path], stdin: "piped", stdout: "null", stderr: "piped" })
    : new Deno.Command(Deno.execPath(), {
      args: ["eval", HOLDER_SCRIPT, path],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    });
  const child = command.spawn();
  const writer = child.stdin.getWriter();
  if (useShell) {
    await writer.write(
      new TextEncoder().encode(
        "BEGIN EXCLUSIVE;\nINSERT INTO audit_log (operation) VALUES ('LOCK_HOLDER');\n",
      ),
    );
  }
  // Held once a writer that does not wait is turned away.
  const deadline = performance.now() + 15_000;
  while (!isWriteLocked(path)) {
    assert.ok(performance.now() < deadline, "the lock holder never took the lock");
    await delay(20);
  }
  return {
    program: useShell ? "sqlite3" : "deno",
    async release() {
      // ROLLBACK: the holder's own row must not count as an event of the test.
      await writer.write(new TextEncoder().encode(useShell ? "ROLLBACK;\n" : "release\n")).catch(
        () => {},
      );
      await writer.close().catch(() => {});
      const status = await child.status;
      await child.stderr.cancel().catch(() => {});
      assert.ok(status.success, `lock holder exited with ${status.code}`);
    },
  };
}

const HOLDER_SCRIPT = `
import { DatabaseSync } from "node:sqlite";
const db = new DatabaseSync(Deno.args[0]);
db.exec("BEGIN EXCLUSIVE; INSERT INTO audit_log (operation) VALUES ('LOCK_HOLDER');");
for await (const _ of Deno.stdin.readable) break;
db.exec("ROLLBACK");
db.close();
`;

/** Whether another connection holds the write lock of `path` right now. */
export function isWriteLocked(path: string): boolean {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 0");
    db.exec("BEGIN IMMEDIATE");
    db.exec("ROLLBACK");
    return false;
  } catch (error) {
    if (/locked|busy/i.test((error as Error).message)) return true;
    throw error;
  } finally {
    db.close();
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small, seeded pseudo-random generator (mulberry32): the same seed, the same cases. */
export function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    chance: (p: number) => next() < p,
  };
}

/** Files left in `dir` (names only), to prove nothing stray or half-written stayed behind. */
export async function listFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
