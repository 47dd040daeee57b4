/**
 * `central init | grant | sites` for the administrator, and the `--central` side of `query`
 * and `verify`. Loaded only by these, so that no other command loads the PostgreSQL client.
 *
 * @module
 */
import { countOf } from "../lib/count.ts";
import { errorMessage, TamperingFoundError, UsageError } from "../lib/errors.ts";
import { writeObject, writeRecords, writeRows } from "../lib/output.ts";
import type { AuditLogFilter } from "../lib/query.ts";
import {
  CENTRAL_EVENT_COLUMNS,
  type CentralConnection,
  type CentralTarget,
  connectCentral,
  DEFAULT_ANSWER_SECONDS,
  grantCentral,
  initCentral,
  listCentralSites,
  parseCentralUrl,
  passwordFromPassfile,
  serviceOfUrl,
  type ServiceSettings,
  serviceSettings,
  streamCentralRows,
  verifyCentral,
} from "../lib/central/mod.ts";
import { osLoginName } from "./login_name.ts";
import {
  type CliIo,
  type Command,
  type CommandContext,
  expectAtMost,
  parseCommandArgs,
  requireFormat,
} from "./context.ts";

export const command: Command = {
  help: `audit-trail central — set up the central store (for the administrator)

USAGE
  audit-trail central init --central URL
  audit-trail central grant SITE --role ROLE --central URL
  audit-trail central grant --reader --role ROLE --central URL
  audit-trail central sites --central URL

The central store is a PostgreSQL (15 or newer) database that gathers every site's events
(see audit-trail sync). Run these as a role that may create tables and grant rights.

SUBCOMMANDS
  init     create the central schema (version 2), or upgrade it from version 1 in one
           transaction, keeping the grants of the roles that hold them; running it
           again changes nothing; a version 2 store refuses builds that know only 1
  grant    let an existing login role append and read the events of SITE only
           (--reader: read every site, write nothing); the grant is that role's, by
           its OID: a role dropped and created again under the name gets nothing
           until granted again (and a renamed role, under its new name)
  sites    list the sites, their event counts and when each last sent events

OPTIONS
  --central URL   postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]
                  (default: $AUDIT_TRAIL_CENTRAL; what it leaves out comes from $PGHOST,
                  $PGPORT, $PGUSER, $PGDATABASE, else libpq's defaults: the local
                  server's socket, 5432, the login name, the user's name; so
                  postgres:///audit works as with psql; the password may come from
                  $PGPASSWORD, else ~/.pgpass or $PGPASSFILE; sslmode from $PGSSLMODE and
                  the authority TLS trusts from &sslrootcert=FILE, $PGSSLROOTCERT or
                  ~/.postgresql/root.crt; HOST may be a Unix socket's folder,
                  percent-encoded: %2Fvar%2Frun%2Fpostgresql, or ?host=/var/run/postgresql;
                  connecting takes at most &connect_timeout=SECONDS, $PGCONNECT_TIMEOUT or 20;
                  ?service=NAME or $PGSERVICE: that section of $PGSERVICEFILE (else
                  ~/.pg_service.conf), else of pg_service.conf in $PGSYSCONFDIR (else
                  /etc/postgresql-common), whose settings win over the PG* variables;
                  several hosts: HOST1:PORT1,HOST2:PORT2 or $PGHOST and $PGPORT
                  comma-separated, tried in turn; &hostaddr= or $PGHOSTADDR: the address
                  to connect to; the server sees &application_name=, else $PGAPPNAME,
                  else "audit-trail central init" (grant, sites))
  --role ROLE     the PostgreSQL role to grant to (create it first: CREATE ROLE … LOGIN)
  --reader        grant reading of every site instead of one site
  --format F      json | ndjson | table (sites also csv)

Each statement waits at most $AUDIT_TRAIL_CENTRAL_TIMEOUT seconds (default 40) for the
server's answer; a server that stops answering is then given up (exit 1), and init or grant
is rolled back whole: run it again.

OUTPUT
  init:  {"central", "from_version", "to_version"}
  grant: {"site", "role"} ({"site": null, "role", "reader": true} with --reader)
  sites: [{"site", "events", "last_audit_id", "last_sync_at", "hostname"}]

EXAMPLES
  psql -c "CREATE ROLE wh_lyon LOGIN PASSWORD '…'"
  audit-trail central init --central postgres://admin@db.example/audit
  audit-trail central grant WH-LYON --role wh_lyon --central postgres://admin@db.example/audit
  audit-trail central sites --central postgres://admin@db.example/audit --format table
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "central", args, {
      central: { type: "string" },
      role: { type: "string" },
      reader: { type: "boolean" },
    });
    const [sub, site] = positionals;
    const { io } = context;
    const format = context.explicitFormat ?? (io.stdout.isTerminal ? "table" : "json");
    // One object, not rows: no CSV (checked before anything is changed centrally).
    if (sub === "init" || sub === "grant") {
      requireFormat(context, `central ${sub}`, ["json", "ndjson", "table"]);
    }
    if (sub === "init" || sub === "sites") {
      expectAtMost(`central ${sub}`, positionals, 1);
      const stray = values.role !== undefined ? "--role" : values.reader ? "--reader" : null;
      if (stray !== null) {
        throw new UsageError(`${stray} is for central grant, not central ${sub}`, {
          hint: 'Run "audit-trail central --help" for usage.',
        });
      }
      await using central = await openCentral(io, values.central, `audit-trail central ${sub}`);
      if (sub === "init") {
        await writeObject(io.stdout, await initCentral(central), objectFormat(format));
      } else {
        const sites = await listCentralSites(central);
        const columns = ["site", "events", "last_audit_id", "last_sync_at", "hostname"];
        await writeRecords(io.stdout, [sites], format, columns);
      }
      return 0;
    }
    if (sub === "grant") {
      expectAtMost("central grant", positionals, 2);
      if (values.role === undefined) {
        throw new UsageError("central grant needs --role ROLE", {
          hint: "Example: audit-trail central grant WH-LYON --role wh_lyon --central URL",
        });
      }
      if ((site === undefined) === !values.reader) {
        throw new UsageError(
          values.reader
            ? "central grant --reader takes no SITE: a reader reads every site"
            : "central grant needs a SITE (or --reader)",
          { hint: 'Run "audit-trail central --help" for usage.' },
        );
      }
      await using central = await openCentral(io, values.central, "audit-trail central grant");
      const grant = await grantCentral(central, site ?? null, values.role);
      await writeObject(io.stdout, grant, objectFormat(format));
      return 0;
    }
    throw new UsageError(
      sub === undefined ? "central needs a subcommand" : `Unknown subcommand "central ${sub}"`,
      { hint: "Use one of: init, grant, sites." },
    );
  },
};

/**
 * The central store named by `--central` (else `$AUDIT_TRAIL_CENTRAL`), completed as libpq
 * completes a URL: host, port, user and database from `$PGHOST`, `$PGPORT`, `$PGUSER` and
 * `$PGDATABASE`, else libpq's defaults (the local server's socket folder, 5432, the login
 * name, the user's name); the password from `$PGPASSWORD`, else the password file
 * (`$PGPASSFILE`, else `~/.pgpass`, on Windows `%APPDATA%\postgresql\pgpass.conf`);
 * `$PGSSLMODE`; `$PGSSLROOTCERT`, else `~/.postgresql/root.crt`
 * (`%APPDATA%\postgresql\root.crt`) where it exists.
 */
export async function resolveCentral(
  io: CliIo,
  given: string | undefined,
  program = "audit-trail",
): Promise<CentralTarget> {
  const url = given ?? io.env("AUDIT_TRAIL_CENTRAL");
  if (url === undefined || url === "") {
    throw new UsageError("No central store given", {
      hint:
        "Pass --central postgres://USER@HOST/DATABASE or set AUDIT_TRAIL_CENTRAL (the password may come from PGPASSWORD or ~/.pgpass).",
    });
  }
  const socketFolder = defaultSocketFolder();
  // As libpq: the URL first, then the service's settings, then the environment.
  const service = serviceOfUrl(url) ?? (io.env("PGSERVICE") || undefined);
  const { settings: s, file: serviceFile } = service === undefined
    ? { settings: {} as ServiceSettings, file: "" }
    : readService(io, service);
  const env = (name: string) => io.env(name) || undefined;
  const target = parseCentralUrl(url, {
    host: s.host || env("PGHOST"),
    localHost: socketFolder,
    hostaddr: s.hostaddr || env("PGHOSTADDR"),
    port: s.port || env("PGPORT"),
    user: s.user || env("PGUSER") || osLoginName(),
    database: s.dbname || env("PGDATABASE"),
    password: s.password || env("PGPASSWORD"),
    passwordFrom: s.password ? `service "${service}" of "${serviceFile}"` : "PGPASSWORD",
    connectTimeout: s.connect_timeout || env("PGCONNECT_TIMEOUT"),
    sslmode: s.sslmode || env("PGSSLMODE"),
    sslRootCert: s.sslrootcert || env("PGSSLROOTCERT") || defaultRootCert(io),
    applicationName: s.application_name || env("PGAPPNAME") || program,
  });
  if (target.password !== null) return target;
  const passfile = await readPassfile(io);
  if (passfile === null) return target;
  // As libpq: each host's own line, the default socket folder named "localhost", and a host
  // given only by its address looked up by that address.
  const addresses = target.hostaddr?.split(",");
  const passwords = target.host.split(",").map((name, i) =>
    passwordFromPassfile(passfile.text, {
      ...target,
      host: name === socketFolder ? "localhost" : name,
      port: target.ports[i],
    }) ??
      (addresses ? passwordFromPassfile(passfile.text, { ...target, host: addresses[i] }) : null)
  );
  const password = passwords.find((p) => p !== null) ?? null;
  if (password === null) return target;
  return {
    ...target,
    password,
    ...(passwords.every((p) => p === password) ? {} : { passwords }),
    passwordFrom: `the password file "${passfile.path}"`,
  };
}

/**
 * The settings of `service` from libpq's service files: the user's (`$PGSERVICEFILE`, else
 * `~/.pg_service.conf`, on Windows `%APPDATA%\postgresql\.pg_service.conf`), else the
 * system's (`pg_service.conf` in `$PGSYSCONFDIR`, else in libpq's own configuration folder,
 * `/etc/postgresql-common` as Debian and Ubuntu build it). A file that does not exist is
 * passed over, as libpq does; one that exists and cannot be read is an error.
 */
function readService(
  io: CliIo,
  service: string,
): { settings: ServiceSettings; file: string } {
  const windows = Deno.build.os === "windows";
  const home = windows ? io.env("APPDATA") : io.env("HOME");
  const userFile = io.env("PGSERVICEFILE") ||
    (home
      ? (windows ? `${home}\\postgresql\\.pg_service.conf` : `${home}/.pg_service.conf`)
      : null);
  const systemFolder = io.env("PGSYSCONFDIR") || (windows ? null : "/etc/postgresql-common");
  const systemFile = systemFolder === null
    ? null
    : `${systemFolder}${windows ? "\\" : "/"}pg_service.conf`;
  const files = [userFile, systemFile].filter((f): f is string => f !== null);
  for (const file of files) {
    const text = readServiceFile(file);
    const settings = text === null ? null : serviceSettings(text, file, service);
    if (settings !== null) return { settings, file };
  }
  throw new UsageError(
    `Service "${service}" is not defined in ${files.map((f) => `"${f}"`).join(" nor ")}`,
    {
      hint: "Check the service's name (in ?service= or PGSERVICE), or add a [" + service +
        "] section to the service file (PGSERVICEFILE names another file).",
    },
  );
}

/** A service file's text, or null when there is none at `file`. */
function readServiceFile(file: string): string | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw unreadableServiceFile(file, error);
  }
  // Only a regular file is read: a named pipe would keep the read waiting for ever.
  if (!info.isFile) throw unreadableServiceFile(file, "it is not a file");
  try {
    return Deno.readTextFileSync(file);
  } catch (error) {
    throw unreadableServiceFile(file, error);
  }
}

function unreadableServiceFile(file: string, problem: unknown): UsageError {
  return new UsageError(
    `Service file "${file}" cannot be read: ${
      typeof problem === "string" ? problem : errorMessage(problem)
    }`,
    {
      hint:
        "Let this user read it (chmod u+r), or point PGSERVICEFILE (or PGSYSCONFDIR) at a readable file.",
    },
  );
}

/**
 * Where libpq looks for the local server when no host is named: its Unix socket's folder as
 * Debian and Red Hat build it (`/var/run/postgresql`), else as PostgreSQL's own build does
 * (`/tmp`); on Windows, which has no such socket, `localhost`.
 */
function defaultSocketFolder(): string {
  if (Deno.build.os === "windows") return "localhost";
  try {
    return Deno.statSync("/var/run/postgresql").isDirectory ? "/var/run/postgresql" : "/tmp";
  } catch {
    return "/tmp";
  }
}

/**
 * Seconds each statement may wait for the central store's answer:
 * `$AUDIT_TRAIL_CENTRAL_TIMEOUT`, else the library's default ({@linkcode DEFAULT_ANSWER_SECONDS}).
 */
export function centralAnswerSeconds(io: CliIo): number | undefined {
  const text = io.env("AUDIT_TRAIL_CENTRAL_TIMEOUT");
  if (text === undefined || text === "") return undefined;
  const seconds = /^\d{1,6}$/.test(text.trim()) ? Number(text) : 0;
  if (seconds < 1) {
    throw new UsageError(`AUDIT_TRAIL_CENTRAL_TIMEOUT "${text}" is not a number of seconds`, {
      hint:
        `Set it to a whole number of seconds, 1 or more, or unset it (the default is ${DEFAULT_ANSWER_SECONDS}).`,
    });
  }
  return seconds;
}

/** libpq's root certificate file, where it exists: `~/.postgresql/root.crt`. */
function defaultRootCert(io: CliIo): string | undefined {
  const windows = Deno.build.os === "windows";
  const home = windows ? io.env("APPDATA") : io.env("HOME");
  if (!home) return undefined;
  const path = windows ? `${home}\\postgresql\\root.crt` : `${home}/.postgresql/root.crt`;
  try {
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The password file's text and path, or null when there is none. As libpq does, a file that others
 * than its owner may read is ignored, with a warning (not on Windows, which has no such mode).
 */
async function readPassfile(io: CliIo): Promise<{ text: string; path: string } | null> {
  const windows = Deno.build.os === "windows";
  const home = windows ? io.env("APPDATA") : io.env("HOME");
  const path = io.env("PGPASSFILE") ||
    (home ? (windows ? `${home}\\postgresql\\pgpass.conf` : `${home}/.pgpass`) : undefined);
  if (path === undefined) return null;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) return null;
    if (!windows && info.mode !== null && (info.mode & 0o077) !== 0) {
      await io.stderr.write(
        `audit-trail: warning: password file "${path}" has group or world access and is not read; permissions should be u=rw (0600) or less\n`,
      );
      return null;
    }
    return { text: Deno.readTextFileSync(path), path };
  } catch {
    // No file, or none that may be read: connect without a password, as libpq does.
    return null;
  }
}

async function openCentral(
  io: CliIo,
  given: string | undefined,
  program: string,
): Promise<CentralConnection> {
  const answerSeconds = centralAnswerSeconds(io);
  return await connectCentral(await resolveCentral(io, given, program), {
    hostname: safeHostname(),
    answerSeconds,
  });
}

/** This machine's name, recorded centrally with a site's events. */
export function safeHostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

function objectFormat(format: string) {
  return format === "table" ? "table" : format === "ndjson" ? "ndjson" : "json";
}

/** `query --central URL`: the records of `query`, plus their site, across sites. */
export async function queryCentral(
  context: CommandContext,
  url: string,
  filter: AuditLogFilter & { site?: string },
): Promise<number> {
  await using central = await openCentral(context.io, url, "audit-trail query");
  await writeRows(
    context.io.stdout,
    streamCentralRows(central, filter),
    context.format,
    CENTRAL_EVENT_COLUMNS,
  );
  return 0;
}

/** `verify --central URL`: every site's chain recomputed from the central rows. */
export async function verifyCentralCommand(
  context: CommandContext,
  url: string,
  site: string | undefined,
): Promise<number> {
  const { io, format } = context;
  await using central = await openCentral(io, url, "audit-trail verify");
  const result = await verifyCentral(central, { site });
  if (format === "table") {
    const lines = [`${result.central}: ${countOf(result.sites.length, "site")}`];
    for (const s of result.sites) {
      lines.push(
        `${s.site.padEnd(20)} ${countOf(s.events_checked, "event").padStart(17)}  ${
          s.intact ? "intact" : `TAMPERED: event ${s.failure!.audit_id} ${s.failure!.kind}`
        }`,
      );
    }
    await io.stdout.write(lines.join("\n") + "\n");
  } else {
    await writeObject(io.stdout, result, format === "ndjson" ? "ndjson" : "json");
  }
  const broken = result.sites.find((s) => !s.intact);
  if (broken) {
    throw new TamperingFoundError(
      `Tampering found in the central store: ${broken.failure!.message}`,
      {
        hint:
          "Leave the central rows as they are (they are evidence); the site's own database can show what the event was (audit-trail query --after-id).",
      },
    );
  }
  return 0;
}
