/**
 * The stylesheet and the one script of the report and the viewer, as text in a module, so that
 * `deno compile` embeds them with the code: the report inlines both (allowed by their hashes
 * in its Content-Security-Policy), the viewer serves them from its own origin.
 *
 * @module
 */

/** The stylesheet: plain CSS, system fonts, nothing loaded from anywhere. */
export const STYLESHEET = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5c6675; --line: #d9dee5;
  --accent: #2f6fb3; --bad: #b3261e; --good: #1e7b34; --paper: #fff; --shade: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: var(--ink); background: var(--shade); }
header.top { background: var(--ink); color: #fff; padding: 12px 24px; display: flex;
  flex-wrap: wrap; align-items: baseline; gap: 6px 24px; }
header.top h1 { font-size: 20px; margin: 0; }
header.top p { margin: 0; color: #c9d1dc; }
header.top nav a { color: #fff; margin-right: 16px; text-decoration: none; font-weight: 600; }
header.top nav a:hover { text-decoration: underline; }
main { padding: 16px 24px 40px; max-width: 1400px; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 6px;
  padding: 12px 16px; margin: 0 0 16px; }
section h2 { font-size: 16px; margin: 0 0 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(210px, 100%), 1fr));
  gap: 12px;
  background: none; border: 0; padding: 0; }
.card { background: var(--paper); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 14px; }
.card .figure { font-size: 22px; font-weight: 700; }
.card .figure.mono { font-size: 15px; word-break: break-all; }
.card .sub { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(360px, 100%), 1fr));
  gap: 16px; margin: 0 0 16px; }
.grid section { margin: 0; }
.chart { width: 100%; height: auto; display: block; }
.chart.bars { max-width: 600px; }
.chart .bar { fill: var(--accent); }
.chart a:hover .bar, .chart a:focus .bar { fill: #174a80; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  fill: var(--ink); }
.chart text.axis { fill: var(--muted); font-size: 11px; }
/* Each chart is drawn wide and narrow (charts.ts): a phone shows the narrow one, about as wide
   as it is drawn, so its labels keep their size instead of shrinking with the picture. */
.chart.narrow { display: none; }
@media screen and (max-width: 700px) {
  .chart.wide { display: none; }
  .chart.narrow { display: block; max-width: 520px; }
  .chart.narrow text.axis { font-size: 12px; }
}
.more, .empty, .note { color: var(--muted); margin: 6px 0 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
.long { overflow-wrap: anywhere; }
th { background: var(--shade); position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.details { max-width: 560px; white-space: pre-wrap; word-break: break-word; }
tr[hidden] { display: none; }
.cut { color: var(--bad); font-weight: 600; white-space: nowrap; }
.bad { color: var(--bad); font-weight: 700; }
.good { color: var(--good); font-weight: 700; }
.mono { font-family: ui-monospace, Consolas, "Liberation Mono", monospace; font-size: 12px;
  word-break: break-all; }
.filterbar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 0 0 8px; }
.filterbar input[type=search] { font: inherit; padding: 5px 8px; width: 280px; max-width: 100%;
  border: 1px solid var(--muted); border-radius: 4px; }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
  gap: 8px 12px; align-items: end; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
form.filters input, form.filters select { font: inherit; padding: 4px 6px;
  border: 1px solid var(--muted); border-radius: 4px; color: var(--ink); }
form.filters .actions { display: flex; gap: 8px; }
button, .button { font: inherit; padding: 5px 12px; border: 1px solid var(--accent);
  background: var(--accent); color: #fff; border-radius: 4px; text-decoration: none;
  cursor: pointer; display: inline-block; }
.button.plain { background: var(--paper); color: var(--accent); }
.facets { display: flex; flex-wrap: wrap; gap: 16px; }
.facets ul { list-style: none; margin: 0; padding: 0; columns: 2; column-gap: 24px; }
.facets li { break-inside: avoid; }
.facets li.on a { font-weight: 700; }
.pager { display: flex; gap: 8px; align-items: center; margin: 8px 0 0; }
.error { border-color: var(--bad); }
.error h2 { color: var(--bad); }
a { color: var(--accent); }
/* A narrow window (a tablet, a phone, 200 % zoom): a table too wide scrolls inside its section
   and keeps its columns readable, rather than the whole page sliding sideways. */
@media screen and (max-width: 900px) {
  main { padding: 12px 12px 32px; }
  header.top { padding: 10px 12px; }
  .scroll { overflow-x: auto; }
  .scroll > table { min-width: 720px; }
}
/* Print and PDF: browsers drop backgrounds, so nothing may depend on one; tables fit the page
   width (a value too long for any column breaks anywhere: .long) and no row, card or chart is cut across two pages. */
@media print {
  body { background: #fff; font-size: 12px; }
  header.top { background: none; color: var(--ink); padding: 0 0 6px;
    border-bottom: 2px solid var(--ink); }
  header.top p { color: var(--muted); }
  header.top nav, .filterbar input, section:has(> form.filters), .pager, .downloads {
    display: none; }
  main { padding: 8px 0 0; max-width: none; }
  section { border: 0; border-top: 1px solid var(--line); border-radius: 0; padding: 8px 0; }
  .cards { border: 0; }
  .card, .grid section, .chart, tr { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  th { position: static; border-bottom: 2px solid var(--ink); }
  .grid { grid-template-columns: repeat(2, 1fr); }
  table { font-size: 11px; }
  th, td { padding: 3px 5px; }
  td.num { white-space: nowrap; }
  td.time { white-space: normal; }
  td.time span { white-space: nowrap; }
  .mono { word-break: normal; }
}
`;

/**
 * The script: filters a table as one types. Each word typed must appear in a row's text
 * (case-insensitively); `#filter=WORDS` in the address fills the box, and typing writes it
 * there, so a filtered view can be bookmarked and linked. It changes nothing else, and the
 * table is complete without it.
 */
export const TABLE_FILTER_SCRIPT = `"use strict";
(function () {
  var input = document.getElementById("filter");
  var table = document.querySelector("table.filterable");
  if (!input || !table) return;
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var shown = document.getElementById("shown");
  function number(n) { return n.toLocaleString("en-US"); }
  function events(n) { return number(n) + (n === 1 ? " event" : " events"); }
  function apply() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var count = 0;
    rows.forEach(function (row, i) {
      var hit = words.every(function (word) { return texts[i].indexOf(word) !== -1; });
      row.hidden = !hit;
      if (hit) count++;
    });
    // Printed, the box is left out: the count says what the rows were filtered by.
    if (shown) {
      shown.textContent = words.length
        ? number(count) + " of " + events(rows.length) + " shown, filtered by \u201c" +
          input.value.trim().replace(/\\s+/g, " ") + "\u201d"
        : events(rows.length);
    }
    // The address keeps the words (replaced, not pushed: Back leaves the page as before), so
    // a bookmark or a copied link opens the same filtered view.
    var hash = words.length ? "#filter=" + encodeURIComponent(input.value.trim()) : "";
    if (location.hash !== hash && (hash || location.hash)) {
      history.replaceState(null, "", hash || location.pathname + location.search);
    }
  }
  var match = /^#filter=(.*)$/.exec(location.hash);
  if (match) {
    try { input.value = decodeURIComponent(match[1]); } catch (e) { input.value = match[1]; }
  }
  input.addEventListener("input", apply);
  apply();
})();
`;
