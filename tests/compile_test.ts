import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { builtInput, compileArgs, LAUNCHER_INPUT, PROGRAMS, TARGETS } from "../scripts/compile.ts";
import { RUNTIME_FLAGS } from "../scripts/runtime_flags.ts";
import { ON_DEMAND_MODULES } from "../cli/context.ts";
import { ROOT, tempDir } from "./helpers.ts";

Deno.test("compile bakes in exactly the runtime flags the CLI tests run with", () => {
  const built = builtInput("/build", ["cli_build.js", "log-X.js", "chunk-Y.js"]);
  for (const target of TARGETS) {
    for (const [program, input] of [[PROGRAMS[0], built], [PROGRAMS[1], LAUNCHER_INPUT]] as const) {
      const args = compileArgs(program, input, target, "dist");
      assert.deepEqual(args.slice(1, 1 + RUNTIME_FLAGS.length), [...RUNTIME_FLAGS]);
      assert.ok(args.includes(target.triple));
      assert.equal(args.at(-1), input.entry);
    }
  }
  const included = (args: string[]) =>
    args.flatMap((arg, i) => args[i - 1] === "--include" ? [arg] : []);
  const cli = compileArgs(PROGRAMS[0], built, TARGETS[1], "dist");
  assert.equal(cli.at(-1), join("/build", "cli_build.js"));
  assert.deepEqual(included(cli), [join("/build", "log-X.js"), join("/build", "chunk-Y.js")]);
  assert.equal(cli[cli.indexOf("--output") + 1], join("dist", "windows", "audit-trail.exe"));
  const launcher = compileArgs(PROGRAMS[1], LAUNCHER_INPUT, TARGETS[0], "dist");
  assert.deepEqual(included(launcher), ON_DEMAND_MODULES.map((module) => join(ROOT, module)));
});

Deno.test({
  name:
    "compile embeds the built command line, the launcher's sources, and the npm packages of both",
  ignore: Deno.build.os !== "linux" || Deno.build.arch !== "x86_64",
  async fn() {
    await using dir = await tempDir();
    // With DENORT_BIN set to deno itself, `deno compile` gets past the base-binary step
    // offline and reports what it embedded; the file it makes then behaves as plain deno.
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "scripts", "compile.ts"), "--out-dir", dir.path],
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(stderr);
    assert.equal(code, 0, log);
    for (const program of PROGRAMS) {
      const stat = await Deno.stat(join(dir.path, program.output));
      assert.ok(stat.isFile && stat.size > 1_000_000);
    }
    // The command line embeds the built program and the npm packages its commands import;
    // the launcher its sources.
    const cliListing = log.slice(log.indexOf("audit-trail\n"), log.indexOf("audit-trail-bundle\n"));
    // The listing names folders from the root the files share, which depends on where both lie.
    for (const part of [`${basename(dir.path)}/js/*`, "@zip.js", "postgres", "csv-stringify"]) {
      assert.ok(cliListing.includes(part), `"${part}" is not embedded:\n${cliListing}`);
    }
    const launcherListing = log.slice(log.indexOf("audit-trail-bundle\n"));
    for (const part of ["cli/*", "launcher.ts", "lib/*", "migrations/*", "@zip.js"]) {
      assert.ok(launcherListing.includes(part), `"${part}" is not embedded:\n${launcherListing}`);
    }
    // Each executable starts from its entry, keeps the unstable features of deno.json (the
    // viewer needs "no-legacy-abort" to stop a download nobody reads) and the V8 flags of
    // RUNTIME_FLAGS: all three are in the metadata the compiler writes into the file, as JSON.
    const { unstable } = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
    assert.ok(unstable.includes("no-legacy-abort"));
    const entries = { cli: "js/cli_build.js", launcher: "launcher.ts" };
    for (const program of PROGRAMS) {
      const metadata = new TextDecoder("latin1").decode(
        await Deno.readFile(join(dir.path, program.output)),
      );
      const entrypoint = /"entrypoint_key":"([^"]*)"/.exec(metadata)?.[1];
      assert.ok(entrypoint?.endsWith(entries[program.name]), `${program.output}: ${entrypoint}`);
      const features = /"unstable_config":\{[^{}]*"features":(\[[^\]]*\])/.exec(metadata)?.[1];
      assert.deepEqual(JSON.parse(features ?? "null"), unstable, program.output);
      const v8Flags = JSON.parse(/"v8_flags":(\[[^\]]*\])/.exec(metadata)?.[1] ?? "[]");
      for (const flag of v8FlagsOf(RUNTIME_FLAGS)) {
        assert.ok(v8Flags.includes(flag), `${program.output} lacks ${flag}: ${v8Flags}`);
      }
    }
  },
});

Deno.test({
  name: "compile without a reachable runtime base says so and names DENORT_BIN",
  async fn() {
    await using dir = await tempDir();
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "scripts", "compile.ts"),
        "--out-dir",
        dir.path,
        "--target",
        "windows",
      ],
      env: withoutDenortBin(),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(stderr);
    if (code === 0) return; // a connected machine downloads the base and builds
    assert.equal(code, 1);
    assert.match(log, /could not get Deno's runtime base/);
    assert.match(log, /DENORT_BIN/);
  },
});

/** The V8 flags among Deno's flags (`--v8-flags=A,B`). */
function v8FlagsOf(flags: readonly string[]): string[] {
  return flags.flatMap((flag) =>
    flag.startsWith("--v8-flags=") ? flag.slice("--v8-flags=".length).split(",") : []
  );
}

function withoutDenortBin(): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.DENORT_BIN;
  return { ...env, NO_COLOR: "1" };
}

Deno.test("every module imported on demand is listed for compile, and exists", async () => {
  const named = new Set<string>();
  for (const folder of ["", "cli/", "lib/", "lib/bundle/", "lib/chain/"]) {
    for await (const entry of Deno.readDir(join(ROOT, folder))) {
      if (!entry.name.endsWith(".ts")) continue;
      // The built program's own sources: the build points their computed imports at its files.
      if (folder === "" && entry.name.startsWith("cli_build")) continue;
      const source = await Deno.readTextFile(join(ROOT, folder, entry.name));
      for (const match of source.matchAll(/importOnDemand(?:<[^>]*>)?\(\s*"([^"]+)"/g)) {
        named.add(match[1]);
      }
      // A library module's own computed import of a neighbour.
      for (const match of source.matchAll(/import\(new URL\("\.\/([^"]+)", import\.meta\.url\)/g)) {
        named.add(folder + match[1]);
      }
    }
  }
  assert.ok(
    named.has("cli/log.ts") && named.has("lib/bundle/mod.ts") && named.has("lib/csv.ts"),
    [...named].join(", "),
  );
  for (const module of named) {
    assert.ok((ON_DEMAND_MODULES as readonly string[]).includes(module), module);
  }
  for (const module of ON_DEMAND_MODULES) assert.ok((await Deno.stat(join(ROOT, module))).isFile);
});
