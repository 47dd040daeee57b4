/**
 * The ZIP of a bundle, written and read as streams with zip.js (loaded on first use, so
 * commands that never touch a ZIP never load it).
 *
 * @module
 */
import { join } from "node:path";
import type * as ZipJs from "@zip.js/zip.js";

let loading: Promise<typeof ZipJs> | undefined;

/**
 * The deflate level of the bundle's ZIP. Level 6 (zip.js's, and `zip`'s default) took 2.7 s
 * of processor time for the 300 MB snapshot of 1,000,000 events, level 2 1.7 s for a ZIP 7%
 * larger (level 1: 1.1 s, 25% larger); on a busy machine processor time is what a bundle
 * waits for, and the ZIP is still smaller than `zip -6` makes of a plain copy.
 */
export const ZIP_LEVEL = 2;

/** zip.js, configured to work in the calling thread. */
function loadZipJs(): Promise<typeof ZipJs> {
  loading ??= Promise.all([import("@zip.js/zip.js"), import("node:zlib")]).then(
    ([zip, zlib]) => {
      zip.configure({
        // Web workers fail in compiled executables and keep the process alive.
        useWebWorkers: false,
        // zip.js gives a level other than its default only to its own, slower, deflate.
        CompressionStream: leveledCompressionStream(zlib.default, ZIP_LEVEL),
      });
      return zip;
    },
  );
  return loading;
}

/**
 * A `CompressionStream` that deflates at `level` (the web's compresses at zlib's default),
 * through Node's zlib, as zip.js uses it: `gzip` (whose trailer gives zip.js the CRC-32
 * without a pass of its own), `deflate-raw` or `deflate`.
 */
export function leveledCompressionStream(zlib: typeof import("node:zlib"), level: number) {
  return class LeveledCompressionStream extends TransformStream<Uint8Array, Uint8Array> {
    constructor(format: "gzip" | "deflate" | "deflate-raw") {
      const options = { level };
      const deflate = format === "gzip"
        ? zlib.createGzip(options)
        : format === "deflate-raw"
        ? zlib.createDeflateRaw(options)
        : zlib.createDeflate(options);
      let failed: unknown = null;
      let given = false;
      // A stream given up on (Ctrl-C, a failed write) must not hear of the data zlib still
      // had in hand: enqueueing it would throw in zlib's event, where nothing can catch it.
      const giveUp = () => {
        given = true;
        deflate.destroy();
      };
      deflate.on("error", (error: unknown) => failed = error);
      super({
        start(controller) {
          deflate.on("data", (chunk: Uint8Array) => {
            if (given) return;
            try {
              controller.enqueue(chunk);
            } catch {
              giveUp();
            }
          });
        },
        cancel: giveUp,
        transform(chunk) {
          return new Promise<void>((resolve, reject) =>
            deflate.write(chunk, (error) => error ? reject(error) : resolve())
          );
        },
        flush() {
          return new Promise<void>((resolve, reject) => {
            if (failed) return reject(failed);
            deflate.once("end", resolve);
            deflate.once("error", reject);
            deflate.end();
          });
        },
      });
    }
  };
}

/** Options of {@linkcode packFolder}. */
export interface PackOptions {
  signal?: AbortSignal | undefined;
  /** Called after each file with the ZIP's size so far. */
  onFile?: ((name: string, zipBytes: number) => void) | undefined;
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
  const zip = await FolderZip.create(zipPath, folder, options);
  try {
    for (const name of names) await zip.add(dir, name);
    return await zip.close();
  } catch (error) {
    await zip.abort(error);
    throw error;
  }
}

/**
 * A ZIP written a file at a time, inside a folder named `folder`, so that the large files can
 * be compressed while the small ones are still being made. Each file is streamed from disk;
 * call {@linkcode FolderZip.close} to finish it, or {@linkcode FolderZip.abort} to give up
 * (the caller removes the file).
 */
