/**
 * `sync`: sending a site's events to the central store, exactly once whatever happens on the
 * way. Each batch is one INSERT statement, so one transaction; the database refuses any event
 * that does not continue the site's chain as it holds it (a trigger recomputes the seals),
 * skips events it already holds, and moves the site's head in the same transaction. A sync
 * that dies anywhere leaves whole batches behind, and the next one starts where the central
 * copy ends.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { type AuditDatabase, refuseOpenTransaction } from "../db.ts";
import {
  AuditTrailError,
  DiskFullError,
  errorMessage,
  TamperingFoundError,
  UsageError,
} from "../errors.ts";
import { type ArchivedRange, readCheckpoints } from "../archive/checkpoint_list.ts";
import { requireCurrentSchema } from "../schema.ts";
import {
  type CentralConnection,
  CentralDivergenceError,
  centralQuery,
  connectCentral,
  shellWord,
} from "./connection.ts";
import {
  centralRecord,
  localRoot,
  localSeal,
  readSealedRows,
  recordCentral,
  type SealedRow,
} from "./local.ts";
import { ArchivedEvents } from "./archived.ts";
import { type CentralBehind, centralBehindArchives, divergenceError } from "./divergence.ts";
import {
  CENTRAL_SCHEMA_VERSION,
  checkSiteName,
  currentSchemaQuery,
  requireCentralSchema,
} from "./schema.ts";
import type { CentralTarget } from "./url.ts";

/** Options of {@linkcode syncToCentral}. */
export interface SyncOptions {
  /** The central store: a `postgres://` URL, a parsed target, or an open connection. */
  central: string | CentralTarget | CentralConnection;
  /**
   * The site this database is, centrally. Fixed by the first accepted sync; may be left out
   * afterwards. A different name than the recorded one is refused.
   */
  site?: string | undefined;
  /** This machine's name, recorded centrally with the site. */
  hostname?: string | undefined;
  /**
   * The folder of this database's archive files (default: `archive` beside the database).
   * When the central store holds less of the site than was archived here (it was restored
   * from an older backup), the events it lacks are sent from them.
   */
  archives?: string | undefined;
  /**
   * Called when this sync starts the site centrally after events archived before its first
   * sync: the central store never holds them, only the archive files do.
   */
  onStartAfterArchived?: ((archived: ArchivedRange) => void) | undefined;
  /** Events per batch (default 2,000); a batch also ends after about 2 MB of text. */
  batchSize?: number | undefined;
  /** Stops after the batches in flight when aborted (they commit or roll back whole). */
  signal?: AbortSignal | undefined;
  /**
   * Seconds each statement may wait for the central store's answer (default 40, as
   * `connectCentral`'s `answerSeconds`). Ignored for an open connection.
   */
  answerSeconds?: number | undefined;
}

/** What one sync did; `audit-trail sync` prints it. */
export interface SyncResult {
  site: string;
  /** The central store's URL, password as `***`. */
  central: string;
  /** Events this sync stored centrally. */
  sent: number;
  /** The first and last event this sync stored, or null when it stored none. */
  first_audit_id: number | null;
  last_audit_id: number | null;
  /** The newest event the central store holds for the site afterwards. */
  central_last_audit_id: number | null;
  seconds: number;
}

// Larger batches are hardly faster but cost memory: each column of a batch is one string,
// and V8 frees large strings only at a full collection (20,000 events: 390 MB peak; 900,000
// events in batches of 3,000 peaked at 196 MB, of 2,000 at 165-175 MB, in the same time).
const DEFAULT_BATCH_SIZE = 2000;
const BATCH_CHARS = 2_000_000;
/**
 * Connections a sync opens: the server stores and checks one batch on each side by side
 * (the chain trigger serialises only each batch's link to the site's head).
 */
const CONNECTIONS = 2;
/**
 * Batches sent before the oldest one's answer is awaited: one being stored on each
 * connection. A third, waiting on the wire behind one of them, measured no faster and holds
 * one more batch in memory.
 */
