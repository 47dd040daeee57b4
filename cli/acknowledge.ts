/**
 * Printing a result once what it reports is committed. If the output cannot be written then
 * (a full disk, a closed file), the write stands: the error must say so, or a retry would
 * store the same events twice.
 *
 * @module
 */
import { AuditTrailError, errorMessage } from "../lib/errors.ts";
import { OutputError } from "./context.ts";

/** Something was committed, but the result that reports it could not be written out. */
export class ResultNotWrittenError extends AuditTrailError {}

/**
 * Runs `print`, which writes the result of a write that is already committed. When it fails,
 * throws a {@linkcode ResultNotWrittenError} that starts with `stored` ("Event 42 was stored")
 * and names `what` could not be written, with `hint` (what to do instead of running again).
 * A reader that went away (`BrokenPipe`) is not a failure of this kind: it passes through.
 */
export async function acknowledge(
  stored: string,
  what: string,
  hint: string,
  print: () => Promise<unknown>,
): Promise<void> {
  try {
    await print();
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) throw error;
    const cause = error instanceof OutputError ? error.cause : error;
    throw new ResultNotWrittenError(
      `${stored}; ${what} could not be written: ${errorMessage(cause)}`,
      {
        hint,
        cause,
      },
    );
  }
}
