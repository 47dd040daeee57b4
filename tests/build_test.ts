/**
 * The built program (`deno task build`) is what the executable is compiled from, so the CLI
 * tests run against it too: every command, its workers (bundle checks, archive checks, the
 * viewer), its npm packages (ZIP, PostgreSQL) and its start-up rule, as the executable runs
 * them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { build, BUILT_ENTRY, rewriteImports } from "../scripts/build.ts";
import { runsInLogProgram } from "../cli_build.ts";
import { migratedDb, ROOT, runCli, sqliteRows, tempDir } from "./helpers.ts";

/** The CLI test files run against the built program: each command and each worker. */
const CLI_TEST_FILES = [
  "app_triggers_test.ts",
  "archive_app_db_test.ts",
  "archive_cli_test.ts",
  "archive_misuse_test.ts",
  "bundle_app_db_test.ts",
  "bundle_test.ts",
  "central_lifecycle_test.ts",
  "central_test.ts",
  "chain_test.ts",
  "cli_batch_test.ts",
  "cli_errors_test.ts",
  "cli_head_test.ts",
  "cli_test.ts",
  "csv_export_test.ts",
  "query_test.ts",
  "report_test.ts",
  "serve_test.ts",
  "startup_test.ts",
  "stats_test.ts",
  "table_test.ts",
];

