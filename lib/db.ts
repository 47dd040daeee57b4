/**
 * Opening an audit-trail database, and the transactions every writer goes through.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  AuditTrailError,
  DatabaseBusyError,
  DatabaseCorruptError,
  DatabaseNotFoundError,
  DiskFullError,
  notWrittenBecause,
  ReadOnlyDatabaseError,
  SchemaError,
  UsageError,
} from "./errors.ts";
import { freeDiskBytes } from "./io.ts";

/** How long a writer waits for another connection's lock before giving up. */
export const BUSY_TIMEOUT_MS = 10_000;

/** Options of {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /** Create the file (and its folder) when it does not exist. Only `migrate` does this. */
  create?: boolean | undefined;
  /** Open without write access; writes then fail with {@linkcode ReadOnlyDatabaseError}. */
  readOnly?: boolean | undefined;
  /**
   * The caller only reads, though it opens for writing (a read-only connection cannot tidy
   * the "-wal" and "-shm" files away when it closes, so commands that only read open
   * read-write). Like `readOnly`, it lets a database that was closed cleanly be read on a
   * completely full disk, where its WAL index cannot be made; without either, opening there
   * fails with {@linkcode DiskFullError}.
   */
  onlyReads?: boolean | undefined;
  /** Milliseconds to wait for a lock held by another connection (default 10,000). */
  busyTimeoutMs?: number | undefined;
  /**
   * Page cache of this connection in MiB (SQLite's default is 2). Bulk writes want more: an
   * import of a million events updates five indexes at scattered places, and with the
   * default cache those pages are written out and read back over and over.
   */
  cacheMiB?: number | undefined;
}

/**
 * An open audit-trail database: the SQLite connection plus a cache of prepared statements.
 * Dispose of it (`using db = openDatabase(...)`) or call {@linkcode AuditDatabase.close}.
 */
export class AuditDatabase implements Disposable {
  /** The file this connection was opened on. */
  readonly path: string;
  /** The underlying `node:sqlite` connection. */
  readonly sqlite: DatabaseSync;
  /**
   * Why it reads the database file alone, without a WAL index, where none could be made
   * (`"full disk"`, `"read-only folder"`); `null` for a connection like any other. Such a
   * connection sees nothing written after it opened, so a reader that stays open (the viewer,
   * `sync --watch`) opens again for each read, and writes fail before they begin.
   */
  readonly immutable: "full disk" | "read-only folder" | null;
  #statements = new Map<string, StatementSync>();

  constructor(
    path: string,
    sqlite: DatabaseSync,
    immutable: "full disk" | "read-only folder" | null = null,
  ) {
    this.path = path;
    this.sqlite = sqlite;
    this.immutable = immutable;
  }

