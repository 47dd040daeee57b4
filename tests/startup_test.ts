/**
 * Start-up: `log`, `query`, `batch` and `head` are what scripts call many times a second, so
 * their start loads no `node:` module but `node:sqlite` and no `npm:` package (SPEC "Stack"):
 * each Node-compatibility module costs milliseconds on every call, and one stray import pulls
 * in dozens. Deno names every such module it loads when `DENO_LOG_LAZY_LOAD=1` is set; each
 * command must name nothing beyond what a bare script importing `node:sqlite` names. The
 * commands run with `--no-npm`, so an npm package loaded on the way fails them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PERMISSION_FLAGS } from "../scripts/permissions.ts";
import { migratedFile } from "./fixtures.ts";
import { CLI, collectOutput, tempDir } from "./helpers.ts";

/** Runs a Deno script and returns the Node-compatibility modules it loaded, with its output. */
async function lazyLoads(script: string, args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-npm", ...PERMISSION_FLAGS, script, ...args],
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
