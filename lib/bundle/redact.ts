/**
 * Secrets out of the settings copy: values of keys that name a secret are replaced by a
 * marker at any depth, credentials inside connection strings too, and the values removed
 * are remembered so that the finished bundle can be scanned for them.
 *
 * @module
 */

import { ownSecretSpans, secretlintSpans, type SecretSpan } from "./patterns.ts";

/** What replaces a secret value. */
export const REDACTED = "[REDACTED]";

/** A value taken out of the settings, and where it was (`database.password`). */
export interface SecretValue {
  path: string;
  value: string;
}

/** The result of {@linkcode redactSettings}. */
export interface RedactionResult {
  /** The settings with every secret value replaced by {@linkcode REDACTED}. */
  redacted: unknown;
  /** The key paths whose values (or parts of them) were replaced. */
  paths: string[];
  /** The values to scan the bundle for. */
  secrets: SecretValue[];
}

// Words that make a key secret on their own, and fragments that do wherever they appear in
// the key once it is lower-cased and stripped of separators ("DB_Password" -> "dbpassword").
// "key" is a word of its own: `key`, `apiKey`, `license_key`, `SAS-Key`, but not `keyboard`.
const SECRET_WORDS = new Set([
  "pass",
  "pwd",
  "auth",
  "creds",
  "cookie",
  "pin",
  "key",
  "keys",
  "jwt",
  "sig",
  "sas",
  "bearer",
]);
const SECRET_FRAGMENTS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "credential",
  "apikey",
  "privatekey",
  "accesskey",
  "signingkey",
  "encryptionkey",
  "sessionkey",
  "signature",
];

/**
 * Whether a settings key names a secret: password, passwd, secret, token, key (`key`,
 * `api_key`, `licenseKey`), jwt, credential(s), signature, auth… in any case and with any
 * separator (`apiKey`, `API_KEY`, `api-key`, `Authorization`). Errs on the side of hiding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSecretKey } from "./redact.ts";
 * assert.deepEqual(
 *   ["smtpPassword", "API_KEY", "jwt", "host", "keyboard"].map(isSecretKey),
 *   [true, true, true, false, false],
 * );
 * ```
 */
export function isSecretKey(key: string): boolean {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/);
  if (words.some((word) => SECRET_WORDS.has(word) || word.startsWith("auth"))) return true;
  const joined = words.join("");
  return SECRET_FRAGMENTS.some((fragment) => joined.includes(fragment));
}

