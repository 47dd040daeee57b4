/**
 * The viewer's pages, made from what the database answered. Every value from the log goes
 * through the escaping template; links carry the filters in their query string, so any view
 * can be bookmarked or mailed.
 *
 * @module
 */
import type { ArchivedRange } from "../archive/checkpoint_list.ts";
import type { ChainVerifyResult } from "../chain/mod.ts";
import type { ChainStatus } from "./chain_status.ts";
import type { AuditEvent } from "../event_row.ts";
import type { AuditLogFilter } from "../query.ts";
import { barChart, type ChartItem, columnChart, periodUnit, timeSeries } from "../report/charts.ts";
import { formatCount, formatCountOf, formatDuration, shortTime } from "../report/format.ts";
import { clipText, type Html, type HtmlValue, markup } from "../report/html.ts";
import { renderPage } from "../report/page.ts";
import {
  archivedNote,
  chainCard,
  type ChartLinks,
  chartSections,
  summaryCards,
} from "../report/sections.ts";
import {
  batchEndText,
  batchTable,
  clipped,
  EVENT_HEADER,
  eventRow,
  type Linker,
  scrollable,
} from "../report/tables.ts";
import type { BatchOutline, BatchTimeline } from "../batch_overview.ts";
import { unknownDuration } from "../batch.ts";
import type { AuditStats } from "../stats.ts";
import { escapeInvisible } from "../table.ts";
import { FILTER_PARAMS } from "./routes.ts";

const NAV = markup`
  <a href="/">Overview</a><a href="/events">Events</a><a href="/batches">Batches</a><a
    href="/verify">Verify chain</a>
`;

