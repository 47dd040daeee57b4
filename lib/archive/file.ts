/**
 * The archive file: a SQLite database `audit_archive_<FIRST>_<LAST>.db` holding the archived
 * events exactly as they were stored (`audit_log`, declared as in the live database, with its
 * indexes), their seals (`audit_trail_chain`), and one row of `audit_trail_archive`: the range,
 * the seal before the first event and the seal of the last. Anyone can check it on its own
 * with the chain's canonical encoding, starting from that first seal.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { type AuditDatabase, guard, openDatabase } from "../db.ts";
import { AuditTrailError, errorMessage } from "../errors.ts";
import type { ChainFailure } from "../chain/classify.ts";
import { walkChain } from "../chain/walk.ts";
import { join } from "node:path";
import type { Checkpoint } from "./checkpoint_list.ts";
import { checkpointCovering } from "./checkpoints.ts";

/** What an archive file says about itself (table `audit_trail_archive`). */
export interface ArchiveInfo {
  first_audit_id: number;
  last_audit_id: number;
  events: number;
  /** The seal before the first event, 64 hex digits. */
  previous_hash: string;
  /** The seal of the last event, 64 hex digits. */
  last_hash: string;
  created_at: string;
}

/** The range an archive file must hold, as its checkpoint (or the plan) gives it. */
export type ArchiveRange = Omit<ArchiveInfo, "created_at">;

/** What checking one archive file found. */
export interface ArchiveFileCheck {
  /** What the file says about itself, or null when it cannot be read. */
  info: ArchiveInfo | null;
  events_checked: number;
  failure: ChainFailure | null;
  /**
   * Whether the failure is the events' own (one does not match its seal, or one is missing),
   * rather than the file's (unreadable, not an archive, or not the archive expected).
   */
  chainFailed: boolean;
}

/** Names of archive files: `audit_archive_<FIRST>_<LAST>.db`. */
export const ARCHIVE_FILE_NAME: RegExp = /^audit_archive_(\d+)_(\d+)\.db$/;

/** The archive file name for a range of events. */
export function archiveFileName(first: number, last: number): string {
  return `audit_archive_${first}_${last}.db`;
}

/** Rows copied per page. */
const PAGE_SIZE = 4096;

/**
 * Writes the live events `range.first_audit_id`..`range.last_audit_id` and their seals into a
 * new file at `path`, through a connection of its own (an ATTACH needs permissions the tool
 * does not count on), which begins and commits its one transaction itself: it writes a new
 * file alone, under an exclusive lock, and writeTransaction's lock waits are made for the
 * shared database. Must run inside a read snapshot of `live` (`readSnapshot`), so that what is
 * copied is one snapshot. The file is not synced: the caller does that, then reads it back.
 * Between pages it lets the process see a stop signal; `signal` aborted, it throws its reason
 * and leaves the file unfinished, for the caller to remove.
 */
export async function writeArchiveFile(
  live: AuditDatabase,
  path: string,
  range: ArchiveRange,
  signal?: AbortSignal,
): Promise<void> {
  const schema = liveSchema(live);
  // The archive declares audit_log as the live database does, foreign keys to the
  // application's tables included, and holds none of those tables.
  const out = guard(path, () => new DatabaseSync(path, { enableForeignKeyConstraints: false }));
  try {
    guard(path, () => {
      // No journal file: one that fails half-way is removed, never used. (journal_mode=OFF
      // is silently refused by node:sqlite's defensive mode; a new file's pages need no
      // journal in memory either.)
      out.exec("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF");
      out.exec("PRAGMA locking_mode = EXCLUSIVE; BEGIN");
      out.exec(schema.table);
      out.exec(ARCHIVE_TABLES_SQL);
    });
    const columns = schema.columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ");
    const pages = new Pages(signal);
    const copied = await copyRows(
      live,
      out,
      pages,
      path,
      `SELECT ${columns} FROM audit_log WHERE audit_id > ? AND audit_id <= ?
       ORDER BY audit_id LIMIT ${PAGE_SIZE}`,
      `INSERT INTO audit_log (${columns}) VALUES`,
      schema.columns.length,
      range,
    );
    const sealed = await copyRows(
      live,
      out,
      pages,
      path,
      `SELECT audit_id, hash FROM audit_trail_chain WHERE audit_id > ? AND audit_id <= ?
       ORDER BY audit_id LIMIT ${PAGE_SIZE}`,
      "INSERT INTO audit_trail_chain (audit_id, hash) VALUES",
      2,
      range,
    );
    if (copied !== range.events || sealed !== range.events) {
      throw new Error(
        `copied ${copied} events and ${sealed} seals of the ${range.events} to archive`,
      );
    }
    guard(path, () => {
      // Indexes built once the rows are in: faster than keeping them up to date row by row.
      for (const sql of schema.indexes) out.exec(sql);
      out.prepare(
        `INSERT INTO audit_trail_archive
           (first_audit_id, last_audit_id, events, previous_hash, last_hash)
         VALUES (?, ?, ?, unhex(?), unhex(?))`,
      ).run(
        range.first_audit_id,
        range.last_audit_id,
        range.events,
        range.previous_hash,
        range.last_hash,
      );
      out.exec(APPEND_ONLY_SQL);
      out.exec("COMMIT");
    });
  } finally {
    out.close();
  }
}

