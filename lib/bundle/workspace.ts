/**
 * Where a bundle is built: a folder reserved under a temporary name, renamed to its final
 * name only when everything is written, so that a killed or interrupted bundle never leaves
 * a broken file under the final name.
 *
 * @module
 */
import { join } from "node:path";
import { AuditTrailError, notWrittenBecause } from "../errors.ts";

/** Suffix of a bundle still being written; such leftovers of a killed run can be deleted. */
export const PARTIAL_SUFFIX = ".partial";

/** `debug_bundle_YYYYMMDD_HHMMSS` for `now`, in UTC like every time audit-trail writes. */
export function bundleBaseName(now: Date): string {
  const iso = now.toISOString(); // 2026-02-16T14:30:05.123Z
  return `debug_bundle_${iso.slice(0, 10).replaceAll("-", "")}_${
    iso.slice(11, 19).replaceAll(":", "")
  }`;
}

/**
 * A reserved bundle folder. Disposing of it removes whatever is still temporary, so the
 * caller's `await using` cleans up after a failure or an interruption.
 */
export class BundleWorkspace implements AsyncDisposable {
  /** The bundle's name: its folder name, and the ZIP's name without `.zip`. */
  readonly bundleId: string;
  /** The folder the files are written to while the bundle is made. */
  readonly dir: string;
  /** Where the bundle ends up: the folder, or the ZIP with `compress`. */
  readonly finalPath: string;
  /** The ZIP under its temporary name (with `compress` only). */
  readonly partialZip: string | null;
  #finished = false;

  private constructor(outputDir: string, bundleId: string, compress: boolean) {
    this.bundleId = bundleId;
    this.dir = join(outputDir, bundleId + PARTIAL_SUFFIX);
    this.finalPath = join(outputDir, compress ? `${bundleId}.zip` : bundleId);
    this.partialZip = compress ? this.finalPath + PARTIAL_SUFFIX : null;
  }

  /**
   * Creates `outputDir` if needed and reserves a bundle name in it: `baseName`, or
   * `baseName_2`, `_3`… when a bundle of the same second exists or is being made. The
   * reservation is the temporary folder itself, created atomically, so two processes
   * never pick the same name.
   *
   * @throws {AuditTrailError} When the folder cannot be created or written to.
   */
  static async create(
    outputDir: string,
    baseName: string,
    compress: boolean,
  ): Promise<BundleWorkspace> {
    try {
      await Deno.mkdir(outputDir, { recursive: true });
    } catch (error) {
      throw unwritable(outputDir, error);
    }
    for (let n = 1;; n++) {
      const workspace = new BundleWorkspace(
        outputDir,
        n === 1 ? baseName : `${baseName}_${n}`,
        compress,
      );
      const taken = await Promise.all(
        [join(outputDir, workspace.bundleId), join(outputDir, `${workspace.bundleId}.zip`)]
          .map(exists),
      );
      if (taken.some(Boolean)) continue;
      try {
        await Deno.mkdir(workspace.dir);
        return workspace;
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists && n < 1000) continue;
        throw unwritable(outputDir, error);
      }
    }
  }

  /** The path of the bundle file `name` while it is being made. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /**
   * Moves the finished bundle to its final name. With `compress`, `pack` first writes the
   * ZIP to the temporary path it is given; the folder is removed afterwards.
   */
  async finish(pack?: (zipPath: string) => Promise<void>): Promise<string> {
    if (this.partialZip) {
      if (!pack) throw new Error("A compressed bundle needs a pack function");
      await pack(this.partialZip);
      await Deno.rename(this.partialZip, this.finalPath);
      this.#finished = true;
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    } else {
      await Deno.rename(this.dir, this.finalPath);
      this.#finished = true;
    }
    return this.finalPath;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#finished) return;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    if (this.partialZip) await Deno.remove(this.partialZip).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The bundle's folder cannot take the bundle (it cannot be written, or its disk is full):
 * another folder would help. A command line names its option for choosing one.
 */
export class BundleFolderError extends AuditTrailError {
  /** The folder the bundle was to be written to. */
  readonly folder: string;

  constructor(folder: string, message: string, options: { hint: string; cause?: unknown }) {
    super(message, options);
    this.folder = folder;
  }
}

function unwritable(outputDir: string, error: unknown): BundleFolderError {
  return new BundleFolderError(
    outputDir,
    `Cannot write the debug bundle to "${outputDir}": ${notWrittenBecause(error, outputDir)}`,
    { hint: "Choose another folder for the bundle, one this user may write to.", cause: error },
  );
}
