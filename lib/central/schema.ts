/**
 * The central schema: creating and upgrading it (`central init`), checking that a command
 * speaks the version the central store has, and the administrator's grants and listing.
 *
 * @module
 */
import schema1 from "./schema_1.sql" with { type: "text" };
import schema2 from "./schema_2.sql" with { type: "text" };
import { SchemaError, UsageError } from "../errors.ts";
import {
  type CentralConnection,
  centralQuery,
  inCentralTransaction,
  quoteIdentifier,
  shellWord,
  type Sql,
} from "./connection.ts";

/** The central schema versions this tool knows, in order. */
const CENTRAL_MIGRATIONS: readonly { version: number; sql: string }[] = [
  { version: 1, sql: schema1 },
  { version: 2, sql: schema2 },
];

/** The central schema version this tool writes and reads. */
export const CENTRAL_SCHEMA_VERSION: number =
  CENTRAL_MIGRATIONS[CENTRAL_MIGRATIONS.length - 1]!.version;

/** Lowest PostgreSQL (server_version_num) the central schema needs. */
const MIN_SERVER_VERSION = 150000;

/** What `central init` prints: the versions before and after. */
export interface CentralInitResult {
  central: string;
  from_version: number;
  to_version: number;
}

/**
 * Creates the central schema, or brings it up to {@linkcode CENTRAL_SCHEMA_VERSION}, in one
 * transaction. Running it again changes nothing. Two administrators running it at once are
 * serialised by a lock.
 *
 * @throws {SchemaError} When the central schema is newer than this tool, or the server is
 * older than PostgreSQL 15 or does not store text as UTF-8.
 */
