/**
 * `deno task bench`: audit-trail's speed measured beside its peers, in the same run.
 *
 * The benchmark is a table of cases ({@linkcode CASES}): each names what it measures, the peer
 * doing the same work, and its target, and measures both in the same run, taking turns (ours,
 * peer, ours, peer, …) so that a change in the machine's load falls on both alike. Short figures
 * are the median of several runs, never the best; every line of the table carries the ratio to
 * its peer and the load average seen while it was measured (from /proc/loadavg). The table is
 * printed and written as JSON.
 *
 * The data is the harder case a real warehouse has: by default 1,000,000 events, every one with
 * a user (25 of them) and one of 1,000 run ids (1,000 events each), 5,000 SKUs, realistic details
 * (scripts/bench_data.ts). The start-up figures (`log`, `query --sku`, `batch show`) are measured
 * cold, as the first command after a while finds the page cache (see `--cold`), and warm; the
 * targets hold for both.
 *
 * The command under test is the built program the executable is compiled from (`deno task
 * build`, into dist/js), run as `deno run <RUNTIME_FLAGS> dist/js/cli_build.js …` with the
 * flags the executable gets; `deno run` adds its own start-up time, which the bare Deno peer
 * (scripts/bench_bare.ts: `node:sqlite` and the same statement, nothing else, run with the
 * same flags) pays too. For the start-up figures, both run with `--no-config`, as the executable
 * starts: it reads no `deno.json` or `deno.lock` (`deno compile` resolved them when it made it).
 * The start-up figures also show `deno run cli.ts`, the program run from its source.
 *
 * Scripts of their own may add or replace cases: `scripts/bench_bundle.ts`,
 * `scripts/bench_export.ts`, `scripts/bench_viewer.ts` and `scripts/bench_archive.ts`, where they
 * exist, are loaded and their exported `cases` (`BenchCase[]`, scripts/bench_run.ts) join the
 * table; one with the id of a case here takes its place. What the hash chain costs comes from
 * scripts/bench_chain.ts.
 *
 * Set-up (Debian/Ubuntu; every peer that is missing is skipped, and the table says so):
 *
 *     apt-get install -y sqlite3 zip sqlite-utils time python3
 *
 * - `sqlite3`: the SQLite shell, the near-limit peer for ingest (`.import`), CSV export and
 *   backups; `zip`: the compression peer of `bundle --compress`; `sqlite-utils`: a popular
 *   SQLite command line (`insert --nl`); `time`: GNU time, for peak memory.
 * - `python3`: runs the original Python design (`../shared/peers/original.py` beside the
 *   repository or a folder above it, or `--original PATH`), and drops files from the page cache
 *   for cold runs. The system interpreter `/usr/bin/python3` is used when it exists: a version
 *   manager's shim (pyenv) adds about 90 ms to every start.
 *
 * Usage:
 *
 *     deno task bench                        # 1,000,000 events; several minutes
 *     deno task bench --events 20000         # a quick run
 *     deno task bench --only startup         # log, query --sku, batch show (and the data)
 *     deno task bench --runs 15 --cold system --out bench-results/mine.json --keep
 *
 * `--cold files` (default) drops the database and the programs' own files from the page cache
 * before each cold run (no root needed); `--cold system` drops every cache the kernel lets go
 * (`/proc/sys/vm/drop_caches`, root only; falls back to `files`, and says so); `--cold off`
 * measures warm only. The start-up figures' Deno processes keep their code cache and emitted
 * code in a DENO_DIR of their own in the scratch folder, filled by a first run of each, and
 * dropped whole: this process maps the caches of the DENO_DIR it runs with, and the kernel keeps
 * a mapped page whatever it is asked, so a shared one would be read warm on every cold run.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";
import { build, type BuildResult } from "./build.ts";
import { EVENTS_PER_RUN, runName, skuName, writeEventFiles } from "./bench_data.ts";
import {
  type BenchCase,
  type BenchContext,
  bundlePeerCommand,
  type ColdMethod,
  compare,
  type Figure,
  filesBelow,
  fmtMb,
  fmtMs,
  formatLoad,
  hasGnuTime,
  loadAverage,
  type Measured,
  pageCache,
  ratioFigure,
  round,
  run,
  skipped,
  succeeds,
  summarize,
  type Tools,
} from "./bench_run.ts";
import { benchChainIngest, benchSingleLog, benchVerify } from "./bench_chain.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const ISO_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
/** Scripts that may export `cases` of their own. */
const HOOKS = ["bench_bundle.ts", "bench_export.ts", "bench_viewer.ts", "bench_archive.ts"];

// --- Cases -----------------------------------------------------------------------------------

/** The `sqlite3` script that imports `csv` into our own schema, as one durable transaction. */
function importSql(csv: string, timestamp = ISO_NOW): string {
  return `PRAGMA synchronous = FULL;
CREATE TEMP TABLE staging (operation, sku, details, user, run_id);
.import --csv --skip 1 --schema temp '${csv}' staging
BEGIN IMMEDIATE;
INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id)
  SELECT ${timestamp}, operation, nullif(sku, ''), details, user, nullif(run_id, '')
  FROM temp.staging;
COMMIT;
`;
}

