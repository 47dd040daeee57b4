/**
 * What the tests reach beyond the public API of `mod.ts`: the library's internals, re-exported
 * from their modules in one place so that test files read like users of the library.
 *
 * @module
 */
export {
  AuditDatabase,
  BUSY_TIMEOUT_MS,
  openDatabase,
  type OpenDatabaseOptions,
  readTransaction,
  writeTransaction,
} from "../lib/db.ts";
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
} from "../lib/errors.ts";
export {
  migrate,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
  MIGRATIONS,
  type MigrationStatus,
  migrationStatus,
} from "../lib/migrate.ts";
export {
  KNOWN_MIGRATIONS,
  LATEST_SCHEMA_VERSION,
  requireCurrentSchema,
  schemaVersion,
  SUPERSEDED_MIGRATIONS,
} from "../lib/schema.ts";
export { generateRunId, runIdProblem, validateRunId } from "../lib/run_id.ts";
export type { AuditEvent } from "../lib/event_row.ts";
export {
  type EventDefaults,
  logAuditEvent,
  MAX_DETAILS_LENGTH,
  MAX_OPERATION_LENGTH,
  type NewAuditEvent,
} from "../lib/events.ts";
export {
  type BulkInsertResult,
  logAuditEvents,
  logNumberedEvents,
  type NumberedInput,
} from "../lib/bulk_append.ts";
export { readNdjson } from "../lib/ndjson.ts";
export {
  type AuditLogFilter,
  DEFAULT_QUERY_LIMIT,
  getAuditLog,
  streamAuditLog,
} from "../lib/query.ts";
export { parseTimeBound, PAST_LAST_MS, type TimeRange } from "../lib/time_bound.ts";
export {
  BATCH_END,
  BATCH_START,
  type BatchReport,
  type BatchSummary,
  getBatchOperations,
  listBatches,
  writeBatchReport,
} from "../lib/batch.ts";
export { endBatch, startBatch } from "../lib/batch_run.ts";
export {
  type BundleError,
  type BundleFile,
  type BundleProgress,
  type DatabaseStats,
  type DebugBundleResult,
  DEFAULT_AUDIT_LIMIT,
  exportDebugBundle,
  type ExportDebugBundleOptions,
  type Manifest,
  type SnapshotMethod,
  type StepRecord,
  type SystemInfo,
  verifyBundle,
  type VerifyResult,
} from "../lib/bundle/mod.ts";
export {
  archiveEvents,
  type ArchiveOptions,
  type ArchiveResult,
  type Checkpoint,
} from "../lib/archive/mod.ts";
export {
  type ArchiveCheck,
  type ChainFailure,
  chainHash,
  type ChainHead,
  chainHead,
  type ChainVerifyResult,
  GENESIS_HASH,
  parseAnchor,
  type SealedFields,
  type TamperKind,
  verifyChain,
  type VerifyChainOptions,
} from "../lib/chain/mod.ts";
export {
  type AuditStats,
  type BatchFigures,
  DEFAULT_STATS_TOP,
  getStats,
  type StatsOptions,
} from "../lib/stats.ts";
export { type ReportSummary, writeReport, type WriteReportOptions } from "../lib/report/report.ts";
export { instant } from "../lib/central/sync.ts";
export { planCentralQuery } from "../lib/central/query.ts";
