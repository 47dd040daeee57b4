/**
 * `verify --central`: every site's chain recomputed from the central rows, here in the
 * client, so that nothing done inside the database (a row changed with its triggers off, a
 * trigger function replaced) can vouch for itself.
 *
 * @module
 */
import { ChainLinker } from "../chain/encoding.ts";
import { AuditTrailError } from "../errors.ts";
import type { ChainFailure } from "../chain/classify.ts";
import {
  type CentralConnection,
  centralQuery,
  inCentralTransaction,
  type Sql,
} from "./connection.ts";
import type { CentralTarget } from "./url.ts";
import { checkSiteName, requireSchemaIn } from "./schema.ts";
import { instant } from "./sync.ts";

/** One site's result. */
export interface CentralSiteVerdict {
  site: string;
  events_checked: number;
  intact: boolean;
  failure: ChainFailure | null;
}

/** What `verify --central` prints. */
export interface CentralVerifyResult {
  central: string;
  sites: CentralSiteVerdict[];
}

const PAGE_SIZE = 2000;

/**
 * Recomputes the chain of every site the connected role may read (or of `site` alone) and
 * checks that each site's recorded head is its newest event.
 */
export async function verifyCentral(
  central: CentralConnection,
  options: { site?: string } = {},
): Promise<CentralVerifyResult> {
  if (options.site !== undefined) checkSiteName(options.site);
  const { target } = central;
  // One snapshot for the heads and the rows: a sync committing meanwhile is not tampering.
  const sites = await inCentralTransaction(
    central,
    async (tx) => {
      await requireSchemaIn(tx, target.display);
      const heads = await tx`
        SELECT site, last_audit_id, encode(last_seal, 'hex') AS last_seal, first_audit_id,
               encode(first_previous_seal, 'hex') AS first_previous_seal, events
        FROM audit_trail_sites
        WHERE ${options.site ?? null}::text IS NULL OR site = ${options.site ?? null}::text
        ORDER BY site`;
      const verdicts: CentralSiteVerdict[] = [];
      for (const head of heads) {
        verdicts.push(await verifySite(tx, target, head as unknown as SiteHead));
      }
      return verdicts;
    },
    { snapshot: true },
  );
  if (options.site !== undefined && sites.length === 0) {
    // Not "intact": a mistyped site, or one this role may not read, would pass unchecked.
    throw new AuditTrailError(
      `The central store at ${target.display} holds no events of site "${options.site}" that "${target.user}" may read`,
      {
        hint:
          "Check the name: audit-trail central sites lists the sites. A site's own role reads its own site only.",
      },
    );
  }
  return { central: target.display, sites };
}

interface SiteHead {
  site: string;
  last_audit_id: number | null;
  last_seal: string;
  first_audit_id: number | null;
  first_previous_seal: string;
  events: number;
}

type CentralRow = [
  number,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string | null,
  string,
  string | null,
];

async function verifySite(
  sql: Sql,
  target: CentralTarget,
  head: SiteHead,
): Promise<CentralSiteVerdict> {
  const verdict: CentralSiteVerdict = {
    site: head.site,
    events_checked: 0,
    intact: false,
    failure: null,
  };
  const fail = (audit_id: number, kind: ChainFailure["kind"], message: string) => {
    verdict.failure = { audit_id, kind, message: `Site ${head.site}: ${message}` };
    return verdict;
  };
  const linker = new ChainLinker(head.first_previous_seal);
  let previous: number | null = null;
  let lastSeal = head.first_previous_seal;
  const pages = sql`
    SELECT audit_id, local_timestamp, operation, sku, details, "user", run_id,
           encode(seal, 'hex') AS seal,
           to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS instant
    FROM audit_trail_events WHERE site = ${head.site} ORDER BY audit_id`
    .values().cursor(PAGE_SIZE)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await centralQuery(target, () => pages.next());
      if (next.done) break;
      for (const row of next.value as unknown as CentralRow[]) {
        const [id, ts, operation, sku, details, user, runId, seal, at] = row;
        if (previous === null && head.first_audit_id !== null && id !== head.first_audit_id) {
          return fail(
            head.first_audit_id,
            id > head.first_audit_id ? "deleted" : "inserted",
            `the first event recorded for the site is ${head.first_audit_id}, but the oldest stored is ${id}`,
          );
        }
        linker.link(JSON.stringify([id, ts, operation, sku, details, user, runId]));
        if (!linker.matches(seal)) {
          return fail(
            id,
            "modified",
            `event ${id} does not match its seal: it was changed, or events just before it were removed or added, behind audit-trail's back`,
          );
        }
        if (at !== null && at !== instant(ts)) {
          return fail(
            id,
            "modified",
            `event ${id}'s timestamp column (${at}) no longer says what its sealed text says (${ts})`,
          );
        }
        verdict.events_checked++;
        previous = id;
        lastSeal = seal;
      }
    }
  } finally {
    await pages.return?.();
  }
  // A site started after archived events, none of its own arrived yet: it ends where it starts.
  if (previous === null && head.first_audit_id === null) previous = head.last_audit_id;
  if (previous !== head.last_audit_id || lastSeal !== head.last_seal) {
    const newest = previous ?? "none";
    return fail(
      head.last_audit_id ?? previous ?? 0,
      "deleted",
      `the central store recorded event ${head.last_audit_id} as the site's newest, but the newest stored is ${newest}: events were removed`,
    );
  }
  if (verdict.events_checked !== head.events) {
    return fail(
      head.last_audit_id ?? 0,
      "deleted",
      `the central store counted ${head.events} events for the site but holds ${verdict.events_checked}`,
    );
  }
  verdict.intact = true;
  return verdict;
}
