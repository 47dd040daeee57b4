/**
 * Shared test helpers: temporary folders that clean themselves up, and running the real
 * `cli.ts` in a subprocess with exactly the permissions the compiled binary gets.
 *
 * @module
 */
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PERMISSION_FLAGS } from "../scripts/permissions.ts";

export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
export const CLI: string = join(ROOT, "cli.ts");

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
}

/** Runs `deno run <PERMISSION_FLAGS> cli.ts ...args` and collects its output. */
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

/** The `Deno.Command` for the CLI, for tests that need to control the process themselves. */
export function cliCommand(args: string[], options: CliOptions = {}): Deno.Command {
  // Empty values count as unset, so the runner's own AUDIT_TRAIL_* settings cannot leak in.
  const env: Record<string, string> = {
    NO_COLOR: "1",
    AUDIT_TRAIL_DB: "",
    AUDIT_TRAIL_RUN_ID: "",
    AUDIT_TRAIL_USER: "",
    ...options.env,
  };
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMISSION_FLAGS, CLI, ...args],
    cwd: options.cwd,
    env,
    clearEnv: false,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
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
