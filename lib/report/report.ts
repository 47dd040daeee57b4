/**
 * The offline report: one HTML file with the figures, the charts, the recent batches, the
 * chain's verdict and the newest events, that opens from a mail attachment with no network
 * and stays under 3 MB whatever the database holds.
 *
 * @module
 */
import { basename } from "node:path";
import { CHAIN_SCHEMA_VERSION, verifyChain } from "../chain/mod.ts";
import { type AuditDatabase, readSnapshot } from "../db.ts";
import { errorMessage } from "../errors.ts";
import { requireKnownOptions } from "../known_options.ts";
import { schemaVersion } from "../schema.ts";
import type { TextSink } from "../output.ts";
import { getAuditLog } from "../query.ts";
import { recentBatches } from "../batch_overview.ts";
import { batchesArchivedReach } from "../archive/checkpoint_list.ts";
import { getStats } from "../stats.ts";
import { formatCount, shortTime } from "./format.ts";
import { type Html, markup } from "./html.ts";
import { renderPage } from "./page.ts";
import { parseTimeBound } from "../time_bound.ts";
import { archivedNote, type ChainVerdict, chartSections, summaryCards } from "./sections.ts";
import { batchTable, EVENT_HEADER, eventRow, scrollable } from "./tables.ts";

/** Options of {@linkcode writeReport}. */
export interface WriteReportOptions {
  /** Only events at or after this date or time (ISO, UTC), as `query --since`. */
  since?: string | undefined;
  /** Only events up to the end of this date or time, as `query --until`. */
  until?: string | undefined;
  /** The database's name as the report shows it (default: the file's name). */
  source?: string | undefined;
  /** When the report is made (default: now). */
  now?: Date | undefined;
  /**
   * The chain's verdict when it was already checked (a bundle checks its snapshot anyway);
   * by default the chain is verified here, which reads every seal.
   */
  chain?: ChainVerdict | undefined;
  /** audit-trail's version, for the footer. */
  version?: string | undefined;
}

const REPORT_OPTION_KEYS: Record<keyof WriteReportOptions, true> = {
  since: true,
  until: true,
  source: true,
  now: true,
  chain: true,
  version: true,
};

/** What {@linkcode writeReport} wrote. */
export interface ReportSummary {
  /** Size of the HTML file in bytes (UTF-8). */
  bytes: number;
  /** Events matching the range. */
  events: number;
  /** Events in the table: the newest 1,000 of the range, fewer if the size limit was hit. */
  events_shown: number;
  /** Whether the chain was found intact (`null`: not checked). */
  chain_intact: boolean | null;
}

/** Events in the report's table at most. */
export const REPORT_EVENTS = 1000;
/** The report never grows past this many bytes. */
export const REPORT_MAX_BYTES = 3_000_000;
/** Room kept for the end of the page after the table. */
const TAIL_ROOM = 4_096;
const BATCHES_SHOWN = 20;
const encoder = new TextEncoder();

/**
 * Writes the report of the database (or of a time range of it) as one self-contained HTML
 * document to `sink`: no request leaves the file (its own Content-Security-Policy allows only
 * the stylesheet and script inside it, by hash), and every value from the log is escaped.
 * Details longer than 500 characters are cut with a visible mark; should the newest 1,000
 * events still not fit in 3 MB, the oldest of them are left out and the page says so.
 *
 * @param db The open database.
 * @param sink Where the HTML goes.
 * @param options The time range, and what the report says about where it came from.
 * @returns Its size and what it holds.
 * @throws {UsageError} For a bad time bound.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logAuditEvent, migrate, openDatabase, writeReport } from "../../mod.ts";
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * logAuditEvent(db, { operation: "SKU_UPDATED", sku: "SKU-1", details: "<b>bold</b>" });
 * let page = "";
 * const summary = await writeReport(db, { write: async (text) => void (page += text) });
 * assert.deepEqual([summary.events, summary.events_shown, summary.chain_intact], [1, 1, true]);
 * assert.equal(summary.bytes, new TextEncoder().encode(page).length);
 * assert.ok(page.includes("&lt;b&gt;bold&lt;/b&gt;"));
 * assert.ok(!page.includes("<b>bold"));
 * ```
 */
