/**
 * Reading live and archived events together (`query --archives`, `batch show --archives`):
 * the same filters, order and record shape as the live log alone, page by page.
 *
 * Each archive holds a run of ids below the next one's, and the live log holds the ids above
 * the newest archive, so the merge of their streams in `audit_id` order is one source after
 * the other: newest first, the live log and then the archives from the newest; oldest first,
 * the other way round. Memory stays flat: one page of one source at a time, and only one
 * archive open at a time.
 *
 * @module
 */
import { join } from "node:path";
import { type AuditDatabase, readSnapshot } from "../db.ts";
import { requireCount } from "../count.ts";
import { AuditTrailError, notReadBecause, TamperingFoundError } from "../errors.ts";
import type { AuditEvent } from "../event_row.ts";
import { type AuditLogFilter, DEFAULT_QUERY_LIMIT, getAuditLog, streamAuditLog } from "../query.ts";
import { BATCH_END, type BatchReport, batchReport } from "../batch.ts";
import type { BatchState } from "../batch_run.ts";
import { type Checkpoint, readCheckpoints } from "./checkpoint_list.ts";
import { openArchive, readArchiveInfo, requireArchiveFolder } from "./file.ts";

/** Reads the pages of one source (the live database or an archive) for a filter. */
export type PageReader<T> = (source: AuditDatabase, filter: AuditLogFilter) => Iterable<T[]>;

/**
 * The events matching `filter` in the live database and in the archive files of `dir` that
 * its checkpoints name, in the filter's order, with its limit and offset over all of them.
 * `read` is the page reader of one source (`streamAuditLog`, `streamAuditRows`…): whatever it
 * yields for the live log, it yields for each archive. Reads one snapshot of the live
 * database, so an archive run meanwhile neither hides nor repeats an event.
 *
 * @param db The open live database.
 * @param dir The folder of the archive files.
 * @param filter Filters, cursor, limit, offset and order, as for the live log alone.
 * @param read Reads one source's pages (with limit 0 and offset 0).
 * @throws {AuditTrailError} When an archive the filter reaches is missing (or `dir` is not a
 * folder).
 * @throws {TamperingFoundError} When an archive file is not the one its checkpoint names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archiveEvents, logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * import { streamAuditLog } from "../query.ts";
 * import { streamWithArchives } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * using db = openDatabase(`${dir}/app.db`, { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * await archiveEvents(db, { before: new Date(Date.now() + 1000) });
 * logAuditEvent(db, { operation: "SKU_UPDATED", sku: "SKU-1" });
 * const pages = streamWithArchives(db, `${dir}/archive`, { sku: "SKU-1" }, streamAuditLog);
 * assert.deepEqual([...pages].flat().map((e) => e.operation), ["SKU_UPDATED", "SKU_CREATED"]);
 * ```
 */
export function* streamWithArchives<T>(
  db: AuditDatabase,
  dir: string,
  filter: AuditLogFilter,
  read: PageReader<T>,
): Generator<T[]> {
  const limit = requireCount(filter.limit ?? DEFAULT_QUERY_LIMIT, "Limit");
  let skip = requireCount(filter.offset ?? 0, "Offset");
  let left = limit === 0 ? Infinity : limit;
  const each = { ...filter, limit: 0, offset: 0 };
  // One snapshot for the checkpoints and the live events: ends when the stream does.
  using _snapshot = readSnapshot(db);
  const checkpoints = readCheckpoints(db).filter((c) => overlaps(c, filter));
  // Nothing archived yet (or nothing the filter reaches): no folder is needed.
  if (checkpoints.length > 0) requireArchiveFolder(dir);
  // Every archive the filter can reach is checked before the first event is printed, so a
  // missing one fails the command with nothing written, rather than half-way through.
  for (const checkpoint of checkpoints) openChecked(dir, checkpoint).close();
  const sources: (Checkpoint | null)[] = [null, ...checkpoints.reverse()];
  if (filter.order === "asc") sources.reverse();
  for (const checkpoint of sources) {
    using archive = checkpoint ? openChecked(dir, checkpoint) : undefined;
    for (let page of read(archive ?? db, each)) {
      if (skip > 0) {
        const skipped = Math.min(skip, page.length);
        page = page.slice(skipped);
        skip -= skipped;
      }
      if (page.length > left) page = page.slice(0, left);
      left -= page.length;
      if (page.length > 0) yield page;
      if (left === 0) return;
    }
  }
}

