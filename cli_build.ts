/**
 * The program as built and shipped starts here (`dist/js/cli_build.js`, which `deno task
 * compile` makes the executable of). It looks at the command line and loads the program that
 * runs it: a `log` of one event, what scripts call most, from one file made for it
 * (`cli_build_log.ts`); everything else from the program of every command
 * (`cli_build_commands.ts`), which reads only the files of the command it runs. It imports
 * nothing else, so that a start reads this file and the program alone.
 *
 * @module
 */
import { GLOBAL_OPTIONS, splitAtName } from "./cli/command_line.ts";

/**
 * Whether `cli_build_log.ts` runs the command line `args`: `log` given none of the options that
 * load what that program leaves out (`--stdin`, `--format`, `--help`, `--version`). Every
 * argument counts, values too: such a word given as a value sends the run to the program of
 * every command, which runs any command line.
 *
 * @example
 * ```ts
 * import { runsInLogProgram } from "./cli_build.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(runsInLogProgram(["--db", "a.db", "log", "PICKED", "--sku", "S1"]), true);
 * assert.equal(runsInLogProgram(["log", "--stdin"]), false);
 * assert.equal(runsInLogProgram(["log", "PICKED", "--format=json"]), false);
 * assert.equal(runsInLogProgram(["--format", "csv", "log", "PICKED"]), false);
 * assert.equal(runsInLogProgram(["query", "--sku", "log"]), false);
 * ```
 */
export function runsInLogProgram(args: readonly string[]): boolean {
  return splitAtName(args, GLOBAL_OPTIONS).name === "log" && !args.some((arg) => {
    const equals = arg.indexOf("=");
    return OTHER_PROGRAM_OPTIONS.has(equals < 0 ? arg : arg.slice(0, equals));
  });
}

const OTHER_PROGRAM_OPTIONS = new Set(["--stdin", "--format", "--help", "-h", "--version"]);

type Program = typeof import("./cli_build_commands.ts");

/** Loads the program that runs the command line `args`. */
function loadProgram(args: readonly string[]): Promise<Program> {
  // Computed specifiers, which the build points at the files it made of these modules.
  return runsInLogProgram(args)
    ? import(besideThisFile("./cli_build_log.ts"))
    : import(besideThisFile("./cli_build_commands.ts"));
}

/**
 * The URL of a file in this one's folder. Made of strings: a `log` then makes no `URL` at all,
 * whose first one costs a process 0.2 ms.
 */
function besideThisFile(relative: `./${string}`): string {
  const url = import.meta.url;
  return url.slice(0, url.lastIndexOf("/") + 1) + relative.slice(2);
}

// Only the process's main module runs the command line, never a worker that loads this file.
if (import.meta.main && !("WorkerGlobalScope" in globalThis)) {
  const program = await loadProgram(Deno.args);
  Deno.exit(await program.main(Deno.args));
}
