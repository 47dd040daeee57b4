/**
 * The ZIP of a bundle, written and read as streams with zip.js (loaded on first use, so
 * commands that never touch a ZIP never load it).
 *
 * @module
 */
import { join } from "node:path";
import type * as ZipJs from "@zip.js/zip.js";

let loading: Promise<typeof ZipJs> | undefined;

/** zip.js, configured to work in the calling thread. */
function loadZipJs(): Promise<typeof ZipJs> {
  loading ??= import("@zip.js/zip.js").then((zip) => {
    // Web workers fail in compiled executables and keep the process alive.
    zip.configure({ useWebWorkers: false });
    return zip;
  });
  return loading;
}

/** Options of {@linkcode packFolder}. */
export interface PackOptions {
  signal?: AbortSignal;
  /** Called after each file with the ZIP's size so far. */
  onFile?: (name: string, zipBytes: number) => void;
}

/**
 * Writes the files `names` of `dir` into a new ZIP at `zipPath`, inside a folder named
 * `folder`. Each file is streamed from disk and compressed before the next starts, so memory
 * stays flat whatever their size; Zip64 is used for a file too large for the classic format.
 *
 * @returns The size of the ZIP.
 */
export async function packFolder(
  dir: string,
  names: readonly string[],
  zipPath: string,
  folder: string,
  options: PackOptions = {},
): Promise<number> {
  const { ZipWriter } = await loadZipJs();
  const output = await Deno.open(zipPath, { write: true, createNew: true });
  let written = 0;
  const counting = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      written += chunk.length;
      controller.enqueue(chunk);
    },
  });
  const piped = counting.readable.pipeTo(output.writable);
  const zip = new ZipWriter(counting.writable, { signal: options.signal });
  try {
    await zip.add(`${folder}/`, undefined, { directory: true });
    for (const name of names) {
      const path = join(dir, name);
      const { size, mtime } = await Deno.stat(path);
      const source = await Deno.open(path, { read: true });
      try {
        // A known size lets zip.js pick Zip64 only when the file needs it.
        await zip.add(`${folder}/${name}`, source.readable, {
          uncompressedSize: size,
          lastModDate: mtime ?? undefined,
          signal: options.signal,
        });
      } finally {
        // An aborted entry may leave its file open, and Windows cannot delete an open file.
        try {
          source.close();
        } catch {
          // Already closed by its stream.
        }
      }
      options.onFile?.(name, written);
    }
    await zip.close();
    await piped;
  } catch (error) {
    await counting.writable.abort(error).catch(() => {});
    await piped.catch(() => {});
    throw error;
  }
  return written;
}

/** One file inside a bundle ZIP. */
export interface ZipFileEntry {
  /** The path inside the ZIP, e.g. `debug_bundle_20260216_143005/manifest.json`. */
  name: string;
  /** Streams the uncompressed content into `writable`; rejects if the data is damaged. */
  read(writable: WritableStream<Uint8Array>): Promise<void>;
}

/**
 * Lists the files of the ZIP at `path` and lets each be streamed out, reading the file at the
 * places zip.js asks for instead of loading it whole. Call `close` when done.
 */
export async function openZip(
  path: string,
): Promise<{ entries: ZipFileEntry[]; close(): Promise<void> }> {
  const zip = await loadZipJs();
  const file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  class FileReader extends zip.Reader<null> {
    override init(): Promise<void> {
      this.size = size;
      return Promise.resolve();
    }
    override async readUint8Array(index: number, length: number): Promise<Uint8Array> {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, size - index)));
      await file.seek(index, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < buffer.length) {
        const n = await file.read(buffer.subarray(filled));
        if (n === null) break;
        filled += n;
      }
      return buffer.subarray(0, filled);
    }
  }
  const reader = new zip.ZipReader(new FileReader(null));
  try {
    const entries = (await reader.getEntries()).filter((e) => !e.directory).map((entry) => ({
      name: entry.filename,
      async read(writable: WritableStream<Uint8Array>) {
        if (entry.directory) return;
        await entry.getData(writable);
      },
    }));
    return {
      entries,
      async close() {
        await reader.close().catch(() => {});
        file.close();
      },
    };
  } catch (error) {
    await reader.close().catch(() => {});
    file.close();
    throw error;
  }
}