const ingest: BenchCase = {
  id: "ingest",
  groups: ["ingest"],
  figure: "bulk ingest (log --stdin, NDJSON)",
  peer: "sqlite3 .import of the same events as CSV into our own schema",
  target: "≤ 1.2×, ≤ 200 MB",
  async run(c) {
    const figure = `bulk ingest, ${c.events.toLocaleString("en")} events (log --stdin, NDJSON)`;
    const files = await c.eventFiles("large");
    const template = await templateDatabase(c);
    await Deno.writeTextFile(c.path("import.sql"), importSql(files.csv));
    const ours = [];
    const peer = [];
    // Three rounds at any size: one run of each side was at the mercy of one slow moment (a
    // run at 1.65× beside runs at 1.08-1.10×, once). The input was just written: its pages
    // reach the disk first, not during a round.
    const rounds = Math.max(3, c.longRuns);
    await run(["sync"]).catch(() => {});
    for (let i = 0; i < rounds; i++) {
      await Deno.copyFile(template, c.path("ingested.db"));
      ours.push(
        await run(c.cli("log", "--stdin", "--db", c.path("ingested.db")), {
          stdinFile: files.ndjson,
        }),
      );
      if (c.tools.sqlite3) {
        await Deno.copyFile(template, c.path("peer.db"));
        peer.push(await run(["sqlite3", c.path("peer.db")], { stdinFile: c.path("import.sql") }));
        await Deno.remove(c.path("peer.db"));
      }
    }
    if (count(c.path("ingested.db")) !== c.events) {
      throw new Error("log --stdin did not store every event");
    }
    c.adoptDatabase(c.path("ingested.db"));
    const o = summarize(ours);
    c.shared.set("ingest", o);
    if (!c.tools.sqlite3) return [skipped(figure, this.target, "sqlite3 is not installed")];
    const p = summarize(peer);
    const ratio = o.ms / p.ms;
    return [{
      figure,
      ours: `${fmtMs(o.ms)}, ${fmtMb(o.rssKb)} peak`,
      peer: `${fmtMs(p.ms)} (sqlite3 .import of CSV)`,
      ratio: round(ratio),
      target: this.target,
      pass: ratio <= 1.2 && (o.rssKb === null || o.rssKb <= 200 * 1024),
      note: `median of ${rounds} each, in turns`,
      raw: { ours: o, peer: p },
    }];
  },
};

const chainIngest: BenchCase = {
  id: "chain",
  groups: ["ingest"],
  figure: "bulk ingest with the hash chain (library, same events)",
  peer: "the same ingest without the chain",
  target: "≤ 1.25×",
  async run(c) {
    const rounds = c.events >= 200_000 ? 3 : 5;
    const r = await benchChainIngest((await c.eventFiles("large")).ndjson, c.events, c.dir, rounds);
    return [{
      figure: this.figure,
      ours: fmtMs(r.with_chain_ms),
      peer: `${fmtMs(r.without_chain_ms)} (same ingest without the chain)`,
      ratio: round(r.ratio),
      target: this.target,
      pass: r.ratio <= 1.25,
      note: `median of ${rounds} rounds each, in turns`,
      raw: { ...r },
    }];
  },
};

const verify: BenchCase = {
  id: "verify",
  figure: "verify of every event",
  peer: "verifyChain() in-process",
  target: "≤ 3 s per 1,000,000 events",
  async run(c) {
    // In proportion, but never under half a second, which start-up alone takes on a busy machine.
    const limit = Math.max(500, (3000 * c.events) / 1_000_000);
    const r = await benchVerify(await c.database("large"), c.events);
    return [{
      figure: `verify of every event (${c.events.toLocaleString("en")})`,
      ours: `${fmtMs(r.cli_ms)}, ${fmtMb(r.cli_rss_kb)} peak`,
      peer: `${fmtMs(r.library_ms)} (verifyChain() in-process)`,
      ratio: null,
      target: `≤ ${fmtMs(limit)}`,
      pass: r.cli_ms <= limit,
      raw: { ...r },
    }];
  },
};

const singleLogLibrary: BenchCase = {
  id: "seal",
  figure: "one log, durable commit (library), with the hash chain",
  peer: "the same without the chain",
  target: "unchanged (≤ 1.2×)",
  run(c) {
    const count = c.runs * 20;
    const r = benchSingleLog(c.dir, count);
    return Promise.resolve([{
      figure: this.figure,
      ours: `${r.with_chain_us} µs`,
      peer: `${r.without_chain_us} µs (without the chain)`,
      ratio: round(r.ratio),
      target: this.target,
      pass: r.ratio <= 1.2,
      note: `median of ${count} each, in turns`,
      raw: { ...r },
    }]);
  },
};