const IN_FLIGHT = 2;
/** At most how often the local record of what the central store holds is rewritten. */
const RECORD_EVERY_MS = 2000;

/**
 * Sends every local event the central store does not hold yet for this site, oldest first,
 * in batches that each commit on their own.
 *
 * @param db The open local database.
 * @param options The central store and the site.
 * @returns What was sent and where the central copy now ends.
 * @throws {UsageError} When no site is named, or another than the one this database belongs to,
 * or while the application holds a transaction open on `db`.
 * @throws {CentralDivergenceError} When an event differs from the central copy, or the local
 * chain does not continue it (nothing at or after that event is stored).
 * @throws {AuditTrailError} When the central store cannot be reached or refuses the login.
 */
export async function syncToCentral(
  db: AuditDatabase,
  options: SyncOptions,
): Promise<SyncResult> {
  const started = performance.now();
  requireCurrentSchema(db);
  refuseOpenTransaction(db);
  const site = resolveSite(db, options.site);
  const owned = !isConnection(options.central);
  const central = isConnection(options.central)
    ? options.central
    : await connectCentral(options.central, {
      hostname: options.hostname,
      answerSeconds: options.answerSeconds,
      connections: CONNECTIONS,
      // The batch statement is the same every time: planning it anew for each batch (as
      // PostgreSQL does for its first executions) costs about as much as a tenth of a batch.
      settings: { plan_cache_mode: "force_generic_plan" },
    });
  try {
    using run = new SyncRun(db, central, site, options);
    await run.start();
    await run.send();
    return {
      site,
      central: central.target.display,
      sent: run.sent,
      first_audit_id: run.firstSent,
      last_audit_id: run.lastSent,
      central_last_audit_id: run.centralHead,
      seconds: Math.round(performance.now() - started) / 1000,
    };
  } finally {
    if (owned) await central.close();
  }
}

function isConnection(value: SyncOptions["central"]): value is CentralConnection {
  return typeof value === "object" && "sql" in value;
}

/**
 * A first sync named no site: the database records none yet. A command line names its option
 * for giving one.
 */
export class SiteNotNamedError extends UsageError {
  constructor() {
    super("Which site is this? No site is named and none is recorded yet", {
      hint:
        "Name it once (the site option), e.g. WH-LYON-1: the database keeps it for later syncs.",
    });
  }
}

/** The site to sync as: the recorded one, which a given name must match. */
function resolveSite(db: AuditDatabase, given: string | undefined): string {
  const recorded = centralRecord(db)?.site;
  if (given !== undefined) checkSiteName(given);
  if (recorded !== undefined && given !== undefined && given !== recorded) {
    throw new UsageError(
      `This database is site "${recorded}" in the central store; it cannot sync as "${given}"`,
      {
        hint:
          `One database is one site, so its chain never splits. Leave out the site or give "${recorded}".`,
      },
    );
  }
  const site = given ?? recorded;
  if (site === undefined) {
    throw new SiteNotNamedError();
  }
  return site;
}

interface BatchAnswer {
  sent: number;
  first_id: number | null;
  last_id: number | null;
  held: string | null;
}

interface Batch {
  rows: SealedRow[];
  answer: Promise<BatchAnswer>;
  /** Whether batches before it were still unanswered when it was sent. */
  followsUnanswered: boolean;
}

/** One sync: the state that moves as batches are answered. */
class SyncRun implements Disposable {
  sent = 0;
  firstSent: number | null = null;
  lastSent: number | null = null;
  /** The newest event the central store is known to hold for the site. */
  centralHead: number | null = null;
  /** This sync's batches, numbered as sent: each holds a lock named by its number while
   * it is stored, and the next one waits for it before it joins the chain. */
  #batches = 0;
  readonly #lockSpace = crypto.getRandomValues(new Int32Array(1))[0]!;
  /**
   * A batch had to be sent again: the ones sent after it fail too (they ran before it was
   * in), so none is sent until those in flight are settled (each sent again in turn).
   */
  #recovering = false;
  #recorded = false;
  #recordedAt = 0;
  /** The machine the site's latest central events came from, as the central store knows it. */
  #centralHostname: string | null = null;
  /** The archive files, when the central store lacks archived events. */
  #archived: ArchivedEvents | null = null;

