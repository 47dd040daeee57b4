/**
 * The connection to the central store, through npm `postgres` (loaded here, on first use,
 * so that no other command pays for it), and PostgreSQL's failures turned into audit-trail's
 * errors, with the password never shown.
 *
 * @module
 */
import type { PeerCertificate } from "node:tls";
import type postgres from "postgres";
import {
  AuditTrailError,
  errorMessage,
  SchemaError,
  TamperingFoundError,
  UsageError,
} from "../errors.ts";
import { saslPrep } from "./saslprep.ts";
import { type CentralTarget, parseCentralUrl } from "./url.ts";

/**
 * The password as the login the server asked for takes it, as libpq sends it: prepared with
 * SASLprep for SCRAM (the server stored it prepared), as typed for md5 and for a cleartext login
 * (LDAP, PAM, RADIUS check it elsewhere). The client asks for the password without saying which
 * login wants it; its SCRAM step (`SASLContinue` in npm postgres 3.4.10) is on the stack when it
 * does. tests/central_service_test.ts logs in each way, so a client that renames it fails there.
 */
function passwordForLogin(password: string): string {
  return /\bSASLContinue\b/.test(new Error().stack ?? "") ? saslPrep(password) : password;
}

/** The `postgres` client, as the central modules use it. */
export type Sql = postgres.Sql<Record<string, never>>;

/** An open connection to the central store. Close it with `await using` or `close()`. */
export interface CentralConnection extends AsyncDisposable {
  /**
   * The tagged-template client (one connection unless more were asked for; queries issued
   * together are pipelined).
   */
  sql: Sql;
  /** Where it is connected, password already replaced by `***`. */
  target: CentralTarget;
  /** Seconds each statement (and each page of a cursor) may wait for the server's answer. */
  answerSeconds: number;
  /** Ends the connection, waiting at most a few seconds for queries in flight. */
  close(): Promise<void>;
}

/** Options of {@linkcode connectCentral}. */
export interface ConnectCentralOptions {
  /** Sent as `audit_trail.hostname`: the central store records it as the site's hostname. */
  hostname?: string | undefined;
  /** Seconds to wait for the server to answer a connection (default 20). */
  connectTimeoutSeconds?: number | undefined;
  /**
   * Connections opened at most (default 1). With more, statements issued together run side
   * by side on the server instead of one after the other.
   */
  connections?: number | undefined;
  /** Server settings for the session, sent with the login (e.g. `plan_cache_mode`). */
  settings?: Record<string, string> | undefined;
  /**
   * Seconds each statement, and each page of a cursor, may wait for the server's answer,
   * connecting included (default {@linkcode DEFAULT_ANSWER_SECONDS}); then the connection is
   * cut and the statement fails.
   */
  answerSeconds?: number | undefined;
}

/** Seconds a connection attempt may take before the command gives up. */
const CONNECT_TIMEOUT_SECONDS = 20;

/**
 * Seconds a statement waits for the server's answer by default. A server that accepted the
 * connection and then stopped answering (its process stopped, its host gone without closing
 * the connection, something that is no PostgreSQL listening) would otherwise keep a command
 * waiting for ever, or as long as TCP retransmits. Every statement audit-trail sends is
 * answered well within a second (a batch of 2,000 events, a page of 2,000 rows, each step of
 * central init) unless it waits for another session's lock, which the central store's own
 * work (a sync's batch, another central init) holds for seconds at most; 40 s leaves room for
 * a slow link and connecting (at most 20 s) and stays below a minute. Long commands finish:
 * the bound is on each answer, not on the command.
 */
export const DEFAULT_ANSWER_SECONDS = 40;

/**
 * Opens a connection to the central store (lazily: the first query connects). Use
 * {@linkcode centralQuery} around queries so failures come back as audit-trail errors.
 *
 * @param central A `postgres://` URL or a target parsed by {@linkcode parseCentralUrl}.
 */
export async function connectCentral(
  central: string | CentralTarget,
  options: ConnectCentralOptions = {},
): Promise<CentralConnection> {
  const target = typeof central === "string" ? parseCentralUrl(central) : central;
  const answerSeconds = options.answerSeconds ?? DEFAULT_ANSWER_SECONDS;
  const client = await openClient(target, options);
  const sql = answeredWithin(client, { target, answerSeconds });
  const close = async () => {
    await client.end({ timeout: 5 }).catch(() => {});
  };
  return { sql, target, answerSeconds, close, [Symbol.asyncDispose]: close };
}

