/**
 * The viewer's database work runs in workers, each with its own read-only connection, so the
 * server's thread only routes requests and never waits on SQLite: a slow filter cannot hold up
 * other requests, and a request past its time limit is answered at once while its worker is
 * stopped (see `pool.ts`).
 *
 * The worker runs this very module (so `deno compile` embeds it with the rest): loaded in a
 * worker named {@linkcode VIEWER_WORKER_NAME}, it opens the database and answers jobs, sending
 * each answer in pieces, one at a time, each only when the server asks for it (so a slow
 * client holds the worker back instead of filling memory).
 *
 * @module
 */
import { type AuditDatabase, openDatabase } from "../db.ts";
import {
  AuditTrailError,
  commandLineHint,
  DatabaseNotFoundError,
  errorMessage,
} from "../errors.ts";
import { requireCurrentSchema } from "../schema.ts";
import { type WorkerScope, workerScope } from "../worker_scope.ts";
import { runJob } from "./jobs.ts";
import type { ViewerJob } from "./routes.ts";

/** The name by which this module knows it runs in a viewer worker. */
export const VIEWER_WORKER_NAME = "audit-trail-viewer";
/** This module, for `new Worker`. */
export const VIEWER_WORKER_URL: string = import.meta.url;

/** What the server tells a worker. */
export type ToWorker =
  | { type: "open"; path: string; source: string }
  | { type: "job"; id: number; job: ViewerJob }
  | { type: "pull"; id: number }
  | { type: "cancel"; id: number };

/** An error as it crosses to the server: its class name, message and hint. */
export interface WorkerError {
  name: string;
  message: string;
  hint?: string;
}

/** What a worker tells the server. */
export type FromWorker =
  | { type: "ready" }
  | { type: "failed"; error: WorkerError }
  | { type: "chunk"; id: number; text: string }
  | { type: "done"; id: number }
  | { type: "error"; id: number; error: WorkerError };

/** A thrown value as a {@linkcode WorkerError}. */
export function workerError(error: unknown): WorkerError {
  if (error instanceof AuditTrailError) {
    return { name: error.name, message: error.message, hint: commandLineHint(error) };
  }
  return {
    name: "Error",
    message: errorMessage(error),
  };
}

/** Thrown into a job whose client went away. */
class Cancelled extends Error {}

/** Which file `path` names now (`null` where the system gives no file ids). */
function fileIdentity(path: string): string | null {
  try {
    const { dev, ino } = Deno.statSync(path);
    return ino === null ? null : `${dev}:${ino}`;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new DatabaseNotFoundError(path);
    throw error;
  }
}

function openCurrent(path: string): AuditDatabase {
  const db = openDatabase(path, { readOnly: true });
  try {
    requireCurrentSchema(db);
  } catch (error) {
    // The worker is given up; its connection must not keep the file open meanwhile.
    db.close();
    throw error;
  }
  return db;
}

function serve(scope: WorkerScope<ToWorker, FromWorker>): void {
  let db: AuditDatabase | undefined;
  let identity: string | null = null;
  let source = "";
  let path = "";
  /**
   * The connection to the file at `path` now. An open connection goes on reading the file it
   * opened after that file was deleted or replaced (a backup restored over it): the viewer
   * would show a log that is no longer there, and verify it under the path of another.
   */
  const current = (): AuditDatabase => {
    const now = fileIdentity(path);
    // An immutable connection (a full disk) would not see what is written once there is room.
    if (now !== identity || db === undefined || db.immutable) {
      const fresh = openCurrent(path);
      db?.close();
      db = fresh;
      identity = now;
    }
    return db;
  };
  /** The job under way: the next pull (or cancel) settles `waiting`. */
  let waiting: { id: number; resolve(): void; reject(error: Error): void } | undefined;
  scope.onmessage = async ({ data }) => {
    switch (data.type) {
      case "open":
        try {
          ({ source, path } = data);
          current();
          scope.postMessage({ type: "ready" });
        } catch (error) {
          scope.postMessage({ type: "failed", error: workerError(error) });
        }
        return;
      case "pull":
        if (waiting?.id === data.id) waiting.resolve();
        return;
      case "cancel":
        if (waiting?.id === data.id) waiting.reject(new Cancelled());
        return;
      case "job": {
        const { id } = data;
        const sink = {
          write: (text: string) =>
            new Promise<void>((resolve, reject) => {
              waiting = { id, resolve, reject };
              scope.postMessage({ type: "chunk", id, text });
            }),
        };
        try {
          const db = current();
          await runJob(db, data.job, sink, { source, path, file: identity });
          scope.postMessage({ type: "done", id });
        } catch (error) {
          if (error instanceof Cancelled) scope.postMessage({ type: "done", id });
          else scope.postMessage({ type: "error", id, error: workerError(error) });
        } finally {
          waiting = undefined;
        }
      }
    }
  };
}

const scope = workerScope<ToWorker, FromWorker>(VIEWER_WORKER_NAME);
if (scope) serve(scope);
