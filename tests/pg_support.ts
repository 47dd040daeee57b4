/**
 * A real PostgreSQL for the central-store tests: a fresh cluster in a temporary folder on a
 * free loopback port, torn down when disposed. PostgreSQL refuses to run as root, so when the
 * suite runs as root the server runs as the `postgres` user (which Debian's package creates).
 *
 * ```ts
 * await using pg = await startPostgres();
 * const url = pg.url(); // postgres://postgres:…@127.0.0.1:PORT/postgres
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./helpers.ts";

/** A running test cluster. */
export interface TestPostgres extends AsyncDisposable {
  /** Loopback port it listens on. */
  port: number;
  /** The superuser's password. */
  password: string;
  /** A URL for `user` (default the superuser) on `database` (default `postgres`). */
  url(options?: { user?: string; password?: string | null; database?: string }): string;
  /** Creates a fresh database (owned by `owner`, default the superuser); returns the superuser's URL for it. */
  createDatabase(owner?: string): Promise<string>;
  /**
   * Runs SQL through psql (as the superuser unless `as` names another login) and returns its
   * unaligned output; fails with psql's error text.
   */
  psql(sql: string, database?: string, as?: { user: string; password: string }): Promise<string>;
  /** The server's log so far. */
  serverLog(): Promise<string>;
  /** With `tls`: the server's self-signed certificate (PEM), to trust as its own authority. */
  certificate: string | null;
  /** The data directory (its postmaster.pid names the server's process). */
  dataDirectory: string;
  /** Stops the server (fast shutdown: open connections are cut). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** Where Debian (or PATH) keeps initdb, pg_ctl and psql. */
export async function postgresBinDir(): Promise<string> {
  try {
    const versions = [];
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) versions.push(entry.name);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const dir = `/usr/lib/postgresql/${version}/bin`;
      if (await exists(join(dir, "initdb"))) return dir;
    }
  } catch {
    // Not Debian's layout: try PATH below.
  }
  const found = await run(["sh", "-c", "command -v initdb"]).catch(() => "");
  if (found.trim()) return found.trim().replace(/\/initdb$/, "");
  throw new Error("PostgreSQL is not installed (initdb not found): apt-get install postgresql");
}

/**
 * Starts a fresh cluster. Dispose of it (`await using`) to stop it and remove its files.
 * With `tls`, it also accepts TLS with a self-signed certificate for 127.0.0.1 and logs each
 * connection (whether it used TLS) to {@linkcode TestPostgres.serverLog}.
 */
