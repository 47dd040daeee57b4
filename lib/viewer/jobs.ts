/**
 * What each of the viewer's addresses reads and writes, given the open database and where the
 * answer goes. The API answers are the command line's own output: `/api/events` is what
 * `query --format json` prints for the same filters (both call `writeQuery`), `/api/batches` what `batch list` prints,
 * and so on, written by the same functions.
 *
 * @module
 */
import { archivedReach, batchesArchivedReach } from "../archive/checkpoint_list.ts";
import { getBatchOperations, listBatches } from "../batch.ts";
import { verifyChain } from "../chain/mod.ts";
import { type AuditDatabase, readTransaction } from "../db.ts";
import { type TextSink, writeObject, writeRecords } from "../output.ts";
import { type AuditLogFilter, getAuditLog, logIdEnds, writeQuery } from "../query.ts";
import { batchOutline, batchTimeline, recentBatches } from "../batch_overview.ts";
import { eventsPerDay, facetCounts, getStats } from "../stats.ts";
import { batchesPage, batchPage, eventsPage, overviewPage } from "./pages.ts";
import type { ViewerJob } from "./routes.ts";
import { type ChainWalk, replacedSince } from "./chain_status.ts";

/** Columns of `batch list`, which `/api/batches` prints the same way. */
const BATCH_COLUMNS = ["run_id", "event_count", "start_time", "end_time", "duration_seconds"];
/** How many values each facet lists. */
const FACET_VALUES = 20;

/** The counts beside an event list: of every event its filter selects, whichever the page. */
interface FilterFigures {
  perDay: { day: string; count: number }[];
  operations: { value: string; count: number }[];
  users: { value: string; count: number }[];
}

/** How many filters' figures each worker keeps. */
const FIGURES_KEPT = 16;
const keptFigures = new WeakMap<AuditDatabase, Map<string, FilterFigures>>();

/**
 * The figures of `filter`'s events, counted once for all of its pages. Counting reads every
 * event the filter selects (ten million, seconds of work, for the whole log), while a page
 * reads its 100: paging through a filter recounted it at every step. The log grows only at
 * its end and loses events (archive) only at its start, so the same filter over the same
 * first and last `audit_id` counts the same events.
 */
function filterFigures(db: AuditDatabase, filter: AuditLogFilter): FilterFigures {
  const whole: AuditLogFilter = {
    ...filter,
    afterId: undefined,
    beforeId: undefined,
    limit: undefined,
    order: undefined,
  };
  let kept = keptFigures.get(db);
  if (!kept) keptFigures.set(db, kept = new Map());
  const cache = kept;
  // One snapshot: the figures are of the events between the ends they are kept under.
  return readTransaction(db, () => {
    const ends = logIdEnds(db);
    const key = JSON.stringify([whole, ends.first, ends.last]);
    let figures = cache.get(key);
    if (figures) {
      cache.delete(key); // kept again below, as the most recently used
    } else {
      figures = {
        perDay: eventsPerDay(db, whole),
        operations: facetCounts(db, whole, "operation", FACET_VALUES),
        users: facetCounts(db, whole, "user", FACET_VALUES),
      };
      if (cache.size >= FIGURES_KEPT) cache.delete(cache.keys().next().value!);
    }
    cache.set(key, figures);
    return figures;
  });
}

/**
 * Runs `job` against `db`, writing the answer to `sink`. `source` is the database's name as
 * the pages show it; `path` its path; `file` which file that is now (device and inode, see
 * `worker.ts`). A walk of the chain (`verify`) answers its verdict and `file` as JSON, which
 * the server keeps and shows (see `chain_status.ts`).
 */
export async function runJob(
  db: AuditDatabase,
  job: ViewerJob,
  sink: TextSink,
  context: { source: string; path: string; file?: string | null },
): Promise<void> {
  const { source } = context;
  switch (job.kind) {
    case "overview": {
      // One snapshot: an event logged between the figures and the batch table would be
      // counted by one and not the other.
      const page = readTransaction(
        db,
        () =>
          overviewPage(
            source,
            getStats(db),
            recentBatches(db, { limit: 10 }),
            archivedReach(db, {}),
            {
              ...job.chain,
              lastId: logIdEnds(db).last,
              replaced: replacedSince(job.chain, context.file),
            },
          ),
      );
      return await sink.write(page);
    }
    case "events_page": {
      const { filter } = job;
      // One snapshot: an event logged between the list and its figures would be listed and
      // not counted (or the reverse); the kept figures are looked up in the same snapshot.
      const view = readTransaction(db, () => ({
        events: getAuditLog(db, filter),
        filter,
        params: job.params,
        ...filterFigures(db, filter),
        archived: archivedReach(db, filter),
      }));
      return await sink.write(eventsPage(source, view));
    }
    case "records":
      if (job.format === "csv") {
        // A spreadsheet opens UTF-8 text as such only after a byte order mark.
        await sink.write("\uFEFF");
      }
      await writeQuery(sink, db, job.filter, job.format);
      return;
    case "batches": {
      if (!job.page) {
        await writeRecords(sink, [listBatches(db, { limit: job.limit })], "json", BATCH_COLUMNS);
        return;
      }
      const page = readTransaction(db, () => {
        const batches = recentBatches(db, { limit: job.limit });
        const archived = batchesArchivedReach(db, batches.map((batch) => batch.run_id));
        return batchesPage(source, batches, job.limit, archived);
      });
      return await sink.write(page);
    }
    case "batch": {
      if (!job.page) {
        return await writeObject(sink, { ...getBatchOperations(db, job.runId) }, "json");
      }
      const filter = { runId: job.runId };
      // One snapshot: a batch still running must not be counted with more events than listed.
      const view = readTransaction(db, () => {
        const events = getAuditLog(db, { ...filter, order: "asc", limit: 1000 });
        return {
          runId: job.runId,
          outline: batchOutline(db, job.runId),
          description: events[0]?.operation === "BATCH_START" ? events[0].details : null,
          timeline: batchTimeline(db, job.runId),
          operations: facetCounts(db, filter, "operation", FACET_VALUES),
          events,
          archived: archivedReach(db, filter),
        };
      });
      return await sink.write(batchPage(source, view));
    }
    case "stats":
      return await writeObject(sink, getStats(db, job.options), "json");
    case "verify": {
      // The server answers with the page or the JSON (see `chain_status.ts`).
      const walked: ChainWalk = { result: await verifyChain(db), file: context.file ?? null };
      return await sink.write(JSON.stringify(walked));
    }
  }
}
