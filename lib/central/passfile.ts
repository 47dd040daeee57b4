/**
 * libpq's password file (`~/.pgpass`, `%APPDATA%\postgresql\pgpass.conf`, or `$PGPASSFILE`):
 * the password for a connection whose URL and environment give none, read as libpq reads it.
 *
 * @module
 */
import type { CentralTarget } from "./url.ts";

/**
 * The password the file gives for `target`, or null. Each line is
 * `host:port:database:user:password`; `*` in any of the first four fields matches anything;
 * `\:` and `\\` stand for `:` and `\`; lines starting with `#` are comments; the first line
 * that matches wins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { passwordFromPassfile } from "./passfile.ts";
 * const file = "# site PCs\ndb.example:5432:audit:wh_lyon:s3cr\\:et\n*:*:*:*:fallback\n";
 * const target = { host: "db.example", port: 5432, database: "audit", user: "wh_lyon" };
 * assert.equal(passwordFromPassfile(file, target), "s3cr:et");
 * assert.equal(passwordFromPassfile(file, { ...target, user: "bi" }), "fallback");
 * assert.equal(passwordFromPassfile("", target), null);
 * ```
 */
export function passwordFromPassfile(
  text: string,
  target: Pick<CentralTarget, "host" | "port" | "database" | "user">,
): string | null {
  const wanted = [target.host, String(target.port), target.database, target.user];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith("#")) continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    const matches = wanted.every((value, i) => fields[i]!.anything || fields[i]!.text === value);
    if (matches) return fields[4]!.text === "" ? null : fields[4]!.text;
  }
  return null;
}

/** One field of a line: its text, unescaped, and whether it is a bare `*`. */
interface Field {
  text: string;
  anything: boolean;
}

/**
 * A line's fields, `\` escaping the next character (so `\*` is a star, not "anything"). As
 * with libpq, an unescaped `:` after the password ends it.
 */
function splitFields(line: string): Field[] {
  const fields: Field[] = [];
  let text = "";
  let raw = "";
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (char === ":") {
      fields.push({ text, anything: raw === "*" });
      text = raw = "";
      continue;
    }
    if (char === "\\" && i + 1 < line.length) {
      raw += char;
      i++;
    }
    text += line[i];
    raw += line[i];
  }
  fields.push({ text, anything: raw === "*" });
  return fields;
}