  /** Returns the prepared statement for `sql`, preparing it on first use. */
  statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = guard(this.path, () => this.sqlite.prepare(sql));
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Closes the connection; safe to call twice. */
  close(): void {
    this.#statements.clear();
    if (this.sqlite.isOpen) this.sqlite.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens the audit-trail database at `path` with the settings every command relies on:
 * a 10 s busy wait and commits that are durable once they return.
 *
 * @param path The database file.
 * @param options Whether to create a missing file, open read-only, or change the busy wait.
 * @returns The open database.
 * @throws {UsageError} When `path` names no file: `:memory:`, empty, a `file:` URI, or a
 * path that ends in a folder separator.
 * @throws {DatabaseNotFoundError} When the file is missing and `create` is not set.
 * @throws {AuditTrailError} When the path is a folder, a named pipe or a device, a loop of
 * symbolic links, or a link to nothing.
 * @throws {DatabaseCorruptError} When the file is not a SQLite database.
 * @throws {DiskFullError} When the disk is full and the caller may write (see
 * {@linkcode OpenDatabaseOptions.onlyReads}).
 *
 * @example Open (and create) a database
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseNotFoundError, openDatabase } from "../mod.ts";
 * const path = `${await Deno.makeTempDir()}/app.db`;
 * assert.throws(() => openDatabase(path), DatabaseNotFoundError); // not created unless asked
 * using db = openDatabase(path, { create: true });
 * assert.equal(db.path, path);
 * assert.equal(db.sqlite.prepare("PRAGMA busy_timeout").get()?.timeout, 10_000);
 * ```
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): AuditDatabase {
  checkDatabasePath(path);
  const existing = pathExists(path);
  if (!existing) {
    refuseBrokenLink(path);
    if (!options.create) throw new DatabaseNotFoundError(path);
    const folder = nodePath().dirname(path);
    try {
      Deno.mkdirSync(folder, { recursive: true });
    } catch (error) {
      const why = notWrittenBecause(error, folder);
      throw new AuditTrailError(`Cannot create the folder for "${path}": ${why}`, {
        hint:
          "Check the path: a part of it may be a file rather than a folder, or this user may not create folders there.",
        cause: error,
      });
    }
  }
  // Opening a named pipe read-only waits for a writer that never comes, and a read-write
  // connection to a device leaves a "-journal" beside it (in /dev for /dev/null). Writers
  // look only once opening has failed (see requireDatabaseFile): a stat costs every start.
  if (existing && (options.readOnly || options.create)) requireDatabaseFile(path);
  const timeout = Math.max(0, Math.trunc(options.busyTimeoutMs ?? BUSY_TIMEOUT_MS));
  let sqlite: DatabaseSync;
  let immutable: AuditDatabase["immutable"] = null;
  try {
    sqlite = connect(path, options.readOnly ?? false, timeout);
  } catch (error) {
    if (existing) requireDatabaseFile(path, error);
    const failure = existing ? translateSqliteError(error, path) : undefined;
    if (failure instanceof DiskFullError) {
      sqlite = connectOnFullDisk(path, timeout, failure, options.readOnly || options.onlyReads);
      immutable = "full disk";
    } else {
      if (!existing || !cannotOpen(error)) throw translateSqliteError(error, path);
      sqlite = connectOnReadOnlyFolder(path, timeout, error);
      immutable = "read-only folder";
    }
  }
  if (options.cacheMiB !== undefined) {
    const kib = Math.max(1, Math.trunc(options.cacheMiB * 1024));
    guard(path, () => sqlite.exec(`PRAGMA cache_size = -${kib}`));
  }
  return new AuditDatabase(path, sqlite, immutable);
}

/**
 * Fails unless `path` is a plain file (or a link to one): a folder, a named pipe or a
 * device is no database, whatever SQLite makes of it. Nothing is checked for a path that
 * does not exist. Every command that opens a database calls it before trusting a failure
 * (or, for a device, an empty schema) as the database's own.
 *
 * @param cause The failure that made the caller look, kept as the error's cause.
 * @throws {AuditTrailError} When something other than a file is at `path`.
 */
export function requireDatabaseFile(path: string, cause?: unknown): void {
  const info = statOrNull(path);
  if (info === null || info.isFile) return;
  if (info.isDirectory) {
    throw new AuditTrailError(`Database path "${path}" is a folder, not a database file`, {
      hint: "Give the path of the database file itself (e.g. app.db inside that folder).",
      cause,
    });
  }
  const kind = info.isFifo
    ? "a named pipe"
    : info.isCharDevice || info.isBlockDevice
    ? "a device"
    : info.isSocket
    ? "a socket"
    : "not a regular file";
  throw new AuditTrailError(`Database path "${path}" is ${kind}, not a database file`, {
    hint: "Give the path of the database file itself, e.g. data/app.db.",
    cause,
  });
}

/**
 * Fails when `path` is a symbolic link that leads to no file: "not found" would send the
 * user to `migrate`, which cannot create a database through a broken link either.
 */
function refuseBrokenLink(path: string): void {
  let target: string;
  try {
    if (!Deno.lstatSync(path).isSymlink) return;
    target = Deno.readLinkSync(path);
  } catch {
    return;
  }
  throw new AuditTrailError(
    `Database path "${path}" is a symbolic link to "${target}", which does not exist`,
    { hint: "Point the link at the database file, or give the file's own path with --db." },
  );
}

/**
 * Refuses a path that SQLite would not open as a file: `:memory:` and the empty path make a
 * private database that vanishes on close (a migration "succeeds" and nothing is kept), and
 * a `file:` URI would open some other file than the one checked and reported here.
 */
export function checkDatabasePath(path: string): void {
  const memory = path === ":memory:" || path === "";
  if (/[\\/]$/.test(path)) {
    // SQLite would drop the separator and make a file named as the folder was meant to be.
    throw new UsageError(`Database path "${path}" ends in a folder separator, not a file name`, {
      hint: `Give the path of the database file itself, without the final "${
        path.at(-1)
      }" (e.g. data/app.db).`,
    });
  }
  if (memory || path.startsWith("file:")) {
    throw new UsageError(
      `Database path "${path}" ${
        memory ? "names a temporary in-memory database" : "is a SQLite URI"
      }, not a database file`,
      {
        hint: memory
          ? "Give the path of a database file, e.g. data/app.db; an in-memory database keeps nothing."
          : 'Give a plain file path (for a file whose name starts with "file:", write ./file:...).',
      },
    );
  }
}

