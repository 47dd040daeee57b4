/**
 * Making a debug bundle: a table of independent, time-bounded steps, each writing its own
 * file, so that one failure costs only its own part; then the secret scan, the manifest, and
 * the move to the final name. What the steps learn is kept in one state object.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { type Checkpoint, readCheckpoints } from "../archive/checkpoint_list.ts";
import { openDatabase } from "../db.ts";
import { type CentralRecord, centralRecord } from "../central/local.ts";
import type { ChainVerifyResult } from "../chain/mod.ts";
import { createHash } from "node:crypto";
import { requireCount } from "../count.ts";
import { AuditTrailError, DatabaseBusyError, errorMessage, notReadBecause } from "../errors.ts";
import type { AuditRow } from "../event_row.ts";
import { freeDiskBytes } from "../io.ts";
import { exportAuditCsv } from "./audit_csv.ts";
import { checkDatabase } from "./check.ts";
import { type BundleFile, fileSize, hashFile, writeNewTextFile } from "./files.ts";
import {
  buildManifest,
  type BundleError,
  type Manifest,
  MANIFEST_NAME,
  type Redactions,
} from "./manifest.ts";
import { maskDatabase } from "./mask_database.ts";
import { maskFileBytes, MIN_MASKED_LENGTH, SecretMasker } from "./mask.ts";
import { README_NAME, readmeText } from "./readme.ts";
import {
  jsonErrorPosition,
  REDACTED,
  redactSettings,
  SecretScanner,
  secretsInText,
  type SecretValue,
} from "./redact.ts";
import { BACKUP_NAME, RAW_NAME, snapshotDatabase, type SnapshotOutcome } from "./snapshot.ts";
import type { DatabaseStats } from "./stats.ts";
import { REPORT_NAME, writeReportFile } from "../report/file.ts";
import { collectSystemInfo, versions } from "./system_info.ts";
import { TOOL_VERSION } from "../version.ts";
import { type BundleProgress, type StepReport, type StepRunner, stepRunner } from "./steps.ts";
import { bundleBaseName, BundleFolderError, BundleWorkspace } from "./workspace.ts";
import { FolderZip } from "./zip.ts";

/** Options of {@linkcode exportDebugBundle}. */
export interface ExportDebugBundleOptions {
  /** The database file. It is only read, and never created when missing. */
  database: string;
  /** Where the bundle goes (created if needed); default `debug_bundles/` beside the database. */
  outputDir?: string | undefined;
  /** How many of the newest events go into `audit_log.csv` (default 1000; 0 means all). */
  auditLimit?: number | undefined;
  /** Write one ZIP instead of a folder. */
  compress?: boolean | undefined;
  /** The settings file to include, redacted; default `settings.json` beside the database. */
  settingsPath?: string | undefined;
  /** Told when each step starts and ends, for a progress display. */
  onProgress?: ((progress: BundleProgress) => void) | undefined;
  /** Abort to stop: temporary files are removed and the promise rejects with the reason. */
  signal?: AbortSignal | undefined;
  /** The bundle's time, which names it (default: now). */
  now?: Date | undefined;
  /** Time limit of every collection step, in milliseconds (default: per step, 15 s to 10 min). */
  stepTimeoutMs?: number | undefined;
  /** How long to wait for another program's database lock (default 3,000 ms). */
  busyTimeoutMs?: number | undefined;
  /**
   * Check the database in worker threads (default `true`), so that the snapshot is
   * compressed meanwhile; `false` checks it in this thread. Where no worker can be started,
   * the bundle falls back to that by itself. The bundle is the same either way.
   */
  parallel?: boolean | undefined;
}

/** What {@linkcode exportDebugBundle} made. */
export interface DebugBundleResult {
  /** The bundle folder or ZIP. */
  path: string;
  bundle_id: string;
  /** `true` when nothing failed; otherwise `errors` says what is missing. */
  complete: boolean;
  errors: BundleError[];
  manifest: Manifest;
}