/** The `postgres` client for `target`; `onclose` hears of every connection it loses. */
async function openClient(
  target: CentralTarget,
  options: ConnectCentralOptions,
  onclose: () => void = () => {},
): Promise<Sql> {
  const [{ default: connect }, { checkServerIdentity }] = await Promise.all([
    import("postgres"),
    import("node:tls"),
  ]);
  const connection: Record<string, string> = {
    ...options.settings,
    // So that the server's administrator tells audit-trail's sessions apart (pg_stat_activity).
    application_name: target.applicationName ?? "audit-trail",
  };
  if (options.hostname) connection["audit_trail.hostname"] = options.hostname;
  // A host starting with "/" is the folder of the server's Unix socket, as with libpq. Hosts
  // go as a list, one per comma as libpq tries them, each with its port (the client's types
  // say text): as text each is split at ":" for HOST:PORT, which cut an IPv6 address such as
  // ::1 down to its first group, so connected elsewhere. With hostaddr, the connection goes
  // to the addresses; the names still check the certificate (sslOption).
  const hosts = (target.hostaddr ?? target.host).split(",");
  const ports = target.ports ?? hosts.map(() => target.port);
  const connectSeconds = target.connectTimeoutSeconds ?? options.connectTimeoutSeconds ??
    CONNECT_TIMEOUT_SECONDS;
  // The password of the host connected to: with several, each may have its own.
  let connected = 0;
  const address =
    (target.hostaddr === undefined && target.host.startsWith("/")
      ? { path: `${target.host}/.s.PGSQL.${target.port}`, port: target.port }
      : hosts.length > 1
      ? {
        host: hosts.slice(0, 1),
        port: ports.slice(0, 1),
        socket: await firstAnswering(target, connectSeconds, (i) => connected = i),
      }
      : { host: hosts, port: ports }) as unknown as {
        host?: string;
        path?: string;
        port: number;
      };
  // Every setting given here, so that none comes from the process environment behind the
  // caller's back (the library reads PG* variables for whatever it is not told).
  return connect({
    ...address,
    database: target.database,
    user: target.user,
    pass: () =>
      passwordForLogin((target.passwords ? target.passwords[connected] : target.password) ?? ""),
    ssl: sslOption(target, checkServerIdentity),
    max: options.connections ?? 1,
    prepare: true,
    fetch_types: false,
    connect_timeout: connectSeconds,
    idle_timeout: 0,
    max_lifetime: 0,
    keep_alive: 30,
    debug: false,
    onnotice: () => {},
    onclose,
    connection,
    types: {
      // bigint (audit ids, counts) as JS numbers: ids never exceed 2^53.
      bigint: {
        to: 20,
        from: [20],
        serialize: (x: number) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  }) as unknown as Sql;
}

/**
 * Opens the connection for several hosts as libpq does: each host in turn (at its address,
 * where `hostaddr` names one), each given `seconds` (0: no bound of its own), the first that
 * accepts it used (`onConnected` hears its index); when none does, fails naming each. The
 * client, given several hosts itself, tries them again and again for as long as none answers,
 * so a command would wait for its answer bound and then blame a stuck server.
 */
async function firstAnswering(
  target: CentralTarget,
  seconds: number,
  onConnected: (host: number) => void,
): Promise<() => Promise<import("node:net").Socket>> {
  const { connect } = await import("node:net");
  const names = target.host.split(",");
  const addresses = (target.hostaddr ?? target.host).split(",");
  const attempt = (i: number) =>
    new Promise<import("node:net").Socket>((resolve, reject) => {
      const socket = connect({ host: addresses[i]!, port: target.ports[i]! });
      const timer = seconds > 0
        ? setTimeout(() => {
          socket.destroy();
          reject(
            Object.assign(new Error(`no answer in ${seconds} s`), { code: "CONNECT_TIMEOUT" }),
          );
        }, seconds * 1000)
        : undefined;
      socket.once("error", (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        // Until the client listens: it hears of any later error itself.
        socket.on("error", () => {});
        // The name, as for one host: TLS sends it and checks the certificate against it.
        resolve(Object.assign(socket, { host: names[i], port: target.ports[i] }));
      });
    });
  return async () => {
    const failures: (Error & { code?: string })[] = [];
    for (let i = 0; i < addresses.length; i++) {
      try {
        const socket = await attempt(i);
        onConnected(i);
        return socket;
      } catch (error) {
        failures.push(error as Error);
      }
    }
    const each = failures.map((f, i) =>
      networkReason(f, names[i] ?? target.host, target.ports[i] ?? target.port)
    );
    throw Object.assign(new Error(`no host accepted the connection (${each.join("; ")})`), {
      // Each host's reason is in the message already, in words.
      code: failures.every((f) => f.code === "CONNECT_TIMEOUT") ? "CONNECT_TIMEOUT" : "NO_HOST",
    });
  };
}

/**
 * Runs `work` and turns what PostgreSQL (or the network) throws into an audit-trail error
 * that names the central store without its password.
 */
export async function centralQuery<T>(target: CentralTarget, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw translateCentralError(error, target);
  }
}

/**
 * Runs `work` in one transaction on a connection of its own, opened for it and closed after
 * it (with `snapshot`, a read-only one that sees one snapshot throughout): COMMIT when `work`
 * succeeds; when it fails, closing the connection rolls back whatever was not committed.
 * Failures come back as {@linkcode centralQuery} turns them.
 *
 * Not `sql.begin()`: when the server closes the connection in the middle (stopped, restarted,
 * `pg_terminate_backend`), that still sends a ROLLBACK, and the `postgres` client (3.4.10)
 * writes it, from a timer, to the socket it has already dropped: a TypeError that no promise
 * carries, so the process ends with a stack trace. Nor `sql.reserve()`, which never settles
 * on a client that has not connected yet (with `fetch_types: false`). Here nothing is sent
 * once the connection is lost: `tx` refuses any further statement rather than let the client
 * connect again and run it outside the transaction, and ending the client never writes to a
 * lost socket.
 */
export async function inCentralTransaction<T>(
  central: CentralConnection,
  work: (tx: Sql) => Promise<T>,
  options: { snapshot?: boolean } = {},
): Promise<T> {
  const { target } = central;
  let lost = false;
  const sql = await openClient(target, {}, () => lost = true);
  const tx = answeredWithin(sql, {
    target,
    answerSeconds: central.answerSeconds,
    before() {
      if (lost) {
        throw Object.assign(
          new Error(`the connection was closed in the middle of a transaction`),
          { code: "CONNECTION_CLOSED" },
        );
      }
    },
  });
  let committed = false;
  try {
    return await centralQuery(target, async () => {
      await (options.snapshot ? tx`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` : tx`BEGIN`);
      const result = await work(tx);
      await tx`COMMIT`;
      committed = true;
      return result;
    });
  } finally {
    // After a failure the connection may hold a query the server will never answer: end it
    // at once rather than wait for that answer.
    await sql.end({ timeout: committed ? 5 : 0 }).catch(() => {});
  }
}

/**
 * `client`, each of whose statements (and each page of a cursor) fails when the server has
 * not answered within `answerSeconds`: the client is then ended at once (what was in flight
 * commits or rolls back whole on the server, as after any lost connection, since audit-trail
 * sends a transaction's statements one at a time). `before` runs before each statement is
 * made, and may refuse it.
 */
function answeredWithin(
  client: Sql,
  watch: { target: CentralTarget; answerSeconds: number; before?: () => void },
): Sql {
  const { target, answerSeconds, before = () => {} } = watch;
  const bound = <T>(answer: PromiseLike<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end({ timeout: 0 }).catch(() => {});
        reject(
          new AuditTrailError(
            `Central store at ${target.display} gave no answer in ${answerSeconds} s`,
            {
              hint:
                "The server, or the network to it, is stuck: check that it runs and answers (its administrator sees waiting sessions in pg_stat_activity); AUDIT_TRAIL_CENTRAL_TIMEOUT=SECONDS waits longer. Nothing is left half-done: run it again once it answers.",
            },
          ),
        );
      }, answerSeconds * 1000);
      answer.then(
        (value) => (clearTimeout(timer), resolve(value)),
        (error) => (clearTimeout(timer), reject(error)),
      );
    });
  return new Proxy(client, {
    apply(sql, self, args) {
      before();
      return watchedQuery(Reflect.apply(sql, self, args), bound);
    },
    get(sql, key) {
      const value = Reflect.get(sql, key);
      if (key !== "unsafe") return value;
      return (...args: Parameters<Sql["unsafe"]>) => {
        before();
        return watchedQuery(sql.unsafe(...args), bound);
      };
    },
  });
}

