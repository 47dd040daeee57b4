/**
 * Tamper evidence through the real command line: an attacker works on the database file with
 * a separate `sqlite3` shell (dropping the append-only triggers first), and `verify` must name
 * the first event that fails and what happened to it.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  chainHash,
  type ChainVerifyResult,
  GENESIS_HASH,
  type SealedFields,
  verifyChain,
} from "./internals.ts";
import { bytesRead, type CliResult, migratedDb, runCli, sqliteRows, tempDir } from "./helpers.ts";
import { createLog, openToCountReads, writeLegacyDatabase } from "./fixtures.ts";

const TRIGGERS = [
  "audit_log_no_update",
  "audit_log_no_delete",
  "audit_trail_chain_no_update",
  "audit_trail_chain_no_delete",
];
const DROP_TRIGGERS = TRIGGERS.map((name) => `DROP TRIGGER IF EXISTS ${name};`).join("\n");
const EVENTS = 30;

/** Runs a script in the `sqlite3` shell, as someone at the machine could. */
async function sqlite3(path: string, sql: string): Promise<CliResult> {
  const child = new Deno.Command("sqlite3", {
    args: ["-bail", path],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(sql));
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function tamper(path: string, sql: string): Promise<void> {
  const result = await sqlite3(path, `${DROP_TRIGGERS}\n${sql}`);
  assert.equal(result.code, 0, result.stderr);
}

async function verify(path: string, ...args: string[]) {
  const result = await runCli(["verify", "--db", path, "--format", "json", ...args]);
  return { ...result, report: JSON.parse(result.stdout) as ChainVerifyResult };
}

async function head(path: string): Promise<string> {
  const result = await runCli(["head", "--db", path, "--format", "json"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout).anchor;
}

/** A migrated database holding EVENTS events (ids 1..30), written by one bulk `log`. */
async function loggedDb(dir: string): Promise<string> {
  const path = await migratedDb(dir, "source.db");
  const lines = Array.from({ length: EVENTS }, (_, i) =>
    JSON.stringify({
      operation: i % 2 ? "ORDER_CONFIRMED" : "STOCK_ADJUSTED",
      sku: `SKU-${1000 + i}`,
      details: `Order ORD-${i}: ${i + 1} units`,
      ...(i % 3 ? {} : { user: "night-shift" }),
    })).join("\n");
  const result = await runCli(["log", "--stdin", "--db", path], { stdin: lines + "\n" });
  assert.equal(result.code, 0, result.stderr);
  return path;
}

/** A copy of `source` to tamper with (the CLI checkpoints its WAL into the file on exit). */
async function copyOf(source: string, name: string): Promise<string> {
  const path = join(source, "..", name);
  await Deno.copyFile(source, path);
  return path;
}

function assertTampered(
  result: Awaited<ReturnType<typeof verify>>,
  auditId: number,
  kind: string,
) {
  assert.equal(result.code, 3, result.stderr);
  assert.equal(result.report.intact, false);
  assert.equal(result.report.failure?.audit_id, auditId, result.report.failure?.message);
  assert.equal(result.report.failure?.kind, kind, result.report.failure?.message);
  assert.match(result.stderr, new RegExp(`audit-trail: error: Tampering found: .*${auditId}`));
}

Deno.test("verify names each kind of tampering done with the sqlite3 shell", async () => {
  await using dir = await tempDir();
  const source = await loggedDb(dir.path);
  const intact = await verify(source);
  assert.equal(intact.code, 0, intact.stderr);
  assert.equal(intact.report.intact, true);
  assert.equal(intact.report.events_checked, EVENTS);
  assert.equal(intact.report.append_only, true);
  assert.equal(intact.report.failure, null);

  const cases: { name: string; sql: string; id: number; kind: string }[] = [
    {
      name: "edit",
      sql: "UPDATE audit_log SET details = 'Order ORD-11: 1 units' WHERE audit_id = 12;",
      id: 12,
      kind: "modified",
    },
    {
      name: "edit-null",
      sql: "UPDATE audit_log SET sku = NULL WHERE audit_id = 7;",
      id: 7,
      kind: "modified",
    },
    {
      name: "reseal",
      sql: `UPDATE audit_trail_chain SET hash = X'${"ab".repeat(32)}' WHERE audit_id = 20;`,
      id: 20,
      kind: "modified",
    },
    { name: "delete", sql: "DELETE FROM audit_log WHERE audit_id = 12;", id: 12, kind: "deleted" },
    {
      name: "delete-with-seal",
      sql:
        "DELETE FROM audit_log WHERE audit_id = 12; DELETE FROM audit_trail_chain WHERE audit_id = 12;",
      id: 12,
      kind: "deleted",
    },
    {
      name: "insert",
      sql:
        "INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES ('2026-02-16T10:00:00.000Z', 'ORDER_CANCELLED', 'SKU-1003', 'forged', 'ana');",
      id: EVENTS + 1,
      kind: "inserted",
    },
    {
      name: "insert-with-seal",
      sql:
        `INSERT INTO audit_log (audit_id, timestamp, operation) VALUES (0, '2026-01-01T00:00:00.000Z', 'FORGED');
            INSERT INTO audit_trail_chain VALUES (0, X'${"cd".repeat(32)}');`,
      id: 0,
      kind: "inserted",
    },
    {
      name: "swap",
      sql: `UPDATE audit_log SET audit_id = -1 WHERE audit_id = 12;
            UPDATE audit_log SET audit_id = 12 WHERE audit_id = 13;
            UPDATE audit_log SET audit_id = 13 WHERE audit_id = -1;`,
      id: 12,
      kind: "reordered",
    },
    {
      name: "swap-with-seals",
      sql: `UPDATE audit_log SET audit_id = -1 WHERE audit_id = 5;
            UPDATE audit_log SET audit_id = 5 WHERE audit_id = 25;
            UPDATE audit_log SET audit_id = 25 WHERE audit_id = -1;
            UPDATE audit_trail_chain SET audit_id = -1 WHERE audit_id = 5;
            UPDATE audit_trail_chain SET audit_id = 5 WHERE audit_id = 25;
            UPDATE audit_trail_chain SET audit_id = 25 WHERE audit_id = -1;`,
      id: 5,
      kind: "reordered",
    },
  ];
  await Promise.all(cases.map(async ({ name, sql, id, kind }) => {
    const path = await copyOf(source, `${name}.db`);
    await tamper(path, sql);
    const result = await verify(path);
    assertTampered(result, id, kind);
    assert.equal(result.report.events_checked, Math.max(id - 1, 0));
    assert.equal(result.report.append_only, false);
  }));
});

Deno.test("verify names an id beyond 2^53 at either end of either table, found without reading every row", async () => {
  await using dir = await tempDir();
  const source = await loggedDb(dir.path);
  const cases = [
    [
      "INSERT INTO audit_log (audit_id, timestamp, operation) VALUES (9007199254740993, '2026-01-01T00:00:00.000Z', 'FORGED');",
      "9007199254740993",
      "inserted",
    ],
    [
      "INSERT INTO audit_log (audit_id, timestamp, operation) VALUES (-9007199254740993, '2026-01-01T00:00:00.000Z', 'FORGED');",
      "-9007199254740993",
      "inserted",
    ],
    [
      `INSERT INTO audit_trail_chain VALUES (9007199254740995, X'${"cd".repeat(32)}');`,
      "9007199254740995",
      "modified",
    ],
  ] as const;
  await Promise.all(cases.map(async ([sql, id, kind], i) => {
    const path = await copyOf(source, `range${i}.db`);
    await tamper(path, sql);
    const result = await verify(path);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.report.failure?.kind, kind);
    assert.equal(
      result.report.failure?.message,
      `Event ${id} was ${kind} outside audit-trail: its id is out of range`,
    );
  }));

  // An intact log: the walk reads each table about once; the check of ids read both again.
  const path = join(dir.path, "pages.db");
  await createLog(
    path,
    Array.from({ length: 20_000 }, (_, i) => ({ operation: "COUNTED", sku: `SKU-${i}` })),
  );
  const { db, bytes: tables } = openToCountReads(path, "audit_log", "audit_trail_chain");
  using _db = db;
  const before = bytesRead();
  assert.equal((await verifyChain(db)).intact, true);
  const read = bytesRead() - before;
  assert.ok(read < tables * 1.5, `read ${read} bytes of ${tables} bytes of events and seals`);
});

Deno.test("an edit among identical events of one bulk load is named modified, not reordered", async () => {
  await using dir = await tempDir();
  const path = await migratedDb(dir.path, "twins.db");
  // One transaction stamps every line with the same time: the events differ only by audit_id.
  const line = JSON.stringify({ operation: "PICKED", sku: "SKU-7", details: "1 unit" });
  const logged = await runCli(["log", "--stdin", "--db", path], {
    stdin: `${line}\n`.repeat(5),
  });
  assert.equal(logged.code, 0, logged.stderr);
  await tamper(path, "UPDATE audit_log SET details = '9 units' WHERE audit_id = 2;");
  const result = await verify(path);
  assertTampered(result, 2, "modified");
  assert.match(result.report.failure?.message ?? "", /no longer matches its seal/);
});

Deno.test("verify --anchor catches deleted newest events and a consistently rewritten chain", async () => {
  await using dir = await tempDir();
  const source = await loggedDb(dir.path);
  const anchor = await head(source);
  assert.match(anchor, /^30:[0-9a-f]{64}$/);

  // Deleting the newest ten events with their seals leaves a chain that holds together.
  const truncated = await copyOf(source, "truncated.db");
  await tamper(
    truncated,
    "DELETE FROM audit_log WHERE audit_id > 20; DELETE FROM audit_trail_chain WHERE audit_id > 20;",
  );
  // Rewriting: change event 5, then recompute every seal from there on.
  const rewritten = await copyOf(source, "rewritten.db");
  await tamper(
    rewritten,
    "UPDATE audit_log SET details = 'Order ORD-4: 500 units' WHERE audit_id = 5;",
  );
  const rows = sqliteRows(
    rewritten,
    "SELECT audit_id, timestamp, operation, sku, details, user, run_id FROM audit_log ORDER BY audit_id",
  ) as unknown as SealedFields[];
  let previous = GENESIS_HASH;
  const seals = rows.map((row) => `(${row.audit_id}, X'${previous = chainHash(previous, row)}')`);
  await tamper(
    rewritten,
    `DELETE FROM audit_trail_chain; INSERT INTO audit_trail_chain VALUES ${seals.join(", ")};`,
  );

  const [truncatedPlain, rewrittenPlain, truncatedAnchored, rewrittenAnchored, intactAnchored] =
    await Promise.all([
      verify(truncated),
      verify(rewritten),
      verify(truncated, "--anchor", anchor),
      verify(rewritten, "--anchor", anchor),
      verify(source, "--anchor", anchor),
    ]);
  // Without an anchor neither can be seen: that is what the anchor is for.
  assert.equal(truncatedPlain.code, 0, truncatedPlain.stderr);
  assert.equal(truncatedPlain.report.head?.audit_id, 20);
  assert.equal(rewrittenPlain.code, 0, rewrittenPlain.stderr);

  assertTampered(truncatedAnchored, 30, "deleted");
  assert.match(truncatedAnchored.report.failure!.message, /ends at event 20/);
  assert.equal(truncatedAnchored.report.anchor?.matches, false);
  assertTampered(rewrittenAnchored, 30, "modified");
  assert.match(rewrittenAnchored.report.failure!.message, /does not match the anchor/);

  assert.equal(intactAnchored.code, 0, intactAnchored.stderr);
  assert.deepEqual(intactAnchored.report.anchor, {
    audit_id: 30,
    hash: anchor.slice(3),
    matches: true,
  });
});

Deno.test("triggers refuse UPDATE and DELETE with a clear message; verify still sees a REPLACE", async () => {
  await using dir = await tempDir();
  const path = await loggedDb(dir.path);
  for (
    const [sql, message] of [
      ["UPDATE audit_log SET details = 'x' WHERE audit_id = 3;", "audit events cannot be changed"],
      ["DELETE FROM audit_log WHERE audit_id = 3;", "audit events cannot be deleted"],
      ["UPDATE audit_trail_chain SET hash = 'x';", "integrity seals cannot be changed"],
      ["DELETE FROM audit_trail_chain;", "integrity seals cannot be deleted"],
    ]
  ) {
    const result = await sqlite3(path, sql);
    assert.notEqual(result.code, 0, sql);
    assert.match(result.stderr, new RegExp(`is append-only: ${message}`), sql);
  }
  const intact = await verify(path);
  assert.equal(intact.code, 0, intact.stderr);
  assert.equal(intact.report.events_checked, EVENTS);

  // REPLACE deletes without firing DELETE triggers (unless recursive_triggers is on): the
  // triggers let it through, the chain does not.
  const replaced = await sqlite3(
    path,
    "INSERT OR REPLACE INTO audit_log (audit_id, timestamp, operation) SELECT audit_id, timestamp, 'FORGED' FROM audit_log WHERE audit_id = 3;",
  );
  assert.equal(replaced.code, 0, replaced.stderr);
  const result = await verify(path);
  assertTampered(result, 3, "modified");
  assert.equal(result.report.append_only, true);
});

Deno.test("migrate seals legacy rows as they are and leaves other tables alone", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "inventory.db");
  const created = await sqlite3(
    path,
    `CREATE TABLE audit_log (
       audit_id INTEGER PRIMARY KEY AUTOINCREMENT,
       timestamp TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
       operation TEXT NOT NULL, sku TEXT, details TEXT, user TEXT DEFAULT 'system');
     CREATE TABLE inventory (sku TEXT PRIMARY KEY, name TEXT, quantity INTEGER);
     INSERT INTO inventory VALUES ('SKU-1', 'Widget', 40), ('SKU-2', 'Gadget', NULL);
     INSERT INTO audit_log (timestamp, operation, sku, details, user) VALUES
       ('2026-02-15 08:00:00', 'SKU_CREATED', 'SKU-1', 'Created Widget', 'admin'),
       ('2026-02-15 09:00:00', 'STOCK_ADJUSTED', 'SKU-1', NULL, NULL),
       ('2026-02-15 10:00:00', 'TYPO', NULL, '', 'clerk'),
       ('2026-02-16 00:00:00', 'STOCK_COUNT', NULL, NULL, 'clerk'),
       ('2026-02-16 12:30:00', 'ORDER_CONFIRMED', 'SKU-2', 'Order "ORD-1": 5 units' || char(10) || 'ok', 'admin');
     DELETE FROM audit_log WHERE audit_id = 3;`,
  );
  assert.equal(created.code, 0, created.stderr);
  const inventoryBefore = (await sqlite3(path, ".dump inventory")).stdout;
  const LEGACY_COLUMNS = "audit_id, timestamp, operation, sku, details, user";
  const legacyBefore = sqliteRows(
    path,
    `SELECT ${LEGACY_COLUMNS} FROM audit_log ORDER BY audit_id`,
  );

  const migrated = await runCli(["migrate", "--db", path]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.deepEqual(
    sqliteRows(path, `SELECT ${LEGACY_COLUMNS} FROM audit_log ORDER BY audit_id`),
    legacyBefore,
  );
  assert.equal((await sqlite3(path, ".dump inventory")).stdout, inventoryBefore);

  // The seals follow the documented encoding, computed here independently: SHA-256 of the
  // previous seal's 32 bytes and the event's JSON array, stored as a 32-byte BLOB.
  let previous = new Uint8Array(32);
  const expected = (legacyBefore as unknown as SealedFields[]).map((row) => {
    const { audit_id, timestamp, operation, sku, details, user } = row;
    const json = JSON.stringify([audit_id, timestamp, operation, sku, details, user, null]);
    previous = new Uint8Array(createHash("sha256").update(previous).update(json).digest());
    return { audit_id, hash: Buffer.from(previous).toString("hex"), type: "blob" };
  });
  assert.deepEqual(
    sqliteRows(
      path,
      "SELECT audit_id, lower(hex(hash)) AS hash, typeof(hash) AS type FROM audit_trail_chain ORDER BY audit_id",
    ).map((row) => ({ ...row })),
    expected,
  );
  // chainHash() computes the same seals.
  let chained = GENESIS_HASH;
  for (const [i, row] of (legacyBefore as unknown as SealedFields[]).entries()) {
    chained = chainHash(chained, { ...row, run_id: null });
    assert.equal(chained, expected[i].hash);
  }

  const logged = await runCli(["log", "SKU_UPDATED", "--sku", "SKU-1", "--db", path]);
  assert.equal(logged.stdout, "6\n", logged.stderr);
  const result = await verify(path);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.report.events_checked, 5);
  assert.equal(result.report.head?.audit_id, 6);

  // Query records keep exactly their seven fields.
  const query = await runCli(["query", "--db", path, "--format", "json", "--limit", "1"]);
  assert.deepEqual(Object.keys(JSON.parse(query.stdout)[0]), [
    "audit_id",
    "timestamp",
    "operation",
    "sku",
    "details",
    "user",
    "run_id",
  ]);

  await tamper(path, "UPDATE audit_log SET user = 'admin' WHERE audit_id = 2;");
  assertTampered(await verify(path), 2, "modified");
});

