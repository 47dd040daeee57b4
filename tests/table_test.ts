import assert from "node:assert/strict";
import { join } from "node:path";
import { writeObject, writeRecords, writeRows } from "../lib/output.ts";
import { showCell } from "../lib/table.ts";
import { EVENT_COLUMNS } from "../lib/event_row.ts";
import { type AuditEvent, logAuditEvents } from "../mod.ts";
import { openMigrated } from "./fixtures.ts";
import { runCli, tempDir, testIo, textSink } from "./helpers.ts";

function event(id: number, fields: Partial<AuditEvent> = {}): AuditEvent {
  return {
    audit_id: id,
    timestamp: "2026-02-16T10:00:00.000Z",
    operation: "COUNTED",
    sku: `SKU-${id}`,
    details: `count ${id}`,
    user: "ana",
    run_id: null,
    ...fields,
  };
}

async function table(events: AuditEvent[], columns?: string[]): Promise<string[]> {
  const out = textSink();
  await writeRecords(out, [events], "table", columns);
  return out.text.split("\n");
}

const T = "2026-02-16T10:00:00.000Z";

Deno.test("table: a NULL shows as ∅, distinct from a literal - and from a literal ∅", async () => {
  const lines = await table([
    event(1, { sku: null }),
    event(2, { sku: "-" }),
    event(3, { sku: "∅", run_id: "run_a" }),
  ]);
  assert.deepEqual(lines, [
    "audit_id  timestamp                 operation  sku     details  user  run_id",
    `1         ${T}  COUNTED    ∅       count 1  ana   ∅`,
    `2         ${T}  COUNTED    -       count 2  ana   ∅`,
    `3         ${T}  COUNTED    \\u2205  count 3  ana   run_a`,
    "",
  ]);
});

Deno.test("table: controls, ESC and bidi overrides never reach the terminal raw", async () => {
  const hostile = "a\x1b[2J\x07b\r\n\tc\x9b31m\u202eevil\u2066\u2028\x7f\ufeff";
  const [, line] = await table([event(1, { details: hostile, sku: "S\x1b]0;x\x07" })]);
  assert.equal(
    line,
    `1         ${T}  COUNTED    S\\x1b]0;x\\x07  a\\x1b[2J\\x07b\\r\\n\\tc\\x9b31m\\u202Eevil\\u2066\\u2028\\x7f\\uFEFF  ana   ∅`,
  );
  // Nothing below U+0020, DEL, C1, or a bidi control is left in any line.
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
});

Deno.test("table: ids are never cut; free text is cut at 60 columns with a visible mark", async () => {
  const runId = "run_" + "x".repeat(124);
  const sku = "SKU-" + "9".repeat(96);
  const operation = "OP_" + "Y".repeat(97);
  const details = "d".repeat(100);
  const [header, line] = await table([
    event(123456789, { run_id: runId, sku, operation, details }),
  ]);
  assert.equal(
    line,
    `123456789  ${T}  ${operation}  ${sku}  ${"d".repeat(59)}…  ana   ${runId}`,
  );
  assert.ok(header.startsWith("audit_id   timestamp"));
});

Deno.test("table: a cut never splits a character: emoji, joined emoji, flags and accents stay whole", async () => {
  const cases: [string, string][] = [
    ["😀".repeat(40), "😀".repeat(29) + "…"],
    ["👩‍👩‍👧".repeat(40), "👩‍👩‍👧".repeat(29) + "…"],
    ["🇩🇪".repeat(40), "🇩🇪".repeat(29) + "…"],
    ["e\u0301".repeat(70), "e\u0301".repeat(59) + "…"],
    ["中".repeat(40), "中".repeat(29) + "…"],
    ["a" + "中".repeat(40), "a" + "中".repeat(29) + "…"],
  ];
  for (const [details, shown] of cases) {
    const [, line] = await table([event(1, { details })], ["audit_id", "details"]);
    assert.equal(line, `1         ${shown}`, details.slice(0, 4));
    assert.ok(line.isWellFormed() && !line.includes("\ufffd"));
  }
});

Deno.test("table: wide (CJK) characters and emoji keep the columns after them aligned", async () => {
  const lines = await table([
    event(1, { details: "在庫数を確認", user: "佐藤" }),
    event(2, { details: "abc", user: "ana" }),
    event(3, { details: "ok 👍", user: "bo" }),
  ], ["audit_id", "details", "user", "run_id"]);
  assert.deepEqual(lines, [
    "audit_id  details       user  run_id",
    "1         在庫数を確認  佐藤  ∅",
    "2         abc           ana   ∅",
    "3         ok 👍         bo    ∅",
    "",
  ]);
});