/**
 * Every event of one batch, oldest first, from the live log and the archives together: a
 * batch that spans the boundary is found whole. The report is that of `getBatchOperations`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archiveEvents, logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * import { getArchivedBatchOperations } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * using db = openDatabase(`${dir}/app.db`, { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "BATCH_START", run_id: "run_a" });
 * await archiveEvents(db, { before: new Date(Date.now() + 1000) });
 * logAuditEvent(db, { operation: "BATCH_END", run_id: "run_a" });
 * assert.equal(getArchivedBatchOperations(db, `${dir}/archive`, "run_a").event_count, 2);
 * ```
 */
export function getArchivedBatchOperations(
  db: AuditDatabase,
  dir: string,
  runId: string,
): BatchReport {
  const events: AuditEvent[] = [];
  const filter: AuditLogFilter = { runId, order: "asc", limit: 0 };
  for (const page of streamWithArchives(db, dir, filter, getAuditPages)) {
    for (const event of page) events.push(event);
  }
  return batchReport(runId, events);
}

/**
 * Where batch `runId` stands across the live log and the archive files of `dir`, for
 * `endBatch`: a batch whose events were archived while it ran is still ended once. Reads at
 * most one page of each source holding the batch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { archiveEvents, logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * import { batchStateWithArchives } from "./read.ts";
 * const dir = await Deno.makeTempDir();
 * using db = openDatabase(`${dir}/app.db`, { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "BATCH_START", run_id: "run_a" });
 * await archiveEvents(db, { before: new Date(Date.now() + 1000) });
 * assert.deepEqual(batchStateWithArchives(db, `${dir}/archive`, "run_a"), { found: true, ended_by: null });
 * ```
 */
export function batchStateWithArchives(db: AuditDatabase, dir: string, runId: string): BatchState {
  const first = (filter: AuditLogFilter) => {
    const pages = streamWithArchives(
      db,
      dir,
      { ...filter, runId, order: "asc", limit: 1 },
      streamAuditLog,
    );
    for (const page of pages) return page[0];
    return undefined;
  };
  return {
    found: first({}) !== undefined,
    ended_by: first({ operation: BATCH_END })?.audit_id ?? null,
  };
}

// --- internals -------------------------------------------------------------------------------

/** One source's events as a single page (`getAuditLog` reads them in pages of its own). */
function* getAuditPages(source: AuditDatabase, filter: AuditLogFilter): Generator<AuditEvent[]> {
  yield getAuditLog(source, filter);
}

/** Whether an archive can hold events inside the filter's id bounds. */
function overlaps(checkpoint: Checkpoint, filter: AuditLogFilter): boolean {
  return (filter.afterId === undefined || checkpoint.last_audit_id > filter.afterId) &&
    (filter.beforeId === undefined || checkpoint.first_audit_id < filter.beforeId);
}

/** Opens the archive a checkpoint names, once it says it holds what the checkpoint says. */
export function openChecked(dir: string, checkpoint: Checkpoint): AuditDatabase {
  const path = join(dir, checkpoint.file);
  let archive: AuditDatabase;
  try {
    Deno.statSync(path);
    archive = openArchive(path);
  } catch (error) {
    // Not there, or not this user's to read, said as such; anything else is the file's own.
    const why = error instanceof Deno.errors.NotFound
      ? ": it is not there"
      : error instanceof Deno.errors.PermissionDenied
      ? `: ${notReadBecause(error)}`
      : "";
    throw new AuditTrailError(`Archive ${checkpoint.file} cannot be read in "${dir}"${why}`, {
      hint:
        "Give the folder that holds every archive file, and check them with audit-trail verify --archives DIR.",
      cause: error,
    });
  }
  const info = readArchiveInfo(archive);
  if (
    !info || info.first_audit_id !== checkpoint.first_audit_id ||
    info.last_audit_id !== checkpoint.last_audit_id || info.last_hash !== checkpoint.last_hash
  ) {
    archive.close();
    throw new TamperingFoundError(
      `Archive ${checkpoint.file} in "${dir}" is not the archive its checkpoint names`,
      { hint: "Check the archive files with audit-trail verify --archives DIR." },
    );
  }
  return archive;
}