  constructor(
    readonly db: AuditDatabase,
    readonly central: CentralConnection,
    readonly site: string,
    readonly options: SyncOptions,
  ) {}

  /** Reads where the central copy ends and checks that the local chain agrees up to there. */
  async start(): Promise<void> {
    const { sql, target } = this.central;
    const [row] = await centralQuery(target, () =>
      currentSchemaQuery(
        sql,
        target.display,
        sql`
        SELECT (SELECT coalesce(max(version), 0) FROM audit_trail_schema) AS version,
               s.site IS NOT NULL AS known, s.last_audit_id,
               encode(s.last_seal, 'hex') AS last_seal, s.hostname,
               -- As the append policy decides (its owner and superusers pass it by): a
               -- grant counts for the role it was made to, by OID as well as name.
               EXISTS (SELECT 1 FROM audit_trail_grants AS g, pg_roles AS r
                       WHERE g.role = current_user AND g.site = ${this.site}
                         AND r.rolname = current_user AND g.role_oid = r.oid)
               OR (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)
               OR (SELECT relowner FROM pg_class WHERE oid = 'audit_trail_events'::regclass)
                  = (SELECT oid FROM pg_roles WHERE rolname = current_user) AS may_write,
               EXISTS (SELECT 1 FROM audit_trail_grants AS g
                       WHERE g.role = current_user AND g.site = ${this.site}) AS named
        FROM (SELECT 1) AS one LEFT JOIN audit_trail_sites AS s ON s.site = ${this.site}`,
      ));
    if (row!.version !== CENTRAL_SCHEMA_VERSION) await requireCentralSchema(this.central);
    this.#centralHostname = row!.hostname;
    if (!row!.may_write) {
      // Checked before anything is sent or recorded: with nothing to send, the first sync
      // would otherwise tie this database to a site its role can never write.
      throw new AuditTrailError(
        row!.named
          ? `Central store at ${target.display} does not let "${target.user}" write site "${this.site}": the site was granted to an earlier role of that name, dropped or renamed since`
          : `Central store at ${target.display} does not let "${target.user}" write site "${this.site}"`,
        {
          hint: `${
            row!.named
              ? `If this role is to write the site, the administrator grants it again`
              : "Check the site name; the administrator grants it"
          } with: audit-trail central grant ${this.site} --role ${
            shellWord(target.user)
          }. Nothing was recorded: run it again once that is fixed.`,
        },
      );
    }
    const behind = centralBehindArchives(this.db, this.site, {
      known: row!.known,
      lastId: row!.last_audit_id,
    });
    if (behind) this.#archived = this.#openArchives(behind);
    const root = row!.known ? null : behind ? behind.start : localRoot(this.db);
    if (root) {
      // The oldest events were archived before the first sync: the central copy starts
      // after them, from the seal their checkpoint keeps.
      await centralQuery(
        target,
        () =>
          sql`SELECT audit_trail_start_site(${this.site}, ${root.audit_id},
                                          decode(${root.seal}, 'hex'))`,
      );
      row!.last_audit_id = root.audit_id;
      row!.last_seal = root.seal;
      this.options.onStartAfterArchived?.({
        first_audit_id: readCheckpoints(this.db)[0]!.first_audit_id,
        last_audit_id: root.audit_id,
      });
    }
    await this.#agreeOnHead(row!.last_audit_id, row!.last_seal);
  }

