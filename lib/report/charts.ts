/**
 * Charts as inline SVG, drawn here: no script, no library and no network, so they show in a
 * report opened from a mail attachment, print, and stay small (a 180-day chart is about
 * 20 KB). Every label and tooltip goes through the escaping template.
 *
 * @module
 */
import { formatCount, formatCountOf } from "./format.ts";
import { clipText, type Html, markup } from "./html.ts";
import { escapeInvisible } from "../table.ts";

/** One bar: its label, its value, and optionally where a click on it leads. */
export interface ChartItem {
  label: string;
  value: number;
  href?: string | undefined;
}

const COLUMN_HEIGHT = 200;
const LEFT = 56;
const BOTTOM = 28;
const TOP = 12;
const MAX_COLUMNS = 400;
/** The widest column, as a part of the chart's width (60 of 900). */
const MAX_COLUMN_PART = 1 / 15;
/**
 * Longest label in a tooltip: values written behind audit-trail's back have no length limit,
 * and 35 tooltips of a 64 KB SKU would fill the report's 3 MB alone.
 */
const TOOLTIP_SHOWN = 200;

/**
 * How a chart is drawn for a kind of screen. An SVG scales whole, text included: drawn 900
 * wide and shown on a phone 330 px wide, its 11-unit labels came out 4 px tall. So each chart is
 * drawn twice, wide (screens, print) and narrow (phones, about as wide as it shows, so its text
 * keeps its size), and the stylesheet shows the one that fits.
 */
interface ChartFrame {
  /** `wide` or `narrow`: the class the stylesheet picks by. */
  name: string;
  /** Width of a column chart, in its units. */
  width: number;
  /** Bottom labels of a column chart: about this many. */
  labels: number;
  /** Width of a digit (or comma) of an axis label, generously, in the chart's units. */
  digit: number;
  /** Before the last label, at least this many label steps (so the two do not touch). */
  lastGap: number;
  /**
   * Whether a column chart's columns carry a tooltip and a link: a mouse can aim at them; on
   * a phone a column is a pixel or two wide, and they would double the chart's size (a small
   * report outgrew a pipe's buffer).
   */
  pointed: boolean;
  /** Width of a bar chart, and of its labels' column; labels are cut to `labelChars`. */
  barWidth: number;
  labelWidth: number;
  labelChars: number;
}

const FRAMES: readonly ChartFrame[] = [
  {
    name: "wide",
    width: 900,
    labels: 8,
    digit: 7,
    lastGap: 1,
    pointed: true,
    barWidth: 440,
    labelWidth: 150,
    labelChars: 18,
  },
  {
    name: "narrow",
    width: 340,
    labels: 3,
    digit: 8,
    lastGap: 1.5,
    pointed: false,
    barWidth: 340,
    labelWidth: 140,
    labelChars: 16,
  },
];

/**
 * A column chart of counts over time (`points` in time order), its axis up to the round
 * figure above the largest value ({@linkcode axisTop}) with it and its half marked on the left,
 * and a few labels along the bottom. Each column has a tooltip. Drawn for wide and for narrow
 * screens ({@linkcode ChartFrame}).
 */
export function columnChart(points: readonly ChartItem[], title: string): Html {
  if (points.length === 0) return markup`<p class="empty">No events in this range.</p>`;
  return markup`${FRAMES.map((frame) => drawColumns(points, title, frame))}`;
}

