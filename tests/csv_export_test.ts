import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { stringify } from "csv-stringify/sync";
import { type AuditDatabase, type AuditLogFilter, migrate, openDatabase } from "../mod.ts";
import { neutralizeFormula } from "../lib/csv.ts";
import { EVENT_COLUMNS } from "../lib/event_row.ts";
import { writeQuery } from "../lib/query.ts";
import { runCli, tempDir, textSink } from "./helpers.ts";
import { LEGACY_AUDIT_LOG_SQL } from "./fixtures.ts";

// Text that matters to CSV quoting, to formula neutralising, to the joined cells' separators
// and to UTF-8, plus plain text.
const PIECES = [
  "a",
  "Z",
  " ",
  ",",
  '"',
  "\r",
  "\n",
  "\r\n",
  "=",
  "+",
  "-",
  "@",
  "\t",
  "\x1f",
  "\u202e",
  // node:sqlite stores a NUL but reads text only up to it: a joined row then has fewer cells.
  "\0",
  "é",
  "中",
  "😀",
  "'",
  "1",
];

// Stored timestamps: mostly the tool's own form, then legacy and odd values. Each must print
// as the SQL below prints it (strftime() reads "00.1  Z" as 00.100, for one).
const ODD_TIMESTAMPS = [
  "2026-02-16 10:00:00",
  "2026-02-30 10:00:00",
  "2026-02-16T10:00:00Z",
  "2026-02-16T10:00:00.1  Z",
  "2026-02-16T10:00:00.12 Z",
  "2026-13-45T99:99:99.999Z",
  "2026-02-16T10:00:00.00éZ",
  "not a time",
  "=HYPERLINK(1)",
  "a,b",
  "\x1f",
  "",
];

/** The events as `query` prints them, read by SQL of its own, as a reference. */
const REFERENCE_SQL = `SELECT audit_id,
  CASE WHEN timestamp GLOB '${"####-##-##T##:##:##.###Z".replaceAll("#", "[0-9]")}' THEN timestamp
  ELSE coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), timestamp) END,
  operation, sku, coalesce(details, ''), coalesce(user, 'system'), run_id
  FROM audit_log ORDER BY audit_id DESC`;

type Row = (string | number | null)[];

function referenceRows(db: AuditDatabase): Row[] {
  return db.sqlite.prepare(REFERENCE_SQL).all().map((row) => Object.values(row)) as Row[];
}

/** The rows as CSV: every cell neutralised and quoted by csv-stringify, CRLF, a header. */
function referenceCsv(rows: Row[]): string {
  return stringify([EVENT_COLUMNS, ...rows.map((row) => row.map((c) => neutralizeFormula(c)))], {
    record_delimiter: "\r\n",
    quoted_match: /[\r\n]/,
    cast: { boolean: String },
  });
}

async function queryCsv(db: AuditDatabase, filter: AuditLogFilter): Promise<string> {
  const out = textSink();
  await writeQuery(out, db, filter, "csv");
  return out.text;
}

/**
 * An adopted inventory database (NULL users and details allowed) holding 2,600 events of
 * seeded random nasty text: three pages and more. Legacy and odd timestamps sit among the
 * oldest events and on the second page (newest first), so that an ascending export reads its
 * first page again with the SQL that normalises them, and a descending one its second.
 */
function nastyDatabase(dir: string): AuditDatabase {
  const path = join(dir, "nasty.db");
  const raw = new DatabaseSync(path);
  raw.exec(LEGACY_AUDIT_LOG_SQL);
  raw.close();
  const db = openDatabase(path);
  migrate(db);
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const text = (max: number) => {
    let value = "";
    const length = Math.floor(next() * max);
    for (let i = 0; i < length; i++) value += PIECES[Math.floor(next() * PIECES.length)];
    return value;
  };
  // Mostly plain text, so that most rows take the fast path and the rest are mixed in.
  const cell = (max: number) => next() < 0.6 ? `plain ${Math.floor(next() * 1000)}` : text(max);
  const insert = db.sqlite.prepare(
    "INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id) VALUES (?, ?, ?, ?, ?, ?)",
  );
  db.sqlite.exec("BEGIN");
  for (let i = 1; i <= 2600; i++) {
    const odd = i <= 40 || (i >= 1300 && i <= 1305);
    const timestamp = odd
      ? ODD_TIMESTAMPS[i % ODD_TIMESTAMPS.length]
      : new Date(Date.UTC(2026, 1, 16) + i * 1234).toISOString();
    insert.run(
      timestamp,
      next() < 0.9 ? "ORDER_CONFIRMED" : text(4),
      next() < 0.2 ? null : cell(4),
      next() < 0.1 ? null : i === 1234 ? "x,y ".repeat(5000) : cell(8),
      next() < 0.1 ? null : cell(3),
      next() < 0.3 ? null : cell(3),
    );
  }
  db.sqlite.exec("COMMIT");
  return db;
}

Deno.test("CSV export prints what csv-stringify prints for each event, nasty text included", async () => {
  await using dir = await tempDir();
  using db = nastyDatabase(dir.path);
  const rows = referenceRows(db);
  assert.equal(rows.length, 2600);
  // Every kind of row is there: plain, quoted, neutralised, and joined by U+001F.
  const expected = referenceCsv(rows);
  for (const needle of ['"', "'=", "'+", "'@", "'\t", "\x1f", "😀", "00.100Z"]) {
    assert.ok(expected.includes(needle), JSON.stringify(needle));
  }
  assert.equal(await queryCsv(db, { limit: 0 }), expected);
  assert.equal(await queryCsv(db, { limit: 0, order: "asc" }), referenceCsv(rows.toReversed()));
});

