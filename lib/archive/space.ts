/**
 * Giving the space of archived events back to the file system, in a worker thread with a
 * connection of its own. node:sqlite offers no way to interrupt a statement (no
 * `sqlite3_interrupt`, no progress handler), and a VACUUM of a large database holds the thread
 * that runs it for minutes: run here, this thread stays free to answer Ctrl-C or SIGTERM.
 * A VACUUM that is stopped (the worker left behind, the process ending) commits nothing:
 * SQLite rolls it back as after a crash, and the database stays as the archive's commit left
 * it.
 *
 * The worker runs this very module (so `deno compile` embeds it with the rest): loaded in a
 * worker named {@linkcode WORKER_NAME}, it answers one request.
 *
 * @module
 */
import { guard, openDatabase } from "../db.ts";
import { errorMessage } from "../errors.ts";
import { workerScope } from "../worker_scope.ts";

/**
 * How the space goes back: pages moved off the end, or the whole file rewritten; with
 * auto_vacuum = FULL the commit gave it back already, and only the write-ahead log is emptied.
 */
export type Reclaim = "incremental" | "vacuum" | "checkpoint";

/**
 * Gives the freed pages of the database at `path` back, in a worker (in this thread where no
 * worker can be started). Resolves `"done"`, or `"stopped"` as soon as `signal` aborts: the
 * worker's statement then commits nothing unless it ends first, and the process may exit.
 *
 * @throws {Error} What the statement failed with (a busy database, a full disk).
 */
export function reclaimSpace(
  path: string,
  how: Reclaim,
  signal?: AbortSignal,
): Promise<"done" | "stopped"> {
  if (signal?.aborted) return Promise.resolve("stopped");
  let worker: Worker;
  try {
    worker = new Worker(import.meta.url, { type: "module", name: WORKER_NAME });
  } catch {
    run(path, how);
    return Promise.resolve("done");
  }
  return new Promise((resolve, reject) => {
    const end = () => {
      signal?.removeEventListener("abort", stop);
      worker.terminate();
    };
    const stop = () => {
      end();
      resolve("stopped");
    };
    signal?.addEventListener("abort", stop, { once: true });
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      end();
      if (event.data.error === undefined) resolve("done");
      else reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      // Handled here: unhandled, a worker's error would end the whole process.
      event.preventDefault();
      end();
      reject(new Error(event.message));
    };
    worker.postMessage({ path, how } satisfies WorkerRequest);
  });
}

// --- internals -------------------------------------------------------------------------------

const WORKER_NAME = "audit-trail-archive-space";

interface WorkerRequest {
  path: string;
  how: Reclaim;
}

interface WorkerReply {
  error?: string;
}

function run(path: string, how: Reclaim): void {
  using db = openDatabase(path);
  guard(path, () => {
    // Stepped to the end with all(): exec() of this pragma frees only one page.
    if (how === "incremental") db.sqlite.prepare("PRAGMA incremental_vacuum").all();
    else if (how === "vacuum") db.sqlite.exec("PRAGMA auto_vacuum = INCREMENTAL; VACUUM");
    db.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  });
}

const scope = workerScope<WorkerRequest, WorkerReply>(WORKER_NAME);
if (scope) {
  scope.onmessage = (event) => {
    try {
      run(event.data.path, event.data.how);
      scope.postMessage({});
    } catch (error) {
      scope.postMessage({ error: errorMessage(error) });
    }
  };
}
