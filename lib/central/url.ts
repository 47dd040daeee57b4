/**
 * Where the central store is: a `postgres://` URL read the way libpq reads it, and shown
 * everywhere with its password as `***`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** libpq's `sslmode` values. */
export const SSL_MODES = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
] as const;
/** How the connection uses TLS, as libpq names it. */
export type SslMode = typeof SSL_MODES[number];

/** A parsed central URL: everything needed to connect, and how to show it. */
export interface CentralTarget {
  /** A host name or address, or (starting with `/`) the folder of the server's Unix socket. */
  host: string;
  port: number;
  database: string;
  user: string;
  /** The password, or null to connect without one (trust or peer authentication). */
  password: string | null;
  sslmode: SslMode;
  /**
   * The authorities a server's certificate must be signed by: a file of PEM certificates, or
   * `"system"` for the machine's own; null when none was named (the machine's own are used).
   */
  sslRootCert: string | null;
  /** The URL as it may be shown: the password (if any) replaced by `***`. */
  display: string;
}

/** Where the password and sslmode come from when the URL does not give them (libpq's order). */
export interface CentralDefaults {
  /** Used when the URL has no password (the CLI passes `$PGPASSWORD`). */
  password?: string;
  /** Used when the URL has no `sslmode` (the CLI passes `$PGSSLMODE`); else `prefer`. */
  sslmode?: string;
  /**
   * Used when the URL has no `sslrootcert` (the CLI passes `$PGSSLROOTCERT`, else
   * `~/.postgresql/root.crt` where that file exists).
   */
  sslRootCert?: string;
}

/**
 * Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]` (also
 * `postgresql://`); a HOST such as `%2Fvar%2Frun%2Fpostgresql` names the folder of the
 * server's Unix socket.
 * A password in the URL wins over `defaults.password`, as with libpq and `PGPASSWORD`.
 *
 * @throws {UsageError} When the text is not such a URL; the message never holds the password.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCentralUrl } from "./url.ts";
 * const target = parseCentralUrl("postgres://site_a:s3cret@db.example:5433/audit?sslmode=require");
 * assert.equal(target.display, "postgres://site_a:***@db.example:5433/audit?sslmode=require");
 * assert.deepEqual([target.port, target.sslmode, target.password], [5433, "require", "s3cret"]);
 * ```
 */
export function parseCentralUrl(text: string, defaults: CentralDefaults = {}): CentralTarget {
  const shown = redactUrl(text.trim());
  const fail = (problem: string) =>
    new UsageError(`Central store URL "${shown}" ${problem}`, {
      hint:
        "Write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (the password may come from PGPASSWORD instead).",
    });
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    // URL refuses these as it refuses anything else: say which part is wrong.
    const host = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#]*@)?([^/?#@]*)/i.exec(text.trim())?.[1] ?? "";
    if (/^[0-9a-f:.]+$/i.test(host) && host.split(":").length > 2) {
      throw fail("has an IPv6 address without brackets: write it as [ADDRESS]:PORT");
    }
    const port = /:(\d+)$/.exec(host)?.[1];
    throw fail(
      port !== undefined && Number(port) > 65535
        ? `has port ${port}: a port is 1 to 65535`
        : "is not a URL",
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw fail("must start with postgres://");
  }
  if (!url.hostname) throw fail("names no host");
  const database = decode(url.pathname.replace(/^\//, ""));
  if (!database) throw fail("names no database (…/DATABASE)");
  const user = decode(url.username);
  if (!user) throw fail("names no user (postgres://USER@…)");
  const port = url.port ? Number(url.port) : 5432;
  if (port === 0) throw fail("has port 0: a port is 1 to 65535");
  const params = new Map(url.searchParams);
  const sslmode = params.get("sslmode") ?? defaults.sslmode ?? "prefer";
  if (!(SSL_MODES as readonly string[]).includes(sslmode)) {
    const modes = SSL_MODES.join(", ");
    if (!params.has("sslmode")) {
      throw new UsageError(`PGSSLMODE "${sslmode}" is not an sslmode`, {
        hint: `Set it to one of: ${modes}; or unset it (the default is prefer).`,
      });
    }
    throw fail(`has an unknown sslmode "${sslmode}" (use one of: ${modes})`);
  }
  params.delete("sslmode");
  const sslRootCert = params.get("sslrootcert") ?? defaults.sslRootCert ?? null;
  if (sslRootCert === "") throw fail("has an empty sslrootcert (a certificate file, or system)");
  params.delete("sslrootcert");
  if (params.size > 0) {
    throw fail(`has parameters audit-trail does not use: ${[...params.keys()].join(", ")}`);
  }
  const password = url.password ? decode(url.password) : defaults.password ?? null;
  return {
    // libpq's way of naming a Unix socket's folder: the path percent-encoded as the host.
    host: decode(url.hostname).replace(/^\[|\]$/g, ""),
    port,
    database,
    user,
    password: password === "" ? null : password,
    sslmode: sslmode as SslMode,
    sslRootCert,
    display: shown,
  };
}

/**
 * The URL with its password replaced by `***`, whatever else is wrong with it: safe to print,
 * log or put in a bundle.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./url.ts";
 * assert.equal(redactUrl("postgres://a:pw@h/db"), "postgres://a:***@h/db");
 * ```
 */
export function redactUrl(text: string): string {
  // By hand rather than through URL, so that even text URL refuses is redacted: a scheme
  // mistyped or left out, a password holding an unencoded "@" or "/", libpq's
  // `password=…` keyword. Hiding too much is the safe side.
  const keywordsHidden = text.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]*)/gi, "$1***");
  const head = /^\s*[a-z][a-z0-9+.-]*:\/\//i.exec(keywordsHidden)?.[0] ?? "";
  const rest = keywordsHidden.slice(head.length);
  const at = rest.lastIndexOf("@");
  // USER:PASSWORD@…: everything from the first ":" up to the last "@".
  const userinfo = at >= 0 ? rest.slice(0, at) : rest.replace(/[/?#].*$/s, "");
  const colon = userinfo.indexOf(":");
  if (colon < 0) return keywordsHidden;
  // Without an "@", a ":" in HOST:PORT is no password, unless what follows is no port.
  if (at < 0 && (userinfo.startsWith("[") || /^\d*$/.test(userinfo.slice(colon + 1)))) {
    return keywordsHidden;
  }
  return head + userinfo.slice(0, colon) + ":***" + rest.slice(userinfo.length);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
