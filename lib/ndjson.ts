/**
 * Reading newline-delimited JSON from a byte stream, a line at a time, in bounded memory.
 *
 * @module
 */
import { AuditTrailError, errorMessage, InvalidInputError } from "./errors.ts";
import type { NumberedInput } from "./bulk_append.ts";

/** Longest input line accepted, in bytes: far above any valid event, far below trouble. */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const OPEN_BRACE = 0x7b;
const EMPTY = new Uint8Array(0);
// ignoreBOM keeps a BOM in the text: otherwise every decode() call would drop one at its
// start, so a BOM inside the input would pass or fail depending on where a chunk began.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Input read synchronously, such as `Deno.stdin` or an open `Deno.FsFile`. A bulk ingest reads
 * its input this way: each asynchronous read is a trip to another thread and back, which on
 * a busy machine waits for that thread to be scheduled, thousands of times per input.
 */
export interface SyncReader {
  readSync(buffer: Uint8Array): number | null;
}

/** Bytes read at a time from a {@linkcode SyncReader}. */
const READ_SIZE = 64 * 1024;

/**
 * Yields each non-blank line of `source` parsed as JSON, with its 1-based line number.
 * Accepts LF and CRLF line endings and a leading byte order mark.
 *
 * Bulk input runs to millions of lines, so this is a hand-written iterator rather than an
 * async generator: a line that is already buffered costs one resolved promise, not a trip
 * through a generator's request queue, and each chunk of input is decoded and split once.
 *
 * @throws {InvalidInputError} For a line that is not UTF-8, not JSON, or too long.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readNdjson } from "./ndjson.ts";
 * const input = ReadableStream.from([new TextEncoder().encode('{"a":1}\n\n{"a":2}\r\n')]);
 * const lines = [];
 * for await (const { line, value } of readNdjson(input)) lines.push([line, value]);
 * assert.deepEqual(lines, [[1, { a: 1 }], [3, { a: 2 }]]);
 * ```
 */
export function readNdjson(
  source: ReadableStream<Uint8Array> | SyncReader,
): AsyncIterableIterator<NumberedInput> {
  const lines = new LineReader(source);
  const iterator: AsyncIterableIterator<NumberedInput> = {
    next(): Promise<IteratorResult<NumberedInput>> {
      try {
        for (let text = lines.nextBuffered(); text !== undefined; text = lines.nextBuffered()) {
          const value = parseLine(text, lines.lineNumber);
          if (value !== BLANK) return Promise.resolve({ value, done: false });
        }
      } catch (error) {
        lines.cancel();
        return Promise.reject(error);
      }
      if (lines.finished) return Promise.resolve({ value: undefined, done: true });
      return lines.fill().then(() => iterator.next(), (error) => {
        lines.cancel();
        throw error;
      });
    },
    return(): Promise<IteratorResult<NumberedInput>> {
      lines.cancel();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

const BLANK = Symbol("blank line");

function parseLine(text: string, line: number): NumberedInput | typeof BLANK {
  // Nearly every line is an object: only other lines need the blank and BOM checks.
  if (text.charCodeAt(0) !== OPEN_BRACE) {
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === "") return BLANK;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(line, `not valid JSON (${(error as Error).message})`, {
      hint: "Each line must be one JSON object. Nothing from this input was stored.",
    });
  }
  if (
    typeof value === "object" && value !== null && !Array.isArray(value) &&
    scanMembers(text) !== Object.keys(value).length
  ) {
    // JSON.parse keeps the last of two equal keys without a word: {"user":"ana","user":"bo"}
    // would be stored as bo's, while the line reads as ana's too.
    throw new InvalidInputError(line, `field "${repeatedKey(text)}" is given more than once`, {
      hint: "Give each field once. Nothing from this input was stored.",
    });
  }
  return { line, value };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * Where the string that opens at `start` in valid JSON `text` ends (the index of its closing
 * quote): the next quote not escaped by an odd number of backslashes.
 */
function stringEnd(text: string, start: number): number {
  let end = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end;
    end = text.indexOf('"', end + 1);
  }
}

/**
 * Calls `onMember` with the index of the quote that opens each member name of the object that
 * valid JSON `text` holds, and returns how many there are. Strings are skipped
 * whole, so a line costs little more than a look at its punctuation.
 */
function scanMembers(text: string, onMember?: (keyStart: number) => void): number {
  let depth = 0;
  let members = 0;
  let lastString = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      lastString = i;
      i = stringEnd(text, i);
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === COLON && depth === 1) {
      members++;
      onMember?.(lastString);
    }
  }
  return members;
}