function connect(path: string | URL, readOnly: boolean, timeout: number): DatabaseSync {
  const sqlite = new DatabaseSync(path, { readOnly });
  try {
    // busy_timeout makes every lock wait up to the limit instead of failing at once.
    sqlite.exec(`PRAGMA busy_timeout = ${timeout}`);
    // The first read opens the file and its WAL index: a database that cannot be read fails
    // here, where the cause can still be told apart (exec() errors carry no code, and setting
    // synchronous opens the file too), rather than at some later statement.
    sqlite.prepare("PRAGMA schema_version").get();
    // synchronous=FULL makes each WAL commit reach the disk before it returns, so an
    // acknowledged event survives power loss. recursive_triggers makes INSERT OR REPLACE fire
    // the DELETE triggers of the rows it replaces, so it cannot overwrite an event or a seal.
    sqlite.exec("PRAGMA synchronous = FULL; PRAGMA recursive_triggers = ON;");
  } catch (error) {
    sqlite.close();
    throw error;
  }
  return sqlite;
}

/**
 * SQLite reads a WAL database through a "-shm" index file beside it, which it cannot create
 * in a folder this user may not write (a read-only mount or share). Such a database can still
 * be read as immutable (see {@linkcode connectImmutable}). Writes then fail as read-only.
 */
function connectOnReadOnlyFolder(path: string, timeout: number, cause: unknown): DatabaseSync {
  if (folderWritable(nodePath().dirname(path))) throw translateSqliteError(cause, path);
  return connectImmutable(path, timeout, cause, {
    why: "its folder is read-only",
    hint:
      "Open it once from a place where its folder can be written (or copy the whole folder there), so those changes are merged into the database file.",
  });
}

/**
 * On a completely full disk the "-shm" index of a database that was closed cleanly (the last
 * connection removes it) cannot be made again: SQLite fails the open, leaving a 3-byte "-shm"
 * and an empty "-wal" behind, which are removed here. A caller that only reads then reads the
 * database as immutable (see {@linkcode connectImmutable}); one that may write gets the full
 * disk, as its write would.
 *
 * No other connection can be using the database in WAL mode: it would hold a "-shm" of at
 * least 32 KiB (SQLite maps it in 32 KiB regions before the first read). And none can start
 * while the disk stays full, for the same reason this one could not. Where space is freed
 * meanwhile, a writer can start; its changes go to the "-wal", which this reader does not see,
 * until the writer's connection closes and, knowing of no other, checkpoints them into the
 * database file under this reader, which takes no lock. That is left unguarded: it needs space
 * freed and a write finished during one read (the viewer opens again for each request).
 */
function connectOnFullDisk(
  path: string,
  timeout: number,
  failure: DiskFullError,
  onlyReads: boolean | undefined,
): DatabaseSync {
  const unused = removeUnusedWalIndex(path);
  if (!onlyReads || !unused) throw failure;
  return connectImmutable(path, timeout, failure.cause, {
    why: "the disk is full",
    hint:
      "Free some disk space (SQLite needs 32 KiB beside the database to read those changes) and run again.",
  });
}

/**
 * Removes a "-shm" too small to index anything (no connection can be using it) and then an
 * empty "-wal", as a failed open leaves them. Whether no "-shm" is left.
 */
function removeUnusedWalIndex(path: string): boolean {
  const index = statOrNull(`${path}-shm`);
  if (index !== null) {
    if (!index.isFile || index.size >= WAL_INDEX_REGION_BYTES) return false;
    if (!removeQuietly(`${path}-shm`)) return false;
  }
  if (statOrNull(`${path}-wal`)?.size === 0) removeQuietly(`${path}-wal`);
  return true;
}

/** The size of one region of a WAL index: a connection using it has mapped at least one. */
const WAL_INDEX_REGION_BYTES = 32 * 1024;

function removeQuietly(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}

/**
 * Opens a WAL database whose "-shm" index cannot be made as immutable: read from the
 * database file alone, without locks or index. That is safe unless committed changes wait in
 * its "-wal" file, which an immutable reader would not see: then it is refused, saying `why`
 * no index could be made, with `hint` on how to merge them. Writes fail as read-only.
 */
function connectImmutable(
  path: string,
  timeout: number,
  cause: unknown,
  refusal: { why: string; hint: string },
): DatabaseSync {
  if ((statOrNull(`${path}-wal`)?.size ?? 0) > 0) {
    throw new AuditTrailError(
      `Cannot read "${path}": ${refusal.why} and its latest changes are still in "${
        nodePath().basename(path)
      }-wal"`,
      { hint: refusal.hint, cause },
    );
  }
  const url = nodeBuiltin<typeof import("node:url")>("node:url").pathToFileURL(path);
  url.searchParams.set("immutable", "1");
  return guard(path, () => connect(url, true, timeout));
}

