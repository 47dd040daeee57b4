/**
 * The viewer's pages as their readers find them: headings that count as people do, a filtered
 * view whose title and heading say what it holds (for bookmarks, history and printouts), a
 * filter that finds nothing saying so and how to go on, and charts a screen reader can use.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startViewer } from "../lib/viewer/server.ts";
import { runJob } from "../lib/viewer/jobs.ts";
import { logAuditEvent, logAuditEvents } from "./internals.ts";
import { logOnEachStatement, openMigrated, recordStatements } from "./fixtures.ts";
import { decodeEntities } from "./browser.ts";
import { runCli, tempDir, textSink } from "./helpers.ts";
import { viewerFixture } from "./viewer_fixture.ts";

async function pages(
  db: string,
  work: (get: (address: string) => Promise<string>) => Promise<void>,
): Promise<void> {
  await using viewer = await startViewer({ database: db, port: 0 });
  await work(async (address) => {
    const response = await fetch(new URL(address, viewer.url));
    assert.equal(response.status, 200, address);
    return await response.text();
  });
}

/** Links in the time chart (the first chart of the page). */
const timeColumns = (page: string) =>
  [.../<svg class="chart wide"[\s\S]*?<\/svg>/.exec(page)![0].matchAll(/<a /g)].length;
const heading = (page: string) => /<h2>([^<]*)<\/h2>/.exec(page)?.[1];
const title = (page: string) => /<title>([^<]*)<\/title>/.exec(page)?.[1];

Deno.test("A filtered event list names its filters in its title and heading, and counts 1 event", async () => {
  await using dir = await tempDir();
  await pages(viewerFixture(dir.path), async (get) => {
    const one = await get("/events?sku=SKU-1002&since=2026-02-16&order=asc");
    assert.equal(title(one), "Events: SKU “SKU-1002”, since 2026-02-16");
    assert.equal(
      /<section><h2>([^<]*)<\/h2>/.exec(one)?.[1],
      "2 events match SKU “SKU-1002”, since 2026-02-16",
    );
    const single = await get("/events?user=j%C3%BCrgen&limit=5");
    assert.equal(title(single), "Events: user “jürgen”");
    assert.match(single, /<section><h2>1 event matches user “jürgen”<\/h2>/);
    const all = await get("/events");
    assert.equal(title(all), "Events");
    // An empty date box shows the form a date takes, not a date one would read as in force.
    assert.match(all, /<input name="since" value="" placeholder="YYYY-MM-DD">/);
    assert.match(all, /<section><h2>12 events<\/h2>/);
  });
});

Deno.test("A filter that finds nothing says so, names the filter and leads back to all events", async () => {
  await using dir = await tempDir();
  await pages(viewerFixture(dir.path), async (get) => {
    const none = await get("/events?sku=SKU-9999&contains=pallet");
    assert.match(
      none,
      /<section><h2>No event matches SKU “SKU-9999”, details containing “pallet”<\/h2>/,
    );
    assert.match(none, /<a href="\/events">show all events<\/a>/);
    // No chart of nothing, no download of nothing, no empty table to filter.
    assert.doesNotMatch(none, /<svg|events\.csv|id="filter"/);
  });
  const empty = join(dir.path, "empty.db");
  assert.equal((await runCli(["migrate", "--db", empty])).code, 0);
  await pages(empty, async (get) => {
    assert.match(await get("/events"), /<h2>The log holds no events yet<\/h2>/);
  });
});

Deno.test("The batch list counts 1 batch, and a batch's page is titled with its run id", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  const [batch] = JSON.parse((await runCli(["batch", "list", "--db", db])).stdout);
  await pages(db, async (get) => {
    const list = await get("/batches");
    assert.match(heading(list)!, /^\d+ batches$/);
    assert.equal(heading(await get("/batches?limit=0")), heading(list));
    assert.equal(
      decodeEntities(title(await get(`/batches/${encodeURIComponent(batch.run_id)}`))!),
      `Batch ${batch.run_id}`,
    );
  });
  const single = join(dir.path, "single.db");
  assert.equal((await runCli(["migrate", "--db", single])).code, 0);
  const started = await runCli(["batch", "start", "Nightly count", "--db", single]);
  assert.equal(started.code, 0, started.stderr);
  await pages(single, async (get) => {
    assert.equal(heading(await get("/batches")), "1 batch");
  });
});