/** A build inside the project (so it finds `deno.json`, as `dist/js` does), removed after. */
function buildDir(): { path: string } & AsyncDisposable {
  const path = join(ROOT, "dist", `test-build-${crypto.randomUUID().slice(0, 8)}`);
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("build rewrites imports of its own files as computed, and npm packages by specifier", () => {
  const written = new Set(["cli_build.js", "log-AB12.js"]);
  const packages = { postgres: "npm:postgres@3.4.10" };
  assert.equal(
    rewriteImports(
      'a(() => import("./log-AB12.js")); b(import("postgres")); c(import("node:zlib"));',
      written,
      packages,
      "cli_build.js",
    ),
    'a(() => import(new URL("./log-AB12.js", import.meta.url).href)); ' +
      'b(import("npm:postgres@3.4.10")); c(import("node:zlib"));',
  );
  assert.throws(
    () => rewriteImports('import("./gone.js")', written, packages, "cli_build.js"),
    /cli_build\.js imports \.\/gone\.js, which the build did not write/,
  );
  // A module of lib/ loading a sibling by a computed specifier gets the file made of it.
  const siblings = new Set(["chunk-X1.js", "csv-CD34.js", "table-EF56.js", "table_cells-GH78.js"]);
  assert.equal(
    rewriteImports(
      'const a = () => import(new URL("./csv.ts", import.meta.url).href);\n' +
        'const b = () => import(new URL("./table.ts", import.meta.url).href);',
      siblings,
      packages,
      "chunk-X1.js",
    ),
    'const a = () => import(new URL("./csv-CD34.js", import.meta.url).href);\n' +
      'const b = () => import(new URL("./table-EF56.js", import.meta.url).href);',
  );
  // The first file's own way to name a file beside it, without a URL.
  assert.equal(
    rewriteImports(
      'import(besideThisFile("./cli_build_log.ts"))',
      new Set(["cli_build.js", "cli_build_log.js"]),
      packages,
      "cli_build.js",
    ),
    'import(besideThisFile("./cli_build_log.js"))',
  );
  assert.throws(
    () =>
      rewriteImports(
        'import(new URL("./gone.ts", import.meta.url).href)',
        siblings,
        packages,
        "chunk-X1.js",
      ),
    /chunk-X1\.js imports a module gone\.ts, which the build made 0 files of/,
  );
});

Deno.test("a log of one event runs in the program made for it, any other command line in the other", () => {
  for (
    const args of [
      ["log", "PICKED"],
      ["--db", "a.db", "log", "PICKED", "--sku", "S1", "--user", "u", "--run-id", "R1"],
      ["log", "PICKED", "--details=--stdin is a word here"],
    ]
  ) {
    assert.equal(runsInLogProgram(args), true, args.join(" "));
  }
  for (
    const args of [
      [],
      ["log", "--stdin"],
      ["log", "PICKED", "--format", "json"],
      ["--format=csv", "log", "PICKED"],
      ["log", "--help"],
      ["-h", "log"],
      ["log", "PICKED", "--version"],
      ["help", "log"],
      ["query", "--sku", "log"],
      ["--db", "log", "query"],
      ["log", "PICKED", "--details", "--stdin"],
    ]
  ) {
    assert.equal(runsInLogProgram(args), false, args.join(" "));
  }
});

/** The imports of built files in `text`: static (`from "./x.js"`) and computed. */
function builtImports(text: string): { static: string[]; computed: string[] } {
  return {
    static: [...text.matchAll(/(?:from|import) "\.\/([^"]+)"/g)].map(([, file]) => file),
    computed: [...text.matchAll(/import\((?:new URL\(|besideThisFile\()"\.\/([^"]+)"/g)].map((
      [, file],
    ) => file),
  };
}

Deno.test({
  name: "a built log of one event reads the first file and the one made for it, and no other",
  sanitizeResources: false,
  async fn() {
    await using dir = buildDir();
    const result = await build(dir.path);
    const read = async (file: string) => await Deno.readTextFile(join(dir.path, file));
    const entry = builtImports(await read(BUILT_ENTRY));
    assert.deepEqual(entry, {
      static: [],
      computed: ["cli_build_log.js", "cli_build_commands.js"],
    });
    const logProgram = await read("cli_build_log.js");
    assert.match(logProgram, /^\/\/ cli\/log\.ts$/m);
    // What it loads beyond itself: only the error display, a module that imports nothing.
    const loaded = builtImports(logProgram);
    assert.deepEqual(loaded.static, []);
    assert.equal(loaded.computed.length, 1, loaded.computed.join(" "));
    assert.match(loaded.computed[0], /^table-\w+\.js$/);
    assert.deepEqual(builtImports(await read(loaded.computed[0])).computed, []);

    // Through the real program: the modules it loads on demand are there.
    await using work = await tempDir();
    const db = await migratedDb(work.path);
    const noLogin = { USER: "", LOGNAME: "", USERNAME: "" };
    const logged = await runCli(["log", "PICKED", "--db", db], { cli: result.entry, env: noLogin });
    assert.equal(logged.code, 0, logged.stderr);
    const [row] = sqliteRows(
      db,
      "SELECT user FROM audit_log WHERE audit_id = ?",
      Number(logged.stdout),
    );
    assert.notEqual(row.user, "system", "the login name, from the system");
    const failed = await runCli(["log", "PICKED", "--db", join(work.path, "none\u202e.db")], {
      cli: result.entry,
    });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^audit-trail: error: Database not found: .*none\\u202E\.db/);
  },
});

Deno.test({
  name: "the CLI tests pass against the built program",
  sanitizeResources: false,
  async fn() {
    await using dir = buildDir();
    const result = await build(dir.path);
    assert.equal(result.entry, join(dir.path, BUILT_ENTRY));
    // Each command in a file of its own, beside the one every command starts from.
    assert.ok(result.files.some((name) => /^log-\w+\.js$/.test(name)), result.files.join(" "));
    for (const name of result.files) {
      const text = await Deno.readTextFile(join(dir.path, name));
      assert.doesNotMatch(text, /\bimport\("\.\//, `${name} has a literal import of a built file`);
      // Each file holds modules of ours or passes on another file's exports (a module loaded
      // on demand that lives in a shared file). A file of the bundler's helpers alone (a tagged
      // template with `</script>` in it made one) is imported by every other file: one module
      // more at every command's start.
      assert.match(
        text,
        /^\/\/ [\w/.-]+\.ts$|^\} from "\.\/chunk-/m,
        `${name} holds no module of ours:\n${text}`,
      );
    }
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-all",
        "--parallel",
        ...CLI_TEST_FILES.map((file) => join(ROOT, "tests", file)),
      ],
      env: { AUDIT_TRAIL_TEST_CLI: result.entry, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    const summary = /(ok|FAILED) \| (\d+) passed.*\| (\d+) failed/.exec(text);
    assert.ok(summary, text.slice(-4000));
    assert.equal(code, 0, text.slice(-8000));
    assert.equal(summary[3], "0");
    assert.ok(Number(summary[2]) > 100, summary[0]);
  },
});