Deno.test("bulk and single writes seal any text exactly as the documented encoding says", async () => {
  await using dir = await tempDir();
  const path = await migratedDb(dir.path);
  const tricky = [
    'quote " backslash \\ slash / tab \t newline \n return \r',
    "control \u0001\u001f\u007f, form feed \f, backspace \b",
    "accents é ü, CJK 漢字, emoji 📦🚚, separators \u2028\u2029",
    "x".repeat(40_000) + "é".repeat(20_000),
  ];
  const lines = tricky.map((details, i) =>
    JSON.stringify({ operation: `OP_${i}`, details, sku: i % 2 ? null : `SKU-"${i}"`, user: "ü" })
  );
  const bulk = await runCli(["log", "--stdin", "--db", path, "--run-id", "run_x"], {
    stdin: lines.join("\n") + "\n",
  });
  assert.equal(bulk.code, 0, bulk.stderr);
  const single = await runCli(["log", "SINGLE", "--details", tricky[0], "--db", path]);
  assert.equal(single.code, 0, single.stderr);

  const rows = sqliteRows(
    path,
    "SELECT audit_id, timestamp, operation, sku, details, user, run_id FROM audit_log ORDER BY audit_id",
  ) as unknown as SealedFields[];
  assert.equal(rows.length, tricky.length + 1);
  assert.equal(rows[3].details, tricky[3]);
  let previous = new Uint8Array(32);
  const expected = rows.map(({ audit_id, timestamp, operation, sku, details, user, run_id }) => {
    const json = JSON.stringify([audit_id, timestamp, operation, sku, details, user, run_id]);
    previous = new Uint8Array(createHash("sha256").update(previous).update(json).digest());
    return Buffer.from(previous).toString("hex");
  });
  assert.deepEqual(
    sqliteRows(path, "SELECT lower(hex(hash)) AS hash FROM audit_trail_chain ORDER BY audit_id")
      .map((row) => row.hash),
    expected,
  );
  const result = await verify(path);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.report.events_checked, rows.length);
});

