/**
 * A few workers that answer the viewer's jobs, each job under a time limit.
 *
 * node:sqlite has no way to interrupt a statement (no `sqlite3_interrupt`, no progress
 * handler), so a job past its limit cannot be stopped inside SQLite. What the pool does
 * instead: the request is answered at once (503, "took longer than …"), the worker is
 * terminated and a fresh one takes its place. Termination takes effect in the worker as soon
 * as SQLite hands control back to JavaScript, which every statement of the viewer does after
 * at most one pass over the table (pages are read 1,000 events at a time). So a slow filter
 * costs at most one pass of CPU beyond its limit, and never holds up the server. Should many
 * requests be stopped in a short time, workers are replaced more slowly, and new requests wait
 * (up to their limit) for a free one.
 *
 * @module
 */
import { AuditTrailError } from "../errors.ts";
import type { ViewerJob } from "./routes.ts";
import {
  type FromWorker,
  type ToWorker,
  VIEWER_WORKER_NAME,
  VIEWER_WORKER_URL,
  type WorkerError,
} from "./worker.ts";

/** A request ran past its time limit and was stopped. */
export class TimeLimitError extends AuditTrailError {
  constructor(limitMs: number) {
    super(`The request took longer than ${formatSeconds(limitMs)} and was stopped`, {
      hint:
        "Narrow the filter (a SKU, an operation, a user, a run id or a shorter time range). For a full export use the command line: audit-trail query --limit 0 --format csv",
    });
  }
}

/** Every worker stayed busy for as long as a request may wait. */
export class ViewerBusyError extends AuditTrailError {
  constructor(limitMs: number) {
    super(`The viewer is busy: no worker was free within ${formatSeconds(limitMs)}`, {
      hint: "Other slow requests are running. Try again in a minute, or narrow the filter.",
    });
  }
}

/** The client went away before its answer was ready: the job was stopped. */
export class RequestAbandonedError extends AuditTrailError {
  constructor() {
    super("The request was given up by its client");
  }
}

/** An error a worker met, with the class name it had there. */
export class JobError extends AuditTrailError {
  readonly kind: string;
  constructor(error: WorkerError) {
    super(error.message, { hint: error.hint });
    this.kind = error.name;
  }
}

/** The answer to a job, piece by piece. */
export interface JobPieces {
  /** The first piece (for a page, the whole page). */
  first: string;
  /**
   * The next piece, or `null` at the end. Aborting `signal` stops the job, as for
   * {@linkcode WorkerPool.run}.
   */
  next(signal?: AbortSignal): Promise<string | null>;
  /** Stops the job (the client went away). */
  cancel(): void;
}

/** Options of {@linkcode WorkerPool.start}. */
export interface PoolOptions {
  /** The database file. */
  path: string;
  /** Its name as the pages show it. */
  source: string;
  /** How many workers (default 2). */
  size?: number;
}

interface Slot {
  worker: Worker;
  /** Told of the worker's messages while a job waits on it. */
  listener?: (message: FromWorker) => void;
  /** Told when the worker dies. */
  onDeath?: (error: Error) => void;
}

/** Workers stopped within this window slow down their replacement. */
const STOP_WINDOW_MS = 60_000;
const STOPS_BEFORE_SLOWING = 8;

/** The workers of one viewer. Dispose of it (or `close()`) to end them all. */
export class WorkerPool implements Disposable {
  #options: Required<PoolOptions>;
  #idle: Slot[] = [];
  #all = new Set<Slot>();
  #waiting: { resolve(slot: Slot): void }[] = [];
  #stops: number[] = [];
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #nextId = 0;
  #closed = false;

  private constructor(options: Required<PoolOptions>) {
    this.#options = options;
  }