/** The address of the event list with `params` changed by `change` (`undefined` removes). */
export function eventsHref(
  params: Record<string, string>,
  change: Record<string, string | undefined> = {},
  path = "/events",
): string {
  const merged: Record<string, string | undefined> = { ...params, ...change };
  const query = new URLSearchParams();
  for (const name of FILTER_PARAMS) {
    const value = merged[name];
    if (value !== undefined && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** Where a batch's page is. */
export function batchHref(runId: string): string {
  return `/batches/${encodeURIComponent(runId)}`;
}

/**
 * Values longer than this are shown without a link. Written straight into audit_log, a value
 * can be 64 KB; a link that carries it, percent-encoded, is longer than the server takes (it
 * refuses a request head over 64 KB), and 300 such links made a page of 50 MB.
 */
const LINKED_MAX = 1000;

/** `href(value)`, or no link for a value too long to carry in one. */
function linkTo(value: string, href: (value: string) => string): string | undefined {
  return value.length > LINKED_MAX ? undefined : href(value);
}

/** Links of values in tables: a run id to its batch, anything else to a filtered list. */
function linker(params: Record<string, string>): Linker {
  const base = withoutCursor(params);
  return (field, value) =>
    linkTo(
      value,
      field === "run_id" ? batchHref : (value) => eventsHref(base, { [field]: value }),
    );
}

function withoutCursor(params: Record<string, string>): Record<string, string> {
  const { after_id: _after, before_id: _before, ...rest } = params;
  return rest;
}

const CHART_LINKS: ChartLinks = {
  period: (first, last) => eventsHref({}, { since: first, until: last }),
  operation: (operation) => linkTo(operation, () => eventsHref({}, { operation })),
  sku: (sku) => linkTo(sku, () => eventsHref({}, { sku })),
  user: (user) => linkTo(user, () => eventsHref({}, { user })),
};

function frame(source: string, title: string, body: HtmlValue): string {
  return renderPage({
    title,
    subtitle: markup`${source} (read-only)`,
    nav: NAV,
    body,
  }, "linked");
}

/** The chain's status on the overview, with the newest event's id when the page was read. */
export type OverviewChain = ChainStatus & {
  lastId: number | null;
  /** Whether the database file was replaced since the last walk (see `chain_status.ts`). */
  replaced?: boolean;
};

/** `HH:MM UTC, YYYY-MM-DD` of a stored time. */
function checkedAt(time: string): string {
  return `${time.slice(11, 16)} UTC, ${time.slice(0, 10)}`;
}

/**
 * The chain's card on the overview: the verdict of the last walk, which events it covered
 * and when, the events logged since (not yet checked), or that a walk is under way. Tampering
 * shows here, not only on the chain's page.
 */
export function chainStatusCard(chain: OverviewChain): Html {
  const { last, running, lastId, replaced } = chain;
  const again = running ? " Being checked again now: reload to see the verdict." : "";
  const verifyLink = (text: string) => markup`<a href="/verify">${text}</a>`;
  const card = (figure: Html, sub: HtmlValue, bad = false) =>
    markup`<div class="${
      bad ? "card error" : "card"
    }" id="chain"><div>Audit chain</div>${figure}<div class="sub">${sub}</div></div>`;
  if (last === null) {
    return card(
      markup`<div class="figure">${running ? "being checked" : "not checked"}</div>`,
      running
        ? "Every seal is being recomputed now (a million events take a few seconds): reload to see the verdict."
        : markup`The chain was not checked: ${verifyLink("check it now")}.`,
    );
  }
  if ("error" in last) {
    return card(
      markup`<div class="figure bad">not checked</div>`,
      markup`The check at ${checkedAt(last.checked_at)} failed: ${last.error} ${
        verifyLink("Try again")
      }.${again}`,
      true,
    );
  }
  if (replaced) {
    return card(
      markup`<div class="figure bad">CHECK AGAIN</div>`,
      markup`The database file was replaced after the check at ${
        checkedAt(last.checked_at)
      } (a backup restored over it?): that verdict was of the file that was there. ${
        verifyLink("Check this one")
      }.${again}`,
      true,
    );
  }
  const { result } = last;
  if (result.failure) {
    return card(
      markup`<div class="figure bad">TAMPERED</div>`,
      markup`First bad event: audit_id ${result.failure.audit_id}. ${
        result.failure.message.replace(/\.?$/, ".")
      } Checked at ${checkedAt(last.checked_at)}. ${verifyLink("See the chain's page")}.${again}`,
      true,
    );
  }
  const headId = result.head?.audit_id ?? null;
  const covered = headId === null
    ? "no events to check"
    : `up to event ${headId} (${formatCountOf(result.events_checked, "seal")})`;
  const removed = lastId !== null && headId !== null && lastId < headId ||
    lastId === null && headId !== null;
  const since = lastId !== null && (headId === null || lastId > headId)
    ? markup` Events after ${
      headId ?? "it"
    } (up to ${lastId}) were logged since: not yet checked. ${verifyLink("Check them now")}.`
    : null;
  return card(
    markup`<div class="figure ${removed ? "bad" : "good"}">${
      removed ? "CHECK AGAIN" : "intact"
    }</div>`,
    markup`${covered}, checked at ${checkedAt(last.checked_at)}.${
      removed
        ? markup` <span class="bad">The log now ends ${
          lastId === null ? "with no event" : `at event ${lastId}`
        }, before the event the check reached: events were removed from its end, or the file was replaced.</span> ${
          verifyLink("Check again")
        }.`
        : null
    }${since}${
      result.append_only
        ? null
        : markup` <span class="bad">The append-only triggers are missing.</span>`
    }${again}`,
    removed || !result.append_only,
  );
}

/** `/`: the figures and charts of the whole log, the chain's status, and the latest batches. */
export function overviewPage(
  source: string,
  stats: AuditStats,
  batches: BatchOutline[],
  archived: ArchivedRange | null,
  chain: OverviewChain,
): string {
  return frame(
    source,
    "Audit log",
    markup`${searchForm({})}
${summaryCards(stats, undefined, chainStatusCard(chain))}
${archivedNote(archived, "query")}
${chartSections(stats, CHART_LINKS)}
<section><h2>Latest batches</h2>${batchTable(batches, linker({}))}
<p class="more"><a href="/batches">All batches</a></p></section>`,
  );
}

/** What the event list shows. */
export interface EventsView {
  events: AuditEvent[];
  filter: AuditLogFilter;
  /** The query string as given (empty fields left out). */
  params: Record<string, string>;
  perDay: { day: string; count: number }[];
  operations: { value: string; count: number }[];
  users: { value: string; count: number }[];
  /** The archived events the filter may match, which the page cannot show (null: none). */
  archived?: ArchivedRange | null;
}

/** `/events`: the filter form, counts by day, operation and user, and one page of events. */
export function eventsPage(source: string, view: EventsView): string {
  const { events, filter, params } = view;
  const total = view.perDay.reduce((sum, d) => sum + d.count, 0);
  const base = withoutCursor(params);
  const period = (first: string, last: string) => eventsHref(base, { since: first, until: last });
  const downloads = (["csv", "json", "ndjson"] as const).map((format) =>
    markup`<a class="button plain" href="${
      eventsHref(base, { limit: "0", order: params.order }, `/events.${format}`)
    }" download>${format.toUpperCase()}</a>`
  );
  const ascending = filter.order === "asc";
  const last = events[events.length - 1];
  const more = last !== undefined && events.length === filter.limit;
  const pager = markup`<div class="pager">${
    params.after_id !== undefined || params.before_id !== undefined
      ? markup`<a class="button plain" href="${eventsHref(base)}">${
        ascending ? "Oldest" : "Newest"
      }</a>`
      : null
  }${
    more
      ? markup`<a class="button" href="${
        eventsHref(
          base,
          ascending ? { after_id: `${last.audit_id}` } : {
            before_id: `${last.audit_id}`,
          },
        )
      }">${ascending ? "Newer" : "Older"} →</a>`
      : null
  }<span class="note">${
    events.length
      ? `events ${events[0].audit_id} to ${last.audit_id}, ${
        formatCount(events.length)
      } on this page`
      : ""
  }</span></div>`;
  const filters = filterText(params);
  const title = filters ? `Events: ${filters}` : "Events";
  // Past the last page (a cursor beyond the end) the page stays as it was, with its way back.
  if (total === 0 && params.after_id === undefined && params.before_id === undefined) {
    return frame(
      source,
      title,
      markup`${searchForm(params)}
<section><h2>${filters ? `No event matches ${filters}` : "The log holds no events yet"}</h2>
${archivedNote(view.archived ?? null, "query")}<p>${
        filters
          ? markup`Check the spelling (SKU, operation, user and run id must match exactly), widen the dates, or <a href="/events">show all events</a>.`
          : "Events appear here once audit-trail log has recorded some."
      }</p></section>`,
    );
  }
  return frame(
    source,
    title,
    markup`${searchForm(params)}
<section><h2>${formatCountOf(total, "event")}${
      filters ? ` ${total === 1 ? "matches" : "match"} ${filters}` : ""
    }</h2>
${archivedNote(view.archived ?? null, "query")}
${matchingChart(timeSeries(view.perDay, period))}
<div class="facets">${facetList("Operations", "operation", view.operations, params)}${
      facetList("Users", "user", view.users, params)
    }</div>
<p class="more downloads">Download all ${formatCount(total)}: ${downloads} · <a href="${
      eventsHref(params, {}, "/api/events")
    }">as the JSON API answers</a></p></section>
<section><h2>Events${ascending ? ", oldest first" : ", newest first"}</h2>
<div class="filterbar"><input type="search" id="filter" placeholder="Narrow this page: type any words" aria-label="Filter this page"><span id="shown" class="note" role="status"></span></div>
${
      events.length
        ? scrollable(markup`<table class="filterable">${EVENT_HEADER}<tbody>${
          events.map((event) => eventRow(event, linker(params)))
        }</tbody></table>`)
        : markup`<p class="empty">No events match.</p>`
    }
${pager}</section>`,
  );
}

/** A batch's duration card: from its first event to its latest, or unknown and why. */
function durationFigure(outline: BatchOutline): Html {
  const why = unknownDuration(outline);
  return why === null
    ? markup`<div class="figure">${
      formatDuration(outline.duration_seconds)
    }</div><div class="sub">first event to latest</div>`
    : markup`<div class="figure">unknown</div><div class="sub">${why}</div>`;
}

/**
 * A batch's events over its time span; none when its clock was set back while it ran: an axis
 * from its earliest time to its latest would give it the duration its card calls unknown.
 */
function timelineChart(outline: BatchOutline, slices: ChartItem[], sliceSeconds: number): Html {
  if (unknownDuration(outline) !== null) {
    return markup`<p class="note">No timeline: the clock was set back while this batch ran, so its events cannot be placed on one time line. The events below are in the order they were logged.</p>`;
  }
  return markup`${
    columnChart(slices, "Events over the batch's time span")
  }<p class="more">Each column is ${formatDuration(sliceSeconds)} of the batch.</p>`;
}

/** The events page's chart, titled: the matching events per UTC day (or month, or year). */
function matchingChart(series: ChartItem[]): Html {
  // Said on the page, not only to a screen reader: a reader in another time zone would take
  // its days for local ones.
  const title = `Matching events per ${periodUnit(series)} (UTC)`;
  return markup`<h3>${title}</h3>${columnChart(series, title)}`;
}

function facetList(
  title: string,
  field: "operation" | "user",
  counts: { value: string; count: number }[],
  params: Record<string, string>,
): Html {
  const base = withoutCursor(params);
  const items = counts.map(({ value, count }) => {
    const on = params[field] === value;
    const href = linkTo(value, () => eventsHref(base, { [field]: on ? undefined : value }));
    // Isolated, so that a right-to-left name does not carry its count to its left.
    const label = markup`<bdi>${clipped(value, 60)}</bdi>`;
    return markup`<li class="${on ? "on" : ""}">${
      href === undefined ? label : markup`<a href="${href}">${label}</a>`
    } ${formatCount(count)}${on ? " ✕" : ""}</li>`;
  });
  return markup`<div><h3>${title}</h3>${
    items.length ? markup`<ul>${items}</ul>` : markup`<p class="empty">none</p>`
  }</div>`;
}

/** What the filters in the address ask for, as the page's title and heading say it. */
const FILTER_WORDS: Partial<Record<(typeof FILTER_PARAMS)[number], string>> = {
  sku: "SKU",
  operation: "operation",
  user: "user",
  run_id: "run id",
  contains: "details containing",
  since: "since",
  until: "until",
};

/**
 * `SKU “SKU-1”, since 2026-02-01`: the filters of `params` (not the paging), each value cut
 * to 60 characters; empty when there are none. A bookmark, the history and a printout then
 * say which view they hold.
 */
export function filterText(params: Record<string, string>): string {
  return Object.entries(FILTER_WORDS)
    .filter(([name]) => params[name] !== undefined)
    .map(([name, words]) => {
      const { text, omitted } = clipText(params[name], 60);
      const value = escapeInvisible(omitted ? `${text}…` : text);
      return name === "since" || name === "until" ? `${words} ${value}` : `${words} “${value}”`;
    })
    .join(", ");
}

/**
 * The date boxes' placeholder: a form, not a date, which a reader would take for a filter
 * in force.
 */
const DATE_HINT = "YYYY-MM-DD";

function searchForm(params: Record<string, string>): Html {
  const field = (name: string, label: string, placeholder = "") =>
    markup`<label>${label}<input name="${name}" value="${
      params[name] ?? ""
    }" placeholder="${placeholder}"></label>`;
  const order = params.order ?? "desc";
  return markup`
    <section>
      <form class="filters" method="get" action="/events">
    ${field("sku", "SKU")}${field("operation", "Operation")}${field("user", "User")}${
    field(
      "run_id",
      "Run id",
    )
  }${field("since", "Since (UTC)", DATE_HINT)}${field("until", "Until (UTC)", DATE_HINT)}${
    field("contains", "Details contain")
  }${field("limit", "Per page", "100")}
    <label>Order<select name="order"><option value="desc"${
    order === "desc"
      ? markup`
        selected
      `
      : null
  }>newest first</option><option value="asc"${
    order === "asc"
      ? markup`
        selected
      `
      : null
  }>oldest first</option></select></label>
    <div class="actions"><button type="submit">Show events</button><a class="button plain" href="/events">Clear</a></div>
      </form>
    </section>
  `;
}

