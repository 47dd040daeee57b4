import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AuditDatabase,
  type AuditLogFilter,
  getAuditLog,
  getStats,
  listBatches,
  logAuditEvent,
  logAuditEvents,
  migrate,
  openDatabase,
  parseTimeBound,
  PAST_LAST_MS,
  type StatsOptions,
  streamAuditLog,
  UsageError,
  writeReport,
  type WriteReportOptions,
} from "./internals.ts";
import { writeQuery } from "../lib/query.ts";
import { bytesRead, runCli, runMain, tempDir, textSink } from "./helpers.ts";
import {
  createLog,
  insertRaw,
  ISO_TIMESTAMP,
  openMigrated,
  openToCountReads,
  recordStatements,
  writeLegacyDatabase,
} from "./fixtures.ts";

const ids = (db: AuditDatabase, filter: AuditLogFilter = {}) =>
  getAuditLog(db, filter).map((e) => e.audit_id);

/**
 * An adopted inventory database (ids 1-6, `YYYY-MM-DD HH:MM:SS`) followed by events in the
 * ISO form (ids 7-10), some of them older than legacy rows before them.
 */
function mixedDatabase(dir: string): AuditDatabase {
  const path = join(dir, "app.db");
  writeLegacyDatabase(path);
  const db = openDatabase(path);
  migrate(db);
  insertRaw(db, "2026-02-16T23:59:59.500Z", "ORDER_CONFIRMED", {
    sku: "SKU-1002",
    details: "Order ORD-3: Ä-Ware",
    user: "ana",
    run_id: "run_mixed",
  });
  insertRaw(db, "2026-02-15T12:00:00.000Z", "STOCK_ADJUSTED", {
    sku: "SKU-1001",
    details: "late sync",
    run_id: "run_mixed",
  });
  insertRaw(db, "2026-02-17T00:00:00.001Z", "SKU_UPDATED", { sku: "SKU-1003" });
  insertRaw(db, "2026-02-16T14:30:00.000Z", "STOCK_COUNT", { details: "aisle 4" });
  return db;
}

/** 25 events: SKU-1..SKU-5 in turn, operations A/B alternating, users ana/ben, two runs. */
function filledDatabase(dir: string): AuditDatabase {
  const db = openMigrated(dir);
  for (let i = 1; i <= 25; i++) {
    logAuditEvent(db, {
      operation: i % 2 ? "ORDER_CONFIRMED" : "STOCK_ADJUSTED",
      sku: `SKU-${(i - 1) % 5 + 1}`,
      details: `event ${i}`,
      user: i <= 10 ? "ana" : "ben",
      run_id: i <= 5 ? "run_one" : i <= 8 ? "run_two" : null,
    });
  }
  return db;
}

Deno.test("getAuditLog() returns every event newest first, with exactly the seven fields", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  const events = getAuditLog(db);
  assert.deepEqual(events.map((e) => e.audit_id), Array.from({ length: 25 }, (_, i) => 25 - i));
  for (const event of events) {
    assert.deepEqual(
      Object.keys(event),
      ["audit_id", "timestamp", "operation", "sku", "details", "user", "run_id"],
    );
    assert.match(event.timestamp, ISO_TIMESTAMP);
  }
  assert.deepEqual(ids(db, { order: "asc" }), Array.from({ length: 25 }, (_, i) => i + 1));
});

Deno.test("getAuditLog() filters by SKU, operation, run id and user, combined with AND", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  assert.deepEqual(ids(db, { sku: "SKU-2" }), [22, 17, 12, 7, 2]);
  assert.deepEqual(ids(db, { operation: "STOCK_ADJUSTED", limit: 3 }), [24, 22, 20]);
  assert.equal(ids(db, { operation: "ORDER_CONFIRMED" }).length, 13);
  assert.deepEqual(ids(db, { runId: "run_one" }), [5, 4, 3, 2, 1]);
  assert.deepEqual(ids(db, { runId: "run_two" }), [8, 7, 6]);
  assert.deepEqual(ids(db, { user: "ana", sku: "SKU-1" }), [6, 1]);
  assert.deepEqual(ids(db, { runId: "run_one", operation: "STOCK_ADJUSTED" }), [4, 2]);
  assert.deepEqual(ids(db, { sku: "SKU-404" }), []);
  assert.deepEqual(ids(db, { runId: "run_none" }), []);
  const [event] = getAuditLog(db, { sku: "SKU-3", limit: 1 });
  assert.deepEqual({ ...event, timestamp: "" }, {
    audit_id: 23,
    timestamp: "",
    operation: "ORDER_CONFIRMED",
    sku: "SKU-3",
    details: "event 23",
    user: "ben",
    run_id: null,
  });
});

