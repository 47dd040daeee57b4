/**
 * Debug bundles: a support package of the database (a consistent snapshot), the newest
 * events, figures, versions and redacted settings, with a manifest of checksums, made even
 * when the database is locked, damaged or missing; and checking one against its manifest.
 *
 * @module
 */
export {
  type DebugBundleResult,
  DEFAULT_AUDIT_LIMIT,
  exportDebugBundle,
  type ExportDebugBundleOptions,
} from "./export.ts";
export type { BundleProgress } from "./steps.ts";
export { BundleFolderError } from "./workspace.ts";
export type { BundleError, Manifest, Redactions, StepRecord } from "./manifest.ts";
export type { DatabaseMasking, MaskedColumn } from "./mask_database.ts";
export type { UnsearchedSecret } from "./mask.ts";
export type { BundleFile } from "./files.ts";
export type { SnapshotMethod } from "./snapshot.ts";
export type { DatabaseStats } from "./stats.ts";
export type { SystemInfo, Versions } from "./system_info.ts";
export { verifyBundle, type VerifyResult } from "./verify.ts";
export { isSecretKey, redactConnectionString, REDACTED, redactSettings } from "./redact.ts";
export { MIN_MASKED_LENGTH, SecretMasker, WHOLE_TOKEN_BELOW } from "./mask.ts";