function drawColumns(shown: readonly ChartItem[], title: string, frame: ChartFrame): Html {
  const WIDTH = frame.width;
  const points = frame.pointed ? shown : shown.map(({ label, value }) => ({ label, value }));
  const max = axisTop(Math.max(1, ...points.map((p) => p.value)));
  // Room on the left for the largest count, which would otherwise be cut off (1,000,000).
  const left = Math.max(LEFT, 12 + frame.digit * formatCount(max).length);
  const plotWidth = WIDTH - left - 8;
  const plotHeight = COLUMN_HEIGHT - TOP - BOTTOM;
  const step = plotWidth / points.length;
  const gap = step > 4 ? Math.min(3, step * 0.2) : 0;
  const y = (value: number) => TOP + plotHeight - (value / max) * plotHeight;
  const grid = [max, ...max > 1 ? [max / 2] : [], 0].map((value) => {
    const at = fixed(y(value));
    return markup`<line class="grid" x1="${left}" x2="${WIDTH - 8}" y1="${at}" y2="${at}"/>
<text class="axis" aria-hidden="true" x="${left - 6}" y="${
      fixed(y(value) + 4)
    }" text-anchor="end">${formatCount(value)}</text>`;
  });
  const every = Math.max(1, Math.ceil(points.length / frame.labels));
  // A column no wider than a few days' would be: one day drawn across the whole chart reads
  // as a filled area, not as one day's count.
  const barWidth = Math.min(WIDTH * MAX_COLUMN_PART, Math.max(0.5, step - gap));
  const width = fixed(barWidth);
  const plotBottom = TOP + plotHeight;
  const columnX = (i: number) => left + i * step + (step - barWidth) / 2;
  // Without tooltips and links the columns are one path: a sixth of the bytes of 400 rects.
  const outline = frame.pointed
    ? null
    : markup`<path class="bar" d="${
      points.map((point, i) =>
        `M${fixed(columnX(i))} ${fixed(y(point.value))}h${width}V${fixed(plotBottom)}h-${width}z`
      ).join("")
    }"/>`;
  const columns = points.map((point, i) => {
    const x = columnX(i);
    const top = y(point.value);
    const bar = frame.pointed
      ? markup`<rect class="bar" x="${fixed(x)}" y="${fixed(top)}" width="${width}" height="${
        fixed(plotBottom - top)
      }"><title>${tooltip(point.label)}: ${formatCountOf(point.value, "event")}</title></rect>`
      : null;
    // Labels every few columns; the last one of several ends at its column's right edge, so
    // none is cut off; a lone column's is centred under it.
    const last = i === points.length - 1;
    const labelled = last || (i % every === 0 && points.length - 1 - i >= every * frame.lastGap);
    const flushRight = last && i > 0;
    const label = labelled
      ? markup`<text class="axis" aria-hidden="true" x="${
        fixed(flushRight ? x + barWidth : x + barWidth / 2)
      }" y="${COLUMN_HEIGHT - 8}" text-anchor="${flushRight ? "end" : "middle"}">${
        escapeInvisible(clipText(point.label, 12).text)
      }</text>`
      : null;
    return bar === null ? label : markup`${link(point, bar, false)}${label}\n`;
  });
  const total = points.reduce((sum, p) => sum + p.value, 0);
  const busiest = points.reduce((most, p) => p.value > most.value ? p : most);
  const summary = `${formatCountOf(total, "event")} from ${spoken(points[0]!.label)} to ${
    spoken(points[points.length - 1]!.label)
  }, the most (${formatCount(busiest.value)}) at ${spoken(busiest.label)}`;
  return markup`<svg class="chart ${frame.name}" viewBox="0 0 ${WIDTH} ${COLUMN_HEIGHT}" ${
    accessible(points, title, summary)
  }>
${grid}
${outline}${columns}</svg>`;
}

/**
 * The top of a column chart's axis: the first round even figure at or above `max`, so that
 * its lines mark 20 and 10, not 15 and 8, or 1,200,000 and 600,000, not 1,000,006 and
 * 500,003 (a chart of one event goes up to 1, with no middle line).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { axisTop } from "./charts.ts";
 * assert.deepEqual([1, 3, 6, 15, 1_000_006].map(axisTop), [1, 4, 6, 20, 1_200_000]);
 * ```
 */
export function axisTop(max: number): number {
  if (max <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => Math.round(m * power))
    .find((top) => top >= max && top % 2 === 0)!;
}

/** Bar charts sit three abreast: drawn at about the size they show, so text reads as 12 px. */
const ROW = 22;

/**
 * A horizontal bar chart, one row per item in the given order (the largest first), each with
 * its label on the left and its count after the bar. `more` names what was left out.
 */
export function barChart(items: readonly ChartItem[], title: string, more?: string): Html {
  if (items.length === 0) return markup`<p class="empty">None in this range.</p>`;
  return markup`${FRAMES.map((frame) => drawBars(items, title, frame))}${
    more ? markup`<p class="more">${more}</p>` : null
  }`;
}