Deno.test("a misspelt filter, stats, report or batch list option is refused, not ignored", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  // Built at run time (as from JSON), where TypeScript cannot see the misspelling: ignored,
  // it would have answered with every event.
  const misspelt = JSON.parse('{"skus": "SKU-2"}') as AuditLogFilter;
  assert.throws(() => getAuditLog(db, misspelt), (error) =>
    error instanceof UsageError &&
    error.message === 'Unknown query filter "skus" (known: sku, operation, runId, user, ' +
        "since, until, contains, afterId, beforeId, limit, offset, order)");
  assert.throws(() => [...streamAuditLog(db, { run_id: "run_one" } as AuditLogFilter)], {
    message: /^Unknown query filter "run_id"/,
  });
  assert.throws(() => getStats(db, { from: "2026-01-01" } as StatsOptions), {
    message: /^Unknown stats option "from" \(known: since, until, top\)$/,
  });
  assert.throws(() => listBatches(db, { limt: 5 } as { limit?: number }), {
    message: /^Unknown batch list option "limt"/,
  });
  await assert.rejects(
    () => writeReport(db, textSink(), { sinse: "2026-01-01" } as WriteReportOptions),
    { message: /^Unknown report option "sinse"/ },
  );
  // A key left undefined is as good as absent.
  assert.deepEqual(ids(db, { sku: "SKU-2", operation: undefined }), [22, 17, 12, 7, 2]);
});

