/**
 * The database copy of a bundle: one consistent, self-contained file taken from the live
 * database while other processes go on writing; or, when the database is locked or damaged,
 * a raw copy of its files and whatever SQLite can still read from them.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { openDatabase, translateSqliteError } from "../db.ts";
import { DatabaseBusyError, errorMessage } from "../errors.ts";
import { copyDatabase } from "./logical_copy.ts";

/** The consistent snapshot's name in the bundle. */
export const BACKUP_NAME = "database_backup.db";
/** The raw copy's name; its `-wal` and `-journal` keep the same stem so SQLite finds them. */
export const RAW_NAME = "database_raw.db";

/**
 * How `database_backup.db` was made: `vacuum_into` (SQLite's `VACUUM INTO`, one read
 * transaction), `logical_copy` (row by row in one read transaction, when ATTACH is not
 * available), `recovered` (read from a raw copy of a locked or damaged database; may lack
 * rows).
 */
export type SnapshotMethod = "vacuum_into" | "logical_copy" | "recovered";

/** What {@linkcode snapshotDatabase} produced. */
export interface SnapshotOutcome {
  /** How `database_backup.db` was made, or `null` when it could not be. */
  method: SnapshotMethod | null;
  /** Whether `database_backup.db` is one moment of the database, complete. */
  consistent: boolean;
  /** The files written into the bundle folder. */
  files: string[];
  /** One sentence for the manifest on how the copy was made. */
  note: string;
  /** Problems worth an entry in the manifest's errors. */
  problems: string[];
}

/** Options of {@linkcode snapshotDatabase}. */
export interface SnapshotOptions {
  /** How long to wait for another program's lock. */
  busyTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Writes `database_backup.db` into `dir`, a consistent single-file snapshot of the database
 * at `databasePath` that needs no `-wal` or `-shm`. The live database is opened read-only and
 * never changed. If it cannot be read (locked past the busy wait, or damaged), its files are
 * copied as they are (`database_raw.db`, `-wal`, `-journal`) and what SQLite can read from
 * that copy becomes `database_backup.db`.
 */
export async function snapshotDatabase(
  databasePath: string,
  dir: string,
  options: SnapshotOptions,
): Promise<SnapshotOutcome> {
  const target = join(dir, BACKUP_NAME);
  let reason: string;
  try {
    using live = openDatabase(databasePath, {
      readOnly: true,
      busyTimeoutMs: options.busyTimeoutMs,
    });
    try {
      live.sqlite.prepare("VACUUM INTO ?").run(target);
      useRollbackJournal(target);
      return {
        method: "vacuum_into",
        consistent: true,
        files: [BACKUP_NAME],
        note: "VACUUM INTO: a compacted copy made in one read transaction of the live database",
        problems: [],
      };
    } catch (error) {
      await removeQuietly(target);
      // Deno's node:sqlite allows ATTACH, which VACUUM INTO needs, only with all permissions.
      if (!/too many attached databases/i.test(errorMessage(error))) throw error;
    }
    await copyDatabase(live.sqlite, target, { signal: options.signal });
    return {
      method: "logical_copy",
      consistent: true,
      files: [BACKUP_NAME],
      note: "row-by-row copy in one read transaction of the live database (ATTACH unavailable)",
      problems: [],
    };
  } catch (error) {
    await removeQuietly(target);
    if (options.signal?.aborted) throw error;
    reason = describe(error, databasePath);
  }
  return await rawCopyAndRecover(databasePath, dir, reason, options);
}

async function rawCopyAndRecover(
  databasePath: string,
  dir: string,
  reason: string,
  options: SnapshotOptions,
): Promise<SnapshotOutcome> {
  const files: string[] = [];
  for (const suffix of ["", "-wal", "-journal"]) {
    try {
      const info = await Deno.stat(databasePath + suffix);
      // An empty -wal (as a read-only connection leaves) holds nothing worth shipping.
      if (suffix && info.size === 0) continue;
      // Reading a named pipe would wait for a writer forever; a device never ends.
      if (!info.isFile) throw new Error("it is not a regular file");
      await Deno.copyFile(databasePath + suffix, join(dir, RAW_NAME + suffix));
      files.push(RAW_NAME + suffix);
    } catch (error) {
      if (suffix === "") {
        return {
          method: null,
          consistent: false,
          files,
          note: "no copy could be made",
          problems: [`${reason}; the file could not be copied either: ${errorMessage(error)}`],
        };
      }
    }
  }
  const raw = `${reason}; saved its files as they are (${files.join(", ")})`;
  // Recovery opens the copy read-write (SQLite then replays its -wal or rolls back its
  // journal), so it works on a scratch copy and leaves database_raw.db as found.
  const scratch = join(dir, ".recovery");
  try {
    await Deno.mkdir(scratch);
    for (const name of files) await Deno.copyFile(join(dir, name), join(scratch, name));
    const source = new DatabaseSync(join(scratch, RAW_NAME));
    try {
      source.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`);
      const target = join(dir, BACKUP_NAME);
      let note: string;
      let lost = "";
      try {
        source.prepare("VACUUM INTO ?").run(target);
        note = "VACUUM INTO of a raw copy of the database files";
      } catch {
        await removeQuietly(target);
        const report = await copyDatabase(source, target, {
          salvage: true,
          signal: options.signal,
        });
        const rows = report.tables.reduce((sum, t) => sum + t.rows, 0);
        if (report.tables.length === 0) {
          await removeQuietly(target);
          return {
            method: null,
            consistent: false,
            files,
            note: "raw copy only; SQLite could read nothing from it",
            problems: [`${raw}; SQLite could read no table from them`],
          };
        }
        note = `rows SQLite could still read from a raw copy (${rows} rows)`;
        if (report.problems.length) lost = ` (skipped: ${report.problems.join("; ")})`;
      }
      useRollbackJournal(target);
      files.unshift(BACKUP_NAME);
      return {
        method: "recovered",
        consistent: false,
        files,
        note,
        problems: [`${raw}; ${BACKUP_NAME} holds what SQLite could read from them${lost}`],
      };
    } finally {
      source.close();
    }
  } catch (error) {
    if (options.signal?.aborted) throw error;
    await removeQuietly(join(dir, BACKUP_NAME));
    return {
      method: null,
      consistent: false,
      files,
      note: "raw copy only",
      problems: [`${raw}; nothing could be recovered from them: ${errorMessage(error)}`],
    };
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}

/**
 * Makes the copy a plain rollback-journal database, so that it opens alone, even read-only or
 * from a read-only folder, without creating `-wal` and `-shm` files.
 */
function useRollbackJournal(path: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = DELETE");
  } finally {
    db.close();
  }
}

function describe(error: unknown, path: string): string {
  const typed = translateSqliteError(error, path);
  if (typed instanceof DatabaseBusyError) {
    return "the database is locked by another program, so no consistent copy could be made";
  }
  return `no consistent copy could be made: ${errorMessage(typed)}`;
}

async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}
