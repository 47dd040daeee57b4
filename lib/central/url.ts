/**
 * Where the central store is: a `postgres://` URL read the way libpq reads it, and shown
 * everywhere with its password as `***`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { SERVICE_KEYWORDS } from "./service.ts";

/** How the connection uses TLS: libpq's `sslmode` values. */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";
/** Every {@linkcode SslMode}, weakest first (named out in the type so the docs show them). */
export const SSL_MODES = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
] as const satisfies readonly SslMode[];

/** A parsed central URL: everything needed to connect, and how to show it. */
export interface CentralTarget {
  /** A host name or address, or (starting with `/`) the folder of the server's Unix socket. */
  host: string;
  /** The port of the first host (each host's is in {@linkcode CentralTarget.ports}). */
  port: number;
  /** One port per host of {@linkcode CentralTarget.host}, in the same order. */
  ports: number[];
  /**
   * libpq's `hostaddr`: the numeric addresses to connect to, one per host, comma-separated;
   * the host names then serve only to check a certificate (verify-full) and to find a
   * password in the password file.
   */
  hostaddr?: string | undefined;
  /** Shown to the server's administrator in pg_stat_activity (libpq's `application_name`). */
  applicationName?: string | undefined;
  database: string;
  user: string;
  /** The password, or null to connect without one (trust or peer authentication). */
  password: string | null;
  /**
   * One password per host of {@linkcode CentralTarget.host}, where they differ (libpq looks up
   * each host's own line of the password file); absent when {@linkcode CentralTarget.password}
   * serves every host.
   */
  passwords?: (string | null)[] | undefined;
  /**
   * Where the password came from, as a person would look for it (`the URL`, `PGPASSWORD`, a
   * service file, the password file), never the password itself; absent when none was given.
   */
  passwordFrom?: string | undefined;
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
  connectTimeoutSeconds?: number | undefined;
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
  /**
   * Used when neither the URL nor these name a host or a hostaddr (the CLI passes libpq's
   * default: the folder of the local server's Unix socket).
   */
  localHost?: string;
  /** Used when the URL has no `hostaddr` (the CLI passes `$PGHOSTADDR`). */
  hostaddr?: string;
  /**
   * Used when the URL has no port (the CLI passes `$PGPORT`); else 5432. One port for every
   * host, or one per host, comma-separated.
   */
  port?: string;
  /** Used when the URL has no `application_name` (the CLI passes `$PGAPPNAME`). */
  applicationName?: string;
  /** Used when the URL names no user (the CLI passes `$PGUSER`, else the login name). */
  user?: string;
  /** Used when the URL names no database (the CLI passes `$PGDATABASE`); else the user. */
  database?: string;
  /** Used when the URL has no password (the CLI passes `$PGPASSWORD`). */
  password?: string;
  /** Where {@linkcode CentralDefaults.password} comes from, named in hints (default `PGPASSWORD`). */
  passwordFrom?: string;
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

/**
 * The URL's query parameters audit-trail reads: those of libpq that say where and how (the
 * ones a service file may hold too), and the service.
 */
const PARAMETERS: readonly string[] = ["service", ...SERVICE_KEYWORDS];

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
  const { text: parsable, hostList } = withPlaceholderHost(text.trim());
  try {
    url = new URL(parsable);
  } catch {
    // URL refuses these as it refuses anything else: say which part is wrong.
    const authority = /^[a-z][a-z0-9+.-]*:\/\/(?:([^/?#]*)@)?([^/?#@]*)/i.exec(text.trim());
    const host = authority?.[2] ?? "";
    if (/^[0-9a-f:.]+$/i.test(host) && host.split(":").length > 2) {
      throw fail("has an IPv6 address without brackets: write it as [ADDRESS]:PORT");
    }
    const port = /^(?:\[[^\]]*\]|[^:]*):([^:]*)$/.exec(host)?.[1];
    // Without an "@", "USER:PASSWORD/…" reads as HOST:PORT: a port that is no number is then
    // shown only when a user part stands apart, as it may be the password.
    const shownPort = port !== undefined &&
      (/^\d+$/.test(port) ? Number(port) > 65535 : authority?.[1] !== undefined);
    throw fail(shownPort ? `has port ${port}: a port is 1 to 65535` : "is not a URL");
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
  // Several hosts (HOST:PORT,HOST:PORT) as libpq writes them: URL reads no such host.
  const listed = hostList === null ? null : hostList.split(",").map((entry) => {
    const parts = /^(\[[^\]]*\]|[^:\[\]]*)(?::(\d*))?$/.exec(entry);
    if (parts === null) {
      throw fail(
        entry.split(":").length > 2
          ? "has an IPv6 address without brackets: write it as [ADDRESS]:PORT"
          : `has a host "${entry}" that is not HOST or HOST:PORT`,
      );
    }
    return { host: parts[1]!.replace(/^\[|\]$/g, ""), port: parts[2] ?? "" };
  });
  const hostInUrl = listed
    ? listed.map((h) => h.host).join(",")
    : url.hostname === NO_HOST
    ? ""
    : url.hostname.replace(/^\[|\]$/g, "");
  const portInUrl = listed
    ? (listed.some((h) => h.port !== "") ? listed.map((h) => h.port).join(",") : "")
    : url.port;
  const hostaddr = params.get("hostaddr") || defaults.hostaddr || undefined;
  // libpq's way of naming a Unix socket's folder: the path percent-encoded as the host.
  const host = given("host", hostInUrl) ?? defaults.host ?? hostaddr ?? defaults.localHost;
  if (!host) throw fail("names no host, and PGHOST is not set");
  const hosts = host.split(",");
  if (hosts.length > 1 && hosts.includes("")) {
    throw fail("has an empty host among several: name each host, or give one");
  }
  if (hosts.length > 1 && hosts.some((h) => h.startsWith("/"))) {
    throw fail("names a Unix socket's folder among several hosts: name one, or only host names");
  }
  const user = given("user", url.username) ?? defaults.user;
  if (!user) throw fail("names no user (postgres://USER@…), and PGUSER is not set");
  const database = given("dbname", url.pathname.replace(/^\//, "")) ?? defaults.database ?? user;
  const portText = given("port", portInUrl);
  // As libpq: one port for every host, or one per host; an empty one is 5432.
  const portList = (portText ?? defaults.port ?? "5432").split(",")
    .map((p) => p.trim() === "" ? 5432 : parsePort(p.trim()));
  const wrong = (portText ?? defaults.port ?? "").split(",").find((_, i) => portList[i] === null);
  if (wrong !== undefined) {
    if (portText !== undefined) throw fail(`has port ${wrong}: a port is 1 to 65535`);
    throw new UsageError(`PGPORT "${defaults.port}" is not a port`, {
      hint:
        "Set it to a number from 1 to 65535 (or one per host, comma-separated), or unset it (the default is 5432).",
    });
  }
  if (portList.length !== 1 && portList.length !== hosts.length) {
    const from = portText !== undefined ? "the URL" : "PGPORT";
    throw new UsageError(
      `${from} gives ${portList.length} ports for ${hosts.length} host${
        hosts.length === 1 ? "" : "s"
      } (${hosts.join(", ")})`,
      {
        hint:
          "Give one port for every host, or one per host in the same order: postgres://USER@HOST1:PORT1,HOST2:PORT2/DATABASE, or PGHOST=HOST1,HOST2 PGPORT=PORT1,PORT2.",
      },
    );
  }
  const ports = hosts.map((_, i) => portList.length === 1 ? portList[0]! : portList[i]!);
  const port = ports[0]!;
  if (hostaddr !== undefined) checkHostaddr(hostaddr, hosts, params.has("hostaddr"), fail);
  const applicationName = params.get("application_name") || defaults.applicationName || undefined;
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
  const passwordFrom = !password
    ? undefined
    : hasPassword
    ? "the URL"
    : defaults.passwordFrom ?? "PGPASSWORD";
  return {
    ...(connectTimeout === undefined ? {} : { connectTimeoutSeconds: connectTimeout }),
    ...(passwordFrom === undefined ? {} : { passwordFrom }),
    ...(hostaddr === undefined ? {} : { hostaddr }),
    ...(applicationName === undefined ? {} : { applicationName }),
    host,
    port,
    ports,
    database,
    user,
    password: password === "" ? null : password,
    sslmode: sslmode as SslMode,
    sslRootCert,
    display: resolvedUrl(url, { host, ports, hostaddr, database, user }, hasPassword),
  };
}

/**
 * Where the URL resolved to, as a complete URL without a password (`USER:***` where the URL
 * gave one), keeping the URL's own sslmode and sslrootcert as written.
 */
function resolvedUrl(
  url: URL,
  to: Pick<CentralTarget, "host" | "ports" | "hostaddr" | "database" | "user">,
  hasPassword: boolean,
): string {
  const hosts = to.host.startsWith("/")
    ? [encodeURIComponent(to.host)]
    : to.host.split(",").map((h) => h.includes(":") ? `[${h}]` : h);
  // One port after the last host when all share it, as written before several ports were read.
  const hostsAndPorts = to.ports.every((p) => p === to.ports[0])
    ? `${hosts.join(",")}:${to.ports[0]}`
    : hosts.map((h, i) => `${h}:${to.ports[i]}`).join(",");
  const kept = url.search.slice(1).split("&")
    .filter((pair) => /^ssl(mode|rootcert)=/.test(pair));
  if (to.hostaddr !== undefined) kept.push(`hostaddr=${to.hostaddr}`);
  return `${url.protocol}//${encodeURIComponent(to.user)}${
    hasPassword ? ":***" : ""
  }@${hostsAndPorts}/${encodeURIComponent(to.database)}${kept.length ? `?${kept.join("&")}` : ""}`;
}

/**
 * Checks libpq's `hostaddr`: numeric addresses (IPv4 or IPv6), as many as the hosts.
 *
 * @param inUrl Whether the URL gave it (else PGHOSTADDR or the service file did).
 */
function checkHostaddr(
  hostaddr: string,
  hosts: string[],
  inUrl: boolean,
  fail: (problem: string) => UsageError,
): void {
  const addresses = hostaddr.split(",");
  const bad = addresses.find((a) => !isIpAddress(a));
  const problem = bad !== undefined
    ? `"${bad}" is not a numeric address (hostaddr is an IPv4 or IPv6 address; a name goes in host)`
    : addresses.length !== hosts.length
    ? `gives ${addresses.length} address${
      addresses.length === 1 ? "" : "es"
    } for ${hosts.length} host${hosts.length === 1 ? "" : "s"} (${
      hosts.join(", ")
    }): one address per host`
    : null;
  if (problem === null) return;
  if (inUrl) throw fail(`hostaddr ${problem}`);
  throw new UsageError(`PGHOSTADDR ${problem}`, {
    hint: "Set it to the host's address (one per host, comma-separated), or unset it.",
  });
}

/** Whether `text` is an IPv4 address (four numbers 0 to 255) or an IPv6 one. */
function isIpAddress(text: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) return v4.slice(1).every((n) => Number(n) <= 255);
  return text.includes(":") && /^[0-9a-f:]+(?:\d{1,3}(?:\.\d{1,3}){3})?$/i.test(text) &&
    !/:::/.test(text) && text.split("::").length <= 2;
}

/**
 * The URL with {@linkcode NO_HOST} where it names no host, as libpq allows and URL does not;
 * and where it names several (`HOST1:PORT1,HOST2:PORT2`, which URL refuses), that list.
 */
function withPlaceholderHost(text: string): { text: string; hostList: string | null } {
  const head = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0];
  if (head === undefined) return { text, hostList: null };
  const authority = /^[^/?#]*/.exec(text.slice(head.length))![0];
  const at = authority.lastIndexOf("@") + 1;
  const hostAndPort = authority.slice(at);
  const start = head + authority.slice(0, at) + NO_HOST;
  if (hostAndPort.includes(",")) {
    return { text: start + text.slice(head.length + authority.length), hostList: hostAndPort };
  }
  if (hostAndPort !== "" && !hostAndPort.startsWith(":")) return { text, hostList: null };
  return { text: start + text.slice(head.length + at), hostList: null };
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

/**
 * The service a central URL names (`?service=NAME`, libpq's service file section), or
 * undefined; also for text that is no URL, which {@linkcode parseCentralUrl} then refuses.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceOfUrl } from "./url.ts";
 * assert.equal(serviceOfUrl("postgres:///audit?service=central&sslmode=require"), "central");
 * assert.equal(serviceOfUrl("postgres://u@h/audit"), undefined);
 * ```
 */
export function serviceOfUrl(text: string): string | undefined {
  const query = /\?([^#]*)/.exec(text)?.[1];
  return query ? new URLSearchParams(query).get("service") || undefined : undefined;
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