Deno.test("getAuditLog() pages with limit and offset", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  assert.deepEqual(ids(db, { limit: 10 }), [25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
  assert.deepEqual(ids(db, { limit: 10, offset: 10 }), [15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
  assert.deepEqual(ids(db, { limit: 10, offset: 20 }), [5, 4, 3, 2, 1]);
  assert.deepEqual(ids(db, { limit: 10, offset: 30 }), []);
  assert.deepEqual(ids(db, { limit: 3, offset: 2, order: "asc" }), [3, 4, 5]);
  assert.deepEqual(ids(db, { limit: 2, offset: 1, sku: "SKU-5" }), [20, 15]);
});

Deno.test("getAuditLog() pages with --before-id and --after-id cursors that stay put as events arrive", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  const first = ids(db, { limit: 10 });
  const cursor = first[first.length - 1];
  logAuditEvent(db, { operation: "NEW_WHILE_PAGING" });
  assert.deepEqual(ids(db, { beforeId: cursor, limit: 10 }), [15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
  assert.deepEqual(ids(db, { beforeId: 6, limit: 10 }), [5, 4, 3, 2, 1]);
  assert.deepEqual(ids(db, { afterId: 20, order: "asc" }), [21, 22, 23, 24, 25, 26]);
  assert.deepEqual(ids(db, { afterId: 20, limit: 2 }), [26, 25]);
  assert.deepEqual(ids(db, { afterId: 3, beforeId: 7 }), [6, 5, 4]);
  assert.deepEqual(ids(db, { afterId: 5, beforeId: 6 }), []);
  assert.deepEqual(ids(db, { beforeId: 10, sku: "SKU-1" }), [6, 1]);
});

Deno.test("getAuditLog() returns 100 events by default and all of them with limit 0", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await logAuditEvents(db, Array.from({ length: 2500 }, (_, i) => ({ operation: `OP_${i + 1}` })));
  const page = getAuditLog(db);
  assert.equal(page.length, 100);
  assert.equal(page[0].audit_id, 2500);
  assert.equal(page[99].audit_id, 2401);
  const all = ids(db, { limit: 0 });
  assert.deepEqual(all, Array.from({ length: 2500 }, (_, i) => 2500 - i));
  assert.deepEqual(
    ids(db, { limit: 0, offset: 1499 }),
    Array.from({ length: 1001 }, (_, i) => 1001 - i),
  );
  assert.deepEqual(
    ids(db, { limit: 1200, offset: 900, order: "asc" }),
    Array.from({ length: 1200 }, (_, i) => 901 + i),
  );
});

Deno.test("streamAuditLog() reads in pages and an ascending export stops at the events that existed", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await logAuditEvents(db, Array.from({ length: 2100 }, () => ({ operation: "COUNTED" })));
  const seen: number[] = [];
  for (const page of streamAuditLog(db, { limit: 0, order: "asc" })) {
    seen.push(page.length);
    logAuditEvent(db, { operation: "ARRIVED_DURING_EXPORT" });
  }
  assert.deepEqual(seen, [1000, 1000, 100]);
  assert.deepEqual(
    [...streamAuditLog(db, { limit: 2050 })].map((page) => page.length),
    [1000, 1000, 50],
  );
});

Deno.test("getAuditLog() returns newest first by audit_id across legacy and ISO timestamps", async () => {
  await using dir = await tempDir();
  using db = mixedDatabase(dir.path);
  const events = getAuditLog(db);
  assert.deepEqual(events.map((e) => e.audit_id), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual(events.map((e) => e.timestamp), [
    "2026-02-16T14:30:00.000Z",
    "2026-02-17T00:00:00.001Z",
    "2026-02-15T12:00:00.000Z",
    "2026-02-16T23:59:59.500Z",
    "2026-02-17T00:00:00.000Z",
    "2026-02-16T23:59:59.000Z",
    "2026-02-16T12:30:00.000Z",
    "2026-02-16T00:00:00.000Z",
    "2026-02-15T23:59:59.000Z",
    "2026-02-15T08:00:00.000Z",
  ]);
  // NULL details of legacy rows read as "", like every other event.
  assert.deepEqual(getAuditLog(db, { afterId: 1, beforeId: 3 }), [{
    audit_id: 2,
    timestamp: "2026-02-15T23:59:59.000Z",
    operation: "STOCK_ADJUSTED",
    sku: "SKU-1001",
    details: "",
    user: "clerk",
    run_id: null,
  }]);
});

Deno.test("--since and --until select by time on a database mixing legacy and ISO timestamps", async () => {
  await using dir = await tempDir();
  using db = mixedDatabase(dir.path);
  const cases: [AuditLogFilter, number[]][] = [
    // A date alone covers the whole day, at both ends.
    [{ since: "2026-02-16", until: "2026-02-16" }, [10, 7, 5, 4, 3]],
    [{ until: "2026-02-15" }, [8, 2, 1]],
    [{ since: "2026-02-17" }, [9, 6]],
    // A date-time covers its minute or second.
    [{ since: "2026-02-16T14:30" }, [10, 9, 7, 6, 5]],
    [{ until: "2026-02-16T14:30" }, [10, 8, 4, 3, 2, 1]],
    [{ since: "2026-02-16T23:59:59Z", until: "2026-02-16T23:59:59Z" }, [7, 5]],
    [{ since: "2026-02-16T23:59:59.5Z", until: "2026-02-16 23:59:59.500" }, [7]],
    [{ since: "2026-02-16T12:30:00", until: "2026-02-16T12:30:00" }, [4]],
    // Offsets are converted to UTC.
    [{ since: "2026-02-17T01:00:00+01:00" }, [9, 6]],
    [{ until: "2026-02-16T18:59:59-05:00" }, [10, 8, 7, 5, 4, 3, 2, 1]],
    [{ since: "2026-02-16", until: "2026-02-16", sku: "SKU-1001" }, [5]],
    [{ since: "2026-02-16", order: "asc", limit: 2 }, [3, 4]],
  ];
  for (const [filter, expected] of cases) {
    assert.deepEqual(ids(db, filter), expected, JSON.stringify(filter));
  }
});

Deno.test("a query bounded in time reads the events of its time range, not the whole table", async () => {
  await using dir = await tempDir();
  using db = mixedDatabase(dir.path);
  using recording = recordStatements(db);
  const { statements } = recording;
  // The newest events of a day long past; a range that holds no event; both ends with a SKU.
  assert.deepEqual(ids(db, { until: "2026-02-15", limit: 2 }), [8, 2]);
  assert.deepEqual(ids(db, { since: "2027-01-01" }), []);
  assert.deepEqual(ids(db, { since: "2026-02-16", until: "2026-02-16", sku: "SKU-1001" }), [5]);
  assert.deepEqual(ids(db, { since: "2026-02-16", order: "asc", limit: 0 }), [
    3,
    4,
    5,
    6,
    7,
    9,
    10,
  ]);
  assert.ok(statements.length >= 4);
  for (const sql of new Set(statements)) {
    const plan = db.sqlite.prepare(`EXPLAIN QUERY PLAN ${sql}`).all().map((r) => String(r.detail));
    for (const step of plan) {
      assert.doesNotMatch(step, /^SCAN audit_log(?! USING)/, `${sql}\n${plan}`);
    }
  }
});

Deno.test({
  name:
    "an export reads each event once: every page starts where the last one ended, whatever the cursors and time bounds",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using dir = await tempDir();
    const path = join(dir.path, "app.db");
    await createLog(
      path,
      Array.from({ length: 20_000 }, (_, i) => ({
        operation: "COUNTED",
        details: `Counted ${i} units at bin A-${i % 400} `.padEnd(120, "."),
      })),
    );
    const filters: AuditLogFilter[] = [
      { beforeId: 19_500, limit: 0 },
      { afterId: 500, order: "asc", limit: 0 },
      { since: "2000-01-01", limit: 0 },
      { until: "9999-12-31", order: "asc", limit: 0 },
    ];
    for (const filter of filters) {
      const { db, bytes: table } = openToCountReads(path, "audit_log");
      using _db = db;
      const before = bytesRead();
      let events = 0;
      for (const page of streamAuditLog(db, filter)) events += page.length;
      const read = bytesRead() - before;
      assert.ok(events >= 19_000, JSON.stringify(filter));
      // Once through the table, the time index for a time bound, and a page or so per cursor;
      // a walk from the far bound at every page reads the table about ten times over.
      assert.ok(
        read < 3 * table,
        `${JSON.stringify(filter)}: read ${read} bytes of a ${table}-byte table`,
      );
    }
  },
});

Deno.test("parseTimeBound() turns a date or date-time into the UTC range it names", () => {
  assert.equal(PAST_LAST_MS, Date.UTC(10000, 0, 1), "the first instant past 9999-12-31");
  assert.deepEqual(parseTimeBound("2026-02-16"), {
    start: "2026-02-16T00:00:00.000Z",
    end: "2026-02-17T00:00:00.000Z",
  });
  assert.deepEqual(parseTimeBound("2026-02-28T23:59"), {
    start: "2026-02-28T23:59:00.000Z",
    end: "2026-03-01T00:00:00.000Z",
  });
  assert.deepEqual(parseTimeBound(" 2026-02-16T14:30:05+02:00 "), {
    start: "2026-02-16T12:30:05.000Z",
    end: "2026-02-16T12:30:06.000Z",
  });
  assert.deepEqual(parseTimeBound("2026-02-16T14:30:05.25Z"), {
    start: "2026-02-16T14:30:05.250Z",
    end: "2026-02-16T14:30:05.260Z",
  });
  assert.deepEqual(parseTimeBound("2024-02-29").start, "2024-02-29T00:00:00.000Z");
  // Finer than stored times (Python's isoformat(), date +%N): the millisecond it falls in.
  for (const text of ["2026-02-16T14:30:05.123456+00:00", "2026-02-16T14:30:05.123999999Z"]) {
    assert.deepEqual(parseTimeBound(text), {
      start: "2026-02-16T14:30:05.123Z",
      end: "2026-02-16T14:30:05.124Z",
    });
  }
});

Deno.test("parseTimeBound() refuses text that is not a real ISO date or time", () => {
  for (
    const text of [
      "",
      "yesterday",
      "16.02.2026",
      "2026-02-30",
      "2025-02-29",
      "2026-13-01",
      "2026-02-16T24:00",
      "2026-02-16T12:60",
      "2026-02-16T12:00:61",
      "2026-02-16T12:00:00.1234567890",
      "2026-02-16T12:00:00.",
      "2026-02-16T12",
      "1771243200",
      "0000-01-01",
      "1900-02-29",
      "+010000-01-01",
      "2026-02-16T12:00+99:99",
      "2026-02-16T12:00+05:99",
      "2026-02-16T12:00+24:00",
      "2026-02-16T12:00-24:00",
      "2026-02-16T12:00+0530",
    ]
  ) {
    assert.throws(
      () => parseTimeBound(text),
      // The library speaks of the value; the command line adds the option's name.
      (e) => e instanceof UsageError && e.message === `"${text}" is not a valid date or time`,
      text,
    );
  }
});

Deno.test("parseTimeBound() hints at the accepted form only where that form is accepted", () => {
  const hint = (text: string) => {
    try {
      parseTimeBound(text);
    } catch (error) {
      if (error instanceof UsageError) return error.hint;
    }
    assert.fail(`${text} was accepted`);
  };
  const general = hint("yesterday");
  assert.match(general!, /in UTC or with an offset/);
  assert.equal(
    hint("2026-03-29T03:30+0200"),
    "Write the offset with a colon, e.g. 2026-03-29T03:30+02:00.",
  );
  assert.equal(
    hint("2026-03-29 03:30:15.5-05"),
    "Write the offset with a colon, e.g. 2026-03-29 03:30:15.5-05:00.",
  );
  // A colon would not make these valid: the offset is out of range, the fraction too long.
  for (
    const text of ["2026-03-29T03:30+9900", "2026-03-29T03:30:00.1234567890+0100", "03:30+0200"]
  ) {
    assert.equal(hint(text), general, text);
  }
  assert.equal(
    hint("2024-02-29T24:00:00+14:00"),
    "24:00 is 00:00 of the next day: write 2024-03-01T00:00+14:00 (a date alone, 2024-02-29, covers the whole day).",
  );
  assert.equal(
    hint("9999-12-31T24:00"),
    "24:00 is 00:00 of the next day; a date alone, 9999-12-31, covers the whole day.",
  );
  assert.equal(hint("2026-02-30T24:00"), general);
});

Deno.test("parseTimeBound() takes years 0001-9999 as written and never overflows past 9999", () => {
  assert.deepEqual(parseTimeBound("0001-01-01"), {
    start: "0001-01-01T00:00:00.000Z",
    end: "0001-01-02T00:00:00.000Z",
  });
  assert.deepEqual(parseTimeBound("0099-12-31T23:59"), {
    start: "0099-12-31T23:59:00.000Z",
    end: "0100-01-01T00:00:00.000Z",
  });
  assert.equal(parseTimeBound("0004-02-29").start, "0004-02-29T00:00:00.000Z");
  assert.equal(parseTimeBound("2000-02-29").start, "2000-02-29T00:00:00.000Z");
  // The end of the last day is past every timestamp that can be stored, as text.
  const last = parseTimeBound("9999-12-31");
  assert.equal(last.start, "9999-12-31T00:00:00.000Z");
  assert.ok(last.end > "9999-12-31T23:59:59.999Z", last.end);
  assert.ok(parseTimeBound("9999-12-31T23:59:59.999").end > "9999-12-31T23:59:59.999Z");
  // An offset can move a bound across the ends of the range, never out of order.
  assert.ok(parseTimeBound("9999-12-31T23:00-23:59").start > "9999-12-31T23:59:59.999Z");
  assert.equal(parseTimeBound("0001-01-01T00:00+23:59").start, "0000-12-31T00:01:00.000Z");
  assert.ok(parseTimeBound("0001-01-01T00:00+23:59").start < "0001-01-01T00:00:00.000Z");
  assert.equal(parseTimeBound("2026-02-16T12:00+23:59").start, "2026-02-15T12:01:00.000Z");
  assert.equal(parseTimeBound("2026-02-16T12:00-00:00").start, "2026-02-16T12:00:00.000Z");
});

Deno.test("--until 9999-12-31 and --since 0001-01-01 keep every event; years 1-99 stay years 1-99", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const ancient = insertRaw(db, "0075-03-01 10:00:00", "LEGACY_IMPORT");
  const future = insertRaw(db, "9999-12-31T23:59:59.999Z", "FAR_FUTURE");
  const now = logAuditEvent(db, { operation: "TODAY" }).audit_id;
  assert.deepEqual(ids(db, { until: "9999-12-31" }), [now, future, ancient]);
  assert.deepEqual(ids(db, { since: "0001-01-01" }), [now, future, ancient]);
  assert.deepEqual(ids(db, { since: "9999-12-31T23:59:59.999" }), [future]);
  assert.deepEqual(ids(db, { since: "0075-03-01", until: "0075-03-01" }), [ancient]);
  assert.deepEqual(ids(db, { until: "1975-03-01" }), [ancient]);
  assert.deepEqual(ids(db, { since: "1975-03-01", until: "1975-03-01" }), []);
});

Deno.test("--contains matches details case-insensitively, including Ä and ä", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const details = [
    "Order ORD-1: 5 units",
    "order ord-2: 7 UNITS",
    "Äpfel geliefert",
    "äpfel verkauft",
    "Grüße aus Köln",
    "GRÜSSE",
  ];
  for (const text of details) logAuditEvent(db, { operation: "NOTE", details: text });
  assert.deepEqual(ids(db, { contains: "ORD-" }), [2, 1]);
  assert.deepEqual(ids(db, { contains: "units" }), [2, 1]);
  assert.deepEqual(ids(db, { contains: "äpfel" }), [4, 3]);
  assert.deepEqual(ids(db, { contains: "ÄPFEL" }), [4, 3]);
  assert.deepEqual(ids(db, { contains: "grüße" }), [5]);
  assert.deepEqual(ids(db, { contains: "KÖLN" }), [5]);
  assert.deepEqual(ids(db, { contains: "Ä", order: "asc" }), [3, 4]);
  assert.deepEqual(ids(db, { contains: "missing" }), []);
  assert.deepEqual(ids(db, { contains: "" }), [6, 5, 4, 3, 2, 1]);
});

