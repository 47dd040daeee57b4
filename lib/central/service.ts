/**
 * libpq's connection service file (`~/.pg_service.conf`, `$PGSERVICEFILE`, or
 * `pg_service.conf` in `$PGSYSCONFDIR`): named sections of connection settings, read as libpq
 * reads them.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * The settings a service section may hold: libpq's keywords that audit-trail reads, as the
 * URL's parameters. libpq's other keywords (a client certificate, `options`, …) are refused rather than
 * ignored: a connection made without them would not be the one the file describes.
 */
export const SERVICE_KEYWORDS = [
  "host",
  "hostaddr",
  "port",
  "user",
  "dbname",
  "password",
  "sslmode",
  "sslrootcert",
  "connect_timeout",
  "application_name",
] as const;

/** A service's settings, by libpq keyword. */
export type ServiceSettings = Partial<Record<typeof SERVICE_KEYWORDS[number], string>>;

/**
 * The settings of section `[service]` of a service file, or null when the file has no such
 * section. As libpq: lines are `keyword=value`, `#` starts a comment line, the first value of
 * a keyword wins, and only the lines of the section asked for are read (another section's
 * mistakes do not matter).
 *
 * @param file The file's path, named in errors.
 * @throws {UsageError} For a line of the section that is no `keyword=value`, or names a
 * keyword audit-trail does not read, or another service; the message names the file, the line
 * and the keyword, never a value (a line may hold a password).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceSettings } from "./service.ts";
 * const text = "# company\n[audit]\nhost=db.example\nport=5433\n\n[other]\nhost=elsewhere\n";
 * assert.deepEqual(serviceSettings(text, "pg_service.conf", "audit"), {
 *   host: "db.example",
 *   port: "5433",
 * });
 * assert.equal(serviceSettings(text, "pg_service.conf", "missing"), null);
 * ```
 */
export function serviceSettings(
  text: string,
  file: string,
  service: string,
): ServiceSettings | null {
  let found = false;
  const settings: ServiceSettings = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("[")) {
      if (found) break;
      found = line.endsWith("]") && line.slice(1, -1) === service;
      continue;
    }
    if (!found) continue;
    const fail = (problem: string, hint: string) =>
      new UsageError(`Service file "${file}", line ${i + 1} (service "${service}"): ${problem}`, {
        hint,
      });
    const equals = line.indexOf("=");
    if (equals < 0) {
      throw fail("is not keyword=value", "Write each setting as keyword=value, e.g. port=5433.");
    }
    const keyword = line.slice(0, equals).trim();
    if (keyword === "service") {
      throw fail(
        "names another service: a service cannot include one",
        "Copy that service's settings into this section instead.",
      );
    }
    if (!(SERVICE_KEYWORDS as readonly string[]).includes(keyword)) {
      throw fail(
        `"${keyword}" is not a setting audit-trail reads`,
        `Use only: ${SERVICE_KEYWORDS.join(", ")}.`,
      );
    }
    const key = keyword as keyof ServiceSettings;
    settings[key] ??= line.slice(equals + 1).trim();
  }
  return found ? settings : null;
}