export async function startPostgres(settings: { tls?: boolean } = {}): Promise<TestPostgres> {
  const bin = await postgresBinDir();
  const root = await Deno.makeTempDir({ prefix: "audit-trail-pg-" });
  const data = join(root, "data");
  const password = `pw-${crypto.randomUUID()}`;
  const asRoot = Deno.uid() === 0;
  if (asRoot) {
    const uid = Number((await run(["id", "-u", "postgres"])).trim());
    const gid = Number((await run(["id", "-g", "postgres"])).trim());
    await Deno.chmod(root, 0o700);
    await Deno.chown(root, uid, gid);
  }
  const pwfile = join(root, "pwfile");
  await Deno.writeTextFile(pwfile, password + "\n");
  if (asRoot) await run(["chown", "postgres", pwfile]);
  const asServer = (args: string[]) => asRoot ? ["runuser", "-u", "postgres", "--", ...args] : args;
  await run(asServer([
    join(bin, "initdb"),
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${pwfile}`,
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
  ]));
  const port = freePort();
  const tlsOptions: string[] = [];
  let certificate: string | null = null;
  if (settings.tls) {
    const [key, cert] = [join(data, "server.key"), join(data, "server.crt")];
    certificate = cert;
    await run(asServer([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      // Names the address too, where a client checking the host name (verify-full) looks.
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ]));
    await run(asServer(["chmod", "600", key]));
    tlsOptions.push(
      "-c ssl=on",
      `-c ssl_cert_file=${cert}`,
      `-c ssl_key_file=${key}`,
      "-c log_connections=on",
    );
  }
  const options = [
    `-p ${port}`,
    `-k ${root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c max_connections=40",
    ...tlsOptions,
  ].join(" ");
  const pgCtl = (...args: string[]) =>
    run(asServer([join(bin, "pg_ctl"), "-D", data, "-w", "-t", "60", ...args]));
  const start = async () => {
    await pgCtl("-o", options, "-l", join(root, "server.log"), "start");
  };
  await start();
  const url: TestPostgres["url"] = (o = {}) => {
    const user = o.user ?? "postgres";
    const pw = o.password === undefined ? (o.user ? undefined : password) : o.password;
    const auth = pw === undefined || pw === null
      ? encodeURIComponent(user)
      : `${encodeURIComponent(user)}:${encodeURIComponent(pw)}`;
    return `postgres://${auth}@127.0.0.1:${port}/${o.database ?? "postgres"}`;
  };
  const psql: TestPostgres["psql"] = (sql, database = "postgres", as) =>
    run([
      join(bin, "psql"),
      "-X",
      "-q",
      "-At",
      "-v",
      "ON_ERROR_STOP=1",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      as?.user ?? "postgres",
      "-d",
      database,
      "-c",
      sql,
    ], { PGPASSWORD: as?.password ?? password });
  let databases = 0;
  return {
    port,
    password,
    url,
    psql,
    async createDatabase(owner) {
      const name = `central_${++databases}`;
      await psql(`CREATE DATABASE ${name}${owner ? ` OWNER ${owner}` : ""}`);
      return url({ database: name });
    },
    serverLog: () => Deno.readTextFile(join(root, "server.log")),
    certificate,
    dataDirectory: data,
    stop: async () => {
      await pgCtl("-m", "fast", "stop");
    },
    start,
    async [Symbol.asyncDispose]() {
      await pgCtl("-m", "immediate", "stop").catch(() => {});
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(args: string[], env: Record<string, string> = {}): Promise<string> {
  const output = await new Deno.Command(args[0], {
    args: args.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(`${args.join(" ")} failed: ${decoder.decode(output.stderr).trim()}`);
  }
  return decoder.decode(output.stdout);
}

/** Logs `count` events through `log --stdin`. */
export async function logEvents(db: string, count: number, prefix = "E"): Promise<void> {
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      operation: i % 3 === 0 ? "ORDER_CONFIRMED" : "STOCK_COUNT",
      sku: `SKU-${i % 50}`,
      details: `${prefix} event ${i}: "quoted" \\ back\tslash`,
      user: i % 2 ? "ana" : "ben",
    })).join("\n");
  const result = await runCli(["log", "--stdin", "--db", db], { stdin: lines + "\n" });
  if (result.code !== 0) throw new Error(`log --stdin failed: ${result.stderr}`);
}

/** Runs the CLI and parses its JSON output, failing with its stderr when the exit code differs. */
export async function cliJson(args: string[], code = 0, env: Record<string, string> = {}) {
  const result = await runCli(args, { env });
  assert.equal(result.code, code, `exit ${result.code}: ${result.stderr}`);
  return result.stdout.trim() ? JSON.parse(result.stdout) : null;
}

/**
 * SQL that appends generated events `from`..`to` to `audit_trail_events` (run with the chain
 * trigger disabled: the seals are not chained): 20 sites, one event every 3 seconds from
 * 2025-01-01, skewed SKUs, 6 operations, 37 users, a run id on one event in ten. For
 * measuring plans at scale, not for checking chains.
 */
export function generatedEventsSql(from: number, to: number): string {
  return `
    INSERT INTO audit_trail_events
      (site, audit_id, "timestamp", local_timestamp, operation, sku, details, "user", run_id, seal)
    SELECT 'WH-' || (i % 20), i / 20 + 1, t,
           to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           (ARRAY['ORDER_CONFIRMED', 'ORDER_SHIPPED', 'STOCK_ADJUSTED', 'STOCK_COUNT',
                  'SKU_UPDATED', 'SKU_CREATED'])[1 + i % 6],
           'SKU-' || lpad((floor(5000 * r * r))::int::text, 5, '0'),
           'Order ORD-' || i || ': ' || (i % 200) || ' units',
           'user' || (i % 37),
           CASE WHEN i % 10 = 0 THEN 'run_' || (i / 1000) END,
           sha256(int8send(i))
    FROM (SELECT i, random() AS r, timestamptz '2025-01-01' + i * interval '3 seconds' AS t
          FROM generate_series(${Math.trunc(from)}, ${Math.trunc(to)}) AS i) AS g`;
}