Deno.test("--contains as long as the longest details still matches, as a short one does", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // Up to 65,536 characters of details: a needle that long is past SQLite's LIKE limit (50 kB).
  const long = "Ab%_".repeat(15_000);
  for (const text of [`x ${long} y`, "short", `Ä ${long}`, long.slice(1)]) {
    logAuditEvent(db, { operation: "NOTE", details: text });
  }
  assert.deepEqual(ids(db, { contains: long }), [3, 1]);
  assert.deepEqual(ids(db, { contains: long.toUpperCase() }), [3, 1]);
  assert.deepEqual(ids(db, { contains: `ä ${long.toLowerCase()}` }), [3]);
  assert.deepEqual(ids(db, { contains: `${long}!` }), []);
  assert.deepEqual(ids(db, { contains: "a".repeat(200_000) }), []);
  const cli = await runCli(["query", "--contains", long, "--db", db.path, "--format", "ndjson"]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(cli.stdout.trim().split("\n").map((line) => JSON.parse(line).audit_id), [3, 1]);
});

Deno.test("--contains takes %, _ and \\ literally", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (const text of ["100% done", "100 done", "bin_a", "binxa", "C:\\stock\\a", "C:stocka"]) {
    logAuditEvent(db, { operation: "NOTE", details: text });
  }
  assert.deepEqual(ids(db, { contains: "%" }), [1]);
  assert.deepEqual(ids(db, { contains: "0% d" }), [1]);
  assert.deepEqual(ids(db, { contains: "_" }), [3]);
  assert.deepEqual(ids(db, { contains: "n_a" }), [3]);
  assert.deepEqual(ids(db, { contains: "\\stock\\" }), [5]);
  assert.deepEqual(ids(db, { contains: "ä%" }), []);
});

