/**
 * `verify --archives`: every archive file a checkpoint names is there, unchanged (its SHA-256),
 * holds what its checkpoint says, and its events match their seals from the seal before its
 * first; with the checkpoints chaining into one another and into the live log (checked with
 * the live walk), that proves the whole history from the first event ever written.
 *
 * @module
 */
import { join } from "node:path";
import type { AuditDatabase } from "../db.ts";
import { AuditTrailError, notReadBecause } from "../errors.ts";
import type { ChainHead } from "../chain/seal.ts";
import type { ChainFailure } from "../chain/classify.ts";
import { type ChainVerifyResult, checkAnchor } from "../chain/walk.ts";
import type { Checkpoint } from "./checkpoint_list.ts";
import { checkpointCovering } from "./checkpoints.ts";
import { type ArchiveChecks, type FileCheck, startArchiveChecks } from "./check_files.ts";
import {
  ARCHIVE_FILE_NAME,
  divergedArchive,
  openArchive,
  readArchiveInfo,
  requireArchiveFolder,
  unnamedArchive,
} from "./file.ts";

/** The archive files being checked, started before the live walk. */
export interface ArchivesRun {
  dir: string;
  checkpoints: Checkpoint[];
  checks: ArchiveChecks;
}

/**
 * Starts checking the archive files in `dir` that `checkpoints` name, in a worker thread, so
 * that the caller can walk the live log meanwhile; null when nothing was archived and there
 * is no such folder. Must be given the checkpoints read with the live walk.
 *
 * @throws {AuditTrailError} When `dir` is not a folder (and something was archived).
 */
export function startArchives(dir: string, checkpoints: Checkpoint[]): ArchivesRun | null {
  if (checkpoints.length === 0 && !isFolder(dir)) return null;
  requireArchiveFolder(dir);
  try {
    // Listed up front: files no checkpoint names are looked for, and a folder this user may
    // not read would otherwise make every archive look missing.
    for (const _ of Deno.readDirSync(dir)) break;
  } catch (error) {
    throw new AuditTrailError(`Archive folder "${dir}" cannot be read: ${notReadBecause(error)}`, {
      hint: UNREAD_HINT,
    });
  }
  const files = checkpoints.map((c) => ({ path: join(dir, c.file), name: c.file, expected: c }));
  return { dir, checkpoints, checks: startArchiveChecks(files) };
}

/**
 * Finishes the archive checks (this thread joins the worker), adds what was checked to
 * `result`, and returns the first failure in the order of the events: a file missing,
 * altered (its SHA-256), not the one its checkpoint names, or with an event that fails its
 * seal; an anchor in an archive that does not match; an archive file no checkpoint names that
 * does not hold this log's own events. One that does (left by a run killed before its commit)
 * is a warning.
 *
 * @throws {AuditTrailError} When an archive file is there but cannot be opened (no permission
 * to read it): nothing is known of its events then.
 */
export async function verifyArchives(
  db: AuditDatabase,
  run: ArchivesRun | null,
  result: ChainVerifyResult,
  anchor: ChainHead | undefined,
): Promise<ChainFailure | null> {
  result.archives = [];
  if (!run) return null;
  const { dir, checkpoints } = run;
  const found = await run.checks.finish();
  for (const [k, checkpoint] of checkpoints.entries()) {
    const failure = judge(dir, checkpoint, found[k]!, result, anchor);
    if (failure && !found[k]!.exists) {
      const elsewhere = await holderOf(dir, checkpoint);
      if (elsewhere) {
        failure.message =
          `Archive ${checkpoint.file} is missing from "${dir}": ${elsewhere} holds its events (${checkpoint.first_audit_id} to ${checkpoint.last_audit_id}) under another name; archive files must keep the names their checkpoints record`;
      }
    }
    if (failure) return failure;
  }
  const through = checkpoints.at(-1)?.last_audit_id ?? null;
  if (anchor && through !== null && anchor.audit_id < through) {
    if (!checkpointCovering(checkpoints, anchor.audit_id)) {
      result.anchor!.matches = false;
      return {
        audit_id: anchor.audit_id,
        kind: "deleted",
        message: `Event ${anchor.audit_id}, the anchor, was deleted: no archive holds it any more`,
      };
    }
  }
  return await checkUnnamed(db, dir, checkpoints, result);
}