Deno.test("table: column widths come from the first 1,000 rows, and a later wider id is printed whole", async () => {
  const events = Array.from({ length: 2000 }, (_, i) => event(i + 1, { run_id: "run_a" }));
  events[1500].run_id = "run_much_longer_than_any_before";
  events[1500].sku = "SKU-WIDER-THAN-THE-SAMPLE";
  const lines = await table(events, ["sku", "run_id", "user"]);
  assert.equal(lines[0], "sku       run_id  user");
  assert.equal(lines[1], "SKU-1     run_a   ana");
  assert.equal(lines[1501], "SKU-WIDER-THAN-THE-SAMPLE  run_much_longer_than_any_before  ana");
});

Deno.test("table: a page of 200,000 rows prints without spreading it into arguments", async () => {
  const events = Array.from({ length: 200_000 }, (_, i) => event(i + 1));
  const out = textSink();
  assert.equal(await writeRecords(out, [events], "table"), 200_000);
  assert.equal(out.text.split("\n").length, 200_002);
});

Deno.test("CLI batch show --format table prints a batch of 130,001 events", async () => {
  await using dir = await tempDir();
  {
    using db = openMigrated(dir.path);
    const events = Array.from({ length: 130_001 }, (_, i) => ({
      operation: "COUNTED",
      sku: `SKU-${i % 500}`,
      details: `bin ${i}`,
    }));
    await logAuditEvents(db, events, { run_id: "run_big", user: "ana" });
  }
  const path = join(dir.path, "app.db");
  const result = await runCli(["batch", "show", "run_big", "--format", "table", "--db", path]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  const lines = result.stdout.split("\n");
  assert.equal(lines[0], "run_id            run_big");
  assert.equal(lines[1], "event_count       130001");
  // Columns are sized from the first 1,000 events; a wider cell later is printed whole.
  const header = lines.indexOf(
    "audit_id  timestamp                 operation  sku      details  user  run_id",
  );
  assert.ok(header > 0, lines.slice(0, 10).join("\n"));
  assert.equal(lines.length - header - 2, 130_001);
  assert.match(
    lines.at(-2)!,
    /^130001 {4}\S+Z {2}COUNTED {4}SKU-0 {4}bin 130000 {2}ana {3}run_big$/,
  );
});

Deno.test("CLI tables: a 128-character run id from batch list can be copied into batch show", async () => {
  await using dir = await tempDir();
  const runId = "run_" + "0123456789abcdef".repeat(8).slice(0, 124);
  {
    using db = openMigrated(dir.path);
    await logAuditEvents(db, [{ operation: "BATCH_START" }, { operation: "COUNTED" }], {
      run_id: runId,
    });
  }
  const path = join(dir.path, "app.db");
  const list = await runCli(["batch", "list", "--format", "table", "--db", path]);
  assert.equal(list.code, 0, list.stderr);
  const shown = list.stdout.split("\n")[1].split("  ")[0];
  assert.equal(shown, runId);
  const show = await runCli(["batch", "show", shown, "--format", "table", "--db", path]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^event_count +2$/m);
});

Deno.test("CLI query --format table shows hostile text escaped, cut whole and aligned", async () => {
  await using dir = await tempDir();
  {
    using db = openMigrated(dir.path);
    await logAuditEvents(db, [
      { operation: "NOTE", sku: "-", details: "😀".repeat(40), user: "ana" },
      { operation: "NOTE", details: "\x1b[2J\x1b]0;owned\x07\u202egnp.exe", user: "佐藤" },
    ]);
  }
  const path = join(dir.path, "app.db");
  const result = await runCli(["query", "--format", "table", "--db", path]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split("\n").map((line) => line.replace(/\d{4}-\S+Z/, "T"));
  assert.deepEqual(lines, [
    `audit_id  timestamp                 operation  sku  details${" ".repeat(54)}user  run_id`,
    `2         T  NOTE       ∅    \\x1b[2J\\x1b]0;owned\\x07\\u202Egnp.exe${" ".repeat(25)}佐藤  ∅`,
    `1         T  NOTE       -    ${"😀".repeat(29)}…  ana   ∅`,
    "",
  ]);
});

Deno.test("writeObject() table: values shown as table cells, never cut", async () => {
  const out = textSink();
  await writeObject(
    out,
    { run_id: "run_\u202eevil", start_time: null, note: "x".repeat(80) },
    "table",
  );
  assert.equal(
    out.text,
    `run_id      run_\\u202Eevil\nstart_time  ∅\nnote        ${"x".repeat(80)}\n`,
  );
});

Deno.test("showCell() measures and cuts by terminal columns", () => {
  assert.deepEqual(showCell(42), { text: "42", width: 2 });
  assert.deepEqual(showCell(""), { text: "", width: 0 });
  assert.deepEqual(showCell("abcdef", 4), { text: "abc…", width: 4 });
  assert.deepEqual(showCell("中文字", 4), { text: "中…", width: 3 });
  assert.deepEqual(showCell("\ud83d"), { text: "\\uD83D", width: 6 });
  assert.deepEqual(showCell("ﾊﾝｶｸ"), { text: "ﾊﾝｶｸ", width: 4 });
  assert.deepEqual(showCell("ＡＢ"), { text: "ＡＢ", width: 4 });
});

Deno.test("table: on a terminal too narrow for a line, details are cut shorter (to 10 columns at least) so lines do not wrap", async () => {
  const details =
    "Order ORD-1: 5 units of the blue widgets for the customer in Rotterdam, by truck";
  const rows = [[1, T, "ORDER_CONFIRMED", "SKU-1001", details, "clerk01", "run_x"]];
  const lines = async (width?: number) => {
    const out = textSink();
    await writeRows(out, [rows], "table", undefined, { width });
    return out.text.trimEnd().split("\n").map((line) => showCell(line));
  };
  // Without a width: details cut at 60 columns, the header 140 columns wide.
  assert.deepEqual((await lines()).map((l) => l.width), [140, 139]);
  for (const width of [200, 140]) assert.deepEqual(await lines(width), await lines());
  const fitted = await lines(100);
  assert.deepEqual(fitted.map((l) => l.width), [100, 99]);
  assert.match(fitted[1].text, / {2}Order ORD-1: 5 unit… {2}clerk01 {2}run_x$/);
  // Ids, times and names are never cut: where 10 columns of details do not make a row fit,
  // each row is a block of `column  value` lines, a blank line between blocks.
  const out = textSink();
  await writeRows(
    out,
    [[...rows, [2, T, "PICKED", null, "short", "clerk02", "run_x"]]],
    "table",
    EVENT_COLUMNS,
    { width: 40 },
  );
  assert.equal(
    out.text,
    [
      "audit_id   1",
      "timestamp  2026-02-16T10:00:00.000Z",
      "operation  ORDER_CONFIRMED",
      "sku        SKU-1001",
      "details    Order ORD-1: 5 units of the …",
      "user       clerk01",
      "run_id     run_x",
      "",
      "audit_id   2",
      "timestamp  2026-02-16T10:00:00.000Z",
      "operation  PICKED",
      "sku        ∅",
      "details    short",
      "user       clerk02",
      "run_id     run_x",
      "",
    ].join("\n"),
  );
  assert.ok(out.text.split("\n").every((line) => showCell(line).width <= 40));
});

Deno.test("CLI query and batch show as a table fit the terminal's width", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await logAuditEvents(
    db,
    [1, 2, 3].map((i) => ({
      operation: "ORDER_CONFIRMED",
      sku: `SKU-100${i}`,
      user: `clerk0${i}`,
      run_id: "run_20260216_101500_0a1b2c3d",
      details: `Order ORD-${i}: 5 units of the blue widgets for the customer in Rotterdam`,
    })),
  );
  const { main } = await import("../cli.ts");
  for (const args of [["query"], ["batch", "show", "run_20260216_101500_0a1b2c3d"]]) {
    const { io, out } = testIo();
    io.stdout.isTerminal = true;
    io.terminalColumns = () => 120;
    assert.equal(await main([...args, "--db", db.path], io), 0, out.stderr);
    const table = out.stdout.trimEnd().split("\n").slice(args[0] === "query" ? 0 : 6);
    assert.equal(table.length, 4, out.stdout);
    assert.ok(showCell(table[0]).width <= 120, table[0]);
    for (const line of table.slice(1)) assert.equal(showCell(line).width, 120, line);
    assert.match(table[1], / {2}Order ORD-\d: 5 un… {2}clerk0\d {2}run_20260216_101500_0a1b2c3d$/);
    // An 80-column console cannot hold the row: one block of lines per event.
    const narrow = testIo();
    narrow.io.stdout.isTerminal = true;
    narrow.io.terminalColumns = () => 80;
    assert.equal(await main([...args, "--db", db.path], narrow.io), 0, narrow.out.stderr);
    const lines = narrow.out.stdout.trimEnd().split("\n");
    assert.ok(lines.every((line) => showCell(line).width <= 80), narrow.out.stdout);
    assert.equal(
      lines.filter((line) => /^audit_id {3}\d$/.test(line)).length,
      3,
      narrow.out.stdout,
    );
    assert.ok(lines.includes("run_id     run_20260216_101500_0a1b2c3d"), narrow.out.stdout);
  }
});