export async function initCentral(central: CentralConnection): Promise<CentralInitResult> {
  const { target } = central;
  return await inCentralTransaction(central, async (tx) => {
    const [server] = await tx`
      SELECT current_setting('server_version_num')::int AS version,
             current_setting('server_version') AS name,
             current_setting('server_encoding') AS encoding`;
    if (server!.version < MIN_SERVER_VERSION) {
      throw new SchemaError(
        `The central store at ${target.display} runs PostgreSQL ${
          server!.name
        }; audit-trail needs 15 or newer`,
      );
    }
    if (server!.encoding !== "UTF8") {
      throw new SchemaError(
        `The central database at ${target.display} stores text as ${
          server!.encoding
        }, not UTF8: events would not keep their exact text`,
        { hint: "Create the database with ENCODING 'UTF8' and run central init again." },
      );
    }
    await tx`SELECT pg_advisory_xact_lock(hashtext('audit-trail central init'))`;
    await tx`
      CREATE TABLE IF NOT EXISTS audit_trail_schema (
        version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`;
    const from = await versionIn(tx);
    if (from > CENTRAL_SCHEMA_VERSION) throw newerSchema(target.display, from);
    for (const migration of CENTRAL_MIGRATIONS) {
      if (migration.version <= from) continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO audit_trail_schema (version) VALUES (${migration.version})`;
    }
    await tx`REVOKE ALL ON audit_trail_schema FROM PUBLIC`;
    return { central: target.display, from_version: from, to_version: CENTRAL_SCHEMA_VERSION };
  });
}

/**
 * Fails unless the central store has exactly the schema version this tool speaks: it says to
 * run `central init` when there is none, and refuses a newer one.
 */
export async function requireCentralSchema(central: CentralConnection): Promise<void> {
  await centralQuery(central.target, () => requireSchemaIn(central.sql, central.target.display));
}

/**
 * {@linkcode requireCentralSchema} on a given client: inside a transaction, so that the check
 * needs no login of its own. `display` names the central store in the messages.
 */
export async function requireSchemaIn(sql: Sql, display: string): Promise<void> {
  const [row] = await sql`SELECT to_regclass('audit_trail_schema') IS NOT NULL AS present`;
  const version = row!.present ? await versionIn(sql) : 0;
  if (version === 0) {
    throw new SchemaError(`The central store at ${display} has no audit-trail schema`, {
      hint: `An administrator sets it up with: audit-trail central init --central "${display}"`,
    });
  }
  if (version > CENTRAL_SCHEMA_VERSION) throw newerSchema(display, version);
  if (version < CENTRAL_SCHEMA_VERSION) {
    throw new SchemaError(
      `The central store at ${display} has schema version ${version}; this tool needs ${CENTRAL_SCHEMA_VERSION}`,
      {
        hint: `An administrator upgrades it with: audit-trail central init --central "${display}"`,
      },
    );
  }
}

/**
 * The rows of `query`, which reads the central schema as this tool's version has it, with
 * what the schema version asks of it in one round trip. On a store of an older version,
 * which lacks a column it names, fails as {@linkcode requireSchemaIn} does (saying to run
 * `central init`) rather than with the missing column.
 */
export async function currentSchemaQuery<T>(
  sql: Sql,
  display: string,
  query: Promise<T>,
): Promise<T> {
  try {
    return await query;
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_COLUMN) {
      await requireSchemaIn(sql, display);
    }
    throw error;
  }
}

/** PostgreSQL's code for a column that does not exist. */
const UNDEFINED_COLUMN = "42703";

/** What `central grant` prints. */
export interface CentralGrant {
  /** The site, or null for a reader of every site. */
  site: string | null;
  role: string;
  reader?: true;
}

/**
 * Lets an existing login role append and read the events of `site` only (or, with `site`
 * null, read every site and write none). The policies read the grant from
 * `audit_trail_grants`, which keeps the role's OID beside its name: the grant serves this role
 * only, not one created later under the same name (granting again to such a role moves it
 * there). The table rights are granted here as well.
 *
 * @throws {UsageError} When the site name is not valid or the role does not exist.
 */
export async function grantCentral(
  central: CentralConnection,
  site: string | null,
  role: string,
): Promise<CentralGrant> {
  if (site !== null) checkSiteName(site);
  checkRoleName(role);
  const { target } = central;
  await inCentralTransaction(central, async (tx) => {
    await requireSchemaIn(tx, target.display);
    const [exists] = await tx`SELECT 1 AS found FROM pg_roles WHERE rolname = ${role}`;
    if (!exists) {
      // CREATE ROLE WH_Lyon, unquoted, makes wh_lyon: name the role that differs only so.
      const [folded] = await tx`
        SELECT rolname FROM pg_roles WHERE lower(rolname) = lower(${role}) ORDER BY rolname LIMIT 1`;
      throw new UsageError(
        `There is no role "${role}" in the central store at ${target.display}`,
        {
          hint: folded
            ? `There is a role "${folded.rolname}" (PostgreSQL folds names written without double quotes to lower case): grant to --role ${
              shellWord(folded.rolname)
            }.`
            : `Create it first, e.g. CREATE ROLE ${
              quoteIdentifier(role)
            } LOGIN PASSWORD '…'; then grant again.`,
        },
      );
    }
    const quoted = quoteIdentifier(role);
    // The grant belongs to this role, by its OID as well as its name: a role dropped and
    // created again under the name gets it only by a grant of its own (made here again).
    await tx`INSERT INTO audit_trail_grants (role, site, role_oid)
             SELECT ${role}, ${site ?? "*"}, oid FROM pg_roles WHERE rolname = ${role}
             ON CONFLICT (role, site) DO UPDATE SET role_oid = excluded.role_oid, granted_at = now()
             WHERE audit_trail_grants.role_oid IS DISTINCT FROM excluded.role_oid`;
    await tx.unsafe(`GRANT USAGE ON SCHEMA ${quoteIdentifier(await schemaOf(tx))} TO ${quoted}`);
    await tx.unsafe(
      `GRANT SELECT ON audit_trail_schema, audit_trail_grants, audit_trail_sites, audit_trail_events TO ${quoted}`,
    );
    if (site !== null) await tx.unsafe(`GRANT INSERT ON audit_trail_events TO ${quoted}`);
  });
  return site === null ? { site: null, role, reader: true } : { site, role };
}

/** PostgreSQL's longest name, in bytes: CREATE ROLE cuts a longer one to this. */
const LONGEST_NAME_BYTES = 63;

/**
 * Refuses a role name PostgreSQL cannot hold as given: no role could ever match it, and the
 * CREATE ROLE the hint suggests would make a role of a shorter name.
 */
function checkRoleName(role: string): void {
  const bytes = new TextEncoder().encode(role).length;
  if (bytes === 0) {
    throw new UsageError("The role name is empty", {
      hint: "Give the PostgreSQL login role of the site: --role ROLE.",
    });
  }
  if (bytes > LONGEST_NAME_BYTES) {
    throw new UsageError(
      `Role name "${role}" is ${bytes} bytes long; PostgreSQL keeps names to ${LONGEST_NAME_BYTES}`,
      { hint: "Give the role's name as PostgreSQL lists it: SELECT rolname FROM pg_roles." },
    );
  }
}

/** One site as `central sites` lists it. */
export interface CentralSite {
  site: string;
  events: number;
  last_audit_id: number | null;
  last_sync_at: string;
  hostname: string | null;
}

/** Every site the connected role may see, by name. */
export async function listCentralSites(central: CentralConnection): Promise<CentralSite[]> {
  await requireCentralSchema(central);
  const { sql, target } = central;
  const rows = await centralQuery(target, () =>
    sql`
      SELECT site, events, last_audit_id,
             to_char(last_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_sync_at,
             hostname
      FROM audit_trail_sites ORDER BY site`);
  return rows.map((row) => ({
    site: row.site,
    events: row.events,
    last_audit_id: row.last_audit_id,
    last_sync_at: row.last_sync_at,
    hostname: row.hostname,
  }));
}

/** A site name: 1–64 characters `[A-Za-z0-9._-]`. */
const SITE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Checks a site name (1–64 characters of `A-Z a-z 0-9 . _ -`).
 *
 * @throws {UsageError} When it is not one.
 */
export function checkSiteName(site: string): string {
  if (!SITE_NAME.test(site)) {
    throw new UsageError(`Site "${site}" is not a valid site name`, {
      hint:
        "Use 1-64 characters: unaccented letters A-Z a-z, digits 0-9, dot, underscore or dash (e.g. WH-LYON-1).",
    });
  }
  return site;
}

async function versionIn(sql: Sql): Promise<number> {
  const [row] = await sql`SELECT coalesce(max(version), 0) AS version FROM audit_trail_schema`;
  return row!.version;
}

async function schemaOf(sql: Sql): Promise<string> {
  const [row] = await sql`
    SELECT n.nspname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = 'audit_trail_events'::regclass`;
  return row!.name;
}

function newerSchema(display: string, version: number): SchemaError {
  return new SchemaError(
    `The central store at ${display} has schema version ${version}, newer than this tool knows (${CENTRAL_SCHEMA_VERSION})`,
    { hint: "Use a newer audit-trail; this one could misread the central store." },
  );
}