/** SQLITE_READONLY_DIRECTORY: no -shm beside a WAL database, and none can be made there. */
const SQLITE_READONLY_DIRECTORY = 1544;

function cannotOpen(error: unknown): boolean {
  const errcode = (error as { errcode?: number }).errcode ?? -1;
  return (errcode & 0xff) === 14 || errcode === SQLITE_READONLY_DIRECTORY ||
    /unable to open database/i.test((error as Error)?.message ?? "");
}

function folderWritable(folder: string): boolean {
  const probe = nodePath().join(folder, `.audit-trail-probe-${crypto.randomUUID()}`);
  try {
    Deno.openSync(probe, { write: true, createNew: true }).close();
  } catch {
    return false;
  }
  try {
    Deno.removeSync(probe);
  } catch {
    // An empty probe file left behind harms nothing.
  }
  return true;
}

/**
 * Runs `work` inside `BEGIN IMMEDIATE … COMMIT`: the write lock is taken up front (so a busy
 * database fails before anything is done) and everything `work` wrote is rolled back if it
 * throws. A writer waits for the lock up to the busy timeout, and on while other writers
 * keep committing or a bulk append that announced itself (see
 * {@linkcode bulkWriteTransaction}) holds it; it fails when one holder kept the lock for the
 * whole busy timeout.
 */
export function writeTransaction<T>(db: AuditDatabase, work: () => T): T {
  refuseImmutable(db);
  refuseOpenTransaction(db);
  beginWrite(db, true);
  return finishWrite(db, work);
}

/**
 * Like {@linkcode writeTransaction}, for a command that must stay stoppable while it waits
 * for the lock. SQLite's busy wait holds this thread until it ends, so no signal handler runs
 * meanwhile (Ctrl-C would wait for up to the whole timeout, or longer while other writers
 * keep committing): here the wait is taken in short slices with the event loop free between
 * them, and `signal` aborting ends it, throwing its reason, with nothing written. It gives up
 * when writeTransaction would.
 */
export async function stoppableWriteTransaction<T>(
  db: AuditDatabase,
  work: () => T,
  signal?: AbortSignal,
): Promise<T> {
  refuseImmutable(db);
  refuseOpenTransaction(db);
  signal?.throwIfAborted();
  const timeout = busyTimeout(db);
  if (signal === undefined || timeout === 0) return writeTransaction(db, work);
  const slice = Math.min(timeout, LOCK_WAIT_SLICE_MS);
  guard(db.path, () => db.sqlite.exec(`PRAGMA busy_timeout = ${slice}`));
  try {
    const giveUp = performance.now() + BULK_WAIT_MS;
    let version = dataVersion(db);
    let stalledSince = performance.now();
    while (true) {
      const attempt = performance.now();
      try {
        guard(db.path, () => db.sqlite.exec("BEGIN IMMEDIATE"));
        break;
      } catch (error) {
        if (!(error instanceof DatabaseBusyError)) throw error;
        const now = performance.now();
        const seen = version;
        version = dataVersion(db);
        // Progress (another writer committed) or an announced bulk append: wait on.
        if (version !== seen || bulkAppendAnnounced(db.path)) stalledSince = now;
        if (now - stalledSince >= timeout || now >= giveUp) throw waitedOut(error, db, timeout);
        // A lock refused at once (without SQLite's wait) must not make this loop spin.
        const pause = now - attempt < slice / 2 ? slice : 0;
        await new Promise((resolve) => setTimeout(resolve, pause));
        signal.throwIfAborted();
      }
    }
  } finally {
    guard(db.path, () => db.sqlite.exec(`PRAGMA busy_timeout = ${timeout}`));
  }
  return finishWrite(db, work);
}

/** How long one slice of {@linkcode stoppableWriteTransaction}'s wait for the lock lasts. */
const LOCK_WAIT_SLICE_MS = 100;

function busyTimeout(db: AuditDatabase): number {
  return guard(db.path, () => db.sqlite.prepare("PRAGMA busy_timeout").get()!.timeout as number);
}

/**
 * Like {@linkcode writeTransaction}, for appending events, which inside a transaction the
 * application holds open join it (see {@linkcode inSavepoint}).
 */
export function appendTransaction<T>(db: AuditDatabase, work: () => T): T {
  if (callerTransactionOpen(db)) return inSavepoint(db, work);
  return writeTransaction(db, work);
}

