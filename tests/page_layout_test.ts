/**
 * The report and the viewer as their readers get them, laid out by headless Chromium: in a
 * narrow window (a tablet, a phone, 200 % zoom), printed or saved as PDF, and the filter's
 * count as a person reads it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startViewer } from "../lib/viewer/server.ts";
import { dumpDom, evaluateIn, type Layout } from "./browser.ts";
import { runCli, tempDir } from "./helpers.ts";
import { logAuditEvents, migrate, openDatabase } from "./internals.ts";
import { viewerFixture } from "./viewer_fixture.ts";
import { createLog, insertRaw } from "./fixtures.ts";
import { columnChart } from "../lib/report/charts.ts";
import { markup } from "../lib/report/html.ts";
import { renderPage } from "../lib/report/page.ts";

/** How far the page reaches past the window's right edge, and the tables not in a scroll box. */
const SIDEWAYS = `({
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  loose: [...document.querySelectorAll("table")].filter((t) => !t.parentElement.matches(".scroll"))
    .length,
})`;

async function report(dir: string, db: string, ...flags: string[]): Promise<string> {
  const file = join(dir, "report.html");
  const made = await runCli(["report", "--output", file, ...flags, "--db", db]);
  assert.equal(made.code, 0, made.stderr);
  return new URL(`file://${file}`).href;
}

Deno.test("The report in a window 400 or 600 wide never scrolls sideways: a wide table scrolls in its box", async () => {
  await using dir = await tempDir();
  const url = await report(dir.path, viewerFixture(dir.path));
  for (const width of [400, 600]) {
    const seen = await evaluateIn<{ overflow: number; loose: number }>(url, SIDEWAYS, { width });
    assert.deepEqual(seen, { overflow: 0, loose: 0 }, `width ${width}`);
  }
});

Deno.test("The viewer's overview, events and batch pages in a window 400 wide never scroll sideways", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  await using viewer = await startViewer({ database: db, port: 0 });
  const [batch] = JSON.parse((await runCli(["batch", "list", "--db", db])).stdout);
  for (const address of ["", "events", "batches", `batches/${encodeURIComponent(batch.run_id)}`]) {
    const seen = await evaluateIn<{ overflow: number; loose: number }>(
      `${viewer.url}${address}`,
      SIDEWAYS,
      { width: 400 },
    );
    assert.deepEqual(seen, { overflow: 0, loose: 0 }, `/${address}`);
  }
});

/** WCAG's contrast ratio against white paper of each element's text (or other) colour. */
const CONTRAST_ON_PAPER = `(selector, property = "color") =>
  [...document.querySelectorAll(selector)].map((element) => {
  const channels = getComputedStyle(element)[property].match(/[\\d.]+/g).slice(0, 3).map(Number);
  const [r, g, b] = channels.map((v) => v / 255)
    .map((v) => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return Math.round(105 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)) / 100;
})`;

Deno.test("The printed report reads on white paper, fits the page width and cuts no row in two", async () => {
  await using dir = await tempDir();
  const url = await report(dir.path, viewerFixture(dir.path));
  // A4 at Chromium's default margins leaves a page about 718 CSS pixels wide.
  const print: Layout = { width: 718, media: "print" };
  const seen = await evaluateIn<{
    header: number[];
    widest: number;
    page: number;
    rows: string[];
    charts: string[];
    shown: string;
    box: string;
  }>(
    `${url}#filter=eve`,
    `{
      header: (${CONTRAST_ON_PAPER})("header.top h1, header.top p"),
      widest: Math.max(...[...document.querySelectorAll("main *")]
        .map((e) => e.getBoundingClientRect().right)),
      page: document.documentElement.clientWidth,
      rows: [...new Set([...document.querySelectorAll("tr")]
        .map((row) => getComputedStyle(row).breakInside))],
      charts: [...new Set([...document.querySelectorAll(".card, .grid section, svg.chart")]
        .map((e) => getComputedStyle(e).breakInside))],
      shown: getComputedStyle(document.getElementById("shown")).display === "none"
        ? "not printed"
        : document.getElementById("shown").textContent,
      box: getComputedStyle(document.getElementById("filter")).display,
    }`,
    print,
  );
  // Backgrounds are not printed by default: the title may not be white text on a dark band.
  assert.ok(seen.header.every((ratio) => ratio >= 4.5), `header contrast ${seen.header}`);
  assert.ok(seen.widest <= seen.page + 0.5, `${seen.widest} px wide on a ${seen.page} px page`);
  assert.deepEqual(seen.rows, ["avoid"]);
  assert.deepEqual(seen.charts, ["avoid"]);
  // The filter box is not printed; the count says which rows the paper shows and why.
  assert.equal(seen.box, "none");
  assert.equal(seen.shown, "1 of 12 events shown, filtered by \u201ceve\u201d");
});