/**
 * `query` (a pending query of the client), awaited through `bound`, as are the pages of its
 * cursor. Its other methods run on it and, where they give it back, give back the watched one.
 */
function watchedQuery<Q extends object>(
  query: Q,
  bound: <T>(answer: PromiseLike<T>) => Promise<T>,
): Q {
  let answer: Promise<unknown> | undefined;
  const watched: Q = new Proxy(query, {
    get(target, key) {
      if (key === "then" || key === "catch" || key === "finally") {
        answer ??= bound(target as unknown as PromiseLike<unknown>);
        const method = answer[key] as (...args: unknown[]) => unknown;
        return method.bind(answer);
      }
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      if (key === "cursor") {
        return (...args: unknown[]) => {
          const pages = value.apply(target, args) as AsyncIterable<unknown>;
          return {
            [Symbol.asyncIterator]() {
              const iterator = pages[Symbol.asyncIterator]();
              return {
                next: () => bound(Promise.resolve(iterator.next())),
                return: () => iterator.return?.() ?? { done: true, value: undefined },
              };
            },
          };
        };
      }
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        return result === target ? watched : result;
      };
    },
  });
  return watched;
}

/** A PostgreSQL error as the `postgres` client reports it. */
interface PgError {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
  errno?: string;
}

/** Maps a failure of the central store to the error a person can act on. */
export function translateCentralError(error: unknown, target: CentralTarget): unknown {
  if (error instanceof AuditTrailError || !(error instanceof Error)) return error;
  const e = error as Error & PgError;
  const where = target.display;
  const message = redactSecrets(e.message ?? String(e), target);
  const code = e.code ?? "";
  const again = "Nothing was lost: run it again once that is fixed.";
  if (code === "28P01" || code === "28000") {
    const given = target.passwordFrom === undefined
      ? "No password was given: put it in the URL, PGPASSWORD, a service file or the password file (~/.pgpass)."
      : `Check the user, and the password from ${target.passwordFrom}, with the administrator.`;
    return new AuditTrailError(`Central store refused the login of "${target.user}" at ${where}`, {
      hint: `${given} ${again}`,
      cause: error,
    });
  }
  if (code === "3D000") {
    return new AuditTrailError(`Central database "${target.database}" does not exist at ${where}`, {
      hint: "Check the database name in the URL, or ask the administrator to create it.",
      cause: error,
    });
  }
  if (code === "42P01") {
    return new SchemaError(`The central store at ${where} has no audit-trail schema`, {
      hint: `An administrator sets it up with: audit-trail central init --central "${where}"`,
      cause: error,
    });
  }
  if (code === "42501") {
    // PostgreSQL's refusal of a table names it ("permission denied for table
    // audit_trail_sites"), which a site's clerk cannot act on; its refusal of a schema speaks
    // to the administrator running central init, and the central schema's own refusals are
    // written for people already.
    const refusal = /^permission denied for (table|sequence|function)/.test(message)
      ? "this role has not been given rights to the audit-trail tables"
      : message;
    return new AuditTrailError(
      `Central store at ${where} refused "${target.user}": ${refusal}`,
      {
        // The central schema's own refusals (a grant made to an earlier role of the name)
        // name the command that lifts them.
        hint: e.hint
          ? redactSecrets(e.hint, target)
          : `A site's role gets its rights from the administrator (audit-trail central grant SITE --role ${
            shellWord(target.user)
          }); central init needs a role that may create tables in the database.`,
        cause: error,
      },
    );
  }
  if (code === "AT001") {
    const id = Number(/^audit_id=(\d+)$/.exec(e.detail ?? "")?.[1] ?? NaN);
    return new CentralDivergenceError(message, Number.isSafeInteger(id) ? id : null, {
      cause: error,
    });
  }
  if (code === "AT002") {
    return new AuditTrailError(`Central store at ${where}: ${message}`, { cause: error });
  }
  if (target.sslmode !== "prefer" && /before secure TLS connection/.test(message)) {
    // The client (3.4.10) starts TLS even when the server answered that it offers none, and
    // the server hangs up: the network is not to blame.
    return new AuditTrailError(
      `Central store at ${where} did not set up TLS, and sslmode=${target.sslmode} insists on it`,
      {
        hint:
          "The server may not accept TLS: its administrator turns it on (ssl = on); sslmode=prefer connects unencrypted to a server without it.",
        cause: error,
      },
    );
  }
  if (/certificate|altnames/i.test(message)) {
    return new AuditTrailError(
      `Central store at ${where} was not trusted: its certificate was refused (${message})`,
      {
        hint:
          "Name the authority that signed it with sslrootcert=FILE in the URL, PGSSLROOTCERT or ~/.postgresql/root.crt (ask the central store's administrator for the file); verify-full also needs the host name the certificate was made for. Nothing was sent.",
        cause: error,
      },
    );
  }
  if (code === "CONNECT_TIMEOUT") {
    const seconds = target.connectTimeoutSeconds ?? CONNECT_TIMEOUT_SECONDS;
    return new AuditTrailError(
      `Central store at ${where} cannot be reached: connecting took over ${seconds} s`,
      {
        hint:
          `Check the network and that the server is running (connect_timeout in the URL or PGCONNECT_TIMEOUT sets how long to try). ${again}`,
        cause: error,
      },
    );
  }
  if (/^(08|57P)/.test(code) || isNetworkError(e)) {
    const reason = /^(08|57P)/.test(code)
      ? message
      : redactSecrets(networkReason(e, target.host, target.port), target);
    return new AuditTrailError(`Central store at ${where} cannot be reached: ${reason}`, {
      hint: `Check the network and that the server is running. ${again}`,
      cause: error,
    });
  }
  return new AuditTrailError(`Central store at ${where} failed: ${message}`, {
    hint: e.hint ? redactSecrets(e.hint, target) : again,
    cause: error,
  });
}

