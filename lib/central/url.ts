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
  /**
   * Seconds connecting may take (libpq's `connect_timeout`), 0 for no bound of its own; absent
   * when neither the URL nor the defaults name one.
   */
  connectTimeoutSeconds?: number;
}

/**
 * What fills in what the URL leaves out, in libpq's order: the URL (and its `?host=`, `port=`,
 * `user=`, `dbname=`, `password=` parameters) first, then these.
 */
export interface CentralDefaults {
  /**
   * Used when the URL names no host (the CLI passes `$PGHOST`, else libpq's default: the
   * folder of the local server's Unix socket).
   */
  host?: string;
  /** Used when the URL has no port (the CLI passes `$PGPORT`); else 5432. */
  port?: string;
  /** Used when the URL names no user (the CLI passes `$PGUSER`, else the login name). */
  user?: string;
  /** Used when the URL names no database (the CLI passes `$PGDATABASE`); else the user. */
  database?: string;
  /** Used when the URL has no password (the CLI passes `$PGPASSWORD`). */
  password?: string;
  /** Used when the URL has no `connect_timeout` (the CLI passes `$PGCONNECT_TIMEOUT`). */
  connectTimeout?: string;
  /** Used when the URL has no `sslmode` (the CLI passes `$PGSSLMODE`); else `prefer`. */
  sslmode?: string;
  /**
   * Used when the URL has no `sslrootcert` (the CLI passes `$PGSSLROOTCERT`, else
   * `~/.postgresql/root.crt` where that file exists).
   */
  sslRootCert?: string;
}

/** The URL's query parameters audit-trail reads: those of libpq that say where and how. */
const PARAMETERS = [
  "host",
  "port",
  "user",
  "dbname",
  "password",
  "sslmode",
  "sslrootcert",
  "connect_timeout",
];

/** Stands for an empty host while the rest of the URL is read (URL refuses `postgres://u@/d`). */
const NO_HOST = "audit-trail-no-host.invalid";

