import assert from "node:assert/strict";
import { parseArgs, splitAtName } from "../cli/context.ts";
import { UsageError } from "../lib/errors.ts";

const SPECS = {
  details: { type: "string" },
  limit: { type: "string" },
  stdin: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function refused(args: string[], message: RegExp): void {
  assert.throws(() => parseArgs("log", args, SPECS), (error) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("parseArgs() takes --opt value and --opt=value, and keeps positionals in order", () => {
  const parsed = parseArgs("log", ["A", "--details", "x y", "B", "--limit=5", "--stdin"], SPECS);
  assert.deepEqual(parsed.values, { details: "x y", limit: "5", stdin: true });
  assert.deepEqual(parsed.positionals, ["A", "B"]);
});

Deno.test("parseArgs() keeps an empty value and a value holding '='", () => {
  const parsed = parseArgs("log", ["--details=", "--limit=a=b"], SPECS);
  assert.deepEqual(parsed.values, { details: "", limit: "a=b" });
});

Deno.test("parseArgs() treats everything after -- as positionals", () => {
  const parsed = parseArgs("log", ["--stdin", "--", "--details", "-h", "--"], SPECS);
  assert.deepEqual(parsed.values, { stdin: true });
  assert.deepEqual(parsed.positionals, ["--details", "-h", "--"]);
});

Deno.test("parseArgs() takes negative numbers as values and as positionals", () => {
  const parsed = parseArgs("log", ["--limit", "-1", "--details", "-5 units", "-3", "-"], SPECS);
  assert.deepEqual(parsed.values, { limit: "-1", details: "-5 units" });
  assert.deepEqual(parsed.positionals, ["-3", "-"]);
});

Deno.test("parseArgs() never takes an option-like value for another option", () => {
  refused(["--details", "--help"], /--details needs a value, not the option-like "--help"/);
  refused(["--details", "-h"], /--details needs a value, not the option-like "-h"/);
  refused(["--details", "--stdin"], /--details needs a value/);
  // Given with "=", any text is the value.
  assert.deepEqual(parseArgs("log", ["--details=--help"], SPECS).values, { details: "--help" });
});

Deno.test("parseArgs() refuses a missing value, unknown and repeated options, flags with values", () => {
  refused(["--details"], /^Option --details needs a value$/);
  refused(["--details", "--"], /^Option --details needs a value$/);
  refused(["--bogus"], /^Unknown option "--bogus" for log$/);
  refused(["-x"], /^Unknown option "-x" for log$/);
  refused(["--bogus=1"], /^Unknown option "--bogus" for log$/);
  refused(["--limit", "1", "--limit=2"], /^Option --limit is given more than once$/);
  refused(["-h", "--help"], /given more than once/);
  refused(["--stdin=yes"], /^Option --stdin takes no value/);
  refused(["--constructor"], /^Unknown option "--constructor"/);
});

Deno.test("parseArgs() knows short names", () => {
  assert.deepEqual(parseArgs("log", ["-h"], SPECS).values, { help: true });
});

Deno.test("parseArgs() errors name the command whose help to read", () => {
  try {
    parseArgs("batch start", ["--nope"], SPECS);
    assert.fail("should have thrown");
  } catch (error) {
    assert.ok(error instanceof UsageError);
    assert.equal(error.hint, 'Run "audit-trail batch start --help" for the options.');
  }
});

Deno.test("splitAtName() skips options and their values before the name", () => {
  const specs = { db: { type: "string" }, help: { type: "boolean" } } as const;
  assert.deepEqual(splitAtName(["--db", "x", "--help", "log", "--db", "y"], specs), {
    before: ["--db", "x", "--help"],
    name: "log",
    after: ["--db", "y"],
  });
  assert.deepEqual(splitAtName(["--db=x", "query"], specs), {
    before: ["--db=x"],
    name: "query",
    after: [],
  });
  assert.deepEqual(splitAtName(["--help"], specs), { before: ["--help"], after: [] });
  assert.deepEqual(splitAtName(["--", "log"], specs), { before: [], after: [] });
});