Deno.test("The report's filter counts events as people write them: 1 event, 1,000 events", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  await createLog(db, [{ operation: "COUNTED", sku: "SKU-1", details: "the only one" }]);
  const shown = async (hash = "") =>
    /<span id="shown" class="note" role="status">([^<]*)<\/span>/.exec(
      (await dumpDom(`${await report(dir.path, db)}${hash}`)).dom,
    )?.[1];
  assert.equal(await shown(), "1 event");
  {
    using handle = openDatabase(db);
    await logAuditEvents(
      handle,
      Array.from({ length: 1500 }, (_, i) => ({ operation: "COUNTED", sku: `SKU-${i + 2}` })),
    );
  }
  assert.equal(await shown(), "1,000 events");
  assert.equal(await shown("#filter=SKU-1501"), "1 of 1,000 events shown, filtered by “SKU-1501”");
});

Deno.test("The viewer's form fields and the filter box have a border one can see (3:1, WCAG 1.4.11)", async () => {
  await using dir = await tempDir();
  await using viewer = await startViewer({ database: viewerFixture(dir.path), port: 0 });
  const ratios = await evaluateIn<number[]>(
    `${viewer.url}events`,
    `(${CONTRAST_ON_PAPER})("form.filters input, form.filters select, #filter", "borderTopColor")`,
    { width: 1280 },
  );
  assert.equal(ratios.length, 10);
  assert.ok(ratios.every((ratio) => ratio >= 3), `${ratios}`);
});

Deno.test("Typing in the report's filter box writes the words into the address, so a bookmark keeps them", async () => {
  await using dir = await tempDir();
  const url = await report(dir.path, viewerFixture(dir.path));
  const seen = await evaluateIn<
    { typed: string; cleared: string; history: number[]; live: string }
  >(
    url,
    `(() => {
      const box = document.getElementById("filter");
      const type = (text) => {
        box.value = text;
        box.dispatchEvent(new Event("input"));
        return location.hash;
      };
      const before = history.length;
      const typed = type("note  München");
      const cleared = type("");
      return {
        typed,
        cleared: location.href,
        history: [before, history.length],
        live: document.getElementById("shown").getAttribute("role"),
      };
    })()`,
    { width: 1280 },
  );
  assert.equal(seen.typed, `#filter=${encodeURIComponent("note  München")}`);
  assert.equal(seen.cleared, url, "no filter, no hash");
  // Replaced, not pushed: Back leaves the report rather than stepping through each key.
  assert.equal(seen.history[1], seen.history[0]);
  // A screen reader hears the count change as one types.
  assert.equal(seen.live, "status");
});

Deno.test("A printed page of the viewer leaves out its form, paging and downloads, and says what it lists", async () => {
  await using dir = await tempDir();
  await using viewer = await startViewer({ database: viewerFixture(dir.path), port: 0 });
  const seen = await evaluateIn<{ shown: string[]; heading: string }>(
    `${viewer.url}events?sku=SKU-1001&limit=1`,
    `{
      shown: [...document.querySelectorAll("main > section, .downloads, .pager")]
        .filter((e) => e.getBoundingClientRect().height > 0)
        .map((e) => e.querySelector("h2")?.textContent ?? e.className),
      heading: document.title,
    }`,
    { width: 718, media: "print" },
  );
  assert.deepEqual(seen.shown, ["4 events match SKU “SKU-1001”", "Events, newest first"]);
  assert.equal(seen.heading, "Events: SKU “SKU-1001”");
});