/** Default number of events in `audit_log.csv`. */
export const DEFAULT_AUDIT_LIMIT = 1000;
const DEFAULT_BUSY_TIMEOUT_MS = 3_000;
const MAX_SETTINGS_BYTES = 5 * 1024 * 1024;
const SETTINGS_NAME = "settings.json";
const STATS_NAME = "database_stats.json";
const CSV_NAME = "audit_log.csv";
const SYSTEM_INFO_NAME = "system_info.json";
const TEXT_FILE = /\.(csv|json|txt|html)$/;

/** Everything a bundle's steps share: the settled options, and what each step found. */
interface Bundle {
  databasePath: string;
  outputDir: string;
  settingsPath: string;
  /** Whether the settings file was named (a missing one is then an error). */
  settingsNamed: boolean;
  auditLimit: number;
  busyTimeoutMs: number;
  compress: boolean;
  parallel: boolean;
  createdAt: Date;
  signal?: AbortSignal | undefined;
  workspace: BundleWorkspace;
  run: StepRunner;
  errors: BundleError[];
  database: { exists: boolean; bytes: number | null; walBytes: number | null };
  /** The settings' secret values, looked for in every other file. */
  secrets: SecretValue[];
  masker: SecretMasker;
  settings: { included: boolean; path: string; redactedKeys: string[] };
  redactions: Redactions;
  snapshot?: SnapshotOutcome | undefined;
  stats?: DatabaseStats | undefined;
  chain: ChainVerifyResult | null;
  /** Why the chain could not be verified, when it could not. */
  chainProblem?: string | undefined;
  exported: number | null;
  /** With `compress`: the ZIP, opened once the snapshot is ready to go in. */
  zip?: FolderZip | undefined;
  /** The snapshot's size and SHA-256, taken as it went into the ZIP. */
  backupZipped?: Promise<BundleFile> | undefined;
}

/** A collection step: its progress title, the file it writes, and its time limit. */
interface CollectStep {
  title: string;
  file: string;
  timeoutMs: number;
  /** Needs the database: skipped when there is none. */
  database?: true;
  run(bundle: Bundle, signal: AbortSignal): Promise<StepReport>;
}

/** The collection steps, in the order they run. */
const STEPS: readonly CollectStep[] = [
  { title: "Reading the settings", file: SETTINGS_NAME, timeoutMs: 15_000, run: readSettings },
  {
    title: "Copying the database",
    file: BACKUP_NAME,
    timeoutMs: 600_000,
    database: true,
    run: copyDatabase,
  },
  {
    title: "Checking the database",
    file: STATS_NAME,
    timeoutMs: 300_000,
    database: true,
    run: checkTheDatabase,
  },
  {
    title: "Exporting the newest events",
    file: CSV_NAME,
    timeoutMs: 300_000,
    database: true,
    run: exportEvents,
  },
  { title: "Writing the report", file: REPORT_NAME, timeoutMs: 300_000, run: writeTheReport },
  {
    title: "Collecting system information",
    file: SYSTEM_INFO_NAME,
    timeoutMs: 15_000,
    run: systemInfo,
  },
];

/**
 * Makes a debug bundle of the database: `database_backup.db` (a consistent snapshot, even
 * while other programs write), `audit_log.csv`, `database_stats.json`, `system_info.json`,
 * `settings.json` (secrets redacted), `README.txt` and `manifest.json` (every file with its
 * size and SHA-256). The settings' secrets are masked wherever else they appear (the events,
 * the snapshot, every file), and the manifest's `redactions` says how many and where. A
 * locked, damaged or missing database still gives a bundle: what failed is listed in
 * `errors` and `complete` is `false`. The bundle appears under its final name only once it
 * is whole.
 *
 * @param options The database, and where and how to write the bundle.
 * @returns The bundle's path, whether it is complete, its errors and its manifest.
 * @throws {BundleFolderError} When the output folder cannot be written or its disk is full.
 * @throws {AuditTrailError} When a secret of the settings is still found in a text file
 * after masking (nothing is saved then).
 * @throws {UsageError} For a bad `auditLimit`.
 *
 * @example Bundle a database into a folder
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportDebugBundle, logAuditEvent, migrate, openDatabase } from "../../mod.ts";
 * const dir = await Deno.makeTempDir();
 * {
 *   using db = openDatabase(`${dir}/app.db`, { create: true });
 *   migrate(db);
 *   logAuditEvent(db, { operation: "SKU_CREATED", sku: "SKU-1" });
 * }
 * const bundle = await exportDebugBundle({ database: `${dir}/app.db` });
 * assert.equal(bundle.complete, true);
 * assert.equal(bundle.manifest.audit_records_exported, 1);
 * ```
 */