export class FolderZip {
  #zip: ZipJs.ZipWriter<unknown>;
  #folder: string;
  #options: PackOptions;
  #counting: TransformStream<Uint8Array, Uint8Array>;
  #piped: Promise<void>;
  #written = 0;
  #pending: Promise<unknown> = Promise.resolve();
  #ended = false;
  /** Stops the entry being written: on `abort`, or when the caller's signal aborts. */
  #stop = new AbortController();
  #pipeStop = new AbortController();

  private constructor(
    zipJs: typeof ZipJs,
    output: Deno.FsFile,
    folder: string,
    options: PackOptions,
  ) {
    this.#folder = folder;
    this.#options = options;
    this.#counting = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        this.#written += chunk.length;
        controller.enqueue(chunk);
      },
    });
    // Aborting the pipe closes the file even while zip.js still holds the writable side.
    this.#piped = this.#counting.readable.pipeTo(output.writable, {
      signal: this.#pipeStop.signal,
    });
    this.#piped.catch(() => {}); // awaited by close or abort
    const stop = this.#stop;
    options.signal?.addEventListener("abort", () => stop.abort(options.signal?.reason), {
      once: true,
      signal: stop.signal,
    });
    this.#zip = new zipJs.ZipWriter(this.#counting.writable, { signal: stop.signal });
  }

  /** Creates the ZIP at `zipPath` (which must not exist) with its folder entry. */
  static async create(zipPath: string, folder: string, options: PackOptions = {}) {
    const zipJs = await loadZipJs();
    const output = await Deno.open(zipPath, { write: true, createNew: true });
    const zip = new FolderZip(zipJs, output, folder, options);
    try {
      await zip.#run(() => zip.#zip.add(`${folder}/`, undefined, { directory: true }));
    } catch (error) {
      await zip.abort(error);
      throw error;
    }
    return zip;
  }

  /**
   * Adds the file `name` of `dir`; calls are queued, each file after the one before.
   * `onChunk` sees every chunk of the file as it is read (to hash it in the same pass).
   */
  add(dir: string, name: string, onChunk?: (chunk: Uint8Array) => void): Promise<void> {
    return this.#run(async () => {
      const path = join(dir, name);
      const { size, mtime } = await Deno.stat(path);
      const source = await Deno.open(path, { read: true });
      try {
        // A known size lets zip.js pick Zip64 only when the file needs it.
        const content = onChunk
          ? source.readable.pipeThrough(
            new TransformStream<Uint8Array, Uint8Array>({
              transform(chunk, controller) {
                onChunk(chunk);
                controller.enqueue(chunk);
              },
            }),
          )
          : source.readable;
        await this.#zip.add(`${this.#folder}/${name}`, content, {
          uncompressedSize: size,
          ...(mtime ? { lastModDate: mtime } : {}),
          signal: this.#stop.signal,
        });
      } finally {
        // An aborted entry may leave its file open, and Windows cannot delete an open file.
        try {
          source.close();
        } catch {
          // Already closed by its stream.
        }
      }
      this.#options.onFile?.(name, this.#written);
    });
  }

  /** Writes the ZIP's directory once every queued file is in, and returns the ZIP's size. */
  async close(): Promise<number> {
    await this.#run(async () => {
      await this.#zip.close();
      this.#ended = true;
      await this.#piped;
      this.#stop.abort(); // only lets go of the caller's signal now
    });
    return this.#written;
  }

  /**
   * Stops writing and closes the file, once the file being added lets go of it. Does nothing
   * after `close`.
   */
  async abort(reason?: unknown): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop.abort(reason);
    this.#pipeStop.abort(reason);
    await this.#pending.catch(() => {});
    await this.#piped.catch(() => {});
  }

  #run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#pending.then(() => {
      if (this.#ended) throw new Error("The ZIP was already closed");
      return work();
    });
    this.#pending = next.catch(() => {});
    return next;
  }
}

/** One file inside a bundle ZIP. */
export interface ZipFileEntry {
  /** The path inside the ZIP, e.g. `debug_bundle_20260216_143005/manifest.json`. */
  name: string;
  /** The size the ZIP's directory declares for the content (the content may differ). */
  bytes: number;
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
      bytes: entry.uncompressedSize,
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