  /**
   * Starts the workers and waits until each has opened the database.
   *
   * @throws {JobError} When a worker cannot open it.
   */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool({ size: 2, ...options });
    try {
      const slots = await Promise.all(
        Array.from({ length: pool.#options.size }, () => pool.#spawn()),
      );
      for (const slot of slots) pool.#release(slot);
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * Runs `job` on a free worker; every wait (for a free worker, and for each piece of the
   * answer) is bounded by `limitMs`. Aborting `signal` (the client went away) stops the wait
   * for the first piece, and the job with it.
   *
   * @throws {ViewerBusyError} When no worker is free in time.
   * @throws {TimeLimitError} When the first piece does not come in time.
   * @throws {JobError} When the job failed (a bad value, an unreadable database).
   * @throws {RequestAbandonedError} When `signal` was aborted first.
   */
  async run(job: ViewerJob, limitMs: number, signal?: AbortSignal): Promise<JobPieces> {
    const slot = await this.#acquire(limitMs, signal);
    const id = ++this.#nextId;
    this.#post(slot, { type: "job", id, job });
    const first = await this.#receive(slot, id, limitMs, signal);
    if (first.type !== "chunk") {
      this.#release(slot);
      if (first.type === "error") throw new JobError(first.error);
      return { first: "", next: () => Promise.resolve(null), cancel() {} };
    }
    let finished = false;
    let pending = false;
    return {
      first: first.text,
      next: async (signal?: AbortSignal) => {
        if (finished) return null;
        pending = true;
        this.#post(slot, { type: "pull", id });
        let message: FromWorker;
        try {
          message = await this.#receive(slot, id, limitMs, signal);
        } catch (error) {
          finished = true;
          throw error;
        } finally {
          pending = false;
        }
        if (message.type === "chunk") return message.text;
        finished = true;
        this.#release(slot);
        if (message.type === "error") throw new JobError(message.error);
        return null;
      },
      cancel: () => {
        if (finished) return;
        finished = true;
        if (pending) {
          // The worker is inside SQLite or writing: replacing it is the sure way to stop it.
          this.#retire(slot);
          return;
        }
        this.#post(slot, { type: "cancel", id });
        this.#receive(slot, id, limitMs).then(
          () => this.#release(slot),
          () => {}, // already retired
        );
      },
    };
  }

  /** Ends every worker. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    for (const slot of this.#all) slot.worker.terminate();
    this.#all.clear();
    this.#idle = [];
    this.#waiting = [];
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #spawn(): Promise<Slot> {
    const worker = new Worker(VIEWER_WORKER_URL, { type: "module", name: VIEWER_WORKER_NAME });
    const slot: Slot = { worker };
    this.#all.add(slot);
    worker.onmessage = (event: MessageEvent<FromWorker>) => slot.listener?.(event.data);
    worker.onerror = (event) => {
      // Handled here: unhandled, a worker's error would end the whole process.
      event.preventDefault();
      this.#fail(slot, new Error(event.message || "the viewer's worker stopped"));
    };
    worker.onmessageerror = () => this.#fail(slot, new Error("a message could not be read"));
    return new Promise<Slot>((resolve, reject) => {
      slot.onDeath = reject;
      slot.listener = (message) => {
        slot.listener = undefined;
        slot.onDeath = undefined;
        if (message.type === "ready") resolve(slot);
        else if (message.type === "failed") {
          this.#drop(slot);
          reject(new JobError(message.error));
        }
      };
      this.#post(slot, {
        type: "open",
        path: this.#options.path,
        source: this.#options.source,
      });
    });
  }

  #post(slot: Slot, message: ToWorker): void {
    slot.worker.postMessage(message);
  }

  #acquire(limitMs: number, signal?: AbortSignal): Promise<Slot> {
    if (this.#closed) return Promise.reject(new AuditTrailError("The viewer is shutting down"));
    if (signal?.aborted) return Promise.reject(new RequestAbandonedError());
    const slot = this.#idle.pop();
    if (slot) return Promise.resolve(slot);
    return new Promise<Slot>((resolve, reject) => {
      const leave = (error: Error) => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        signal?.removeEventListener("abort", abandoned);
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(error);
      };
      // A client that left must not take a worker from those still waiting.
      const abandoned = () => leave(new RequestAbandonedError());
      const waiter = {
        resolve: (slot: Slot) => {
          clearTimeout(timer);
          this.#timers.delete(timer);
          signal?.removeEventListener("abort", abandoned);
          resolve(slot);
        },
      };
      const timer = setTimeout(() => leave(new ViewerBusyError(limitMs)), limitMs);
      this.#timers.add(timer);
      signal?.addEventListener("abort", abandoned, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(slot: Slot): void {
    if (this.#closed || !this.#all.has(slot)) return;
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(slot);
    else this.#idle.push(slot);
  }

  /**
   * The next message of job `id`; past `limitMs`, or once `signal` is aborted, the worker is
   * replaced (the only way to stop it inside SQLite).
   */
  #receive(slot: Slot, id: number, limitMs: number, signal?: AbortSignal): Promise<FromWorker> {
    return new Promise<FromWorker>((resolve, reject) => {
      const stop = (error: Error) => {
        settle();
        this.#retire(slot);
        reject(error);
      };
      const timer = setTimeout(() => stop(new TimeLimitError(limitMs)), limitMs);
      this.#timers.add(timer);
      const abandoned = () => stop(new RequestAbandonedError());
      const settle = () => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        signal?.removeEventListener("abort", abandoned);
        slot.listener = undefined;
        slot.onDeath = undefined;
      };
      if (signal?.aborted) return abandoned();
      signal?.addEventListener("abort", abandoned, { once: true });
      slot.listener = (message) => {
        if (!("id" in message) || message.id !== id) return;
        settle();
        resolve(message);
      };
      slot.onDeath = (error) => {
        settle();
        reject(error);
      };
    });
  }

  /** A worker died on its own: whoever waited on it is told, and it is replaced. */
  #fail(slot: Slot, error: Error): void {
    const onDeath = slot.onDeath;
    this.#retire(slot);
    onDeath?.(error);
  }

  #drop(slot: Slot): void {
    slot.worker.terminate();
    this.#all.delete(slot);
    this.#idle = this.#idle.filter((s) => s !== slot);
  }

  /** Terminates the worker and starts another in its place (later, after many stops). */
  #retire(slot: Slot): void {
    if (!this.#all.has(slot)) return;
    this.#drop(slot);
    if (this.#closed) return;
    const now = performance.now();
    this.#stops = this.#stops.filter((t) => now - t < STOP_WINDOW_MS);
    this.#stops.push(now);
    const delay = this.#stops.length > STOPS_BEFORE_SLOWING
      ? this.#stops[0] + STOP_WINDOW_MS - now
      : 0;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      this.#spawn().then((fresh) => this.#release(fresh), () => {
        // The database cannot be opened any more (moved, deleted): requests will say so by
        // timing out as busy; the next stop tries again.
      });
    }, delay);
    this.#timers.add(timer);
  }
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number(seconds.toFixed(2))} s`;
}
