/**
 * Running the steps of a bundle: each one timed, bounded in time, reported to a progress
 * callback, and, when it fails, recorded as an error while the next one still runs.
 *
 * @module
 */
import { join } from "node:path";
import { fileSize } from "./files.ts";
import type { BundleError, StepRecord } from "./manifest.ts";

/** A step starting or ending, for a progress display. */
export interface BundleProgress {
  /** 1-based number of the step. */
  step: number;
  /** How many steps there are. */
  steps: number;
  /** What the step does, e.g. `Copying the database`. */
  title: string;
  /** The file the step writes, if any. */
  file: string | null;
  state: "start" | "done" | "partial" | "failed" | "skipped";
  /** Bytes written by the step (when done). */
  bytes?: number | undefined;
  durationMs?: number | undefined;
  /** A note (when done) or the error (when failed). */
  message?: string | undefined;
}

/** What a collection step reports when it ends. */
export interface StepReport {
  /** The files it wrote. */
  files?: string[] | undefined;
  /** A note for the progress display. */
  note?: string | undefined;
  /** Parts it could not collect: the step is then partial, and each becomes an error. */
  problems?: string[] | undefined;
}

interface RunnerOptions {
  steps: number;
  /** The folder the steps write to. */
  dir: string;
  errors: BundleError[];
  onProgress?: ((progress: BundleProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** One time limit for every step, instead of each step's own. */
  timeoutMs?: number | undefined;
  describe: (error: unknown) => string;
}

/** Runs steps in order; see {@linkcode stepRunner}. */
export interface StepRunner {
  /** What ran so far, for the manifest. */
  records: StepRecord[];
  /**
   * Runs one collection step within `timeoutMs`. A failure, a timeout or a problem it reports
   * becomes an entry of `errors`; only an abort of the whole bundle is thrown.
   */
  step(
    title: string,
    file: string,
    timeoutMs: number,
    work: (signal: AbortSignal) => Promise<StepReport>,
  ): Promise<void>;
  /** Records a step that cannot run. */
  skip(title: string, file: string, reason: string): void;
  /**
   * Runs a step the bundle cannot do without: its failure is thrown. `measure` gives the size
   * to show from the result.
   */
  final<T>(
    title: string,
    file: string,
    work: () => Promise<T>,
    measure?: (result: T) => Promise<number | null>,
  ): Promise<T>;
}

/** How long an aborted step may take to stop before the bundle goes on without it. */
const GRACE_MS = 2_000;

/** A runner for `options.steps` steps. */
export function stepRunner(options: RunnerOptions): StepRunner {
  const records: StepRecord[] = [];
  let number = 0;
  const progress = (event: Omit<BundleProgress, "step" | "steps">) =>
    options.onProgress?.({ step: number, steps: options.steps, ...event });
  // Final steps are not recorded: they end after the manifest that would list them is made.
  const begin = (title: string, file: string, recorded = true) => {
    const record: StepRecord = { step: ++number, name: title, file, status: "ok", duration_ms: 0 };
    if (recorded) records.push(record);
    progress({ title, file, state: "start" });
    return { record, started: performance.now() };
  };

  return {
    records,
    async step(title, file, timeoutMs, work) {
      options.signal?.throwIfAborted();
      const { record, started } = begin(title, file);
      // A turn of the event loop lets a progress display show the step before a long
      // synchronous SQLite call holds the thread.
      await new Promise((resolve) => setTimeout(resolve, 0));
      const limit = options.timeoutMs ?? timeoutMs;
      const controller = new AbortController();
      const stop = () => controller.abort(options.signal?.reason);
      options.signal?.addEventListener("abort", stop);
      let timedOut = false;
      const giveUp = abandoned(controller.signal);
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error(`Timed out after ${Math.round(limit / 1000)} s`));
      }, limit);
      try {
        const running = work(controller.signal);
        running.catch(() => {}); // it may settle after the bundle moved on
        const report = await Promise.race([running, giveUp.promise]);
        const problems = report.problems ?? [];
        for (const message of problems) options.errors.push({ step: file, message });
        record.status = problems.length ? "partial" : "ok";
        record.duration_ms = Math.round(performance.now() - started);
        let bytes = 0;
        for (const name of report.files ?? []) {
          bytes += (await fileSize(join(options.dir, name))) ?? 0;
        }
        progress({
          title,
          file,
          state: problems.length ? "partial" : "done",
          bytes,
          durationMs: record.duration_ms,
          message: problems.length ? problems.join("; ") : report.note,
        });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const message = timedOut
          ? `Timed out after ${Math.round(limit / 1000)} s`
          : options.describe(error);
        options.errors.push({ step: file, message });
        record.status = timedOut ? "timed_out" : "failed";
        record.duration_ms = Math.round(performance.now() - started);
        // Half a file is worse than none: a failed step's file is not shipped.
        await Deno.remove(join(options.dir, file)).catch(() => {});
        progress({ title, file, state: "failed", durationMs: record.duration_ms, message });
      } finally {
        clearTimeout(timer);
        giveUp.cancel();
        options.signal?.removeEventListener("abort", stop);
      }
    },
    skip(title, file, reason) {
      const { record } = begin(title, file);
      record.status = "skipped";
      progress({ title, file, state: "skipped", message: reason });
    },
    async final(title, file, work, measure) {
      options.signal?.throwIfAborted();
      const { record, started } = begin(title, file, false);
      const result = await work();
      record.duration_ms = Math.round(performance.now() - started);
      const bytes = (await measure?.(result)) ?? undefined;
      progress({ title, file, state: "done", bytes, durationMs: record.duration_ms });
      return result;
    },
  };
}

/**
 * Rejects a while after `signal` aborts: a step that does not stop by itself (a read hanging
 * on a network drive) is left behind instead of holding up the bundle.
 */
function abandoned(signal: AbortSignal): { promise: Promise<never>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => {
      timer = setTimeout(() => reject(signal.reason), GRACE_MS);
    }, { once: true });
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
