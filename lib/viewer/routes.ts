/**
 * The viewer's addresses: which page or API answer a URL asks for, with its query string
 * checked before anything is read. A bad or unknown parameter is refused with the message
 * the command line gives for the same value.
 *
 * @module
 */
import { parseCount } from "../count.ts";
import { UsageError } from "../errors.ts";
import type { ChainStatus } from "./chain_status.ts";
import type { AuditLogFilter } from "../query.ts";
import { checkTimeRange, filterFromOptions, type QueryOptionName } from "../query_options.ts";
import { DEFAULT_STATS_TOP, type StatsOptions } from "../stats.ts";

/** The event filters of the URL API: `query`'s flags with `_` for `-`, and no offset. */
export const FILTER_PARAMS = [
  "sku",
  "operation",
  "run_id",
  "user",
  "since",
  "until",
  "contains",
  "after_id",
  "before_id",
  "limit",
  "order",
] as const;

/** What a request asks the database for; run in a worker (see `jobs.ts`). */
export type ViewerJob =
  | { kind: "overview"; chain: ChainStatus }
  | { kind: "events_page"; filter: AuditLogFilter; params: Record<string, string> }
  | { kind: "records"; filter: AuditLogFilter; format: "json" | "ndjson" | "csv" }
  | { kind: "batches"; limit: number; page: boolean }
  | { kind: "batch"; runId: string; page: boolean }
  | { kind: "stats"; options: StatsOptions }
  /**
   * Walks the chain; the worker sends the verdict (`ChainVerifyResult` as JSON), which the
   * server keeps for the overview and shares among the requests that came during the walk
   * (see `chain_status.ts`), answering each with the chain's page (`page`) or its JSON.
   */
  | { kind: "verify"; page: boolean };

/** How the answer to a job is sent. */
export interface JobRoute {
  job: ViewerJob;
  contentType: string;
  /** A file name: the answer is a download. */
  download?: string;
  /** `stream`: long answers, bounded per piece; `long`: one slow answer (verify). */
  limit: "normal" | "long" | "stream";
}

/** A static asset of the viewer. */
export interface AssetRoute {
  asset: "style" | "script";
}

/** The viewer's pages do not show more events than this at once. */
export const PAGE_MAX = 1000;
/** Events on a page when the URL does not say. */
export const PAGE_DEFAULT = 100;
/** Batches on the batch list when the URL does not say. */
export const BATCHES_DEFAULT = 50;

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

/**
 * The route of `url`: a job, an asset, or `null` when nothing lives there.
 *
 * @throws {UsageError} For a bad or unknown query-string parameter or run id.
 */
