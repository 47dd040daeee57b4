/**
 * Faults during `archive`: a kill -9 at random moments of an archive of 100,000 events, many
 * times over. Whatever moment it hits, every event must exist exactly once across the live
 * log and the archives, the whole chain must verify up to the anchor noted before, and no
 * unfinished file may carry a final name; and a rerun must finish the work.
 *
 * `AUDIT_TRAIL_ARCHIVE_KILLS` sets how many kills (default 6); `AUDIT_TRAIL_ARCHIVE_SEED` the
 * seed of the moments (printed, so a failing run can be repeated).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { cliCommand, collectOutput, runCli, tempDir } from "./helpers.ts";
import { datedDatabase, filesIn } from "./archive_fixtures.ts";
import { report } from "./reliability/_support.ts";
import { seededRandom } from "../scripts/bench_data.ts";

const EVENTS = 120_000;
/** Events before this cut: the first 100,000 (one every 20 minutes from 2020-01-01). */
const CUT = "2023-10-20T21:20:00Z";
const ARCHIVED = 100_000;

Deno.test("kill -9 at random moments of an archive of 100,000 events: nothing lost, nothing twice", async () => {
  await using dir = await tempDir();
  const base = join(dir.path, "base.db");
  datedDatabase(dir.path, eventTimes(), "base.db");
  const anchor = (await runCli(["head", "--db", base, "--format", "table"])).stdout.trim();
  assert.match(anchor, /^120000:[0-9a-f]{64}$/);

  // How long one whole run takes here (the second: the first also fills Deno's module
  // cache), so that the kills fall across all of it.
  let duration = 0;
  for (const name of ["warm-up", "timing"]) {
    const timing = await fresh(dir.path, base, name);
    const started = performance.now();
    const whole = await runCli(archiveArgs(timing));
    duration = performance.now() - started;
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(JSON.parse(whole.stdout).archived, ARCHIVED);
    assert.equal(await checkCase(timing, anchor, name), "archived");
  }

  const kills = Number(Deno.env.get("AUDIT_TRAIL_ARCHIVE_KILLS") ?? 6);
  const seed = Number(Deno.env.get("AUDIT_TRAIL_ARCHIVE_SEED") ?? Date.now() % 1_000_000);
  const random = seededRandom(seed);
  const outcomes: Record<string, number> = {};
  report(`  archive kills: ${kills}, seed ${seed}, a whole run takes ${duration.toFixed(0)} ms`);
  for (let k = 0; k < kills; k++) {
    const copy = await fresh(dir.path, base, `kill${k}`);
    // One kill in each of `kills` equal slices of the run (and a little past its end).
    const delay = (k + random()) / kills * duration * 1.05;
    const child = cliCommand(archiveArgs(copy)).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), delay);
    const result = await collectOutput(child);
    clearTimeout(timer);
    const killed = result.code !== 0;
    const outcome = await checkCase(copy, anchor, killed ? "killed" : "finished");
    const key = killed ? `killed, ${outcome}` : "finished before the kill";
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    // The rerun finishes what the killed run left, and leaves no temporary file or orphan.
    const rerun = await runCli(archiveArgs(copy));
    assert.equal(rerun.code, 0, rerun.stderr);
    const after = await checkCase(copy, anchor, "rerun");
    assert.equal(after, "archived", `after the rerun of kill ${k} (${delay.toFixed(0)} ms)`);
    assert.deepEqual(filesIn(copy.folder), [
      ".audit_trail_archive.lock",
      `audit_archive_1_${ARCHIVED}.db`,
    ]);
    await Deno.remove(copy.dir, { recursive: true });
  }
  report(`  archive kill outcomes: ${JSON.stringify(outcomes)}`);
});

interface Case {
  dir: string;
  db: string;
  folder: string;
}

/** A copy of the base database in a folder of its own. */
async function fresh(root: string, base: string, name: string): Promise<Case> {
  const dir = join(root, name);
  await Deno.mkdir(dir);
  await Deno.copyFile(base, join(dir, "app.db"));
  return { dir, db: join(dir, "app.db"), folder: join(dir, "archive") };
}

function archiveArgs(c: Case): string[] {
  return ["archive", "--before", CUT, "--db", c.db, "--to", c.folder];
}

/**
 * Checks one database after a run: every event once across live log and named archives, and
 * `verify --archives --anchor` intact (which also fails on any file under a final name that is
 * neither named by a checkpoint nor a complete copy of this log's events). Returns where the
 * run stopped: `untouched`, `orphan` (renamed, not committed) or `archived`.
 */
async function checkCase(c: Case, anchor: string, label: string): Promise<string> {
  const counts = new Uint8Array(EVENTS + 1);
  const count = (path: string, where = "1") => {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      for (const row of db.prepare(`SELECT audit_id FROM audit_log WHERE ${where}`).all()) {
        counts[row.audit_id as number]++;
      }
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  };
  const live = count(c.db);
  const checkpoints = live.prepare(
    "SELECT file FROM audit_trail_checkpoints ORDER BY last_audit_id",
  ).all().map((row) => row.file as string);
  live.close();
  for (const file of checkpoints) count(join(c.folder, file)).close();
  const wrong = counts.findIndex((n, id) => id > 0 && n !== 1);
  assert.equal(wrong, -1, `${label}: event ${wrong} is there ${counts[wrong]} times`);
  const finals = filesIn(c.folder).filter((name) => /^audit_archive_\d+_\d+\.db$/.test(name));
  const args = ["verify", "--db", c.db, "--anchor", anchor];
  if (filesIn(c.folder).length > 0) args.push("--archives", c.folder);
  const verify = await runCli(args);
  assert.equal(verify.code, 0, `${label}: ${verify.stderr}`);
  assert.equal(JSON.parse(verify.stdout).events_checked, EVENTS);
  if (checkpoints.length) return "archived";
  return finals.length ? "orphan" : "untouched";
}

/** 120,000 timestamps 20 minutes apart from 2020-01-01, every third in the legacy form. */
function eventTimes(): string[] {
  const start = Date.parse("2020-01-01T00:00:00Z");
  return Array.from({ length: EVENTS }, (_, i) => {
    const iso = new Date(start + i * 20 * 60_000).toISOString();
    return i % 3 === 0 ? iso.slice(0, 19).replace("T", " ") : iso;
  });
}
