import assert from "node:assert/strict";
import { rowsToCsv } from "../lib/csv.ts";
import {
  type OutputFormat,
  writeCsvRows,
  writeJoinedCsvRows,
  writeObject,
  writeRecords,
} from "../lib/output.ts";
import type { AuditEvent } from "../mod.ts";

function sink() {
  const parts: string[] = [];
  return {
    parts,
    get text() {
      return parts.join("");
    },
    write(text: string) {
      parts.push(text);
      return Promise.resolve();
    },
  };
}

function event(id: number, fields: Partial<AuditEvent> = {}): AuditEvent {
  return {
    audit_id: id,
    timestamp: `2026-02-16T10:00:0${id % 10}.000Z`,
    operation: "ORDER_CONFIRMED",
    sku: `SKU-${id}`,
    details: `Order ORD-${id}`,
    user: "ana",
    run_id: null,
    ...fields,
  };
}

async function render(pages: AuditEvent[][], format: OutputFormat, columns?: string[]) {
  const out = sink();
  const count = await writeRecords(out, pages, format, columns);
  return { text: out.text, count, writes: out.parts.length };
}

Deno.test("writeRecords() prints [] for no records as JSON, and nothing as NDJSON", async () => {
  assert.deepEqual(await render([], "json"), { text: "[]\n", count: 0, writes: 1 });
  assert.deepEqual(await render([[], []], "json"), { text: "[]\n", count: 0, writes: 1 });
  assert.deepEqual(await render([], "ndjson"), { text: "", count: 0, writes: 0 });
});

Deno.test("writeRecords() prints one JSON array across pages, a record per line", async () => {
  const { text, count } = await render([[event(1), event(2)], [], [event(3)]], "json");
  assert.equal(count, 3);
  assert.deepEqual(JSON.parse(text), [event(1), event(2), event(3)]);
  assert.equal(text, `[\n${[1, 2, 3].map((i) => JSON.stringify(event(i))).join(",\n")}\n]\n`);
});

Deno.test("writeRecords() prints NDJSON as one object per line, page by page", async () => {
  const { text, writes } = await render([[event(1)], [event(2), event(3)]], "ndjson");
  assert.equal(writes, 2);
  assert.deepEqual(text.split("\n"), [
    JSON.stringify(event(1)),
    JSON.stringify(event(2)),
    JSON.stringify(event(3)),
    "",
  ]);
});

Deno.test("writeRecords() prints CSV with one header row, RFC 4180 quoting and empty NULLs", async () => {
  const multiline = await render([[event(1, { details: "two\nlines", sku: "a\rb" })]], "csv");
  assert.equal(
    multiline.text.split("\r\n")[1],
    '1,2026-02-16T10:00:01.000Z,ORDER_CONFIRMED,"a\rb","two\nlines",ana,',
  );
  const { text } = await render(
    [[event(1, { details: 'said "hi", left\nagain' })], [event(2, { sku: null, run_id: "r" })]],
    "csv",
  );
  assert.equal(
    text,
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n" +
      '1,2026-02-16T10:00:01.000Z,ORDER_CONFIRMED,SKU-1,"said ""hi"", left\nagain",ana,\r\n' +
      "2,2026-02-16T10:00:02.000Z,ORDER_CONFIRMED,,Order ORD-2,ana,r\r\n",
  );
  assert.equal(
    (await render([], "csv")).text,
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n",
  );
  assert.ok(!text.startsWith("\ufeff"));
});

Deno.test("writeRecords() neutralises CSV cells a spreadsheet would run as a formula", async () => {
  const risky = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "\nx"];
  const { text } = await render([risky.map((details, i) => event(i + 1, { details }))], "csv");
  const cells = ["'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd", "'\tx", '"\'\rx"', '"\'\nx"'];
  assert.equal(
    text,
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n" +
      cells.map((cell, i) =>
        `${i + 1},2026-02-16T10:00:0${i + 1}.000Z,ORDER_CONFIRMED,SKU-${i + 1},${cell},ana,\r\n`
      ).join(""),
  );
  const plain = await render([[event(1, { details: "a=b", operation: "-" })]], "csv");
  assert.match(plain.text, /^1,2026-02-16T10:00:01\.000Z,'-,SKU-1,a=b,ana,\r\n$/m);
});