/** Each column chart's labels that reach past its edges, and its widest column, in its units. */
const CHART_FIT = `[...document.querySelectorAll("svg.chart:not(.bars)")].map((svg) => {
  const box = svg.viewBox.baseVal;
  return {
    outside: [...svg.querySelectorAll("text")].filter((text) => {
      const b = text.getBBox();
      return b.x < box.x - 0.5 || b.x + b.width > box.x + box.width + 0.5;
    }).map((text) => text.textContent),
    widest: Math.max(...[...svg.querySelectorAll("rect.bar")].map((bar) => bar.width.baseVal.value)),
    chart: box.width,
  };
})`;

Deno.test("A chart of one day shows its date whole under a column, not a block across the chart", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  await createLog(db, [{ operation: "COUNTED", sku: "SKU-1" }]);
  await using viewer = await startViewer({ database: db, port: 0 });
  for (const url of [await report(dir.path, db), `${viewer.url}`, `${viewer.url}events`]) {
    const charts = await evaluateIn<{ outside: string[]; widest: number; chart: number }[]>(
      url,
      CHART_FIT,
      { width: 1366 },
    );
    assert.ok(charts.length >= 1, url);
    for (const chart of charts) {
      assert.deepEqual(chart.outside, [], `${url}: labels cut off`);
      assert.ok(chart.widest <= chart.chart / 10, `${url}: a column ${chart.widest} wide`);
    }
  }
});

Deno.test("The viewer's counts by user stay to the right of a right-to-left name", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  await createLog(db, [
    { operation: "COUNTED", sku: "SKU-1", user: "משה" },
    { operation: "COUNTED", sku: "SKU-1", user: "משה" },
    { operation: "COUNTED", sku: "SKU-2", user: "clerk" },
  ]);
  await using viewer = await startViewer({ database: db, port: 0 });
  const seen = await evaluateIn<{ name: string; count: string; after: boolean }[]>(
    `${viewer.url}events`,
    `[...document.querySelectorAll(".facets li")].map((li) => {
      const link = li.querySelector("a");
      const count = document.createRange();
      count.selectNode(link.nextSibling);
      return {
        name: link.textContent,
        count: link.nextSibling.textContent.trim(),
        after: count.getBoundingClientRect().left >= link.getBoundingClientRect().right - 0.5,
      };
    })`,
    { width: 1366 },
  );
  assert.deepEqual(seen.filter((item) => item.name === "משה"), [
    { name: "משה", count: "2", after: true },
  ]);
  assert.ok(seen.every((item) => item.after), JSON.stringify(seen));
});

Deno.test("A column chart of a million events a day shows its largest count whole, at a round figure", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "chart.html");
  const body = markup`<section>${
    columnChart([{ label: "2026-12-04", value: 3 }, { label: "2026-12-05", value: 1_000_006 }], "t")
  }</section>`;
  await Deno.writeTextFile(file, renderPage({ title: "chart", body }, "inline"));
  const url = new URL(`file://${file}`).href;
  const [chart] = await evaluateIn<{ outside: string[] }[]>(url, CHART_FIT, { width: 1366 });
  assert.deepEqual(chart.outside, [], "labels cut off");
  const labels = await evaluateIn<string[]>(
    url,
    `[...document.querySelectorAll("svg.chart text.axis")].map((text) => text.textContent)`,
    { width: 1366 },
  );
  assert.deepEqual(labels.slice(0, 3), ["1,200,000", "600,000", "0"]);
});

/** The text of each line of each time cell, as laid out. */
const TIME_LINES = `[...document.querySelectorAll("td.time")].map((cell) => {
  const lines = new Map();
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (!rect) continue;
      const top = Math.round(rect.top);
      lines.set(top, (lines.get(top) ?? "") + node.data[i]);
    }
  }
  return [...lines.values()].map((line) => line.trim());
})`;

