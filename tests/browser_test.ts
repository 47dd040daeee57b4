/**
 * The report and the viewer in a real browser (Debian's headless Chromium): what a person
 * sees once the page's script ran, that injected markup stays text, and that the console
 * reports no Content-Security-Policy violation (with a control that such a violation is seen).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startViewer } from "../lib/viewer/server.ts";
import { cspViolations, decodeEntities, dumpDom, type PageDump, tableRows } from "./browser.ts";
import { runCli, tempDir } from "./helpers.ts";
import { viewerFixture, XSS_DETAILS } from "./viewer_fixture.ts";

/** Nothing of the hostile details ran or became markup. */
function assertInert(dump: PageDump) {
  assert.doesNotMatch(dump.dom, /<img[^>]*src="x"/, "the <img> stayed text");
  assert.doesNotMatch(dump.dom, /data-pwned|<title>pwned<\/title>/, "its handler never ran");
  assert.ok(
    dump.dom.includes(
      `&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img src=x onerror="document.body.dataset.pwned=1"&gt;`,
    ),
    "the details show as the text they are",
  );
}

Deno.test("The report opened from file:// shows its charts and table, and filters as one types", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  const file = join(dir.path, "report.html");
  const made = await runCli(["report", "--output", file, "--db", db]);
  assert.equal(made.code, 0, made.stderr);
  const url = new URL(`file://${file}`);

  const page = await dumpDom(url.href);
  assert.deepEqual(cspViolations(page), []);
  const rows = tableRows(page.dom);
  assert.equal(rows.length, 12);
  assert.ok(rows.every((row) => !row.hidden));
  assert.deepEqual(rows[0].cells.slice(0, 1), ["12"]);
  assert.match(
    page.dom,
    /<span id="shown" class="note" role="status">12 events<\/span>/,
    "its script ran",
  );
  assert.ok((page.dom.match(/<rect class="bar"/g) ?? []).length >= 3 + 7 + 3, "charts drawn");
  assert.match(page.dom, /<h2>Events per day \(UTC\)<\/h2><svg class="chart wide"/);
  assertInert(page);

  // `#filter=` fills the box as typing would: every word must be in a row.
  const filtered = await dumpDom(`${url.href}#filter=${encodeURIComponent("note MÜNCHEN")}`);
  assert.deepEqual(cspViolations(filtered), []);
  const shown = tableRows(filtered.dom).filter((row) => !row.hidden);
  assert.deepEqual(shown.map((row) => row.cells[2]), ["NOTE"]);
  assert.equal(shown[0].cells[6], "Grüße aus München, ÄÖÜ");
  assert.match(filtered.dom, /1 of 12 events shown, filtered by “note MÜNCHEN”/);
});

Deno.test("A script the report's policy does not allow is blocked, and the console says so", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  const file = join(dir.path, "report.html");
  assert.equal((await runCli(["report", "--output", file, "--db", db])).code, 0);
  const page = await Deno.readTextFile(file);
  await Deno.writeTextFile(
    file,
    page.replace("</body>", `<script>document.title = "injected"</script></body>`),
  );
  const dump = await dumpDom(new URL(`file://${file}`).href);
  assert.equal(cspViolations(dump).length, 1, dump.console.join("\n"));
  assert.match(cspViolations(dump)[0], /Executing inline script violates/);
  assert.doesNotMatch(dump.dom, /<title>injected<\/title>/);
});

Deno.test("The viewer filtered by its address shows the rows query prints, with no policy violation", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  await using viewer = await startViewer({ database: db, port: 0 });
  const ids = async (...flags: string[]) =>
    JSON.parse((await runCli(["query", ...flags, "--db", db])).stdout)
      .map((e: { audit_id: number }) => String(e.audit_id));

  const notes = await dumpDom(`${viewer.url}events?operation=NOTE&limit=10`);
  assert.deepEqual(cspViolations(notes), []);
  assert.deepEqual(
    tableRows(notes.dom).map((row) => row.cells[0]),
    await ids("--operation", "NOTE", "--limit", "10"),
  );
  assertInert(notes);
  assert.match(
    notes.dom,
    /<span id="shown" class="note" role="status">2 events<\/span>/,
    "app.js ran",
  );

  const legacy = await dumpDom(
    `${viewer.url}events?since=2026-02-16&until=2026-02-16&order=asc#filter=admin`,
  );
  assert.deepEqual(cspViolations(legacy), []);
  const rows = tableRows(legacy.dom);
  assert.deepEqual(
    rows.map((row) => row.cells[0]),
    await ids("--since", "2026-02-16", "--until", "2026-02-16", "--order", "asc"),
  );
  assert.deepEqual(rows.filter((row) => !row.hidden).map((row) => row.cells[4]), ["admin"]);

  for (const address of ["", "batches", `batches/${encodeURIComponent("a<b>&c/%d'e")}`, "verify"]) {
    const page = await dumpDom(`${viewer.url}${address}`);
    assert.deepEqual(cspViolations(page), [], address);
    assert.match(page.dom, /<header class="top"><h1>/, address);
  }
});

Deno.test("XSS_DETAILS would run if a page put it in unescaped (the browser tests can fail)", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "unsafe.html");
  await Deno.writeTextFile(file, `<!DOCTYPE html><html><body><p>${XSS_DETAILS}</p></body></html>`);
  const dump = await dumpDom(new URL(`file://${file}`).href);
  assert.throws(() => assertInert(dump));
  assert.match(dump.dom, /data-pwned="1"/);
});

Deno.test("A SKU, user or run id as long as allowed, with no space, leaves the details on the page", async () => {
  await using dir = await tempDir();
  const db = join(dir.path, "app.db");
  assert.equal((await runCli(["migrate", "--db", db])).code, 0);
  const logged = await runCli([
    "log",
    "COUNTED",
    "--sku",
    "S".repeat(256),
    "--user",
    "u".repeat(256),
    "--run-id",
    "r".repeat(128),
    "--details",
    "Counted 5 units at bin A-1",
    "--db",
    db,
  ]);
  assert.equal(logged.code, 0, logged.stderr);
  assert.equal((await runCli(["log", "COUNTED", "--sku", "SKU-1", "--db", db])).code, 0);
  const file = join(dir.path, "report.html");
  assert.equal((await runCli(["report", "--output", file, "--db", db])).code, 0);
  // The page as made, with a script of the test's own that measures where the cells went.
  const measuring = join(dir.path, "measured.html");
  await Deno.writeTextFile(
    measuring,
    (await Deno.readTextFile(file))
      .replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, "")
      .replace(
        "</body>",
        `<script>
          var rows = document.querySelector("table.filterable").tBodies[0].rows;
          var box = function (cell) { return cell.getBoundingClientRect(); };
          document.body.dataset.measured = JSON.stringify({
            page: document.documentElement.clientWidth,
            details: Math.round(box(rows[1].cells[6]).right),
            operation: Math.round(box(rows[0].cells[2]).height),
            time: Math.round(box(rows[0].cells[1]).height),
          });
        </script></body>`,
      ),
  );
  const dump = await dumpDom(new URL(`file://${measuring}`).href, 3000, {
    width: 1280,
    height: 900,
  });
  const measured = JSON.parse(decodeEntities(/data-measured="([^"]*)"/.exec(dump.dom)![1]));
  assert.ok(
    measured.details <= measured.page,
    `details end at ${measured.details} of ${measured.page} px`,
  );
  assert.equal(measured.operation, measured.time, "short values keep to one line");
});
