/**
 * What retention costs, beside its peers in the same run:
 *
 * - `archive` of half of a 200,000-event database (the first 100,000 events) against the
 *   `sqlite3` shell doing the same copy-out (same tables and indexes, into an ATTACHed file),
 *   checkpoint, delete and `VACUUM`; target ≤ 2×.
 * - `verify --archives` of 1,000,000 events spread over four archive files and the live log,
 *   against `verify` of the same 1,000,000 events in one live log; target ≤ 1.2×.
 *
 * `deno task bench` (scripts/bench.ts) prints both in its table (its `cases`: `archive` and
 * `verify-archives`, or `--only retention`). Run alone for these figures only (prints them with
 * the load average):
 *
 *     deno run --allow-all scripts/bench_archive.ts [--archive-events N] [--verify-events N] [--runs N]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { archiveEvents, migrate, openDatabase } from "../mod.ts";
import { writeTransaction } from "../lib/db.ts";
import { sealExistingEvents } from "../lib/chain/seal.ts";
import { generateEvents } from "./bench_data.ts";
import {
  type BenchCase,
  compare,
  loadAverage,
  type Measured,
  ratioFigure,
  skipped,
  succeeds,
} from "./bench_run.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

/** Runs of each side of a figure: the median is taken, sides in turns. */
const RUNS = 3;

/** The cases `deno task bench` adds to its table. */
export const cases: BenchCase[] = [
  {
    id: "archive",
    groups: ["retention"],
    figure: "archive of half of 200,000 events",
    peer: "the sqlite3 shell doing the same copy-out, delete and VACUUM",
    target: "≤ 2×",
    async run(c) {
      const size = Math.min(200_000, c.events);
      const figure = `archive of half of ${size.toLocaleString("en")} events`;
      const r = await benchArchive(c.dir, size, RUNS);
      if (!r) return [skipped(figure, "≤ 2×", "sqlite3 is not installed")];
      const peer = "sqlite3 shell: same copy-out, delete, VACUUM";
      return [ratioFigure(figure, r.ours, r.peer, peer, "≤ 2×", 2, `median of ${RUNS}, in turns`)];
    },
  },
  {
    id: "verify-archives",
    groups: ["retention"],
    figure: "verify --archives (4 archive files and the live log)",
    peer: "verify of the same events in one live log",
    target: "≤ 1.2×",
    async run(c) {
      const r = await benchVerifyArchives(c.dir, c.events, 4, RUNS);
      return [ratioFigure(
        `verify --archives of ${c.events.toLocaleString("en")} events (4 archives + live)`,
        r.ours,
        r.peer,
        "verify of the same events in one live log",
        "≤ 1.2×",
        1.2,
        `median of ${RUNS}, in turns`,
      )];
    },
  },
];

