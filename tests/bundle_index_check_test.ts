/**
 * The bundle's check of indexes against their tables (lib/bundle/index_check.ts): on
 * databases damaged the ways an index goes wrong (missing a row, a stale value, an entry for
 * a row that is gone), it must find what SQLite's `integrity_check` finds, by its own
 * comparison, and report SQLite's messages; on a healthy one it reports nothing and needs no
 * full check.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { logAuditEvents } from "../mod.ts";
import { checkIndexes, parseCreateIndex } from "../lib/bundle/index_check.ts";
import { collectDatabaseStats } from "../lib/bundle/stats.ts";
import { tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

/** A migrated database with 200 events and a table of every kind of index and value. */
async function healthyDatabase(dir: string): Promise<string> {
  {
    using db = openMigrated(dir);
    await logAuditEvents(
      db,
      Array.from({ length: 200 }, (_, i) => ({
        operation: i % 3 ? "STOCK_ADJUSTED" : "SKU_CREATED",
        sku: i % 7 ? `SKU-${i % 40}` : null,
        user: `clerk-${i % 5}`,
        run_id: `run-${i % 4}`,
      })),
    );
    db.sqlite.exec(`
      CREATE TABLE items (name TEXT COLLATE NOCASE, qty INT, price REAL, photo BLOB, note TEXT);
      CREATE INDEX items_name_qty ON items (name COLLATE BINARY DESC, qty);
      CREATE INDEX "items (upper)" ON items (upper(name), -- a comment, with a comma
        price * 2, qty, price)
        WHERE qty > 0 AND price IS NOT 0.125;
      CREATE INDEX items_photo ON items (photo, price);
      CREATE INDEX items_nocase ON items (name, note);
      INSERT INTO items VALUES
        ('Bolt', 10, 0.25, x'00ff', NULL), ('bolt', 0, 1e300, NULL, 'x,y)'),
        (NULL, NULL, NULL, NULL, NULL), ('nut', 5, -0.0, x'', 'n'), ('Nut', 7, 3, zeroblob(3), ''), ('NUT', 7, 3, NULL, ''),
        ('ünïcode ✓', 2, 1.5, x'01', 'u');
    `);
  }
  return join(dir, "app.db");
}

/** Opens `path` allowing changes to `sqlite_schema` (never done by audit-trail itself). */
function openRaw(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { defensive: false } as never);
  db.exec("PRAGMA writable_schema = ON");
  return db;
}

/**
 * Runs `work` while the index `name` is missing from the schema (its entries stay in the
 * file, untouched by the changes `work` makes), then puts it back as it was.
 */
function whileIndexDetached(path: string, name: string, work: (db: DatabaseSync) => void): void {
  let row;
  {
    const db = openRaw(path);
    row = db.prepare("SELECT * FROM sqlite_schema WHERE name = ?").get(name)!;
    db.prepare("DELETE FROM sqlite_schema WHERE name = ?").run(name);
    db.close();
  }
  const db = new DatabaseSync(path);
  work(db);
  db.close();
  const raw = openRaw(path);
  raw.prepare(
    "INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES (?, ?, ?, ?, ?)",
  ).run(row.type, row.name, row.tbl_name, row.rootpage, row.sql);
  raw.close();
}

/** Runs `work` while the index `name` is a partial index no row belongs to. */
function whileIndexSkipped(path: string, name: string, work: (db: DatabaseSync) => void): void {
  const raw = openRaw(path);
  const sql = String(raw.prepare("SELECT sql FROM sqlite_schema WHERE name = ?").get(name)!.sql);
  raw.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = ?").run(`${sql} WHERE 0`, name);
  raw.close();
  const db = new DatabaseSync(path);
  work(db);
  db.close();
  const back = openRaw(path);
  back.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = ?").run(sql, name);
  back.close();
}