Deno.test("Charts tell a screen reader their figures; charts of links stay a group of named links", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  const file = join(dir.path, "report.html");
  assert.equal((await runCli(["report", "--output", file, "--db", db])).code, 0);
  const report = await Deno.readTextFile(file);
  // Each chart is drawn wide and narrow (one shows, the other is hidden from everyone).
  const labels = [
    ...report.matchAll(/<svg class="[^"]*\bwide" [^>]*role="img" aria-label="([^"]*)"/g),
  ].map((m) => m[1]);
  assert.equal(labels.length, 4);
  assert.match(
    labels[0],
    /^Events per day \(UTC\): 12 events from 2026-02-15 to \d{4}-\d\d-\d\d, the most/,
  );
  assert.match(labels[1], /^Events per operation: .*NOTE 2.*SKU_CREATED 1/);
  assert.match(labels[3], /^Most active users: cron 4, admin 3/);

  await pages(db, async (get) => {
    const overview = await get("/");
    // An image's content is hidden from assistive technology: links inside one are lost.
    assert.doesNotMatch(overview, /<svg class="[^"]*\bwide" [^>]*role="img"/);
    assert.equal([...overview.matchAll(/<svg class="[^"]*\bwide" [^>]*role="group"/g)].length, 4);
    // On a phone the days' columns are a pixel or two wide, without links: an image whose name
    // carries the figures; the bar charts keep their links.
    assert.match(overview, /<svg class="chart narrow" [^>]*role="img" aria-label="Events per day/);
    assert.equal(
      [...overview.matchAll(/<svg class="chart bars narrow" [^>]*role="group"/g)].length,
      3,
    );
    assert.match(overview, /<a href="\/events\?operation=NOTE" aria-label="NOTE: 2 events">/);
    assert.match(overview, /<a href="\/events\?user=eve" aria-label="eve: 1 event">/);
    // A day's column is reached with the mouse or a screen reader, not with Tab: a year of
    // them stood between the keyboard and the table (the date boxes reach the same lists).
    assert.match(
      overview,
      /<a href="\/events\?since=2026-02-15&amp;until=2026-02-15" tabindex="-1" aria-label="2026-02-15: 2 events">/,
    );
    assert.equal([...overview.matchAll(/tabindex/g)].length, timeColumns(overview));
  });
});

Deno.test("Paging through an event list counts its filter's events once, and again once the log changed", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await logAuditEvents(
    db,
    Array.from({ length: 250 }, (_, i) => ({ operation: i % 2 ? "COUNTED" : "MOVED" })),
  );
  using recording = recordStatements(db);
  const { statements } = recording;
  const page = async (filter: { beforeId?: number }) => {
    statements.length = 0;
    const sink = textSink();
    await runJob(
      db,
      {
        kind: "events_page",
        filter: { limit: 100, ...filter },
        params: filter.beforeId ? { before_id: `${filter.beforeId}` } : {},
      },
      sink,
      { source: "app.db", path: db.path },
    );
    const counted = statements.filter((sql) => /count\(/.test(sql)).length;
    // Finding whether the figures are kept reads no whole index either.
    const scans = counted > 0
      ? []
      : statements.flatMap((sql) =>
        db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all()
          .map((row) => String(row.detail)).filter((step) => step.startsWith("SCAN audit_log"))
      );
    assert.deepEqual(scans, []);
    return { heading: /<h2>([^<]*) events?<\/h2>/.exec(sink.text)?.[1], counted };
  };
  const first = await page({});
  assert.deepEqual(first.heading, "250");
  assert.ok(first.counted > 0);
  assert.deepEqual(await page({ beforeId: 151 }), { heading: "250", counted: 0 });
  assert.deepEqual(await page({ beforeId: 51 }), { heading: "250", counted: 0 });
  logAuditEvent(db, { operation: "MOVED" });
  const grown = await page({ beforeId: 51 });
  assert.equal(grown.heading, "251");
  assert.ok(grown.counted > 0);
});

Deno.test("The overview reads one snapshot: an event logged while it reads is in none of its figures", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (let i = 0; i < 5; i++) logAuditEvent(db, { operation: "COUNTED", run_id: "run_a" });
  const sink = textSink();
  {
    using _arrivals = logOnEachStatement(db);
    await runJob(db, { kind: "overview", chain: { last: null, running: false } }, sink, {
      source: "app.db",
      path: db.path,
    });
  }
  const events = Number(/<div>Events<\/div><div class="figure">(\d+)<\/div>/.exec(sink.text)?.[1]);
  assert.ok(events >= 6, "the event logged before the first read is in");
  assert.match(
    sink.text,
    new RegExp(`run_a</a></td>\\s*<td class="num">${events}</td>`),
    "the batch table counts the events the cards count",
  );
});

/** How many events the event table of `page` lists, and how many of them are `operation`. */
function listed(page: string, operation: string): { rows: number; of: number } {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(page)?.[1] ?? "";
  return {
    rows: body.match(/<tr[ >]/g)?.length ?? 0,
    of: body.match(new RegExp(`>${operation}<`, "g"))?.length ?? 0,
  };
}

Deno.test("The event list reads one snapshot: its counts count the events it lists", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (let i = 0; i < 5; i++) logAuditEvent(db, { operation: "COUNTED", run_id: "run_a" });
  const sink = textSink();
  {
    using _arrivals = logOnEachStatement(db);
    await runJob(db, { kind: "events_page", filter: { limit: 100 }, params: {} }, sink, {
      source: "app.db",
      path: db.path,
    });
  }
  const total = Number(/<section><h2>(\d+) events<\/h2>/.exec(sink.text)?.[1]);
  const { rows, of } = listed(sink.text, "ARRIVED");
  assert.ok(rows >= 6, "the event logged before the first read is listed");
  assert.equal(total, rows, "the heading counts the events the list shows");
  assert.match(
    sink.text,
    new RegExp(`>ARRIVED</bdi></a> ${of}</li>`),
    "so does the operation facet",
  );
});

Deno.test("A batch's page reads one snapshot: its event count counts the events it lists", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (let i = 0; i < 5; i++) logAuditEvent(db, { operation: "COUNTED", run_id: "run_a" });
  const sink = textSink();
  {
    using _arrivals = logOnEachStatement(db);
    await runJob(db, { kind: "batch", runId: "run_a", page: true }, sink, {
      source: "app.db",
      path: db.path,
    });
  }
  const events = Number(
    /<div>Events<\/div>\s*<div class="figure">(\d+)<\/div>/.exec(sink.text)?.[1],
  );
  const { rows, of } = listed(sink.text, "ARRIVED");
  assert.ok(rows >= 6, "the event logged before the first read is listed");
  assert.equal(events, rows, "the card counts the events the list shows");
  assert.match(sink.text, new RegExp(`"ARRIVED: ${of} events?"`), "so does the operation chart");
});