/**
 * Reads `postgres://[USER[:PASSWORD]@][HOST][:PORT][/DATABASE][?sslmode=…&sslrootcert=…]`
 * (also `postgresql://`) as libpq does: what it leaves out comes from `defaults` (PGHOST,
 * PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT), then from libpq's own
 * defaults (port 5432, database named as the user). A HOST such as `%2Fvar%2Frun%2Fpostgresql`
 * (or `?host=/var/run/postgresql`) names the folder of the server's Unix socket.
 *
 * @throws {UsageError} When the text is not such a URL, or no host or user is named anywhere;
 * the message never holds the password.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCentralUrl } from "./url.ts";
 * const target = parseCentralUrl("postgres://site_a:s3cret@db.example:5433/audit?sslmode=require");
 * assert.equal(target.display, "postgres://site_a:***@db.example:5433/audit?sslmode=require");
 * assert.deepEqual([target.port, target.sslmode, target.password], [5433, "require", "s3cret"]);
 * const local = parseCentralUrl("postgres:///audit", { host: "/var/run/postgresql", user: "ana" });
 * assert.equal(local.display, "postgres://ana@%2Fvar%2Frun%2Fpostgresql:5432/audit");
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
    url = new URL(withPlaceholderHost(text.trim()));
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
  // "postgres:/u:pw@h/d" is all path to URL: a database named after the password.
  if (!/^[a-z]+:\/\//i.test(text.trim())) throw fail("names no host: write postgres://HOST");
  const params = new Map(url.searchParams);
  const unknown = [...params.keys()].filter((key) => !PARAMETERS.includes(key));
  if (unknown.length > 0) {
    throw fail(`has parameters audit-trail does not use: ${unknown.join(", ")}`);
  }
  // A parameter left empty says nothing, as with libpq: the next source is used.
  const given = (key: string, inUrl: string) => params.get(key) || decode(inUrl) || undefined;
  const hostInUrl = url.hostname === NO_HOST ? "" : url.hostname.replace(/^\[|\]$/g, "");
  // libpq's way of naming a Unix socket's folder: the path percent-encoded as the host.
  const host = given("host", hostInUrl) ?? defaults.host;
  if (!host) throw fail("names no host, and PGHOST is not set");
  const user = given("user", url.username) ?? defaults.user;
  if (!user) throw fail("names no user (postgres://USER@…), and PGUSER is not set");
  const database = given("dbname", url.pathname.replace(/^\//, "")) ?? defaults.database ?? user;
  const portText = given("port", url.port);
  const port = parsePort(portText ?? defaults.port ?? "5432");
  if (port === null) {
    if (portText !== undefined) throw fail(`has port ${portText}: a port is 1 to 65535`);
    throw new UsageError(`PGPORT "${defaults.port}" is not a port`, {
      hint: "Set it to a number from 1 to 65535, or unset it (the default is 5432).",
    });
  }
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
  const sslRootCert = params.get("sslrootcert") ?? defaults.sslRootCert ?? null;
  if (sslRootCert === "") throw fail("has an empty sslrootcert (a certificate file, or system)");
  const password = given("password", url.password) ?? defaults.password ?? null;
  const hasPassword = Boolean(url.password || params.get("password"));
  const timeoutText = params.get("connect_timeout") || defaults.connectTimeout;
  const connectTimeout = timeoutText === undefined ? undefined : parseConnectTimeout(timeoutText);
  if (connectTimeout === null) {
    if (params.get("connect_timeout")) {
      throw fail(`has connect_timeout ${timeoutText}: a whole number of seconds`);
    }
    throw new UsageError(`PGCONNECT_TIMEOUT "${timeoutText}" is not a number of seconds`, {
      hint: "Set it to a whole number of seconds, or unset it (the default is 20).",
    });
  }
  return {
    ...(connectTimeout === undefined ? {} : { connectTimeoutSeconds: connectTimeout }),
    host,
    port,
    database,
    user,
    password: password === "" ? null : password,
    sslmode: sslmode as SslMode,
    sslRootCert,
    display: resolvedUrl(url, { host, port, database, user }, hasPassword),
  };
}

/**
 * Where the URL resolved to, as a complete URL without a password (`USER:***` where the URL
 * gave one), keeping the URL's own sslmode and sslrootcert as written.
 */
function resolvedUrl(
  url: URL,
  to: Pick<CentralTarget, "host" | "port" | "database" | "user">,
  hasPassword: boolean,
): string {
  const host = to.host.startsWith("/")
    ? encodeURIComponent(to.host)
    : to.host.split(",").map((h) => h.includes(":") ? `[${h}]` : h).join(",");
  const kept = url.search.slice(1).split("&")
    .filter((pair) => /^ssl(mode|rootcert)=/.test(pair));
  return `${url.protocol}//${encodeURIComponent(to.user)}${
    hasPassword ? ":***" : ""
  }@${host}:${to.port}/${encodeURIComponent(to.database)}${
    kept.length ? `?${kept.join("&")}` : ""
  }`;
}

/** The URL with {@linkcode NO_HOST} where it names no host, as libpq allows and URL does not. */
function withPlaceholderHost(text: string): string {
  const head = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0];
  if (head === undefined) return text;
  const authority = /^[^/?#]*/.exec(text.slice(head.length))![0];
  const at = authority.lastIndexOf("@") + 1;
  const hostAndPort = authority.slice(at);
  if (hostAndPort !== "" && !hostAndPort.startsWith(":")) return text;
  return head + authority.slice(0, at) + NO_HOST + text.slice(head.length + at);
}

/**
 * libpq's `connect_timeout` from its text: 0 (or less) for none, else at least 2 seconds, as
 * libpq takes 1 as 2; null when it is no whole number.
 */
function parseConnectTimeout(text: string): number | null {
  if (!/^\s*-?\d{1,9}\s*$/.test(text)) return null;
  const seconds = Number(text);
  return seconds <= 0 ? 0 : Math.max(seconds, 2);
}

/** A port number 1 to 65535 from its text, or null. */
function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
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