Deno.test("--contains on an adopted database skips legacy rows without details", async () => {
  await using dir = await tempDir();
  using db = mixedDatabase(dir.path);
  assert.deepEqual(ids(db, { contains: "order ord" }), [7, 5, 3]);
  assert.deepEqual(ids(db, { contains: "ä-ware" }), [7]);
});

Deno.test("filter values that look like SQL are matched as plain text", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  logAuditEvent(db, { operation: "NOTE", sku: "x' OR 1=1 --" });
  assert.deepEqual(ids(db, { sku: "x' OR 1=1 --" }), [26]);
  assert.deepEqual(ids(db, { sku: "' OR '1'='1" }), []);
  assert.deepEqual(ids(db, { operation: "'; DROP TABLE audit_log; --" }), []);
  assert.deepEqual(ids(db, { contains: "' OR 1=1 --" }), []);
  assert.deepEqual(ids(db, { user: 'ana" OR "1"="1' }), []);
  assert.equal(ids(db, { limit: 0 }).length, 26);
});

Deno.test("getAuditLog() refuses a bad limit, offset, order, cursor or time", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  const cases: [AuditLogFilter, RegExp][] = [
    [{ limit: -1 }, /^Limit must be a whole number of 0 or more, not "-1"$/],
    [{ limit: 1.5 }, /^Limit must be a whole number/],
    [{ limit: NaN }, /^Limit must be a whole number/],
    [{ offset: -3 }, /^Offset must be a whole number/],
    [
      { beforeId: -1 },
      /^The before id \(an event id\) must be a whole number of 0 or more, not "-1"$/,
    ],
    [{ afterId: 0.5 }, /^The after id \(an event id\) must be a whole number/],
    [{ order: "sideways" as "asc" }, /Order must be "asc" or "desc", not "sideways"/],
    [{ since: "last week" }, /^"last week" is not a valid date or time$/],
    [{ until: "2026-02-31" }, /^"2026-02-31" is not a valid date or time$/],
  ];
  for (const [filter, message] of cases) {
    assert.throws(
      () => getAuditLog(db, filter),
      (e) => e instanceof UsageError && message.test(e.message),
      JSON.stringify(filter),
    );
    // The library names values; only the CLI speaks of its flags.
    if (!filter.since && !filter.until) {
      assert.throws(() => getAuditLog(db, filter), (e) => !/--/.test((e as Error).message));
    }
  }
});

