/**
 * Stopping a long command the way people and services stop it (Ctrl-C, a service manager's
 * SIGTERM, Ctrl-Break on Windows) at a point where it can clean up after itself, rather than
 * wherever the signal finds it.
 *
 * @module
 */

/** The signals that ask a command to stop, on this system. */
const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/** 128 + the signal's number: how a shell reports a process that signal ended. */
const EXIT_CODES: Partial<Record<Deno.Signal, number>> = {
  SIGINT: 130,
  SIGTERM: 143,
  SIGBREAK: 149,
};

/**
 * Calls `handler` with the signal each time one of the stop signals comes, instead of letting
 * it end the process. Returns what removes the listeners: the signals then end the process
 * again the default way.
 */
export function listenForStop(handler: (signal: Deno.Signal) => void): () => void {
  const added: [Deno.Signal, () => void][] = [];
  for (const name of STOP_SIGNALS) {
    const listener = () => handler(name);
    try {
      Deno.addSignalListener(name, listener);
      added.push([name, listener]);
    } catch {
      // This system cannot catch it: it then ends the process the default way.
    }
  }
  return () => added.forEach(([name, listener]) => Deno.removeSignalListener(name, listener));
}

/** What {@linkcode interruptible} returns when a stop signal ended the work. */
export class Interruption {
  constructor(readonly signal: Deno.Signal) {}

  /** The exit code to end with, as if the signal had ended the process. */
  get exitCode(): number {
    return EXIT_CODES[this.signal] ?? 130;
  }
}

/** The reason of the abort: which stop signal came. */
class StopRequested extends Error {
  constructor(readonly stopSignal: Deno.Signal) {
    super("Interrupted");
  }
}

/**
 * The {@linkcode Interruption} of a stop signal that came while {@linkcode interruptible}'s work
 * ran, for work that completed all the same (what it had done could not be undone) and must
 * still end as stopped; undefined when none came.
 */
export function interruptionOf(signal: AbortSignal): Interruption | undefined {
  const reason = signal.reason;
  return reason instanceof StopRequested ? new Interruption(reason.stopSignal) : undefined;
}

/**
 * Runs `work` with a signal that the stop signals abort. The work stops at its next step,
 * removes what it had not finished, and throws; then this returns an {@linkcode Interruption}.
 * Work that completes although a signal came returns its result.
 */
export async function interruptible<T>(
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T | Interruption> {
  const controller = new AbortController();
  let stoppedBy: Deno.Signal | undefined;
  const stopListening = listenForStop((signal) => {
    stoppedBy ??= signal;
    controller.abort(new StopRequested(signal));
  });
  try {
    return await work(controller.signal);
  } catch (error) {
    if (stoppedBy) return new Interruption(stoppedBy);
    throw error;
  } finally {
    stopListening();
  }
}

/** setTimeout's longest delay: a longer one fires at once (after a warning on stderr). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Waits `ms` (any length: a long wait is taken in steps the timer can hold), or until `signal`
 * aborts. Timed by the monotonic clock, not the wall clock: a PC whose clock is set back (a
 * year ahead, then corrected) would otherwise wait until the wall clock caught up again.
 */
export function waitOrStop(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const until = performance.now() + ms;
    let timer = setTimeout(step, Math.min(ms, LONGEST_TIMER_MS));
    signal.addEventListener("abort", done, { once: true });
    function step() {
      const left = until - performance.now();
      if (left > 0) timer = setTimeout(step, Math.min(left, LONGEST_TIMER_MS));
      else done();
    }
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
