/**
 * The inventory application's own credentials in the bundle's copy of the database: a
 * `users.password_hash`, an `api_token`, a `pin`, an integration's `client_secret`, a webhook
 * URL with its `sig=`. Support staff mail the bundle, so these leave the copy (never the live
 * file) whether or not the settings named them. The tool's own tables (`audit_log`,
 * `audit_trail_*`) are not concerned: they hold events and seals, and keep the settings-only
 * masking of mask.ts.
 *
 * Two rules, applied to every table of the application (views are not tables: they show the
 * masked rows):
 *
 * 1. **By column name**: the whole value of a column whose name says it holds a credential.
 *    The name is cut into words (`_`, `-`, spaces, dots and digits separate them, and so does
 *    a capital after a small letter: `apiToken` is `api token`), and read as English reads a
 *    compound, by its last word: `password_hash` is a hash of a password, but
 *    `password_changed_at` is a time and `token_count` a number. So the name is a credential
 *    when, after dropping trailing words that only say how it is stored (`hash`, `hashed`,
 *    `digest`, `enc`, `encrypted`, `cipher`, `value`, `code`, `pem`, `b64`, `hex`, …), its
 *    last word, or its last two joined, is one of:
 *    - `password`, `passwd`, `pwd`, `passphrase`, `passcode`, `secret`, `token`, `pin`,
 *      `salt`, `credential`, `creds`, `otp`, `cookie` (plural too), optionally glued to a
 *      prefix such as `api`, `access`, `refresh`, `auth`, `client`, `session`, `reset` and to
 *      a storage word (`apitoken`, `passwordhash`, `pincode`);
 *    - `key` only after `api`, `private`, `secret`, `access`, `signing`, `encryption`,
 *      `session`, `client`, `master`, `license`/`licence` (`api_key`, `privateKey`,
 *      `secretkey`): a bare `key` is usually a lookup key (`settings.key`, `sort_key`).
 *
 *    Words are whole: `secretary_name`, `spin_speed`, `pinned`, `tokenizer`, `passport_no`
 *    and `keyboard` are not credentials. A bare `pass` is not either (`qc_pass`, `pass_count`:
 *    in a warehouse it is a check that passed), unlike the settings' keys, where it is. A bare `hash` (`file_hash`, a chain's `hash`) is not
 *    either: only the hash *of a password, pin or token* is. Names that start with `is`,
 *    `has` or `uses` are flags about a credential (`has_password`), not the credential.
 * 2. **By shape**: anywhere else in an application's text (and BLOBs), what the bundle's
 *    own patterns recognise (patterns.ts: private keys, Slack and Teams webhooks, URL
 *    signatures such as `sig=`, `Bearer`/`Basic` credentials, JSON Web Tokens) is replaced,
 *    the rest of the value kept. secretlint's vendor rules, used for the settings, are not run
 *    per cell: a million rows would take minutes.
 *
 * What a masked value becomes keeps the column's type, so the application can still open
 * the copy (and a STRICT table accepts it):
 *
 * | value | becomes |
 * | --- | --- |
 * | NULL, empty text, empty BLOB | unchanged: there is nothing to hide |
 * | text | `[REDACTED]` (`[REDACTED 2]`, `[REDACTED 3]`… where a UNIQUE index needs them distinct) |
 * | integer, real | `0` (`-2`, `-3`… under a UNIQUE index); a secret number is never below 1 |
 * | BLOB | as many `*` bytes as it had (a digest keeps its length; numbered at its end if UNIQUE) |
 *
 * CHECK constraints are not enforced while masking: a masked value may break one (`[REDACTED]`
 * in a `pin_code` that must be 4 characters long), and `PRAGMA integrity_check` of the copy
 * then names the table. The value is masked all the same: a copy that fails a CHECK is better
 * than a PIN in a mailed ZIP.
 *
 * @module
 */
import { latin1 } from "./mask.ts";
import { ownSecretSpans, SECRET_PATTERNS } from "./patterns.ts";
import { REDACTED } from "./redact.ts";

/** Why a column's values were masked: by its name, by a pattern rule id, or `settings`. */
export const BY_COLUMN_NAME = "column name";
export const BY_SETTINGS = "settings";

/** Whether a table is one of audit-trail's own (its events, seals, checkpoints, bookkeeping). */
export function isToolTable(name: string): boolean {
  return name === "audit_log" || name.startsWith("audit_trail_");
}

const NOUN = "password|passwd|pwd|passphrase|passcode|secret|token|pin|salt|credential|creds|" +
  "otp|cookie";
const NOUN_PREFIX = "api|access|refresh|auth|bearer|client|session|reset|oauth|id|app|user|login";
const KEY_PREFIX = "api|private|secret|access|signing|encryption|session|client|master|license|" +
  "licence";