Deno.test("parallel writers (8 single logs and a bulk load) extend one valid chain", async () => {
  await using dir = await tempDir();
  const path = await migratedDb(dir.path);
  const bulk = Array.from({ length: 300 }, (_, i) => JSON.stringify({ operation: `BULK_${i}` }));
  const results = await Promise.all([
    ...Array.from({ length: 8 }, (_, i) => runCli(["log", `SINGLE_${i}`, "--db", path])),
    runCli(["log", "--stdin", "--db", path], { stdin: bulk.join("\n") + "\n" }),
  ]);
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  const result = await verify(path);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.report.events_checked, 308);
  assert.equal(result.report.head?.audit_id, 308);
});

Deno.test("a new event never takes over the seal of a deleted newest event", async () => {
  await using dir = await tempDir();
  const path = await loggedDb(dir.path);
  await tamper(path, "DELETE FROM audit_log WHERE audit_id = 30;");
  const logged = await runCli(["log", "AFTER", "--db", path]);
  assert.equal(logged.stdout, "31\n", logged.stderr);
  assertTampered(await verify(path), 30, "deleted");
});

Deno.test("head prints ID:HASH or JSON; verify refuses a malformed anchor", async () => {
  await using dir = await tempDir();
  const path = await migratedDb(dir.path);
  const empty = await runCli(["head", "--db", path, "--format", "json"]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.deepEqual(JSON.parse(empty.stdout), { audit_id: null, hash: null, anchor: null });
  await runCli(["log", "FIRST", "--db", path]);
  const [json, table, bad] = await Promise.all([
    runCli(["head", "--db", path, "--format", "json"]),
    runCli(["head", "--db", path, "--format", "table"]),
    runCli(["verify", "--db", path, "--anchor", "1:abc"]),
  ]);
  const parsed = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(parsed), ["audit_id", "hash", "anchor"]);
  assert.equal(parsed.audit_id, 1);
  assert.match(parsed.hash, /^[0-9a-f]{64}$/);
  assert.equal(table.stdout, `${parsed.anchor}\n`);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Anchor "1:abc" is not ID:HASH/);
});

