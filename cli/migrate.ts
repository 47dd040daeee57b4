import { databaseExists, openDatabase } from "../lib/db.ts";
import { migrate, MIGRATIONS, migrationStatus } from "../lib/migrate.ts";
import { LATEST_SCHEMA_VERSION } from "../lib/schema.ts";
import { writeObject } from "../lib/output.ts";
import { acknowledge, type Command, expectAtMost, parseCommandArgs } from "./context.ts";

export const command: Command = {
  help: `audit-trail migrate — create the database or bring its schema up to date

USAGE
  audit-trail migrate [--status] [--dry-run] [--db PATH]

Creates the database file (and its folder) if it is missing, then applies every pending
migration, each in its own transaction. Running it again applies nothing. An existing
audit_log of the inventory application is adopted in place: every row is kept.

OPTIONS
  --status     list the migrations and whether each is applied; changes nothing
  --dry-run    show what would be applied; changes nothing (creates no file)
  --db PATH    the database (default: $AUDIT_TRAIL_DB, else data/app.db)
  --format F   json | ndjson | table (default: table on a terminal, else json)

OUTPUT (json)
  {"database", "from_version", "to_version", "applied": [{"version", "name"}]}

EXAMPLES
  audit-trail migrate
  audit-trail migrate --db /srv/inventory/data/app.db --status
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "migrate", args, {
      status: { type: "boolean" },
      "dry-run": { type: "boolean" },
    }, { formats: ["json", "ndjson", "table"] });
    expectAtMost("migrate", positionals, 0);
    const { io, dbPath, format } = context;
    const exists = databaseExists(dbPath);

    if (values.status) {
      const migrations = exists
        ? withDatabase(dbPath, migrationStatus)
        : MIGRATIONS.map(({ version, name }) => ({
          version,
          name,
          status: "pending",
          applied_at: null,
        }));
      const current = migrations.filter((m) => m.status === "applied").length
        ? Math.max(...migrations.filter((m) => m.status === "applied").map((m) => m.version))
        : 0;
      const report = {
        database: dbPath,
        exists,
        current_version: current,
        latest_version: LATEST_SCHEMA_VERSION,
        migrations,
      };
      if (format === "table") {
        const names = migrations.map((m) => `${String(m.version).padStart(3, "0")}_${m.name}`);
        const width = Math.max(...names.map((name) => name.length));
        const lines = migrations.map((m, i) =>
          `  ${names[i].padEnd(width)}  ${m.status}${m.applied_at ? ` (${m.applied_at})` : ""}`
        );
        await io.stdout.write(
          `${dbPath}: schema version ${current} of ${LATEST_SCHEMA_VERSION}${
            exists ? "" : " (file does not exist yet)"
          }\n${lines.join("\n")}\n`,
        );
      } else {
        await writeObject(io.stdout, report, format);
      }
      return 0;
    }

    const result = exists || !values["dry-run"]
      ? withDatabase(dbPath, (db) => migrate(db, { dryRun: values["dry-run"] }), !exists)
      : {
        database: dbPath,
        from_version: 0,
        to_version: LATEST_SCHEMA_VERSION,
        applied: MIGRATIONS.map(({ version, name }) => ({ version, name })),
        dry_run: true,
      };
    const names = result.applied.map((m) => `${String(m.version).padStart(3, "0")}_${m.name}`);
    await acknowledge(
      result.dry_run || names.length === 0
        ? "Nothing was changed"
        : `The database is now at schema version ${result.to_version} (applied ${
          names.join(", ")
        })`,
      "the summary",
      "Running migrate again is safe: it applies only what is missing.",
      () => {
        if (format !== "table") return writeObject(io.stdout, { ...result }, format);
        const verb = result.dry_run ? "would apply" : "applied";
        return io.stdout.write(
          names.length === 0
            ? `${dbPath} is up to date (schema version ${result.to_version}).\n`
            : `${dbPath}: schema version ${result.from_version} -> ${result.to_version}; ${verb} ${
              names.join(", ")
            }.\n`,
        );
      },
    );
    return 0;
  },
};

function withDatabase<T>(
  path: string,
  work: (db: ReturnType<typeof openDatabase>) => T,
  create = false,
): T {
  using db = openDatabase(path, { create });
  return work(db);
}