  /**
   * The archive files the events the central store lacks are sent from, once the first of
   * them is found to be the one its checkpoint names.
   */
  #openArchives(behind: CentralBehind): ArchivedEvents {
    const dir = this.options.archives ?? join(dirname(this.db.path), "archive");
    const archived = new ArchivedEvents(this.db, dir);
    try {
      archived.seal(behind.from);
      return archived;
    } catch (error) {
      archived[Symbol.dispose]();
      if (error instanceof TamperingFoundError) throw error;
      throw behind.error(errorMessage(error));
    }
  }

  /** The seal of event `id` here: live, at a checkpoint, or in the archive files in use. */
  #localSeal(id: number): string | null {
    return localSeal(this.db, id) ?? this.#archived?.seal(id) ?? null;
  }

  /** Up to `limit` events after `afterId`, from the archive files while they hold them. */
  #read(afterId: number, limit: number): SealedRow[] {
    if (this.#archived && afterId < this.#archived.through) {
      const rows = this.#archived.read(afterId, limit, BATCH_CHARS);
      if (rows.length > 0) return rows;
    }
    return readSealedRows(this.db, afterId, limit, BATCH_CHARS);
  }

  [Symbol.dispose](): void {
    this.#archived?.[Symbol.dispose]();
  }

  /** Takes the central head as where to go on from, once the local chain agrees with it. */
  async #agreeOnHead(lastId: number | null, lastSeal: string | null): Promise<void> {
    this.centralHead = lastId;
    if (lastId !== null && this.#localSeal(lastId) !== lastSeal) {
      throw await this.divergence(lastId);
    }
  }

  /** Reads the central head again, after another sync of the site stored events meanwhile. */
  async #rereadHead(): Promise<void> {
    const { sql, target } = this.central;
    const [row] = await centralQuery(
      target,
      () =>
        sql`SELECT last_audit_id, encode(last_seal, 'hex') AS last_seal
          FROM audit_trail_sites WHERE site = ${this.site}`,
    );
    await this.#agreeOnHead(row?.last_audit_id ?? null, row?.last_seal ?? null);
  }

  /**
   * Sends every local event after the central head. When another sync of the site stored
   * some of them meanwhile, goes on from the new central head: each time that happens, the
   * other one has moved the head on, so this ends.
   */
  async send(): Promise<void> {
    let unsealed: number | null;
    for (;;) {
      try {
        unsealed = await this.#sendFromHead();
        break;
      } catch (error) {
        if (!(error instanceof StoredMeanwhileError)) throw error;
        await this.#rereadHead();
      }
    }
    this.#record(true);
    if (unsealed !== null) {
      throw new CentralDivergenceError(
        `Event ${unsealed} of site ${this.site} has no seal in this database: it was added without audit-trail, so it was not sent (nor anything after it)`,
        unsealed,
      );
    }
  }

  /**
   * Sends every local event after the central head, keeping a few batches in flight.
   * Returns the first event it stopped at for having no seal, if any.
   */
  async #sendFromHead(): Promise<number | null> {
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH_SIZE;
    const inFlight: Batch[] = [];
    let cursor = this.centralHead ?? Number.MIN_SAFE_INTEGER;
    let unsealed: number | null = null;
    let finished = false;
    try {
      while (!finished || inFlight.length > 0) {
        if (this.options.signal?.aborted) finished = true;
        if (!finished && !this.#recovering) {
          const rows = this.#read(cursor, batchSize);
          const cut = rows.findIndex((row) => row[7] === null);
          if (cut >= 0) {
            unsealed = rows[cut]![0];
            rows.length = cut;
          }
          finished = rows.length === 0 || unsealed !== null;
          if (rows.length > 0) {
            cursor = rows[rows.length - 1]![0];
            const followsUnanswered = inFlight.length > 0;
            const answer = this.#insert(rows);
            // Its failure is handled when its turn comes (#settle); until then it must not
            // count as unhandled.
            answer.catch(() => {});
            inFlight.push({ rows, answer, followsUnanswered });
            // Let the socket take the batch before the next one is read.
            await new Promise((resolve) => setTimeout(resolve, 0));
          }
        }
        const draining = finished || this.#recovering;
        if (inFlight.length >= IN_FLIGHT || (draining && inFlight.length > 0)) {
          await this.#settle(inFlight.shift()!);
        }
        if (inFlight.length === 0) this.#recovering = false;
      }
    } finally {
      // After a failure, the batches still in flight mostly fail too (they cannot chain);
      // one that chained from events another sync stored meanwhile is in, and counts.
      for (const outcome of await Promise.allSettled(inFlight.map((batch) => batch.answer))) {
        if (outcome.status === "fulfilled") this.#count(outcome.value);
      }
    }
    return unsealed;
  }

  #insert(rows: SealedRow[]): Promise<BatchAnswer> {
    const { sql, target } = this.central;
    const columns = toColumns(rows);
    const number = ++this.#batches;
    const after = number > 1 ? `${this.#lockSpace}:${number - 1}` : "";
    return centralQuery(target, async () => {
      // Bounded as every statement is: a server gone without closing the connection is
      // given up within a minute, connection included (ConnectCentralOptions.answerSeconds).
      const [answer] = await sql.unsafe(INSERT_SQL, [
        this.site,
        columns.ids,
        columns.timestamps,
        columns.localTimestamps,
        columns.operations,
        columns.skus,
        columns.details,
        columns.users,
        columns.runIds,
        columns.seals,
        rows.at(-1)![0]!,
        this.#lockSpace,
        number,
        after,
      ], { prepare: true }).execute().catch((error) => {
        if (!MEANWHILE.has((error as { code?: string }).code ?? "")) throw error;
        throw new StoredMeanwhileError(
          `Another sync of site ${this.site} stored some of these events at the same time`,
        );
      });
      return answer as unknown as BatchAnswer;
    });
  }

  async #settle(batch: Batch): Promise<void> {
    let answer: BatchAnswer;
    try {
      answer = await batch.answer.catch((error) => {
        // Each batch waits for the one before it (see INSERT_SQL), so a batch never joins
        // the chain before it … unless the server began the earlier one later still. The
        // batches before it are in now (they settle first): a refusal stands if repeated.
        if (!(error instanceof CentralDivergenceError) || !batch.followsUnanswered) throw error;
        this.#recovering = true;
        return this.#insert(batch.rows);
      });
    } catch (error) {
      if (error instanceof CentralDivergenceError) await this.#sendBefore(batch.rows, error);
      throw error;
    }
    const last = batch.rows[batch.rows.length - 1]!;
    if (answer.last_id !== last[0]) {
      // The central store already held the batch's newest event (another sync sent it, or
      // this one before it was cut off): it must be the very same event.
      const held = answer.held ?? await this.#heldSeal(last[0]);
      if (held !== last[7]) throw await this.divergence(last[0]);
    }
    this.#count(answer);
    this.centralHead = Math.max(this.centralHead ?? last[0], last[0]);
    this.#record(false);
  }

  /** On a refused batch, stores the events before the refused one, then lets the error go. */
  async #sendBefore(rows: SealedRow[], error: CentralDivergenceError) {
    const before = rows.filter((row) => error.auditId !== null && row[0] < error.auditId);
    if (before.length === 0 || before.length === rows.length) return;
    try {
      this.#count(await this.#insert(before));
      this.centralHead = before[before.length - 1]![0];
      this.#record(true);
    } catch {
      // The refusal is what matters; these events go with the next sync.
    }
  }

  #count(answer: BatchAnswer) {
    if (answer.last_id !== null) {
      this.centralHead = Math.max(this.centralHead ?? answer.last_id, answer.last_id);
    }
    this.sent += answer.sent;
    if (answer.first_id !== null) this.firstSent ??= answer.first_id;
    if (answer.last_id !== null) this.lastSent = answer.last_id;
  }

  /** Records the site locally at the first accepted batch, then what the central store holds. */
  #record(force: boolean) {
    const now = performance.now();
    if (this.#recorded && !force && now - this.#recordedAt < RECORD_EVERY_MS) return;
    try {
      recordCentral(this.db, this.site, this.central.target.display, this.centralHead);
    } catch (error) {
      // Once the site is recorded, the acknowledged id is only a lower bound of what the
      // central store holds (archive keeps what it may lack): left behind on a full disk, it
      // keeps more, and the next sync with room moves it on. The events are stored centrally
      // either way, so this sync has done its work.
      if (!(error instanceof DiskFullError) || centralRecord(this.db)?.site !== this.site) {
        throw error;
      }
    }
    this.#recorded = true;
    this.#recordedAt = now;
  }

  async #heldSeal(id: number): Promise<string | null> {
    const { sql, target } = this.central;
    const [row] = await centralQuery(
      target,
      () =>
        sql`SELECT encode(seal, 'hex') AS seal FROM audit_trail_events
          WHERE site = ${this.site} AND audit_id = ${id}`,
    );
    return row?.seal ?? null;
  }

  /**
   * The first central event of the site that this database does not hold as it is, found by
   * bisection: seals chain, so once one matches, every event before it matches too.
   */
  async divergence(differing: number): Promise<CentralDivergenceError> {
    const { sql, target } = this.central;
    const [first] = await centralQuery(
      target,
      () => sql`SELECT min(audit_id) AS id FROM audit_trail_events WHERE site = ${this.site}`,
    );
    // Every central event at or below `low` matches; the one at `high` differs. Archived
    // events are compared only through the archive files in use: without them, the central
    // copy reaches past the archives (centralBehindArchives), so the search starts after.
    const archivedThrough = this.#archived ? null : localRoot(this.db)?.audit_id;
    let low = Math.max((first!.id ?? differing) - 1, archivedThrough ?? -Infinity);
    let high = differing;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      const [row] = await centralQuery(
        target,
        () =>
          sql`SELECT audit_id, encode(seal, 'hex') AS seal FROM audit_trail_events
            WHERE site = ${this.site} AND audit_id > ${low} AND audit_id <= ${mid}
            ORDER BY audit_id DESC LIMIT 1`,
      );
      if (!row || this.#localSeal(row.audit_id) === row.seal) low = mid;
      else high = row.audit_id;
    }
    const otherHost = this.#centralHostname !== null && this.options.hostname !== undefined &&
        this.#centralHostname !== this.options.hostname
      ? this.#centralHostname
      : null;
    return divergenceError(this.db, this.site, {
      differing: high,
      head: this.centralHead,
      otherHost,
      shared: first!.id !== null && low >= first!.id,
    });
  }
}