Deno.test("--user system also finds legacy events whose user is NULL, as they are printed", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  using db = openDatabase(path);
  migrate(db);
  db.sqlite.exec(
    "INSERT INTO audit_log (timestamp, operation, user) VALUES ('2026-02-18 09:00:00', 'IMPORT', NULL)",
  );
  assert.equal(getAuditLog(db, { limit: 1 })[0].user, "system");
  assert.deepEqual(ids(db, { user: "system" }), [7, 3]);
  assert.deepEqual(ids(db, { user: "clerk" }), [4, 2]);
});

Deno.test("writeQuery() writes up to the limit and says whether more match, with the next cursor", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  const cases: [AuditLogFilter, { written: number; more: boolean; lastId: number | null }][] = [
    [{ limit: 10 }, { written: 10, more: true, lastId: 16 }],
    [{ limit: 25 }, { written: 25, more: false, lastId: 1 }],
    [{ limit: 0 }, { written: 25, more: false, lastId: 1 }],
    [{ limit: 3, order: "asc" }, { written: 3, more: true, lastId: 3 }],
    [{ limit: 5, sku: "SKU-1" }, { written: 5, more: false, lastId: 1 }],
    [{ limit: 4, sku: "SKU-1" }, { written: 4, more: true, lastId: 6 }],
    [{ limit: 2, beforeId: 3 }, { written: 2, more: false, lastId: 1 }],
    [{ sku: "none" }, { written: 0, more: false, lastId: null }],
  ];
  for (const [filter, expected] of cases) {
    const out = textSink();
    assert.deepEqual(await writeQuery(out, db, filter, "ndjson"), expected, JSON.stringify(filter));
    const printed = out.text.split("\n").filter(Boolean).map((line) => JSON.parse(line));
    assert.deepEqual(printed, getAuditLog(db, filter), JSON.stringify(filter));
  }
});

