/**
 * Checking the archive files of `verify --archives` in two threads: a worker takes the files
 * one by one (walks each chain, then hashes the file) while this thread walks the live log, and
 * this thread joins in once it is done, taking the files the worker has not taken yet. So two
 * cores share the work, and one core does it all where no worker can be started.
 *
 * The worker runs this very module (so `deno compile` embeds it with the rest): loaded in a
 * worker named {@linkcode ARCHIVE_CHECK_WORKER}, it answers one request.
 *
 * @module
 */
import { hashFile } from "../bundle/files.ts";
import { notReadBecause } from "../errors.ts";
import { workerScope } from "../worker_scope.ts";
import { type ArchiveFileCheck, type ArchiveRange, checkArchiveFile } from "./file.ts";

/** One archive file to check: where it is, its name, and what its checkpoint says. */
export interface FileToCheck {
  path: string;
  name: string;
  expected: ArchiveRange;
}

/** What checking one archive file found. */
export interface FileCheck {
  /** False when there is no such file. */
  exists: boolean;
  /** The file's chain checked against its checkpoint (null when missing). */
  check: ArchiveFileCheck | null;
  /** Size and SHA-256 of the file (null when missing or its chain failed already). */
  hash: { bytes: number; sha256: string } | null;
  /**
   * Why the file could not be opened at all (no permission to read it, say), when it is
   * there: that says nothing about its events, so it is no finding of tampering.
   */
  unreadable?: string;
}

/** Checks under way: {@linkcode ArchiveChecks.finish} joins in and returns every result. */
export interface ArchiveChecks {
  /** Checks the files no thread has taken yet here, then waits for the worker's. */
  finish(): Promise<FileCheck[]>;
}

/**
 * Starts checking `files` in a worker thread; the caller goes on with its own work and then
 * calls `finish()`. `worker`: whether to start one (default: when the files hold enough events
 * to be worth it).
 */
export function startArchiveChecks(
  files: readonly FileToCheck[],
  worker: boolean = files.reduce((sum, file) => sum + file.expected.events, 0) >=
    WORKER_MIN_EVENTS,
): ArchiveChecks {
  const results: (FileCheck | undefined)[] = new Array(files.length);
  // The index of the next file to take, shared by both threads.
  const next = new Int32Array(new SharedArrayBuffer(4));
  let workerDone: Promise<void> = Promise.resolve();
  if (worker && files.length > 0) {
    try {
      const helper = new Worker(import.meta.url, { type: "module", name: ARCHIVE_CHECK_WORKER });
      workerDone = new Promise<void>((resolve) => {
        const end = () => {
          helper.terminate();
          resolve();
        };
        helper.onmessage = (event: MessageEvent<WorkerReply>) => {
          if (event.data === null) end();
          else results[event.data.index] = event.data.result;
        };
        helper.onerror = (event) => {
          // Handled here: unhandled, a worker's error would end the whole process. What it
          // took and did not answer is checked again in this thread.
          event.preventDefault();
          end();
        };
        helper.onmessageerror = end;
        helper.postMessage({ files, next } satisfies WorkerRequest);
      });
    } catch {
      // No worker here: this thread checks every file.
    }
  }
  return {
    async finish() {
      for (let i; (i = Atomics.add(next, 0, 1)) < files.length;) {
        results[i] = await checkFile(files[i]!);
      }
      await workerDone;
      for (let i = 0; i < files.length; i++) results[i] ??= await checkFile(files[i]!);
      return results as FileCheck[];
    },
  };
}

// --- internals -------------------------------------------------------------------------------

/** The name of the worker that runs this module (exported for its tests). */
export const ARCHIVE_CHECK_WORKER = "audit-trail-archive-check";
/**
 * Below this many archived events a worker costs more than it saves: starting one (a new
 * isolate loading SQLite and the chain code) takes about as long as walking 100,000 events.
 */
const WORKER_MIN_EVENTS = 100_000;

interface WorkerRequest {
  files: readonly FileToCheck[];
  next: Int32Array;
}

/** One file's result, or null once the worker has no more to take. */
type WorkerReply = { index: number; result: FileCheck } | null;

async function checkFile(file: FileToCheck): Promise<FileCheck> {
  try {
    if (!Deno.statSync(file.path).isFile) return { exists: false, check: null, hash: null };
    (await Deno.open(file.path, { read: true })).close();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { exists: false, check: null, hash: null };
    return { exists: true, check: null, hash: null, unreadable: notReadBecause(error) };
  }
  const check = checkArchiveFile(file.path, file.name, file.expected);
  const hash = check.failure ? null : await hashFile(file.path).catch(() => null);
  return { exists: true, check, hash };
}

const scope = workerScope<WorkerRequest, WorkerReply>(ARCHIVE_CHECK_WORKER);
if (scope) {
  scope.onmessage = async (event) => {
    const { files, next } = event.data;
    for (let i; (i = Atomics.add(next, 0, 1)) < files.length;) {
      scope.postMessage({ index: i, result: await checkFile(files[i]!) });
    }
    scope.postMessage(null);
  };
}
