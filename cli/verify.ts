import { countOf } from "../lib/count.ts";
import { type ChainVerifyResult, verifyChain } from "../lib/chain/mod.ts";
import { TamperingFoundError, UsageError } from "../lib/errors.ts";
import { writeObject } from "../lib/output.ts";
import type { Command } from "./context.ts";
import { expectAtMost, importOnDemand, openCurrentDatabase, parseCommandArgs } from "./context.ts";

export const command: Command = {
  help: `audit-trail verify — check that no audit event was changed or removed

USAGE
  audit-trail verify [--anchor ID:HASH] [--archives DIR] [--db PATH] [--format json]

Every event is sealed with a SHA-256 hash of its fields and of the seal before it. verify
recomputes the whole chain and names the first event that fails and what happened to it:
modified, deleted, inserted (added without audit-trail) or reordered.

Deleting the newest events, or recomputing every seal after a change, leaves a chain that
still holds together. To catch that, note the output of "audit-trail head" somewhere else
(a ticket, a daily e-mail) and give it back later with --anchor: verify then also proves that
this event is still there, unchanged.

After "audit-trail archive", the oldest events live in archive files: verify starts from the
newest checkpoint's seal and says how far events are archived. With --archives DIR it also
checks every archive file (missing, altered, swapped or foreign files are tampering) and that
each continues the one before it and into the live log.

OPTIONS
  --anchor ID:HASH   an earlier "audit-trail head": that event must still carry that seal
  --archives DIR     also check the archive files in DIR (needed for an anchor among them)
  --db PATH          the database (default: $AUDIT_TRAIL_DB, else data/app.db)
  --format F         json | ndjson | table (default: table on a terminal, else json)
  --central URL      check the central store (PostgreSQL) instead: every site's chain
                     recomputed from the central rows; prints {"central", "sites": [{"site",
                     "events_checked", "intact", "failure"}]}; what the URL leaves out comes
                     from its ?service= (or PGSERVICE), then PGHOST, PGPORT, PGUSER,
                     PGDATABASE as with libpq (postgres:///audit; see audit-trail help sync);
                     each answer is awaited $AUDIT_TRAIL_CENTRAL_TIMEOUT seconds (default 40)
  --site SITE        with --central: only this site (exit 1 when none of its events can be
                     read there: a mistyped name, or a role that may not read it)

OUTPUT (json)
  {"database", "intact", "events_checked", "head": {"audit_id", "hash"},
   "anchor": {"audit_id", "hash", "matches"} | null, "append_only",
   "failure": {"audit_id", "kind", "message", "file"?} | null, "archived_through": N | null,
   "archives": [{"file", "first_audit_id", "last_audit_id", "events_checked", "intact"}] | null,
   "warnings": [...]}

EXIT CODES
  0 intact   1 the database cannot be read   2 bad option   3 tampering found

EXAMPLES
  audit-trail verify
  audit-trail verify --anchor 1042:9f2c5e0a...   (the 64 hex digits printed by head)
  audit-trail verify --format json | jq .failure
  audit-trail verify --archives /mnt/audit-archive
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "verify", args, {
      anchor: { type: "string" },
      central: { type: "string" },
      site: { type: "string" },
      archives: { type: "string" },
    }, { formats: ["json", "ndjson", "table"], paths: ["archives"] });
    expectAtMost("verify", positionals, 0);
    if (values.central !== undefined) {
      if (values.anchor !== undefined || values.archives !== undefined) {
        throw new UsageError(
          `${
            values.anchor !== undefined ? "--anchor" : "--archives"
          } is for this database, not for --central`,
          { hint: "Leave it out to check the central store, or leave out --central." },
        );
      }
      const { verifyCentralCommand } = await importOnDemand<typeof import("./central.ts")>(
        "cli/central.ts",
      );
      return await verifyCentralCommand(context, values.central, values.site);
    }
    if (values.site !== undefined) {
      throw new UsageError("--site is for --central", { hint: "Add --central URL." });
    }
    const { io, dbPath, format } = context;
    using db = openCurrentDatabase(context, { onlyReads: true });
    const result = await verifyChain(db, { anchor: values.anchor, archives: values.archives });
    const report = { database: dbPath, ...result };
    if (format === "table") {
      const lines = [`${dbPath}: ${countOf(result.events_checked, "event")} checked`];
      lines.push(...archiveLines(result));
      if (result.head) lines.push(`head    ${result.head.audit_id}:${result.head.hash}`);
      if (result.anchor) {
        const verdict = result.anchor.matches === null
          ? "not reached"
          : result.anchor.matches
          ? "matches"
          : "does NOT match";
        lines.push(`anchor  ${result.anchor.audit_id}:${result.anchor.hash} ${verdict}`);
      }
      lines.push(
        result.failure
          ? `result  TAMPERED: event ${result.failure.audit_id} ${result.failure.kind}`
          : "result  intact",
      );
      await io.stdout.write(lines.join("\n") + "\n");
    } else {
      await writeObject(io.stdout, report, format === "ndjson" ? "ndjson" : "json");
    }
    for (const warning of result.warnings) {
      await io.stderr.write(`audit-trail: warning: ${warning}\n`);
    }
    if (!result.append_only) {
      await io.stderr.write(
        "audit-trail: warning: the triggers that keep audit_log append-only are missing: someone removed the protection\n",
      );
    }
    if (result.failure) {
      const evidence = result.failure.file
        ? "the database and the archive files as they are: they are"
        : "the database file as it is: it is";
      throw new TamperingFoundError(`Tampering found: ${result.failure.message}`, {
        hint:
          `Leave ${evidence} the evidence. Tell your supervisor, and send support a debug bundle (audit-trail bundle).`,
      });
    }
    return 0;
  },
};

/** The terminal lines about archived events. */
function archiveLines(result: ChainVerifyResult): string[] {
  if (result.archived_through === null) return [];
  const lines = [`events up to ${result.archived_through} archived`];
  for (const archive of result.archives ?? []) {
    lines.push(
      `archive ${archive.file}: events ${archive.first_audit_id}–${archive.last_audit_id} ${
        archive.intact ? "intact" : "NOT intact"
      }`,
    );
  }
  return lines;
}
