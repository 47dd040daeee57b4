/**
 * Time zones and days: on a PC set to a zone far from UTC, or one that changes to daylight
 * saving time, the figures per day are UTC days (SPEC: timestamps are UTC), and every text
 * that shows them says so. Real processes, each with its own `TZ`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { writeLegacyDatabase } from "./fixtures.ts";

/** UTC+13:45 (+12:45 in winter), UTC-5/-4, and a zone that moves by half an hour. */
const ZONES = ["Pacific/Chatham", "America/New_York", "Australia/Lord_Howe"];

/** The legacy fixture: 2 events on 2026-02-15, 3 on the 16th and 1 on the 17th (UTC). */
async function legacyLog(dir: string): Promise<string> {
  const path = join(dir, "app.db");
  writeLegacyDatabase(path);
  const migrated = await runCli(["migrate", "--db", path]);
  assert.equal(migrated.code, 0, migrated.stderr);
  return path;
}

Deno.test("stats and report count UTC days in any time zone, and say that the days are UTC", async () => {
  await using dir = await tempDir();
  const path = await legacyLog(dir.path);
  for (const zone of ZONES) {
    const env = { TZ: zone };
    const stats = await runCli(["stats", "--format", "table", "--db", path], { env });
    assert.equal(stats.code, 0, stats.stderr);
    const perDay = stats.stdout.split("\n\n").find((s) => s.startsWith("PER "))!;
    assert.match(perDay, /^PER DAY \(UTC\)\n/, `${zone}: the heading names the days' zone`);
    assert.deepEqual(
      perDay.split("\n").slice(1).map((line) => line.trim().split(/\s+/).slice(0, 2).join(" ")),
      ["2026-02-15 2", "2026-02-16 3", "2026-02-17 1"],
      zone,
    );

    const report = await runCli(["report", "--output", "-", "--db", path], { env });
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /<h2>Events per day \(UTC\)<\/h2>/, zone);
    assert.match(report.stdout, /aria-label="Events per day \(UTC\): 6 events from 2026-02-15/);
    assert.match(report.stdout, /<title>2026-02-15: 2 events<\/title>/, zone);
    assert.match(report.stdout, /<title>2026-02-17: 1 event<\/title>/, zone);
  }
});

Deno.test("stats by month says its months are UTC months", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  writeLegacyDatabase(path);
  // 40 days with events, one at the last second of each: more days than a table shows.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  const insert = db.prepare("INSERT INTO audit_log (timestamp, operation) VALUES (?, 'COUNT')");
  for (let day = 0; day < 40; day++) {
    insert.run(new Date(Date.UTC(2026, 2, 1 + day, 23, 59, 59)).toISOString().slice(0, 19));
  }
  db.close();
  assert.equal((await runCli(["migrate", "--db", path])).code, 0);
  const stats = await runCli(["stats", "--format", "table", "--db", path], {
    env: { TZ: "Pacific/Chatham" },
  });
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /\nPER MONTH \(UTC; 43 days with events\)\n/);
  assert.match(stats.stdout, /\n {2}2026-03 +31 /);
  assert.match(stats.stdout, /\n {2}2026-04 +9 /);
});

Deno.test("the viewer's charts say that their days are UTC days", async () => {
  await using dir = await tempDir();
  const path = await legacyLog(dir.path);
  const { cliCommand } = await import("./helpers.ts");
  const child = cliCommand(["serve", "--port", "0", "--db", path], {
    env: { TZ: "Pacific/Chatham" },
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      first += value;
    }
    reader.releaseLock();
    const url = new URL(first.split("\n")[0]);
    const overview = await (await fetch(new URL("/", url))).text();
    assert.match(overview, /<h2>Events per day \(UTC\)<\/h2>/);
    const events = await (await fetch(new URL("/events?operation=ORDER_CONFIRMED", url))).text();
    assert.match(events, /aria-label="Matching events per day \(UTC\)"/);
    // 00:00:00 and 23:59:59 UTC of the 16th: one day in UTC, two in Chatham.
    assert.match(events, /aria-label="2026-02-16: 2 events"/);
  } finally {
    child.kill("SIGTERM");
    await child.output().catch(() => undefined);
  }
});

