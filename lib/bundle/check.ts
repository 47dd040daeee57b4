/**
 * Checking the live database for a bundle: its figures with SQLite's integrity check, and the
 * walk of its hash chain. Each runs on a connection of its own in a worker, so that the main
 * thread stays free to compress the snapshot meanwhile. Where a worker cannot be started, the
 * checks run in the calling thread instead, one after the other.
 *
 * The worker runs this very module (so `deno compile` embeds it with the rest): loaded in a
 * worker named {@linkcode WORKER_NAME}, it answers one check request.
 *
 * @module
 */
import { CHAIN_SCHEMA_VERSION, type ChainVerifyResult, verifyChain } from "../chain/mod.ts";
import { openDatabase } from "../db.ts";
import { DatabaseBusyError, errorMessage } from "../errors.ts";
import { schemaVersion } from "../schema.ts";
import { workerScope } from "../worker_scope.ts";
import { collectDatabaseStats, type DatabaseStats, type StatsOptions } from "./stats.ts";

/** One check: the figures and integrity check, or the hash chain. */
export type CheckTask = "stats" | "chain";

/** What the worker is asked to do. */
export interface CheckRequest {
  task: CheckTask;
  path: string;
  read: StatsOptions;
}

/** What the worker answers: the result, or the error it met (whether it was a lock). */
export type CheckReply =
  | { ok: true; value: DatabaseStats | ChainVerifyResult | null }
  | { ok: false; busy: boolean; message: string };

/** What {@linkcode checkDatabase} found. */
export interface DatabaseCheck {
  stats: DatabaseStats;
  /**
   * The chain's verification (`null` before schema version 3), or why it could not be made.
   */
  chain: { result: ChainVerifyResult | null } | { error: unknown };
  /** Whether the checks ran in workers (`false`: in the calling thread). */
  inWorkers: boolean;
}

/** Options of {@linkcode checkDatabase}: how to read the database, and how to run. */
export interface CheckOptions extends StatsOptions {
  /** Aborting stops the workers at once. */
  signal?: AbortSignal;
  /** Run the checks in workers (default `true`); `false` runs them in this thread. */
  workers?: boolean;
}

/**
 * Collects `database_stats.json`'s figures and verifies the hash chain of the live database
 * at `path`, both read-only.
 *
 * @throws When the figures cannot be read at all (locked, not a database): the chain's
 * verification is then dropped, as it is worth nothing alone.
 */
export async function checkDatabase(path: string, options: CheckOptions): Promise<DatabaseCheck> {
  const { signal } = options;
  const read: StatsOptions = { busyTimeoutMs: options.busyTimeoutMs, memoryMap: options.memoryMap };
  if (options.workers === false) return await inThread(path, read);
  const chainStop = new AbortController();
  const stopChain = () => chainStop.abort(signal?.reason);
  signal?.addEventListener("abort", stopChain, { once: true });
  try {
    // Both at once: three threads with the compression, which on two busy cores still ends
    // sooner than the chain waiting for the compression (and gets the scheduler's share of
    // three threads where other programs compete).
    const statsRun = inWorker<DatabaseStats>("stats", path, read, signal);
    const chainRun = inWorker<ChainVerifyResult | null>("chain", path, read, chainStop.signal);
    chainRun.catch(() => {}); // settled below, or dropped with the figures
    let stats: DatabaseStats | typeof NO_WORKER;
    try {
      stats = await statsRun;
    } catch (error) {
      chainStop.abort(error);
      throw error;
    }
    if (stats === NO_WORKER) {
      chainStop.abort(new Error("no worker"));
      return await inThread(path, read);
    }
    if (!hasChain(stats)) {
      chainStop.abort(new Error("no chain"));
      return { stats, chain: { result: null }, inWorkers: true };
    }
    let chain: DatabaseCheck["chain"];
    try {
      const result = await chainRun;
      chain = result === NO_WORKER ? await chainInThread(path, read) : { result: result };
    } catch (error) {
      signal?.throwIfAborted();
      chain = { error };
    }
    return { stats, chain, inWorkers: true };
  } finally {
    signal?.removeEventListener("abort", stopChain);
  }
}

/**
 * Runs one check for the worker (or in this thread): `stats` gives the figures, `chain` the
 * chain's verification (`null` before schema version 3).
 */
export async function runCheckTask(
  task: CheckTask,
  path: string,
  read: StatsOptions,
): Promise<DatabaseStats | ChainVerifyResult | null> {
  if (task === "stats") return await collectDatabaseStats(path, read);
  using db = openDatabase(path, { readOnly: true, busyTimeoutMs: read.busyTimeoutMs });
  if (schemaVersion(db) < CHAIN_SCHEMA_VERSION) return null;
  return await verifyChain(db);
}

// --- internals -------------------------------------------------------------------------------

/** The name of the check workers, by which this module knows it runs in one. */
const WORKER_NAME = "audit-trail-database-check";

const scope = workerScope<CheckRequest, CheckReply>(WORKER_NAME);
if (scope) {
  scope.onmessage = async (event) => {
    const { task, path, read } = event.data;
    let reply: CheckReply;
    try {
      reply = { ok: true, value: await runCheckTask(task, path, read) };
    } catch (error) {
      reply = {
        ok: false,
        busy: error instanceof DatabaseBusyError,
        message: errorMessage(error),
      };
    }
    scope.postMessage(reply);
  };
}

const NO_WORKER: unique symbol = Symbol("no worker");

function hasChain(stats: DatabaseStats): boolean {
  return stats.schema_version !== null && stats.schema_version >= CHAIN_SCHEMA_VERSION;
}

/** The checks one after the other in this thread. */
async function inThread(path: string, read: StatsOptions): Promise<DatabaseCheck> {
  const stats = await collectDatabaseStats(path, read);
  const chain = hasChain(stats) ? await chainInThread(path, read) : { result: null };
  return { stats, chain, inWorkers: false };
}

async function chainInThread(path: string, read: StatsOptions): Promise<DatabaseCheck["chain"]> {
  try {
    return { result: await runCheckTask("chain", path, read) as ChainVerifyResult | null };
  } catch (error) {
    return { error };
  }
}

/**
 * Runs `task` in a worker of its own, ended as soon as it answers or `signal` aborts (so no
 * worker ever keeps the process alive). Resolves to `NO_WORKER` when the worker cannot be
 * started or dies without answering.
 */
function inWorker<T>(
  task: CheckTask,
  path: string,
  read: StatsOptions,
  signal?: AbortSignal,
): Promise<T | typeof NO_WORKER> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  let worker: Worker;
  try {
    worker = new Worker(import.meta.url, { type: "module", name: WORKER_NAME });
  } catch {
    return Promise.resolve(NO_WORKER);
  }
  return new Promise<T | typeof NO_WORKER>((resolve, reject) => {
    const end = () => {
      worker.terminate();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      end();
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    worker.onmessage = (event: MessageEvent<CheckReply>) => {
      end();
      const reply = event.data;
      if (reply.ok) resolve(reply.value as T);
      else reject(reply.busy ? new DatabaseBusyError(path) : new Error(reply.message));
    };
    worker.onerror = (event) => {
      // Handled here: unhandled, a worker's error would end the whole process.
      event.preventDefault();
      end();
      resolve(NO_WORKER);
    };
    worker.onmessageerror = () => {
      end();
      resolve(NO_WORKER);
    };
    try {
      worker.postMessage({ task, path, read } satisfies CheckRequest);
    } catch {
      end();
      resolve(NO_WORKER);
    }
  });
}