/**
 * Opens an archive file read-only and checks it: what it says about itself matches `expected`,
 * and every event matches its seal, chained from the seal before the first. Used on the file
 * just written (before it gets its final name) and by `verify --archives`.
 */
export function checkArchiveFile(
  path: string,
  file: string,
  expected: ArchiveRange,
): ArchiveFileCheck {
  const check: ArchiveFileCheck = {
    info: null,
    events_checked: 0,
    failure: null,
    chainFailed: false,
  };
  const fail = (audit_id: number, kind: ChainFailure["kind"], problem: string) => {
    check.failure = { audit_id, kind, message: `Archive ${file} ${problem}`, file };
    return check;
  };
  let archive: AuditDatabase;
  try {
    archive = openArchive(path);
  } catch {
    return fail(expected.first_audit_id, "modified", "cannot be read as an archive any more");
  }
  try {
    check.info = readArchiveInfo(archive);
    const info = check.info;
    if (!info) return fail(expected.first_audit_id, "modified", "is not an audit-trail archive");
    const differs =
      (["first_audit_id", "last_audit_id", "events", "previous_hash", "last_hash"] as const)
        .filter((key) => info[key] !== expected[key]);
    if (differs.length > 0) {
      const swapped = info.first_audit_id !== expected.first_audit_id ||
        info.last_audit_id !== expected.last_audit_id;
      return fail(
        expected.first_audit_id,
        swapped ? "reordered" : "modified",
        swapped
          ? `holds events ${info.first_audit_id} to ${info.last_audit_id}, not ${expected.first_audit_id} to ${expected.last_audit_id} (archive files were swapped or renamed)`
          : differs.some((key) => key.endsWith("_hash"))
          ? `holds other events than its checkpoint records (other seals: another database's archive of the same ids, or events altered)`
          : `does not match its checkpoint (${differs.join(", ")} ${
            differs.length === 1 ? "differs" : "differ"
          })`,
      );
    }
    const walked = { events_checked: 0, head: null as { audit_id: number; hash: string } | null };
    const failure = walkChain(archive, walked, info.previous_hash, null);
    check.events_checked = walked.events_checked;
    check.chainFailed = failure !== null;
    if (failure) {
      return fail(failure.audit_id, failure.kind, `is not intact: ${failure.message}`);
    }
    if (
      walked.events_checked !== info.events || walked.head?.audit_id !== info.last_audit_id ||
      walked.head?.hash !== info.last_hash
    ) {
      check.chainFailed = true;
      return fail(
        walked.head ? walked.head.audit_id + 1 : info.first_audit_id,
        "deleted",
        `is not intact: it holds ${walked.events_checked} of its ${info.events} events`,
      );
    }
    return check;
  } catch (error) {
    const message = errorMessage(error);
    return fail(expected.first_audit_id, "modified", `cannot be read: ${message}`);
  } finally {
    archive.close();
  }
}

/**
 * Fails unless `dir` is a folder: a folder that is not there is most likely a mistyped path
 * (or a share not mounted), not archives gone missing.
 *
 * @throws {AuditTrailError} When it is not.
 */
export function requireArchiveFolder(dir: string): void {
  let info: Deno.FileInfo | null = null;
  try {
    info = Deno.statSync(dir);
  } catch {
    info = null;
  }
  if (info?.isDirectory) return;
  const hint =
    "Give the folder that holds the audit_archive_*.db files (by default archive/ beside the database).";
  // One archive file given for their folder: the folder is what is asked for.
  if (info !== null) {
    throw new AuditTrailError(`Archive folder "${dir}" is a file, not a folder`, { hint });
  }
  throw new AuditTrailError(`Archive folder not found: "${dir}"`, { hint });
}