/**
 * Puts the file in WAL mode, which lets readers work while one writer commits; the mode is
 * stored in the file, and can only be changed outside a transaction. The change needs the file
 * to itself; when other connections open or switch the same file at that moment (scripts that
 * all run `migrate` at start-up, about 1 round in 30 of 8), SQLite may answer "locked" at once,
 * without its busy wait. So each refusal is followed by an exclusive lock taken and given back,
 * which does wait (as long as a write would) until the file is free, and the change is asked
 * for again.
 */
export function useWriteAheadLog(db: AuditDatabase): void {
  const timeout = busyTimeout(db);
  const giveUp = performance.now() + timeout;
  while (true) {
    try {
      guard(db.path, () => db.sqlite.exec("PRAGMA journal_mode = WAL"));
      return;
    } catch (error) {
      if (!(error instanceof DatabaseBusyError) || performance.now() >= giveUp) throw error;
    }
    guard(db.path, () => db.sqlite.exec("BEGIN EXCLUSIVE; COMMIT"));
  }
}

/**
 * Page cache, in KiB, for one write that changes many rows of `audit_log` (a bulk import, the
 * removal of archived events). With SQLite's default of 2 MiB, such a write's changes to five
 * indexes at scattered places are written out and read back over and over (twice as slow at
 * a million events); 32 MiB keeps them in memory while the whole process stays well under
 * 200 MB.
 */
const LARGE_WRITE_CACHE_KIB = 32 * 1024;

/**
 * Gives the connection at least {@linkcode LARGE_WRITE_CACHE_KIB} of page cache for one large
 * write, and returns how to give it its own setting back, so that a long-lived connection of a
 * library caller does not keep the memory.
 */
export function raisePageCache(db: AuditDatabase): () => void {
  const sqlite = db.sqlite;
  const { cache_size: setting } = guard(db.path, () => sqlite.prepare("PRAGMA cache_size").get()!);
  const { page_size: pageSize } = guard(db.path, () => sqlite.prepare("PRAGMA page_size").get()!);
  // A negative setting is in KiB, a positive one in pages.
  const kib = (setting as number) < 0
    ? -(setting as number)
    : (setting as number) * (pageSize as number) / 1024;
  if (kib >= LARGE_WRITE_CACHE_KIB) return () => {};
  guard(db.path, () => sqlite.exec(`PRAGMA cache_size = -${LARGE_WRITE_CACHE_KIB}`));
  return () => sqlite.exec(`PRAGMA cache_size = ${Number(setting)}`);
}

/**
 * Fails when the application holds a transaction open on `db`: only events join one. Work
 * that also changes files or another database (an archive, a sync, a migration) would stay
 * done there when the application rolls back.
 *
 * @throws {UsageError} When a transaction is open.
 */
export function refuseOpenTransaction(db: AuditDatabase): void {
  if (!callerTransactionOpen(db)) return;
  throw new UsageError(`A transaction is open on "${db.path}": this cannot be done inside it`, {
    hint:
      "Commit or roll back the transaction first. Only logAuditEvent and logAuditEvents join an open transaction.",
  });
}

/**
 * Fails, before anything is begun, on a connection that reads the database file alone: the
 * write could not be made for the reason it could not open normally (the full disk says so,
 * rather than the "read-only" SQLite would answer).
 */
function refuseImmutable(db: AuditDatabase): void {
  if (db.immutable === "full disk") throw new DiskFullError(db.path);
  if (db.immutable === "read-only folder") throw new ReadOnlyDatabaseError(db.path);
}

/**
 * Whether the application holds a transaction open on this connection, which a write then
 * joins: its events commit (and roll back) with the application's own changes.
 */
function callerTransactionOpen(db: AuditDatabase): boolean {
  return guard(db.path, () => db.sqlite.isTransaction);
}

/**
 * Runs `work` in a savepoint of the transaction the caller holds: if `work` throws, what it
 * wrote is undone and the caller's transaction, with its own changes, stays open. A failure
 * after which SQLite rolled back the whole transaction (a full disk) leaves none to undo.
 */