export async function exportDebugBundle(
  options: ExportDebugBundleOptions,
): Promise<DebugBundleResult> {
  const auditLimit = requireCount(options.auditLimit ?? DEFAULT_AUDIT_LIMIT, "The audit limit");
  options.signal?.throwIfAborted();
  const createdAt = options.now ?? new Date();
  const databasePath = resolve(options.database);
  const outputDir = resolve(options.outputDir ?? join(dirname(databasePath), "debug_bundles"));
  const compress = options.compress ?? false;
  await using workspace = await BundleWorkspace.create(
    outputDir,
    bundleBaseName(createdAt),
    compress,
  );
  const errors: BundleError[] = [];
  const settingsPath = resolve(
    options.settingsPath ?? join(dirname(databasePath), SETTINGS_NAME),
  );
  const [bytes, walBytes, exists] = await Promise.all([
    fileSize(databasePath),
    fileSize(databasePath + "-wal"),
    Deno.lstat(databasePath).then(() => true, () => false),
  ]);
  const bundle: Bundle = {
    databasePath,
    outputDir,
    settingsPath,
    settingsNamed: options.settingsPath !== undefined,
    auditLimit,
    busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    compress,
    parallel: options.parallel ?? true,
    createdAt,
    signal: options.signal,
    workspace,
    errors,
    run: stepRunner({
      steps: STEPS.length + 2,
      dir: workspace.dir,
      errors,
      onProgress: options.onProgress,
      signal: options.signal,
      timeoutMs: options.stepTimeoutMs,
      describe: describeError,
    }),
    database: { exists, bytes, walBytes },
    secrets: [],
    masker: new SecretMasker([]),
    settings: { included: false, path: settingsPath, redactedKeys: [] },
    redactions: {
      total: 0,
      files: {},
      secrets_searched: 0,
      not_searched: [],
      database: null,
    },
    chain: null,
    exported: null,
  };
  // Disposed of before the workspace: an unfinished ZIP lets go of its files before cleanup.
  await using _zip = {
    [Symbol.asyncDispose]: async () => await bundle.zip?.abort(options.signal?.reason),
  };

  if (!exists) {
    errors.push({
      step: "database",
      message: `Database not found: "${databasePath}" (the bundle never creates one)`,
    });
  }
  for (const step of STEPS) {
    if (step.database && !exists) {
      bundle.run.skip(step.title, step.file, "no database");
      continue;
    }
    await bundle.run.step(
      step.title,
      step.file,
      step.timeoutMs,
      (signal) => step.run(bundle, signal),
    );
  }
  const manifest = await bundle.run.final(
    "Writing the summary and checksums",
    MANIFEST_NAME,
    () => writeManifest(bundle),
  ).catch(whenDiskFull(outputDir));
  const path = await bundle.run.final(
    compress ? "Compressing" : "Saving the bundle",
    compress ? `${workspace.bundleId}.zip` : workspace.bundleId,
    () => workspace.finish(async () => await packZip(bundle, manifest)),
    fileSize,
  ).catch(whenDiskFull(outputDir));
  return {
    path,
    bundle_id: workspace.bundleId,
    complete: manifest.complete,
    errors: manifest.errors,
    manifest,
  };
}

// --- the steps -------------------------------------------------------------------------------