Deno.test("verify names the two look-alike cases as README says: forged newest event, edit after an adopted gap", async () => {
  await using dir = await tempDir();
  const source = await loggedDb(dir.path);
  const forged = await copyOf(source, "forged-tail.db");
  await tamper(
    forged,
    `INSERT INTO audit_log (audit_id, timestamp, operation) VALUES (${
      EVENTS + 1
    }, '2026-03-01T00:00:00.000Z', 'FORGED');
     INSERT INTO audit_trail_chain VALUES (${EVENTS + 1}, X'${"ef".repeat(32)}');`,
  );
  assertTampered(await verify(forged), EVENTS + 1, "modified");

  // Ids 1, 2, 6 when adopted: the gap 3-5 is sealed over, then event 6 is edited.
  const adopted = join(dir.path, "gap.db");
  writeLegacyDatabase(adopted);
  const gap = await sqlite3(adopted, "DELETE FROM audit_log WHERE audit_id BETWEEN 3 AND 5;");
  assert.equal(gap.code, 0, gap.stderr);
  assert.equal((await runCli(["migrate", "--db", adopted])).code, 0);
  assert.equal((await verify(adopted)).code, 0);
  await tamper(adopted, "UPDATE audit_log SET details = 'changed' WHERE audit_id = 6;");
  assertTampered(await verify(adopted), 3, "deleted");
});

