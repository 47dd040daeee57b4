/**
 * What `stats`, `report` and `serve` cost on a large log, each beside a peer measured in the
 * same run:
 *
 * - `stats` (the whole process) beside the `sqlite3` shell running the same GROUP BY queries;
 * - `report` (the whole process, verify of every seal included), reported in seconds;
 * - the viewer's `/api/events?sku=…&limit=100` (median of many requests) beside the `sqlite3`
 *   shell process running the same SELECT;
 * - the viewer's memory while every event is paged through with `before_id`, at the start and
 *   at the end.
 *
 * The database is built once per run: the bench event set (scripts/bench_data.ts) spread over
 * 180 days, each run id opened by `BATCH_START` and closed by `BATCH_END` (every tenth one
 * failed), then adopted and sealed by `migrate` as an inventory database would be.
 *
 * `deno task bench` takes its {@linkcode cases} into its table (`--only viewer` runs them
 * alone); or run this script by itself:
 *
 *     deno run --allow-all scripts/bench_viewer.ts [--events N] [--runs N] [--requests N]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { migrate, openDatabase } from "../mod.ts";
import { formatBatchOutcome } from "../lib/batch_outcome.ts";
import { UTC_TIMESTAMP_SQL } from "../lib/event_row.ts";
import { EVENTS_PER_RUN, generateEvents, runName, skuName } from "./bench_data.ts";
import {
  type BenchCase,
  type BenchContext,
  compare,
  type Figure,
  fmtMb,
  fmtMs,
  formatLoad,
  loadAverage,
  type Measured,
  ratioFigure,
  round,
  skipped,
  succeeds,
} from "./bench_run.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");

/** The span of time the generated events cover. */
const SPAN_DAYS = 180;
const LAST_DAY = Date.UTC(2026, 1, 27);

/** How {@linkcode buildSpreadDatabase} spreads the events. */
export interface SpreadOptions {
  /** Days the events cover (default 180), ending on 2026-02-27. */
  days?: number;
  /** Weight of each day of the week, Sunday first (default: every day alike). */
  weekly?: readonly number[];
  /** Events per batch (default 1,000, as the bench event set). */
  runSize?: number;
}

/**
 * Writes a database of `count` events at `path` whose timestamps spread over `days` days (in
 * the proportions of `weekly`), with batches opened and closed as `batch exec` does (every
 * tenth one failed), sealed by `migrate` as an adopted inventory database is.
 */
export function buildSpreadDatabase(
  path: string,
  count: number,
  options: SpreadOptions = {},
): void {
  const days = options.days ?? SPAN_DAYS;
  const runSize = options.runSize ?? EVENTS_PER_RUN;
  const first = LAST_DAY - (days - 1) * 86_400_000;
  const weights = Array.from(
    { length: days },
    (_, d) => options.weekly?.[new Date(first + d * 86_400_000).getUTCDay()] ?? 1,
  );
  const total = weights.reduce((a, b) => a + b, 0);
  /**
   * The time of the event at fraction `f` of all (called with `f` rising): days fill in
   * proportion to their weight.
   */
  let day = 0;
  let before = 0;
  const timeAt = (f: number) => {
    const target = f * total;
    while (day < days - 1 && target >= before + weights[day]) before += weights[day++];
    return first + day * 86_400_000 + Math.floor(((target - before) / weights[day]) * 86_399_000);
  };
  const raw = new DatabaseSync(path);
  try {
    raw.exec(`PRAGMA journal_mode = WAL;
      CREATE TABLE audit_log (
        audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp TEXT NOT NULL,
        operation TEXT NOT NULL,
        sku TEXT,
        details TEXT,
        user TEXT DEFAULT 'system',
        run_id TEXT)`);
    const insert = raw.prepare(
      "INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id) VALUES (?, ?, ?, ?, ?, ?)",
    );
    raw.exec("BEGIN");
    let i = 0;
    let runStart = 0;
    for (const event of generateEvents(count)) {
      const at = timeAt(i / count);
      const time = new Date(at).toISOString();
      const position = i % runSize;
      const run = Math.floor(i / runSize);
      let { operation, sku, details } = event;
      const runId = runSize === EVENTS_PER_RUN ? event.run_id : runName(run);
      if (position === 0) {
        runStart = at;
        [operation, sku, details] = ["BATCH_START", null, `Nightly import ${run}`];
      } else if (position === runSize - 1 || i === count - 1) {
        details = formatBatchOutcome({
          exit_code: run % 10 === 3 ? 1 : 0,
          signal: null,
          error: null,
          duration_seconds: (at - runStart) / 1000,
        });
        [operation, sku] = ["BATCH_END", null];
      }
      insert.run(time, operation, sku, details, event.user, runId);
      i++;
    }
    raw.exec("COMMIT");
  } finally {
    raw.close();
  }
  using db = openDatabase(path, { cacheMiB: 256 });
  migrate(db);
}