/** The central store refused an event that does not continue its site's chain (exit 3). */
export class CentralDivergenceError extends TamperingFoundError {
  /** The first event that differs, when the central store named it. */
  readonly auditId: number | null;

  constructor(
    message: string,
    auditId: number | null,
    options?: { hint?: string; cause?: unknown },
  ) {
    super(message, {
      hint: options?.hint ??
        "Nothing at or after that event was stored centrally. Run audit-trail verify on this PC, leave the database as it is (it is evidence), and tell your supervisor.",
      cause: options?.cause,
    });
    this.auditId = auditId;
  }
}

/**
 * Why a connection to `host` failed, in words: the runtime's text (`connect ECONNREFUSED
 * 10.0.0.5:5432`, `getaddrinfo ENOTFOUND db`) names a system call and an error constant.
 */
function networkReason(
  error: Error & PgError & { address?: unknown; port?: unknown; hostname?: unknown },
  host: string,
  port: number,
): string {
  // The runtime's socket errors carry the address they tried; the client's own errors carry
  // others (a list of hosts): only a text and a number are taken from them.
  const address = typeof error.address === "string" ? error.address : host;
  const at = hostAndPort(address, typeof error.port === "number" ? error.port : port);
  switch (error.code) {
    case "ECONNREFUSED":
      return `nothing accepts connections at ${at}`;
    case "ENOENT":
      return `no server is listening at ${address}`;
    case "ENOTFOUND":
      return `no computer is known by the name "${hostName(error.hostname, host)}"`;
    case "EAI_AGAIN":
      return `the name "${
        hostName(error.hostname, host)
      }" could not be looked up (no network or name server)`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `this computer has no network route to ${at}`;
    case "ETIMEDOUT":
      return `nothing answered at ${at}`;
    case "ECONNRESET":
    case "EPIPE":
    case "CONNECTION_CLOSED":
    case "CONNECTION_DESTROYED":
    case "CONNECTION_ENDED":
      return `the connection to ${at} was cut`;
    default:
      return errorMessage(error);
  }
}