/** SQLite's own messages for `table` (`[]` when it says `ok`). */
function sqliteFindings(path: string, table: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(`PRAGMA integrity_check("${table}")`).all()
      .flatMap((row) => String(row.integrity_check).split("\n")).filter((m) => m !== "ok");
  } finally {
    db.close();
  }
}

function ourFindings(path: string) {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return checkIndexes(db, 100);
  } finally {
    db.close();
  }
}

/**
 * Our check names the damaged index by its own comparison (not by falling back for another
 * reason), and reports exactly what SQLite's full check of the table reports.
 */
function assertFoundLikeSqlite(path: string, table: string, index: string, expect: RegExp) {
  const sqlite = sqliteFindings(path, table);
  assert.ok(sqlite.length > 0, "SQLite's integrity_check sees the damage");
  assert.match(sqlite.join("\n"), expect);
  const found = ourFindings(path);
  assert.deepEqual(found.fullyChecked.map((f) => f.table), [table]);
  assert.match(found.fullyChecked[0].reason, new RegExp(`index .*${index}.* does not match`));
  assert.deepEqual(found.messages, sqlite);
}

Deno.test("checkIndexes() finds nothing wrong in a healthy database, without SQLite's full check", async () => {
  await using dir = await tempDir();
  const path = await healthyDatabase(dir.path);
  assert.deepEqual(sqliteFindings(path, "audit_log"), []);
  assert.deepEqual(sqliteFindings(path, "items"), []);
  assert.deepEqual(ourFindings(path), { messages: [], fullyChecked: [] });

  const stats = await collectDatabaseStats(path, { busyTimeoutMs: 1000 });
  assert.equal(stats.integrity_check.mode, "quick_check+indexes");
  assert.deepEqual(stats.integrity_check.messages, ["ok"]);
  assert.equal(stats.integrity_check.ok, true);
  assert.equal(stats.integrity_check.fully_checked, undefined);
});

Deno.test("checkIndexes() finds an index missing a row, as integrity_check does", async () => {
  await using dir = await tempDir();
  const path = await healthyDatabase(dir.path);
  whileIndexSkipped(path, "idx_audit_log_sku", (db) => {
    db.exec("INSERT INTO audit_log (operation, sku) VALUES ('SKU_CREATED', 'SKU-NEW')");
  });
  assertFoundLikeSqlite(
    path,
    "audit_log",
    "idx_audit_log_sku",
    /missing from index idx_audit_log_sku/,
  );

  const stats = await collectDatabaseStats(path, { busyTimeoutMs: 1000 });
  assert.equal(stats.integrity_check.ok, false);
  assert.match(stats.integrity_check.messages.join("\n"), /idx_audit_log_sku/);
});

Deno.test("checkIndexes() finds a stale entry (its row changed, the index did not)", async (t) => {
  const cases = [
    {
      index: "idx_audit_log_sku",
      change: "UPDATE audit_log SET sku = 'SKU-9' WHERE sku = 'SKU-8'",
    },
    {
      index: "idx_audit_log_user",
      change: "UPDATE audit_log SET user = 'clerk-1' WHERE audit_id = 3",
    },
    {
      index: "idx_audit_log_timestamp",
      change: "UPDATE audit_log SET timestamp = '2020-01-01T00:00:00.000Z' WHERE audit_id = 150",
    },
  ];
  for (const { index, change } of cases) {
    await t.step(index, async () => {
      await using dir = await tempDir();
      const path = await healthyDatabase(dir.path);
      whileIndexDetached(path, index, (db) => {
        db.exec("DROP TRIGGER audit_log_no_update");
        db.exec(change);
      });
      assertFoundLikeSqlite(path, "audit_log", index, new RegExp(`missing from index ${index}`));
    });
  }
  await t.step("a partial index on an expression, NULLs and every type", async () => {
    await using dir = await tempDir();
    const path = await healthyDatabase(dir.path);
    whileIndexDetached(path, "items (upper)", (db) => {
      db.exec("UPDATE items SET price = 2.5 WHERE name = 'nut'");
    });
    assertFoundLikeSqlite(path, "items", "items \\(upper\\)", /missing from index items \(upper\)/);
  });
  await t.step("a changed BLOB", async () => {
    await using dir = await tempDir();
    const path = await healthyDatabase(dir.path);
    whileIndexDetached(path, "items_photo", (db) => {
      db.exec("UPDATE items SET photo = x'00fe' WHERE qty = 10");
    });
    assertFoundLikeSqlite(path, "items", "items_photo", /missing from index items_photo/);
  });
});

