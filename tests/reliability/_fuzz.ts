/**
 * Generators of the fuzz cases: random events whose text reaches into Unicode and control
 * characters, NDJSON documents made of them, byte-level mutations, and argument lists.
 *
 * @module
 */
import type { random } from "./_support.ts";

export type Random = ReturnType<typeof random>;

/** Pieces of text that tend to break things: quoting, escapes, control and wide characters. */
const TRICKY = [
  "\t",
  "\n",
  "\r\n",
  "\r",
  "\x01",
  "\x1b[31m",
  "\x7f",
  "\u0085",
  "\u00a0",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\u200b",
  "\u202e",
  '"',
  "'",
  "\\",
  "\\n",
  "\\u0000",
  "%",
  "_",
  "=cmd|' /C calc'!A0",
  "+1",
  "-1",
  "@SUM(1)",
  ",",
  ";",
  "Ä",
  "ß",
  "İ",
  "ﬁ",
  "é",
  "e\u0301",
  "日本語",
  "한국어",
  "עברית",
  "العربية",
  "😀",
  "👩‍👩‍👧",
  "🇩🇪",
  "\u{10ffff}",
  "𝕏",
  "{}",
  "[]",
  "null",
  "true",
  "0",
  "1e400",
  "--db",
  "-h",
  "--",
  " ",
  "  ",
  "",
];

const ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/ ";

/** Random text of up to `max` UTF-16 units, mixing ASCII and tricky pieces (always valid). */
export function text(r: Random, max: number): string {
  let out = "";
  const target = r.chance(0.1) ? max : r.int(Math.min(max, 40) + 1);
  while (out.length < target) {
    const piece = r.chance(0.6) ? ASCII[r.int(ASCII.length)] : r.pick(TRICKY);
    if (out.length + piece.length > max) break;
    out += piece;
  }
  return out;
}

/** A random event that audit-trail must accept, with its fields as NDJSON would carry them. */
export function validEvent(r: Random): Record<string, string | null> {
  // An operation is a name: no control characters or bidirectional overrides.
  // deno-lint-ignore no-control-regex
  const operation = text(r, 100).replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "");
  const event: Record<string, string | null> = { operation: nonBlank(operation, r) };
  if (r.chance(0.7)) event.details = text(r, r.chance(0.05) ? 65_536 : 300);
  if (r.chance(0.5)) event.sku = r.chance(0.1) ? null : nonEmpty(text(r, 256), r);
  if (r.chance(0.4)) event.user = r.chance(0.1) ? null : nonEmpty(text(r, 256), r);
  if (r.chance(0.3)) event.run_id = r.chance(0.2) ? null : runId(r);
  return event;
}

/** A run id of 1–128 printable ASCII characters without whitespace. */
export function runId(r: Random): string {
  const length = 1 + r.int(r.chance(0.1) ? 128 : 30);
  let id = "";
  for (let i = 0; i < length; i++) id += String.fromCharCode(0x21 + r.int(0x7e - 0x21 + 1));
  return id;
}

function nonBlank(value: string, r: Random): string {
  return value.trim() === "" ? `OP_${r.int(1000)}` : value;
}

function nonEmpty(value: string, r: Random): string {
  return value === "" ? `X${r.int(1000)}` : value;
}

/** Ways to spoil one event so that it must be refused, each with what it breaks. */
const SPOILERS: ((event: Record<string, unknown>, r: Random) => void)[] = [
  (e) => delete e.operation,
  (e) => (e.operation = ""),
  (e) => (e.operation = "   "),
  (e, r) => (e.operation = "O".repeat(101 + r.int(50))),
  (
    e,
    r,
  ) => (e.operation = `A${r.pick(["\t", "\n", "\r", "\x1b[31m", "\x7f", "\u0085", "\u202e"])}B`),
  (e, r) => (e.details = "d".repeat(65_537 + r.int(10))),
  (e, r) => (e.sku = "s".repeat(257 + r.int(10))),
  (e) => (e.sku = ""),
  (e) => (e.user = ""),
  (e) => (e.run_id = "has space"),
  (e) => (e.run_id = "x".repeat(129)),
  (e) => (e.run_id = "é"),
  (
    e,
    r,
  ) => (e[r.pick(["operation", "details", "sku", "user", "run_id"])] = r.pick([
    12,
    1.5,
    true,
    false,
    [],
    {},
    [1],
    { a: 1 },
    -0,
  ])),
  (e, r) => (e[r.pick(["extra", "Operation", "audit_id", "timestamp", "__proto__x"])] = "x"),
  (e, r) => (e[r.pick(["operation", "details", "sku", "user"])] = "a\u0000b"),
  (e, r) => (e[r.pick(["operation", "details", "sku", "user"])] = "a\ud800b"),
  (e, r) => (e[r.pick(["operation", "details", "sku", "user"])] = "\udfff"),
];

/** Returns an event that must be refused (a spoiled copy of a valid one). */
export function invalidEvent(r: Random): Record<string, unknown> {
  const event: Record<string, unknown> = validEvent(r);
  r.pick(SPOILERS)(event, r);
  return event;
}