/**
 * What a batch meets when another sync of the same site stores the same events at the same
 * time: unique_violation on the key, or deadlock_detected when their batches wait for each
 * other's keys and order (PostgreSQL then rolls one back).
 */
const MEANWHILE = new Set(["23505", "40P01"]);

/**
 * Another sync of the same site stored some of a batch's events while it was on its way
 * (the batch is refused whole). The sync goes on from the new central head.
 */
class StoredMeanwhileError extends AuditTrailError {}

/**
 * One statement: first it takes this sync's lock for the batch's number, and tells the chain
 * trigger which batch to wait for ($14: the one before, whose lock it holds until it commits
 * or rolls back): batches stored side by side on several connections then join the site's
 * chain in the order they were sent. The rows go in as arrays (COPY is refused under
 * row-level security),
 * events up to the site's central head are left out (the central store holds them: its chain
 * has no gaps), and the chain trigger checks the rest. It answers with what it stored and,
 * for the batch's newest event when that was left out, the seal the central store holds for
 * it. Leaving out by the head, rather than ON CONFLICT DO NOTHING, spares a speculative
 * insert per event (a tenth of the server's time); a sync of the same site storing the same
 * events at the same time then makes the statement fail on the key, and this one goes on from
 * the new head.
 */
const INSERT_SQL = `
  WITH turn AS MATERIALIZED (
    SELECT pg_advisory_xact_lock($12::int, $13::int) AS taken,
           set_config('audit_trail.after_batch', $14::text, true) AS after
  ), stored AS (
    INSERT INTO audit_trail_events
      (site, audit_id, "timestamp", local_timestamp, operation, sku, details, "user", run_id, seal)
    SELECT $1, u.audit_id, u.ts::timestamptz, u.local_ts, u.operation, u.sku, u.details, u.usr,
           u.run_id, decode(u.seal, 'hex')
    FROM turn, unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::text[])
      AS u(audit_id, ts, local_ts, operation, sku, details, usr, run_id, seal)
    WHERE u.audit_id > coalesce(
      (SELECT s.last_audit_id FROM audit_trail_sites AS s WHERE s.site = $1),
      '-9223372036854775808'::bigint)
    RETURNING audit_id
  )
  SELECT count(*)::int AS sent, min(audit_id) AS first_id, max(audit_id) AS last_id,
    (SELECT encode(e.seal, 'hex') FROM audit_trail_events AS e
     WHERE e.site = $1 AND e.audit_id = $11::bigint) AS held
  FROM stored`;