/**
 * What an archive file in `dir` that no checkpoint names holds: copies of this log's own events,
 * chained and ending on the very seal this log keeps for its last event (an orphan of a run
 * killed between its rename and its commit), or not (`own` false: another database's archive in
 * a shared folder, or a forgery). `shared` when, not its own, it still shares this log's
 * history (see {@linkcode sharesHistory}). `info` is null when the file says nothing of itself.
 */
export function unnamedArchive(
  db: AuditDatabase,
  dir: string,
  checkpoints: Checkpoint[],
  file: string,
): { info: ArchiveInfo | null; own: boolean; shared: boolean } {
  const path = join(dir, file);
  let info = null;
  try {
    using archive = openArchive(path);
    info = readArchiveInfo(archive);
  } catch {
    info = null;
  }
  const match = ARCHIVE_FILE_NAME.exec(file);
  if (!info || !match) return { info, own: false, shared: false };
  const own = Number(match[1]) === info.first_audit_id &&
    Number(match[2]) === info.last_audit_id &&
    knownSeal(db, dir, checkpoints, info.last_audit_id) === info.last_hash &&
    !checkArchiveFile(path, file, info).failure;
  return { info, own, shared: !own && sharesHistory(db, dir, checkpoints, path, info) };
}

/**
 * Whether the archive file at `path`, which holds other events than this log's own, still
 * shares the log's history: it starts from the log's seal before its first event (past the
 * first event, whose seal before is every log's), or its first event is the log's. A newer
 * copy of this database archived it; the database was then replaced by an older copy.
 */
export function sharesHistory(
  db: AuditDatabase,
  dir: string,
  checkpoints: Checkpoint[],
  path: string,
  info: ArchiveInfo,
): boolean {
  const first = info.first_audit_id;
  if (first > 1 && knownSeal(db, dir, checkpoints, first - 1) === info.previous_hash) return true;
  const seal = knownSeal(db, dir, checkpoints, first);
  if (seal === null) return false;
  try {
    using archive = openArchive(path);
    return sealIn(archive, first) === seal;
  } catch {
    return false;
  }
}

/**
 * Why an archive file that shares this log's history holds other events than the log's own
 * (see {@linkcode sharesHistory}).
 */
export function divergedArchive(file: string, range: ArchiveRange): string {
  return `Archive ${file} holds events ${range.first_audit_id} to ${range.last_audit_id} of this audit log that the database no longer has as they were archived: most likely the database was restored from a copy older than that archive, which then holds the only copy of those events`;
}

/** {@linkcode sealAt}, or null when it cannot be read. */
function knownSeal(
  db: AuditDatabase,
  dir: string,
  checkpoints: Checkpoint[],
  id: number,
): string | null {
  try {
    return sealAt(db, dir, checkpoints, id);
  } catch {
    return null;
  }
}

/** The seal `source` keeps for event `id` (64 hex digits), or null. */
function sealIn(source: AuditDatabase, id: number): string | null {
  return (guard(
    source.path,
    () =>
      source.statement("SELECT lower(hex(hash)) AS hash FROM audit_trail_chain WHERE audit_id = ?")
        .get(id),
  )?.hash as string | undefined) ?? null;
}

/** The seal of event `id` in this log: live, or in the archive file that holds it. */
function sealAt(
  db: AuditDatabase,
  dir: string,
  checkpoints: Checkpoint[],
  id: number,
): string | null {
  const checkpoint = checkpointCovering(checkpoints, id);
  if (checkpoint?.last_audit_id === id) return checkpoint.last_hash;
  if (!checkpoint) return sealIn(db, id);
  using archive = openArchive(join(dir, checkpoint.file));
  return sealIn(archive, id);
}

/** Opens an archive file read-only. */
export function openArchive(path: string): AuditDatabase {
  return openDatabase(path, { readOnly: true });
}

/** What an archive file says about itself, or null when it has no such record. */
export function readArchiveInfo(archive: AuditDatabase): ArchiveInfo | null {
  const table = guard(archive.path, () =>
    archive.statement(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_trail_archive'",
    ).get());
  if (!table) return null;
  const row = guard(archive.path, () =>
    archive.statement(
      `SELECT first_audit_id, last_audit_id, events, lower(hex(previous_hash)) AS previous_hash,
         lower(hex(last_hash)) AS last_hash, created_at
       FROM audit_trail_archive LIMIT 1`,
    ).get());
  return (row as unknown as ArchiveInfo | undefined) ?? null;
}

