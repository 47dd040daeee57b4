/**
 * `report`: one self-contained HTML file (its CSP allows only what is inside it, by hash),
 * escaped data, long values cut, never over 3 MB, the chain's verdict, and the command line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  type AuditDatabase,
  chainHead,
  logAuditEvent,
  logAuditEvents,
  migrate,
  openDatabase,
  writeReport,
} from "../mod.ts";
import { REPORT_MAX_BYTES } from "../lib/report/report.ts";
import { fingerprint, runCli, tempDir } from "./helpers.ts";
import { insertRaw, logOnEachStatement, openMigrated } from "./fixtures.ts";
import { viewerFixture, XSS_DETAILS } from "./viewer_fixture.ts";

async function report(db: AuditDatabase, options = {}) {
  let page = "";
  const summary = await writeReport(db, { write: (text) => Promise.resolve(void (page += text)) }, {
    now: new Date("2026-02-20T12:00:00Z"),
    ...options,
  });
  return { page, summary };
}

async function sha256Base64(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

Deno.test("writeReport() writes one page that loads nothing: its CSP allows its own style and script by hash", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1", details: "Widget", user: "ana" });
  logAuditEvent(db, { operation: "NOTE", sku: "<b>SKU</b>", details: XSS_DETAILS, user: "x'y\"z" });
  const { page, summary } = await report(db);
  assert.equal(summary.events, 2);
  assert.equal(summary.events_shown, 2);
  assert.equal(summary.chain_intact, true);
  assert.equal(summary.bytes, new TextEncoder().encode(page).length);

  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(page)?.[1]
    ?.replaceAll("&#39;", "'");
  assert.ok(csp, "the page carries its own policy");
  const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]);
  const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  assert.equal(styles.length, 1);
  assert.equal(scripts.length, 1, "the only script is the report's own");
  assert.equal(
    csp,
    `default-src 'none'; style-src 'sha256-${await sha256Base64(styles[0])}'; ` +
      `script-src 'sha256-${await sha256Base64(scripts[0])}'; base-uri 'none'; form-action 'none'`,
  );
  // Nothing that could make a request: no src or href attribute, no CSS url() or @import.
  assert.doesNotMatch(page, /<[^>]*\s(src|href|action|srcset)=/i);
  assert.doesNotMatch(page, /url\(|@import/i);

  assert.ok(page.includes(
    "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;&lt;img src=x onerror=&quot;document.body.dataset.pwned=1&quot;&gt;",
  ));
  assert.ok(page.includes("&lt;b&gt;SKU&lt;/b&gt;"));
  assert.ok(page.includes("x&#39;y&quot;z"));
  const head = chainHead(db)!;
  assert.ok(page.includes(`${head.audit_id}:${head.hash}`), "the head is there to note");
  assert.match(page, /<div class="figure good">intact<\/div>/);
});

Deno.test("writeReport() cuts long details at 500 characters with a visible mark", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const long = "0123456789".repeat(200);
  logAuditEvent(db, { operation: "IMPORTED", details: long });
  // An emoji is one character, as log's limit of 65,536 counts it, though two UTF-16 units.
  logAuditEvent(db, { operation: "IMPORTED", details: `a${"😀".repeat(600)}` });
  const { page } = await report(db);
  assert.ok(
    page.includes(
      `<td class="details"><span class="long">${
        long.slice(0, 500)
      }</span><span class="cut" title="cut for display">… [1,500 more characters]</span></td>`,
    ),
  );
  assert.ok(
    page.includes(
      `>a${
        "😀".repeat(499)
      }</span><span class="cut" title="cut for display">… [101 more characters]`,
    ),
  );
  assert.ok(!page.includes(long.slice(0, 501)));
  logAuditEvent(db, { operation: "IMPORTED", details: "x".repeat(501) });
  assert.ok((await report(db)).page.includes("… [1 more character]</span></td>"));
});

Deno.test("writeReport() stays under 3 MB however long and hostile the values are", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // Every character escapes to five: as large as a row of the table can get.
  const amp = (n: number) => "&".repeat(n);
  await logAuditEvents(
    db,
    Array.from({ length: 1200 }, (_, i) => ({
      operation: `OP_${i % 40}_${amp(90)}`,
      sku: `${i}${amp(250)}`,
      user: `${i % 30}${amp(250)}`,
      run_id: `run_${i % 7}_${"x".repeat(120)}`,
      details: amp(2000),
    })),
  );
  const { page, summary } = await report(db);
  const bytes = new TextEncoder().encode(page).length;
  assert.equal(summary.bytes, bytes);
  assert.ok(bytes < REPORT_MAX_BYTES, `${bytes} bytes`);
  assert.ok(bytes > REPORT_MAX_BYTES - 100_000, "the room is used");
  assert.ok(summary.events_shown > 100 && summary.events_shown < 1000);
  assert.match(
    page,
    new RegExp(
      `The newest 1,000 of 1,200 events are listed\\. The ${
        1000 - summary.events_shown
      } oldest of them were left out to keep this file under 3 MB\\.`,
    ),
  );
  assert.match(page, /<\/html>\n$/, "the page is whole");
});

Deno.test("writeReport() stays under 3 MB and lists the events when values written behind its back are 64 KB long", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  // An application writing straight into audit_log has no length limit: 40 operations, SKUs
  // and users of 64 KB each, every character escaping to five, would fill every chart's
  // tooltips.
  const amp = "&".repeat(65_536);
  for (let i = 0; i < 40; i++) {
    insertRaw(db, `2026-02-${10 + (i % 9)}T10:00:00.000Z`, `OP${i}${amp}`, {
      sku: `S${i}${amp}`,
      user: `U${i}${amp}`,
      details: amp,
    });
  }
  const { page, summary } = await report(db, { chain: null });
  assert.ok(summary.bytes < REPORT_MAX_BYTES, `${summary.bytes} bytes`);
  assert.equal(summary.events_shown, 40, "every event is listed");
  assert.match(page, /<title>OP0(&amp;){197}… \[65,339 more characters\]: 1 event<\/title>/);
});

Deno.test("writeReport() of a time range, and of a log that was tampered with", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (
    const [day, sku] of [["2026-02-14", "SKU-A"], ["2026-02-15", "SKU-B"], ["2026-02-16", "SKU-C"]]
  ) {
    insertRaw(db, `${day}T10:00:00.000Z`, "COUNTED", { sku });
  }
  const { page, summary } = await report(db, {
    since: "2026-02-15",
    until: "2026-02-15",
    chain: null,
  });
  assert.equal(summary.events, 1);
  assert.ok(page.includes("SKU-B"));
  assert.ok(!page.includes("SKU-A") && !page.includes("SKU-C"));
  assert.match(page, /events from 2026-02-15 up to the end of 2026-02-15 \(UTC\)/);
  // A bound typed with an offset is shown as the instant it is, never as a time in UTC.
  const local = await report(db, {
    since: "2026-02-15T00:00+02:00",
    until: "2026-02-15T23:59+02:00",
    chain: null,
  });
  assert.equal(local.summary.events, 1);
  assert.match(
    local.page,
    /events from 2026-02-14 22:00:00 UTC \(2026-02-15T00:00\+02:00\) up to 2026-02-15 22:00:00 UTC \(the end of 2026-02-15T23:59\+02:00\);/,
  );
  assert.doesNotMatch(local.page, /\+02:00\) \(UTC\)|\+02:00 \(UTC\)/);
  assert.match(page, /no hash chain/);

  // Rows written behind audit-trail's back carry no seal: verify names the first.
  const tampered = await report(db);
  assert.equal(tampered.summary.chain_intact, false);
  assert.match(tampered.page, /<div class="figure bad">TAMPERED<\/div>/);
});

Deno.test("writeReport() reads one snapshot: events logged while it reads are in none of its figures", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (let i = 0; i < 5; i++) logAuditEvent(db, { operation: "COUNTED", run_id: "run_a" });
  let reported;
  {
    using _arrivals = logOnEachStatement(db);
    reported = await report(db);
  }
  const { page, summary } = reported;
  const events = summary.events;
  assert.ok(events >= 6, "the event logged before the first read is in");
  assert.equal(summary.events_shown, events, "the table lists the events the figures count");
  assert.ok(page.includes(`${events} seals checked`), "the chain ends where the figures do");
  assert.match(page, new RegExp(`run_a</td>\\s*<td class="num">${events}</td>`), "its batch too");
  assert.ok(page.includes(`<div class="figure">${events}</div>`));
});

Deno.test("writeReport() charts a long log month by month with the months without events as 0, as it does days", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  for (const day of ["2025-01-10", "2025-01-20", "2025-03-05", "2026-06-01"]) {
    insertRaw(db, `${day}T10:00:00.000Z`, "COUNTED");
  }
  const { page } = await report(db, { chain: null });
  assert.match(page, /<h2>Events per month \(UTC\)<\/h2>/);
  const columns = [...page.matchAll(/<title>(\d{4}-\d{2}): (\d+) events?<\/title>/g)]
    .map((m) => [m[1], Number(m[2])]);
  assert.equal(columns.length, 18, "every month from January 2025 to June 2026");
  assert.deepEqual(columns.slice(0, 4), [["2025-01", 2], ["2025-02", 0], ["2025-03", 1], [
    "2025-04",
    0,
  ]]);
  assert.deepEqual(columns.at(-1), ["2026-06", 1]);
  assert.equal(columns.reduce((sum, [, n]) => sum + (n as number), 0), 4);
  assert.ok(page.includes("<title>2025-01: 2 events</title>"));
  assert.ok(page.includes("<title>2025-03: 1 event</title>"), "one event, not 1 events");
  assert.ok(page.includes("<title>COUNTED: 4 events</title>"));
});

Deno.test("CLI report writes the file beside the database, prints its path, and leaves the database as it was", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  {
    using db = openDatabase(path, { create: true });
    migrate(db);
    logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1001", details: XSS_DETAILS });
  }
  const before = await fingerprint(path);
  const made = await runCli(["report", "--db", path]);
  assert.equal(made.code, 0, made.stderr);
  const written = made.stdout.trim();
  assert.match(written, new RegExp(`^${dir.path}/audit_report_\\d{8}_\\d{6}\\.html$`));
  const page = await Deno.readTextFile(written);
  assert.match(page, /^<!DOCTYPE html>/);
  assert.ok(page.includes("SKU-1001"));
  assert.equal(await fingerprint(path), before, "report never writes the database");

  const chosen = join(dir.path, "chosen.html");
  await Deno.writeTextFile(chosen, "old");
  const again = await runCli(["report", "--output", "chosen.html", "--db", path], {
    cwd: dir.path,
  });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, `${chosen}\n`);
  assert.match(await Deno.readTextFile(chosen), /^<!DOCTYPE html>/);

  const files = () => [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  const listed = files();
  for (
    const [args, code, message] of [
      [["--since", "2026-13-01"], 2, '--since "2026-13-01" is not a valid date or time'],
      [["--output"], 2, "Option --output needs a value"],
      [
        ["--output", join(dir.path, "missing", "r.html")],
        1,
        `Cannot write the report to "${join(dir.path, "missing", "r.html")}": the folder "${
          join(dir.path, "missing")
        }" does not exist\nhint: `,
      ],
      [
        ["--output", join(path, "r.html")],
        1,
        `Cannot write the report to "${
          join(path, "r.html")
        }": a part of "${path}" is a file, not a folder\nhint: `,
      ],
    ] as const
  ) {
    const bad = await runCli(["report", ...args, "--db", path]);
    assert.equal(bad.code, code, bad.stderr);
    assert.ok(bad.stderr.startsWith(`audit-trail: error: ${message}`), bad.stderr);
    assert.equal(bad.stdout, "");
  }
  assert.deepEqual(files(), listed, "a failed report leaves no file behind");
  const raw = new DatabaseSync(path, { readOnly: true });
  assert.equal(raw.prepare("SELECT count(*) AS n FROM audit_log").get()!.n, 1);
  raw.close();
});

Deno.test("Every bundle holds report.html, made from its snapshot, hashed in the manifest and scanned for secrets", async () => {
  await using dir = await tempDir();
  const db = viewerFixture(dir.path);
  const made = await runCli(["bundle", "--db", db]);
  assert.equal(made.code, 0, made.stderr);
  const folder = made.stdout.trim();
  const page = await Deno.readTextFile(join(folder, "report.html"));
  assert.match(page, /^<!DOCTYPE html>/);
  assert.match(page, /<title>Audit report: app\.db<\/title>/);
  assert.match(
    page,
    /<div class="figure good">intact<\/div>/,
    "the chain as the bundle checked it",
  );
  assert.equal((page.match(/<tr><td class="num">/g) ?? []).length, 12, "every event");
  assert.ok(page.includes("&lt;script&gt;document.title"));
  const manifest = JSON.parse(await Deno.readTextFile(join(folder, "manifest.json")));
  const listed = manifest.files.find((f: { name: string }) => f.name === "report.html");
  assert.equal(listed.bytes, new TextEncoder().encode(page).length);
  assert.equal(listed.sha256, await sha256Hex(page));
  assert.match(
    await Deno.readTextFile(join(folder, "README.txt")),
    /\r\nOpen report\.html first: the charts, the batches and the newest events, in any web browser\.\r\n/,
  );

  // A secret of the settings in an event: the report, made from the masked snapshot, shows
  // the mark instead, even for an event only the report lists (the CSV holds the newest one).
  await Deno.writeTextFile(join(dir.path, "settings.json"), '{"smtp_password": "Leaky-Pa55"}');
  {
    using raw = openDatabase(db);
    logAuditEvent(raw, { operation: "MAIL_SETUP", details: "password set to Leaky-Pa55" });
    logAuditEvent(raw, { operation: "COUNTED", sku: "SKU-1001" });
  }
  const masked = await runCli(["bundle", "--audit-limit", "1", "--db", db]);
  assert.equal(masked.code, 0, masked.stderr);
  const report = await Deno.readTextFile(join(masked.stdout.trim(), "report.html"));
  assert.ok(!report.includes("Leaky-Pa55"));
  assert.ok(report.includes("password set to [REDACTED]"));
});

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("CLI report --output - writes the page to standard output, and no file named -", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1" });
  const result = await runCli(["report", "--output", "-", "--db", db.path], { cwd: dir.path });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^<!DOCTYPE html>/i);
  assert.match(result.stdout, /<\/html>\n?$/);
  assert.ok(result.stdout.includes("SKU-1"));
  assert.equal(result.stderr, "");
  const names = [...Deno.readDirSync(dir.path)].map((e) => e.name);
  assert.ok(!names.includes("-") && !names.some((n) => n.endsWith(".html")), `${names}`);
});

Deno.test("CLI report --output never replaces the database, its -wal or -shm, or another SQLite file", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "app.db");
  const other = join(dir.path, "inventory.db");
  {
    using db = openDatabase(path, { create: true });
    migrate(db);
    logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1001" });
    using keep = openDatabase(other, { create: true });
    keep.sqlite.exec("CREATE TABLE stock (sku TEXT)");
  }
  // A reader holds the database open, so its -wal and -shm stay beside it as in daily use.
  using reader = new DatabaseSync(path);
  reader.prepare("SELECT count(*) FROM audit_log").get();
  const targets = [path, "app.db", `${path}-wal`, `${path}-shm`, other];
  for (const target of targets) {
    const before = await fingerprint(target.startsWith("/") ? target : join(dir.path, target));
    const result = await runCli(["report", "--output", target, "--db", path], { cwd: dir.path });
    assert.equal(result.code, 2, `${target}: ${result.stderr}`);
    assert.match(
      result.stderr,
      /^audit-trail: error: --output ".*" is (the database|a SQLite database)/,
      target,
    );
    assert.match(result.stderr, /\nhint: .*another file name/);
    assert.equal(result.stdout, "");
    const after = await fingerprint(target.startsWith("/") ? target : join(dir.path, target));
    assert.equal(after, before, `${target} was left as it was`);
  }
  assert.equal(reader.prepare("SELECT count(*) AS n FROM audit_log").get()!.n, 1);
  assert.deepEqual(
    [...Deno.readDirSync(dir.path)].map((e) => e.name).filter((n) => n.includes("partial")),
    [],
  );
});

Deno.test("CLI report --output refuses a link to the database and a folder; through a link to a report it replaces that report", async () => {
  await using dir = await tempDir();
  const path = viewerFixture(dir.path);
  await Deno.symlink(path, join(dir.path, "link.db"));
  const before = await fingerprint(path);
  for (
    const [output, stderr] of [
      [
        join(dir.path, "link.db"),
        `audit-trail: error: --output "${
          join(dir.path, "link.db")
        }" is the database or one of its files\nhint: Nothing was written. Choose another file name for the report, e.g. report.html.\n`,
      ],
      [
        dir.path,
        `audit-trail: error: --output "${dir.path}" is a folder\nhint: Give a file name, e.g. --output "${
          join(dir.path, "report.html")
        }".\n`,
      ],
    ]
  ) {
    const files = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
    const refused = await runCli(["report", "--output", output, "--db", path], { cwd: dir.path });
    assert.deepEqual([refused.code, refused.stdout, refused.stderr], [2, "", stderr], output);
    assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), files, output);
  }
  assert.equal(await fingerprint(path), before, "the database is as it was");
  assert.ok((await Deno.lstat(join(dir.path, "link.db"))).isSymlink);

  // Through a link to a report, the report it points at is replaced and the link stays.
  const real = join(dir.path, "real.html");
  await Deno.writeTextFile(real, "old");
  await Deno.symlink(real, join(dir.path, "link.html"));
  const linked = await runCli(["report", "--output", "link.html", "--db", path], { cwd: dir.path });
  assert.equal(linked.code, 0, linked.stderr);
  assert.ok((await Deno.lstat(join(dir.path, "link.html"))).isSymlink);
  assert.match(await Deno.readTextFile(real), /^<!DOCTYPE html>/);
});

Deno.test({
  name: "CLI report writes into a named pipe as it is, never renaming a file over it",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    const path = viewerFixture(dir.path);
    const fifo = join(dir.path, "pipe");
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    // Open for reading and writing, so that neither this open nor the report's waits for the
    // other end; read while the report writes, so a report larger than the pipe's buffer (64 KB
    // on Linux) is not left waiting.
    using reader = await Deno.open(fifo, { read: true, write: true });
    const reading = (async () => {
      let page = "";
      const buffer = new Uint8Array(65536);
      const decoder = new TextDecoder();
      while (!page.endsWith("</html>\n")) {
        const n = await reader.read(buffer);
        if (n === null) break;
        page += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
      return page;
    })();
    const made = await runCli(["report", "--output", fifo, "--db", path]);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stdout, `${fifo}\n`);
    assert.ok((await Deno.lstat(fifo)).isFifo, "the pipe is still a pipe");
    const page = await reading;
    assert.match(page, /^<!DOCTYPE html>[\s\S]*SKU-1001[\s\S]*<\/html>\n$/);
    assert.deepEqual(
      [...Deno.readDirSync(dir.path)].map((e) => e.name).filter((n) => n.includes("partial")),
      [],
    );
  },
});

Deno.test("writeReport() shows controls, bidirectional overrides and zero-width spaces as escapes, as the terminal does", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  logAuditEvent(db, {
    operation: "NOTE",
    sku: "SKU\u200B-1001",
    user: "\u202Enimda",
    details: "line 1\n\tline 2 \u202Egnp.exe\x1b[2J\u2066",
  });
  const { page } = await report(db, { chain: null });
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(page, /[\u202E\u200B\u2066\x1b]/);
  assert.ok(page.includes("<td>\\u202Enimda</td>"), "the user does not read as admin");
  assert.ok(page.includes("<td>SKU\\u200B-1001</td>"), "nor the SKU as another one");
  assert.ok(
    page.includes('<td class="details">line 1\n\tline 2 \\u202Egnp.exe\\x1b[2J\\u2066</td>'),
  );
  assert.ok(page.includes(">\\u202Enimda</text>"), "chart labels too");
  assert.ok(page.includes("<title>\\u202Enimda: 1 event</title>"), "and tooltips");
});

Deno.test("writeReport() of an empty log or an empty range says so, with no empty table to filter", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const empty = await report(db);
  assert.match(
    empty.page,
    /<h2>Events per day \(UTC\)<\/h2><p class="empty">No events in this range.<\/p>/,
  );
  assert.match(
    empty.page,
    /<h2>Newest events<\/h2>\s*<p class="empty">The log holds no events yet.<\/p>/,
  );
  assert.doesNotMatch(empty.page, /<table|id="filter"/);

  logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1" });
  const range = await report(db, { since: "2030-01-01" });
  assert.equal(range.summary.events, 0);
  assert.match(
    range.page,
    /<h2>Newest events<\/h2>\s*<p class="empty">No events in this range.<\/p>/,
  );
  assert.doesNotMatch(range.page, /<table class="filterable"|id="filter"/);
});