Deno.test("a time bound near a valid one is refused with a hint that shows how to write it", async () => {
  await using dir = await tempDir();
  const path = await legacyLog(dir.path);
  const before = await fingerprint(path);
  const cases: [string[], RegExp][] = [
    // date +%FT%H:%M%z, in Berlin after the change to summer time.
    [["query", "--since", "2026-03-29T03:30+0200"], /^hint: .*colon.*2026-03-29T03:30\+02:00/m],
    [["stats", "--until", "2026-03-29T03:30-05"], /^hint: .*colon.*2026-03-29T03:30-05:00/m],
    // ISO's end of a day.
    [["query", "--until", "2026-03-29T24:00"], /^hint: .*24:00.*2026-03-30T00:00/m],
    [
      ["report", "--since", "2026-02-28T24:00:00Z", "--output", "-"],
      /2026-03-01T00:00Z \(a date alone, 2026-02-28, covers the whole day\)/,
    ],
    // Anything else: the forms there are, offsets among them.
    [["query", "--since", "last tuesday"], /^hint: .*offset.*\+01:00/m],
  ];
  for (const [args, hint] of cases) {
    const result = await runCli([...args, "--db", path], { env: { TZ: "Europe/Berlin" } });
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, /^audit-trail: error: --(since|until) "[^"]+" is not a valid date/);
    assert.match(result.stderr, hint, args.join(" "));
    assert.equal(result.stdout, "");
  }
  assert.equal(await fingerprint(path), before, "nothing was written");
  for (const command of ["query", "stats"]) {
    const help = await runCli([command, "--help"]);
    const since = help.stdout.split("\n  --since T")[1].split("\n  --until T")[0];
    assert.match(since, /with an\s+offset\s+\(2026-02-16T15:30\+01:00/, `${command} --help`);
  }
});

Deno.test("a bound with an offset finds the events of the UTC span it names, whatever TZ says", async () => {
  await using dir = await tempDir();
  const path = await legacyLog(dir.path);
  // 2026-02-16 00:00 to 23:59:59 UTC as a New York (UTC-5) and a Chatham (UTC+13:45) clerk
  // writes it: the same three events.
  const utc = await runCli([
    "query",
    "--since",
    "2026-02-16",
    "--until",
    "2026-02-16",
    "--db",
    path,
  ]);
  assert.equal(JSON.parse(utc.stdout).length, 3);
  for (
    const [since, until] of [
      ["2026-02-15T19:00-05:00", "2026-02-16T18:59:59-05:00"],
      ["2026-02-16T13:45+13:45", "2026-02-17T13:44:59+13:45"],
    ]
  ) {
    const local = await runCli(["query", "--since", since, "--until", until, "--db", path], {
      env: { TZ: "Pacific/Chatham" },
    });
    assert.equal(local.stdout, utc.stdout, `${since} .. ${until}`);
  }
});

Deno.test("log --stdin given query's records says that times and ids are set when logged", async () => {
  await using dir = await tempDir();
  const source = await legacyLog(dir.path);
  const target = join(dir.path, "copy.db");
  assert.equal((await runCli(["migrate", "--db", target])).code, 0);
  const before = await fingerprint(target);
  // Copying events between logs: query's NDJSON carries audit_id and timestamp.
  const records = await runCli(["query", "--format", "ndjson", "--order", "asc", "--db", source]);
  const result = await runCli(["log", "--stdin", "--db", target], { stdin: records.stdout });
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /^audit-trail: error: Line 1: "audit_id" cannot be given: audit-trail sets each event's audit_id and timestamp as it logs it \(fields: operation, details, sku, user, run_id\)\n/,
  );
  assert.equal(await fingerprint(target), before, "nothing was stored");
  const timed = await runCli(["log", "--stdin", "--db", target], {
    stdin: '{"operation":"COUNTED","timestamp":"2026-03-29T01:30:00+01:00"}\n',
  });
  assert.equal(timed.code, 2);
  assert.match(timed.stderr, /Line 1: "timestamp" cannot be given: audit-trail sets/);
  assert.equal(await fingerprint(target), before, "nothing was stored");
});