/** The `sqlite3` shell's statements equivalent to `stats` (the same GROUP BY questions). */
export function statsPeerSql(): string {
  const ts = UTC_TIMESTAMP_SQL;
  return `SELECT count(*), min(${ts}), max(${ts}) FROM audit_log;
SELECT substr(${ts}, 1, 10) AS day, count(*) FROM audit_log GROUP BY day ORDER BY day;
SELECT operation, count(*) AS n FROM audit_log GROUP BY operation ORDER BY n DESC;
SELECT sku, count(*) AS n FROM audit_log WHERE sku IS NOT NULL GROUP BY sku ORDER BY n DESC LIMIT 10;
SELECT coalesce(user, 'system') AS u, count(*) AS n FROM audit_log GROUP BY u ORDER BY n DESC LIMIT 10;
SELECT count(DISTINCT run_id) FROM audit_log WHERE run_id IS NOT NULL;
SELECT run_id, details FROM audit_log WHERE operation = 'BATCH_END';
SELECT run_id, min(${ts}), max(${ts}) FROM audit_log
  WHERE operation IN ('BATCH_START', 'BATCH_END') GROUP BY run_id;
`;
}

/** What the viewer's cases need of the benchmark's context. */
export type ViewerContext =
  & Pick<
    BenchContext,
    "events" | "runs" | "longRuns" | "dir" | "cli" | "log" | "shared"
  >
  & { tools: Pick<BenchContext["tools"], "sqlite3"> };

/** Requests to the viewer (and runs of its peer), in turns. */
const REQUESTS = 200;

/** The database of the viewer's cases, built once per run and shared by them. */
function viewerDatabase(c: ViewerContext): Promise<string> {
  let made = c.shared.get("viewer.db") as Promise<string> | undefined;
  if (!made) {
    const path = join(c.dir, "viewer.db");
    c.log(`viewer: building ${c.events.toLocaleString("en-US")} events over ${SPAN_DAYS} days`);
    made = Promise.resolve().then(() => {
      buildSpreadDatabase(path, c.events);
      return path;
    });
    c.shared.set("viewer.db", made);
  }
  return made;
}

const events = (c: ViewerContext) => c.events.toLocaleString("en-US");

const statsCase: BenchCase = {
  id: "viewer-stats",
  groups: ["viewer"],
  figure: "stats (whole process)",
  peer: "sqlite3 shell, the same GROUP BYs",
  target: "≤ 2.0×",
  setup: async (c) => void await viewerDatabase(c),
  async run(c) {
    const db = await viewerDatabase(c);
    const figure = `stats, ${events(c)} events (whole process)`;
    if (!c.tools.sqlite3) return [skipped(figure, this.target, "sqlite3 is not installed")];
    const peerSql = join(c.dir, "stats_peer.sql");
    await Deno.writeTextFile(peerSql, statsPeerSql());
    const stats = await compare({
      ours: { command: c.cli("stats", "--db", db) },
      peer: { command: ["sqlite3", db], options: { stdinFile: peerSql } },
    }, c.runs);
    const counted = JSON.parse(stats.ours.stdout).events;
    if (counted !== c.events) throw new Error(`stats counted ${counted} events`);
    const line = ratioFigure(figure, stats.ours, stats.peer, this.peer, this.target, 2);
    return [{ ...line, ours: `${line.ours}, ${peak(stats.ours)}` }];
  },
};

