/**
 * The bundle launcher for support staff: double-click it, wait, and mail the ZIP it names.
 * It makes the compressed debug bundle with the defaults, shows each step, says in plain
 * words where the ZIP is, and keeps its window open until Enter is pressed.
 *
 * `deno compile` turns this file into its own executable, next to `audit-trail`.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { BundleFolderError, exportDebugBundle } from "./lib/bundle/mod.ts";
import { AuditTrailError, errorMessage } from "./lib/errors.ts";
import { writeAll } from "./lib/io.ts";
import type { TextSink } from "./lib/output.ts";
import { INTERRUPTED_MESSAGE, progressPrinter } from "./cli/bundle.ts";
import { interruptible, Interruption } from "./cli/interrupt.ts";

/** What the launcher needs from its process, so tests can run it in-process. */
export interface LauncherIo {
  /** Where everything is shown: the console window. */
  out: TextSink;
  env(name: string): string | undefined;
  cwd(): string;
  /** The launcher executable's own path. */
  execPath(): string;
  /** Whether the file exists (to find the database). */
  exists(path: string): boolean;
  /** Waits for Enter when a person is at the window; `null` when nobody is (a pipe). */
  waitForEnter: (() => Promise<void>) | null;
  /**
   * Where the bundle goes when the folder beside the database cannot take it (read-only,
   * full): the person at the window has no option to give another.
   */
  fallbackDir?: () => string;
}

/**
 * The database the launcher bundles: `$AUDIT_TRAIL_DB`, else `data/app.db` under the current
 * folder, else `data/app.db` beside the launcher itself (a double-click may start it in
 * another folder), else `data/app.db` under the current folder, to report as missing.
 */
export function launcherDatabasePath(io: LauncherIo): string {
  const fromEnv = io.env("AUDIT_TRAIL_DB");
  if (fromEnv) return fromEnv;
  const here = join(io.cwd(), "data", "app.db");
  if (io.exists(here)) return here;
  const besideLauncher = join(dirname(io.execPath()), "data", "app.db");
  return io.exists(besideLauncher) ? besideLauncher : here;
}

/**
 * Makes the compressed bundle with the defaults and tells the person what to do with it.
 *
 * @returns The exit code: 0 for a complete bundle, 1 for a partial one or none, 130 when
 * interrupted (143 for SIGTERM).
 */
export async function runLauncher(io: LauncherIo): Promise<number> {
  const database = launcherDatabasePath(io);
  await io.out.write(
    `audit-trail debug bundle\nCollecting information for support from ${database}\n\n`,
  );
  const printer = progressPrinter(io.out);
  const bundle = (outputDir?: string) =>
    interruptible((signal) =>
      exportDebugBundle({
        database,
        outputDir,
        compress: true,
        onProgress: printer.onProgress,
        signal,
      })
    ).finally(() => printer.flushed());
  let code: number;
  try {
    const outcome = await bundle().catch(async (error) => {
      if (!(error instanceof BundleFolderError) || !io.fallbackDir) throw error;
      const fallback = io.fallbackDir();
      await io.out.write(`${error.message}\nTrying this folder instead: ${fallback}\n\n`);
      return await bundle(fallback);
    });
    if (outcome instanceof Interruption) {
      await io.out.write(`\nStopped: ${INTERRUPTED_MESSAGE}.\n`);
      code = outcome.exitCode;
    } else {
      await io.out.write(
        `\nDone. The debug bundle is this file:\n\n    ${outcome.path}\n\n` +
          "Please e-mail this file to support.\n",
      );
      if (!outcome.complete) {
        await io.out.write(
          "Some information could not be collected; the file says what and why. " +
            "Send it anyway.\n",
        );
      }
      code = outcome.complete ? 0 : 1;
    }
  } catch (error) {
    const message = errorMessage(error);
    const hint = error instanceof AuditTrailError && error.hint ? `${error.hint}\n` : "";
    await io.out.write(
      `\nNo debug bundle could be made: ${message}\n${hint}` +
        "Please send support a photo or copy of this window.\n",
    );
    code = 1;
  }
  if (io.waitForEnter) {
    await io.out.write("\nPress Enter to close this window.\n");
    await io.waitForEnter();
  }
  return code;
}

async function readLine(): Promise<void> {
  const buffer = new Uint8Array(256);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null || buffer.subarray(0, n).includes(10)) return;
  }
}

if (import.meta.main) {
  const code = await runLauncher({
    out: { write: (text) => writeAll(Deno.stdout, text) },
    env: (name) => Deno.env.get(name),
    cwd: () => Deno.cwd(),
    execPath: () => Deno.execPath(),
    exists: (path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    },
    waitForEnter: Deno.stdin.isTerminal() ? readLine : null,
    fallbackDir: () => join(tmpdir(), "audit-trail-debug-bundles"),
  });
  Deno.exit(code);
}