function drawBars(items: readonly ChartItem[], title: string, frame: ChartFrame): Html {
  const LABEL_WIDTH = frame.labelWidth;
  const BAR_MAX = frame.barWidth - LABEL_WIDTH - 64;
  const max = Math.max(1, ...items.map((i) => i.value));
  const height = items.length * ROW + 6;
  const rows = items.map((item, i) => {
    const top = 3 + i * ROW;
    const width = Math.max(1, (item.value / max) * BAR_MAX);
    const clipped = clipText(item.label, frame.labelChars);
    const label = escapeInvisible(clipped.omitted ? clipped.text + "…" : clipped.text);
    const row = markup`<text class="label" x="${LABEL_WIDTH - 8}" y="${
      top + 15
    }" text-anchor="end">${label}</text><rect class="bar" x="${LABEL_WIDTH}" y="${
      top + 3
    }" width="${fixed(width)}" height="${ROW - 6}"/><text class="value" x="${
      fixed(LABEL_WIDTH + width + 6)
    }" y="${top + 15}">${formatCount(item.value)}</text><title>${tooltip(item.label)}: ${
      formatCountOf(item.value, "event")
    }</title>`;
    return markup`${link(item, markup`<g>${row}</g>`)}\n`;
  });
  const summary = items.map((item) => `${spoken(item.label)} ${formatCount(item.value)}`)
    .join(", ");
  return markup`<svg class="chart bars ${frame.name}" viewBox="0 0 ${frame.barWidth} ${height}" ${
    accessible(items, title, summary)
  }>
${rows}</svg>`;
}

/**
 * Counts per day as the points of a column chart: every day from the first to the last (days
 * without events as 0) while that is at most 400 days; months beyond that, years beyond 400
 * months (those without events as 0 too). Days that are not dates (a damaged legacy row) are
 * kept as they are. So a chart never has more than about 400 columns, whatever the log spans.
 */
export function timeSeries(
  perDay: readonly { day: string; count: number }[],
  href?: (first: string, last: string) => string,
): ChartItem[] {
  const days = everyDay(perDay);
  if (days !== null) {
    return days.map((d) => ({ label: d.day, value: d.count, href: href?.(d.day, d.day) }));
  }
  // Months, else years, with those without events as 0 while they fit; years with events
  // alone when even those would not (a damaged legacy row dated 0050 beside 2026).
  const dates = perDay.every((d) => isDate(d.day));
  const years = sumBy(perDay, 4);
  const periods = [
    everyMonth(perDay),
    dates ? withEmptyPeriods(years, "year") : years,
  ].find((series) => series.length <= MAX_COLUMNS) ?? years;
  return periods.map((p) => ({ label: p.key, value: p.count, href: href?.(p.first, p.last) }));
}

/**
 * What each column of a {@linkcode timeSeries} spans, read from its labels (`2026-02-16`,
 * `2026-02`, `2026`); an empty series is one of days. The days, months and years are UTC
 * ones, as every timestamp is: a heading that names the unit says so.
 */
export function periodUnit(series: readonly ChartItem[]): "day" | "month" | "year" {
  const length = series[0]?.label.length ?? 10;
  return length === 10 ? "day" : length === 7 ? "month" : "year";
}

/**
 * Counts per day summed per month, every month from the first to the last (those without
 * events as 0): the report's chart and `stats --format table` show the same months.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { everyMonth } from "./charts.ts";
 * const months = everyMonth([{ day: "2026-01-05", count: 2 }, { day: "2026-03-01", count: 1 }]);
 * assert.deepEqual(months.map((m) => [m.key, m.count]), [["2026-01", 2], ["2026-02", 0], ["2026-03", 1]]);
 * ```
 */
export function everyMonth(perDay: readonly { day: string; count: number }[]): Period[] {
  const months = sumBy(perDay, 7);
  return perDay.every((d) => isDate(d.day)) ? withEmptyPeriods(months, "month") : months;
}

function isDate(day: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && !isNaN(Date.parse(day));
}

