/**
 * A small, strict argument parser. It knows every option a command takes, so a value is
 * always the value of the option before it: `--details --version` never prints the version.
 *
 * Rules: `--name value` and `--name=value` for options with a value; `--flag` for flags;
 * `--` ends the options; an option's value may start with "-" only when it is a number
 * (`--limit -1`) or given with "=" (`--details=-x`); an option given twice, an unknown option
 * and a flag given a value are usage errors.
 *
 * @module
 */
import { UsageError } from "../lib/errors.ts";

/** What one option takes: a value (`string`) or nothing (`boolean`). `short` is one letter. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
}

/** The options a command takes, by long name without the dashes. */
export type OptionSpecs = Record<string, OptionSpec>;

/** The parsed options: a string or `true` for each option given, nothing for the others. */
export type OptionValues<T extends OptionSpecs> = {
  [K in keyof T]?: T[K]["type"] extends "boolean" ? boolean : string;
};

/** Options and positional arguments, in the order given. */
export interface ParsedArgs<T extends OptionSpecs> {
  values: OptionValues<T>;
  positionals: string[];
}

/** Anything that reads as a number, so `--limit -1` reaches the range check. */
const NUMBER_LIKE = /^-\.?\d/;

/**
 * Parses `args` against `specs`. `command` names the command in messages, so a hint can say
 * whose help to read (`""` before any command).
 *
 * @example
 * ```ts
 * import { parseArgs } from "./args.ts";
 * import assert from "node:assert/strict";
 *
 * const { values, positionals } = parseArgs("log", ["NOTE", "--details=a b", "--sku", "S1"], {
 *   details: { type: "string" },
 *   sku: { type: "string" },
 * });
 * assert.deepEqual(values, { details: "a b", sku: "S1" });
 * assert.deepEqual(positionals, ["NOTE"]);
 * ```
 */
export function parseArgs<T extends OptionSpecs>(
  command: string,
  args: readonly string[],
  specs: T,
): ParsedArgs<T> {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const hint = `Run "${["audit-trail", command].join(" ").trim()} --help" for the options.`;
  const where = command ? ` for ${command}` : "";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || NUMBER_LIKE.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const written = arg.startsWith("--") && equals > 0 ? arg.slice(0, equals) : arg;
    const inline = written === arg ? undefined : arg.slice(equals + 1);
    const name = optionName(written, specs);
    if (name === undefined) {
      throw new UsageError(`Unknown option "${written}"${where}`, { hint });
    }
    if (name in values) {
      throw new UsageError(`Option ${written} is given more than once`, {
        hint: `Give ${written} once. ${hint}`,
      });
    }
    if (specs[name].type === "boolean") {
      if (inline !== undefined) {
        throw new UsageError(`Option ${written} takes no value ("${arg}")`, { hint });
      }
      values[name] = true;
      continue;
    }
    if (inline !== undefined) {
      values[name] = inline;
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value === "--") {
      throw new UsageError(`Option ${written} needs a value`, { hint });
    }
    if (value.startsWith("-") && value !== "-" && !NUMBER_LIKE.test(value)) {
      throw new UsageError(`Option ${written} needs a value, not the option-like "${value}"`, {
        hint: `To give a value that starts with "-", write ${written}=${value}`,
      });
    }
    values[name] = value;
    i++;
  }
  return { values: values as OptionValues<T>, positionals };
}

function optionName(written: string, specs: OptionSpecs): string | undefined {
  if (written.startsWith("--")) {
    const name = written.slice(2);
    return Object.hasOwn(specs, name) ? name : undefined;
  }
  if (written.length !== 2) return undefined;
  return Object.keys(specs).find((name) => specs[name].short === written[1]);
}

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
 * import { splitAtName } from "./args.ts";
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