export function routeOf(url: URL): JobRoute | AssetRoute | null {
  const path = url.pathname;
  if (path === "/assets/style.css") return only(url, [], { asset: "style" });
  if (path === "/assets/app.js") return only(url, [], { asset: "script" });
  if (path === "/") {
    // The chain's status is the server's to fill in (see `chain_status.ts`).
    return only(url, [], page({ kind: "overview", chain: { last: null, running: false } }));
  }
  if (path === "/events") {
    const params = readParams(url, FILTER_PARAMS, true);
    const filter = eventFilter(params);
    const limit = filter.limit === undefined || filter.limit === 0
      ? (filter.limit === 0 ? PAGE_MAX : PAGE_DEFAULT)
      : Math.min(filter.limit, PAGE_MAX);
    return page({ kind: "events_page", filter: { ...filter, limit }, params });
  }
  const download = /^\/events\.(csv|json|ndjson)$/.exec(path);
  if (download) {
    const format = download[1] as "csv" | "json" | "ndjson";
    const filter = eventFilter(readParams(url, FILTER_PARAMS, true));
    return {
      job: { kind: "records", filter, format },
      contentType: format === "csv"
        ? "text/csv; charset=utf-8"
        : format === "ndjson"
        ? "application/x-ndjson; charset=utf-8"
        : JSON_TYPE,
      download: `audit_events.${format}`,
      limit: "stream",
    };
  }
  if (path === "/api/events") {
    const filter = eventFilter(readParams(url, FILTER_PARAMS, false));
    return {
      job: { kind: "records", filter, format: "json" },
      contentType: JSON_TYPE,
      limit: "stream",
    };
  }
  if (path === "/batches" || path === "/api/batches") {
    const params = readParams(url, ["limit"], path === "/batches");
    const limit = params.limit === undefined ? undefined : parseCount(params.limit, "--limit");
    const isPage = path === "/batches";
    const job: ViewerJob = {
      kind: "batches",
      limit: limit ?? (isPage ? BATCHES_DEFAULT : 20),
      page: isPage,
    };
    return isPage ? page(job) : api(job);
  }
  const batch = /^\/(api\/)?batches\/([^/]+)$/.exec(path);
  if (batch) {
    readParams(url, [], false);
    // Any id `batch list` prints, as `batch show` takes: adopted databases hold ids with
    // spaces and accents that new batches may not have.
    const runId = decodeSegment(batch[2]);
    const job: ViewerJob = { kind: "batch", runId, page: !batch[1] };
    return batch[1] ? api(job) : page(job);
  }
  if (path === "/api/stats") {
    const params = readParams(url, ["since", "until", "top"], false);
    checkTimeRange(params.since, params.until);
    return api({
      kind: "stats",
      options: {
        since: params.since,
        until: params.until,
        top: params.top === undefined ? DEFAULT_STATS_TOP : parseCount(params.top, "--top"),
      },
    });
  }
  if (path === "/verify" || path === "/api/verify") {
    readParams(url, [], false);
    const isPage = path === "/verify";
    return {
      ...(isPage ? page : api)({ kind: "verify", page: isPage }),
      limit: "long",
    };
  }
  return null;
}

function page(job: ViewerJob): JobRoute {
  return { job, contentType: HTML, limit: "normal" };
}

function api(job: ViewerJob): JobRoute {
  return { job, contentType: JSON_TYPE, limit: "normal" };
}

function only<T>(url: URL, allowed: readonly string[], route: T): T {
  readParams(url, allowed, false);
  return route;
}

/**
 * The query string as one value per name, refusing names not in `allowed` and names given
 * twice. Forms send empty fields: with `dropEmpty` they count as not given.
 */
export function readParams(
  url: URL,
  allowed: readonly string[],
  dropEmpty: boolean,
): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    if (!allowed.includes(name)) {
      throw new UsageError(`Unknown parameter "${name}"`, {
        hint: name === "offset"
          ? "Page with before_id (or after_id with order=asc): the viewer never skips with OFFSET."
          : allowed.length
          ? `Parameters here: ${allowed.join(", ")}.`
          : "This address takes no parameters.",
      });
    }
    if (name in params) {
      throw new UsageError(`Parameter "${name}" is given twice`, { hint: "Give it once." });
    }
    if (dropEmpty && value === "") continue;
    params[name] = name === "since" || name === "until" ? offsetPlus(value) : value;
  }
  return params;
}

/**
 * A date-time, a space, and hours (and minutes, with or without their colon): an offset whose
 * `+` was left unencoded. `+0200` and `+02` get theirs back too, so the parser refuses them
 * with the colon hint the command line gives, not as a value with a space nobody typed.
 */
const SPACED_OFFSET =
  /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$/;

/**
 * A time bound with the `+` of its offset back. A query string reads a bare `+` as a space,
 * so `since=2026-02-16T01:00+02:00` written by hand (or by `date -Iseconds` in a script)
 * arrives as `2026-02-16T01:00 02:00`, which names no time otherwise; the space of a form's
 * `2026-02-16 12:30` comes before the time, not after it, and stays.
 */
function offsetPlus(value: string): string {
  return value.replace(SPACED_OFFSET, "$1+$2");
}

function eventFilter(params: Record<string, string>): AuditLogFilter {
  const options: Partial<Record<QueryOptionName, string>> = {};
  for (const [name, value] of Object.entries(params)) {
    options[name.replaceAll("_", "-") as QueryOptionName] = value;
  }
  return filterFromOptions(options);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new UsageError(`The run id in the address is not valid percent-encoding: "${segment}"`, {
      hint: "Encode the run id with encodeURIComponent (as the viewer's own links do).",
    });
  }
}
