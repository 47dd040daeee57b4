/**
 * Time zones, days and clocks: on a PC set to a zone far from UTC, or one that changes to
 * daylight saving time, the figures per day are UTC days (SPEC: timestamps are UTC), and every
 * text that shows them says so; time bounds near a valid form say how to write them; a batch
 * logged while the clock was set back says that its duration is not known. Real processes,
 * each with its own `TZ`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliCommand, fingerprint, runCli, tempDir } from "./helpers.ts";
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
  await withServe(path, { TZ: "Pacific/Chatham" }, async (url) => {
    const overview = await (await fetch(new URL("/", url))).text();
    assert.match(overview, /<h2>Events per day \(UTC\)<\/h2>/);
    const events = await (await fetch(new URL("/events?operation=ORDER_CONFIRMED", url))).text();
    assert.match(events, /aria-label="Matching events per day \(UTC\)"/);
    assert.match(events, /<h3>Matching events per day \(UTC\)<\/h3><svg class="chart wide"/);
    // 00:00:00 and 23:59:59 UTC of the 16th: one day in UTC, two in Chatham.
    assert.match(events, /aria-label="2026-02-16: 2 events"/);
  });
});

/** Runs the real `serve` on `path` with `env` while `work` asks it things. */
async function withServe(
  path: string,
  env: Record<string, string>,
  work: (url: URL) => Promise<void>,
): Promise<void> {
  const child = cliCommand(["serve", "--port", "0", "--db", path], { env }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let first = "";
    while (!first.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      first += value;
    }
    reader.releaseLock();
    await work(new URL(first.split("\n")[0]));
  } finally {
    child.kill("SIGTERM");
    await child.output().catch(() => undefined);
  }
}

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

/** A log whose batch `run_back` ends dated 20 minutes before it started (a clock set back). */
async function clockSetBackLog(dir: string): Promise<string> {
  const path = join(dir, "app.db");
  writeLegacyDatabase(path, { legacy002: true });
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  const insert = db.prepare(
    "INSERT INTO audit_log (timestamp, operation, details, run_id) VALUES (?, ?, ?, ?)",
  );
  insert.run("2026-10-25 01:30:00", "BATCH_START", "night count", "run_back");
  insert.run("2026-10-25 01:45:00", "STEP", "", "run_back");
  insert.run("2026-10-25 00:50:00", "STEP", "", "run_back");
  insert.run("2026-10-25 01:10:00", "BATCH_END", "done", "run_back");
  insert.run("2026-10-25 02:00:00", "BATCH_START", "next", "run_fine");
  insert.run("2026-10-25 02:00:30", "BATCH_END", "done", "run_fine");
  db.close();
  assert.equal((await runCli(["migrate", "--db", path])).code, 0);
  return path;
}

const CLOCK_NOTE =
  "the latest event is dated before the first: the clock was set back while it ran, so how long it took is not known";

Deno.test("batch show and list on a terminal say when a batch's clock went back; JSON stays as it was", async () => {
  await using dir = await tempDir();
  const path = await clockSetBackLog(dir.path);
  const show = await runCli(["batch", "show", "run_back", "--format", "table", "--db", path]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /\nduration_seconds +0\n/);
  assert.equal(
    show.stderr,
    `audit-trail: note: batch run_back: ${CLOCK_NOTE} (duration_seconds is 0)\n`,
  );
  const list = await runCli(["batch", "list", "--format", "table", "--db", path]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(
    list.stderr,
    `audit-trail: note: batch run_back: ${CLOCK_NOTE} (duration_seconds is 0)\n`,
  );
  const fine = await runCli(["batch", "show", "run_fine", "--format", "table", "--db", path]);
  assert.equal(fine.stderr, "");
  // Scripts read JSON: the same record as ever, and nothing on stderr.
  const json = await runCli(["batch", "show", "run_back", "--format", "json", "--db", path]);
  assert.equal(json.stderr, "");
  const record = JSON.parse(json.stdout);
  assert.deepEqual(
    [record.start_time, record.end_time, record.duration_seconds],
    ["2026-10-25T01:30:00.000Z", "2026-10-25T01:10:00.000Z", 0],
  );
});

Deno.test("the report and the viewer show a batch whose clock went back with no duration, and no timeline", async () => {
  await using dir = await tempDir();
  const path = await clockSetBackLog(dir.path);
  const report = await runCli(["report", "--output", "-", "--db", path]);
  assert.equal(report.code, 0, report.stderr);
  const row = (run: string) => report.stdout.split(`>${run}</td>`)[1]?.split("</tr>")[0] ?? "";
  assert.match(
    row("run_back"),
    /<td class="num" title="[^"]*clock was set back[^"]*">unknown<\/td>/,
  );
  assert.match(row("run_fine"), /<td class="num">30 s<\/td>/);

  await withServe(path, {}, async (url) => {
    const page = await (await fetch(new URL("/batches/run_back", url))).text();
    assert.match(
      page,
      /<div>Duration<\/div>\s*<div class="figure">unknown<\/div>\s*<div class="sub">the latest event is dated before the first: the clock was set back while it ran/,
    );
    // An axis from its earliest time to its latest would draw the duration called unknown.
    const timeline = page.split("<h2>Timeline</h2>")[1].split("</section>")[0];
    assert.doesNotMatch(timeline, /<svg/);
    assert.match(timeline, /No timeline: the clock was set back while this batch ran/);
    const fine = await (await fetch(new URL("/batches/run_fine", url))).text();
    assert.match(fine.split("<h2>Timeline</h2>")[1], /^<svg class="chart wide"/);
    const list = await (await fetch(new URL("/batches", url))).text();
    assert.match(list, />unknown<\/td>/);
  });
});