const ingestVsOriginal: BenchCase = {
  id: "ingest-original",
  groups: ["ingest"],
  figure: "same ingest vs the original design (a commit per event)",
  peer: "original.py bulk, scaled",
  target: "reported",
  async run(c) {
    const bulk = c.original("bulk", c.path("original_bulk.db"), `${Math.min(2000, c.events)}`);
    if (!bulk) return [skipped(this.figure, this.target, "python3 or original.py not found")];
    const sample = Math.min(2000, c.events);
    await run(c.original("migrate", c.path("original_bulk.db"))!);
    const peer = await run(bulk);
    // The ingest case's measurement of the same events, or one of our own.
    let ours = c.shared.get("ingest") as Measured | undefined;
    if (!ours) {
      const db = await freshCopy(c, "ingest_o.db");
      ours = summarize([
        await run(c.cli("log", "--stdin", "--db", db), {
          stdinFile: (await c.eventFiles("large")).ndjson,
        }),
      ]);
      await Deno.remove(db);
    }
    return [ratioFigure(
      this.figure,
      ours,
      summarize([{ ...peer, ms: (peer.ms * c.events) / sample }]),
      `original.py bulk, ${sample.toLocaleString("en")} events scaled`,
      this.target,
      null,
    )];
  },
};

const ingestVsSqliteUtils: BenchCase = {
  id: "ingest-sqlite-utils",
  groups: ["ingest"],
  figure: "same ingest vs sqlite-utils insert --nl",
  peer: "sqlite-utils, scaled",
  target: "reported",
  async run(c) {
    if (!c.tools.sqliteUtils) {
      return [skipped(this.figure, this.target, "sqlite-utils is not installed")];
    }
    const sample = Math.min(100_000, c.events);
    const lines = (await Deno.readTextFile((await c.eventFiles("large")).ndjson)).split("\n");
    await Deno.writeTextFile(c.path("sample.ndjson"), lines.slice(0, sample).join("\n") + "\n");
    // Both sides load the same sample into the same (empty, migrated) schema.
    const peerDb = await freshCopy(c, "sqlite_utils.db");
    const oursDb = await freshCopy(c, "ingest_u.db");
    const peer = await run([
      "sqlite-utils",
      "insert",
      peerDb,
      "audit_log",
      c.path("sample.ndjson"),
      "--nl",
    ]);
    const ours = await run(c.cli("log", "--stdin", "--db", oursDb), {
      stdinFile: c.path("sample.ndjson"),
    });
    for (const file of [peerDb, oursDb, c.path("sample.ndjson")]) await Deno.remove(file);
    return [ratioFigure(
      this.figure,
      summarize([ours]),
      summarize([peer]),
      `sqlite-utils, ${sample.toLocaleString("en")} events`,
      this.target,
      null,
    )];
  },
};

/** Where one start-up case's commands read and write. */
interface StartupDatabases {
  ours: string;
  bare: string;
  original: string | null;
}

/**
 * A start-up figure: one process of ours beside the bare Deno script and the original design
 * doing the same, cold and warm, in turns.
 */
function startupCase(spec: {
  id: string;
  figure: string;
  /** ours / bare at most. */
  bareLimit: number;
  /** Ours at least this many times faster than original.py (`null`: reported). */
  originalFaster: number | null;
  databases(c: BenchContext): Promise<StartupDatabases>;
  /** Our command's arguments (after the program). */
  args(c: BenchContext, db: string): string[];
  bare(c: BenchContext, db: string): string[];
  original(c: BenchContext, db: string): string[] | null;
  /** Whether ours and the bare script print the same (read commands do). */
  sameOutput: boolean;
}): BenchCase {
  const target = `≤ ${spec.bareLimit}× bare` +
    (spec.originalFaster ? `, ≥ ${spec.originalFaster}× faster than original.py` : "");
  return {
    id: spec.id,
    groups: ["startup"],
    figure: spec.figure,
    peer: "bare Deno + node:sqlite (scripts/bench_bare.ts); original.py",
    target,
    async run(c) {
      const dbs = await spec.databases(c);
      const dbFiles = [dbs.ours, dbs.bare, dbs.original]
        .filter((db): db is string => db !== null)
        .flatMap((db) => [db, `${db}-wal`, `${db}-shm`]);
      const options = { env: c.startupEnv };
      const deno = {
        ours: { command: c.cliAsExecutable(...spec.args(c, dbs.ours)), options },
        bare: { command: spec.bare(c, dbs.bare), options },
        source: { command: c.cliSource(...spec.args(c, dbs.ours)), options },
      };
      // A first run of each fills the DENO_DIR of the start-up figures (code cache, emitted
      // code), as any run of the executable after its first finds its own code cache.
      await compare(deno, 1);
      const coldFiles = [...dbFiles, ...c.programFiles()];
      const figures: Figure[] = [];
      const modes = c.cache.method === "off" ? ["warm"] : ["cold", "warm"];
      for (const mode of modes) {
        const before = mode === "cold" ? () => c.cache.drop(coldFiles) : undefined;
        // What a drop leaves of the database in the cache, to show that cold runs are cold.
        await before?.();
        const cached = mode === "cold" ? await c.cache.cachedPercent(dbs.ours) : null;
        const original = spec.original(c, dbs.original ?? "");
        const measured = await compare({
          ours: { ...deno.ours, before },
          bare: { ...deno.bare, before },
          ...(original && dbs.original ? { original: { command: original, before } } : {}),
          source: { ...deno.source, before },
        }, c.runs);
        const notes = [
          `median of ${c.runs}, in turns`,
          ...(cached === null ? [] : [`database ${cached}% cached after the drop`]),
          ...(spec.sameOutput
            ? [measured.ours.stdout === measured.bare.stdout ? "same output" : "OUTPUT DIFFERS"]
            : []),
        ];
        const differs = notes.includes("OUTPUT DIFFERS");
        const line = ratioFigure(
          `${spec.figure}, ${mode}`,
          measured.ours,
          measured.bare,
          "bare Deno + node:sqlite",
          `≤ ${spec.bareLimit}×`,
          spec.bareLimit,
          notes.join("; "),
        );
        figures.push({ ...line, pass: line.pass && !differs });
        figures.push(ratioFigure(
          `${spec.figure}, ${mode}, run from source (deno run cli.ts)`,
          measured.source,
          measured.bare,
          "bare Deno + node:sqlite",
          "reported",
          null,
          `median of ${c.runs}, in turns; the executable is compiled from the built program`,
        ));
        if (!measured.original) {
          figures.push(
            skipped(
              `${spec.figure}, ${mode}, vs original.py`,
              target,
              "python3 or original.py not found",
            ),
          );
          continue;
        }
        const faster = measured.original.ms / measured.ours.ms;
        // What Deno itself allows: the bare script does the least any Deno program can.
        const bareFaster = measured.original.ms / measured.bare.ms;
        figures.push({
          ...ratioFigure(
            `${spec.figure}, ${mode}, vs the original design`,
            measured.ours,
            measured.original,
            `original.py, ${c.tools.python}`,
            spec.originalFaster ? `ours ≥ ${spec.originalFaster}× faster` : "reported",
            null,
          ),
          pass: spec.originalFaster ? faster >= spec.originalFaster : null,
          // Rounded towards "slower", so that the factor printed is on the same side of its
          // target as the one measured: 1.4955 is "1.49× faster" beside a FAIL, not "1.5×".
          note: `${
            faster >= 1
              ? `ours is ${Math.floor(faster * 100) / 100}× faster`
              : `ours is ${Math.ceil(100 / faster) / 100}× slower`
          }; the bare Deno script is ${Math.floor(bareFaster * 100) / 100}× faster`,
        });
      }
      return figures;
    },
  };
}

