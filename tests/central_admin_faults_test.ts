/**
 * `central init`, `central grant` and `verify --central` cut off in the middle of their
 * transaction: their server
 * process terminated (`pg_terminate_backend`), or the server stopped (fast or immediate). Each
 * is held inside its transaction by another session's lock, cut there, and must end with one
 * clear line (exit 1, no stack trace, no password) and leave the central store as it was, so
 * that running it again completes it. Through the real CLI against a real PostgreSQL.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cliCommand, collectOutput, endedByItself } from "./helpers.ts";
import { cliJson, postgresBinDir, startPostgres, type TestPostgres } from "./pg_support.ts";

/** How the server cuts the command off while it waits inside its transaction. */
type Cut =
  | "its server process terminated"
  | "server stopped (fast)"
  | "server stopped (immediate)"
  | "its server process stopped (SIGSTOP)";
const CUTS: readonly Cut[] = [
  "its server process terminated",
  "server stopped (fast)",
  "server stopped (immediate)",
  "its server process stopped (SIGSTOP)",
];

/** The answer bound a command gets when its server process is stopped, in seconds. */
const STOPPED_BOUND = 2;

/**
 * A psql session that runs `statements` and stays open (holding whatever lock they took) until
 * released, or until the server goes away. Returns once the last one has run.
 */