/** Two sides of one figure, measured in turns. */
export interface ArchiveFigure {
  events: number;
  ours: Measured;
  peer: Measured;
  /** ours / peer (medians). */
  ratio: number;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
const DAY = 86_400_000;
/** The databases' events run from here, evenly spaced, up to a year ago. */
const FIRST = Date.parse("2020-01-01T00:00:00Z");
const LAST = Date.now() - 365 * DAY;

const cli = (
  ...args: string[]
) => [Deno.execPath(), "run", "--quiet", ...RUNTIME_FLAGS, CLI, ...args];

/**
 * `archive` of the first half of `events` events against the `sqlite3` shell doing the same
 * work, each on a fresh copy. Null when `sqlite3` is not installed.
 */
export async function benchArchive(
  dir: string,
  events = 200_000,
  runs = 3,
): Promise<ArchiveFigure | null> {
  if (!(await succeeds(["sqlite3", "-version"]))) return null;
  const template = join(dir, "archive_template.db");
  datedEvents(template, events);
  const half = events / 2;
  const cut = new Date(timeOf(half, events)).toISOString();
  const ours = join(dir, "archive_ours.db");
  const peer = join(dir, "archive_peer.db");
  const script = join(dir, "archive_peer.sql");
  await Deno.writeTextFile(script, peerSql(template, join(dir, "archive_peer_out.db"), half));
  const fresh = async (path: string, outputs: string[]) => {
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(path + suffix).catch(() => {});
    for (const output of outputs) await Deno.remove(output, { recursive: true }).catch(() => {});
    await Deno.copyFile(template, path);
  };
  const result = await compare({
    ours: {
      command: cli("archive", "--before", cut, "--db", ours, "--to", join(dir, "archive_ours")),
      before: () => fresh(ours, [join(dir, "archive_ours")]),
    },
    peer: {
      command: ["sqlite3", peer, `.read ${script}`],
      before: () => fresh(peer, [join(dir, "archive_peer_out.db")]),
    },
  }, runs);
  if (JSON.parse(result.ours.stdout).archived !== half) {
    throw new Error("archive moved the wrong events");
  }
  if (count(peer) !== events - half || count(ours) !== events - half) {
    throw new Error("the sides did not leave the same events");
  }
  return {
    events: half,
    ours: result.ours,
    peer: result.peer,
    ratio: result.ours.ms / result.peer.ms,
  };
}

/**
 * `verify --archives` of `events` events, all but a fifth of them in `files` archive files,
 * against `verify` of the same events in one live log.
 */
export async function benchVerifyArchives(
  dir: string,
  events = 1_000_000,
  files = 4,
  runs = 3,
): Promise<ArchiveFigure> {
  const whole = join(dir, "verify_whole.db");
  datedEvents(whole, events);
  const archived = join(dir, "verify_archived.db");
  await Deno.copyFile(whole, archived);
  const folder = join(dir, "verify_archives");
  {
    using db = openDatabase(archived);
    for (let k = 1; k <= files; k++) {
      const before = new Date(timeOf(Math.round(events * k / (files + 1)), events));
      await archiveEvents(db, { before, dir: folder });
    }
  }
  const result = await compare({
    ours: { command: cli("verify", "--db", archived, "--archives", folder) },
    peer: { command: cli("verify", "--db", whole) },
  }, runs);
  for (const side of [result.ours, result.peer]) {
    const report = JSON.parse(side.stdout);
    if (!report.intact || report.events_checked !== events) throw new Error("verify failed");
  }
  return { events, ours: result.ours, peer: result.peer, ratio: result.ours.ms / result.peer.ms };
}

// --- internals -------------------------------------------------------------------------------

/** When the `i`-th of `events` events happened. */
function timeOf(i: number, events: number): number {
  return FIRST + Math.floor((LAST - FIRST) * i / events);
}

/**
 * A migrated database of `events` generated events (scripts/bench_data.ts) spread evenly in
 * time up to a year ago, every third timestamp in the legacy form, sealed as migration 003
 * seals an adopted log.
 */
function datedEvents(path: string, events: number): void {
  using db = openDatabase(path, { create: true, cacheMiB: 64 });
  migrate(db);
  writeTransaction(db, () => {
    const insert = db.sqlite.prepare(
      `INSERT INTO audit_log (timestamp, operation, sku, details, user, run_id)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    let i = 0;
    for (const event of generateEvents(events)) {
      const iso = new Date(timeOf(i, events)).toISOString();
      const time = i++ % 3 === 0 ? iso.slice(0, 19).replace("T", " ") : iso;
      insert.run(time, event.operation, event.sku, event.details, event.user, event.run_id);
    }
    sealExistingEvents(db);
  });
  db.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

/**
 * The `sqlite3` shell doing what `archive` does, without its checks: the first `last` events
 * and their seals copied into a new file with the same tables and indexes, a checkpoint
 * recorded, the events deleted, and the space given back.
 */
function peerSql(template: string, out: string, last: number): string {
  const source = new DatabaseSync(template, { readOnly: true });
  const table = source.prepare("SELECT sql FROM sqlite_schema WHERE name = 'audit_log'").get()!
    .sql as string;
  const indexes = source.prepare(
    "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'audit_log' AND sql IS NOT NULL",
  ).all().map((row) =>
    (row.sql as string).replace(/^CREATE INDEX (IF NOT EXISTS )?/, "CREATE INDEX arch.")
  );
  source.close();
  return `.bail on
ATTACH '${out}' AS arch;
BEGIN;
${table.replace(/^CREATE TABLE (IF NOT EXISTS )?audit_log/, "CREATE TABLE arch.audit_log")};
INSERT INTO arch.audit_log SELECT * FROM main.audit_log WHERE audit_id <= ${last} ORDER BY audit_id;
CREATE TABLE arch.audit_trail_chain (audit_id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
INSERT INTO arch.audit_trail_chain SELECT * FROM main.audit_trail_chain WHERE audit_id <= ${last};
${indexes.join(";\n")};
COMMIT;
BEGIN;
INSERT INTO audit_trail_checkpoints (first_audit_id, last_audit_id, events, previous_hash,
  last_hash, file, sha256, bytes)
  SELECT 1, ${last}, ${last}, zeroblob(32), hash, 'peer.db', '', 0 FROM audit_trail_chain
  WHERE audit_id = ${last};
DELETE FROM audit_log WHERE audit_id <= ${last};
DELETE FROM audit_trail_chain WHERE audit_id < ${last};
COMMIT;
VACUUM;
PRAGMA wal_checkpoint(TRUNCATE);
`;
}

function count(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT count(*) AS n FROM audit_log").get()!.n as number;
  } finally {
    db.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "archive-events": { type: "string", default: "200000" },
      "verify-events": { type: "string", default: "1000000" },
      runs: { type: "string", default: String(RUNS) },
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "audit-trail-bench-archive-" });
  const line = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
  const ms = (m: Measured) =>
    `${(m.ms / 1000).toFixed(2)} s (median of ${
      m.samples.map((sample) => (sample / 1000).toFixed(2)).join(", ")
    })${m.rssKb === null ? "" : `, ${(m.rssKb / 1024).toFixed(0)} MB peak`}`;
  try {
    line(`load average before: ${loadAverage()}`);
    const runs = Number(values.runs);
    const archived = await benchArchive(dir, Number(values["archive-events"]), runs);
    line(
      archived
        ? `archive of ${archived.events} of ${2 * archived.events} events: ${
          ms(archived.ours)
        } vs ${ms(archived.peer)} (sqlite3 shell): ${
          archived.ratio.toFixed(2)
        }× (target ≤ 2×); load ${loadAverage()}`
        : "archive: skipped, sqlite3 is not installed",
    );
    const verified = await benchVerifyArchives(dir, Number(values["verify-events"]), 4, runs);
    line(
      `verify --archives of ${verified.events} events (4 archives + live): ${
        ms(verified.ours)
      } vs ${ms(verified.peer)} (verify of one live log): ${
        verified.ratio.toFixed(2)
      }× (target ≤ 1.2×); load ${loadAverage()}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