Deno.test("checkIndexes() finds an entry whose row is gone", async () => {
  await using dir = await tempDir();
  const path = await healthyDatabase(dir.path);
  whileIndexDetached(path, "idx_audit_log_run_id", (db) => {
    db.exec("DROP TRIGGER audit_log_no_delete");
    db.exec("DELETE FROM audit_log WHERE audit_id = 77");
  });
  assertFoundLikeSqlite(path, "audit_log", "idx_audit_log_run_id", /idx_audit_log_run_id/);
});

Deno.test("checkIndexes() leaves to SQLite's full check what it cannot compare", async () => {
  await using dir = await tempDir();
  const path = await healthyDatabase(dir.path);
  {
    const db = new DatabaseSync(path);
    db.exec(`
      CREATE TABLE codes (code TEXT UNIQUE, n INT); INSERT INTO codes VALUES ('a', 1), ('b', 2);
      CREATE TABLE pairs (a INT, b INT, PRIMARY KEY (a, b)) WITHOUT ROWID;
      CREATE INDEX pairs_b ON pairs (b); INSERT INTO pairs VALUES (1, 2), (3, 4);
      CREATE INDEX items_note ON items (note) WHERE qty > 3;
      CREATE TABLE shadowed (rowid TEXT, _rowid_ TEXT, oid TEXT);
      CREATE INDEX shadowed_oid ON shadowed (oid); INSERT INTO shadowed VALUES ('1', '2', '3');
    `);
    db.close();
  }
  const found = ourFindings(path);
  assert.deepEqual(found.messages, []);
  assert.deepEqual(
    found.fullyChecked.map((f) => [f.table, f.reason]),
    [
      ["codes", "its index sqlite_autoindex_codes_1 is UNIQUE"],
      ["items", "its index items_note cannot be read alone"],
      ["pairs", "it is a WITHOUT ROWID table"],
      ["shadowed", "its rowid cannot be named"],
    ],
  );
  // And that full check still finds damage there.
  whileIndexDetached(path, "pairs_b", (db) => db.exec("UPDATE pairs SET b = 5 WHERE a = 1"));
  const damaged = ourFindings(path);
  assert.deepEqual(damaged.messages, sqliteFindings(path, "pairs"));
  assert.ok(damaged.messages.length > 0);
});

Deno.test("parseCreateIndex() reads the key terms and the WHERE of CREATE INDEX", () => {
  assert.deepEqual(parseCreateIndex("CREATE INDEX i ON t(a)"), { terms: ["a"], where: null });
  assert.deepEqual(
    parseCreateIndex(
      `CREATE UNIQUE INDEX IF NOT EXISTS "we(ird" ON [t(] (a COLLATE NOCASE DESC, "b,c" ASC,
         coalesce(strftime('%Y-%m-%d', ts), ts) DESC, f(x, ')') /* ) */) WHERE a > 0 AND b = ','`,
    ),
    {
      terms: ["a", '"b,c"', "coalesce(strftime('%Y-%m-%d', ts), ts)", "f(x, ')')"],
      where: "a > 0 AND b = ','",
    },
  );
  assert.equal(parseCreateIndex("CREATE INDEX i ON t(a"), null);
  assert.equal(parseCreateIndex("CREATE INDEX i ON t(a) WHERE"), null);
  assert.equal(parseCreateIndex("CREATE INDEX i ON t('a)"), null);
  assert.equal(parseCreateIndex("CREATE INDEX i ON t(a) LIMIT 3"), null);
});
