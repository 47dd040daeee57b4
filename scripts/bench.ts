/**
 * `deno task bench`: audit-trail's speed measured beside its peers, in the same run.
 *
 * Generates a realistic event set (default 1,000,000 events: 5 operations, 5,000 SKUs,
 * 1,000 run ids), then times every figure against a peer doing the same work on the same
 * machine a moment apart, prints a table (figure, ours, peer, ratio, target, result) and
 * writes the same as JSON. Machines are noisy: ratios are the figures to read, short
 * measurements are the median of several runs taken in turns, and cost growth is shown by
 * measuring on 10,000 events as well. What the hash chain costs is measured in the same run
 * (scripts/bench_chain.ts): bulk ingest with and without it, `verify` of every event, and one
 * durable `log`.
 *
 * The command under test runs as `deno run <PERMISSION_FLAGS> cli.ts …`, the permissions the
 * compiled executable gets; `deno run` adds its own start-up time, which the bare Deno peer
 * (scripts/bench_bare.ts) pays too.
 *
 * Set-up (Debian/Ubuntu; every peer that is missing is skipped, and the table says so):
 *
 *     apt-get install -y sqlite3 zip sqlite-utils time python3
 *
 * - `sqlite3`: the SQLite shell, the near-limit peer for ingest (`.import`), CSV export and
 *   backups; `zip`: the compression peer of `bundle --compress`; `sqlite-utils`: a popular
 *   SQLite command line (`insert --nl`); `time`: GNU time, for peak memory.
 * - `python3`: runs the original Python design (`../shared/peers/original.py` beside the
 *   repository, or `--original PATH`). The system interpreter `/usr/bin/python3` is used when
 *   it exists: a version manager's shim (pyenv) adds about 90 ms to every start.
 *
 * Usage:
 *
 *     deno task bench                       # 1,000,000 events; several minutes
 *     deno task bench --events 20000        # a quick run
 *     deno task bench --runs 15 --out bench-results/mine.json --keep
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { PERMISSION_FLAGS } from "./permissions.ts";
import { EVENTS_PER_RUN, runName, skuName, writeEventFiles } from "./bench_data.ts";
import { compare, hasGnuTime, type Measured, run, succeeds, summarize } from "./bench_run.ts";
import { benchChainIngest, benchSingleLog, benchVerify } from "./bench_chain.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const CLI = join(ROOT, "cli.ts");
const BARE = join(ROOT, "scripts", "bench_bare.ts");
const SMALL = 10_000;
const ISO_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/** One line of the table. */
interface Figure {
  figure: string;
  ours: string;
  peer: string;
  ratio: number | null;
  target: string;
  /** `true` pass, `false` fail, `null` reported only or skipped. */
  pass: boolean | null;
  note?: string;
  raw?: Record<string, unknown>;
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    events: { type: "string", default: "1000000" },
    runs: { type: "string", default: "9" },
    out: { type: "string", default: join(ROOT, "bench-results", "latest.json") },
    original: { type: "string", default: join(ROOT, "..", "shared", "peers", "original.py") },
    keep: { type: "boolean", default: false },
  },
});
const EVENTS = Number(flags.events);
const RUNS = Number(flags.runs);
if (!Number.isSafeInteger(EVENTS) || EVENTS < 1000) throw new Error("--events must be ≥ 1000");
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error("--runs must be ≥ 1");
const LONG_RUNS = EVENTS >= 200_000 ? 1 : 3;
/** Rounds of the in-process ingest with and without the hash chain (a ratio needs several). */
const CHAIN_ROUNDS = EVENTS >= 200_000 ? 3 : 5;

