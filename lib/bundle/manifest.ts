/**
 * `manifest.json`: what the bundle is, what it holds (each file with size and SHA-256), what
 * failed, and how long each step took.
 *
 * @module
 */
import type { Checkpoint } from "../archive/checkpoint_list.ts";
import type { ChainFailure, ChainHead, ChainVerifyResult } from "../chain/mod.ts";
import type { CentralRecord } from "../central/local.ts";
import type { BundleFile } from "./files.ts";
import type { DatabaseMasking } from "./mask_database.ts";
import type { UnsearchedSecret } from "./mask.ts";
import type { SnapshotMethod } from "./snapshot.ts";
import type { DatabaseStats } from "./stats.ts";
import type { Versions } from "./system_info.ts";

/** The manifest's own name in the bundle. */
export const MANIFEST_NAME = "manifest.json";

/** One step of making the bundle, as the manifest records it. */
export interface StepRecord {
  /** 1-based position in the order the steps ran. */
  step: number;
  name: string;
  /** The file the step writes, if it writes one. */
  file: string | null;
  /** `partial` when the step saved something but not all it should have. */
  status: "ok" | "partial" | "failed" | "skipped" | "timed_out";
  duration_ms: number;
}

/** Something that could not be collected. */
export interface BundleError {
  /** The step (or file) it concerns. */
  step: string;
  message: string;
}

/**
 * Where secrets were masked: the settings' wherever they appear (`[REDACTED]` in text, `*`
 * byte for byte in a raw database copy), and the application's credentials in
 * database_backup.db (app_secrets.ts). The rules are in README.txt.
 */
export interface Redactions {
  /** Everything masked, all files together. */
  total: number;
  /**
   * Per file: values redacted in settings.json; occurrences masked in database_backup.db
   * (each credential column's value counts one), the JSON files, README.txt and a raw copy;
   * cells showing the marker in audit_log.csv.
   */
  files: Record<string, number>;
  /** Distinct secret values of the settings looked for in every file. */
  secrets_searched: number;
  /** Secrets of the settings too short to look for elsewhere (hidden in settings.json only). */
  not_searched: UnsearchedSecret[];
  /**
   * What was masked in database_backup.db, per table and column with the count of cells and
   * why (`by`: `column name`, `settings`, or a pattern's rule id), and the audit_ids of the
   * events whose seals no longer match them (`null` when there is no such copy).
   */
  database: DatabaseMasking | null;
}

/** The content of `manifest.json`. */
export interface Manifest {
  bundle_id: string;
  /** UTC, ISO 8601. */
  created_at: string;
  /** `true` when every step succeeded and `errors` is empty. */
  complete: boolean;
  database_path: string;
  database_exists: boolean;
  database_size_bytes: number | null;
  database_size_mb: number | null;
  wal_size_bytes: number | null;
  schema_version: number | null;
  tables_count: number | null;
  total_rows: number | null;
  /** Events in the database's `audit_log`. */
  audit_records_count: number | null;
  /** Rows in `audit_log.csv`. */
  audit_records_exported: number | null;
  integrity_ok: boolean | null;
  /** The newest seal of the audit log's hash chain (an anchor for `verify --anchor`). */
  chain_head: ChainHead | null;
  /** `audit-trail verify` of the database; null when not checked (schema before 3, or failed). */
  chain_verify: {
    intact: boolean;
    events_checked: number;
    append_only: boolean;
    failure: ChainFailure | null;
  } | null;
  /**
   * The archive checkpoints (`audit-trail archive`): each archive file's events, name, size
   * and SHA-256. The archive files themselves are never copied into a bundle. Null when the
   * database could not be read.
   */
  archives: Checkpoint[] | null;
  /**
   * The database's record of the central store it syncs to (`audit-trail sync`): the site,
   * the store (its password shown as `***`), when it first and last synced, and the newest
   * event the store acknowledged. Null before the first sync, or when the database could
   * not be read.
   */
  central: CentralRecord | null;
  audit_trail_version: string;
  deno_version: string;
  v8_version: string;
  typescript_version: string;
  sqlite_version: string;
  /** `os arch`, e.g. `windows x86_64`. */
  platform: string;
  settings_included: boolean;
  settings_path: string;
  /** Settings keys whose values were replaced (the values themselves never appear). */
  settings_redacted_keys: string[];
  /** Where the settings' secrets were masked in the other files, and how many. */
  redactions: Redactions;
  snapshot: { method: SnapshotMethod | null; consistent: boolean; note: string };
  steps: StepRecord[];
  errors: BundleError[];
  /** Every file of the bundle but the manifest itself. */
  files: BundleFile[];
}

/** Everything the manifest is made from. */
export interface ManifestFacts {
  bundleId: string;
  createdAt: Date;
  databasePath: string;
  databaseExists: boolean;
  databaseBytes: number | null;
  walBytes: number | null;
  stats: DatabaseStats | null;
  chain: ChainVerifyResult | null;
  archives: Checkpoint[] | null;
  central: CentralRecord | null;
  exported: number | null;
  versions: Versions;
  settings: { included: boolean; path: string; redactedKeys: string[] };
  redactions: Redactions;
  snapshot: Manifest["snapshot"];
  steps: StepRecord[];
  errors: BundleError[];
  files: BundleFile[];
}

/** Builds the manifest: the one place that decides its fields. */
export function buildManifest(facts: ManifestFacts): Manifest {
  const { stats, versions } = facts;
  const auditLog = stats?.tables.find((t) => t.name === "audit_log");
  return {
    bundle_id: facts.bundleId,
    created_at: facts.createdAt.toISOString(),
    complete: facts.errors.length === 0,
    database_path: facts.databasePath,
    database_exists: facts.databaseExists,
    database_size_bytes: facts.databaseBytes,
    database_size_mb: facts.databaseBytes === null
      ? null
      : Math.round(facts.databaseBytes / 1024 / 1024 * 100) / 100,
    wal_size_bytes: facts.walBytes,
    schema_version: stats?.schema_version ?? null,
    tables_count: stats?.tables_count ?? null,
    total_rows: stats?.total_rows ?? null,
    audit_records_count: auditLog?.rows ?? null,
    audit_records_exported: facts.exported,
    integrity_ok: stats?.integrity_check.ok ?? null,
    chain_head: facts.chain?.head ?? null,
    chain_verify: facts.chain
      ? {
        intact: facts.chain.intact,
        events_checked: facts.chain.events_checked,
        append_only: facts.chain.append_only,
        failure: facts.chain.failure,
      }
      : null,
    archives: facts.archives,
    central: facts.central,
    audit_trail_version: versions.audit_trail,
    deno_version: versions.deno,
    v8_version: versions.v8,
    typescript_version: versions.typescript,
    sqlite_version: versions.sqlite,
    platform: `${Deno.build.os} ${Deno.build.arch}`,
    settings_included: facts.settings.included,
    settings_path: facts.settings.path,
    settings_redacted_keys: facts.settings.redactedKeys,
    redactions: facts.redactions,
    snapshot: facts.snapshot,
    steps: facts.steps,
    errors: facts.errors,
    files: facts.files,
  };
}
