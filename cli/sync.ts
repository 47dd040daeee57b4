import { errorMessage, TamperingFoundError, UsageError } from "../lib/errors.ts";
import { writeObject } from "../lib/output.ts";
import { SiteNotNamedError, syncToCentral } from "../lib/central/mod.ts";
import { centralAnswerSeconds, resolveCentral, safeHostname } from "./central.ts";
import { type Command, expectAtMost, openCurrentDatabase, parseCommandArgs } from "./context.ts";
import { listenForStop, waitOrStop } from "./interrupt.ts";
import { parseCount } from "../lib/count.ts";
import { type ArchivedRange, archivedWords } from "../lib/archive/checkpoint_list.ts";

/** Longest wait between rounds after failures, in seconds. */
const MAX_BACKOFF_SECONDS = 600;

export const command: Command = {
  help: `audit-trail sync — send this site's events to the central store

USAGE
  audit-trail sync [--central URL] [--site SITE] [--watch [--interval SECONDS]]
                   [--archives DIR]

Sends every event the central store (PostgreSQL) does not hold yet for this site, oldest
first, in batches that each commit on their own. Safe to run at any time and any number of
times: a sync that was cut off resumes where the central copy ends, and no event is ever
stored twice. The central store checks every event's seal as it arrives.

The first sync the central store accepts records the site in this database; a later sync
naming another site is refused, so one chain never splits across two sites.
A site whose oldest events were archived before its first sync starts centrally after
them: that sync says so in a note on stderr; only the archive files keep those events.

OPTIONS
  --central URL        postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]
                       (default: $AUDIT_TRAIL_CENTRAL; what it leaves out comes from
                       $PGHOST, $PGPORT, $PGUSER, $PGDATABASE, else libpq's defaults: the
                       local server's socket, 5432, the login name, the user's name; so
                       postgres:///audit works as with psql; password: $PGPASSWORD when the
                       URL has none, else ~/.pgpass or $PGPASSFILE; sslmode: $PGSSLMODE, else
                       prefer; the authority verify-ca/verify-full trust: &sslrootcert=FILE,
                       else $PGSSLROOTCERT, else ~/.postgresql/root.crt; HOST may be a Unix
                       socket's folder, percent-encoded: %2Fvar%2Frun%2Fpostgresql, or
                       ?host=/var/run/postgresql; connecting takes at most
                       &connect_timeout=SECONDS, $PGCONNECT_TIMEOUT or 20; ?service=NAME
                       or $PGSERVICE: that section of $PGSERVICEFILE (else
                       ~/.pg_service.conf), else of pg_service.conf in $PGSYSCONFDIR (else
                       /etc/postgresql-common), whose settings win over the PG* variables;
                       several hosts: HOST1:PORT1,HOST2:PORT2 or $PGHOST and $PGPORT
                       comma-separated, tried in turn; &hostaddr= or $PGHOSTADDR: the
                       address to connect to; the server sees &application_name=, else
                       $PGAPPNAME, else "audit-trail sync")
  --site SITE          this site's name, 1-64 of A-Z a-z 0-9 . _ - (default:
                       $AUDIT_TRAIL_SITE, else the site recorded by the first sync)
  --watch              keep running: a round every --interval seconds, until stopped
                       (Ctrl+C or SIGTERM); failures wait longer, up to 10 minutes
  --interval SECONDS   seconds between rounds with --watch (default 60)
  --archives DIR       folder of this database's archive files (default: archive/ beside
                       the database): when the central store holds less of the site than
                       was archived here (restored from an older backup), the events it
                       lacks are sent from them
  --db PATH            the database (default: $AUDIT_TRAIL_DB, else data/app.db)

Each statement waits at most $AUDIT_TRAIL_CENTRAL_TIMEOUT seconds (default 40) for the
central store's answer; a server that stops answering is then given up (exit 1; the batch
in flight commits or rolls back whole).

OUTPUT
  {"site", "central", "sent", "first_audit_id", "last_audit_id", "central_last_audit_id",
   "seconds"}  (one line per round with --watch; the password shows as ***)

EXIT CODES
  0 done   1 central store unreachable, login refused, SITE not granted to this role, or
  local database problem, archive files the central store lacks events of not found
  (nothing lost: run it again later)   2 bad option or another site than this database's
  3 an event differs from the central copy (named by site and audit_id; past what the
  central store acknowledged to this database, the message names the likely mistake: a
  database restored from a backup, two PCs syncing as one site)

EXAMPLES
  audit-trail sync --central postgres://wh_lyon@db.example/audit --site WH-LYON
  PGPASSWORD=… audit-trail sync --central postgres://wh_lyon@db.example/audit
  audit-trail sync --watch --interval 300
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "sync", args, {
      central: { type: "string" },
      site: { type: "string" },
      watch: { type: "boolean" },
      interval: { type: "string" },
      archives: { type: "string" },
    }, { formats: ["json", "ndjson"], paths: ["archives"] });
    expectAtMost("sync", positionals, 0);
    const { io } = context;
    if (values.interval !== undefined && !values.watch) {
      throw new UsageError("--interval is for --watch", { hint: "Add --watch, or leave it out." });
    }
    const interval = values.interval === undefined ? 60 : parseCount(values.interval, "--interval");
    if (interval < 1) {
      throw new UsageError("--interval must be at least 1 second", {
        hint: "Give the seconds between rounds, e.g. --interval 300 (default 60).",
      });
    }
    const target = await resolveCentral(io, values.central, "audit-trail sync");
    const site = values.site ?? (io.env("AUDIT_TRAIL_SITE") || undefined);
    // Said once, by the sync that starts the site: nothing later tells that the central
    // store lacks the site's oldest events.
    let noting: Promise<void> = Promise.resolve();
    const options = {
      onStartAfterArchived: (archived: ArchivedRange) => {
        const { events, one } = archivedWords(archived);
        noting = io.stderr.write(
          one
            ? `audit-trail: note: ${events} was archived before this site's first sync: the central store starts after it and will never hold it; its archive file keeps it\n`
            : `audit-trail: note: ${events} were archived before this site's first sync: the central store starts after them and will never hold them; the archive files keep them\n`,
        );
      },
      central: target,
      site,
      hostname: safeHostname(),
      archives: values.archives,
      answerSeconds: centralAnswerSeconds(io),
    };
    // Sending only reads the log: a full disk does not stop it (what the central store
    // acknowledged is recorded locally once there is room).
    let db = openCurrentDatabase(context, { onlyReads: true });
    using _close = { [Symbol.dispose]: () => db.close() };
    if (!values.watch) {
      const result = await syncToCentral(db, options).catch(withSiteOption).finally(() => noting);
      await writeObject(io.stdout, result, context.explicitFormat === "ndjson" ? "ndjson" : "json");
      return 0;
    }

    const stop = new AbortController();
    const signals = listenForStop(() => stop.abort());
    try {
      let failures = 0;
      while (!stop.signal.aborted) {
        let wait = interval;
        try {
          // A connection reading the file alone (a full disk) would not see newer events.
          if (db.immutable) {
            db.close();
            db = openCurrentDatabase(context, { onlyReads: true });
          }
          const result = await syncToCentral(db, { ...options, signal: stop.signal })
            .catch(withSiteOption).finally(() => noting);
          await io.stdout.write(JSON.stringify(result) + "\n");
          failures = 0;
        } catch (error) {
          // Tampering and wrong usage do not heal by waiting.
          if (error instanceof UsageError || error instanceof TamperingFoundError) throw error;
          failures++;
          wait = Math.min(interval * 2 ** failures, MAX_BACKOFF_SECONDS);
          await io.stderr.write(
            `audit-trail: warning: sync failed (${
              errorMessage(error)
            }); trying again in ${wait} s\n`,
          );
        }
        await waitOrStop(wait * 1000, stop.signal);
      }
    } finally {
      signals();
    }
    return 0;
  },
};

/** A first sync with no site: the hint names the option (and variable) that gives one. */
function withSiteOption(error: unknown): never {
  if (!(error instanceof SiteNotNamedError)) throw error;
  throw new UsageError(error.message, {
    hint: "Name it once with --site (or AUDIT_TRAIL_SITE), e.g. --site WH-LYON-1.",
    cause: error,
  });
}