const LOG_ARGS = ["ORDER_CONFIRMED", "SKU-00042", "Order ORD-123: 45 units", "bench"] as const;

const logProcess = startupCase({
  id: "log",
  figure: "one log process, start to exit",
  bareLimit: 1.3,
  originalFaster: 1.5,
  async databases(c) {
    // The bare peer writes events without seals: it logs into a copy, so that the database
    // every later figure reads keeps an intact chain.
    const ours = await c.database("large");
    checkpoint(ours);
    const bare = c.path("log_bare.db");
    await Deno.copyFile(ours, bare);
    return { ours, bare, original: await c.originalDatabase() };
  },
  args: (_c, db) => {
    const [operation, sku, details, user] = LOG_ARGS;
    return ["log", operation, "--sku", sku, "--details", details, "--user", user, "--db", db];
  },
  bare: (c, db) => c.bare("log", db, ...LOG_ARGS),
  original: (c, db) => {
    const [operation, sku, details, user] = LOG_ARGS;
    return c.original("log", db, operation, "--sku", sku, "--details", details, "--user", user);
  },
  sameOutput: false,
});

const querySku = startupCase({
  id: "query",
  figure: "query --sku X --limit 100",
  bareLimit: 1.5,
  originalFaster: null,
  async databases(c) {
    const ours = await c.database("large");
    return { ours, bare: ours, original: await c.originalDatabase() };
  },
  args: (
    _c,
    db,
  ) => ["query", "--sku", skuName(0), "--limit", "100", "--format", "json", "--db", db],
  bare: (c, db) => c.bare("query", db, skuName(0), "100"),
  original: (c, db) => c.original("query", db, "--sku", skuName(0), "--limit", "100"),
  sameOutput: true,
});

/** A run id in the middle of the large event set. */
const middleRun = (c: BenchContext) =>
  runName(Math.floor(Math.ceil(c.events / EVENTS_PER_RUN) / 2));

const batchShow = startupCase({
  id: "batch",
  figure: `batch show of a ${EVENTS_PER_RUN.toLocaleString("en")}-event run`,
  bareLimit: 2.0,
  originalFaster: null,
  async databases(c) {
    const ours = await c.database("large");
    return { ours, bare: ours, original: await c.originalDatabase() };
  },
  args: (c, db) => ["batch", "show", middleRun(c), "--format", "json", "--db", db],
  bare: (c, db) => c.bare("batch", db, middleRun(c)),
  original: (c, db) => c.original("batch", db, middleRun(c)),
  sameOutput: true,
});

const deepPages: BenchCase = {
  id: "pages",
  figure: "deep pages: --offset and --before-id near the oldest events",
  peer: "the same page by cursor; the first page",
  target: "cursor flat (≤ 1.3× the first page)",
  async run(c) {
    const db = await c.database("large");
    const total = count(db);
    const offset = total - 150;
    const m = await compare({
      first: { command: c.cli("query", "--limit", "100", "--db", db) },
      offset: { command: c.cli("query", "--offset", `${offset}`, "--limit", "100", "--db", db) },
      cursor: {
        command: c.cli(
          "query",
          "--before-id",
          `${total - offset + 1}`,
          "--limit",
          "100",
          "--db",
          db,
        ),
      },
    }, c.runs);
    return [
      ratioFigure(
        `deep page: --offset ${offset.toLocaleString("en")}`,
        m.offset,
        m.cursor,
        "--before-id cursor, same page",
        "reported",
        null,
        m.offset.stdout === m.cursor.stdout ? "same page" : "PAGES DIFFER",
      ),
      ratioFigure(
        "deep page: --before-id cursor near the end",
        m.cursor,
        m.first,
        "first page",
        "flat (≤ 1.3×)",
        1.3,
      ),
    ];
  },
};

