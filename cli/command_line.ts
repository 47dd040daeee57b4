/**
 * Where a command line names its command: the options every command takes, and the split at
 * the first positional argument. It imports nothing, so that the built program's first file
 * (`cli_build.ts`) can find the command before it loads the program that runs it.
 *
 * @module
 */

/** What one option takes: a value (`string`) or nothing (`boolean`). `short` is one letter. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
}

/** The options a command takes, by long name without the dashes. */
export type OptionSpecs = Record<string, OptionSpec>;

/** The options every command takes, before or after its name. */
export const GLOBAL_OPTIONS = {
  db: { type: "string" },
  format: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const satisfies OptionSpecs;

/** `args` split at its first positional argument (a command or subcommand name). */
export interface SplitArgs {
  /** The options before the name. */
  before: string[];
  /** The name, or `undefined` when there is none before the end or a `--`. */
  name?: string;
  /** Everything after the name. */
  after: string[];
}

/**
 * Finds the first positional argument, skipping the options of `specs` before it (and the
 * value of each that takes one), so `--db app.db batch show` splits at `batch`.
 *
 * @example
 * ```ts
 * import { splitAtName } from "./command_line.ts";
 * import assert from "node:assert/strict";
 *
 * const split = splitAtName(["--db", "a.db", "show", "R1"], { db: { type: "string" } });
 * assert.deepEqual(split, { before: ["--db", "a.db"], name: "show", after: ["R1"] });
 * ```
 */
export function splitAtName(args: readonly string[], specs: OptionSpecs): SplitArgs {
  let i = 0;
  while (i < args.length && args[i] !== "--" && args[i].startsWith("-") && args[i] !== "-") {
    const name = args[i].startsWith("--") ? args[i].slice(2) : undefined;
    i += name !== undefined && specs[name]?.type === "string" ? 2 : 1;
  }
  const before = args.slice(0, Math.min(i, args.length));
  if (i >= args.length || args[i] === "--") return { before, after: [] };
  return { before, name: args[i], after: args.slice(i + 1) };
}