Deno.test("writeQuery() prints every format from the same rows, changed by mapRow when given", async () => {
  await using dir = await tempDir();
  using db = filledDatabase(dir.path);
  const events = getAuditLog(db, { limit: 3 });
  const json = textSink();
  await writeQuery(json, db, { limit: 3 }, "json");
  assert.deepEqual(JSON.parse(json.text), events);
  const masked = textSink();
  await writeQuery(masked, db, { limit: 2 }, "csv", {
    mapRow: (row) =>
      row.map((cell) => typeof cell === "string" ? cell.replace("ben", "***") : cell),
  });
  assert.deepEqual(masked.text.split("\r\n").slice(1, 3).map((line) => line.split(",")[5]), [
    "***",
    "***",
  ]);
});

Deno.test("writeQuery() stops at an aborted signal before the next page", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  await logAuditEvents(db, Array.from({ length: 2500 }, () => ({ operation: "COUNTED" })));
  const controller = new AbortController();
  let writes = 0;
  const sink = {
    write() {
      if (++writes === 1) controller.abort(new Error("stopped by the reader"));
      return Promise.resolve();
    },
  };
  await assert.rejects(
    writeQuery(sink, db, { limit: 0 }, "ndjson", { signal: controller.signal }),
    /stopped by the reader/,
  );
});