const csvExport: BenchCase = {
  id: "csv",
  figure: "query --limit 0 --format csv (every event)",
  peer: "sqlite3 -csv",
  target: "≤ 2.0×; memory flat",
  async run(c) {
    if (!c.tools.sqlite3) return [skipped(this.figure, this.target, "sqlite3 is not installed")];
    const sql = "SELECT audit_id, timestamp, operation, sku, details, user, run_id " +
      "FROM audit_log ORDER BY audit_id DESC";
    const exportAt = async (db: string, times: number) =>
      await compare({
        ours: {
          command: c.cli("query", "--limit", "0", "--format", "csv", "--db", db),
          options: { stdoutFile: c.path("ours.csv") },
        },
        peer: {
          command: ["sqlite3", "-csv", "-header", db, sql],
          options: { stdoutFile: c.path("peer.csv") },
        },
      }, times);
    const big = await exportAt(await c.database("large"), c.longRuns === 1 ? 3 : c.runs);
    const small = await exportAt(await c.database("small"), c.runs);
    await Deno.remove(c.path("ours.csv")).catch(() => {});
    await Deno.remove(c.path("peer.csv")).catch(() => {});
    const flat = big.ours.rssKb === null || small.ours.rssKb === null ||
      big.ours.rssKb <= small.ours.rssKb + 64 * 1024;
    const ratio = big.ours.ms / big.peer.ms;
    return [{
      figure: this.figure,
      ours: `${fmtMs(big.ours.ms)}, ${fmtMb(big.ours.rssKb)} peak (${fmtMb(small.ours.rssKb)} at ${
        c.smallEvents.toLocaleString("en")
      })`,
      peer: `${fmtMs(big.peer.ms)} (sqlite3 -csv)`,
      ratio: round(ratio),
      target: this.target,
      pass: ratio <= 2.0 && flat,
      raw: { ours: big.ours, peer: big.peer, oursSmall: small.ours },
    }];
  },
};

const bundleCompress: BenchCase = {
  id: "bundle",
  figure: "bundle --compress",
  peer: "sqlite3 .backup + zip -6",
  target: "time ≤ 1.5×, ZIP ≤ 1.25×",
  async run(c) {
    if (!c.tools.sqlite3 || !c.tools.zip) {
      return [skipped(this.figure, this.target, "sqlite3 or zip is not installed")];
    }
    const db = await c.database("large");
    const out = c.path("bundles");
    const peerOut = c.path("peer_bundle");
    const oursTimes = [];
    const peerTimes = [];
    let oursZip = 0;
    let peerZip = 0;
    for (let i = 0; i < c.longRuns; i++) {
      await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.remove(peerOut, { recursive: true }).catch(() => {});
      const made = await run(c.cli("bundle", "--compress", "--output", out, "--db", db));
      oursTimes.push(made);
      oursZip = (await Deno.stat(made.stdout.trim())).size;
      await Deno.mkdir(join(peerOut, "debug_bundle"), { recursive: true });
      peerTimes.push(
        await run(bundlePeerCommand(db, peerOut)),
      );
      peerZip = (await Deno.stat(join(peerOut, "bundle.zip"))).size;
    }
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await Deno.remove(peerOut, { recursive: true }).catch(() => {});
    const ours = summarize(oursTimes);
    const peer = summarize(peerTimes);
    const timeRatio = ours.ms / peer.ms;
    const sizeRatio = oursZip / peerZip;
    const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
    return [{
      figure: this.figure,
      ours: `${fmtMs(ours.ms)}, ZIP ${mb(oursZip)}`,
      peer: `${fmtMs(peer.ms)}, ZIP ${mb(peerZip)} (sqlite3 .backup + zip -6)`,
      ratio: round(timeRatio),
      target: this.target,
      pass: timeRatio <= 1.5 && sizeRatio <= 1.25,
      note: `ZIP size ${round(sizeRatio)}×`,
      raw: { ours, peer, oursZip, peerZip },
    }];
  },
};

const storage: BenchCase = {
  id: "storage",
  figure: "storage per event",
  peer: "the original schema holding the same events",
  target: "reported",
  async run(c) {
    const db = await c.database("large");
    const perEvent = databaseBytes(db) / count(db);
    const original = await c.originalDatabase();
    if (!original) {
      return [{
        ...skipped(
          this.figure,
          this.target,
          "original schema not built: python3 or original.py missing",
        ),
        ours: `${perEvent.toFixed(0)} B`,
      }];
    }
    const originalPerEvent = databaseBytes(original) / count(original);
    return [{
      figure: this.figure,
      ours: `${perEvent.toFixed(0)} B`,
      peer: `${originalPerEvent.toFixed(0)} B (original schema, same events)`,
      ratio: round(perEvent / originalPerEvent),
      target: this.target,
      pass: null,
    }];
  },
};