/** The name a lookup failed for, when the error carries it as text; else `host`. */
function hostName(given: unknown, host: string): string {
  return typeof given === "string" ? given : host;
}

/** `host:port`, an IPv6 address in brackets as in a URL; a Unix socket's folder alone. */
function hostAndPort(host: string, port: number): string {
  if (host.startsWith("/")) return host;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function isNetworkError(error: PgError & Error): boolean {
  const code = error.code ?? error.errno ?? "";
  return /^(E[A-Z]+|NO_HOST|CONNECT_TIMEOUT|CONNECTION_(CLOSED|DESTROYED|ENDED))$/.test(code) ||
    error.name === "ConnectionRefused" || error.name === "ConnectionReset" ||
    /connect|ECONN|socket|timed? ?out|terminat/i.test(error.message ?? "");
}

/** `text` with each of `target`'s passwords replaced as {@linkcode redactSecret} does. */
function redactSecrets(text: string, target: CentralTarget): string {
  return [target.password, ...target.passwords ?? []].reduce(redactSecret, text);
}

/**
 * Replaces `secret` in `text` by `***` wherever it stands on its own (not inside a longer
 * word): a password echoed in a message stands apart (`pass: "…"`, `user:…@host`), while
 * starring every letter "n" of "permission denied" for the password "n" would both garble
 * the message and show the password.
 */
export function redactSecret(text: string, secret: string | null): string {
  if (!secret) return text;
  const escaped = secret.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  return text.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, "gu"), "***");
}

