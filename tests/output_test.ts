import assert from "node:assert/strict";
import { csvLine } from "../lib/csv.ts";
import { type OutputFormat, writeObject, writeRecords, writeRows } from "../lib/output.ts";
import type { AuditEvent } from "../mod.ts";
import { textSink } from "./helpers.ts";

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
  const out = textSink();
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

Deno.test("writeRecords() prints NDJSON as one object per line", async () => {
  const { text } = await render([[event(1)], [event(2), event(3)]], "ndjson");
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

Deno.test("writeRecords() prints only the given columns", async () => {
  const summary = { run_id: "run_a", event_count: 2, duration_seconds: 1.5 };
  const out = textSink();
  await writeRecords(out, [[summary]], "csv", ["run_id", "event_count", "duration_seconds"]);
  assert.equal(out.text, "run_id,event_count,duration_seconds\r\nrun_a,2,1.5\r\n");
});

Deno.test("writeObject() prints indented JSON, one NDJSON line, or key  value lines", async () => {
  const value = { run_id: "run_a", event_count: 0, start_time: null, events: [], note: "-\x1b[2J" };
  const json = textSink();
  await writeObject(json, value, "json");
  assert.equal(json.text, JSON.stringify(value, null, 2) + "\n");
  const ndjson = textSink();
  await writeObject(ndjson, value, "ndjson");
  assert.equal(ndjson.text, JSON.stringify(value) + "\n");
  const table = textSink();
  await writeObject(table, value, "table");
  assert.equal(
    table.text,
    "run_id       run_a\nevent_count  0\nstart_time   ∅\nnote         -\\x1b[2J\n",
  );
});

Deno.test("writeRows() writes every format in pieces of about 64 KiB, one write in flight", async () => {
  const pages = Array.from(
    { length: 40 },
    (_, p) =>
      Array.from({ length: 100 }, (_, i) => [10_000 + p * 100 + i, `row, ${i}`, "x".repeat(50)]),
  );
  const columns = ["id", "text", "pad"];
  for (const format of ["csv", "json", "ndjson", "table"] as const) {
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
    assert.equal(await writeRows(slow, pages, format, columns), 4000);
    assert.equal(mostInFlight, 1, format);
    const whole = textSink();
    await writeRows(whole, [pages.flat()], format, columns);
    assert.equal(writes.join(""), whole.text, format);
    assert.ok(writes.length >= 4, `${format}: ${writes.length} writes`);
    for (const text of writes.slice(0, -1)) {
      assert.ok(text.length >= 1 << 16 && text.length < 1 << 17, format);
    }
  }
  const csv = textSink();
  await writeRows(csv, pages, "csv", columns);
  assert.equal(csv.text, [columns, ...pages.flat()].map((row) => csvLine(row) + "\r\n").join(""));
  const empty = textSink();
  assert.equal(await writeRows(empty, [[], []], "csv", ["a", "b"]), 0);
  assert.equal(empty.text, "a,b\r\n");
});

Deno.test("writeRows() reports the read error once the write in flight has failed or finished", async () => {
  const page = Array.from({ length: 2000 }, (_, i) => [i, "t", "op", "sku", "d".repeat(40)]);
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
  await assert.rejects(writeRows(refusing, failing(), "csv"), /disk I\/O/);
  await assert.rejects(writeRows(refusing, [page, page], "csv"), Deno.errors.BrokenPipe);
});
