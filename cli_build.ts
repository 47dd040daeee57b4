/**
 * The program as built and shipped starts here (`dist/js/cli_build.js`, which `deno task
 * compile` makes the executable of). It looks at the command line and loads the program that
 * runs it: the command lines scripts call most, a `log` of one event, a `query` of the database
 * and a `batch show` or `list`, from one file each made for them (`cli_build_log.ts`,
 * `cli_build_query.ts`, `cli_build_batch.ts`);
 * everything else from the program of every command (`cli_build_commands.ts`), which reads only
 * the files of the command it runs. It imports nothing else, so that a start reads this file and
 * the program alone.
 *
 * @module
 */
import { GLOBAL_OPTIONS, splitAtName } from "./cli/command_line.ts";

/** A program made for one command, or some of its subcommands. */
interface OwnProgram {
  /** The subcommands it runs (all, when not given). */
  subcommands?: ReadonlySet<string>;
  /** The options that load what it leaves out: given one, the program of every command runs. */
  leavesOut: ReadonlySet<string>;
}

/** The programs made for one command each, by that command. */
const OWN_PROGRAMS = {
  log: { leavesOut: new Set(["--stdin", "--format", "--help", "-h", "--version"]) },
  query: { leavesOut: new Set(["--central", "--archives", "--help", "-h", "--version"]) },
  batch: {
    subcommands: new Set(["show", "list"]),
    leavesOut: new Set(["--archives", "--help", "-h", "--version"]),
  },
} satisfies Record<string, OwnProgram>;

/**
 * The command whose own program runs the command line `args`, if one does. Every argument
 * counts, values too: an option's name given as a value sends the run to the program of every
 * command, which runs any command line.
 *
 * @example
 * ```ts
 * import { ownProgram } from "./cli_build.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(ownProgram(["--db", "a.db", "log", "PICKED", "--sku", "S1"]), "log");
 * assert.equal(ownProgram(["log", "--stdin"]), undefined);
 * assert.equal(ownProgram(["query", "--sku", "S1", "--format=csv"]), "query");
 * assert.equal(ownProgram(["query", "--central", "postgres://central/audit"]), undefined);
 * assert.equal(ownProgram(["batch", "show", "RUN-1"]), "batch");
 * assert.equal(ownProgram(["batch", "start", "Nightly import"]), undefined);
 * assert.equal(ownProgram(["verify"]), undefined);
 * ```
 */
export function ownProgram(args: readonly string[]): keyof typeof OWN_PROGRAMS | undefined {
  const { name, after } = splitAtName(args, GLOBAL_OPTIONS);
  if (name === undefined || !Object.hasOwn(OWN_PROGRAMS, name)) return undefined;
  const command = name as keyof typeof OWN_PROGRAMS;
  const program: OwnProgram = OWN_PROGRAMS[command];
  const subcommand = splitAtName(after, GLOBAL_OPTIONS).name;
  if (program.subcommands && !program.subcommands.has(subcommand ?? "")) return undefined;
  const sentElsewhere = args.some((arg) => {
    const equals = arg.indexOf("=");
    return program.leavesOut.has(equals < 0 ? arg : arg.slice(0, equals));
  });
  return sentElsewhere ? undefined : command;
}

type Program = typeof import("./cli_build_commands.ts");

/** Loads the program that runs the command line `args`. */
function loadProgram(args: readonly string[]): Promise<Program> {
  // Computed specifiers, which the build points at the files it made of these modules.
  switch (ownProgram(args)) {
    case "log":
      return import(besideThisFile("./cli_build_log.ts"));
    case "query":
      return import(besideThisFile("./cli_build_query.ts"));
    case "batch":
      return import(besideThisFile("./cli_build_batch.ts"));
    default:
      return import(besideThisFile("./cli_build_commands.ts"));
  }
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
