/**
 * The folder of the archive files, as one archive run uses it: held by one run at a time
 * (an OS lock on a small lock file, released even when the process is killed), cleared of
 * what crashed runs left, and written with every rename synced.
 *
 * @module
 */
import { join } from "node:path";
import { AuditTrailError, DiskFullError, notWrittenBecause } from "../errors.ts";
import type { Checkpoint } from "./checkpoint_list.ts";
import { ARCHIVE_FILE_NAME, unnamedArchive } from "./file.ts";
import type { AuditDatabase } from "../db.ts";

/** The lock file every archive run holds in the folder. */
export const LOCK_FILE_NAME = ".audit_trail_archive.lock";
/** Temporary archive files: the final name plus a random part; never a final name. */
const TEMPORARY_NAME = /^audit_archive_\d+_\d+\.db\.[0-9a-f]{8}\.tmp(-journal)?$/;

/** One run's hold on the archive folder. Dispose of it to let go. */
export class ArchiveFolder implements AsyncDisposable {
  readonly dir: string;
  #lock: Deno.FsFile;

  private constructor(dir: string, lock: Deno.FsFile) {
    this.dir = dir;
    this.#lock = lock;
  }

  /**
   * Creates the folder if needed and takes its lock; removes temporary files that a killed
   * run left (no run holds them: the lock says so).
   *
   * @throws {AuditTrailError} When the folder cannot be written or another run holds it.
   */
  static async open(dir: string): Promise<ArchiveFolder> {
    let lock: Deno.FsFile;
    try {
      await Deno.mkdir(dir, { recursive: true });
      lock = await Deno.open(join(dir, LOCK_FILE_NAME), { read: true, write: true, create: true });
    } catch (error) {
      throw folderError(dir, error);
    }
    let locked = false;
    try {
      locked = await lock.tryLock(true);
    } finally {
      if (!locked) lock.close();
    }
    if (!locked) {
      throw new AuditTrailError(`Another audit-trail archive run is writing to "${dir}"`, {
        hint: "Nothing was archived. Run it again once the other run has finished.",
      });
    }
    const folder = new ArchiveFolder(dir, lock);
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && TEMPORARY_NAME.test(entry.name)) {
          await folder.remove(join(dir, entry.name));
        }
      }
    } catch (error) {
      // A folder this user may write to but not list.
      await folder[Symbol.asyncDispose]();
      throw folderError(dir, error);
    }
    return folder;
  }

  /**
   * Creates a new, empty temporary file for the archive `name` and returns its path. Made here
   * rather than by SQLite, so that a folder that can take no new file (no space, no inode
   * left) is told as such, not as a database that cannot be opened.
   */
  async temporaryPath(name: string): Promise<string> {
    const random = crypto.getRandomValues(new Uint8Array(4));
    const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
    const path = join(this.dir, `${name}.${hex}.tmp`);
    try {
      (await Deno.open(path, { write: true, createNew: true })).close();
    } catch (error) {
      throw folderError(this.dir, error);
    }
    return path;
  }

  /** The error to report for a failure while writing a file in the folder. */
  writeError(error: unknown): unknown {
    return folderError(this.dir, error);
  }

  /** Flushes a written file to the disk. */
  async sync(path: string): Promise<void> {
    try {
      using file = await Deno.open(path, { read: true, write: true });
      await file.sync();
    } catch (error) {
      throw folderError(this.dir, error);
    }
  }

  /**
   * Renames `from` to `to` (replacing it) and syncs the folder, so the new name is durable.
   * Synchronous: it runs inside the database transaction that records the checkpoint.
   */
  renameSync(from: string, to: string): void {
    try {
      Deno.renameSync(from, to);
      // Windows cannot open a folder to sync it; NTFS journals the rename itself.
      if (Deno.build.os !== "windows") {
        using folder = Deno.openSync(this.dir, { read: true });
        folder.syncSync();
      }
    } catch (error) {
      throw folderError(this.dir, error);
    }
  }

  /** Removes a file if it is there. */
  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch {
      // Gone already, or it cannot be removed: a temporary name harms nothing.
    }
  }

  /**
   * Removes archive files that no checkpoint names, whose events are all archived in files
   * that one does, and which hold copies of this very log's events: orphans of runs that
   * crashed before their commit. Another database's archives in a shared folder have names
   * of the same form, and may be the only copy of its events: they stay.
   */
  async removeOrphans(db: AuditDatabase, checkpoints: Checkpoint[]): Promise<void> {
    const through = checkpoints.at(-1)?.last_audit_id ?? -Infinity;
    const named = new Set(checkpoints.map((c) => c.file));
    for await (const entry of Deno.readDir(this.dir)) {
      const match = ARCHIVE_FILE_NAME.exec(entry.name);
      if (
        entry.isFile && match && !named.has(entry.name) && Number(match[2]) <= through &&
        unnamedArchive(db, this.dir, checkpoints, entry.name).own
      ) {
        await this.remove(join(this.dir, entry.name));
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#lock.unlock();
    } finally {
      this.#lock.close();
    }
  }
}

/** What a failed file operation in the folder means for the person running the archive. */
function folderError(dir: string, error: unknown): unknown {
  if (error instanceof DiskFullError) return new DiskFullError(dir, { cause: error });
  if (error instanceof AuditTrailError) return error;
  const code = (error as { code?: string }).code;
  // In the folder's terms: the runtime's text names the system call and a temporary file.
  const message = notWrittenBecause(error, dir);
  if (code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG") {
    return new DiskFullError(dir, { cause: error });
  }
  if (code === "EEXIST" || code === "ENOTDIR") {
    return new AuditTrailError(`Archive folder "${dir}" cannot be made: a file is in its way`, {
      hint:
        "Nothing was archived. Give a folder for the archive files (it is made if missing), not a file.",
      cause: error,
    });
  }
  if (
    code === "EROFS" || code === "EACCES" || code === "EPERM" ||
    error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
  ) {
    return new AuditTrailError(`Cannot write to the archive folder "${dir}": ${message}`, {
      hint:
        "Nothing was archived. Give a folder this user may write, on a disk that is not read-only (--to DIR).",
      cause: error,
    });
  }
  return new AuditTrailError(`Cannot write the archive in "${dir}": ${message}`, {
    hint: "Nothing was archived. Check the folder and the disk, then run it again.",
    cause: error,
  });
}