const figures: Figure[] = [];
const encoder = new TextEncoder();
const log = (text: string) => Deno.stderr.writeSync(encoder.encode(`bench: ${text}\n`));
const fmtMs = (ms: number) => ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
const fmtMb = (kb: number | null) => kb === null ? "?" : `${(kb / 1024).toFixed(0)} MB`;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function add(figure: Figure) {
  figures.push(figure);
  const verdict = figure.pass === null ? "" : figure.pass ? "  pass" : "  FAIL";
  log(`${figure.figure}: ${figure.ours} vs ${figure.peer}${verdict}`);
}

function skip(figure: string, target: string, reason: string) {
  add({
    figure,
    ours: "-",
    peer: "-",
    ratio: null,
    target,
    pass: null,
    note: `skipped: ${reason}`,
  });
}

/** A figure compared with a peer: `ours / peer` against `limit` (`null`: reported only). */
function ratioFigure(
  figure: string,
  ours: Measured,
  peer: Measured,
  peerName: string,
  target: string,
  limit: number | null,
  note?: string,
) {
  const ratio = ours.ms / peer.ms;
  add({
    figure,
    ours: fmtMs(ours.ms),
    peer: `${fmtMs(peer.ms)} (${peerName})`,
    ratio: round(ratio),
    target,
    pass: limit === null ? null : ratio <= limit,
    note,
    raw: { ours, peer },
  });
}

const cli = (
  ...args: string[]
) => [Deno.execPath(), "run", "--quiet", ...PERMISSION_FLAGS, CLI, ...args];
const bare = (
  ...args: string[]
) => [Deno.execPath(), "run", "--quiet", "--allow-all", BARE, ...args];

async function copy(from: string, to: string) {
  await Deno.copyFile(from, to);
}