const growth: BenchCase = {
  id: "growth",
  figure: "growth: the same command on the small and the large database",
  peer: `the small database`,
  target: "flat (≤ 1.3×)",
  async run(c) {
    if (c.events <= c.smallEvents) {
      return [skipped(this.figure, this.target, "the large database is no larger")];
    }
    const big = await c.database("large");
    const small = await c.database("small");
    const smallRun = runName(Math.floor(c.smallEvents / EVENTS_PER_RUN / 2));
    const commands: [string, (db: string) => string[]][] = [
      ["log", (db) => c.cli("log", "GROWTH", "--sku", "SKU-00042", "--db", db)],
      [
        "query --sku X --limit 100",
        (db) => c.cli("query", "--sku", skuName(0), "--limit", "100", "--db", db),
      ],
      [
        `batch show (${EVENTS_PER_RUN.toLocaleString("en")} events)`,
        (db) => c.cli("batch", "show", db === big ? middleRun(c) : smallRun, "--db", db),
      ],
      [
        "--before-id cursor page",
        (db) => c.cli("query", "--before-id", "151", "--limit", "100", "--db", db),
      ],
    ];
    const figures: Figure[] = [];
    for (const [name, command] of commands) {
      const m = await compare({
        big: { command: command(big) },
        small: { command: command(small) },
      }, c.runs);
      figures.push(ratioFigure(
        `growth: ${name}, ${c.smallEvents.toLocaleString("en")} → ${
          c.events.toLocaleString("en")
        } events`,
        m.big,
        m.small,
        `at ${c.smallEvents.toLocaleString("en")}`,
        this.target,
        1.3,
      ));
    }
    return figures;
  },
};

/** The benchmark, in the order it runs. */
export const CASES: readonly BenchCase[] = [
  ingest,
  chainIngest,
  verify,
  singleLogLibrary,
  ingestVsOriginal,
  ingestVsSqliteUtils,
  logProcess,
  querySku,
  batchShow,
  deepPages,
  csvExport,
  bundleCompress,
  storage,
  growth,
];

// --- The run's context -------------------------------------------------------------------------

/** Bytes the database's pages take, after its WAL is merged into it. */
function databaseBytes(path: string): number {
  checkpoint(path);
  return withDb(path, (db) => {
    const pragma = (name: string) => db.prepare(`PRAGMA ${name}`).get()![name] as number;
    return (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
  });
}

/** Merges the database's WAL into its file, so that the file alone can be copied. */
function checkpoint(path: string) {
  withDb(path, (db) => db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
}

function count(path: string): number {
  return withDb(path, (db) => db.prepare("SELECT count(*) AS n FROM audit_log").get()!.n as number);
}

function withDb<T>(path: string, work: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** A migrated, empty database, made once; cases copy it. */
let template: Promise<string> | undefined;
function templateDatabase(c: BenchContext): Promise<string> {
  template ??= run(c.cli("migrate", "--db", c.path("template.db"))).then(() =>
    c.path("template.db")
  );
  return template;
}

async function freshCopy(c: BenchContext, name: string): Promise<string> {
  await Deno.copyFile(await templateDatabase(c), c.path(name));
  return c.path(name);
}

function createContext(options: {
  events: number;
  runs: number;
  dir: string;
  tools: Tools;
  originalPath: string;
  cache: BenchContext["cache"];
  /** The built program (`deno task build`): its entry and its files. */
  built: BuildResult;
}): BenchContext {
  const { dir, tools } = options;
  const path = (name: string) => join(dir, name);
  const bare = join(ROOT, "scripts", "bench_bare.ts");
  const startupDenoDir = path("deno_dir");
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, make: () => Promise<T>): Promise<T> => {
    if (!memo.has(key)) memo.set(key, make());
    return memo.get(key) as Promise<T>;
  };
  const smallEvents = Math.min(10_000, options.events);
  const context: BenchContext = {
    events: options.events,
    runs: options.runs,
    longRuns: options.events >= 200_000 ? 1 : 3,
    smallEvents,
    dir,
    path,
    tools,
    cache: options.cache,
    cli: (
      ...args
    ) => [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, options.built.entry, ...args],
    cliAsExecutable: (...args) => [
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-config",
      ...RUNTIME_FLAGS,
      options.built.entry,
      ...args,
    ],
    cliSource: (
      ...args
    ) => [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, join(ROOT, "cli.ts"), ...args],
    bare: (
      ...args
    ) => [Deno.execPath(), "run", "--quiet", "--no-config", ...RUNTIME_FLAGS, bare, ...args],
    original: (...args) =>
      tools.python && tools.original ? [tools.python, options.originalPath, ...args] : null,
    eventFiles: (size) =>
      once(`events-${size}`, async () => {
        const files = { ndjson: path(`${size}.ndjson`), csv: path(`${size}.csv`) };
        await writeEventFiles(
          size === "large" ? options.events : smallEvents,
          files.ndjson,
          files.csv,
        );
        return files;
      }),
    database: (size) =>
      once(`db-${size}`, async () => {
        const db = await freshCopy(context, `${size}.db`);
        await run(context.cli("log", "--stdin", "--db", db), {
          stdinFile: (await context.eventFiles(size)).ndjson,
        });
        return db;
      }),
    adoptDatabase(db) {
      if (!memo.has("db-large")) memo.set("db-large", Promise.resolve(db));
    },
    originalDatabase: () =>
      once("original", async () => {
        const db = path("original.db");
        const migrate = context.original("migrate", db);
        if (!migrate) return null;
        await run(migrate);
        const { csv } = await context.eventFiles("large");
        if (tools.sqlite3) {
          await Deno.writeTextFile(
            path("import_original.sql"),
            importSql(csv, "CURRENT_TIMESTAMP"),
          );
          await run(["sqlite3", db], { stdinFile: path("import_original.sql") });
        } else {
          // Without the shell, python3 (which runs original.py anyway) loads the same rows.
          await run([tools.python!, "-c", PYTHON_IMPORT, db, csv]);
        }
        return db;
      }),
    startupEnv: { DENO_DIR: startupDenoDir },
    programFiles: () => [
      ...["cli.ts", "mod.ts", "deno.json", "deno.lock"].map((name) => join(ROOT, name)),
      ...options.built.files.map((name) => join(dirname(options.built.entry), name)),
      ...["cli", "lib", "migrations"].flatMap((folder) => filesBelow(join(ROOT, folder))),
      bare,
      join(ROOT, "scripts", "runtime_flags.ts"),
      ...filesBelow(startupDenoDir),
      options.originalPath,
      ...filesBelow(join(dirname(options.originalPath), "__pycache__")),
    ],
    shared: new Map(),
    log: (text) => Deno.stderr.writeSync(new TextEncoder().encode(`bench: ${text}\n`)),
  };
  return context;
}

const PYTHON_IMPORT = `
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], newline="") as f:
    rows = csv.reader(f)
    next(rows)
    db.executemany("INSERT INTO audit_log (operation, sku, details, user, run_id) "
                   "VALUES (?, nullif(?, ''), ?, ?, nullif(?, ''))", rows)
db.commit()
`;

/**
 * `shared/peers/original.py` beside the repository (`../shared/peers/original.py`), or beside a
 * folder above it (a git worktree may sit a level deeper); the first that exists.
 */
function findOriginal(): string {
  const beside = join(ROOT, "..", "shared", "peers", "original.py");
  for (let dir = dirname(ROOT); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "shared", "peers", "original.py");
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not here; look further up
    }
  }
  return beside;
}