Deno.test("A printed report wraps a time between its date and its time of day, never inside the date", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  await createLog(db, [{
    operation: "PICKED",
    sku: `SKU-${"X".repeat(150)}`,
    user: `user${"u".repeat(120)}`,
    run_id: "run_1",
    details: "A".repeat(800),
  }]);
  const cells = await evaluateIn<string[][]>(await report(dir.path, db), TIME_LINES, {
    width: 718,
    media: "print",
  });
  assert.ok(cells.length >= 3, "the event's time and the batch's start and latest");
  for (const lines of cells) {
    assert.ok(
      lines.every((line) => /^(\d{4}-\d\d-\d\d)?( ?\d\d:\d\d:\d\d)?$/.test(line)),
      JSON.stringify(lines),
    );
  }
});

/**
 * Of each chart shown: its class, the smallest of its texts as rendered (font size times the
 * scale the SVG is drawn at, in CSS pixels), the pairs of its axis labels that overlap, and
 * the texts that reach past its edges.
 */
const CHART_TEXT = `[...document.querySelectorAll("svg.chart")]
  .filter((svg) => svg.getBoundingClientRect().width > 0)
  .map((svg) => {
    const texts = [...svg.querySelectorAll("text")];
    const sizes = texts.map((t) => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    const boxes = [...svg.querySelectorAll("text.axis")].map((t) => t.getBoundingClientRect());
    let overlaps = 0;
    boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b) => {
      if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
    }));
    const edge = svg.getBoundingClientRect();
    const outside = texts.filter((t) => {
      const b = t.getBoundingClientRect();
      return b.left < edge.left - 0.5 || b.right > edge.right + 0.5;
    }).map((t) => t.textContent);
    return {
      kind: svg.getAttribute("class"),
      smallest: Math.round(Math.min(...sizes) * 10) / 10,
      overlaps,
      outside,
    };
  })`;

Deno.test("Chart labels read at 11 px or more on a phone 390 wide, keep their size at 1366 and 1920, and print once", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  {
    using handle = openDatabase(db, { create: true });
    migrate(handle);
    // 90 days of events, with long names in the bar charts.
    for (let i = 0; i < 90; i++) {
      const day = new Date(Date.UTC(2026, 8, 1) + i * 86_400_000).toISOString();
      for (let j = 0; j <= i % 5; j++) {
        insertRaw(handle, day, `OPERATION_${(i + j) % 12}`, {
          sku: `SKU-${i % 30}-WITH-A-LONG-NAME`,
          user: `user.with.a.long.name.${j}`,
        });
      }
    }
  }
  await using viewer = await startViewer({ database: db, port: 0 });
  type Seen = { kind: string; smallest: number; overlaps: number; outside: string[] }[];
  for (const url of [await report(dir.path, db), viewer.url, `${viewer.url}events`]) {
    for (const width of [390, 1366, 1920]) {
      const charts = await evaluateIn<Seen>(url, CHART_TEXT, { width, height: 844 });
      assert.ok(charts.length >= 1, `${url} at ${width}`);
      const kind = width === 390 ? "narrow" : "wide";
      for (const chart of charts) {
        // On the phone at least 11 px; wide, the bar charts three abreast stay about 12.
        const least = width === 390 ? 11 : 10.5;
        assert.ok(chart.smallest >= least, `${url} at ${width}: ${JSON.stringify(chart)}`);
        assert.equal(chart.overlaps, 0, `${url} at ${width}: ${JSON.stringify(chart)}`);
        assert.deepEqual(chart.outside, [], `${url} at ${width}: ${JSON.stringify(chart)}`);
        assert.match(chart.kind, new RegExp(`\\b${kind}\\b`), `${url} at ${width}`);
      }
    }
    // On paper each chart once, as drawn wide.
    const printed = await evaluateIn<Seen>(url, CHART_TEXT, { width: 718, media: "print" });
    assert.ok(printed.length >= 1);
    assert.ok(printed.every((chart) => /\bwide\b/.test(chart.kind)), JSON.stringify(printed));
  }
});
