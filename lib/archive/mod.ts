/**
 * Retention that keeps the proof: old events move into sealed archive files, the live
 * database keeps a checkpoint, and the chain can still be checked from the first event ever
 * written to the newest.
 *
 * - `archive.ts`: moving the oldest events out, crash-safe (`audit-trail archive`);
 * - `checkpoints.ts`: the checkpoints the live database keeps, and where its chain starts;
 * - `file.ts`: the archive file, how it is written and checked;
 * - `folder.ts`: the archive folder as one run holds it;
 * - `verify.ts` and `check_files.ts`: `verify --archives`, the files checked in two threads;
 * - `read.ts`: reading live and archived events together (`query --archives`);
 * - `central.ts`: what a central store has acknowledged, which archive leaves alone.
 *
 * @module
 */
export { archiveEvents, type ArchiveOptions, type ArchiveResult } from "./archive.ts";
export { type ArchivedRange, type Checkpoint, readCheckpoints } from "./checkpoint_list.ts";
export { archiveFileName, type ArchiveInfo } from "./file.ts";
export { getArchivedBatchOperations, type PageReader, streamWithArchives } from "./read.ts";