/** Merges the database's WAL into its file, so that the file alone can be copied. */
function checkpoint(path: string) {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

/** Bytes the database's pages take, after its WAL is merged into it. */
function databaseBytes(path: string): number {
  checkpoint(path);
  const db = new DatabaseSync(path);
  try {
    const pages = db.prepare("PRAGMA page_count").get()!.page_count as number;
    const free = db.prepare("PRAGMA freelist_count").get()!.freelist_count as number;
    const size = db.prepare("PRAGMA page_size").get()!.page_size as number;
    return (pages - free) * size;
  } finally {
    db.close();
  }
}

function count(path: string): number {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("SELECT count(*) AS n FROM audit_log").get()!.n as number;
  } finally {
    db.close();
  }
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------------------------------------

const tools = {
  sqlite3: await succeeds(["sqlite3", "-version"]),
  zip: await succeeds(["zip", "-v"]),
  sqliteUtils: await succeeds(["sqlite-utils", "--version"]),
  python: (await succeeds(["/usr/bin/python3", "--version"]))
    ? "/usr/bin/python3"
    : (await succeeds(["python3", "--version"]))
    ? "python3"
    : null,
  original: await Deno.stat(flags.original).then(() => true, () => false),
  gnuTime: await hasGnuTime(),
};
const loadBefore = loadAverage();
const dir = await Deno.makeTempDir({ prefix: "audit-trail-bench-" });
log(`${EVENTS.toLocaleString("en")} events, short figures the median of ${RUNS} runs; in ${dir}`);
log(`load average before: ${loadBefore}; peers: ${JSON.stringify(tools)}`);
const started = performance.now();

try {
  const p = (name: string) => join(dir, name);
  await writeEventFiles(EVENTS, p("events.ndjson"), p("events.csv"));
  await writeEventFiles(Math.min(SMALL, EVENTS), p("small.ndjson"), p("small.csv"));
  await run(cli("migrate", "--db", p("template.db")));

  // --- Bulk ingest ---------------------------------------------------------------------------
  const ingestOurs = [];
  const ingestPeer = [];
  const peerSql = (csv: string) =>
    `PRAGMA synchronous = FULL;
CREATE TEMP TABLE staging (operation, sku, details, user, run_id);
.import --csv --skip 1 --schema temp '${csv}' staging
BEGIN IMMEDIATE;
INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id)
  SELECT ${ISO_NOW}, operation, nullif(sku, ''), details, user, nullif(run_id, '')
  FROM temp.staging;
COMMIT;
`;
  await Deno.writeTextFile(p("import.sql"), peerSql(p("events.csv")));
  for (let i = 0; i < LONG_RUNS; i++) {
    await copy(p("template.db"), p("ours.db"));
    ingestOurs.push(
      await run(cli("log", "--stdin", "--db", p("ours.db")), { stdinFile: p("events.ndjson") }),
    );
    if (tools.sqlite3) {
      await copy(p("template.db"), p("peer.db"));
      ingestPeer.push(await run(["sqlite3", p("peer.db")], { stdinFile: p("import.sql") }));
      await Deno.remove(p("peer.db"));
    }
  }
  if (count(p("ours.db")) !== EVENTS) throw new Error("log --stdin did not store every event");
  const ours = summarize(ingestOurs);
  const rssOk = ours.rssKb === null || ours.rssKb <= 200 * 1024;
  if (tools.sqlite3) {
    const peer = summarize(ingestPeer);
    const ratio = ours.ms / peer.ms;
    add({
      figure: `bulk ingest, ${EVENTS.toLocaleString("en")} events (log --stdin, NDJSON)`,
      ours: `${fmtMs(ours.ms)}, ${fmtMb(ours.rssKb)} peak`,
      peer: `${fmtMs(peer.ms)} (sqlite3 .import of CSV)`,
      ratio: round(ratio),
      target: "≤ 1.0×, ≤ 200 MB",
      pass: ratio <= 1.0 && rssOk,
      raw: { ours, peer },
    });
  } else {
    skip("bulk ingest (log --stdin)", "≤ 1.0×", "sqlite3 is not installed");
  }
  await copy(p("template.db"), p("small.db"));
  await run(cli("log", "--stdin", "--db", p("small.db")), { stdinFile: p("small.ndjson") });

  // --- Tamper evidence: what the hash chain costs ----------------------------------------------
  // The ingest's peer is the same library call on a database without the chain (schema 2).
  const chainIngest = await benchChainIngest(p("events.ndjson"), EVENTS, dir, CHAIN_ROUNDS);
  add({
    figure: "bulk ingest with the hash chain (library, same events)",
    ours: fmtMs(chainIngest.with_chain_ms),
    peer: `${fmtMs(chainIngest.without_chain_ms)} (same ingest without the chain)`,
    ratio: round(chainIngest.ratio),
    target: "≤ 1.25×",
    pass: chainIngest.ratio <= 1.25,
    note: `median of ${CHAIN_ROUNDS} rounds each, in turns`,
    raw: { ...chainIngest },
  });
  // verify: 3 s for 1,000,000 events, in proportion (but never under half a second, which
  // start-up alone would take on a busy machine).
  const verifyLimit = Math.max(500, (3000 * EVENTS) / 1_000_000);
  const verified = await benchVerify(p("ours.db"), EVENTS);
  add({
    figure: `verify of every event (${EVENTS.toLocaleString("en")})`,
    ours: `${fmtMs(verified.cli_ms)}, ${fmtMb(verified.cli_rss_kb)} peak`,
    peer: `${fmtMs(verified.library_ms)} (verifyChain() in-process)`,
    ratio: null,
    target: `≤ ${fmtMs(verifyLimit)}`,
    pass: verified.cli_ms <= verifyLimit,
    raw: { ...verified },
  });
  const single = benchSingleLog(dir, RUNS * 20);
  add({
    figure: "one log, durable commit (library), with the hash chain",
    ours: `${single.with_chain_us} µs`,
    peer: `${single.without_chain_us} µs (without the chain)`,
    ratio: round(single.ratio),
    target: "unchanged (≤ 1.2×)",
    pass: single.ratio <= 1.2,
    note: `median of ${RUNS * 20} each, in turns`,
    raw: { ...single },
  });

  if (tools.python && tools.original) {
    const sample = Math.min(2000, EVENTS);
    await run([tools.python, flags.original, "migrate", p("original_bulk.db")]);
    const bulk = await run([
      tools.python,
      flags.original,
      "bulk",
      p("original_bulk.db"),
      `${sample}`,
    ]);
    const scaled = { ...bulk, ms: (bulk.ms * EVENTS) / sample };
    ratioFigure(
      "same ingest vs the original design (a commit per event)",
      ours,
      summarize([scaled]),
      `original.py bulk, ${sample.toLocaleString("en")} events scaled`,
      "reported",
      null,
    );
  } else {
    skip("same ingest vs original.py bulk", "reported", "python3 or original.py not found");
  }
  if (tools.sqliteUtils) {
    const sample = Math.min(100_000, EVENTS);
    const head = (await Deno.readTextFile(p("events.ndjson"))).split("\n").slice(0, sample);
    await Deno.writeTextFile(p("sample.ndjson"), head.join("\n") + "\n");
    await copy(p("template.db"), p("sqlite_utils.db"));
    const insert = await run(
      ["sqlite-utils", "insert", p("sqlite_utils.db"), "audit_log", p("sample.ndjson"), "--nl"],
    );
    ratioFigure(
      "same ingest vs sqlite-utils insert --nl",
      ours,
      summarize([{ ...insert, ms: (insert.ms * EVENTS) / sample }]),
      `sqlite-utils, ${sample.toLocaleString("en")} events scaled`,
      "reported",
      null,
    );
    await Deno.remove(p("sqlite_utils.db"));
    await Deno.remove(p("sample.ndjson"));
  } else {
    skip("same ingest vs sqlite-utils insert --nl", "reported", "sqlite-utils is not installed");
  }

  // The original design's schema holding the same events: the storage peer, and the
  // database original.py logs into.
  let originalBytes: number | null = null;
  if (tools.sqlite3 && tools.python && tools.original) {
    await run([tools.python, flags.original, "migrate", p("original.db")]);
    await Deno.writeTextFile(
      p("import_original.sql"),
      peerSql(p("events.csv")).replace(ISO_NOW, "CURRENT_TIMESTAMP"),
    );
    await run(["sqlite3", p("original.db")], { stdinFile: p("import_original.sql") });
    originalBytes = databaseBytes(p("original.db"));
  }

  // --- One event per process ---------------------------------------------------------------
  const logArgs = ["ORDER_CONFIRMED", "--sku", "SKU-00042", "--details", "Order ORD-123: 45 units"];
  const logAt = async (db: string) => {
    // The bare peer writes events without seals: it logs into a copy, so that the database
    // every later figure reads (and the bundle verifies) keeps an intact chain.
    const bareDb = db.replace(/\.db$/, "_bare.db");
    checkpoint(db);
    await copy(db, bareDb);
    return await compare({
      ours: { command: cli("log", ...logArgs, "--user", "bench", "--db", db) },
      bare: {
        command: bare(
          "log",
          bareDb,
          "ORDER_CONFIRMED",
          "SKU-00042",
          "Order ORD-123: 45 units",
          "bench",
        ),
      },
    }, RUNS);
  };
  const logBig = await logAt(p("ours.db"));
  ratioFigure(
    "one log process, start to exit",
    logBig.ours,
    logBig.bare,
    "bare Deno + node:sqlite",
    "≤ 1.3×",
    1.3,
  );
  if (tools.python && tools.original) {
    const python = await compare({
      original: {
        command: [
          tools.python,
          flags.original,
          "log",
          p("original.db"),
          ...logArgs,
          "--user",
          "bench",
        ],
      },
    }, RUNS);
    const faster = python.original.ms / logBig.ours.ms;
    add({
      figure: "one log process vs the original design",
      ours: fmtMs(logBig.ours.ms),
      peer: `${fmtMs(python.original.ms)} (original.py log, ${tools.python})`,
      ratio: round(logBig.ours.ms / python.original.ms),
      target: "ours ≥ 1.5× faster",
      pass: faster >= 1.5,
      note: faster >= 1
        ? `ours is ${round(faster)}× faster`
        : `ours is ${round(1 / faster)}× slower`,
      raw: { ours: logBig.ours, peer: python.original },
    });
  } else {
    skip("one log process vs original.py log", "≥ 1.5× faster", "python3 or original.py not found");
  }

  // --- Reads ---------------------------------------------------------------------------------
  const sku = skuName(0);
  const queryAt = async (db: string) =>
    await compare({
      ours: {
        command: cli("query", "--sku", sku, "--limit", "100", "--format", "json", "--db", db),
      },
      bare: { command: bare("query", db, sku, "100") },
    }, RUNS);
  const queryBig = await queryAt(p("ours.db"));
  ratioFigure(
    `query --sku X --limit 100 (${EVENTS.toLocaleString("en")} events)`,
    queryBig.ours,
    queryBig.bare,
    "bare Deno + node:sqlite",
    "≤ 1.5×",
    1.5,
    queryBig.ours.stdout === queryBig.bare.stdout ? "same output" : "OUTPUT DIFFERS",
  );

  const runCount = Math.ceil(EVENTS / EVENTS_PER_RUN);
  const runId = runName(Math.floor(runCount / 2));
  const batchAt = async (db: string, id: string) =>
    await compare({
      ours: { command: cli("batch", "show", id, "--format", "json", "--db", db) },
      bare: { command: bare("batch", db, id) },
    }, RUNS);
  const batchBig = await batchAt(p("ours.db"), runId);
  ratioFigure(
    `batch show of a ${EVENTS_PER_RUN.toLocaleString("en")}-event run`,
    batchBig.ours,
    batchBig.bare,
    "bare Deno + node:sqlite",
    "≤ 2.0×",
    2.0,
    batchBig.ours.stdout === batchBig.bare.stdout ? "same output" : "OUTPUT DIFFERS",
  );

  // Deep pages: the same 100 events near the oldest end, by offset and by cursor.
  const total = count(p("ours.db"));
  const offset = total - 150;
  const pages = await compare({
    first: { command: cli("query", "--limit", "100", "--db", p("ours.db")) },
    offset: {
      command: cli("query", "--offset", `${offset}`, "--limit", "100", "--db", p("ours.db")),
    },
    cursor: {
      command: cli(
        "query",
        "--before-id",
        `${total - offset + 1}`,
        "--limit",
        "100",
        "--db",
        p("ours.db"),
      ),
    },
  }, RUNS);
  ratioFigure(
    `deep page: --offset ${offset.toLocaleString("en")}`,
    pages.offset,
    pages.cursor,
    "--before-id cursor, same page",
    "reported",
    null,
    pages.offset.stdout === pages.cursor.stdout ? "same page" : "PAGES DIFFER",
  );
  ratioFigure(
    "deep page: --before-id cursor near the end",
    pages.cursor,
    pages.first,
    "first page",
    "flat (≤ 1.3×)",
    1.3,
  );

  // --- Export ----------------------------------------------------------------------------------
  const exportSql = "SELECT audit_id, timestamp, operation, sku, details, user, run_id " +
    "FROM audit_log ORDER BY audit_id DESC";
  const exportAt = async (db: string, times: number) =>
    await compare({
      ours: {
        command: cli("query", "--limit", "0", "--format", "csv", "--db", db),
        options: { stdoutFile: p("ours.csv") },
      },
      ...(tools.sqlite3
        ? {
          peer: {
            command: ["sqlite3", "-csv", "-header", db, exportSql],
            options: { stdoutFile: p("peer.csv") },
          },
        }
        : {}),
    }, times);
  const exportBig = await exportAt(p("ours.db"), LONG_RUNS === 1 ? 3 : RUNS);
  const exportSmall = await exportAt(p("small.db"), RUNS);
  const flat = exportBig.ours.rssKb === null || exportSmall.ours.rssKb === null ||
    exportBig.ours.rssKb <= exportSmall.ours.rssKb + 64 * 1024;
  if (tools.sqlite3) {
    const ratio = exportBig.ours.ms / exportBig.peer.ms;
    add({
      figure: "query --limit 0 --format csv (every event)",
      ours: `${fmtMs(exportBig.ours.ms)}, ${fmtMb(exportBig.ours.rssKb)} peak (${
        fmtMb(exportSmall.ours.rssKb)
      } at ${SMALL.toLocaleString("en")})`,
      peer: `${fmtMs(exportBig.peer.ms)} (sqlite3 -csv)`,
      ratio: round(ratio),
      target: "≤ 2.0×; memory flat",
      pass: ratio <= 2.0 && flat,
      raw: { ours: exportBig.ours, peer: exportBig.peer, oursSmall: exportSmall.ours },
    });
  } else {
    skip("query --limit 0 --format csv", "≤ 2.0×", "sqlite3 is not installed");
  }
  await Deno.remove(p("ours.csv")).catch(() => {});
  await Deno.remove(p("peer.csv")).catch(() => {});

  // --- Bundle ----------------------------------------------------------------------------------
  const bundleTarget = "time ≤ 1.5×, ZIP ≤ 1.25×";
  if (!(await succeeds(cli("bundle", "--help")))) {
    skip("bundle --compress", bundleTarget, "this build has no bundle command");
  } else if (!tools.sqlite3 || !tools.zip) {
    skip("bundle --compress", bundleTarget, "sqlite3 or zip is not installed");
  } else {
    const oursTimes = [];
    const peerTimes = [];
    let oursZip = 0;
    let peerZip = 0;
    for (let i = 0; i < LONG_RUNS; i++) {
      await Deno.remove(p("bundles"), { recursive: true }).catch(() => {});
      await Deno.remove(p("peer_bundle"), { recursive: true }).catch(() => {});
      const made = await run(
        cli("bundle", "--compress", "--output", p("bundles"), "--db", p("ours.db")),
      );
      oursTimes.push(made);
      oursZip = (await Deno.stat(made.stdout.trim())).size;
      await Deno.mkdir(p("peer_bundle/debug_bundle"), { recursive: true });
      peerTimes.push(
        await run([
          "sh",
          "-c",
          `sqlite3 "$1" ".backup '$2/debug_bundle/database_backup.db'" && cd "$2" && zip -6 -q -r bundle.zip debug_bundle`,
          "sh",
          p("ours.db"),
          p("peer_bundle"),
        ]),
      );
      peerZip = (await Deno.stat(p("peer_bundle/bundle.zip"))).size;
    }
    const ours = summarize(oursTimes);
    const peer = summarize(peerTimes);
    const timeRatio = ours.ms / peer.ms;
    const sizeRatio = oursZip / peerZip;
    add({
      figure: "bundle --compress",
      ours: `${fmtMs(ours.ms)}, ZIP ${(oursZip / 1048576).toFixed(1)} MB`,
      peer: `${fmtMs(peer.ms)}, ZIP ${
        (peerZip / 1048576).toFixed(1)
      } MB (sqlite3 .backup + zip -6)`,
      ratio: round(timeRatio),
      target: bundleTarget,
      pass: timeRatio <= 1.5 && sizeRatio <= 1.25,
      note: `ZIP size ${round(sizeRatio)}×`,
      raw: { ours, peer, oursZip, peerZip },
    });
    await Deno.remove(p("bundles"), { recursive: true }).catch(() => {});
    await Deno.remove(p("peer_bundle"), { recursive: true }).catch(() => {});
  }

  // --- Storage ---------------------------------------------------------------------------------
  const oursBytes = databaseBytes(p("ours.db"));
  const perEvent = oursBytes / total;
  if (originalBytes !== null) {
    const originalPerEvent = originalBytes / EVENTS;
    add({
      figure: "storage per event",
      ours: `${perEvent.toFixed(0)} B`,
      peer: `${originalPerEvent.toFixed(0)} B (original schema, same events)`,
      ratio: round(perEvent / originalPerEvent),
      target: "reported",
      pass: null,
      raw: { oursBytes, originalBytes, events: EVENTS },
    });
  } else {
    add({
      figure: "storage per event",
      ours: `${perEvent.toFixed(0)} B`,
      peer: "-",
      ratio: null,
      target: "reported",
      pass: null,
      note: "original schema not built: sqlite3, python3 or original.py missing",
    });
  }

  // --- Growth: the same work on 10,000 events ------------------------------------------------
  if (EVENTS > SMALL) {
    const smallDb = p("small.db");
    const grow = (figure: string, small: Measured, big: Measured) =>
      ratioFigure(
        `growth: ${figure}, ${SMALL.toLocaleString("en")} → ${EVENTS.toLocaleString("en")} events`,
        big,
        small,
        `at ${SMALL.toLocaleString("en")}`,
        "flat (≤ 1.3×)",
        1.3,
      );
    const logSmall = await logAt(smallDb);
    grow("log", logSmall.ours, logBig.ours);
    const querySmall = await queryAt(smallDb);
    grow("query --sku X --limit 100", querySmall.ours, queryBig.ours);
    const batchSmall = await batchAt(smallDb, runName(Math.floor(SMALL / EVENTS_PER_RUN / 2)));
    grow("batch show (1,000 events)", batchSmall.ours, batchBig.ours);
    const cursorSmall = await compare({
      cursor: { command: cli("query", "--before-id", "151", "--limit", "100", "--db", smallDb) },
    }, RUNS);
    grow("--before-id cursor page", cursorSmall.cursor, pages.cursor);
  }
} finally {
  if (!flags.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
}

// --- Report ----------------------------------------------------------------------------------
const loadAfter = loadAverage();
const header = ["figure", "ours", "peer", "ratio", "target", "result"];
const rows = figures.map((f) => [
  f.figure,
  f.ours,
  f.peer,
  f.ratio === null ? "-" : `${f.ratio.toFixed(2)}×`,
  f.target,
  (f.pass === null
    ? (f.note?.startsWith("skipped") ? "skipped" : "reported")
    : f.pass
    ? "pass"
    : "FAIL") +
  (f.note && !f.note.startsWith("skipped")
    ? ` (${f.note})`
    : f.note
    ? ` (${f.note.slice(9)})`
    : ""),
]);
const table = [header, header.map(() => "---"), ...rows]
  .map((cells) => `| ${cells.join(" | ")} |`).join("\n");
const machine = {
  cpus: navigator.hardwareConcurrency,
  load_average_before: loadBefore,
  load_average_after: loadAfter,
  deno: Deno.version.deno,
  sqlite: new DatabaseSync(":memory:").prepare("SELECT sqlite_version() AS v").get()!.v,
  os: `${Deno.build.os} ${Deno.build.arch}`,
};
const report = {
  events: EVENTS,
  runs: RUNS,
  seconds: round((performance.now() - started) / 1000, 1),
  date: new Date().toISOString(),
  machine,
  peers: tools,
  figures,
};
await Deno.mkdir(dirname(flags.out), { recursive: true });
await Deno.writeTextFile(flags.out, JSON.stringify(report, null, 2) + "\n");
const summary =
  `${
    EVENTS.toLocaleString("en")
  } events; ${machine.cpus} CPUs, load ${loadBefore} → ${loadAfter}; ` +
  `Deno ${machine.deno}, SQLite ${machine.sqlite}; ${report.seconds} s`;
await Deno.stdout.write(encoder.encode(`${table}\n\n${summary}\nJSON: ${flags.out}\n`));
