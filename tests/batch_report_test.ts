/**
 * `batch show` writes its report while reading the batch a page at a time
 * (`writeBatchReport`); what it writes is, byte for byte, the whole report as
 * `getBatchOperations()` gives it, in every format.
 */
import assert from "node:assert/strict";
import { writeObject, writeRecords } from "../lib/output.ts";
import type { OutputFormat } from "../lib/output.ts";
import { migratedDb, tempDir, textSink } from "./helpers.ts";
import { getBatchOperations, logAuditEvents, openDatabase, writeBatchReport } from "./internals.ts";

/** What `batch show` printed when it held the whole report. */
async function wholeReport(path: string, runId: string, format: OutputFormat): Promise<string> {
  using db = openDatabase(path);
  const report = getBatchOperations(db, runId);
  const sink = textSink();
  if (format === "csv") {
    await writeRecords(sink, [report.events], "csv");
  } else if (format === "table") {
    await writeObject(sink, { ...report }, "table");
    await sink.write("\n");
    await writeRecords(sink, [report.events], "table");
  } else {
    await writeObject(sink, { ...report }, format);
  }
  return sink.text;
}

async function pagedReport(path: string, runId: string, format: OutputFormat): Promise<string> {
  using db = openDatabase(path);
  const sink = textSink();
  await writeBatchReport(sink, db, runId, format);
  return sink.text;
}

Deno.test("writeBatchReport writes what the whole report would, in every format", async () => {
  await using dir = await tempDir();
  const path = await migratedDb(dir.path);
  {
    using db = openDatabase(path);
    // 2,500 events of the batch (three pages), other runs between them, hostile text.
    const details = ["plain", 'a "quoted", comma', "two\nlines", "=1+2", "ÄÖ 漢字 🚚", "\t\\"];
    await logAuditEvents(
      db,
      Array.from({ length: 3000 }, (_, i) => ({
        operation: i % 7 === 0 ? "OTHER" : "COUNTED",
        sku: i % 3 === 0 ? null : `SKU-${i % 40}`,
        details: details[i % details.length],
        user: i % 5 === 0 ? undefined : "ana",
        run_id: i % 6 === 0 ? "run_other" : "run_main",
      })),
    );
  }
  for (const format of ["json", "ndjson", "csv", "table"] as const) {
    for (const runId of ["run_main", "run_other", "run_unknown"]) {
      const paged = await pagedReport(path, runId, format);
      assert.equal(paged, await wholeReport(path, runId, format), `${format} ${runId}`);
    }
  }
  const report = JSON.parse(await pagedReport(path, "run_main", "json"));
  assert.equal(report.event_count, 2500);
  assert.equal(report.events.length, 2500);
});