/** A month or year: its key (`2026-02`, `2026`), its count, and its first and last day. */
export type Period = { key: string; count: number; first: string; last: string };

/**
 * Every month (or year) from the first period to the last, those without events as 0, as days
 * are: a column chart reads as a time axis, and a year without events left out would put the
 * months on either side of it next to each other.
 */
function withEmptyPeriods(periods: readonly Period[], unit: "month" | "year"): Period[] {
  if (periods.length === 0) return [];
  const months = unit === "month" ? 1 : 12;
  const index = (key: string) => +key.slice(0, 4) * 12 + (months === 1 ? +key.slice(5, 7) - 1 : 0);
  const byKey = new Map(periods.map((p) => [p.key, p]));
  const filled: Period[] = [];
  for (let i = index(periods[0]!.key); i <= index(periods.at(-1)!.key); i += months) {
    const first = new Date(0);
    first.setUTCFullYear(Math.floor(i / 12), i % 12, 1);
    const last = new Date(first);
    last.setUTCMonth(last.getUTCMonth() + months, 0);
    const day = (date: Date) => date.toISOString().slice(0, 10);
    const key = day(first).slice(0, months === 1 ? 7 : 4);
    filled.push(byKey.get(key) ?? { key, count: 0, first: day(first), last: day(last) });
  }
  return filled;
}

/** Every day from the first to the last, or `null` when that is more than a chart holds. */
function everyDay(perDay: readonly { day: string; count: number }[]) {
  if (!perDay.every((d) => isDate(d.day))) {
    return perDay.length <= MAX_COLUMNS ? [...perDay] : null;
  }
  if (perDay.length === 0) return [];
  const first = Date.parse(perDay[0]!.day);
  const span = (Date.parse(perDay[perDay.length - 1]!.day) - first) / 86_400_000 + 1;
  if (span > MAX_COLUMNS) return null;
  const counts = new Map(perDay.map((d) => [d.day, d.count]));
  return Array.from({ length: span }, (_, i) => {
    const day = new Date(first + i * 86_400_000).toISOString().slice(0, 10);
    return { day, count: counts.get(day) ?? 0 };
  });
}

function sumBy(perDay: readonly { day: string; count: number }[], length: number) {
  const periods: Period[] = [];
  for (const { day, count } of perDay) {
    const key = day.slice(0, length);
    const current = periods[periods.length - 1];
    if (current?.key === key) {
      current.count += count;
      current.last = day;
    } else {
      periods.push({ key, count, first: day, last: day });
    }
  }
  return periods;
}

function tooltip(label: string): string {
  const { text, omitted } = clipText(label, TOOLTIP_SHOWN);
  const shown = escapeInvisible(text);
  return omitted ? `${shown}… [${formatCountOf(omitted, "more character")}]` : shown;
}

/**
 * Each link is named for what it leads to (the tooltip is for the mouse only). A column of a
 * time chart is left out of the Tab order (`tabbable` false): 400 of them stood between the
 * keyboard and the table, and the date boxes of the form reach the same lists.
 */
function link(item: ChartItem, content: Html, tabbable = true): Html {
  return item.href === undefined
    ? content
    : markup`<a href="${item.href}"${tabbable ? null : markup` tabindex="-1"`} aria-label="${
      spoken(item.label)
    }: ${formatCountOf(item.value, "event")}">${content}</a>`;
}

/**
 * What a screen reader is told of a chart: a picture without links is one image whose name
 * carries its figures (`summary`); a chart of links is a group, since an image's content is
 * hidden from it, links and all, and each link names its own figure.
 */
function accessible(items: readonly ChartItem[], title: string, summary: string): Html {
  return items.some((item) => item.href !== undefined)
    ? markup`role="group" aria-label="${title}"`
    : markup`role="img" aria-label="${title}: ${summary}"`;
}

/** A label as said aloud: cut to 60 characters, hidden characters written as escapes. */
function spoken(label: string): string {
  const { text, omitted } = clipText(label, 60);
  return escapeInvisible(omitted ? `${text}…` : text);
}

function fixed(n: number): string {
  return String(Math.round(n * 10) / 10);
}
