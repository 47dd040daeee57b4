import { chainHead } from "../lib/chain/mod.ts";
import { openDatabase } from "../lib/db.ts";
import { requireCurrentSchema } from "../lib/migrate.ts";
import { writeObject } from "../lib/output.ts";
import { type Command, expectAtMost, parseCommandArgs } from "./context.ts";

export const command: Command = {
  help: `audit-trail head — print the newest event's seal, to note as an anchor

USAGE
  audit-trail head [--db PATH] [--format json]

Prints the id and seal (SHA-256) of the newest event. Write it down outside this machine
(a ticket, a daily e-mail): later, "audit-trail verify --anchor ID:HASH" proves that this
event and every event before it are still there, unchanged.

OPTIONS
  --db PATH    the database (default: $AUDIT_TRAIL_DB, else data/app.db)
  --format F   json | ndjson | table (default: table on a terminal, else json)

OUTPUT
  table: ID:HASH, ready to paste after --anchor
  json:  {"audit_id", "hash", "anchor"}  (all null while the log is empty)

EXAMPLES
  audit-trail head
  audit-trail head --format json | jq -r .anchor
`,
  async run(context, args) {
    const { positionals } = parseCommandArgs(context, "head", args, {}, {
      formats: ["json", "ndjson", "table"],
    });
    expectAtMost("head", positionals, 0);
    const { io, dbPath, format } = context;
    using db = openDatabase(dbPath);
    requireCurrentSchema(db);
    const head = chainHead(db);
    if (format === "table") {
      await io.stdout.write(
        head
          ? `${head.audit_id}:${head.hash}\n`
          : "(the audit log is empty: nothing to anchor yet)\n",
      );
    } else {
      const value = head
        ? { ...head, anchor: `${head.audit_id}:${head.hash}` }
        : { audit_id: null, hash: null, anchor: null };
      await writeObject(io.stdout, value, format === "ndjson" ? "ndjson" : "json");
    }
    return 0;
  },
};
