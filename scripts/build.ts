// deno-lint-ignore-file no-console
/**
 * `deno task build`: bundles the command line into a few JavaScript files in `dist/js/`, which
 * `deno task compile` makes the executable of:
 *
 * - `cli_build.js` (from `cli_build.ts`), where every run starts: it looks at the command line
 *   and loads the program that runs it;
 * - `cli_build_log.js`, `cli_build_query.js` and `cli_build_batch.js`: a `log` of one event, a
 *   `query` of the database and a `batch show` or `list`, what scripts call most, in one file
 *   each;
 * - `cli_build_commands.js`: every command, split by `deno bundle --code-splitting` into one
 *   file per command and module loaded on demand, and the pieces they share.
 *
 * The bundler follows literal imports. In what it writes, the build turns each import of one of
 * its files back into a computed one: with a literal one, `deno run` would read every file at
 * each start. The npm packages stay out of the bundle, imported by their `npm:` specifiers from
 * `deno.json`, so they load only when a command needs them, as from source.
 *
 * Usage: deno task build [--out-dir DIR]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, relative } from "node:path";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");

/** The file of the built program every run starts. */
export const BUILT_ENTRY = "cli_build.js";

/** What the bundler makes one file each of, and what it splits into a file per module. */
const WHOLE_ENTRIES = [
  "cli_build.ts",
  "cli_build_log.ts",
  "cli_build_query.ts",
  "cli_build_batch.ts",
];
const SPLIT_ENTRY = "cli_build_commands.ts";

/** Where the built program goes when no `--out-dir` is given. */
export const DEFAULT_BUILD_DIR: string = join(ROOT, "dist", "js");

/** What a build made. */
export interface BuildResult {
  /** The file to run: `deno run <permissions> <entry> COMMAND …`. */
  entry: string;
  /** Every file written, by name. */
  files: string[];
  bytes: number;
}

/** The npm packages of `deno.json`, by the name the code imports them by. */
async function npmImports(): Promise<Record<string, string>> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  return Object.fromEntries(
    Object.entries(config.imports as Record<string, string>).filter(([, to]) =>
      to.startsWith("npm:")
    ),
  );
}

/** Builds the program into `outDir` (emptied first). */
export async function build(outDir: string = DEFAULT_BUILD_DIR): Promise<BuildResult> {
  const packages = await npmImports();
  await Deno.remove(outDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const externals = Object.keys(packages).flatMap((name) => ["--external", name]);
  await bundle([...externals, "--code-splitting", "--outdir", outDir, join(ROOT, SPLIT_ENTRY)]);
  await bundle([...externals, "--outdir", outDir, ...WHOLE_ENTRIES.map((f) => join(ROOT, f))]);
  const files: string[] = [];
  for await (const entry of Deno.readDir(outDir)) if (entry.isFile) files.push(entry.name);
  files.sort();
  const written = new Set(files);
  let bytes = 0;
  for (const name of files) {
    const path = join(outDir, name);
    const text = rewriteImports(await Deno.readTextFile(path), written, packages, name);
    await Deno.writeTextFile(path, text);
    bytes += new TextEncoder().encode(text).length;
  }
  if (!written.has(BUILT_ENTRY)) throw new Error(`deno bundle wrote no ${BUILT_ENTRY}`);
  return { entry: join(outDir, BUILT_ENTRY), files, bytes };
}

/** Runs `deno bundle` for the Deno platform with `args`. */
async function bundle(args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * One built file with its dynamic imports of other built files made computed (relative to
 * the file itself) and its imports of npm packages by their `npm:` specifiers.
 */
export function rewriteImports(
  text: string,
  written: ReadonlySet<string>,
  packages: Readonly<Record<string, string>>,
  file: string,
): string {
  return text.replace(/\bimport\("([^"]+)"\)/g, (literal, specifier: string) => {
    if (specifier.startsWith("./")) {
      if (!written.has(specifier.slice(2))) {
        throw new Error(`${file} imports ${specifier}, which the build did not write`);
      }
      return `import(new URL(${JSON.stringify(specifier)}, import.meta.url).href)`;
    }
    return Object.hasOwn(packages, specifier)
      ? `import(${JSON.stringify(packages[specifier])})`
      : literal;
  }).replace(
    // A module loads another by a computed specifier (`lib/output.ts`, `cli_build.ts`): in the
    // built program that module is the file the bundler made of it, `NAME-HASH.js`, or `NAME.js`
    // for an entry.
    /\bimport\((new URL\(|besideThisFile\()"\.\/(?:[\w-]+\/)*([\w-]+)\.ts"/g,
    (_, call: string, name: string) => {
      const built = [...written].filter((f) => new RegExp(`^${name}(-[A-Z0-9]+)?\\.js$`).test(f));
      if (built.length !== 1) {
        throw new Error(
          `${file} imports a module ${name}.ts, which the build made ${built.length} files of`,
        );
      }
      return `import(${call}${JSON.stringify(`./${built[0]}`)}`;
    },
  );
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "out-dir": { type: "string", default: DEFAULT_BUILD_DIR },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("Usage: deno task build [--out-dir DIR]   (default: dist/js)");
    return 0;
  }
  const result = await build(values["out-dir"]);
  console.error(
    `build: ${result.files.length} files, ${Math.round(result.bytes / 1024)} KB in ` +
      `${relative(Deno.cwd(), values["out-dir"]!) || "."}; run it as ` +
      `deno run ${RUNTIME_FLAGS.join(" ")} ${relative(Deno.cwd(), result.entry)} COMMAND …`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