Deno.test("writeRecords() prints a table for people, with - for NULL and visible control characters", async () => {
  const { text } = await render(
    [[event(1, { details: "line one\nline two\x07", run_id: "run_a" }), event(22, { sku: null })]],
    "table",
  );
  assert.equal(
    text,
    [
      "audit_id  timestamp                 operation        sku    details             user  run_id",
      "1         2026-02-16T10:00:01.000Z  ORDER_CONFIRMED  SKU-1  line one⏎line two�  ana   run_a",
      "22        2026-02-16T10:00:02.000Z  ORDER_CONFIRMED  -      Order ORD-22        ana   -",
      "",
    ].join("\n"),
  );
  assert.equal((await render([], "table")).text, "(nothing found)\n");
  const long = (await render([[event(1, { details: "x".repeat(100) })]], "table")).text;
  assert.ok(long.includes("x".repeat(59) + "…") && !long.includes("x".repeat(60)));
});

Deno.test("writeRecords() prints only the given columns", async () => {
  const summary = { run_id: "run_a", event_count: 2, duration_seconds: 1.5 };
  const out = sink();
  await writeRecords(out, [[summary]], "csv", ["run_id", "event_count", "duration_seconds"]);
  assert.equal(out.text, "run_id,event_count,duration_seconds\r\nrun_a,2,1.5\r\n");
});

Deno.test("writeObject() prints indented JSON, one NDJSON line, or key: value lines", async () => {
  const value = { run_id: "run_a", event_count: 0, start_time: null, events: [] };
  const json = sink();
  await writeObject(json, value, "json");
  assert.equal(json.text, JSON.stringify(value, null, 2) + "\n");
  const ndjson = sink();
  await writeObject(ndjson, value, "ndjson");
  assert.equal(ndjson.text, '{"run_id":"run_a","event_count":0,"start_time":null,"events":[]}\n');
  const table = sink();
  await writeObject(table, value, "table");
  assert.equal(table.text, "run_id       run_a\nevent_count  0\nstart_time   -\n");
});

Deno.test("writeCsvRows() writes the header alone for no rows, and an export in pieces of about 64 KiB, one at a time", async () => {
  const empty = sink();
  assert.equal(await writeCsvRows(empty, [[], []], ["a", "b"]), 0);
  assert.equal(empty.text, "a,b\r\n");

  const writes: string[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const slow = {
    async write(text: string) {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      writes.push(text);
      inFlight--;
    },
  };
  const pages = Array.from(
    { length: 40 },
    (_, p) => Array.from({ length: 100 }, (_, i) => [p * 100 + i, `row, ${i}`, "x".repeat(50)]),
  );
  assert.equal(await writeCsvRows(slow, pages, ["id", "text", "pad"]), 4000);
  assert.equal(mostInFlight, 1);
  assert.equal(writes.join(""), await rowsToCsv(pages.flat(), ["id", "text", "pad"]));
  assert.ok(writes.length >= 4, `${writes.length} writes`);
  for (const text of writes.slice(0, -1)) {
    assert.ok(text.length >= 1 << 16 && text.length < 1 << 17);
  }
});

Deno.test("writeJoinedCsvRows() reports the read error once the write in flight has failed or finished", async () => {
  const page = Array.from(
    { length: 2000 },
    (_, i): [number, string] => [i, `${i},t,op,sku,${"d".repeat(40)},u,r`],
  );
  function* failing() {
    yield page;
    throw new Error("disk I/O error");
  }
  const refusing = {
    write: () =>
      new Promise<void>((_, reject) =>
        setTimeout(() => reject(new Deno.errors.BrokenPipe("closed")), 5)
      ),
  };
  await assert.rejects(writeJoinedCsvRows(refusing, failing(), () => undefined), /disk I\/O/);
  await assert.rejects(
    writeJoinedCsvRows(refusing, [page, page], () => undefined),
    Deno.errors.BrokenPipe,
  );
});
