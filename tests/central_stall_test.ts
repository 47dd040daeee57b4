/**
 * A central store that accepts the connection and then never answers: something listening
 * that is no PostgreSQL, or a PostgreSQL whose postmaster is stopped (SIGSTOP). Every command
 * that takes `--central` gives up by itself after AUDIT_TRAIL_CENTRAL_TIMEOUT seconds without
 * an answer (exit 1, one line naming the server without its password), changing nothing;
 * a command whose answers keep coming runs as long as it needs. Through the real CLI.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cliCommand,
  collectOutput,
  endedByItself,
  fingerprint,
  migratedDb,
  tempDir,
} from "./helpers.ts";
import { cliJson, logEvents, startPostgres } from "./pg_support.ts";
import { connectCentral, streamCentralRows } from "../lib/central/mod.ts";

/** The seconds a command is told to wait for each answer. */
const BOUND = 1;
/** The bound of the long read: a page of rows from a local server takes milliseconds. */
const LONG_BOUND = 2;

/** Every command that takes --central, as a site or the administrator runs it. */
function commands(url: string, db: string): string[][] {
  return [
    ["central", "init", "--central", url],
    ["central", "grant", "WH-S", "--role", "wh_s", "--central", url],
    ["central", "sites", "--central", url],
    ["verify", "--central", url],
    ["query", "--central", url],
    ["sync", "--central", url, "--site", "WH-S", "--db", db],
  ];
}

/**
 * Runs the CLI with the answer bound, and returns what it printed once it has ended by
 * itself; a command still waiting after a minute (sixty times its bound) fails the test
 * instead of hanging it.
 */
async function runBounded(args: string[], env: Record<string, string> = {}) {
  const child = cliCommand(args, {
    env: { AUDIT_TRAIL_CENTRAL_TIMEOUT: String(BOUND), ...env },
  }).spawn();
  return await endedByItself(
    child,
    collectOutput(child),
    `${args.slice(0, 2).join(" ")} still waited for the silent server`,
  );
}

/** Exit 1, one line naming the server (password as ***) and that it gave no answer, a hint. */
function assertGaveUp(
  result: { code: number; stdout: string; stderr: string },
  shown: string,
  password: string,
) {
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, "");
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 2, result.stderr);
  assert.equal(
    lines[0],
    `audit-trail: error: Central store at ${shown} gave no answer in ${BOUND} s`,
  );
  assert.match(
    lines[1],
    /^hint: .*AUDIT_TRAIL_CENTRAL_TIMEOUT=SECONDS waits longer.*run it again once it answers/,
  );
  assert.ok(!result.stderr.includes(password), result.stderr);
}

Deno.test("central store: a listener that never speaks is given up by every command", async () => {
  await using dir = await tempDir();
  const db = await migratedDb(dir.path);
  await logEvents(db, 3);
  const before = await fingerprint(db);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  // Accepts every connection and keeps it open, silent, until the test ends.
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const connection of listener) held.push(connection);
  })().catch(() => {});
  try {
    for (const args of commands(`postgres://admin:s3cret-pw@127.0.0.1:${port}/audit`, db)) {
      const result = await runBounded(args);
      assertGaveUp(result, `postgres://admin:***@127.0.0.1:${port}/audit`, "s3cret-pw");
    }
    assert.ok(held.length >= 6, `${held.length} connections`);
    // libpq's connect_timeout, in the URL or PGCONNECT_TIMEOUT, bounds connecting on its own.
    for (
      const [url, env] of [
        [`postgres://admin:s3cret-pw@127.0.0.1:${port}/audit?connect_timeout=2`, {}],
        [`postgres://admin:s3cret-pw@127.0.0.1:${port}/audit`, { PGCONNECT_TIMEOUT: "2" }],
      ] as const
    ) {
      const result = await runBounded(["central", "sites", "--central", url], {
        AUDIT_TRAIL_CENTRAL_TIMEOUT: "600",
        ...env,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        new RegExp(
          `^audit-trail: error: Central store at postgres://admin:\\*\\*\\*@127\\.0\\.0\\.1:${port}/audit cannot be reached: connecting took over 2 s\nhint: .*connect_timeout`,
        ),
      );
      assert.ok(!result.stderr.includes("s3cret-pw"));
    }
  } finally {
    listener.close();
    for (const connection of held) connection.close();
    await accepting;
  }
  assert.equal(await fingerprint(db), before);
});

Deno.test("central store: a server whose postmaster is stopped is given up; nothing is half-done", async () => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const url = await pg.createDatabase();
  await pg.psql("CREATE ROLE wh_s LOGIN");
  const db = await migratedDb(dir.path);
  await logEvents(db, 3);
  const before = await fingerprint(db);
  const postmaster = Number(
    (await Deno.readTextFile(join(pg.dataDirectory, "postmaster.pid"))).split("\n")[0],
  );
  Deno.kill(postmaster, "SIGSTOP");
  try {
    for (const args of commands(url, db)) {
      assertGaveUp(await runBounded(args), url.replace(`:${pg.password}@`, ":***@"), pg.password);
    }
  } finally {
    Deno.kill(postmaster, "SIGCONT");
  }
  assert.equal(await fingerprint(db), before);
  // Nothing reached the server: it is as it was, and each command completes now.
  const database = new URL(url).pathname.slice(1);
  assert.equal(
    (await pg.psql("SELECT count(*) FROM pg_class WHERE relname LIKE 'audit_trail%'", database))
      .trim(),
    "0",
  );
  await cliJson(commands(url, db)[0]);
  await cliJson(commands(url, db)[1]);
  const sent = await cliJson(commands(url, db)[5]);
  assert.equal(sent.sent, 3);
  assert.equal((await cliJson(commands(url, db)[3])).sites[0].events_checked, 3);
});

Deno.test("central store: the bound is on each answer, so a long read finishes", async () => {
  await using pg = await startPostgres();
  await using dir = await tempDir();
  const url = await pg.createDatabase();
  await cliJson(["central", "init", "--central", url]);
  await pg.psql("CREATE ROLE wh_s LOGIN");
  await cliJson(["central", "grant", "WH-S", "--role", "wh_s", "--central", url]);
  const db = await migratedDb(dir.path);
  await logEvents(db, 2500);
  await cliJson(["sync", "--central", url, "--site", "WH-S", "--db", db]);
  // Pages of 1,000 rows, each read longer after the one before than the bound: the read as a
  // whole takes more than twice the bound, each answer far less.
  await using central = await connectCentral(url, { answerSeconds: LONG_BOUND });
  let rows = 0;
  for await (const page of streamCentralRows(central, { limit: 0 })) {
    rows += page.length;
    await new Promise((resolve) => setTimeout(resolve, LONG_BOUND * 1000 + 200));
  }
  assert.equal(rows, 2500);
});