const reportCase: BenchCase = {
  id: "viewer-report",
  groups: ["viewer"],
  figure: "report (whole process, chain verified)",
  peer: "verify alone",
  target: "a few seconds (≤ 5 s); < 3 MB",
  setup: async (c) => void await viewerDatabase(c),
  async run(c) {
    const db = await viewerDatabase(c);
    const file = join(c.dir, "report.html");
    const measured = await compare({
      ours: { command: c.cli("report", "--output", file, "--db", db) },
      verify: { command: c.cli("verify", "--db", db) },
    }, Math.max(c.longRuns, 3));
    const bytes = (await Deno.stat(file)).size;
    return [{
      figure: `report, ${events(c)} events (whole process, chain verified)`,
      ours: `${fmtMs(measured.ours.ms)}, ${(bytes / 1024).toFixed(0)} KB, ${peak(measured.ours)}`,
      peer: `${fmtMs(measured.verify.ms)} (verify alone)`,
      ratio: round(measured.ours.ms / measured.verify.ms),
      target: this.target,
      pass: measured.ours.ms <= 5000 && bytes < 3_000_000,
      raw: { ours: measured.ours, verify: measured.verify, bytes },
    }];
  },
};

const apiCase: BenchCase = {
  id: "viewer-api",
  groups: ["viewer"],
  figure: "viewer /api/events?sku=…&limit=100",
  peer: "sqlite3 shell process, the same SELECT",
  target: "faster than the peer (< 1.0×)",
  setup: async (c) => void await viewerDatabase(c),
  async run(c) {
    const db = await viewerDatabase(c);
    const figure = `viewer /api/events?sku=…&limit=100 (${events(c)} events)`;
    if (!c.tools.sqlite3) return [skipped(figure, this.target, "sqlite3 is not installed")];
    const sku = skuName(5);
    const expected = withDatabase(
      db,
      (raw) =>
        raw.prepare("SELECT count(*) AS n FROM audit_log WHERE sku = ?").get(sku)!.n as number,
    );
    const select = `SELECT audit_id, timestamp, operation, sku, details, user, run_id
      FROM audit_log WHERE sku = '${sku}' ORDER BY audit_id DESC LIMIT 100`;
    return await withViewer(c, db, async (url) => {
      const address = new URL(`/api/events?sku=${sku}&limit=100`, url);
      for (let i = 0; i < 5; i++) await (await fetch(address)).arrayBuffer(); // warm both workers
      const ours: number[] = [];
      const peer: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        let start = performance.now();
        const answered = await (await fetch(address)).json();
        ours.push(performance.now() - start);
        if (answered.length !== Math.min(100, expected)) {
          throw new Error(`the viewer answered ${answered.length} events`);
        }
        // The peer runs straight, without the shell and GNU time that run() adds.
        start = performance.now();
        const output = await new Deno.Command("sqlite3", {
          args: ["-json", db, select],
          stdout: "piped",
        }).output();
        peer.push(performance.now() - start);
        if (!output.success) throw new Error("sqlite3 failed");
      }
      return [{
        figure,
        ours: `${fmtMs(median(ours))} (median of ${ours.length} requests)`,
        peer: `${fmtMs(median(peer))} (${this.peer})`,
        ratio: round(median(ours) / median(peer)),
        target: this.target,
        pass: median(ours) < median(peer),
        raw: { ours_ms: ours.map((n) => round(n)), peer_ms: peer.map((n) => round(n)) },
      }];
    });
  },
};

