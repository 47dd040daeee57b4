/**
 * Reading newline-delimited JSON from a byte stream, a line at a time, in bounded memory.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";
import type { NumberedInput } from "./events.ts";

/** Longest input line accepted, in bytes: far above any valid event, far below trouble. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Yields each non-blank line of `stream` parsed as JSON, with its 1-based line number.
 * Accepts LF and CRLF line endings and a leading byte order mark.
 *
 * @throws {InvalidInputError} For a line that is not UTF-8, not JSON, or too long.
 */
export async function* readNdjson(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<NumberedInput> {
  let line = 0;
  for await (const text of readLines(stream)) {
    line++;
    const trimmed = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    if (trimmed.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      throw new InvalidInputError(line, `not valid JSON (${(error as Error).message})`, {
        hint: "Each line must be one JSON object. Nothing from this input was stored.",
      });
    }
    yield { line, value };
  }
}

/** Yields the lines of `stream` as text, without their `\n` or `\r\n`. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending: Uint8Array = new Uint8Array(0);
  let line = 0;
  for await (const chunk of stream) {
    let bytes = pending.length ? concat(pending, chunk) : chunk;
    const lastNewline = bytes.lastIndexOf(NEWLINE);
    if (lastNewline === -1) {
      if (bytes.length > MAX_LINE_BYTES) throw tooLong(line + 1);
      pending = bytes.slice();
      continue;
    }
    // Decoding a whole run of lines at once is much cheaper than one decode per line.
    const complete = bytes.subarray(0, lastNewline);
    pending = bytes.slice(lastNewline + 1);
    bytes = new Uint8Array(0);
    for (const text of decodeLines(complete, line)) {
      line++;
      if (text.length > MAX_LINE_BYTES) throw tooLong(line);
      yield text.endsWith("\r") ? text.slice(0, -1) : text;
    }
    if (pending.length > MAX_LINE_BYTES) throw tooLong(line + 1);
  }
  if (pending.length > 0) {
    for (const text of decodeLines(pending, line)) {
      yield text.endsWith("\r") ? text.slice(0, -1) : text;
    }
  }
}

function decodeLines(bytes: Uint8Array, linesBefore: number): string[] {
  try {
    return decoder.decode(bytes).split("\n");
  } catch {
    // Find the offending line to name it.
    let start = 0;
    let line = linesBefore;
    while (start <= bytes.length) {
      line++;
      let end = bytes.indexOf(NEWLINE, start);
      if (end === -1) end = bytes.length;
      try {
        decoder.decode(bytes.subarray(start, end));
      } catch {
        throw new InvalidInputError(line, "is not valid UTF-8 text", {
          hint: "Save the input as UTF-8. Nothing from this input was stored.",
        });
      }
      start = end + 1;
    }
    throw new InvalidInputError(linesBefore + 1, "is not valid UTF-8 text");
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function tooLong(line: number): InvalidInputError {
  return new InvalidInputError(line, `is longer than ${MAX_LINE_BYTES / 1024 / 1024} MiB`, {
    hint: "One line holds one event (details at most 65,536 characters). Nothing was stored.",
  });
}