// --- internals -------------------------------------------------------------------------------

/** What the check of one archive a checkpoint names comes to. */
function judge(
  dir: string,
  checkpoint: Checkpoint,
  found: FileCheck,
  result: ChainVerifyResult,
  anchor: ChainHead | undefined,
): ChainFailure | null {
  const { file, first_audit_id: first, last_audit_id: last } = checkpoint;
  const entry = {
    file,
    first_audit_id: first,
    last_audit_id: last,
    events_checked: found.check?.events_checked ?? 0,
    intact: false,
  };
  result.archives!.push(entry);
  result.events_checked += entry.events_checked;
  if (!found.exists) {
    return {
      audit_id: first,
      kind: "deleted",
      message: `Archive ${file} is missing: events ${first} to ${last} are gone from "${dir}"`,
      file,
    };
  }
  if (found.unreadable !== undefined) throw unreadable(dir, file, found.unreadable);
  if (found.check?.failure) return found.check.failure;
  if (found.hash?.sha256 !== checkpoint.sha256 || found.hash.bytes !== checkpoint.bytes) {
    return {
      audit_id: first,
      kind: "modified",
      message:
        `Archive ${file} was altered: its SHA-256 differs from the one its checkpoint recorded`,
      file,
    };
  }
  entry.intact = true;
  if (anchor && first <= anchor.audit_id && anchor.audit_id <= last) {
    using archive = openArchive(join(dir, file));
    const failure = checkAnchor(archive, anchor, result);
    if (failure) return { ...failure, message: `In archive ${file}: ${failure.message}`, file };
  }
  return null;
}

/**
 * The file in `dir`, under another name, that holds the archive a checkpoint names (renamed,
 * or copied under another name), if any: what the operator who finds it missing needs to know.
 */
async function holderOf(dir: string, checkpoint: Checkpoint): Promise<string | undefined> {
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry);
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!entry.isFile || entry.name === checkpoint.file || entry.name.startsWith(".")) continue;
    try {
      using archive = openArchive(join(dir, entry.name));
      const info = readArchiveInfo(archive);
      if (
        info?.first_audit_id === checkpoint.first_audit_id &&
        info.last_audit_id === checkpoint.last_audit_id && info.last_hash === checkpoint.last_hash
      ) {
        return entry.name;
      }
    } catch {
      // Not an archive (or not readable): not the one looked for.
    }
  }
  return undefined;
}

/** A file there that this user may not open: nothing is known of its events. */
function unreadable(dir: string, file: string, reason: string): AuditTrailError {
  return new AuditTrailError(`Archive ${file} in "${dir}" cannot be read: ${reason}`, {
    hint: `Its events were not checked. ${UNREAD_HINT}`,
  });
}

const UNREAD_HINT =
  "Let this user read the archive folder and every file in it (or copy the folder where it can), then run audit-trail verify --archives DIR again.";

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Archive files in the folder that no checkpoint names: harmless copies of this log's own
 * events (orphans of a killed run: the next archive replaces them), or tampering.
 */
async function checkUnnamed(
  db: AuditDatabase,
  dir: string,
  checkpoints: Checkpoint[],
  result: ChainVerifyResult,
): Promise<ChainFailure | null> {
  const named = new Set(checkpoints.map((c) => c.file));
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && ARCHIVE_FILE_NAME.test(entry.name) && !named.has(entry.name)) {
      names.push(entry.name);
    }
  }
  for (const file of names.sort()) {
    const path = join(dir, file);
    try {
      Deno.openSync(path, { read: true }).close();
    } catch (error) {
      throw unreadable(dir, file, notReadBecause(error));
    }
    const { info, own, shared } = unnamedArchive(db, dir, checkpoints, file);
    const match = ARCHIVE_FILE_NAME.exec(file)!;
    if (!own) {
      return {
        audit_id: info?.first_audit_id ?? Number(match[1]),
        kind: "inserted",
        message: shared
          ? divergedArchive(file, info!)
          : `Archive ${file} does not belong to this audit log: no checkpoint names it, and it does not hold this log's events`,
        file,
      };
    }
    result.warnings.push(
      `Archive ${file} is named by no checkpoint: it holds copies of events ${
        info!.first_audit_id
      } to ${
        info!.last_audit_id
      } left by an archive run that was interrupted; the next archive run replaces it`,
    );
  }
  return null;
}