/** `settings.json`, redacted; its secrets become what every other file is masked for. */
async function readSettings(bundle: Bundle): Promise<StepReport> {
  const path = bundle.settingsPath;
  const text = await readSettingsText(path, bundle.settingsNamed);
  if (text === null) return { note: "no settings file" };
  const leftOut = (why: string) => {
    useSecrets(bundle, secretsInText(text));
    return new Error(`The settings file "${path}" was left out: ${why}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw leftOut(jsonErrorPosition(text, error));
  }
  let redaction: Awaited<ReturnType<typeof redactSettings>>;
  try {
    redaction = await redactSettings(parsed);
  } catch (error) {
    // JSON.parse takes any depth, but walking it recursively runs out of stack.
    if (!(error instanceof RangeError)) throw error;
    throw leftOut("it is nested too deeply to be read");
  }
  useSecrets(bundle, redaction.secrets);
  // A value equal to a secret under a harmless key (`"user": "admin"` beside
  // `"password": "admin"`) is masked too.
  const { value: masked, count } = bundle.masker.maskJson(redaction.redacted, { keys: true });
  await writeNewTextFile(
    bundle.workspace.path(SETTINGS_NAME),
    JSON.stringify(masked, null, 2) + "\n",
  );
  countRedactions(bundle, SETTINGS_NAME, redaction.paths.length + count);
  bundle.settings.included = true;
  bundle.settings.redactedKeys = redaction.paths;
  return { files: [SETTINGS_NAME] };
}

/**
 * `database_backup.db`: the snapshot, with the settings' secrets masked in it; then, with
 * `compress`, it goes into the ZIP while the database is checked.
 */
async function copyDatabase(bundle: Bundle, signal: AbortSignal): Promise<StepReport> {
  const snapshot = await snapshotDatabase(bundle.databasePath, bundle.workspace.dir, {
    busyTimeoutMs: bundle.busyTimeoutMs,
    signal,
  });
  bundle.snapshot = snapshot;
  const problems = [...snapshot.problems];
  let note = snapshot.consistent ? "consistent copy" : undefined;
  if (bundle.masker.active) {
    for (const name of snapshot.files.filter((f) => f.startsWith(RAW_NAME))) {
      countRedactions(
        bundle,
        name,
        await maskFileBytes(bundle.workspace.path(name), bundle.masker),
      );
    }
  }
  if (snapshot.files.includes(BACKUP_NAME)) {
    // The application's credentials are masked whether or not the settings name any.
    const masking = maskDatabase(bundle.workspace.path(BACKUP_NAME), bundle.masker, signal);
    bundle.redactions.database = masking;
    countRedactions(bundle, BACKUP_NAME, masking.occurrences);
    if (masking.cells) note = `${note ? `${note}, ` : ""}${masking.cells} values masked`;
    // The check that masking worked: a secret still there fails the step, which removes
    // the file rather than ship it.
    const scanner = new SecretScanner(bundle.secrets);
    const scan = scanner.file();
    if (scanner.active) {
      await hashFile(bundle.workspace.path(BACKUP_NAME), { signal, onChunk: scan.feed });
    }
    const left = scan.found();
    if (left.length) {
      throw new Error(
        `${BACKUP_NAME} was left out: the value of the settings key ${
          left.map((k) => `"${k}"`).join(", ")
        } could not be masked in it`,
      );
    }
  }
  if (bundle.compress && snapshot.files.includes(BACKUP_NAME)) await zipBackup(bundle);
  return { files: snapshot.files, note, problems };
}

/** `database_stats.json`, the integrity check, and the walk of the hash chain. */
async function checkTheDatabase(bundle: Bundle, signal: AbortSignal): Promise<StepReport> {
  const checked = await checkDatabase(bundle.databasePath, {
    busyTimeoutMs: bundle.busyTimeoutMs,
    // The snapshot just read every table of the file without a read error: a memory map is
    // then a small risk for a large gain (a disk's read error would end the process).
    memoryMap: bundle.snapshot?.consistent === true,
    signal,
    workers: bundle.parallel,
  });
  const stats = checked.stats;
  bundle.stats = stats;
  await writeJson(bundle, STATS_NAME, stats);
  const problems = stats.integrity_check.ok
    ? []
    : [`integrity check: ${summarize(stats.integrity_check.messages)}`];
  if ("error" in checked.chain) {
    bundle.chainProblem = `audit chain not verified: ${describeError(checked.chain.error)}`;
    problems.push(bundle.chainProblem);
  } else {
    bundle.chain = checked.chain.result;
    if (bundle.chain?.failure) problems.push(`audit chain: ${bundle.chain.failure.message}`);
  }
  return { files: [STATS_NAME], problems };
}

/** `audit_log.csv`: the newest events, masked. */
async function exportEvents(bundle: Bundle, signal: AbortSignal): Promise<StepReport> {
  // The backup, when there is one, is what the CSV is read from: it is consistent with the
  // CSV, and reading it never waits for the live database's locks.
  const source = bundle.snapshot?.files.includes(BACKUP_NAME)
    ? bundle.workspace.path(BACKUP_NAME)
    : bundle.databasePath;
  let cells = 0;
  const mapRow = (row: Readonly<AuditRow>) => {
    const { value } = bundle.masker.maskJson(row);
    // Counted as cells that show the marker: those read from the backup were masked there.
    for (const cell of value) {
      if (typeof cell === "string" && cell.includes(REDACTED)) cells++;
    }
    return value;
  };
  bundle.exported = await exportAuditCsv(source, bundle.workspace.path(CSV_NAME), {
    limit: bundle.auditLimit,
    busyTimeoutMs: bundle.busyTimeoutMs,
    signal,
    mapRow: bundle.masker.active ? mapRow : undefined,
  });
  countRedactions(bundle, CSV_NAME, cells);
  return { files: [CSV_NAME], note: `${bundle.exported} events` };
}

/**
 * `report.html`, made from the snapshot (masked like the CSV, whole values only, so it shows
 * what the CSV shows) with the chain's verdict found above; the final scan covers it as every
 * text file. Without a snapshot it says why the database could not be read: support opens it
 * first.
 */
async function writeTheReport(bundle: Bundle): Promise<StepReport> {
  const { workspace } = bundle;
  const source = bundle.snapshot?.files.includes(BACKUP_NAME) ? workspace.path(BACKUP_NAME) : null;
  const made = await writeReportFile(source, workspace.path(REPORT_NAME), {
    source: basename(bundle.databasePath),
    chain: bundle.stats === undefined
      ? { error: "not checked: the database check failed (see README.txt)" }
      : bundle.chainProblem === undefined
      ? bundle.chain
      : { error: bundle.chainProblem },
    unreadable: bundle.database.exists
      ? "No copy of the database could be made (see README.txt for why)"
      : `Database not found: "${bundle.databasePath}"`,
    now: bundle.createdAt,
    version: TOOL_VERSION,
    busyTimeoutMs: bundle.busyTimeoutMs,
  });
  if ("summary" in made) {
    return { files: [REPORT_NAME], note: `${made.summary.events_shown} events shown` };
  }
  // A snapshot the report could not read is a problem of its own; a missing one is reported
  // by the step that made it.
  return {
    files: [REPORT_NAME],
    note: "it says why the database could not be read",
    problems: source === null ? [] : [`report: ${made.problem}`],
  };
}

/**
 * The archive checkpoints and the central store's record of the database file at `path`,
 * opened read-only for a moment; null each when it cannot be read.
 */
function retentionOfFile(
  path: string,
  busyTimeoutMs: number,
): { archives: Checkpoint[] | null; central: CentralRecord | null } {
  try {
    using db = openDatabase(path, { readOnly: true, busyTimeoutMs });
    return { archives: readCheckpoints(db), central: centralRecord(db) };
  } catch {
    return { archives: null, central: null };
  }
}

async function systemInfo(bundle: Bundle): Promise<StepReport> {
  await writeJson(bundle, SYSTEM_INFO_NAME, collectSystemInfo(bundle.outputDir));
  return { files: [SYSTEM_INFO_NAME] };
}

/**
 * `README.txt` and `manifest.json`, after every file was scanned for the settings' secrets
 * and measured.
 */
async function writeManifest(bundle: Bundle): Promise<Manifest> {
  const { workspace, masker } = bundle;
  // The archive checkpoints and the sync record, read from the snapshot (consistent with it)
  // where there is one.
  const { archives, central } = bundle.database.exists
    ? retentionOfFile(
      bundle.snapshot?.files.includes(BACKUP_NAME)
        ? workspace.path(BACKUP_NAME)
        : bundle.databasePath,
      bundle.busyTimeoutMs,
    )
    : { archives: null, central: null };
  const facts = (files: BundleFile[]) =>
    buildManifest({
      bundleId: workspace.bundleId,
      createdAt: bundle.createdAt,
      databasePath: bundle.databasePath,
      databaseExists: bundle.database.exists,
      databaseBytes: bundle.database.bytes,
      walBytes: bundle.database.walBytes,
      stats: bundle.stats ?? null,
      chain: bundle.chain,
      archives,
      central,
      exported: bundle.exported,
      versions: versions(),
      settings: bundle.settings,
      redactions: bundle.redactions,
      snapshot: bundle.snapshot
        ? {
          method: bundle.snapshot.method,
          consistent: bundle.snapshot.consistent,
          note: bundle.snapshot.note,
        }
        : {
          method: null,
          consistent: false,
          note: bundle.database.exists ? "failed" : "no database",
        },
      steps: bundle.run.records,
      errors: bundle.errors,
      files,
    });
  const names = await bundleFileNames(workspace.dir);
  const readme = masker.mask(readmeText({
    ...facts([]),
    freeDiskBytes: freeDiskBytes(bundle.outputDir),
    fileNames: [...names, README_NAME, MANIFEST_NAME].sort(),
    auditLimit: bundle.auditLimit,
    integrityMode: bundle.stats?.integrity_check.mode ?? null,
  }));
  countRedactions(bundle, README_NAME, readme.count);
  await writeNewTextFile(workspace.path(README_NAME), readme.text);
  names.push(README_NAME);
  names.sort();
  const scanner = new SecretScanner(bundle.secrets);
  const files: BundleFile[] = [];
  for (const name of names) {
    const zipped = name === BACKUP_NAME ? await bundle.backupZipped?.catch(() => undefined) : null;
    if (zipped) {
      files.push(zipped); // hashed as it went into the ZIP, and scanned after masking
      continue;
    }
    // The backup was scanned after masking, in its own step.
    const scan = TEXT_FILE.test(name) || name.startsWith(RAW_NAME) ? scanner.file() : undefined;
    const { bytes, sha256 } = await hashFile(workspace.path(name), {
      signal: bundle.signal,
      onChunk: scan?.feed,
    });
    refuseLeak(name, scan?.found() ?? []);
    files.push({ name, bytes, sha256 });
  }
  // The manifest's own text (paths, error messages) is masked; its own count is not listed.
  const manifest = masker.maskJson(facts(files)).value;
  const text = JSON.stringify(manifest, null, 2) + "\n";
  const scan = scanner.file();
  scan.feed(new TextEncoder().encode(text));
  refuseLeak(MANIFEST_NAME, scan.found());
  await writeNewTextFile(workspace.path(MANIFEST_NAME), text);
  return manifest;
}

/** Writes the ZIP: the snapshot went in already, the other files follow. */
async function packZip(bundle: Bundle, manifest: Manifest): Promise<void> {
  bundle.zip ??= await FolderZip.create(
    bundle.workspace.partialZip!,
    bundle.workspace.bundleId,
    { signal: bundle.signal },
  );
  await bundle.backupZipped;
  for (const name of [...manifest.files.map((f) => f.name), MANIFEST_NAME]) {
    if (name !== BACKUP_NAME || !bundle.backupZipped) {
      await bundle.zip.add(bundle.workspace.dir, name);
    }
  }
  await bundle.zip.close();
}

// --- helpers ---------------------------------------------------------------------------------

/**
 * Opens the ZIP and starts compressing the snapshot into it, hashing it in the same pass; the
 * rest of the bundle is made meanwhile. Where the ZIP cannot be opened now, it is written at
 * the end instead (and fails there if it must).
 */
async function zipBackup(bundle: Bundle): Promise<void> {
  const { workspace, signal } = bundle;
  try {
    bundle.zip = await FolderZip.create(workspace.partialZip!, workspace.bundleId, { signal });
  } catch {
    await Deno.remove(workspace.partialZip!).catch(() => {});
    signal?.throwIfAborted();
    return;
  }
  const hash = new Sha256Stream();
  bundle.backupZipped = bundle.zip.add(workspace.dir, BACKUP_NAME, hash.update).then(() => ({
    name: BACKUP_NAME,
    ...hash.digest(),
  }));
  bundle.backupZipped.catch(() => {}); // awaited when the ZIP is finished
}

/** SHA-256 and size of chunks as they pass. */
class Sha256Stream {
  #hash = createHash("sha256");
  #bytes = 0;
  update = (chunk: Uint8Array) => {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
  };
  digest(): { bytes: number; sha256: string } {
    return { bytes: this.#bytes, sha256: this.#hash.digest("hex") };
  }
}

function useSecrets(bundle: Bundle, secrets: SecretValue[]): void {
  bundle.secrets.push(...secrets);
  bundle.masker = new SecretMasker(bundle.secrets);
  bundle.redactions.secrets_searched = new Set(
    bundle.secrets.map((s) => s.value).filter((v) => v.length >= MIN_MASKED_LENGTH),
  ).size;
  bundle.redactions.not_searched = [...bundle.masker.unsearched];
}

function countRedactions(bundle: Bundle, file: string, count: number): void {
  if (count === 0) return;
  bundle.redactions.files[file] = (bundle.redactions.files[file] ?? 0) + count;
  bundle.redactions.total += count;
}

/** Writes a JSON file with its strings masked. */
async function writeJson(bundle: Bundle, name: string, value: unknown): Promise<void> {
  const { value: masked, count } = bundle.masker.maskJson(value);
  countRedactions(bundle, name, count);
  await writeNewTextFile(bundle.workspace.path(name), JSON.stringify(masked, null, 2) + "\n");
}

/** The first few problems of a list that can run to hundreds, and how many more there are. */
function summarize(messages: string[]): string {
  const problems = messages.filter((message) => !message.startsWith("*** in database"));
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : "";
  return problems.slice(0, 3).join("; ") + more;
}

/**
 * A full disk while the summary or the final file is written: nothing is saved, and the
 * person is told why rather than shown an operating-system error.
 */
function whenDiskFull(outputDir: string): (error: unknown) => never {
  return (error) => {
    const code = (error as { code?: string })?.code;
    if (code === "ENOSPC" || /No space left|os error 28|disk is full/i.test(errorMessage(error))) {
      throw new BundleFolderError(
        outputDir,
        `Disk is full: the debug bundle cannot be written to "${outputDir}"`,
        {
          hint: "Nothing was saved. Free some disk space, or choose another folder for the bundle.",
          cause: error,
        },
      );
    }
    throw error;
  };
}

async function readSettingsText(path: string, named: boolean): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new Error("it is not a file");
    if (info.size > MAX_SETTINGS_BYTES) throw new Error("it is larger than 5 MB");
    return decodeSettings(await Deno.readFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !named) return null;
    throw new Error(`Cannot read the settings file "${path}": ${notReadBecause(error)}`);
  }
}

/**
 * The settings' text: UTF-8, or else Windows-1252, as Notepad saved "ANSI" files. Decoded
 * as UTF-8 regardless, a password's "é" would become U+FFFD and no longer match the "é" of
 * the events, which would then keep it unmasked.
 */
function decodeSettings(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/** The files written so far; names starting with a dot are scratch space. */
async function bundleFileNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && !entry.name.startsWith(".")) names.push(entry.name);
  }
  return names;
}

/**
 * A secret of the settings still found in a file after masking: a fault of the masking, so
 * nothing is saved rather than a bundle that leaks.
 */
function refuseLeak(file: string, keys: string[]): void {
  if (keys.length === 0) return;
  throw new AuditTrailError(
    `No bundle was saved: ${file} still contains the value of the settings key${
      keys.length > 1 ? "s" : ""
    } ${keys.map((k) => `"${k}"`).join(", ")} after masking`,
    {
      hint:
        "This is a fault of audit-trail, not of the data: please report it (without the settings file).",
    },
  );
}

function describeError(error: unknown): string {
  if (error instanceof DatabaseBusyError) return "the database is locked by another program";
  return errorMessage(error);
}