/** `/batches`: the most recently active batches with how each ended. */
export function batchesPage(
  source: string,
  batches: BatchOutline[],
  limit: number,
  archived: ArchivedRange | null = null,
): string {
  return frame(
    source,
    "Batches",
    markup`<section><h2>${
      limit === 0 || batches.length < limit
        ? formatCountOf(batches.length, "batch", "batches")
        : `The ${formatCount(limit)} most recently active batches`
    }</h2>${archivedNote(archived, "batch show RUN_ID")}${batchTable(batches, linker({}))}${
      limit !== 0 && batches.length === limit
        ? markup`<p class="more"><a href="/batches?limit=${limit * 4}">Show more</a></p>`
        : null
    }</section>`,
  );
}

/** What a batch's page shows. */
export interface BatchView {
  outline: BatchOutline | null;
  runId: string;
  description: string | null;
  timeline: BatchTimeline;
  operations: { value: string; count: number }[];
  /** Its first events, oldest first. */
  events: AuditEvent[];
  /** The archived events its first ones may be among (null: it began in the database). */
  archived?: ArchivedRange | null;
}

/** `/batches/RUN_ID`: the batch's figures, its timeline, and its events in order. */
export function batchPage(source: string, view: BatchView): string {
  const { outline, runId } = view;
  const command = `batch show ${runId}`;
  if (outline === null) {
    return frame(
      source,
      "Batch",
      markup`
        <section class="error">
          <h2>${
        view.archived ? "No event in the database of batch" : "No batch with run id"
      } ${runId}</h2>
          <p>${
        view.archived ? "No event in the database has this run id." : "No event has this run id."
      } <a href="/batches">See the batches</a>.</p>${archivedNote(view.archived ?? null, command)}
        </section>
      `,
    );
  }
  const { timeline } = view;
  const slices = timeline.counts.map((count, i) => ({
    label: `+${formatDuration(i * timeline.slice_seconds)}`,
    value: count,
  }));
  const outcome = outline.outcome === "failed"
    ? markup`<span class="bad">FAILED</span>`
    : outline.outcome === "ok"
    ? markup`<span class="good">ok</span>`
    : outline.end_details === null
    ? "no BATCH_END"
    : "ended";
  const all = eventsHref({}, { run_id: runId, order: "asc" });
  return frame(
    source,
    `Batch ${clipText(runId, 60).text}`,
    markup`
      <section class="cards">
        <div class="card">
          <div>Run id</div>
          <div class="figure mono">${clipped(runId, 128)}</div>
          <div class="sub">${view.description === null ? "" : clipped(view.description, 300)}</div>
        </div>
        <div class="card">
          <div>Events</div>
          <div class="figure">${formatCount(outline.event_count)}</div>
          <div class="sub">${shortTime(outline.start_time)} to ${
      shortTime(
        outline.end_time,
      )
    } UTC</div>
        </div>
        <div class="card">
          <div>Duration</div>
          ${durationFigure(outline)}
        </div>
        <div class="card">
          <div>Outcome</div>
          <div class="figure">${outcome}</div>
          <div class="sub">${
      outline.end_details === null ? "" : clipped(batchEndText(outline.end_details), 300)
    }</div>
        </div>
      </section>
      ${archivedNote(view.archived ?? null, command)}
      <section><h2>Timeline</h2>${timelineChart(outline, slices, timeline.slice_seconds)}</section>
      <section><h2>Operations</h2>${
      barChart(
        view.operations.map((o) => ({
          label: o.value,
          value: o.count,
          href: eventsHref({}, { run_id: runId, operation: o.value }),
        })),
        "Events per operation",
      )
    }</section>
      <section><h2>Events in order</h2>${
      outline.event_count > view.events.length
        ? markup`
          <p
            class="note">The first ${formatCount(view.events.length)} of ${
          formatCount(
            outline.event_count,
          )
        }: <a href="${all}">page through all of them</a>.</p>
        `
        : null
    }${
      scrollable(markup`<table>${EVENT_HEADER}<tbody>${
        view.events.map((event) => eventRow(event, linker({})))
      }</tbody></table>`)
    }
      <p class="more"><a href="/api/batches/${
      encodeURIComponent(
        runId,
      )
    }">This batch as JSON</a> (as batch show prints it)</p></section>
    `,
  );
}