/** The cases of the hook scripts that exist, replacing cases here with the same id. */
async function withHooks(cases: readonly BenchCase[]): Promise<BenchCase[]> {
  const all = [...cases];
  for (const hook of HOOKS) {
    const url = new URL(`./${hook}`, import.meta.url);
    if (!(await Deno.stat(url).then(() => true, () => false))) continue;
    // A computed specifier: a hook that is not there is no error for `deno check`.
    const module = await import(url.href) as { cases?: BenchCase[] };
    for (const extra of module.cases ?? []) {
      const at = all.findIndex((c) => c.id === extra.id);
      if (at >= 0) all[at] = extra;
      else all.push(extra);
    }
  }
  return all;
}

// --- The run -----------------------------------------------------------------------------------

/** Says what is wrong with the command line and exits 2. */
const HELP = `deno task bench — every figure beside its peer, measured in the same run

USAGE
  deno task bench [--events N] [--runs N] [--only CASES] [--cold files|system|off]
                  [--out FILE] [--original PATH] [--keep]

OPTIONS
  --events N       events in the data set (default 1000000; at least 1000)
  --runs N         runs of each start-up figure, in turns with its peers (default 9)
  --only CASES     comma-separated case ids or groups (e.g. startup, ingest, bundle, viewer)
  --cold MODE      files (default): drop the database and the programs' files from the page
                   cache before each cold run; system: drop every cache (root); off: warm only
  --out FILE       where the JSON results go (default bench-results/latest.json)
  --original PATH  the original Python design (default: ../shared/peers/original.py if found)
  --keep           keep the working folder (databases, event files) afterwards
  -h, --help       this text

EXAMPLES
  deno task bench                     # 1,000,000 events; several minutes
  deno task bench --events 20000      # a quick run
  deno task bench --only startup      # log, query --sku, batch show
`;

function usage(message: string): never {
  Deno.stderr.writeSync(
    new TextEncoder().encode(`bench: ${message}\n(deno task bench --help lists the options)\n`),
  );
  Deno.exit(2);
}

/** The command line's options, or a usage error that names the one it does not know. */
function benchOptions() {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        events: { type: "string", default: "1000000" },
        runs: { type: "string", default: "9" },
        only: { type: "string" },
        cold: { type: "string", default: "files" },
        out: { type: "string", default: join(ROOT, "bench-results", "latest.json") },
        original: { type: "string", default: findOriginal() },
        keep: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
}