// scheme://user:password@host — the password goes, the user stays (it helps diagnosis).
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s@/?#]+)@/gi;
// user:password@host without a scheme, as some drivers take it.
const BARE_CREDENTIALS = /(^|[\s,;="'(])([\w.%+-]+):([^\s@/:;,"'()]+)@(?=[\w-]+[.:\w-]*)/g;
// Password=…; Pwd=…; token=… in ODBC/ADO.NET strings and URL query strings.
// The value runs to the next ; or &, spaces included, since ODBC allows them unquoted.
const KEY_VALUE_CREDENTIALS =
  /(^|[;&?\s,])((?:[\w ]*?)(?:password|passwd|pwd|secret|token|jwt|credentials?|sig|signature|key|auth))(\s*=\s*)("[^"]*"|'[^']*'|[^;&\r\n]*)/gi;

/**
 * Replaces credentials inside one string: the password of `user:password@host` (with or
 * without a URL scheme) and the values of `Password=…`, `Pwd=…`, `token=…` pairs.
 *
 * @param text Any string value of the settings.
 * @returns The text with each credential replaced, and the credentials found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactConnectionString } from "./redact.ts";
 * const { text } = redactConnectionString("postgres://app:s3cret@db.local:5432/inv");
 * assert.equal(text, "postgres://app:[REDACTED]@db.local:5432/inv");
 * ```
 */
export function redactConnectionString(text: string): { text: string; found: string[] } {
  const found: string[] = [];
  let result = text.replace(URL_CREDENTIALS, (_all, scheme, user, password) => {
    if (password !== REDACTED) found.push(password);
    return `${scheme}${user}:${REDACTED}@`;
  });
  result = result.replace(BARE_CREDENTIALS, (all, before, user, password) => {
    // host:port@… and mailto:someone@… are not credentials.
    if (password === REDACTED || /^\d+$/.test(password) || /^mailto$/i.test(user)) return all;
    found.push(password);
    return `${before}${user}:${REDACTED}@`;
  });
  result = result.replace(KEY_VALUE_CREDENTIALS, (all, before, key, equals, value: string) => {
    const bare = value.replace(/^(["'])(.*)\1$/, "$2");
    if (bare === "" || bare === REDACTED) return all;
    found.push(bare);
    return `${before}${key}${equals}${REDACTED}`;
  });
  return { text: result, found };
}

/**
 * {@linkcode redactConnectionString}, then every span that {@linkcode findSecretSpans}
 * recognises (private keys, webhook URLs, URL signatures, bearer tokens, JWTs, vendors'
 * tokens) replaced by {@linkcode REDACTED}.
 *
 * @returns The text with each secret replaced, and the secrets found.
 */
export async function redactText(text: string): Promise<{ text: string; found: string[] }> {
  const connection = redactConnectionString(text);
  const found = [...connection.found];
  // Our own patterns first: they keep a webhook's host, where secretlint takes the whole URL.
  // A span around what is already replaced (secretlint reports whole URLs) is done.
  const replace = (input: string, spans: SecretSpan[]) => {
    let result = input;
    const fresh = spans.filter((s) => !input.slice(s.start, s.end).includes(REDACTED));
    for (const span of fresh.reverse()) {
      found.push(result.slice(span.start, span.end));
      result = result.slice(0, span.start) + REDACTED + result.slice(span.end);
    }
    return result;
  };
  const own = replace(connection.text, ownSecretSpans(connection.text));
  return { text: replace(own, await secretlintSpans(own)), found };
}

/**
 * Returns a copy of parsed settings with secret values replaced by {@linkcode REDACTED}:
 * every non-empty value under a key that {@linkcode isSecretKey} names (a whole object or
 * array under such a key included), and in any other string the credentials and secrets
 * that {@linkcode redactText} finds. The input is not changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactSettings } from "./redact.ts";
 * const settings = { db: { host: "db1", password: "hunter22" }, smtp: "smtp://mail:pw42@mx" };
 * const { redacted, paths } = await redactSettings(settings);
 * assert.deepEqual(redacted, {
 *   db: { host: "db1", password: "[REDACTED]" },
 *   smtp: "smtp://mail:[REDACTED]@mx",
 * });
 * assert.deepEqual(paths, ["db.password", "smtp"]);
 * ```
 */
export async function redactSettings(settings: unknown): Promise<RedactionResult> {
  const paths: string[] = [];
  const secrets: SecretValue[] = [];
  const visit = async (
    value: unknown,
    path: string,
    underSecret: boolean,
    named: boolean,
  ): Promise<unknown> => {
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      for (const [i, item] of value.entries()) {
        copy.push(await visit(item, `${path}[${i}]`, underSecret, named));
      }
      return copy;
    }
    if (value !== null && typeof value === "object") {
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const secretKey = isSecretKey(key);
        copy[key] = await visit(
          item,
          path ? `${path}.${key}` : key,
          underSecret || secretKey,
          secretKey,
        );
      }
      return copy;
    }
    if (underSecret && value !== null && value !== "") {
      paths.push(path);
      // Only values whose own key names a secret are looked for later: a user name kept
      // under "auth" would otherwise match the user column of every audit event.
      if (named) secrets.push({ path, value: String(value) });
      return REDACTED;
    }
    if (typeof value === "string") {
      const { text, found } = await redactText(value);
      if (found.length) {
        paths.push(path);
        secrets.push(...found.map((secret) => ({ path, value: secret })));
      }
      return text;
    }
    return value;
  };
  const redacted = await visit(settings, "", false, false);
  return { redacted, paths, secrets };
}

// One `key: value` or `key = value` a line, as YAML, INI and .env files (`export KEY=…`) hold.
const LINE_PAIR = /^[ \t]*(?:export[ \t]+)?["']?([\w.-]+)["']?[ \t]*[:=][ \t]*(.*?)[ \t]*\r?$/gm;

/**
 * Best-effort secrets of a settings file that is not valid JSON: `"key": "value"` pairs
 * and `key: value`, `key = value`, `export KEY="value"` lines (YAML, INI, .env) whose key
 * names a secret, and credentials inside the text. The file itself is left out of the
 * bundle; these are only looked for in the other files.
 */
export function secretsInText(text: string): SecretValue[] {
  const secrets: SecretValue[] = [];
  for (const match of text.matchAll(/"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"|[\w.+-]+)/g)) {
    if (!isSecretKey(match[1]!)) continue;
    const raw = match[2]!;
    let value = raw;
    try {
      value = raw.startsWith('"') ? JSON.parse(raw) : raw;
    } catch {
      value = raw.slice(1, -1);
    }
    if (value !== "" && value !== "null") secrets.push({ path: match[1]!, value });
  }
  for (const match of text.matchAll(LINE_PAIR)) {
    if (!isSecretKey(match[1]!)) continue;
    const value = match[2]!.replace(/^(["'])(.*)\1,?$/, "$2");
    if (!["", "null", "~", "|", ">"].includes(value) && !secrets.some((s) => s.value === value)) {
      secrets.push({ path: match[1]!, value });
    }
  }
  for (const secret of redactConnectionString(text).found) {
    if (!secrets.some((s) => s.value === secret)) {
      secrets.push({ path: "(connection string)", value: secret });
    }
  }
  return secrets;
}

/**
 * The message for a settings file that does not parse, giving the line and column but never
 * the text around it: JavaScript's own message quotes the file, which may hold a password.
 */
export function jsonErrorPosition(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const position = /position (\d+)/.exec(message);
  if (!position) return "it is not valid JSON";
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `it is not valid JSON (line ${line}, column ${column})`;
}

/**
 * Values shorter than this are not looked for by the scan of the finished files: in bytes
 * and figures they match by chance (a PIN of 4321 in a page of the database). They are
 * masked all the same (see mask.ts); the scan is the check that longer ones were.
 */
export const MIN_SCANNED_LENGTH = 8;

/**
 * Looks for secret values in the text files of a bundle, as they are written out in plain,
 * JSON-escaped and CSV-quoted form. Feed a file's bytes in chunks; matches that straddle two
 * chunks are found too.
 */
export class SecretScanner {
  #needles: { path: string; text: string }[] = [];
  #longest = 0;

  constructor(secrets: readonly SecretValue[]) {
    const seen = new Set<string>();
    for (const { path, value } of secrets) {
      if (value.length < MIN_SCANNED_LENGTH) continue;
      for (const form of [value, JSON.stringify(value).slice(1, -1), value.replaceAll('"', '""')]) {
        if (seen.has(form)) continue;
        seen.add(form);
        this.#needles.push({ path, text: form });
        this.#longest = Math.max(this.#longest, form.length);
      }
    }
  }

  /** Whether there is anything to look for. */
  get active(): boolean {
    return this.#needles.length > 0;
  }

  /** A scan of one file: call `feed` with each chunk, then `found` for the key paths seen. */
  file(): { feed(chunk: Uint8Array): void; found(): string[] } {
    const decoder = new TextDecoder();
    const hits = new Set<string>();
    let tail = "";
    const look = (text: string) => {
      for (const needle of this.#needles) {
        if (!hits.has(needle.path) && text.includes(needle.text)) hits.add(needle.path);
      }
    };
    return {
      feed: (chunk) => {
        if (!this.active) return;
        const text = tail + decoder.decode(chunk, { stream: true });
        look(text);
        tail = text.slice(-(this.#longest - 1));
      },
      found: () => {
        if (this.active) look(tail + decoder.decode());
        return [...hits];
      },
    };
  }
}
