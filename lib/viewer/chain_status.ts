/**
 * What the viewer last learned of the chain: the overview shows it, so that its first page
 * never looks healthy over a broken proof. Walking the chain takes seconds (2.3 s at a million
 * events), so it is walked once when the viewer starts and again when the chain's page (or its
 * JSON) is asked for, never per page load; requests that come while a walk is under way share
 * its verdict rather than start another, so reloading the chain's page does not take one
 * worker after another. The verdict keeps the head it covered and when it was made, so the
 * overview can say which events came after it and are not yet checked.
 *
 * @module
 */
import type { ChainVerifyResult } from "../chain/mod.ts";
import { AuditTrailError, errorMessage } from "../errors.ts";

/** What a walk answers: its verdict, and which file it walked (`null`: cannot tell). */
export interface ChainWalk {
  result: ChainVerifyResult;
  file: string | null;
}

/** The verdict of one walk of the chain, or why there is none. */
export type ChainCheck =
  | { checked_at: string; result: ChainVerifyResult; file: string | null }
  | { checked_at: string; error: string };

/**
 * Whether the file the path names now is not the one the last walk checked (a backup restored
 * over it): that walk's verdict says nothing of it.
 */
export function replacedSince(status: ChainStatus, file: string | null | undefined): boolean {
  const last = status.last;
  return last !== null && "result" in last && last.file !== null && file != null &&
    last.file !== file;
}

/** What the overview is told: the latest verdict, and whether a walk is under way. */
export interface ChainStatus {
  /** The verdict of the latest walk that ended, or null before the first ends. */
  last: ChainCheck | null;
  /** Whether a walk is under way. */
  running: boolean;
}

/** The server's record of the chain's walks. */
export class ChainWatch {
  #walk: () => Promise<ChainWalk>;
  #last: ChainCheck | null = null;
  #running: Promise<ChainVerifyResult> | null = null;
  #checks = 0;

  /** `walk` walks the whole chain (on a worker) and answers its verdict. */
  constructor(walk: () => Promise<ChainWalk>) {
    this.#walk = walk;
  }

  /** The status to show now. */
  get status(): ChainStatus {
    return { last: this.#last, running: this.#running !== null };
  }

  /** How many walks were started (the viewer's tests count them). */
  get checks(): number {
    return this.#checks;
  }

  /**
   * The verdict of a walk that starts now, or of the one under way: a walk's snapshot is
   * taken when it starts, so one under way covers the events logged before the request, or
   * all but those logged in the instant since.
   */
  check(): Promise<ChainVerifyResult> {
    if (this.#running) return this.#running;
    this.#checks++;
    const checked_at = new Date().toISOString();
    const walk = this.#walk().then(
      ({ result, file }) => {
        this.#last = { checked_at, result, file };
        return result;
      },
      (error) => {
        const hint = error instanceof AuditTrailError && error.hint ? ` ${error.hint}` : "";
        this.#last = { checked_at, error: `${errorMessage(error)}.${hint}` };
        throw error;
      },
    ).finally(() => {
      this.#running = null;
    });
    this.#running = walk;
    return walk;
  }
}