if (import.meta.main) {
  const flags = benchOptions();
  if (flags.help) {
    Deno.stdout.writeSync(new TextEncoder().encode(HELP));
    Deno.exit(0);
  }
  const events = Number(flags.events);
  const runs = Number(flags.runs);
  if (!Number.isSafeInteger(events) || events < 1000) usage("--events must be ≥ 1000");
  if (!Number.isSafeInteger(runs) || runs < 1) usage("--runs must be ≥ 1");
  if (!["files", "system", "off"].includes(flags.cold)) {
    usage('--cold must be "files", "system" or "off"');
  }
  const all = await withHooks(CASES);
  const only = flags.only?.split(",").map((name) => name.trim());
  const selected = only
    ? all.filter((c) => only.includes(c.id) || c.groups?.some((g) => only.includes(g)))
    : all;
  if (only && !selected.length) {
    const names = all.flatMap((c) => [c.id, ...(c.groups ?? [])]);
    usage(`--only: no case named ${only.join(", ")}; cases: ${[...new Set(names)].join(", ")}`);
  }

  const python = (await succeeds(["/usr/bin/python3", "--version"]))
    ? "/usr/bin/python3"
    : (await succeeds(["python3", "--version"]))
    ? "python3"
    : null;
  const tools: Tools = {
    sqlite3: await succeeds(["sqlite3", "-version"]),
    zip: await succeeds(["zip", "-v"]),
    sqliteUtils: await succeeds(["sqlite-utils", "--version"]),
    python,
    original: await Deno.stat(flags.original).then(() => true, () => false),
    gnuTime: await hasGnuTime(),
  };
  const cache = await pageCache(flags.cold as ColdMethod, python);
  const dir = await Deno.makeTempDir({ prefix: "audit-trail-bench-" });
  // What the executable is compiled from (scripts/compile.ts), built as `deno task compile`
  // builds it.
  const built = await build();
  const context = createContext({
    events,
    runs,
    dir,
    tools,
    originalPath: flags.original,
    cache,
    built,
  });
  const loadBefore = loadAverage();
  const started = performance.now();
  context.log(
    `${events.toLocaleString("en")} events, short figures the median of ${runs} runs; in ${dir}`,
  );
  context.log(`load average ${loadBefore ?? "?"}; peers: ${JSON.stringify(tools)}`);
  context.log(`cold runs: ${cache.why}`);

  const figures: Figure[] = [];
  try {
    for (const benchCase of selected) {
      const load = [loadAverage()];
      let lines: Figure[];
      try {
        await benchCase.setup?.(context);
        lines = await benchCase.run(context);
      } catch (error) {
        lines = [{
          figure: benchCase.figure,
          ours: "-",
          peer: "-",
          ratio: null,
          target: benchCase.target,
          pass: false,
          note: `error: ${(error as Error).message.split("\n")[0].slice(0, 300)}`,
        }];
      }
      load.push(loadAverage());
      for (const line of lines) {
        line.load = formatLoad(load);
        figures.push(line);
        const verdict = line.pass === null ? "" : line.pass ? "  pass" : "  FAIL";
        context.log(`${line.figure}: ${line.ours} vs ${line.peer} (load ${line.load})${verdict}`);
      }
    }
  } finally {
    if (!flags.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  await report(figures, {
    events,
    runs,
    tools,
    cold: cache.why,
    loadBefore,
    seconds: round((performance.now() - started) / 1000, 1),
    out: flags.out,
  });
}

/** Prints the table and a summary line, and writes the same as JSON to `out`. */
async function report(
  figures: Figure[],
  info: {
    events: number;
    runs: number;
    tools: Tools;
    cold: string;
    loadBefore: number | null;
    seconds: number;
    out: string;
  },
) {
  const loadAfter = loadAverage();
  const result = (f: Figure) => {
    const skip = f.note?.startsWith("skipped: ");
    const verdict = f.pass === null ? (skip ? "skipped" : "reported") : f.pass ? "pass" : "FAIL";
    const note = skip ? f.note!.slice("skipped: ".length) : f.note;
    return note ? `${verdict} (${note})` : verdict;
  };
  const header = ["figure", "ours", "peer", "ratio", "target", "result", "load"];
  const rows = figures.map((f) => [
    f.figure,
    f.ours,
    f.peer,
    f.ratio === null ? "-" : `${f.ratio.toFixed(2)}×`,
    f.target,
    result(f),
    f.load ?? "?",
  ]);
  const table = [header, header.map(() => "---"), ...rows]
    .map((cells) => `| ${cells.join(" | ")} |`).join("\n");
  const machine = {
    cpus: navigator.hardwareConcurrency,
    load_average_before: info.loadBefore,
    load_average_after: loadAfter,
    deno: Deno.version.deno,
    sqlite: withDb(":memory:", (db) => db.prepare("SELECT sqlite_version() AS v").get()!.v),
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
  const json = {
    events: info.events,
    runs: info.runs,
    seconds: info.seconds,
    date: new Date().toISOString(),
    cold: info.cold,
    machine,
    peers: info.tools,
    figures,
  };
  await Deno.mkdir(dirname(info.out), { recursive: true });
  await Deno.writeTextFile(info.out, JSON.stringify(json, null, 2) + "\n");
  const summary =
    `${info.events.toLocaleString("en")} events; ${machine.cpus} CPUs, load ${
      info.loadBefore ?? "?"
    } → ${loadAfter ?? "?"}; Deno ${machine.deno}, SQLite ${machine.sqlite}; ${info.seconds} s\n` +
    `cold runs: ${info.cold}`;
  await Deno.stdout.write(new TextEncoder().encode(`${table}\n\n${summary}\nJSON: ${info.out}\n`));
}
