/**
 * Small input/output helpers shared by the library, the command line and the launcher:
 * writing every byte of a text, and the free space on a disk.
 *
 * @module
 */

/** Anything with a `write` that may take only part of what it is given (a file, stdout). */
export interface ByteWriter {
  write(bytes: Uint8Array): Promise<number>;
}

const encoder = new TextEncoder();

/**
 * Writes all of `data` to `writer`: one `write` call may take only part of it (a pipe, a
 * full disk buffer), so the rest is written until nothing is left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeAll } from "./io.ts";
 * const chunks: number[] = [];
 * // A writer that takes at most 2 bytes a call.
 * await writeAll({ write: (b) => Promise.resolve(chunks.push(...b.subarray(0, 2)) && Math.min(2, b.length)) }, "hello");
 * assert.equal(new TextDecoder().decode(new Uint8Array(chunks)), "hello");
 * ```
 */
export async function writeAll(writer: ByteWriter, data: string | Uint8Array): Promise<void> {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length > 0) bytes = bytes.subarray(await writer.write(bytes));
}

/**
 * Free bytes for this user on the disk holding `folder`, or `null` when it cannot be told.
 * Deno has no statfs of its own; Node's is taken on first use, so that importing this module
 * never starts Deno's Node compatibility layer (about 15 ms) in a process that does not ask.
 */
export function freeDiskBytes(folder: string): number | null {
  try {
    const fs = (globalThis as unknown as {
      process: { getBuiltinModule(name: "node:fs"): typeof import("node:fs") };
    }).process.getBuiltinModule("node:fs");
    const { bavail, bsize } = fs.statfsSync(folder);
    return Number(bavail) * Number(bsize);
  } catch {
    return null;
  }
}
