/**
 * The parts of a debug bundle on their own: redaction and the secret scan, the row-by-row
 * copy, the checks in workers, the step runner's time limits, bundle names, the progress display and the launcher.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { exportDebugBundle, logAuditEvents } from "../mod.ts";
import {
  isSecretKey,
  jsonErrorPosition,
  redactConnectionString,
  REDACTED,
  redactSettings,
  SecretScanner,
  secretsInText,
} from "../lib/bundle/redact.ts";
import { copyDatabase } from "../lib/bundle/logical_copy.ts";
import { checkDatabase } from "../lib/bundle/check.ts";
import { verifyBundle } from "../lib/bundle/verify.ts";
import { leveledCompressionStream, openZip } from "../lib/bundle/zip.ts";
import { stepRunner } from "../lib/bundle/steps.ts";
import type { BundleError } from "../lib/bundle/manifest.ts";
import { bundleBaseName, BundleFolderError } from "../lib/bundle/workspace.ts";
import { progressPrinter } from "../cli/bundle.ts";
import { launcherDatabasePath, type LauncherIo, runLauncher } from "../launcher.ts";
import { ROOT, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";

Deno.test("isSecretKey() knows secret keys in any case and with any separator", () => {
  const secret = [
    "password",
    "dbPassword",
    "DB_PASSWORD",
    "passwd",
    "pwd",
    "pass",
    "client_secret",
    "accessToken",
    "refresh-token",
    "apiKey",
    "API KEY",
    "x-api-key",
    "credentials",
    "privateKey",
    "private_key_pem",
    "auth",
    "Authorization",
    "basicAuth",
    "secretKey",
    // Keys named key, *_key, jwt, token, secret, credential(s), signatures:
    "key",
    "license_key",
    "sort_key",
    "SAS-Key",
    "masterKey",
    "jwt",
    "JWT_SECRET",
    "refreshToken",
    "credential",
    "sig",
    "sasSignature",
  ];
  const plain = ["host", "port", "user", "username", "keyboard_layout", "monkey", "path", "url"];
  assert.deepEqual(secret.filter((k) => !isSecretKey(k)), []);
  assert.deepEqual(plain.filter(isSecretKey), []);
});

Deno.test("redactConnectionString() removes passwords from URLs, bare user:pass@host and key=value strings", () => {
  const cases: [string, string, string[]][] = [
    ["mysql://root:r00t@10.0.0.5:3306/inv", `mysql://root:${REDACTED}@10.0.0.5:3306/inv`, ["r00t"]],
    ["redis://:onlypass@cache:6379", `redis://:${REDACTED}@cache:6379`, ["onlypass"]],
    ["admin:s3cr3t@db.local:5432", `admin:${REDACTED}@db.local:5432`, ["s3cr3t"]],
    [
      "Server=sql1;User Id=sa;Password=My Pass;Trusted=no",
      `Server=sql1;User Id=sa;Password=${REDACTED};Trusted=no`,
      ["My Pass"],
    ],
    [
      "https://api.local/v1?user=a&api_key=K-123&x=1",
      `https://api.local/v1?user=a&api_key=${REDACTED}&x=1`,
      [
        "K-123",
      ],
    ],
    ["mailto:ops@example.com", "mailto:ops@example.com", []],
    ["localhost:8080", "localhost:8080", []],
  ];
  for (const [input, text, found] of cases) {
    assert.deepEqual(redactConnectionString(input), { text, found }, input);
  }
});

Deno.test("redactSettings() redacts at any depth, keeps the rest, and remembers what to scan for", async () => {
  const settings = {
    port: 8080,
    empty_password: "",
    no_token: null,
    db: { host: "db1", password: "pw-one", replicas: [{ host: "db2", password: "pw-two" }] },
    auth: { user: "svc", scopes: ["read", "write"] },
    pin: 4242,
  };
  const before = structuredClone(settings);
  const { redacted, paths, secrets } = await redactSettings(settings);
  assert.deepEqual(settings, before, "the input is not changed");
  assert.deepEqual(redacted, {
    port: 8080,
    empty_password: "",
    no_token: null,
    db: { host: "db1", password: REDACTED, replicas: [{ host: "db2", password: REDACTED }] },
    auth: { user: REDACTED, scopes: [REDACTED, REDACTED] },
    pin: REDACTED,
  });
  assert.deepEqual(paths, [
    "db.password",
    "db.replicas[0].password",
    "auth.user",
    "auth.scopes[0]",
    "auth.scopes[1]",
    "pin",
  ]);
  // Values kept under "auth" but not named as secrets (a user name) are not scanned for:
  // they would match the user column of ordinary events.
  assert.deepEqual(secrets.map((s) => s.value), ["pw-one", "pw-two", "4242"]);
});

Deno.test("an invalid settings file is described by position only, and its secrets are still found", () => {
  const text = '{\n  "db_password": "Sup3r-Secret",\n  "url": "ftp://u:Ftp-Pw@h/",\n  broken';
  let error: unknown;
  try {
    JSON.parse(text);
  } catch (e) {
    error = e;
  }
  const message = jsonErrorPosition(text, error);
  assert.equal(message, "it is not valid JSON (line 4, column 3)");
  assert.ok(!message.includes("Sup3r"));
  assert.deepEqual(secretsInText(text).map((s) => s.value), ["Sup3r-Secret", "Ftp-Pw"]);
});

Deno.test("SecretScanner finds values across chunk boundaries and in JSON- and CSV-escaped form", () => {
  const scanner = new SecretScanner([
    { path: "a", value: "split-secret" },
    { path: "b", value: 'say "hi" now' },
    { path: "c", value: "abc" }, // too short to look for
  ]);
  const encode = (s: string) => new TextEncoder().encode(s);
  const first = scanner.file();
  first.feed(encode("xx split-se"));
  first.feed(encode("cret yy"));
  assert.deepEqual(first.found(), ["a"]);
  const json = scanner.file();
  json.feed(encode(JSON.stringify({ v: 'say "hi" now' })));
  assert.deepEqual(json.found(), ["b"]);
  const csv = scanner.file();
  csv.feed(encode('1,"say ""hi"" now",abc\r\n'));
  assert.deepEqual(csv.found(), ["b"]);
  const none = scanner.file();
  none.feed(encode("abc abc abc"));
  assert.deepEqual(none.found(), []);
  assert.equal(new SecretScanner([]).active, false);
});

Deno.test("copyDatabase() copies schema, rows, big integers, blobs, sequences, indexes, triggers and FTS", async () => {
  await using dir = await tempDir();
  const source = new DatabaseSync(join(dir.path, "source.db"));
  source.exec(`PRAGMA synchronous = OFF;
    CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, big INTEGER, data BLOB, label TEXT);
    CREATE TABLE pairs (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
    CREATE TABLE plain (x);
    CREATE INDEX items_label ON items(label);
    CREATE TRIGGER items_touch AFTER INSERT ON items BEGIN INSERT INTO plain VALUES ('trigger'); END;
    CREATE VIEW labels AS SELECT label FROM items;
    CREATE VIRTUAL TABLE notes USING fts5(body);
    INSERT INTO notes VALUES ('the quick brown fox'), ('lazy dog');
    PRAGMA user_version = 7;`);
  const insert = source.prepare("INSERT INTO items (big, data, label) VALUES (?, ?, ?)");
  for (let i = 0; i < 4500; i++) {
    insert.run(2n ** 62n + BigInt(i), new Uint8Array([i % 256, 1]), `l${i}`);
  }
  source.exec("DELETE FROM items WHERE id % 10 = 0; INSERT INTO pairs VALUES ('a', 1), ('b', 2);");
  const plainRows = source.prepare("SELECT count(*) AS n FROM plain").get()!.n;

  const target = join(dir.path, "copy.db");
  const report = await copyDatabase(source, target);
  assert.deepEqual(report.problems, []);
  const copy = new DatabaseSync(target);
  try {
    const dump = (db: DatabaseSync, sql: string) => {
      const statement = db.prepare(sql);
      statement.setReadBigInts(true);
      return JSON.stringify(statement.all(), (_, v) => typeof v === "bigint" ? v.toString() : v);
    };
    for (
      const sql of [
        "SELECT * FROM items ORDER BY id",
        "SELECT * FROM pairs",
        "SELECT * FROM sqlite_sequence",
        "SELECT type, name, sql FROM sqlite_schema ORDER BY name",
        "PRAGMA user_version",
      ]
    ) {
      assert.equal(dump(copy, sql), dump(source, sql), sql);
    }
    assert.equal(copy.prepare("SELECT count(*) AS n FROM plain").get()!.n, plainRows);
    assert.deepEqual(
      copy.prepare("SELECT body FROM notes WHERE notes MATCH 'fox'").all().map((r) => r.body),
      ["the quick brown fox"],
    );
    assert.equal(copy.prepare("PRAGMA integrity_check").get()!.integrity_check, "ok");
    assert.equal(copy.prepare("PRAGMA journal_mode").get()!.journal_mode, "delete");
  } finally {
    copy.close();
    source.close();
  }
});

Deno.test("copyDatabase() in salvage mode skips damaged pages and keeps the rest", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "damaged.db");
  {
    using db = openMigrated(dir.path, "damaged.db");
    await logAuditEvents(db, Array.from({ length: 5000 }, (_, i) => ({ operation: `E${i}` })));
  }
  // A leaf page of the table a third of the way in (dbstat numbers pages from 1).
  const page = (() => {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const leaves = db.prepare(
        "SELECT pageno FROM dbstat WHERE name = 'audit_log' AND pagetype = 'leaf' ORDER BY pageno",
      ).all().map((row) => row.pageno as number);
      return leaves[Math.floor(leaves.length / 3)];
    } finally {
      db.close();
    }
  })();
  using file = await Deno.open(path, { write: true });
  await file.seek((page - 1) * 4096, Deno.SeekMode.Start);
  await file.write(new Uint8Array(4096).fill(0xff));
  file.close();
  const source = new DatabaseSync(path);
  await assert.rejects(copyDatabase(source, join(dir.path, "strict.db")));
  const report = await copyDatabase(source, join(dir.path, "salvaged.db"), { salvage: true });
  source.close();
  const rows = report.tables.find((t) => t.name === "audit_log")!.rows;
  assert.ok(rows > 4800 && rows < 5000, `salvaged ${rows}`);
  assert.match(report.problems.join(), /audit_log: 1 damaged stretches skipped/);
});

Deno.test("without full permissions (no ATTACH) the snapshot is a consistent row-by-row copy", async () => {
  await using dir = await tempDir();
  {
    using db = openMigrated(dir.path);
    await logAuditEvents(db, Array.from({ length: 2500 }, (_, i) => ({ operation: `E${i}` })));
  }
  const script = join(dir.path, "bundle.ts");
  const database = join(dir.path, "app.db");
  await Deno.writeTextFile(
    script,
    `import { exportDebugBundle } from ${JSON.stringify(join(ROOT, "mod.ts"))};
     const result = await exportDebugBundle({ database: ${JSON.stringify(database)} });
     console.log(JSON.stringify(result));`,
  );
  // Read and write access only, as a library user might grant: Deno then allows no ATTACH.
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      join(ROOT, "deno.json"),
      "--allow-read",
      `--allow-write=${dir.path}`,
      script,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(result.complete, true, JSON.stringify(result.errors));
  assert.equal(result.manifest.snapshot.method, "logical_copy");
  assert.equal(result.manifest.snapshot.consistent, true);
  const copy = new DatabaseSync(join(result.path, "database_backup.db"), { readOnly: true });
  try {
    assert.equal(copy.prepare("SELECT count(*) AS n FROM audit_log").get()!.n, 2500);
    assert.equal(copy.prepare("PRAGMA integrity_check").get()!.integrity_check, "ok");
  } finally {
    copy.close();
  }
});

Deno.test("two bundles made in the same second get different names", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const now = new Date("2026-02-16T14:30:05.123Z");
  assert.equal(bundleBaseName(now), "debug_bundle_20260216_143005");
  const [a, b] = await Promise.all([
    exportDebugBundle({ database: db.path, now }),
    exportDebugBundle({ database: db.path, now, compress: true }),
  ]);
  const names = [a.bundle_id, b.bundle_id].sort();
  assert.deepEqual(names, ["debug_bundle_20260216_143005", "debug_bundle_20260216_143005_2"]);
  const c = await exportDebugBundle({ database: db.path, now });
  assert.equal(c.bundle_id, "debug_bundle_20260216_143005_3");
});

Deno.test("a step past its time limit is recorded as timed out, and the next one still runs", async () => {
  await using dir = await tempDir();
  const errors: BundleError[] = [];
  const run = stepRunner({
    steps: 2,
    dir: dir.path,
    errors,
    timeoutMs: 50,
    describe: String,
  });
  // A step that never settles: the runner must give up on it (or this test never ends).
  await run.step("Hanging", "hang.txt", 1000, () => new Promise(() => {}));
  await run.step("Quick", "quick.txt", 1000, () => Promise.resolve({ note: "fine" }));
  assert.deepEqual(run.records.map((r) => r.status), ["timed_out", "ok"]);
  assert.deepEqual(errors, [{ step: "hang.txt", message: "Timed out after 0 s" }]);
});

Deno.test("progressPrinter() shows numbered steps with sizes", async () => {
  let shown = "";
  const printer = progressPrinter({ write: (text) => Promise.resolve(void (shown += text)) });
  const base = { steps: 7, file: "database_backup.db", title: "Copying the database" };
  printer.onProgress({ ...base, step: 2, state: "start" });
  printer.onProgress({ ...base, step: 2, state: "done", bytes: 12_582_912, durationMs: 812 });
  printer.onProgress({ ...base, step: 3, title: "Checking", file: "x.json", state: "start" });
  printer.onProgress({ ...base, step: 3, file: "x.json", state: "failed", message: "locked" });
  await printer.flushed();
  assert.equal(
    shown,
    "[2/7] Copying the database ... database_backup.db, 12 MB (0.8 s)\n" +
      "[3/7] Checking ... FAILED: locked\n",
  );
});

Deno.test("the launcher finds the database beside itself and waits for Enter at a console", async () => {
  await using dir = await tempDir();
  const exeDir = join(dir.path, "tools");
  await Deno.mkdir(join(exeDir, "data"), { recursive: true });
  {
    using db = openMigrated(join(exeDir, "data"));
    await logAuditEvents(db, [{ operation: "HELLO" }]);
  }
  let shown = "";
  let waited = 0;
  const io: LauncherIo = {
    out: { write: (text) => Promise.resolve(void (shown += text)) },
    env: () => undefined,
    cwd: () => join(dir.path, "elsewhere"),
    execPath: () => join(exeDir, "audit-trail-bundle"),
    exists: (path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    },
    waitForEnter: () => Promise.resolve(void waited++),
  };
  assert.equal(launcherDatabasePath(io), join(exeDir, "data", "app.db"));
  assert.equal(launcherDatabasePath({ ...io, env: () => "/x/y.db" }), "/x/y.db");
  assert.equal(await runLauncher(io), 0);
  assert.equal(waited, 1);
  assert.match(
    shown,
    /Done\. The debug bundle is this file:\n\n {4}.*debug_bundle_\d{8}_\d{6}\.zip\n/,
  );
  assert.match(shown, /Press Enter to close this window\.\n$/);

  // Nothing to bundle: it still says what happened and still waits.
  shown = "";
  const missing = { ...io, execPath: () => join(dir.path, "launcher"), cwd: () => dir.path };
  assert.equal(await runLauncher(missing), 1);
  assert.equal(waited, 2);
  assert.match(shown, /Some information could not be collected/);
});

/** A database whose index `extra_a` no longer matches its table: readable, but damaged. */
async function databaseWithBadIndex(dir: string): Promise<string> {
  const path = join(dir, "app.db");
  {
    using db = openMigrated(dir);
    await logAuditEvents(db, [{ operation: "SKU_CREATED", sku: "SKU-1" }]);
    db.sqlite.exec(
      "CREATE TABLE extra (a TEXT); CREATE INDEX extra_a ON extra (a); INSERT INTO extra VALUES ('needle-1');",
    );
  }
  const sqlite = new DatabaseSync(path, { readOnly: true });
  const rootpage = Number(
    sqlite.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'extra_a'").get()!.rootpage,
  );
  const pageSize = Number(sqlite.prepare("PRAGMA page_size").get()!.page_size);
  sqlite.close();
  const bytes = await Deno.readFile(path);
  const page = bytes.subarray((rootpage - 1) * pageSize, rootpage * pageSize);
  const at = new TextDecoder("latin1").decode(page).indexOf("needle-1");
  assert.ok(at > 0, "the index entry is on its root page");
  page[at + 7] = "9".charCodeAt(0);
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("exportDebugBundle() checking in workers gives the same bundle as checking in this thread", async () => {
  await using dir = await tempDir();
  {
    using db = openMigrated(dir.path);
    await logAuditEvents(
      db,
      Array.from({ length: 300 }, (_, i) => ({ operation: "SKU_CREATED", sku: `SKU-${i}` })),
    );
  }
  const database = join(dir.path, "app.db");
  const bundles = [];
  for (const parallel of [true, false]) {
    bundles.push(
      await exportDebugBundle({
        database,
        outputDir: join(dir.path, parallel ? "parallel" : "sequential"),
        compress: true,
        parallel,
      }),
    );
  }
  const [parallel, sequential] = bundles;
  assert.equal(parallel.complete, true);
  assert.deepEqual(parallel.errors, []);
  const names = (result: typeof parallel) => result.manifest.files.map((f) => f.name);
  assert.deepEqual(names(parallel), names(sequential));
  assert.deepEqual(Object.keys(parallel.manifest), Object.keys(sequential.manifest));
  const facts = (result: typeof parallel) => {
    const m = result.manifest;
    return {
      integrity_ok: m.integrity_ok,
      chain_head: m.chain_head,
      chain_verify: m.chain_verify,
      audit_records_count: m.audit_records_count,
      total_rows: m.total_rows,
      steps: m.steps.map((s) => [s.step, s.name, s.file, s.status]),
      backup: m.files.find((f) => f.name === "database_backup.db")?.bytes,
    };
  };
  assert.deepEqual(facts(parallel), facts(sequential));
  assert.equal(parallel.manifest.integrity_ok, true);
  assert.equal(parallel.manifest.chain_verify?.intact, true);
  assert.equal(parallel.manifest.chain_head?.audit_id, 300);
  for (const step of parallel.manifest.steps) assert.equal(typeof step.duration_ms, "number");

  // The ZIP holds every file the manifest lists, with the SHA-256 taken while it was written.
  const zip = await openZip(parallel.path);
  try {
    const folder = parallel.bundle_id;
    assert.deepEqual(
      zip.entries.map((e) => e.name).sort(),
      [...names(parallel), "manifest.json"].map((n) => `${folder}/${n}`).sort(),
    );
    for (const file of parallel.manifest.files) {
      const entry = zip.entries.find((e) => e.name === `${folder}/${file.name}`)!;
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const [bytes] = await Promise.all([new Response(readable).bytes(), entry.read(writable)]);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      assert.deepEqual({ bytes: bytes.length, sha256 }, { bytes: file.bytes, sha256: file.sha256 });
    }
  } finally {
    await zip.close();
  }
  assert.equal((await verifyBundle(parallel.path)).ok, true);
});

Deno.test("exportDebugBundle() lists a damage that the integrity check in a worker finds", async () => {
  await using dir = await tempDir();
  const database = await databaseWithBadIndex(dir.path);
  const checked = await checkDatabase(database, { busyTimeoutMs: 1000 });
  assert.equal(checked.inWorkers, true);
  assert.equal(checked.stats.integrity_check.ok, false);
  assert.match(checked.stats.integrity_check.messages.join("\n"), /extra_a/);
  assert.ok("result" in checked.chain && checked.chain.result?.intact);

  for (const compress of [true, false]) {
    const result = await exportDebugBundle({
      database,
      outputDir: join(dir.path, `bundles_${compress}`),
      compress,
    });
    assert.equal(result.complete, false);
    assert.equal(result.manifest.integrity_ok, false);
    assert.equal(result.manifest.snapshot.method, "vacuum_into");
    const errors = result.errors.filter((e) => e.step === "database_stats.json");
    assert.equal(errors.length, 1, JSON.stringify(result.errors));
    assert.match(errors[0].message, /^integrity check: .*extra_a/);
    assert.equal(result.manifest.chain_verify?.intact, true);
    assert.equal(
      result.manifest.steps.find((s) => s.file === "database_stats.json")?.status,
      "partial",
    );
    assert.equal((await verifyBundle(result.path)).ok, true);
  }
});

Deno.test("checkDatabase() stops its workers when aborted", async () => {
  await using dir = await tempDir();
  {
    using _db = openMigrated(dir.path);
  }
  const controller = new AbortController();
  const reason = new Error("stop");
  const checking = checkDatabase(join(dir.path, "app.db"), {
    busyTimeoutMs: 1000,
    signal: controller.signal,
  });
  controller.abort(reason);
  await assert.rejects(checking, (error) => error === reason);
});

Deno.test("exportDebugBundle() names no command-line option in its errors: a folder that cannot take the bundle is a BundleFolderError", async () => {
  await using dir = await tempDir();
  using db = openMigrated(dir.path);
  const blocker = join(dir.path, "not-a-folder");
  await Deno.writeTextFile(blocker, "");
  const error = await exportDebugBundle({ database: db.path, outputDir: join(blocker, "b") })
    .then(() => null, (e) => e);
  assert.ok(error instanceof BundleFolderError, String(error));
  assert.equal(error.folder, join(blocker, "b"));
  assert.doesNotMatch(`${error.message} ${error.hint}`, /--/);
  assert.equal(error.hint, "Choose another folder for the bundle, one this user may write to.");
});

Deno.test("the ZIP's deflate stream, given up mid-way (Ctrl-C), drops what zlib still had in hand", async () => {
  const zlib = await import("node:zlib");
  const Deflate = leveledCompressionStream(zlib.default, 2);
  for (const format of ["gzip", "deflate-raw", "deflate"] as const) {
    const stream = new Deflate(format);
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    // Incompressible, so that zlib hands its output over in many pieces.
    const input = new Uint8Array(1 << 20);
    for (let at = 0; at < input.length; at += 65536) {
      crypto.getRandomValues(input.subarray(at, at + 65536));
    }
    // A read waits, so the chunk goes to zlib at once; the reader then gives up while zlib
    // works on it (a few microtasks: before zlib's answer, which comes as a later task).
    const reading = reader.read().catch(() => {});
    const writing = writer.write(input).catch(() => {});
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await reader.cancel("stopped");
    await writing;
    await reading;
    // zlib's pieces arrive now: an enqueue into the cancelled stream would fail this test as
    // an uncaught error.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Whole, it still deflates as zlib does.
  const whole = new Deflate("deflate-raw");
  const text = new TextEncoder().encode("audit ".repeat(10_000));
  const out = new Uint8Array(
    await new Response(new Blob([text]).stream().pipeThrough(whole)).arrayBuffer(),
  );
  assert.deepEqual(zlib.default.inflateRawSync(out), Buffer.from(text));
});
