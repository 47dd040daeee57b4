/**
 * Small file helpers of the debug bundle: sizes, streamed SHA-256, readable byte counts.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A file of the bundle as the manifest lists it. */
export interface BundleFile {
  /** The name inside the bundle folder, e.g. `audit_log.csv`. */
  name: string;
  bytes: number;
  /** SHA-256 of the content, lowercase hex. */
  sha256: string;
}

/** The size of the file at `path`, or `null` when there is none (or it cannot be read). */
export async function fileSize(path: string): Promise<number | null> {
  try {
    const info = await Deno.stat(path);
    return info.isFile ? info.size : null;
  } catch {
    return null;
  }
}

/**
 * SHA-256 and size of the file at `path`, read through one reused buffer so that hashing a
 * large database allocates nothing per chunk.
 */
export async function hashFile(
  path: string,
  options: {
    signal?: AbortSignal | undefined;
    onChunk?: ((chunk: Uint8Array) => void) | undefined;
  } = {},
): Promise<{ bytes: number; sha256: string }> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_BYTES);
  let bytes = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const n = await file.read(buffer);
    if (n === null) break;
    const chunk = buffer.subarray(0, n);
    hash.update(chunk);
    options.onChunk?.(chunk);
    bytes += n;
  }
  return { bytes, sha256: hash.digest("hex") };
}

/** Chunk size for reading bundle files: large enough that per-call costs vanish. */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * Writes `text` to a new file at `path` (which must not exist yet) and returns its size.
 */
export async function writeNewTextFile(path: string, text: string): Promise<number> {
  const bytes = new TextEncoder().encode(text);
  await Deno.writeFile(path, bytes, { createNew: true });
  return bytes.length;
}

/** `1536` → `"1.5 KB"`: sizes as a person reads them (powers of 1024). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