/** The first member name of valid JSON `text` that its outermost object gives twice. */
function repeatedKey(text: string): string {
  const seen = new Set<string>();
  let repeated = "";
  scanMembers(text, (start) => {
    const key = JSON.parse(text.slice(start, stringEnd(text, start) + 1)) as string;
    if (seen.has(key) && repeated === "") repeated = key;
    seen.add(key);
  });
  return repeated;
}

/** Splits a byte stream into lines, decoding each chunk's complete lines in one go. */
class LineReader {
  #source: ReadableStream<Uint8Array> | SyncReader;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #buffer: Uint8Array | undefined;
  #pending: Uint8Array = EMPTY;
  #lines: string[] = [];
  #next = 0;
  #line = 0;
  #ended = false;

  constructor(source: ReadableStream<Uint8Array> | SyncReader) {
    this.#source = source;
  }

  /** The 1-based number of the line last returned. */
  get lineNumber(): number {
    return this.#line;
  }

  /** Whether the stream has ended and every line was returned. */
  get finished(): boolean {
    return this.#ended && this.#next >= this.#lines.length;
  }

  /** The next line already read, or `undefined` when {@linkcode fill} must read more. */
  nextBuffered(): string | undefined {
    if (this.#next >= this.#lines.length) return undefined;
    const text = this.#lines[this.#next];
    this.#lines[this.#next++] = "";
    this.#line++;
    if (text.length > MAX_LINE_BYTES) throw tooLong(this.#line);
    return text.charCodeAt(text.length - 1) === CARRIAGE_RETURN ? text.slice(0, -1) : text;
  }

  /** Reads until at least one more line is complete, or the stream ends. */
  async fill(): Promise<void> {
    while (!this.#ended) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#read();
      } catch (error) {
        // Standard input that is a folder, or a device that fails: not a bad line, a bad source.
        throw new AuditTrailError(
          `Cannot read the input: ${errorMessage(error)}`,
          {
            hint:
              "Give NDJSON lines from a file or a pipe: audit-trail log --stdin < events.ndjson",
            cause: error,
          },
        );
      }
      const { value, done } = chunk;
      if (done) {
        this.#ended = true;
        this.#take(this.#pending.length ? decodeLines(this.#pending, this.#line) : []);
        this.#pending = EMPTY;
        return;
      }
      const bytes = this.#pending.length ? concat(this.#pending, value) : value;
      const lastNewline = bytes.lastIndexOf(NEWLINE);
      if (lastNewline === -1) {
        if (bytes.length > MAX_LINE_BYTES) throw tooLong(this.#line + 1);
        this.#pending = bytes === value ? bytes.slice() : bytes;
        continue;
      }
      // Decoding a whole run of lines at once is much cheaper than one decode per line.
      const lines = decodeLines(bytes.subarray(0, lastNewline), this.#line);
      this.#pending = bytes.slice(lastNewline + 1);
      if (this.#pending.length > MAX_LINE_BYTES) throw tooLong(this.#line + lines.length + 1);
      this.#take(lines);
      return;
    }
  }

  /** The next chunk of input; a chunk read synchronously is valid until the next read. */
  #read(): Promise<ReadableStreamReadResult<Uint8Array>> | ReadableStreamReadResult<Uint8Array> {
    const source = this.#source;
    if (!("readSync" in source)) return (this.#reader ??= source.getReader()).read();
    const buffer = this.#buffer ??= new Uint8Array(READ_SIZE);
    const read = source.readSync(buffer);
    return read === null ? { done: true, value: undefined } : {
      done: false,
      value: buffer.subarray(0, read),
    };
  }

  /** Stops reading: the rest of the input is not needed. */
  cancel(): void {
    this.#ended = true;
    this.#lines = [];
    this.#next = 0;
    if (this.#reader) {
      this.#reader.cancel().catch(() => {});
      this.#reader = undefined;
    }
  }

  #take(lines: string[]) {
    this.#lines = lines;
    this.#next = 0;
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
        throw new InvalidInputError(line, "is not valid UTF-8 text", { hint: NOT_UTF8_HINT });
      }
      start = end + 1;
    }
    throw new InvalidInputError(linesBefore + 1, "is not valid UTF-8 text", {
      hint: NOT_UTF8_HINT,
    });
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

const NOT_UTF8_HINT = "Save the input as UTF-8. Nothing from this input was stored.";