/** The Python checker README.md gives, as printed there. */
async function readmeChecker(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const block = readme.match(/```python\n([\s\S]*?)```/);
  assert.ok(block, "README.md holds the Python checker");
  return block[1];
}

const python = new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
  .output().then((output) => output.success, () => false);

Deno.test({
  name: "README's Python checker agrees with verify: archived logs, unsealed and unpaired tails",
  ignore: !(await python),
  async fn() {
    await using dir = await tempDir();
    const script = join(dir.path, "check.py");
    await Deno.writeTextFile(script, await readmeChecker());
    const check = async (path: string) => {
      const output = await new Deno.Command("python3", { args: [script, path] }).output();
      return { code: output.code, text: new TextDecoder().decode(output.stdout) };
    };
    const source = await loggedDb(dir.path);
    const newest = (await head(source)).split(":")[1];
    assert.deepEqual(await check(source), { code: 0, text: `intact; newest seal ${newest}\n` });

    const archived = await copyOf(source, "archived.db");
    const moved = await runCli(["archive", "--keep", "0", "--db", archived]);
    assert.equal(moved.code, 0, moved.stderr);
    const after = await runCli(["log", "AFTER_ARCHIVE", "--db", archived]);
    assert.equal(after.code, 0, after.stderr);
    const archivedHead = (await head(archived)).split(":")[1];
    assert.deepEqual(await check(archived), {
      code: 0,
      text: `intact; newest seal ${archivedHead}\n`,
    });

    const cases = [
      ["unsealed-tail.db", "INSERT INTO audit_log (operation) VALUES ('SNEAKED_IN');"],
      ["lone-seal.db", `DELETE FROM audit_log WHERE audit_id = ${EVENTS};`],
      ["seal-removed.db", `DELETE FROM audit_trail_chain WHERE audit_id = ${EVENTS};`],
    ];
    for (const [name, sql] of cases) {
      const path = await copyOf(source, name);
      await tamper(path, sql);
      assert.equal((await verify(path)).code, 3, name);
      assert.equal((await check(path)).code, 1, `${name}: the checker must fail too`);
    }
  },
});