export function inSavepoint<T>(db: AuditDatabase, work: () => T): T {
  guard(db.path, () => db.sqlite.exec("SAVEPOINT audit_trail_write"));
  try {
    const result = guard(db.path, work);
    guard(db.path, () => db.sqlite.exec("RELEASE audit_trail_write"));
    return result;
  } catch (error) {
    if (db.sqlite.isOpen && db.sqlite.isTransaction) {
      try {
        db.sqlite.exec("ROLLBACK TO audit_trail_write; RELEASE audit_trail_write");
      } catch {
        // The original error says what went wrong; a failed rollback adds nothing useful.
      }
    }
    // SQLite refuses at once, without waiting, to write in a transaction that began reading
    // before another connection's latest commit: waiting could not help it.
    if (error instanceof DatabaseBusyError && isStaleSnapshot(error.cause)) {
      throw new DatabaseBusyError(db.path, {
        message:
          `Database changed under the open transaction: another program wrote to "${db.path}" after this transaction began reading, so the event cannot be added to it`,
        hint:
          'Nothing of the event was written; the transaction stays open. Roll it back and run it again, begun with "BEGIN IMMEDIATE" so that no one writes in between.',
        cause: error.cause,
      });
    }
    throw error;
  }
}

/** Whether SQLite refused the write as SQLITE_BUSY_SNAPSHOT. */
function isStaleSnapshot(cause: unknown): boolean {
  return (cause as { errcode?: number })?.errcode === 517;
}

/**
 * Runs `work`, which writes only the connection's private temp database, in one short
 * transaction (a savepoint of the caller's, when one is open): never across an `await`, so
 * that the application's own writes on the connection meanwhile are not drawn into it.
 */
export function tempTransaction<T>(db: AuditDatabase, work: () => T): T {
  if (callerTransactionOpen(db)) return inSavepoint(db, work);
  guard(db.path, () => db.sqlite.exec("BEGIN"));
  return finishWrite(db, work);
}

/**
 * Like {@linkcode writeTransaction}, for one long append (a bulk ingest): it announces itself
 * while it waits for the lock and holds it, so that other writers wait for it rather than fail
 * after their busy timeout, and it waits for another announced bulk append to finish first.
 * The announcement is an advisory lock on an empty file beside the database
 * (`<database>-ingest`), removed when the append ends; the operating system releases the lock
 * if the process dies (the empty file then stays until the next bulk append).
 */
export async function bulkWriteTransaction<T>(db: AuditDatabase, work: () => T): Promise<T> {
  // The application's transaction may hold the write lock already: waiting for another
  // program's announced bulk append would stall both, as that one waits for this lock.
  if (callerTransactionOpen(db)) return inSavepoint(db, work);
  refuseImmutable(db);
  const announcement = await announce(db);
  try {
    beginWrite(db, false);
    return finishWrite(db, work);
  } finally {
    announcement?.withdraw();
  }
}

/**
 * The longest a writer waits for announced bulk appends, in all. A million events take
 * some 10-20 s to append; this only keeps a writer from waiting forever on one that hangs.
 */
export const BULK_WAIT_MS = 10 * 60_000;

/** How often a bulk append looks whether another one has finished. */
const ANNOUNCEMENT_POLL_MS = 50;

function announcementPath(path: string): string {
  return `${path}-ingest`;
}

/**
 * Takes the announcement of a bulk append, waiting (up to {@linkcode BULK_WAIT_MS}) while
 * another one holds it. Null where the file cannot be made (a read-only folder): the append
 * then goes on unannounced.
 */
async function announce(db: AuditDatabase): Promise<{ withdraw(): void } | null> {
  const path = announcementPath(db.path);
  // Waits are timed by the monotonic clock: a PC's clock corrected meanwhile must not end or
  // stretch them.
  const giveUp = performance.now() + BULK_WAIT_MS;
  while (true) {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true, create: true });
    } catch {
      return null;
    }
    while (!file.tryLockSync(true)) {
      if (performance.now() >= giveUp) {
        file.close();
        throw new DatabaseBusyError(db.path);
      }
      await new Promise((resolve) => setTimeout(resolve, ANNOUNCEMENT_POLL_MS));
    }
    // The append this one waited for removes the file when it ends, so the lock may be on a
    // file no longer there: then announce on the one that is.
    if (sameFile(file, path)) {
      return {
        withdraw() {
          // Removed while still locked, so no one takes the lock of a file being removed
          // without seeing afterwards that it is gone. A killed append leaves it (empty).
          try {
            Deno.removeSync(path);
          } catch {
            // Another process may have it open on Windows; the next append removes it.
          }
          file.close();
        },
      };
    }
    file.close();
  }
}

function sameFile(file: Deno.FsFile, path: string): boolean {
  try {
    const [opened, named] = [file.statSync(), Deno.statSync(path)];
    return opened.ino === null || (opened.ino === named.ino && opened.dev === named.dev);
  } catch {
    return false;
  }
}

