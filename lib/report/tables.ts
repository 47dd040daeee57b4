/**
 * The tables of the report and the viewer: events (long values cut, with a visible mark) and
 * batches (with how they ended).
 *
 * @module
 */
import { parseBatchOutcome } from "../batch_outcome.ts";
import type { AuditEvent } from "../event_row.ts";
import type { BatchOutline } from "../batch_overview.ts";
import { unknownDuration } from "../batch.ts";
import { formatCount, formatCountOf, formatDuration, shortTime } from "./format.ts";
import { clipText, type Html, markup } from "./html.ts";
import { escapeInvisible } from "../table.ts";

/** Where a value links to in the viewer (`undefined`: no link, as in the report). */
export type Linker = (field: "sku" | "operation" | "user" | "run_id", value: string) =>
  | string
  | undefined;

/** Details longer than this are cut in tables, with a mark saying how much is left out. */
export const DETAILS_SHOWN = 500;
/** Other values (SKU, user, run id, operation) longer than this are cut the same way. */
export const VALUE_SHOWN = 200;

/** The header row of {@linkcode eventRow}s. */
export const EVENT_HEADER: Html = markup`
  <thead>
    <tr>
      <th class="num">id</th>
      <th>time (UTC)</th>
      <th>operation</th>
      <th>SKU</th>
      <th>user</th>
      <th>run id</th>
      <th>details</th>
    </tr>
  </thead>
`;

/** One event as a table row. */
export function eventRow(event: AuditEvent, link: Linker = () => undefined): Html {
  const cell = (field: "sku" | "operation" | "user" | "run_id", value: string | null) => {
    if (value === null) return markup`<td></td>`;
    const shown = clipped(value, VALUE_SHOWN);
    const href = link(field, value);
    return markup`<td>${href === undefined ? shown : markup`<a href="${href}">${shown}</a>`}</td>`;
  };
  return markup`<tr><td class="num">${event.audit_id}</td>${timeCell(event.timestamp)}${
    cell("operation", event.operation)
  }${cell("sku", event.sku)}${cell("user", event.user)}${
    cell("run_id", event.run_id)
  }<td class="details">${clipped(event.details, DETAILS_SHOWN, "\n\t")}</td></tr>`;
}

/**
 * A time as a table cell: its date and its time of day each kept whole, so that a narrow
 * column (on paper) wraps it between them, never after the dash of "2026-12-".
 */
function timeCell(timestamp: string): Html {
  const [date, time] = shortTime(timestamp).split(/ (?=\d\d:)/, 2);
  return time === undefined
    ? markup`<td class="time">${date}</td>`
    : markup`<td class="time"><span>${date}</span> <span>${time}</span></td>`;
}

/**
 * `text` cut to `max` characters, followed by a mark that says how many more there were.
 * Characters that would hide or reorder what is shown (controls, bidirectional overrides,
 * zero-width spaces) are written as escapes (`\u202E`), as the command line's tables show
 * them, but those in `keep`: a user named "\u202Enimda" must not read as "admin".
 */
export function clipped(text: string, max: number, keep = ""): Html {
  const { text: cut, omitted } = clipText(text, max);
  const shown = escapeInvisible(cut, keep);
  const mark = omitted === 0
    ? null
    : markup`<span class="cut" title="cut for display">… [${
      formatCountOf(omitted, "more character")
    }]</span>`;
  // A word too long for any column (a SKU of 200 letters) may break anywhere; it alone, so
  // that the other columns keep their words whole rather than pushing details off the page.
  return LONG_WORD.test(shown)
    ? markup`<span class="long">${shown}</span>${mark}`
    : markup`${shown}${mark}`;
}

const LONG_WORD = /\S{40}/;

/** A batch's duration, or "unknown" saying why, when its clock was set back while it ran. */
function durationCell(batch: BatchOutline): Html {
  const why = unknownDuration(batch);
  return why === null
    ? markup`<td class="num">${formatDuration(batch.duration_seconds)}</td>`
    : markup`<td class="num" title="${why}">unknown</td>`;
}

/** A table of batches, the most recently active first, with how each ended. */
export function batchTable(batches: readonly BatchOutline[], link: Linker = () => undefined): Html {
  if (batches.length === 0) return markup`<p class="empty">No batches in this range.</p>`;
  const rows = batches.map((batch) => {
    const href = link("run_id", batch.run_id);
    const id = clipped(batch.run_id, VALUE_SHOWN);
    return markup`
      <tr>
        <td class="mono">${href ? markup`<a href="${href}">${id}</a>` : id}</td>
        <td class="num">${formatCount(batch.event_count)}</td>
        ${timeCell(batch.start_time)}
        ${timeCell(batch.end_time)}
        ${durationCell(batch)}
        <td>${outcomeCell(batch)}</td>
      </tr>
    `;
  });
  return scrollable(markup`
    <table>
      <thead>
        <tr>
          <th>run id</th>
          <th class="num">events</th>
          <th>start (UTC)</th>
          <th>latest (UTC)</th>
          <th class="num">duration</th>
          <th>outcome</th>
        </tr>
      </thead>
      <tbody>${rows}</tbody>
    </table>
  `);
}

/**
 * A table in a box that scrolls sideways in a narrow window (see the stylesheet), so that the
 * page itself never does.
 */
export function scrollable(table: Html): Html {
  return markup`<div class="scroll">${table}</div>`;
}

function outcomeCell(batch: BatchOutline): Html {
  if (batch.end_details === null) {
    return markup`<span class="note">no BATCH_END (running, or stopped without one)</span>`;
  }
  const text = clipped(batchEndText(batch.end_details), 120);
  if (batch.outcome === "failed") return markup`<span class="bad">FAILED</span> ${text}`;
  if (batch.outcome === "ok") return markup`<span class="good">ok</span> ${text}`;
  return markup`ended: ${text}`;
}

/**
 * A `BATCH_END`'s details as a person reads them: `exit code 3 after 1.2 s`, `killed by
 * SIGTERM after 9.0 s`, `could not start: …`; a summary written by hand as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchEndText } from "./tables.ts";
 * assert.ok(batchEndText('{"exit_code":3,"duration_seconds":1.234}') === "exit code 3 after 1.2 s");
 * assert.ok(batchEndText("15 orders confirmed") === "15 orders confirmed");
 * ```
 */
export function batchEndText(details: string): string {
  const outcome = parseBatchOutcome(details);
  if (outcome === null) return details;
  const how = outcome.error !== null
    ? `could not start: ${outcome.error}`
    : outcome.signal !== null
    ? `killed by ${outcome.signal}`
    : `exit code ${outcome.exit_code}`;
  return `${how} after ${formatDuration(outcome.duration_seconds)}`;
}