async function holdingSession(pg: TestPostgres, database: string, statements: string[]) {
  const child = new Deno.Command(join(await postgresBinDir(), "psql"), {
    args: ["-X", "-q", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", database],
    env: { PGPASSWORD: pg.password, PGAPPNAME: "holder" },
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const input = child.stdin.getWriter();
  await input.write(new TextEncoder().encode(statements.map((sql) => `${sql};\n`).join("")));
  let ended = false;
  child.status.then(() => ended = true);
  const last = statements[statements.length - 1];
  while (!ended) {
    const done = await pg.psql(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = 'holder'
       AND state LIKE 'idle%' AND starts_with(query, $q$${last}$q$)`,
      database,
    );
    if (done.trim()) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(!ended, `psql ended before it held its lock: ${statements.join("; ")}`);
  return {
    async release() {
      await input.close().catch(() => {});
      await child.status;
    },
  };
}

/**
 * The command's server process once it waits for a lock (with the statement it waits in),
 * or null when the command ended first. A process can wait on a lock before it shows its
 * statement (its query text still empty, under load): only one showing it counts.
 */
async function blockedBackend(
  pg: TestPostgres,
  database: string,
  child: Deno.ChildProcess,
): Promise<{ pid: number; query: string } | null> {
  let ended = false;
  child.status.then(() => ended = true);
  while (!ended) {
    const row = (await pg.psql(
      `SELECT pid || ' ' || query FROM pg_stat_activity
       WHERE application_name LIKE 'audit-trail %' AND wait_event_type = 'Lock'
         AND query <> ''`,
      database,
    )).trim();
    if (row) {
      const space = row.indexOf(" ");
      return { pid: Number(row.slice(0, space)), query: row.slice(space + 1) };
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return null;
}

/** Stops the server without a shutdown checkpoint: every server process is killed. */
async function stopAtOnce(pg: TestPostgres) {
  const data = (await pg.psql("SHOW data_directory")).trim();
  const pgCtl = [join(await postgresBinDir(), "pg_ctl"), "-D", data, "-w", "-m", "immediate"];
  const args = Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--", ...pgCtl] : pgCtl;
  const output = await new Deno.Command(args[0], { args: [...args.slice(1), "stop"] }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
}

/**
 * Runs the CLI with `args` while `hold` keeps it waiting inside its transaction, cuts it off
 * there, brings the server back, and returns what the command printed. `expected` is a part
 * of the statement it must be cut in.
 */
async function cutOff(
  pg: TestPostgres,
  url: string,
  args: string[],
  hold: string[],
  expected: RegExp,
  cut: Cut,
) {
  const database = new URL(url).pathname.slice(1);
  const holder = await holdingSession(pg, database, hold);
  try {
    // Only a stopped server process is waited out: the other cuts must come before the bound.
    const stopped = cut === "its server process stopped (SIGSTOP)";
    const env: Record<string, string> = stopped
      ? { AUDIT_TRAIL_CENTRAL_TIMEOUT: String(STOPPED_BOUND) }
      : {};
    const child = cliCommand(args, { env }).spawn();
    const output = collectOutput(child);
    const blocked = await blockedBackend(pg, database, child);
    if (blocked === null) assert.fail(`it ended before it was held: ${(await output).stderr}`);
    assert.match(blocked.query, expected);
    if (stopped) {
      // The process stays, holding its transaction open, until the command has given up.
      Deno.kill(blocked.pid, "SIGSTOP");
      try {
        return await endedByItself(
          child,
          output,
          "the command still waited for its stopped server process",
        );
      } finally {
        Deno.kill(blocked.pid, "SIGCONT");
      }
    }
    if (cut === "its server process terminated") {
      await pg.psql(`SELECT pg_terminate_backend(${blocked.pid})`);
    } else if (cut === "server stopped (fast)") await pg.stop();
    else await stopAtOnce(pg);
    const result = await output;
    if (cut !== "its server process terminated") await pg.start();
    return result;
  } finally {
    await holder.release();
  }
}

/**
 * Exit 1 with one error line saying the central store cannot be reached, or (its server
 * process stopped) gave no answer in time, and its hint.
 */
function assertOneClearLine(
  result: { code: number; stdout: string; stderr: string },
  pg: TestPostgres,
  cut: Cut,
) {
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  const what = cut === "its server process stopped (SIGSTOP)"
    ? `gave no answer in ${STOPPED_BOUND} s$`
    : "cannot be reached: \\S";
  assert.match(
    lines[0],
    new RegExp(
      `^audit-trail: error: Central store at postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/central_\\d+ ${what}`,
    ),
    result.stderr,
  );
  assert.ok(
    lines.length === 1 || (lines.length === 2 && lines[1].startsWith("hint: ")),
    result.stderr,
  );
  assert.ok(!result.stderr.includes(pg.password));
}

/** How many relations and functions of the central schema `url`'s database holds, as `relations functions`. */
async function centralObjects(pg: TestPostgres, url: string): Promise<string> {
  return (await pg.psql(
    `SELECT count(*) FILTER (WHERE relname LIKE 'audit\\_trail\\_%') || ' ' ||
            (SELECT count(*) FROM pg_proc WHERE proname LIKE 'audit\\_trail\\_%')
     FROM pg_class`,
    new URL(url).pathname.slice(1),
  )).trim();
}

/** The role's grant row and its rights on the events, as `rows select insert`. */
async function grantState(pg: TestPostgres, url: string, role: string): Promise<string> {
  return (await pg.psql(
    `SELECT (SELECT count(*) FROM audit_trail_grants WHERE role = '${role}') || ' ' ||
            has_table_privilege('${role}', 'audit_trail_events', 'SELECT') || ' ' ||
            has_table_privilege('${role}', 'audit_trail_events', 'INSERT')`,
    new URL(url).pathname.slice(1),
  )).trim();
}

Deno.test("central init cut off by the server: one clear line, nothing created, init again completes", async (t) => {
  await using pg = await startPostgres();
  const holds = [
    {
      where: "while init waits for the init lock",
      hold: ["SELECT pg_advisory_lock(hashtext('audit-trail central init'))"],
      statement: /pg_advisory_xact_lock/,
    },
    {
      // Another session's uncommitted table of the same name: init has created its version
      // table and waits in the middle of the schema.
      where: "in the middle of the schema",
      hold: ["BEGIN", "CREATE TABLE audit_trail_grants (held integer)"],
      statement: /CREATE TABLE audit_trail_grants/,
    },
  ];
  for (const { where, hold, statement } of holds) {
    for (const cut of CUTS) {
      await t.step(`${cut} ${where}`, async () => {
        const url = await pg.createDatabase();
        const init = ["central", "init", "--central", url];
        const result = await cutOff(pg, url, init, hold, statement, cut);
        assertOneClearLine(result, pg, cut);
        assert.equal(await centralObjects(pg, url), "0 0");
        const done = await cliJson(init);
        assert.deepEqual([done.from_version, done.to_version], [0, 2]);
        assert.notEqual(await centralObjects(pg, url), "0 0");
        assert.deepEqual(await cliJson(["central", "sites", "--central", url]), []);
      });
    }
  }
});

Deno.test("central grant cut off by the server: one clear line, no half grant, grant again completes", async (t) => {
  await using pg = await startPostgres();
  const holds = [
    {
      where: "before it records the grant",
      hold: ["BEGIN", "LOCK TABLE audit_trail_grants IN ACCESS EXCLUSIVE MODE"],
      statement: /INSERT INTO audit_trail_grants/,
    },
    {
      // Another session's uncommitted GRANT on the events holds their catalog row.
      where: "after it recorded the grant, while it grants the tables",
      hold: ["BEGIN", "GRANT SELECT ON audit_trail_events TO postgres"],
      statement: /GRANT SELECT ON audit_trail_schema/,
    },
  ];
  let roles = 0;
  for (const { where, hold, statement } of holds) {
    for (const cut of CUTS) {
      await t.step(`${cut} ${where}`, async () => {
        const url = await pg.createDatabase();
        await cliJson(["central", "init", "--central", url]);
        const role = `wh_cut_${++roles}`;
        await pg.psql(`CREATE ROLE ${role} LOGIN`);
        const grant = ["central", "grant", "WH-CUT", "--role", role, "--central", url];
        const result = await cutOff(pg, url, grant, hold, statement, cut);
        assertOneClearLine(result, pg, cut);
        assert.equal(await grantState(pg, url, role), "0 false false");
        assert.deepEqual(await cliJson(grant), { site: "WH-CUT", role });
        assert.equal(await grantState(pg, url, role), "1 true true");
      });
    }
  }
});

Deno.test("verify --central cut off by the server: one clear line; verify again answers", async (t) => {
  await using pg = await startPostgres();
  for (const cut of CUTS) {
    await t.step(`${cut} while it reads the sites' heads`, async () => {
      const url = await pg.createDatabase();
      await cliJson(["central", "init", "--central", url]);
      const verify = ["verify", "--central", url];
      const result = await cutOff(
        pg,
        url,
        verify,
        ["BEGIN", "LOCK TABLE audit_trail_sites IN ACCESS EXCLUSIVE MODE"],
        /FROM audit_trail_sites/,
        cut,
      );
      assertOneClearLine(result, pg, cut);
      assert.deepEqual((await cliJson(verify)).sites, []);
    });
  }
});
