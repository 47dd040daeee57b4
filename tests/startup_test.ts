/**
 * Start-up: `log`, `query`, `batch` and `head` are what scripts call many times a second, so
 * their start loads no `node:` module but `node:sqlite` and no `npm:` package (SPEC "Stack"):
 * each Node-compatibility module costs milliseconds on every call, and one stray import pulls
 * in dozens. Deno names every such module it loads when `DENO_LOG_LAZY_LOAD=1` is set; each
 * command must name nothing beyond what a bare script importing `node:sqlite` names. The
 * commands run with `--no-npm`, so an npm package loaded on the way fails them. Our own modules
 * cost a start too: the list `log` reads is kept here.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RUNTIME_FLAGS } from "../scripts/runtime_flags.ts";
import { migratedFile } from "./fixtures.ts";
import { CLI, collectOutput, tempDir } from "./helpers.ts";

/** Runs a Deno script and returns the Node-compatibility modules it loaded, with its output. */
async function lazyLoads(script: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-npm", ...RUNTIME_FLAGS, script, ...args],
    env: { DENO_LOG_LAZY_LOAD: "1", NO_COLOR: "1", AUDIT_TRAIL_DB: "", AUDIT_TRAIL_RUN_ID: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = await collectOutput(child);
  const modules = new Set<string>();
  const rest: string[] = [];
  for (const line of result.stderr.split("\n")) {
    const loaded = /^\[lazy\] \S+ (\S+)/.exec(line);
    if (loaded) modules.add(loaded[1]);
    else if (line) rest.push(line);
  }
  return { ...result, modules, stderr: rest.join("\n") };
}

Deno.test("log, query, batch show and head load only what node:sqlite itself loads, and no npm package", async () => {
  await using dir = await tempDir();
  const db = migratedFile(dir.path);
  const bare = join(dir.path, "bare.ts");
  await Deno.writeTextFile(
    bare,
    'import { DatabaseSync } from "node:sqlite";\nnew DatabaseSync(Deno.args[0]).close();\n',
  );
  const baseline = await lazyLoads(bare, [db]);
  assert.equal(baseline.code, 0, baseline.stderr);
  // Deno lists lazily loaded modules here: if it stops doing so, this test would check nothing.
  assert.ok(baseline.modules.has("ext:deno_node/sqlite.ts"), [...baseline.modules].join(" "));

  const commands = [
    ["log", "STOCK_COUNTED", "--sku", "SKU-1", "--run-id", "run_start"],
    ["query", "--sku", "SKU-1", "--format", "json"],
    ["query", "--limit", "10"],
    ["batch", "show", "run_start", "--format", "json"],
    ["head"],
  ];
  for (const args of commands) {
    const label = args.join(" ");
    const run = await lazyLoads(CLI, [...args, "--db", db]);
    assert.equal(run.code, 0, `${label}: ${run.stderr}`);
    const extra = [...run.modules].filter((module) => !baseline.modules.has(module));
    assert.deepEqual(extra, [], `${label} loads more than node:sqlite does: ${extra.join(", ")}`);
  }
});

/**
 * Our modules that `deno run cli.ts log …` reads: `cli.ts`'s graph and the command's, loaded
 * on demand, following what runs (not type-only imports). Deno reads a module listed in a
 * literal `import()` even when it is never evaluated, so those count too.
 */
async function modulesLoaded(root: string, entries: string[]): Promise<string[]> {
  const seen = new Set<string>();
  for (const entry of entries) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
    }).output();
    assert.ok(output.success, `deno info ${entry} failed`);
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
      roots: string[];
      modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
    };
    const bySpecifier = new Map(graph.modules.map((module) => [module.specifier, module]));
    const pending = [...graph.roots];
    while (pending.length > 0) {
      const specifier = pending.pop()!;
      if (seen.has(specifier) || !specifier.startsWith("file:")) continue;
      seen.add(specifier);
      for (const dependency of bySpecifier.get(specifier)?.dependencies ?? []) {
        if (dependency.code) pending.push(dependency.code.specifier);
      }
    }
  }
  const base = new URL(`file://${root}/`).href;
  return [...seen].map((specifier) => specifier.slice(base.length)).sort();
}

/** The repository, as `modulesLoaded` names modules from it. */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("log reads the modules it runs and no others", async () => {
  // Each module on the way costs every `log` its start: about 0.25 ms warm and 1 ms cold, when
  // Deno reads its source and its emitted code from disk (README, "Performance"). A module
  // added here should be one `log` cannot do without; fold a small one into the module that
  // needs it rather than adding a file to this list.
  assert.deepEqual(await modulesLoaded(ROOT, ["cli.ts", "cli/log.ts"]), [
    "cli.ts",
    // Split from cli/context.ts so that the built program's first file (cli_build.ts) finds the
    // command before it loads anything; the build puts the two in one file again.
    "cli/command_line.ts",
    "cli/context.ts",
    "cli/log.ts",
    "lib/chain/encoding.ts",
    "lib/chain/seal.ts",
    "lib/db.ts",
    "lib/errors.ts",
    "lib/events.ts",
    "lib/io.ts",
    "lib/run_id.ts",
    "lib/schema.ts",
    "lib/sha256.ts",
  ]);
});

Deno.test("batch show and list read no event writer, seal or hash", async () => {
  // Starting, ending and running a batch (lib/batch_run.ts) load on demand, and so do the CSV
  // and table writers (lib/output.ts imports them by computed specifiers).
  assert.deepEqual(await modulesLoaded(ROOT, ["cli.ts", "cli/batch.ts"]), [
    "cli.ts",
    "cli/batch.ts",
    "cli/command_line.ts",
    "cli/context.ts",
    "lib/archive/checkpoint_list.ts",
    "lib/batch.ts",
    "lib/count.ts",
    "lib/db.ts",
    "lib/errors.ts",
    "lib/event_row.ts",
    "lib/io.ts",
    "lib/known_options.ts",
    "lib/output.ts",
    "lib/query.ts",
    "lib/run_id.ts",
    "lib/schema.ts",
    "lib/time_bound.ts",
  ]);
});
