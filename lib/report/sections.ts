/**
 * The parts the report and the viewer's overview share: the figures at a glance, the chain's
 * verdict, and the charts.
 *
 * @module
 */
import { type ArchivedRange, archivedWords } from "../archive/checkpoint_list.ts";
import type { ChainVerifyResult } from "../chain/mod.ts";
import type { AuditStats } from "../stats.ts";
import { barChart, type ChartItem, columnChart, periodUnit, timeSeries } from "./charts.ts";
import { formatCount, formatCountOf, formatDuration, statsSpan } from "./format.ts";
import { type Html, markup } from "./html.ts";

/** Operations shown in their chart; the rest are summed up under it. */
const OPERATIONS_SHOWN = 15;

/** The chain's verdict as a card: intact, tampered, or why it was not checked. */
export type ChainVerdict = ChainVerifyResult | { error: string } | null;

/** Where the charts' bars lead (the viewer), or nowhere (the report). */
export interface ChartLinks {
  period?(first: string, last: string): string;
  operation?(operation: string): string | undefined;
  sku?(sku: string): string | undefined;
  user?(user: string): string | undefined;
}

/**
 * Cards: events and their time span, batches, and the chain (`chain`'s verdict, or the card
 * given as `chainShown`).
 */
export function summaryCards(
  stats: AuditStats,
  chain: ChainVerdict | undefined,
  chainShown: Html | null = null,
): Html {
  const archived = chain && !("error" in chain) && chain.archived_through !== null
    ? `; events up to ${chain.archived_through} archived, not counted`
    : "";
  const span = statsSpan(stats) + archived;
  const { batches } = stats;
  return markup`<section class="cards">
<div class="card"><div>Events</div><div class="figure">${
    formatCount(stats.events)
  }</div><div class="sub">${span}</div></div>
<div class="card"><div>Batches</div><div class="figure">${formatCount(batches.count)}${
    batches.failed
      ? markup`
        <span class="bad">(${formatCount(batches.failed)} failed)</span>
      `
      : null
  }</div><div class="sub">${
    batches.median_duration_seconds === null
      ? "no batch with both a start and an end"
      : `median duration ${formatDuration(batches.median_duration_seconds)}`
  }</div></div>
${chain === undefined ? chainShown : chainCard(chain)}
</section>`;
}

/** The chain's verdict: intact (with the head to note), tampered, or not checked and why. */
export function chainCard(chain: ChainVerdict): Html {
  if (chain === null) {
    return markup`
      <div class="card">
        <div>Audit chain</div>
        <div class="figure">not checked</div>
        <div class="sub">this database has no hash chain (schema before version 3)</div>
      </div>
    `;
  }
  if ("error" in chain) {
    return markup`
      <div class="card">
        <div>Audit chain</div>
        <div class="figure bad">not checked</div>
        <div class="sub">${chain.error}</div>
      </div>
    `;
  }
  const head = chain.head ? `${chain.head.audit_id}:${chain.head.hash}` : "no events yet";
  if (chain.failure) {
    return markup`
      <div class="card error">
        <div>Audit chain</div>
        <div class="figure bad">TAMPERED</div>
        <div class="sub">${chain.failure.message}</div>
      </div>
    `;
  }
  return markup`
    <div class="card">
      <div>Audit chain</div>
      <div class="figure good">intact</div>
      <div class="sub">${formatCountOf(chain.events_checked, "seal")} checked${
    chain.archived_through === null || chain.archives
      ? ""
      : ` from the newest archive checkpoint (events up to ${chain.archived_through} archived)`
  }${
    chain.append_only ? "" : "; WARNING: the append-only triggers are missing"
  }. Head (note it as an anchor):</div>
      <div class="sub mono">${head}</div>
    </div>
  `;
}

/**
 * What a page made from the database alone does not show of the archived events `archived`
 * (null: none it could): its figures would pass for the log's whole history. `command` reads
 * them too with `--archives DIR`.
 */
export function archivedNote(archived: ArchivedRange | null, command: string): Html | null {
  if (archived === null) return null;
  const { events, one } = archivedWords(archived);
  const lead = `${events[0]!.toUpperCase()}${events.slice(1)} ${
    one ? "is archived: it is" : "are archived: they are"
  }`;
  return markup`<p class="note">${lead} not counted or shown here, which reads the database alone. <span class="mono">audit-trail ${command} --archives DIR</span> reads ${
    one ? "it" : "them"
  } too.</p>`;
}

/** Events over time, per operation, and the most active SKUs and users. */
export function chartSections(stats: AuditStats, links: ChartLinks = {}): Html {
  const series = timeSeries(stats.per_day, links.period);
  // Without events the chart says so, under the heading of its usual unit.
  const unit = periodUnit(series);
  const operations = stats.operations.slice(0, OPERATIONS_SHOWN);
  const rest = stats.operations.slice(OPERATIONS_SHOWN);
  const restCount = rest.reduce((sum, o) => sum + o.count, 0);
  const item = (
    label: string,
    value: number,
    href?: (v: string) => string | undefined,
  ): ChartItem => ({
    label,
    value,
    href: href?.(label),
  });
  return markup`
    <section><h2>Events per ${unit} (UTC)</h2>${
    columnChart(series, `Events per ${unit} (UTC)`)
  }</section>
    <div class="grid">
      <section><h2>Operations</h2>${
    barChart(
      operations.map((o) => item(o.operation, o.count, links.operation)),
      "Events per operation",
      rest.length
        ? `and ${formatCountOf(rest.length, "more operation")} with ${
          formatCountOf(restCount, "event")
        }`
        : undefined,
    )
  }</section>
      <section><h2>Most active SKUs</h2>${
    barChart(
      stats.top_skus.map((s) => item(s.sku, s.count, links.sku)),
      "Most active SKUs",
    )
  }</section>
      <section><h2>Most active users</h2>${
    barChart(
      stats.users.map((u) => item(u.user, u.count, links.user)),
      "Most active users",
    )
  }</section>
    </div>
  `;
}