/** JSON text of a line whose value is not an event object at all. */
export function notAnEventLine(r: Random): string {
  return r.pick([
    "[]",
    "null",
    "42",
    '"ORDER_CONFIRMED"',
    "true",
    "{",
    "}",
    '{"operation": "X",}',
    "{'operation': 'X'}",
    '{"operation": "X"} {"operation": "Y"}',
    '{"operation": "X"',
    "[".repeat(50_000) + "]".repeat(50_000),
    '{"operation":"X","details":' + '{"a":'.repeat(20_000) + "1" + "}".repeat(20_000) + "}",
    "\u0000",
    '{"operation":"A\u0000B"}',
    "NaN",
    "undefined",
  ]);
}

/** Byte-level damage to an encoded document: the result may or may not still be valid. */
export function mutateBytes(bytes: Uint8Array, r: Random): Uint8Array {
  const out = Array.from(bytes);
  const rounds = 1 + r.int(3);
  for (let i = 0; i < rounds; i++) {
    const at = r.int(out.length + 1);
    switch (r.int(9)) {
      case 0: // flip one bit
        if (out.length) out[Math.min(at, out.length - 1)] ^= 1 << r.int(8);
        break;
      case 1: // an invalid UTF-8 byte
        out.splice(at, 0, r.pick([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xf8]));
        break;
      case 2: // a NUL byte
        out.splice(at, 0, 0);
        break;
      case 3: // drop a byte
        out.splice(at, 1);
        break;
      case 4: // cut the rest
        out.length = at;
        break;
      case 5: // a stray line break
        out.splice(at, 0, ...r.pick([[0x0a], [0x0d], [0x0d, 0x0a], [0x0a, 0x0a]]));
        break;
      case 6: // a byte order mark
        out.splice(r.chance(0.5) ? 0 : at, 0, 0xef, 0xbb, 0xbf);
        break;
      case 7: // a truncated multi-byte character
        out.splice(at, 0, ...r.pick([[0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]]));
        break;
      case 8: // an overlong or surrogate encoding
        out.splice(at, 0, ...r.pick([[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]));
        break;
    }
  }
  return Uint8Array.from(out);
}

/** Every option name the commands know, for argument lists built at random. */
const OPTIONS = [
  "--details",
  "--sku",
  "--user",
  "--run-id",
  "--stdin",
  "--format",
  "--operation",
  "--since",
  "--until",
  "--contains",
  "--after-id",
  "--before-id",
  "--limit",
  "--offset",
  "--order",
  "--status",
  "--dry-run",
  "--description",
  "--help",
  "-h",
  "--version",
  "--",
  "-",
  "--unknown",
  "-x",
];

const VALUES = [
  "json",
  "ndjson",
  "csv",
  "table",
  "xml",
  "asc",
  "desc",
  "0",
  "1",
  "5",
  "-1",
  "-5",
  "1.5",
  "1e3",
  "99999999999999999999",
  "9007199254740993",
  " 7",
  "0x10",
  "2026-02-16",
  "2026-02-30",
  "2026-02-16T14:30:00Z",
  "2026-02-16T25:00",
  "2026-02-16T14:30:00+02:00",
  "yesterday",
  "SKU-1",
  "run_a",
  "ORDER_CONFIRMED",
  "=",
  "",
];

const COMMANDS = ["log", "query", "batch", "migrate", "help", "lg", "LOG", ""];
const BATCH_SUBCOMMANDS = ["start", "end", "show", "list", "stop", ""];

/**
 * A random argument list without `--db` (the caller adds that, so no case can point at a
 * file outside its folder) and without `batch exec` (which would run arbitrary programs).
 */
export function argumentList(r: Random): string[] {
  const args: string[] = [];
  const command = r.pick(COMMANDS);
  if (command) args.push(command);
  if (command === "batch") args.push(r.pick(BATCH_SUBCOMMANDS));
  const count = r.int(7);
  for (let i = 0; i < count; i++) {
    const roll = r.int(10);
    if (roll < 4) {
      args.push(r.pick(OPTIONS));
      if (r.chance(0.8)) args.push(r.chance(0.5) ? r.pick(VALUES) : text(r, 30));
    } else if (roll < 6) {
      args.push(`${r.pick(OPTIONS)}=${r.chance(0.5) ? r.pick(VALUES) : text(r, 20)}`);
    } else if (roll < 9) {
      args.push(r.chance(0.5) ? r.pick(VALUES) : text(r, 60));
    } else {
      args.push(r.pick(["--format", "--format=json", "-h", "--version"]));
    }
  }
  // Shuffle a little: global options go before or after the command.
  if (args.length > 1 && r.chance(0.3)) {
    const i = r.int(args.length);
    const j = r.int(args.length);
    [args[i], args[j]] = [args[j], args[i]];
  }
  return args.filter((arg) => arg !== "exec" && arg !== "--db" && !arg.startsWith("--db="));
}
