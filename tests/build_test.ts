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
import { ownProgram } from "../cli_build.ts";
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
  "lifecycle_test.ts",
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

Deno.test("log, query and batch show run in programs of their own, unless given options those leave out", () => {
  const cases: [string[], string | undefined][] = [
    [["log", "PICKED"], "log"],
    [["--db", "a.db", "log", "PICKED", "--sku", "S1", "--user", "u", "--run-id", "R1"], "log"],
    [["log", "PICKED", "--details=--stdin is a word here"], "log"],
    [["query", "--sku", "S1", "--format", "csv", "--limit", "0"], "query"],
    [["--format=table", "query", "--since", "2026-01-01", "--before-id", "9"], "query"],
    [[], undefined],
    [["log", "--stdin"], undefined],
    [["log", "PICKED", "--format", "json"], undefined],
    [["--format=csv", "log", "PICKED"], undefined],
    [["log", "--help"], undefined],
    [["-h", "log"], undefined],
    [["log", "PICKED", "--version"], undefined],
    [["log", "PICKED", "--details", "--stdin"], undefined],
    [["query", "--central", "postgres://central/audit"], undefined],
    [["query", "--archives=data/archive"], undefined],
    [["query", "-h"], undefined],
    [["help", "log"], undefined],
    [["verify", "--sku", "log"], undefined],
    [["--db", "log", "batch", "show", "R1"], "batch"],
    [["batch", "--format", "table", "list", "--limit", "5"], "batch"],
    [["batch", "start", "Nightly import"], undefined],
    [["batch", "end", "R1"], undefined],
    [["batch", "exec", "--", "./import.sh", "show"], undefined],
    [["batch", "show", "R1", "--archives", "data/archive"], undefined],
    [["batch", "--help"], undefined],
    [["batch"], undefined],
  ];
  for (const [args, program] of cases) assert.equal(ownProgram(args), program, args.join(" "));
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
  name:
    "a built log, query or batch show reads the first file and the one made for it, and no other",
  sanitizeResources: false,
  async fn() {
    await using dir = buildDir();
    const result = await build(dir.path);
    const read = async (file: string) => await Deno.readTextFile(join(dir.path, file));
    assert.deepEqual(builtImports(await read(BUILT_ENTRY)), {
      static: [],
      computed: [
        "cli_build_log.js",
        "cli_build_query.js",
        "cli_build_batch.js",
        "cli_build_commands.js",
      ],
    });
    const programs = [["log", "cli/log.ts"], ["query", "cli/query.ts"], ["batch", "cli/batch.ts"]];
    for (const [program, module] of programs) {
      const text = await read(`cli_build_${program}.js`);
      assert.ok(text.includes(`\n// ${module}\n`), `${program}'s program holds ${module}`);
      // What it loads beyond itself: only modules that import nothing (the error display; for
      // query the CSV and table writers too), so that no module is in the process twice.
      const loaded = builtImports(text);
      assert.deepEqual(loaded.static, [], program);
      assert.ok(loaded.computed.length > 0 && loaded.computed.length <= 3, program);
      for (const file of loaded.computed) {
        assert.match(file, /^(table|csv)-\w+\.js$/, program);
        assert.deepEqual(builtImports(await read(file)).computed, [], file);
      }
    }

    // Through the real program: the modules they load on demand are there.
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
    for (const command of [["log", "PICKED"], ["query", "PICKED"], ["batch", "show", "R", "X"]]) {
      const failed = await runCli([...command, "--db", join(work.path, "none\u202e.db")], {
        cli: result.entry,
      });
      assert.equal(failed.code, command[0] === "log" ? 1 : 2, failed.stderr);
      assert.match(failed.stderr, /^audit-trail: error: .+\nhint: /);
    }
    const missing = await runCli(["log", "PICKED", "--db", join(work.path, "none\u202e.db")], {
      cli: result.entry,
    });
    assert.match(missing.stderr, /^audit-trail: error: Database not found: .*none\\u202E\.db/);
    const shown = await runCli(["query", "--format", "table", "--db", db], { cli: result.entry });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^audit_id +timestamp +operation/);
    assert.match(shown.stdout, /PICKED/);
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