export async function writeReport(
  db: AuditDatabase,
  sink: TextSink,
  options: WriteReportOptions = {},
): Promise<ReportSummary> {
  requireKnownOptions(options, REPORT_OPTION_KEYS, "report option");
  const range = { since: options.since, until: options.until };
  // One snapshot for every figure, list and the chain: events logged while the report reads
  // would otherwise be counted by some parts and not others.
  using _snapshot = readSnapshot(db);
  const stats = getStats(db, range);
  const batches = recentBatches(db, { ...range, limit: BATCHES_SHOWN });
  const events = getAuditLog(db, { ...range, limit: REPORT_EVENTS });
  const chain = options.chain !== undefined ? options.chain : await checkChain(db);
  const now = options.now ?? new Date();
  const source = options.source ?? basename(db.path);
  const wholeLog = options.since === undefined && options.until === undefined;
  const rangeText = rangeWords(options.since, options.until);

  const head = markup`${summaryCards(stats, chain)}
${chartSections(stats)}
<section><h2>Recent batches</h2>${
    archivedNote(
      batchesArchivedReach(db, batches.map((batch) => batch.run_id)),
      "batch show RUN_ID",
    )
  }${batchTable(batches)}</section>`;
  const footer = markup`
    <p
      class="note">Made by audit-trail${options.version ? ` ${options.version}` : ""} on ${
    shortTime(
      now.toISOString(),
    )
  } UTC from ${source}. This file loads nothing from the network; its table filters as you type.</p>
  `;
  // The page is measured without the rows first, then rows are added while they fit.
  const frame = (rows: Html, note: Html | null) =>
    renderPage({
      title: `Audit report: ${source}`,
      subtitle: `${rangeText}; made ${shortTime(now.toISOString())} UTC`,
      body: markup`${head}
<section><h2>Newest events</h2>
${
        events.length === 0
          ? markup`<p class="empty">${
            wholeLog ? "The log holds no events yet." : "No events in this range."
          }</p>`
          : markup`<div class="filterbar"><input type="search" id="filter" placeholder="Filter: type any words (SKU, user, operation, text)" aria-label="Filter the events"><span id="shown" class="note" role="status"></span></div>
${note}
${
            scrollable(markup`<table class="filterable">${EVENT_HEADER}<tbody>
${rows}
</tbody></table>`)
          }`
      }</section>
${footer}`,
    }, "inline");
  const budget = REPORT_MAX_BYTES - TAIL_ROOM -
    encoder.encode(frame(markup``, leftOutNote(events.length, stats.events))).length;
  const rows: Html[] = [];
  let used = 0;
  for (const event of events) {
    const row = eventRow(event);
    const size = encoder.encode(row.text).length + 1;
    if (used + size > budget) break;
    rows.push(row);
    used += size;
  }
  const page = frame(
    markup`${rows.map((row) => markup`${row}\n`)}`,
    leftOutNote(events.length, stats.events, rows.length),
  );
  await sink.write(page);
  return {
    bytes: encoder.encode(page).length,
    events: stats.events,
    events_shown: rows.length,
    chain_intact: chain === null || "error" in chain ? null : chain.failure === null,
  };
}

function leftOutNote(read: number, total: number, shown = read): Html | null {
  const notes: string[] = [];
  if (total > read) {
    notes.push(`The newest ${formatCount(read)} of ${formatCount(total)} events are listed.`);
  }
  if (shown < read) {
    notes.push(
      `The ${formatCount(read - shown)} oldest of them were left out to keep this file under 3 MB.`,
    );
  }
  return notes.length ? markup`<p class="note">${notes.join(" ")}</p>` : null;
}

/** The chain's verdict, or why it could not be had. */
async function checkChain(db: AuditDatabase): Promise<ChainVerdict> {
  try {
    if (schemaVersion(db) < CHAIN_SCHEMA_VERSION) return null;
    return await verifyChain(db);
  } catch (error) {
    return { error: errorMessage(error) };
  }
}

/**
 * A report that says the database could not be read, and why: a bundle always holds a
 * `report.markup`, and support opens it first.
 */
export function unreadableReport(source: string, reason: string, now = new Date()): string {
  return renderPage({
    title: `Audit report: ${source}`,
    subtitle: `made ${shortTime(now.toISOString())} UTC`,
    body: markup`
      <section class="error">
        <h2>The database could not be read</h2>
        <p>${reason}</p>
        <p
          class="note">The rest of the bundle holds what could be collected: see README.txt and manifest.json.</p>
      </section>
    `,
  }, "inline");
}

/**
 * The events `since` and `until` cover, in words for the report's heading. Bounds in UTC are
 * shown as typed (`events from 2026-02-01 up to the end of 2026-02-28 (UTC)`); one typed with
 * an offset is shown as the UTC instant it is, what was typed beside it, so that no "(UTC)"
 * follows a local time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rangeWords } from "./report.ts";
 * assert.equal(rangeWords("2026-02-01", undefined), "events from 2026-02-01 (UTC)");
 * assert.equal(
 *   rangeWords("2026-01-01T00:00+02:00", "2026-01-31"),
 *   "events from 2025-12-31 22:00:00 UTC (2026-01-01T00:00+02:00) up to the end of 2026-01-31 UTC",
 * );
 * ```
 */
export function rangeWords(since: string | undefined, until: string | undefined): string {
  if (since === undefined && until === undefined) return "all events";
  const offset = (bound: string) => /[+-]\d{2}:\d{2}$/.test(bound.trim());
  if (![since, until].some((bound) => bound !== undefined && offset(bound))) {
    const words = [since && `from ${since}`, until && `up to the end of ${until}`];
    return `events ${words.filter(Boolean).join(" ")} (UTC)`;
  }
  const instant = (time: string) => `${shortTime(time)} UTC`;
  const words = [
    since === undefined
      ? undefined
      : offset(since)
      ? `from ${instant(parseTimeBound(since).start)} (${since})`
      : `from ${since} UTC`,
    until === undefined
      ? undefined
      : offset(until)
      ? `up to ${instant(parseTimeBound(until).end)} (the end of ${until})`
      : `up to the end of ${until} UTC`,
  ];
  return `events ${words.filter(Boolean).join(" ")}`;
}
