/**
 * audit-trail: who did what to which SKU, and when, in the inventory's SQLite database.
 *
 * Every function takes the open database first, except {@linkcode openDatabase},
 * {@linkcode generateRunId} and {@linkcode exportDebugBundle}. Records use the field names of
 * the command line's JSON output.
 *
 * @example Record two events of one run and read them back
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   generateRunId, getBatchOperations, logAuditEvent, migrate, openDatabase, verifyChain,
 * } from "./mod.ts";
 *
 * using db = openDatabase(await Deno.makeTempFile({ suffix: ".db" }), { create: true });
 * migrate(db);
 * const run_id = generateRunId();
 * logAuditEvent(db, { operation: "ORDER_CONFIRMED", sku: "SKU-1", run_id });
 * logAuditEvent(db, { operation: "ORDER_CONFIRMED", sku: "SKU-2", run_id });
 * assert.equal(getBatchOperations(db, run_id).event_count, 2);
 * assert.equal((await verifyChain(db)).intact, true);
 * ```
 *
 * @module
 */
export { type AuditDatabase, openDatabase, type OpenDatabaseOptions } from "./lib/db.ts";
export {
  AuditTrailError,
  DatabaseBusyError,
  DatabaseCorruptError,
  DatabaseNotFoundError,
  DiskFullError,
  InvalidInputError,
  ReadOnlyDatabaseError,
  SchemaError,
  TamperingFoundError,
  UsageError,
} from "./lib/errors.ts";
export { migrate, type MigrateOptions, type MigrateResult } from "./lib/migrate.ts";
export { generateRunId } from "./lib/run_id.ts";
export type { AuditEvent } from "./lib/event_row.ts";
export { type EventDefaults, logAuditEvent, type NewAuditEvent } from "./lib/events.ts";
export { type BulkInsertResult, logAuditEvents } from "./lib/bulk_append.ts";
export { type AuditLogFilter, getAuditLog } from "./lib/query.ts";
export type { TextSink } from "./lib/output.ts";
export {
  type BatchReport,
  type BatchSummary,
  getBatchOperations,
  listBatches,
} from "./lib/batch.ts";
export {
  type BundleError,
  type BundleFile,
  BundleFolderError,
  type BundleProgress,
  type DatabaseMasking,
  type DebugBundleResult,
  exportDebugBundle,
  type ExportDebugBundleOptions,
  type Manifest,
  type MaskedColumn,
  type Redactions,
  type SnapshotMethod,
  type StepRecord,
  type UnsearchedSecret,
} from "./lib/bundle/mod.ts";
export {
  type ArchiveCheck,
  type ChainFailure,
  type ChainHead,
  chainHead,
  type ChainVerifyResult,
  type TamperKind,
  verifyChain,
  type VerifyChainOptions,
} from "./lib/chain/mod.ts";
export {
  CentralDivergenceError,
  type CentralRecord,
  type CentralTarget,
  type SslMode,
  type SyncOptions,
  type SyncResult,
  syncToCentral,
} from "./lib/central/mod.ts";
export { type AuditStats, type BatchFigures, getStats, type StatsOptions } from "./lib/stats.ts";
export { type ReportSummary, writeReport, type WriteReportOptions } from "./lib/report/report.ts";
export type { ChainVerdict } from "./lib/report/sections.ts";
export { archiveEvents, type ArchiveOptions, type ArchiveResult } from "./lib/archive/mod.ts";
export type { ArchivedRange, Checkpoint } from "./lib/archive/mod.ts";