// --- internals -------------------------------------------------------------------------------

const ARCHIVE_TABLES_SQL = `
  CREATE TABLE audit_trail_chain (audit_id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
  CREATE TABLE audit_trail_archive (
    first_audit_id INTEGER NOT NULL,
    last_audit_id INTEGER NOT NULL,
    events INTEGER NOT NULL,
    previous_hash BLOB NOT NULL,
    last_hash BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  );`;

/** An archive is never changed: the same guards as the live log, without exceptions. */
const APPEND_ONLY_SQL = ["audit_log", "audit_trail_chain", "audit_trail_archive"].flatMap((
  table,
) =>
  ["UPDATE", "DELETE"].map((action) =>
    `CREATE TRIGGER ${table}_no_${action.toLowerCase()} BEFORE ${action} ON ${table}
     BEGIN SELECT RAISE(ABORT, 'This is an audit-trail archive: it cannot be changed.'); END;`
  )
).join("\n");

interface LiveSchema {
  /** `CREATE TABLE audit_log …` as the live database declares it. */
  table: string;
  columns: string[];
  indexes: string[];
}

/**
 * The live `audit_log` as declared: the archive declares it the same way, so that every value
 * keeps its type (an adopted database may declare a column otherwise) and so its seal.
 */
function liveSchema(live: AuditDatabase): LiveSchema {
  return guard(live.path, () => {
    const table = live.statement(
      "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'audit_log'",
    ).get()!.sql as string;
    const columns = live.statement("SELECT name FROM pragma_table_info('audit_log')").all()
      .map((row) => row.name as string);
    const indexes = live.statement(
      `SELECT sql FROM sqlite_schema
       WHERE type = 'index' AND tbl_name = 'audit_log' AND sql IS NOT NULL ORDER BY name`,
    ).all().map((row) => row.sql as string);
    return { table, columns, indexes };
  });
}

/**
 * Copies rows page by page; values keep their exact types (integers as BigInt). Rows go in
 * by the score per statement: binding the same values costs half the time that way.
 */
async function copyRows(
  live: AuditDatabase,
  out: DatabaseSync,
  pages: Pages,
  path: string,
  selectSql: string,
  insertSql: string,
  columns: number,
  range: ArchiveRange,
): Promise<number> {
  const select = guard(live.path, () => live.sqlite.prepare(selectSql)) as StatementSync & {
    setReturnArrays(on: boolean): void;
  };
  select.setReturnArrays(true);
  select.setReadBigInts(true);
  const row = `(${Array(columns).fill("?").join(", ")})`;
  const perStatement = Math.max(1, Math.min(64, Math.floor(999 / columns)));
  const one = guard(path, () => out.prepare(`${insertSql} ${row}`));
  const many = guard(
    path,
    () => out.prepare(`${insertSql} ${Array(perStatement).fill(row).join(", ")}`),
  );
  let copied = 0;
  let cursor: SQLInputValue = range.first_audit_id - 1;
  for (;;) {
    const page = guard(
      live.path,
      () => select.all(cursor, range.last_audit_id),
    ) as unknown as SQLInputValue[][];
    guard(path, () => {
      let i = 0;
      for (; i + perStatement <= page.length; i += perStatement) {
        const values: SQLInputValue[] = [];
        for (let j = i; j < i + perStatement; j++) values.push(...page[j]!);
        many.run(...values);
      }
      for (; i < page.length; i++) one.run(...page[i]!);
    });
    copied += page.length;
    if (page.length < PAGE_SIZE) return copied;
    cursor = page.at(-1)![0]!;
    await pages.next();
  }
}

/**
 * The pauses of a copy: the copy runs on the main thread, where a signal listener runs only
 * between tasks, so it returns to the event loop now and then (every 50 ms: a pause after each
 * page would cost the copy more, timers nested this deep wait 4 ms) and stops once aborted.
 */
class Pages {
  #last = performance.now();

  constructor(readonly signal: AbortSignal | undefined) {}

  async next(): Promise<void> {
    if (!this.signal || performance.now() - this.#last < 50) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.signal.throwIfAborted();
    this.#last = performance.now();
  }
}
