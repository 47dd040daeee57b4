/**
 * The report as a file of a debug bundle: made from the bundle's snapshot, with the chain's
 * verdict the bundle already has; when the database cannot be read, a report that says so.
 *
 * @module
 */
import { type AuditDatabase, openDatabase } from "../db.ts";
import { errorMessage } from "../errors.ts";
import { type ReportSummary, unreadableReport, writeReport } from "./report.ts";
import type { ChainVerdict } from "./sections.ts";

/** The report's name in a debug bundle. */
export const REPORT_NAME = "report.html";

/** Options of {@linkcode writeReportFile}. */
export interface ReportFileOptions {
  /** The database's name as the report shows it. */
  source: string;
  /** The chain's verdict as the bundle found it. */
  chain: ChainVerdict;
  /** Why there is no database to read (it is missing, or no copy could be made). */
  unreadable?: string;
  now?: Date;
  version?: string;
  busyTimeoutMs?: number;
}

/** What {@linkcode writeReportFile} wrote: the report's figures, or why it has none. */
export type ReportFileResult = { summary: ReportSummary } | { problem: string };

/**
 * Writes the report of the database at `databasePath` to `path` (a new file). Should the
 * database not be readable as an audit log, the file still gets written, saying why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { join } from "node:path";
 * import { logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * import { writeReportFile } from "./file.ts";
 * const dir = await Deno.makeTempDir();
 * {
 *   using db = openDatabase(join(dir, "app.db"), { create: true });
 *   migrate(db);
 *   logAuditEvent(db, { operation: "COUNTED", sku: "SKU-1" });
 * }
 * const made = await writeReportFile(join(dir, "app.db"), join(dir, "report.html"), {
 *   source: "app.db",
 *   chain: null,
 * });
 * assert.ok("summary" in made && made.summary.events === 1);
 * const missing = await writeReportFile(null, join(dir, "none.html"), {
 *   source: "gone.db",
 *   chain: null,
 *   unreadable: "Database not found",
 * });
 * assert.ok("problem" in missing);
 * assert.ok((await Deno.readTextFile(join(dir, "none.html"))).includes("Database not found"));
 * ```
 */
export async function writeReportFile(
  databasePath: string | null,
  path: string,
  options: ReportFileOptions,
): Promise<ReportFileResult> {
  const now = options.now ?? new Date();
  let page = "";
  let result: ReportFileResult;
  try {
    if (databasePath === null) throw new Error(options.unreadable ?? "There is no database");
    using db = openDatabase(databasePath, {
      readOnly: true,
      busyTimeoutMs: options.busyTimeoutMs,
    });
    withRunIdColumn(db);
    const sink = { write: (text: string) => Promise.resolve(void (page += text)) };
    const summary = await writeReport(db, sink, {
      source: options.source,
      chain: options.chain,
      now,
      version: options.version,
    });
    result = { summary };
  } catch (error) {
    const problem = errorMessage(error);
    page = unreadableReport(options.source, problem, now);
    result = { problem };
  }
  await Deno.writeTextFile(path, page, { createNew: true });
  return result;
}

/**
 * Lends the `audit_log` of the inventory application, which predates `run_id`, an empty one:
 * the report's queries name it, and a bundle is most wanted for a database not yet migrated.
 * A temporary view is found before the table of the same name, and leaves the file unchanged.
 */
function withRunIdColumn(db: AuditDatabase): void {
  const columns = db.sqlite.prepare("SELECT name FROM pragma_table_info('audit_log')").all();
  if (columns.length === 0 || columns.some((c) => c.name === "run_id")) return;
  db.sqlite.exec(
    "CREATE TEMP VIEW audit_log AS SELECT *, CAST(NULL AS TEXT) AS run_id FROM main.audit_log",
  );
}
