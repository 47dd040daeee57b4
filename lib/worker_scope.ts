/**
 * Modules that are their own worker's code (so `deno compile` embeds the worker with the rest):
 * loaded in a worker of their name, they answer its messages; loaded anywhere else, they do
 * nothing at load.
 *
 * @module
 */

/** A worker's global scope, as far as audit-trail's workers use it. */
export interface WorkerScope<Request, Reply> {
  name?: string;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: Reply): void;
}

/** This thread's scope when it is a worker named `name`, else null. */
export function workerScope<Request, Reply>(name: string): WorkerScope<Request, Reply> | null {
  const scope = globalThis as unknown as WorkerScope<Request, Reply>;
  return "WorkerGlobalScope" in globalThis && scope.name === name ? scope : null;
}