Deno.test("CLI query as a table says on stderr when the limit left events out, and how to see them", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  filledDatabase(dir.path).close();
  const cut = await runCli(["query", "--format", "table", "--limit", "10", "--db", path]);
  assert.equal(cut.code, 0);
  assert.equal(cut.stdout.split("\n").length, 12);
  assert.equal(
    cut.stderr,
    "10 events shown; more match: use --limit 0 for all, or --before-id 16 for the next page\n",
  );
  const ascending = await runCli([
    "query",
    "--format",
    "table",
    "--order",
    "asc",
    "--db",
    path,
    "--limit",
    "5",
  ]);
  assert.match(ascending.stderr, /--after-id 5 for the next page\n$/);
  const one = await runCli(["query", "--format", "table", "--limit", "1", "--db", path]);
  assert.match(one.stderr, /^1 event shown; more match: /);
  // The default limit of 100 on a database of 150 events.
  {
    using db = openDatabase(path);
    await logAuditEvents(db, Array.from({ length: 125 }, () => ({ operation: "COUNTED" })));
  }
  const byDefault = await runCli(["query", "--format", "table", "--db", path]);
  assert.match(byDefault.stderr, /^100 events shown; more match: .*--before-id 51 /);
  // Nothing said when everything was shown, or when a script reads JSON or CSV.
  const quiet = [
    ["--format", "table", "--limit", "0"],
    ["--format", "table", "--sku", "SKU-1"],
    ["--format", "json"],
    ["--format", "csv"],
  ];
  for (const args of quiet) {
    const all = await runCli(["query", ...args, "--db", path]);
    assert.equal(all.code, 0);
    assert.equal(all.stderr, "", args.join(" "));
  }
});

Deno.test("CLI query refuses a text filter holding bytes that are not UTF-8, rather than matching nothing", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "COUNTED", sku: "M\u00fcller-1", user: "M\u00fcller" });
  // The runtime hands "M\xfcller" typed in a Latin-1 terminal over as "M\uFFFDller".
  const cases = ["sku", "operation", "run-id", "user", "contains"].map((name) => [
    "query",
    `--${name}`,
    "M\uFFFDller",
    "--db",
    db.path,
  ]);
  const results = [await runCli(cases[0]), ...await Promise.all(cases.map((c) => runMain(c)))];
  results.forEach((result, i) => {
    const name = cases[Math.max(0, i - 1)][1];
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(
        `^audit-trail: error: ${name} is not valid text: it holds bytes that are not UTF-8`,
      ),
    );
    assert.equal(result.stdout, "");
  });
  const found = await runMain(["query", "--user", "M\u00fcller", "--db", db.path]);
  assert.deepEqual(JSON.parse(found.stdout).map((e: { audit_id: number }) => e.audit_id), [1]);
});

Deno.test("CLI query, stats and report refuse --until ending before --since begins, rather than finding nothing", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  insertRaw(db, "2026-02-16 12:00:00", "COUNTED");
  const report = join(dir.path, "report.html");
  const reversed = [
    ["query", "--since", "2026-02-17", "--until", "2026-02-16"],
    ["query", "--since", "2026-02-16T13:00+02:00", "--until", "2026-02-16T10:59"],
    ["stats", "--since", "2026-02-17T00:00:00Z", "--until", "2026-02-16T23:59:59.999Z"],
    ["report", "--since", "2026-02-17", "--until", "2026-02-16", "--output", report],
  ];
  const results = [
    await runCli([...reversed[0], "--db", db.path]),
    ...await Promise.all(reversed.map((args) => runMain([...args, "--db", db.path]))),
  ];
  results.forEach((result, i) => {
    const args = reversed[Math.max(0, i - 1)];
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `audit-trail: error: --until ${args[4]} ends before --since ${
        args[2]
      } begins, so no event can match\n` +
        "hint: Give the start of the period with --since and its end with --until.\n",
    );
    assert.equal(result.stdout, "");
  });
  await assert.rejects(Deno.stat(report), Deno.errors.NotFound);
  // A bound that ends where the other begins, or the same day twice, is a real period.
  for (
    const [since, until, found] of [
      ["2026-02-16", "2026-02-16", 1],
      ["2026-02-16T12:00:00", "2026-02-16T12:00:00", 1],
      ["2026-02-16T12:00:00.5", "2026-02-16T12:00:00", 0],
      ["2026-02-16T12:00:00.000999+00:00", "2026-02-16T12:00:00.000999+00:00", 1],
    ] as const
  ) {
    const result = await runMain(["query", "--since", since, "--until", until, "--db", db.path]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).length, found, `${since} ${until}`);
  }
});
