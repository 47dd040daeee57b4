/**
 * Run ids: the key that groups the events of one batch operation.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/** Longest run id a user may give. */
export const MAX_RUN_ID_LENGTH = 128;

/**
 * Makes a new run id: `run_` + UTC date and time + 8 lowercase hex digits from a
 * cryptographic random source.
 *
 * @param now The time to stamp into the id (default: the current time).
 * @returns The run id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateRunId } from "../mod.ts";
 * const id = generateRunId(new Date("2026-02-16T09:30:05Z"));
 * assert.match(id, /^run_20260216_093005_[0-9a-f]{8}$/);
 * ```
 */
export function generateRunId(now: Date = new Date()): string {
  const stamp = now.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ, always UTC
  const date = stamp.slice(0, 10).replaceAll("-", "");
  const time = stamp.slice(11, 19).replaceAll(":", "");
  const random = crypto.getRandomValues(new Uint8Array(4));
  const hex = Array.from(random, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `run_${date}_${time}_${hex}`;
}

/**
 * Returns why `runId` is not an acceptable run id, or `null` when it is: 1–128 printable
 * ASCII characters, no whitespace.
 */
export function runIdProblem(runId: string): string | null {
  if (runId.length === 0) return "run id must not be empty";
  if (runId.length > MAX_RUN_ID_LENGTH) {
    return `run id is ${runId.length} characters long; at most ${MAX_RUN_ID_LENGTH} are allowed`;
  }
  if (/\s/.test(runId)) return `run id "${runId}" contains whitespace`;
  if (!/^[\x21-\x7e]+$/.test(runId)) {
    return `run id ${JSON.stringify(runId)} may hold only printable ASCII characters`;
  }
  return null;
}

/** Throws a {@linkcode UsageError} unless `runId` is acceptable (see {@linkcode runIdProblem}). */
export function validateRunId(runId: string): string {
  const problem = runIdProblem(runId);
  if (problem) {
    throw new UsageError(capitalize(problem), {
      hint: "Use the id printed by audit-trail batch start, or 1-128 characters without spaces.",
    });
  }
  return runId;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