/** `/verify`: the chain's verdict. */
export function verifyPage(source: string, result: ChainVerifyResult | null): string {
  return frame(
    source,
    "Verify the audit chain",
    markup`<section class="cards">${chainCard(result)}</section>
<section><h2>What this means</h2>${
      result?.failure
        ? markup`<p class="bad">${result.failure.message}</p>
<p>Leave the database file as it is: it is the evidence. Tell your supervisor, and send support a debug bundle (audit-trail bundle).</p>`
        : markup`<p>Every event is sealed with a SHA-256 hash of its fields and of the seal before it; all ${
          formatCount(result?.events_checked ?? 0)
        } seals were recomputed and match. To prove later that nothing was removed from the end, note the head above somewhere else and run <span class="mono">audit-trail verify --anchor ID:HASH</span>.</p>`
    }
<p class="more"><a href="/api/verify">As JSON</a></p></section>`,
  );
}

/** A page for an error: what went wrong and what to do. */
export function errorPage(source: string, status: number, message: string, hint?: string): string {
  return frame(
    source,
    status === 404 ? "Not found" : "Cannot show this",
    markup`
      <section
        class="error"><h2>${escapeInvisible(message)}</h2>${
      hint ? markup`<p>${escapeInvisible(hint)}</p>` : null
    }<p><a href="/">Back to the overview</a></p></section>
    `,
  );
}
