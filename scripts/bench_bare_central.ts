/**
 * The bare peer of an incremental sync: one Deno process that loads the same PostgreSQL
 * client (npm `postgres`, with the options audit-trail gives it), logs in as the site's
 * role, asks the central store one question (the site's head) and ends. A sync of a few
 * events cannot cost less: its ratio to this script is what audit-trail adds to one
 * process start with the client plus one round trip.
 *
 * usage:
 *   deno run --allow-all scripts/bench_bare_central.ts URL SITE
 *
 * @module
 */
import postgres from "postgres";

const [url, site] = Deno.args;
const { hostname, port, pathname, username, password } = new URL(url);
const sql = postgres({
  host: hostname,
  port: Number(port || 5432),
  database: decodeURIComponent(pathname.slice(1)),
  user: decodeURIComponent(username),
  pass: decodeURIComponent(password),
  ssl: "prefer",
  prepare: true,
  fetch_types: false,
  idle_timeout: 0,
  max_lifetime: 0,
  connection: { application_name: "audit-trail-bench" },
});
const [row] = await sql`SELECT last_audit_id FROM audit_trail_sites WHERE site = ${site}`;
await sql.end({ timeout: 5 });
await Deno.stdout.write(new TextEncoder().encode(`${row?.last_audit_id ?? null}\n`));