/** A batch as PostgreSQL array literals, one per column. */
function toColumns(rows: SealedRow[]) {
  const ids = new Array<string>(rows.length);
  const timestamps = new Array<string | null>(rows.length);
  const columns = [1, 2, 3, 4, 5, 6, 7].map(() => new Array<string | null>(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    ids[i] = String(row[0]);
    timestamps[i] = instant(row[1]);
    for (let c = 0; c < 7; c++) columns[c]![i] = row[c + 1] as string | null;
  }
  return {
    ids: `{${ids.join(",")}}`,
    timestamps: textArray(timestamps),
    localTimestamps: textArray(columns[0]!),
    operations: textArray(columns[1]!),
    skus: textArray(columns[2]!),
    details: textArray(columns[3]!),
    users: textArray(columns[4]!),
    runIds: textArray(columns[5]!),
    seals: textArray(columns[6]!),
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LEGACY = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/**
 * The instant a stored timestamp names, as ISO text, or null when it names none (the text is
 * still kept as it is in local_timestamp): a day that is not in the calendar, a time past
 * 23:59:59, or the year 0, which PostgreSQL does not have.
 */
export function instant(stored: string | null): string | null {
  if (stored === null) return null;
  const iso = ISO.test(stored)
    ? stored
    : LEGACY.test(stored)
    ? `${stored.slice(0, 10)}T${stored.slice(11)}.000Z`
    : null;
  return iso !== null && namesAnInstant(iso) ? iso : null;
}

/**
 * Whether `YYYY-MM-DDTHH:MM:SS.sssZ` text is a real instant. Read from its digits: the sync
 * asks this of every event, and a `Date` round trip per event cost a sixth of the client's time.
 */
function namesAnInstant(iso: string): boolean {
  const year = Number(iso.slice(0, 4));
  const month = Number(iso.slice(5, 7));
  const day = Number(iso.slice(8, 10));
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 &&
    day <= daysIn(year, month) && Number(iso.slice(11, 13)) <= 23 &&
    Number(iso.slice(14, 16)) <= 59 && Number(iso.slice(17, 19)) <= 59;
}

function daysIn(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** A PostgreSQL array literal of text values (NULL for null). */
function textArray(values: (string | null)[]): string {
  const cells = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    cells[i] = value === null
      ? "NULL"
      : `"${ARRAY_SPECIAL.test(value!) ? value.replace(ARRAY_SPECIALS, "\\$&") : value}"`;
  }
  return `{${cells.join(",")}}`;
}

const ARRAY_SPECIAL = /["\\]/;
const ARRAY_SPECIALS = /["\\]/g;