/** Whether a bulk append has announced itself on the database at `path`. */
function bulkAppendAnnounced(path: string): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(announcementPath(path), { read: true });
  } catch {
    return false;
  }
  try {
    return !file.tryLockSync(false);
  } catch {
    return false;
  } finally {
    file.close();
  }
}

/**
 * `BEGIN IMMEDIATE`, waiting up to the busy timeout for the lock, and on for as long as the
 * writers holding it make progress: a writer gives up only when one holder kept the lock for
 * the whole timeout. Many writers queued behind a bulk append (or behind each other, each
 * commit waiting for the disk) otherwise fail while the database is working normally.
 */
function beginWrite(db: AuditDatabase, waitForBulk: boolean): void {
  const giveUp = performance.now() + BULK_WAIT_MS;
  let version = dataVersion(db);
  while (true) {
    const attempt = performance.now();
    try {
      guard(db.path, () => db.sqlite.exec("BEGIN IMMEDIATE"));
      return;
    } catch (error) {
      if (!(error instanceof DatabaseBusyError)) throw error;
      const timeout = busyTimeout(db);
      if (performance.now() >= giveUp) throw waitedOut(error, db, timeout);
      // Another attempt only after this one waited out the busy timeout: a timeout of 0
      // asks not to wait at all, and a lock refused at once must not make this loop spin.
      if (timeout === 0 || performance.now() - attempt < timeout / 2) {
        throw waitedOut(error, db, timeout);
      }
      const seen = version;
      version = dataVersion(db);
      const progress = version !== seen;
      if (!progress && !(waitForBulk && bulkAppendAnnounced(db.path))) {
        throw waitedOut(error, db, timeout);
      }
    }
  }
}

/** `error`, saying how long `db` waited where the application chose another busy timeout. */
function waitedOut(
  error: DatabaseBusyError,
  db: AuditDatabase,
  timeout: number,
): DatabaseBusyError {
  if (timeout === BUSY_TIMEOUT_MS) return error;
  return new DatabaseBusyError(db.path, { cause: error.cause, waitedMs: timeout });
}

/** Changes whenever another connection commits to the database. */
function dataVersion(db: AuditDatabase): number {
  return guard(db.path, () => db.statement("PRAGMA data_version").get()!.data_version as number);
}

function finishWrite<T>(db: AuditDatabase, work: () => T): T {
  let result: T;
  try {
    result = guard(db.path, work);
    guard(db.path, () => db.sqlite.exec("COMMIT"));
  } catch (error) {
    if (db.sqlite.isOpen && db.sqlite.isTransaction) {
      try {
        db.sqlite.exec("ROLLBACK");
      } catch {
        // The original error says what went wrong; a failed rollback adds nothing useful.
      }
    }
    throw error;
  }
  return result;
}

/**
 * Runs `work` inside one read transaction, so every statement sees the same snapshot (see
 * {@linkcode readSnapshot}; inside a transaction already open, `work` runs in that one).
 */
export function readTransaction<T>(db: AuditDatabase, work: () => T): T {
  using _snapshot = readSnapshot(db);
  return guard(db.path, work);
}

/**
 * Begins a read transaction that lasts until the returned handle is disposed (`using`), so
 * that every statement in between sees one snapshot, across `await`s and the pages of a
 * generator. Inside a transaction already open it begins none and leaves that one open.
 *
 * Ending it never throws: nothing was written, and a commit that fails can only report damage
 * that a read already reported (as a typed error, which must not be replaced by the raw one).
 * A raw `node:sqlite` connection may be given too (the bundle's copies read one): its errors
 * then stay raw.
 */
export function readSnapshot(db: AuditDatabase | DatabaseSync): Disposable {
  const sqlite = db instanceof AuditDatabase ? db.sqlite : db;
  // On a closed connection `isTransaction` throws node:sqlite's raw error: the typed one says
  // what to do.
  const open = db instanceof AuditDatabase
    ? guard(db.path, () => sqlite.isTransaction)
    : sqlite.isTransaction;
  if (open) return { [Symbol.dispose]() {} };
  if (db instanceof AuditDatabase) guard(db.path, () => sqlite.exec("BEGIN"));
  else sqlite.exec("BEGIN");
  return {
    [Symbol.dispose]() {
      if (!sqlite.isOpen || !sqlite.isTransaction) return;
      try {
        sqlite.exec("COMMIT");
      } catch {
        try {
          sqlite.exec("ROLLBACK");
        } catch {
          // Closing the connection ends the transaction in any case.
        }
      }
    },
  };
}

/** Runs `work`, turning SQLite failures into audit-trail's typed errors for `path`. */
export function guard<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translateSqliteError(error, path);
  }
}

