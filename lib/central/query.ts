/**
 * Reading across sites: `query --central`, with every filter of `query`, newest first by
 * timestamp (then site, then audit_id), answered from the central indexes.
 *
 * @module
 */
import { type AuditEvent, type AuditRow, EVENT_COLUMNS } from "../event_row.ts";
import { requireCount } from "../count.ts";
import { UsageError } from "../errors.ts";
import { type AuditLogFilter, DEFAULT_QUERY_LIMIT } from "../query.ts";
import { parseTimeBound } from "../time_bound.ts";
import { type CentralConnection, centralQuery } from "./connection.ts";
import { checkSiteName, requireCentralSchema } from "./schema.ts";

/** A filter of {@linkcode streamCentralEvents}: `query`'s filters plus the site. */
export interface CentralFilter extends AuditLogFilter {
  /** Only this site's events. `afterId` and `beforeId` need it (ids are per site). */
  site?: string;
}

/** One event as `query --central` prints it: a record of `query` plus its site. */
export interface CentralEvent extends AuditEvent {
  site: string;
}

/** The fields of a {@linkcode CentralEvent}, in the order they print. */
export const CENTRAL_EVENT_COLUMNS: readonly string[] = ["site", ...EVENT_COLUMNS];

const PAGE_SIZE = 1000;

/** The query `filter` becomes: SQL text with `$n` placeholders, and their values. */
export interface CentralQueryPlan {
  text: string;
  params: (string | number)[];
}

/**
 * Builds the SQL of a central query. Each filter is an equality or a range on an indexed
 * column, and the order is that of the indexes, so PostgreSQL reads only what it returns.
 *
 * @throws {UsageError} For a bad site, time bound, limit, offset or order, or an id cursor
 * without a site.
 */
export function planCentralQuery(filter: CentralFilter): CentralQueryPlan {
  const conditions: string[] = [];
  const params: (string | number)[] = [];
  const bind = (value: string | number) => {
    params.push(value);
    return `$${params.length}`;
  };
  const equal = (column: string, value: string | undefined) => {
    if (value !== undefined) conditions.push(`${column} = ${bind(value)}`);
  };
  if (filter.site !== undefined) equal("site", checkSiteName(filter.site));
  equal("sku", filter.sku);
  equal("operation", filter.operation);
  equal("run_id", filter.runId);
  if (filter.user === "system") {
    // As locally: a NULL user prints as "system".
    conditions.push(`("user" = ${bind("system")} OR "user" IS NULL)`);
  } else {
    equal('"user"', filter.user);
  }
  if (filter.since !== undefined) {
    conditions.push(`"timestamp" >= ${bind(parseTimeBound(filter.since).start)}`);
  }
  if (filter.until !== undefined) {
    conditions.push(`"timestamp" < ${bind(parseTimeBound(filter.until).end)}`);
  }
  if (filter.contains !== undefined && filter.contains !== "") {
    const pattern = `%${filter.contains.replace(/[\\%_]/g, (c) => "\\" + c)}%`;
    conditions.push(`details ILIKE ${bind(pattern)}`);
  }
  for (
    const [value, op, name] of [[filter.afterId, ">", "after"], [
      filter.beforeId,
      "<",
      "before",
    ]] as const
  ) {
    if (value === undefined) continue;
    if (filter.site === undefined) {
      throw new UsageError(`Events ${name} an id need a site: event ids are numbered per site`, {
        hint: "Name the site, or bound the events by time across sites.",
      });
    }
    conditions.push(`audit_id ${op} ${bind(requireCount(value, `The ${name} id`))}`);
  }
  const order = filter.order ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw new UsageError(`Order must be "asc" or "desc", not "${order}"`, {
      hint: 'Give "desc" (newest first, the default) or "asc" (oldest first).',
    });
  }
  const limit = requireCount(filter.limit ?? DEFAULT_QUERY_LIMIT, "Limit");
  const offset = requireCount(filter.offset ?? 0, "Offset");
  const direction = order === "asc" ? "ASC" : "DESC";
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  return {
    text: `SELECT site, audit_id,
        coalesce(to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 local_timestamp) AS "timestamp",
        operation, sku, coalesce(details, '') AS details, coalesce("user", 'system') AS "user",
        run_id
      FROM audit_trail_events AS e ${where}
      ORDER BY e."timestamp" ${direction}, e.site ${direction}, e.audit_id ${direction}
      ${limit > 0 ? `LIMIT ${limit}` : ""} ${offset > 0 ? `OFFSET ${offset}` : ""}`,
    params,
  };
}

/** A {@linkcode CentralEvent} as its cells, in the order of {@linkcode CENTRAL_EVENT_COLUMNS}. */
export type CentralRow = [site: string, ...AuditRow];

/**
 * Reads the events matching `filter` across sites, in pages of rows (cells in the order of
 * {@linkcode CENTRAL_EVENT_COLUMNS}), so memory stays flat whatever the size of the result
 * (`limit: 0` reads them all).
 *
 * @param central An open connection to the central store.
 * @param filter `query`'s filters, plus the site.
 */
export async function* streamCentralRows(
  central: CentralConnection,
  filter: CentralFilter = {},
): AsyncGenerator<CentralRow[]> {
  const plan = planCentralQuery(filter);
  await requireCentralSchema(central);
  const { sql, target } = central;
  const pages = sql.unsafe(plan.text, plan.params).values().cursor(PAGE_SIZE)
    [Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await centralQuery(target, () => pages.next());
      if (next.done) return;
      yield next.value as unknown as CentralRow[];
    }
  } finally {
    await pages.return?.();
  }
}

/** Asks PostgreSQL how it would run the query of `filter` (its EXPLAIN text). */
export async function explainCentralQuery(
  central: CentralConnection,
  filter: CentralFilter = {},
): Promise<string> {
  const plan = planCentralQuery(filter);
  const rows = await centralQuery(
    central.target,
    () => central.sql.unsafe(`EXPLAIN ${plan.text}`, plan.params),
  );
  return rows.map((row) => row["QUERY PLAN"]).join("\n");
}