/**
 * The client's TLS setting for `target`, as libpq's sslmode and sslrootcert would have it:
 * `verify-ca` and `verify-full` trust only the authorities of the sslrootcert file when one is
 * named (else the machine's own); `require` with such a file checks the authority as
 * `verify-ca` does, as libpq does for a root certificate file it finds.
 */
function sslOption(
  target: CentralTarget,
  checkServerIdentity: typeof import("node:tls").checkServerIdentity,
): NonNullable<postgres.Options<never>["ssl"]> {
  // As libpq: no TLS over a Unix socket, whatever the sslmode.
  if (target.hostaddr === undefined && target.host.startsWith("/")) return false;
  const authorities = target.sslmode === "disable" ? undefined : rootCertificates(target);
  const anyHostName = { checkServerIdentity: () => undefined };
  switch (target.sslmode) {
    case "disable":
      return false;
    case "allow":
      // libpq's "allow" connects to a server without TLS; the client's "allow" insists on TLS.
      // Its "prefer" connects either way (with TLS where the server offers it).
      return "prefer";
    case "require":
      return authorities ? { ...authorities, rejectUnauthorized: true, ...anyHostName } : "require";
    case "verify-ca":
      // A certificate signed by a trusted authority, whatever host name it carries.
      return { ...authorities, rejectUnauthorized: true, ...anyHostName };
    case "verify-full": {
      // The client names no server for an IP address, and the check is then asked about
      // "localhost": check the hosts this connection may have gone to instead.
      const hosts = target.host.split(",");
      return {
        ...authorities,
        rejectUnauthorized: true,
        checkServerIdentity(name: string, certificate: PeerCertificate) {
          const failures = (hosts.includes(name) ? [name] : hosts)
            .map((host) => checkServerIdentity(host, certificate));
          return failures.includes(undefined) ? undefined : failures[0];
        },
      };
    }
    default:
      return target.sslmode;
  }
}

/** The certificates of `target`'s sslrootcert file, or undefined for the machine's own. */
function rootCertificates(target: CentralTarget): { ca: string } | undefined {
  const file = target.sslRootCert;
  if (file === null || file === "system") return undefined;
  const fail = (problem: string) =>
    new UsageError(`The root certificate file "${file}" (sslrootcert) ${problem}`, {
      hint:
        "Name the file of the authority that signed the central store's certificate (ask its administrator), or sslrootcert=system for this computer's trusted authorities.",
    });
  let text = "";
  let isFile: boolean;
  try {
    // Only a regular file is read: a named pipe nobody writes to would keep the read waiting
    // for ever, and a device such as /dev/zero would never end.
    isFile = Deno.statSync(file).isFile;
    if (isFile) text = Deno.readTextFileSync(file);
  } catch (error) {
    throw fail(
      error instanceof Deno.errors.NotFound
        ? "does not exist"
        : `cannot be read: ${errorMessage(error)}`,
    );
  }
  if (!isFile) throw fail("is not a file: a folder, a pipe or a device");
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw fail("holds no certificate (PEM, -----BEGIN CERTIFICATE-----)");
  }
  return { ca: text };
}

/**
 * `word` as a POSIX shell reads it back as one word: as it is when it holds nothing the shell
 * reads otherwise, else in single quotes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shellWord } from "./connection.ts";
 * assert.equal(shellWord("wh_lyon"), "wh_lyon");
 * assert.equal(shellWord(`Wh "Lyon" 1`), `'Wh "Lyon" 1'`);
 * assert.equal(shellWord("o'hara"), `'o'\\''hara'`);
 * ```
 */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_.@%+=:,/-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Quotes an SQL identifier (a role name), whatever characters it holds. */
export function quoteIdentifier(name: string): string {
  if (name.includes("\0")) {
    throw new UsageError("A role name cannot contain a NUL character", {
      hint: "Give the role's name as it was created in PostgreSQL (CREATE ROLE).",
    });
  }
  return `"${name.replaceAll('"', '""')}"`;
}