/**
 * Maps a `node:sqlite` error to the typed error a person can act on. Errors from `exec()`
 * carry only a message, so the message is matched as well as the result code.
 */
export function translateSqliteError(error: unknown, path: string): unknown {
  if (error instanceof AuditTrailError || !(error instanceof Error)) return error;
  if (/database is not open/i.test(error.message)) {
    return new UsageError(`The database "${path}" is closed`, {
      hint: "Open it again with openDatabase() before using it; close() ends its use.",
      cause: error,
    });
  }
  // A program that opened a database without migrating it: every table is missing.
  if (/no such table: (main\.)?audit_log$/.test(error.message)) {
    return new SchemaError(`Database "${path}" is not set up for audit-trail yet`, {
      hint: "Call migrate(db) once after openDatabase(path, { create: true }).",
      cause: error,
    });
  }
  const extended = (error as { errcode?: number }).errcode ?? -1;
  const code = extended & 0xff;
  const message = error.message;
  if (code === 5 || code === 6 || /database (table )?is locked|database is busy/i.test(message)) {
    return new DatabaseBusyError(path, { cause: error });
  }
  // A full disk shows as SQLITE_FULL only when a database page cannot be written; when the
  // WAL index cannot grow it is an I/O error (SQLITE_IOERR_SHMSIZE, or a bare "disk I/O
  // error" from exec()), so the free space is checked as well.
  const ioError = code === 10 || /disk I\/O error/i.test(message);
  if (
    code === 13 || extended === SQLITE_IOERR_SHMSIZE ||
    /database or disk is full|disk is full|No space left/i.test(message) ||
    (ioError && diskAlmostFull(path))
  ) {
    return new DiskFullError(path, { cause: error });
  }
  if (code === 8 || /readonly database|read-only/i.test(message)) {
    return new ReadOnlyDatabaseError(path, { cause: error });
  }
  if (code === 26 || /file is not a database/i.test(message)) {
    return new DatabaseCorruptError(path, "it is not a SQLite database", { cause: error });
  }
  if (code === 11 || /malformed|corrupt/i.test(message)) {
    return new DatabaseCorruptError(path, "the file is damaged (" + message + ")", {
      cause: error,
    });
  }
  if (code === 14 || /unable to open database/i.test(message)) {
    // SQLite's "unable to open database file" says no more than this line, and not why.
    return new AuditTrailError(`Cannot open the database "${path}"`, {
      hint:
        "Check that the path is right and that this user may read and write the file and its folder.",
      cause: error,
    });
  }
  if (code === 10 || /disk I\/O error/i.test(message)) {
    return new AuditTrailError(`Disk error while using "${path}": ${message}`, {
      hint: "Check the disk; nothing was acknowledged that was not written.",
      cause: error,
    });
  }
  return error;
}

/**
 * Whether a file (or anything) exists at `path`; `migrate --status` must not create one.
 *
 * @throws {UsageError} When `path` names no file (see {@linkcode checkDatabasePath}).
 */
export function databaseExists(path: string): boolean {
  checkDatabasePath(path);
  if (!pathExists(path)) {
    refuseBrokenLink(path);
    return false;
  }
  requireDatabaseFile(path);
  return true;
}

const SQLITE_IOERR_SHMSIZE = 4874;

function diskAlmostFull(path: string): boolean {
  const free = freeDiskBytes(nodePath().dirname(path));
  return free !== null && free < 1024 * 1024;
}

/**
 * Whether anything is at `path`. Every command asks it before it opens the database; a stat
 * would say more, but its first call costs a start about a quarter of a millisecond more, and
 * what more it says (a folder) matters only when opening has failed.
 */
function pathExists(path: string): boolean {
  try {
    Deno.realPathSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.FilesystemLoop) {
      throw new AuditTrailError(`Database path "${path}" is a loop of symbolic links`, {
        hint: "Point the link at the database file, or give the file's own path with --db.",
        cause: error,
      });
    }
    return false;
  }
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

/** `node:path`, for the rare paths that need a file's folder (see {@linkcode nodeBuiltin}). */
function nodePath(): typeof import("node:path") {
  return nodeBuiltin<typeof import("node:path")>("node:path");
}

/**
 * A Node built-in, loaded on first use. Importing `node:fs`, `node:url` or `node:path` at the
 * top would start Deno's Node compatibility layer in every process, about 10-15 ms before the
 * first statement runs; the paths that need them are rare (creating a database, a read-only
 * folder, a full disk).
 */
function nodeBuiltin<T>(name: string): T {
  return (globalThis as unknown as { process: { getBuiltinModule(name: string): T } }).process
    .getBuiltinModule(name);
}
