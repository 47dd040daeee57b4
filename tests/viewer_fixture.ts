/**
 * A log for the report, viewer and browser tests: an inventory database adopted by migrate
 * (legacy timestamps, NULL users), batches, and details that try to inject markup.
 *
 * @module
 */
import { join } from "node:path";
import {
  type AuditDatabase,
  endBatch,
  logAuditEvent,
  migrate,
  openDatabase,
  startBatch,
} from "./internals.ts";
import { writeLegacyDatabase } from "./fixtures.ts";

/** Details that would run script if a page put them in unescaped. */
export const XSS_DETAILS =
  `<script>document.title="pwned"</script><img src=x onerror="document.body.dataset.pwned=1">`;

/** An adopted legacy log (mixed timestamps, NULL users) with batches and hostile details. */
export function viewerFixture(dir: string): string {
  const path = join(dir, "app.db");
  writeLegacyDatabase(path, { legacy002: true });
  using db: AuditDatabase = openDatabase(path);
  migrate(db);
  const { run_id } = startBatch(db, "Nightly <import>", { user: "cron" });
  logAuditEvent(db, { operation: "ORDER_CONFIRMED", sku: "SKU-1001", run_id, user: "cron" });
  logAuditEvent(db, { operation: "NOTE", sku: "SKU-1002", details: XSS_DETAILS, user: "eve" });
  logAuditEvent(db, { operation: "NOTE", details: "Grüße aus München, ÄÖÜ", user: "jürgen" });
  endBatch(db, run_id!, "exit code 3 after 1.000 s", { user: "cron" });
  startBatch(db, "odd run id", { runId: "a<b>&c/%d'e", user: "cron" });
  return path;
}