Deno.test("CSV export honours limit, offset, cursors and filters as records do", async () => {
  await using dir = await tempDir();
  using db = nastyDatabase(dir.path);
  const rows = referenceRows(db);
  const sku = rows.find((row) => typeof row[3] === "string" && row[3].startsWith("plain"))![3]!;
  const cases: [AuditLogFilter, Row[]][] = [
    [{ limit: 1500, offset: 700 }, rows.slice(700, 2200)],
    [{ limit: 0, offset: 2599 }, rows.slice(2599)],
    [
      { limit: 5, order: "asc", afterId: 2590 },
      rows.filter((r) => +r[0]! > 2590).toReversed().slice(0, 5),
    ],
    [{ limit: 0, beforeId: 1001 }, rows.filter((r) => +r[0]! < 1001)],
    [{ limit: 0, sku: sku as string }, rows.filter((r) => r[3] === sku)],
    [{ limit: 100 }, rows.slice(0, 100)],
    [{ limit: 0, sku: "no such SKU" }, []],
  ];
  for (const [filter, expected] of cases) {
    const label = JSON.stringify(filter);
    assert.equal(await queryCsv(db, filter), referenceCsv(expected), label);
  }
});

Deno.test("CLI query --format csv prints the reference CSV for a nasty database, and a BLOB as its text", async () => {
  await using dir = await tempDir();
  let expected: string;
  {
    using db = nastyDatabase(dir.path);
    expected = referenceCsv(referenceRows(db));
  }
  const path = join(dir.path, "nasty.db");
  const result = await runCli(["query", "--limit", "0", "--format", "csv", "--db", path]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, expected);

  // A BLOB cell (only SQL written outside the tool stores one) is its bytes read as text.
  const raw = new DatabaseSync(path);
  raw.prepare("INSERT INTO audit_log (timestamp, operation, details) VALUES (?, 'B', ?)")
    .run("2026-02-17T00:00:00.000Z", new TextEncoder().encode('=1, "é"'));
  raw.close();
  const blob = await runCli(["query", "--limit", "1", "--format", "csv", "--db", path]);
  assert.equal(
    blob.stdout.split("\r\n")[1],
    `2601,2026-02-17T00:00:00.000Z,B,,"'=1, ""é""",system,`,
  );
});

Deno.test("CSV export of a table whose columns are not all TEXT keeps numbers as JavaScript prints them", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "untyped.db");
  const raw = new DatabaseSync(path);
  raw.exec(LEGACY_AUDIT_LOG_SQL.replace("details TEXT", "details"));
  raw.prepare("INSERT INTO audit_log (timestamp, operation, details) VALUES (?, 'N', ?)")
    .run("2026-02-16 10:00:00", -5);
  raw.prepare("INSERT INTO audit_log (timestamp, operation, details) VALUES (?, 'N', ?)")
    .run("2026-02-16 10:00:01", 1.5);
  raw.close();
  {
    using db = openDatabase(path);
    migrate(db);
  }
  const result = await runCli(["query", "--limit", "0", "--format", "csv", "--db", path]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n" +
      "2,2026-02-16T10:00:01.000Z,N,,1.5,system,\r\n" +
      "1,2026-02-16T10:00:00.000Z,N,,-5,system,\r\n",
  );
});

Deno.test("CLI query --format csv keeps every cell in its column when an adopted table has NULL operations", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "adopted.db");
  const raw = new DatabaseSync(path);
  // The inventory application's table, with an operation column that allows NULL.
  raw.exec(LEGACY_AUDIT_LOG_SQL.replace("operation TEXT NOT NULL", "operation TEXT"));
  const insert = raw.prepare(
    "INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES (?, ?, ?, ?, ?)",
  );
  insert.run("2026-02-16 10:00:00", null, "SKU-1", "plain", "ana");
  insert.run("2026-02-16 10:00:01", null, "SKU,2", "a, b", "ben,c");
  insert.run("2026-02-16 10:00:02", null, "SKU-3", "x", "u,v");
  insert.run("2026-02-16 10:00:03", null, null, null, null);
  insert.run("2026-02-16 10:00:04", "COUNTED", "SKU-5", "ok", "ana");
  raw.close();
  assert.equal((await runCli(["migrate", "--db", path])).code, 0);

  const csv = await runCli(["query", "--format", "csv", "--order", "asc", "--db", path]);
  assert.equal(csv.stderr, "");
  assert.equal(csv.code, 0);
  assert.equal(
    csv.stdout,
    "audit_id,timestamp,operation,sku,details,user,run_id\r\n" +
      "1,2026-02-16T10:00:00.000Z,,SKU-1,plain,ana,\r\n" +
      '2,2026-02-16T10:00:01.000Z,,"SKU,2","a, b","ben,c",\r\n' +
      '3,2026-02-16T10:00:02.000Z,,SKU-3,x,"u,v",\r\n' +
      "4,2026-02-16T10:00:03.000Z,,,,system,\r\n" +
      "5,2026-02-16T10:00:04.000Z,COUNTED,SKU-5,ok,ana,\r\n",
  );
  // The same cells as the JSON records.
  const json = await runCli(["query", "--format", "json", "--order", "asc", "--db", path]);
  const records = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.deepEqual(records.map((r) => [r.operation, r.sku, r.user]), [
    [null, "SKU-1", "ana"],
    [null, "SKU,2", "ben,c"],
    [null, "SKU-3", "u,v"],
    [null, null, "system"],
    ["COUNTED", "SKU-5", "ana"],
  ]);
});