const STORED = "hash|hashed|digest|enc|encrypted|cipher|ciphertext|value|code|pem|der|plain|" +
  "plaintext|b64|base64|hex|bytes|blob|raw|text|str|string|data";
// One word (or two joined): an optional prefix, the credential, an optional plural and an
// optional storage word glued on, all of it and nothing else.
const CREDENTIAL_WORD = new RegExp(
  `^(?:(?:${NOUN_PREFIX})?(?:${NOUN})|(?:${KEY_PREFIX})key)s?(?:${STORED})?$`,
);
const STORAGE_WORD = new RegExp(`^(?:${STORED})$`);
const FLAG_WORD = /^(?:is|has|uses)$/;

/** The words of a column name: `apiToken2` and `API_TOKEN` are both `api token`. */
export function nameWords(name: string): string[] {
  return name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z]+/).filter(Boolean);
}

/**
 * Whether a column's name says it holds a credential; see the module's rule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isCredentialColumn } from "./app_secrets.ts";
 * assert.deepEqual(
 *   ["password_hash", "apiToken", "pin", "token_count", "password_changed_at", "secretary_name"]
 *     .map(isCredentialColumn),
 *   [true, true, true, false, false, false],
 * );
 * ```
 */
export function isCredentialColumn(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0 || FLAG_WORD.test(words[0]!)) return false;
  while (words.length > 1 && STORAGE_WORD.test(words[words.length - 1]!)) words.pop();
  const last = words[words.length - 1];
  return CREDENTIAL_WORD.test(last!) ||
    (words.length > 1 && CREDENTIAL_WORD.test(words[words.length - 2]! + last!));
}

/**
 * An SQL condition true for every value of `column` (an SQL expression) that a pattern of
 * patterns.ts could match: each pattern's fixed text, looked for in text and in a BLOB's
 * bytes. It only narrows the rows read; the patterns decide.
 */
export function patternCandidate(column: string): string {
  return SECRET_PATTERNS.flatMap(({ contains, caseless }) =>
    contains.map((text) =>
      caseless
        ? `${column} LIKE '%${text.replaceAll("'", "''")}%'`
        : `instr(${column}, '${text.replaceAll("'", "''")}')`
    )
  ).join(" OR ");
}

/** A value as node:sqlite reads it with BigInts on. */
export type Cell = string | bigint | number | Uint8Array | null;

const MARKER = /^\[REDACTED(?: \d+)?\]$/;
const STAR = 0x2a;

/**
 * The masked form of a credential column's value, or `null` when it has nothing to hide
 * (NULL, empty, or masked already: a copy whose key moved is read again).
 */
export function maskCredential(value: Cell): Cell | null {
  if (value === null) return null;
  if (typeof value === "string") return value === "" || MARKER.test(value) ? null : REDACTED;
  if (typeof value === "bigint") return value <= 0n ? null : 0n;
  if (typeof value === "number") return value <= 0 ? null : 0;
  if (value.length === 0 || isStarBlob(value)) return null;
  return new Uint8Array(value.length).fill(STAR);
}

function isStarBlob(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== STAR && (byte < 0x30 || byte > 0x39)) return false;
  return true;
}

/**
 * `value` numbered `n` for a UNIQUE index: `[REDACTED n]` in text, `-n` for a number, `n`
 * at the end of a starred BLOB. Values without a marker stay.
 */
export function numbered(value: Cell, n: number): Cell {
  if (typeof value === "string") return value.replaceAll(REDACTED, `[REDACTED ${n}]`);
  if (typeof value === "bigint") return value === 0n ? BigInt(-n) : value;
  if (typeof value === "number") return value === 0 ? -n : value;
  if (value instanceof Uint8Array && isStarBlob(value)) {
    const digits = new TextEncoder().encode(String(n));
    const copy = new Uint8Array(Math.max(value.length, digits.length)).fill(STAR);
    copy.set(digits, copy.length - digits.length);
    return copy;
  }
  return value;
}

/** Text with every span the patterns recognise replaced by `[REDACTED]`, and their rules. */
export function maskPatternsInText(text: string): { text: string; rules: string[] } {
  const spans = ownSecretSpans(text);
  let result = text;
  for (const span of [...spans].reverse()) {
    result = result.slice(0, span.start) + REDACTED + result.slice(span.end);
  }
  return { text: result, rules: spans.map((s) => s.rule) };
}

/** Bytes with every span the patterns recognise overwritten by `*`, keeping the length. */
export function maskPatternsInBytes(bytes: Uint8Array): { bytes: Uint8Array; rules: string[] } {
  const spans = ownSecretSpans(latin1(bytes));
  if (spans.length === 0) return { bytes, rules: [] };
  const copy = bytes.slice();
  for (const span of spans) copy.fill(STAR, span.start, span.end);
  return { bytes: copy, rules: spans.map((s) => s.rule) };
}
