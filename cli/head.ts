// From the module that seals, not the chain's entry: that one brings the verifier along.
import { chainHead } from "../lib/chain/seal.ts";
import type { Command } from "./context.ts";
import { expectAtMost, importOnDemand, openCurrentDatabase, parseCommandArgs } from "./context.ts";

export const command: Command = {
  help: `audit-trail head — print the newest event's seal, to note as an anchor

USAGE
  audit-trail head [--db PATH] [--format json]

Prints the id and seal (SHA-256) of the newest event as ID:HASH, alone on its line, on a
terminal and in a pipe alike. Write it down outside this machine (a ticket, a daily
e-mail): later, "audit-trail verify --anchor ID:HASH" proves that this event and every event
before it are still there, unchanged. While the log is empty it prints nothing (and says so
on stderr); events whose seals were all removed are tampering (exit 3), not an empty log.

OPTIONS
  --db PATH    the database (default: $AUDIT_TRAIL_DB, else data/app.db)
  --format F   json | ndjson: {"audit_id", "hash", "anchor"} instead (all null while the log
               is empty); table: ID:HASH, as without --format

EXAMPLES
  audit-trail head
  audit-trail verify --anchor "$(audit-trail head)"
  audit-trail head --format json | jq .audit_id
`,
  async run(context, args) {
    const { positionals } = parseCommandArgs(context, "head", args, {}, {
      formats: ["json", "ndjson", "table"],
    });
    expectAtMost("head", positionals, 0);
    const { io, explicitFormat } = context;
    using db = openCurrentDatabase(context, { onlyReads: true });
    const head = chainHead(db);
    if (explicitFormat === "json" || explicitFormat === "ndjson") {
      const value = head
        ? { ...head, anchor: `${head.audit_id}:${head.hash}` }
        : { audit_id: null, hash: null, anchor: null };
      const { writeObject } = await importOnDemand<typeof import("../lib/output.ts")>(
        "lib/output.ts",
      );
      await writeObject(io.stdout, value, explicitFormat);
    } else if (head) {
      await io.stdout.write(`${head.audit_id}:${head.hash}\n`);
    } else {
      await io.stderr.write("audit-trail: the audit log is empty: nothing to anchor yet\n");
    }
    return 0;
  },
};