const memoryCase: BenchCase = {
  id: "viewer-memory",
  groups: ["viewer"],
  figure: "viewer memory paging through every event 3 times",
  peer: "the pass before",
  target: "no growth pass after pass (3rd ≤ 2nd + 16 MB)",
  setup: async (c) => void await viewerDatabase(c),
  async run(c) {
    const db = await viewerDatabase(c);
    return await withViewer(c, db, async (url, pid) => {
      // Every event, 1,000 at a time by id cursor, three times: the server's memory after the
      // first pages and after each pass. V8 grows its heaps (the server's and a worker's)
      // through the first pass or two, to a size it then keeps; memory that grew with the pages
      // read would go on growing pass after pass.
      let early = 0;
      const passes: { kb: number; ms: number; pages: number }[] = [];
      for (let pass = 0; pass < 3; pass++) {
        let before: number | null = null;
        let pages = 0;
        const start = performance.now();
        for (;;) {
          const cursor = before === null ? "" : `&before_id=${before}`;
          const page = await (await fetch(new URL(`/api/events?limit=1000${cursor}`, url)))
            .json() as { audit_id: number }[];
          if (page.length === 0) break;
          before = page[page.length - 1].audit_id;
          if (++pages === 20 && pass === 0) early = rssKb(pid, "VmRSS");
        }
        passes.push({ kb: rssKb(pid, "VmRSS"), ms: performance.now() - start, pages });
      }
      const high = rssKb(pid, "VmHWM");
      const [first, second, third] = passes;
      return [{
        figure: `viewer memory paging through all ${events(c)} events 3 times (1,000 a page)`,
        ours: `${fmtMb(third.kb)} after the 3rd pass, ${fmtMb(high)} peak`,
        peer: `${fmtMb(second.kb)} after the 2nd (${fmtMb(first.kb)} after the 1st, ${
          fmtMb(early)
        } after 20 pages)`,
        ratio: round(third.kb / second.kb),
        target: this.target,
        pass: third.kb <= second.kb + 16 * 1024,
        note: `${first.pages} pages a pass, ${passes.map((p) => fmtMs(p.ms)).join(", ")}`,
        raw: { early_kb: early, passes, peak_kb: high },
      }];
    });
  },
};

/** The viewer's cases, for `deno task bench` (scripts/bench.ts loads them). */
export const cases: BenchCase[] = [statsCase, reportCase, apiCase, memoryCase];

/** Runs `work` with a viewer serving `db` (as a process of its own), then stops it. */
async function withViewer<T>(
  c: ViewerContext,
  db: string,
  work: (url: string, pid: number) => Promise<T>,
): Promise<T> {
  const [program, ...args] = c.cli("serve", "--port", "0", "--db", db);
  const server = new Deno.Command(program, { args, stdin: "null", stdout: "piped", stderr: "null" })
    .spawn();
  try {
    return await work(await firstLine(server.stdout), server.pid);
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

function withDatabase<T>(path: string, work: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return work(db);
  } finally {
    db.close();
  }
}

function peak(measured: Measured): string {
  return `${fmtMb(measured.rssKb)} peak`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** A figure of /proc/PID/status in KiB (Linux), or 0 where there is none. */
function rssKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the viewer stopped before printing its address");
    text += decoder.decode(value, { stream: true });
  }
  // The rest of its output is not read: let it go, so the pipe never fills.
  reader.releaseLock();
  stream.cancel().catch(() => {});
  return text.split("\n")[0];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string", default: "1000000" },
      runs: { type: "string", default: "5" },
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "audit-trail-bench-viewer-" });
  const encoder = new TextEncoder();
  const context: ViewerContext = {
    events: Number(values.events),
    runs: Number(values.runs),
    longRuns: 1,
    dir,
    cli: (...args) => [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, CLI, ...args],
    log: (text) => Deno.stderr.writeSync(encoder.encode(`bench: ${text}\n`)),
    shared: new Map(),
    tools: { sqlite3: await succeeds(["sqlite3", "-version"]) },
  };
  try {
    const lines = [
      "| figure | ours | peer | ratio | target | result | load |",
      "| --- | --- | --- | --- | --- | --- | --- |",
    ];
    for (const benchCase of cases) {
      await benchCase.setup?.(context as BenchContext);
      const before = loadAverage();
      const figures: Figure[] = await benchCase.run(context as BenchContext);
      const load = formatLoad([before, loadAverage()]);
      for (const f of figures) {
        const result = f.pass === null ? (f.note ?? "reported") : f.pass ? "pass" : "FAIL";
        lines.push(
          `| ${f.figure} | ${f.ours} | ${f.peer} | ${
            f.ratio === null ? "-" : `${f.ratio.toFixed(2)}×`
          } | ${f.target} | ${result}${
            f.note && f.pass !== null ? ` (${f.note})` : ""
          } | ${load} |`,
        );
      }
    }
    Deno.stdout.writeSync(encoder.encode(lines.join("\n") + "\n"));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
