// deno-lint-ignore-file no-console
/**
 * `deno task compile`: builds the standalone executables into dist/ — `audit-trail` (the
 * command line) and `audit-trail-bundle` (the double-click bundle launcher) — for Linux x64
 * and Windows x64, with the migrations embedded and the permissions and V8 flags of
 * scripts/runtime_flags.ts baked in.
 *
 * The command line is compiled from the built program (`deno task build`, into `js/` of the
 * output folder): a few JavaScript files, each command's in its own, so that a command starts
 * by reading only its own code. The launcher, which starts once per bundle, is compiled from
 * its source.
 *
 * `deno compile` downloads Deno's runtime base ("denort") for each target. Where that cannot
 * be reached, set DENORT_BIN to a local denort of the host's platform; the build then makes
 * the host target only.
 *
 * Usage: deno task compile [--target linux|windows|all] [--out-dir DIR]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";
import { ON_DEMAND_MODULES } from "../cli/context.ts";
import { build, BUILT_ENTRY } from "./build.ts";

/** A platform the executables are built for. */
export interface Target {
  name: "linux" | "windows";
  triple: string;
  suffix: string;
}

export const TARGETS: readonly Target[] = [
  { name: "linux", triple: "x86_64-unknown-linux-gnu", suffix: "" },
  { name: "windows", triple: "x86_64-pc-windows-msvc", suffix: ".exe" },
];

/** The programs compiled: the command line from the built program, the launcher from source. */
export const PROGRAMS = [
  { name: "cli", output: "audit-trail" },
  { name: "launcher", output: "audit-trail-bundle" },
] as const;

/** A program to compile: its entry file and every module it imports by a computed specifier. */
export interface CompileInput {
  entry: string;
  includes: string[];
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");

/** What the launcher is compiled from: its source, and the modules it may load on demand. */
export const LAUNCHER_INPUT: CompileInput = {
  entry: join(ROOT, "launcher.ts"),
  includes: ON_DEMAND_MODULES.map((module) => join(ROOT, module)),
};

/** What the command line is compiled from: the files of a build in `buildDir`. */
export function builtInput(buildDir: string, files: readonly string[]): CompileInput {
  return {
    entry: join(buildDir, BUILT_ENTRY),
    includes: files.filter((name) => name !== BUILT_ENTRY).map((name) => join(buildDir, name)),
  };
}

/** The `deno compile` arguments for one program and target. */
export function compileArgs(
  program: (typeof PROGRAMS)[number],
  input: CompileInput,
  target: Target,
  outDir: string,
): string[] {
  const outputDir = target.name === "linux" ? outDir : join(outDir, target.name);
  return [
    "compile",
    ...RUNTIME_FLAGS,
    // The project's settings (npm packages, unstable features) wherever the build lies.
    "--config",
    join(ROOT, "deno.json"),
    "--target",
    target.triple,
    // Modules imported with computed specifiers are invisible to the compiler's graph: name
    // each, or the executable fails when a command loads one.
    ...input.includes.flatMap((module) => ["--include", module]),
    "--output",
    join(outputDir, program.output + target.suffix),
    input.entry,
  ];
}

function hostTarget(): Target | undefined {
  if (Deno.build.arch !== "x86_64") return undefined;
  return TARGETS.find((t) => t.name === (Deno.build.os === "windows" ? "windows" : "linux"));
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string", default: "all" },
      "out-dir": { type: "string", default: join(ROOT, "dist") },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("Usage: deno task compile [--target linux|windows|all] [--out-dir DIR]");
    return 0;
  }
  const denortBin = Deno.env.get("DENORT_BIN");
  let targets = values.target === "all"
    ? [...TARGETS]
    : TARGETS.filter((t) => t.name === values.target);
  if (targets.length === 0) {
    console.error(`compile: unknown --target "${values.target}" (use linux, windows or all)`);
    return 2;
  }
  if (denortBin && values.target === "all") {
    // A denort runs on one platform only: the others would get the wrong base.
    const host = hostTarget();
    targets = host ? [host] : [];
    console.error(`compile: DENORT_BIN is set; building for this machine (${host?.name}) only.`);
  }
  const buildDir = join(values["out-dir"]!, "js");
  const built = await build(buildDir);
  const inputs = { cli: builtInput(buildDir, built.files), launcher: LAUNCHER_INPUT };
  for (const target of targets) {
    for (const program of PROGRAMS) {
      const command = new Deno.Command(Deno.execPath(), {
        args: compileArgs(program, inputs[program.name], target, values["out-dir"]!),
        stdout: "inherit",
        stderr: "piped",
      });
      const { code, stderr } = await command.output();
      const text = new TextDecoder().decode(stderr);
      if (code === 0) {
        await Deno.stderr.write(stderr);
        continue;
      }
      if (/Setting up base binary|denort|dl\.deno\.land/.test(text)) {
        console.error(
          `\ncompile: could not get Deno's runtime base ("denort") for ${target.name} ` +
            `(${target.triple}).\n` +
            (denortBin
              ? `DENORT_BIN is set to "${denortBin}", but it could not be used.\n`
              : "This machine cannot download it from dl.deno.land.\n") +
            `Build on a machine with internet access, or download ` +
            `https://dl.deno.land/release/v${Deno.version.deno}/denort-${target.triple}.zip ` +
            `elsewhere, unzip it, and run again with DENORT_BIN=/path/to/denort ` +
            `(one platform per run: --target ${target.name}).`,
        );
        return 1;
      }
      await Deno.stderr.write(stderr);
      console.error(`compile: building ${program.output} for ${target.name} failed.`);
      return 1;
    }
  }
  console.error(`compile: done; executables are in ${values["out-dir"]}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
