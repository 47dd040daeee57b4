/**
 * SHA-256 of archive files in a worker thread, so that `verify --archives` walks the chains
 * while the files are hashed (a tenth of its time for a million events, otherwise). Where no
 * worker can be started, the files are hashed in the calling thread.
 *
 * The worker runs this very module (so `deno compile` embeds it with the rest): loaded in a
 * worker named {@linkcode WORKER_NAME}, it answers one request.
 *
 * @module
 */
import { hashFile } from "../bundle/files.ts";

/** Size and SHA-256 (lowercase hex) of one file. */
export interface FileHash {
  bytes: number;
  sha256: string;
}

/**
 * Hashes every file of `paths`, in a worker thread where one can be started.
 *
 * @returns For each path, its size and SHA-256, or null when it cannot be read.
 */
export function hashFiles(paths: readonly string[]): Promise<(FileHash | null)[]> {
  let worker: Worker;
  try {
    worker = new Worker(import.meta.url, { type: "module", name: WORKER_NAME });
  } catch {
    return inThisThread(paths);
  }
  return new Promise((resolve) => {
    const fallBack = () => {
      worker.terminate();
      resolve(inThisThread(paths));
    };
    worker.onmessage = (event: MessageEvent<(FileHash | null)[]>) => {
      worker.terminate();
      resolve(event.data);
    };
    worker.onerror = (event) => {
      // Handled here: unhandled, a worker's error would end the whole process.
      event.preventDefault();
      fallBack();
    };
    worker.onmessageerror = fallBack;
    try {
      worker.postMessage(paths);
    } catch {
      fallBack();
    }
  });
}

// --- internals -------------------------------------------------------------------------------

const WORKER_NAME = "audit-trail-archive-hash";

async function inThisThread(paths: readonly string[]): Promise<(FileHash | null)[]> {
  const hashes: (FileHash | null)[] = [];
  for (const path of paths) hashes.push(await hashFile(path).catch(() => null));
  return hashes;
}

interface WorkerScope {
  name?: string;
  onmessage: ((event: MessageEvent<string[]>) => void) | null;
  postMessage(message: (FileHash | null)[]): void;
}

const scope = globalThis as unknown as WorkerScope;
if ("WorkerGlobalScope" in globalThis && scope.name === WORKER_NAME) {
  scope.onmessage = async (event) => scope.postMessage(await inThisThread(event.data));
}
