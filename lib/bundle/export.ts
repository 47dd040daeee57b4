/**
 * Making a debug bundle: independent, time-bounded steps, each writing its own file, so that
 * one failure costs only its own part; then a secret scan, the manifest, and the move to the
 * final name.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import type { ChainVerifyResult } from "../chain/mod.ts";
import { AuditTrailError, DatabaseBusyError, errorMessage, UsageError } from "../errors.ts";
import { exportAuditCsv } from "./audit_csv.ts";
import { checkDatabase } from "./check.ts";
import { type BundleFile, fileSize, hashFile, writeNewTextFile } from "./files.ts";
import { buildManifest, type BundleError, type Manifest, MANIFEST_NAME } from "./manifest.ts";
import { README_NAME, readmeText } from "./readme.ts";
import {
  jsonErrorPosition,
  redactSettings,
  SecretScanner,
  secretsInText,
  type SecretValue,
} from "./redact.ts";
import { BACKUP_NAME, snapshotDatabase, type SnapshotOutcome } from "./snapshot.ts";
import type { DatabaseStats } from "./stats.ts";
import { collectSystemInfo, versions } from "./system_info.ts";
import { freeDiskBytes } from "../io.ts";
import { stepRunner } from "./steps.ts";
import { bundleBaseName, BundleFolderError, BundleWorkspace } from "./workspace.ts";
import { FolderZip, packFolder } from "./zip.ts";

import type { BundleProgress } from "./steps.ts";

/** Options of {@linkcode exportDebugBundle}. */
export interface ExportDebugBundleOptions {
  /** The database file. It is only read, and never created when missing. */
  database: string;
  /** Where the bundle goes (created if needed); default `debug_bundles/` beside the database. */
  outputDir?: string;
  /** How many of the newest events go into `audit_log.csv` (default 1000; 0 means all). */
  auditLimit?: number;
  /** Write one ZIP instead of a folder. */
  compress?: boolean;
  /** The settings file to include, redacted; default `settings.json` beside the database. */
  settingsPath?: string;
  /** Told when each step starts and ends, for a progress display. */
  onProgress?: (progress: BundleProgress) => void;
  /** Abort to stop: temporary files are removed and the promise rejects with the reason. */
  signal?: AbortSignal;
  /** The bundle's time, which names it (default: now). */
  now?: Date;
  /** Time limit of every collection step, in milliseconds (default: per step, 15 s to 10 min). */
  stepTimeoutMs?: number;
  /** How long to wait for another program's database lock (default 3,000 ms). */
  busyTimeoutMs?: number;
  /**
   * Check the database in worker threads while the snapshot is being compressed (default
   * `true`); `false` does one step after the other in this thread. Where no worker can be
   * started, the bundle falls back to that by itself. The bundle is the same either way.
   */
  parallel?: boolean;
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
const TEXT_FILE = /\.(csv|json|txt)$/;

/**
 * Makes a debug bundle of the database: `database_backup.db` (a consistent snapshot, even
 * while other programs write), `audit_log.csv`, `database_stats.json`, `system_info.json`,
 * `settings.json` (secrets redacted), `README.txt` and `manifest.json` (every file with its
 * size and SHA-256). A locked, damaged or missing database still gives a bundle: what failed
 * is listed in `errors` and `complete` is `false`. The bundle appears under its final name
 * only once it is whole.
 *
 * @param options The database, and where and how to write the bundle.
 * @returns The bundle's path, whether it is complete, its errors and its manifest.
 * @throws {AuditTrailError} When the output folder cannot be written, or when a secret of the
 * settings was found in a file of the bundle (nothing is saved then).
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
  const auditLimit = options.auditLimit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isSafeInteger(auditLimit) || auditLimit < 0) {
    throw new UsageError(`The audit limit must be a whole number of 0 or more, not ${auditLimit}`);
  }
  options.signal?.throwIfAborted();
  const createdAt = options.now ?? new Date();
  const databasePath = resolve(options.database);
  const databaseDir = dirname(databasePath);
  const outputDir = resolve(options.outputDir ?? join(databaseDir, "debug_bundles"));
  const settingsPath = resolve(options.settingsPath ?? join(databaseDir, SETTINGS_NAME));
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const compress = options.compress ?? false;
  const parallel = options.parallel ?? true;

  await using workspace = await BundleWorkspace.create(
    outputDir,
    bundleBaseName(createdAt),
    compress,
  );
  const errors: BundleError[] = [];
  const run = stepRunner({
    steps: 7,
    dir: workspace.dir,
    errors,
    onProgress: options.onProgress,
    signal: options.signal,
    timeoutMs: options.stepTimeoutMs,
    describe: describeError,
  });
  const [databaseBytes, walBytes] = await Promise.all([
    fileSize(databasePath),
    fileSize(databasePath + "-wal"),
  ]);
  const databaseExists = await Deno.lstat(databasePath).then(() => true, () => false);

  const secrets: SecretValue[] = [];
  const settings = { included: false, path: settingsPath, redactedKeys: [] as string[] };
  await run.step("Reading the settings", SETTINGS_NAME, 15_000, async () => {
    const text = await readSettings(settingsPath, options.settingsPath !== undefined);
    if (text === null) return { note: "no settings file" };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
    } catch (error) {
      secrets.push(...secretsInText(text));
      throw new Error(
        `The settings file "${settingsPath}" was left out: ${jsonErrorPosition(text, error)}`,
      );
    }
    let redaction: ReturnType<typeof redactSettings>;
    let redactedText: string;
    try {
      redaction = redactSettings(parsed);
      redactedText = JSON.stringify(redaction.redacted, null, 2) + "\n";
    } catch (error) {
      // JSON.parse takes any depth, but walking it recursively runs out of stack.
      if (!(error instanceof RangeError)) throw error;
      secrets.push(...secretsInText(text));
      throw new Error(
        `The settings file "${settingsPath}" was left out: it is nested too deeply to be read`,
      );
    }
    const { paths, secrets: found } = redaction;
    secrets.push(...found);
    await writeNewTextFile(workspace.path(SETTINGS_NAME), redactedText);
    settings.included = true;
    settings.redactedKeys = paths;
    return { files: [SETTINGS_NAME] };
  });

  // With `compress`, the snapshot goes into the ZIP while the database is being checked.
  // Disposed of before the workspace: an unfinished ZIP lets go of its files before cleanup.
  let zip: FolderZip | undefined;
  let backupZipped: Promise<void> | undefined;
  /** The backup's size and SHA-256, taken while it was compressed. */
  let backupHash: { bytes: number; sha256: string } | undefined;
  await using _zip = {
    [Symbol.asyncDispose]: async () => await zip?.abort(options.signal?.reason),
  };
  const missing = `Database not found: "${databasePath}" (the bundle never creates one)`;
  let snapshot: SnapshotOutcome | undefined;
  let stats: DatabaseStats | undefined;
  let chain: ChainVerifyResult | null = null;
  let exported: number | null = null;
  if (!databaseExists) {
    errors.push({ step: "database", message: missing });
    for (const [title, file] of DATABASE_STEPS) run.skip(title, file, "no database");
  } else {
    await run.step(...DATABASE_STEPS[0], 600_000, async (signal) => {
      snapshot = await snapshotDatabase(databasePath, workspace.dir, { busyTimeoutMs, signal });
      return {
        files: snapshot.files,
        note: snapshot.consistent ? "consistent copy" : undefined,
        problems: snapshot.problems,
      };
    });
    if (compress && parallel && snapshot?.files.includes(BACKUP_NAME)) {
      zip = await startZip(workspace, options.signal);
      if (zip) {
        const hash = createHash("sha256");
        let bytes = 0;
        backupZipped = zip.add(workspace.dir, BACKUP_NAME, (chunk) => {
          hash.update(chunk);
          bytes += chunk.length;
        }).then(() => {
          backupHash = { bytes, sha256: hash.digest("hex") };
        });
      }
      backupZipped?.catch(() => {}); // awaited when the ZIP is finished
    }
    await run.step(...DATABASE_STEPS[1], 300_000, async (signal) => {
      const checked = await checkDatabase(databasePath, {
        busyTimeoutMs,
        signal,
        workers: parallel,
        chainAfter: backupZipped,
      });
      stats = checked.stats;
      await writeNewTextFile(
        workspace.path("database_stats.json"),
        JSON.stringify(stats, null, 2) + "\n",
      );
      const problems = stats.integrity_check.ok
        ? []
        : [`integrity check: ${summarize(stats.integrity_check.messages)}`];
      if ("error" in checked.chain) {
        problems.push(`audit chain not verified: ${describeError(checked.chain.error)}`);
      } else {
        chain = checked.chain.result;
        if (chain?.failure) problems.push(`audit chain: ${chain.failure.message}`);
      }
      return { files: ["database_stats.json"], problems };
    });
    await run.step(...DATABASE_STEPS[2], 300_000, async (signal) => {
      // The backup, when there is one, is what the CSV is read from: it is consistent with
      // the CSV, and reading it never waits for the live database's locks.
      const source = snapshot?.files.includes(BACKUP_NAME)
        ? workspace.path(BACKUP_NAME)
        : databasePath;
      exported = await exportAuditCsv(source, workspace.path("audit_log.csv"), {
        limit: auditLimit,
        busyTimeoutMs,
        signal,
      });
      return {
        files: ["audit_log.csv"],
        note: `${exported} events`,
      };
    });
  }

  await run.step("Collecting system information", "system_info.json", 15_000, async () => {
    const info = collectSystemInfo(outputDir);
    await writeNewTextFile(
      workspace.path("system_info.json"),
      JSON.stringify(info, null, 2) + "\n",
    );
    return { files: ["system_info.json"] };
  });

  const manifest = await run.final("Writing the summary and checksums", MANIFEST_NAME, async () => {
    const facts = () => ({
      bundleId: workspace.bundleId,
      createdAt,
      databasePath,
      databaseExists,
      databaseBytes,
      walBytes,
      stats: stats ?? null,
      chain,
      exported,
      versions: versions(),
      settings,
      snapshot: snapshot
        ? { method: snapshot.method, consistent: snapshot.consistent, note: snapshot.note }
        : { method: null, consistent: false, note: databaseExists ? "failed" : "no database" },
      steps: run.records,
      errors,
    });
    const names = await bundleFileNames(workspace.dir);
    const draft = buildManifest({ ...facts(), files: [] });
    await writeNewTextFile(
      workspace.path(README_NAME),
      readmeText({
        ...draft,
        freeDiskBytes: freeDiskBytes(outputDir),
        fileNames: [...names, README_NAME, MANIFEST_NAME].sort(),
        auditLimit,
        integrityMode: stats?.integrity_check.mode ?? null,
      }),
    );
    names.push(README_NAME);
    names.sort();
    const scanner = new SecretScanner(secrets);
    const files: BundleFile[] = [];
    for (const name of names) {
      if (name === BACKUP_NAME && backupZipped) {
        // Hashed as it went into the ZIP: the file is not read a second time.
        await backupZipped.catch(() => {});
        if (backupHash) {
          files.push({ name, ...backupHash });
          continue;
        }
      }
      const scan = TEXT_FILE.test(name) ? scanner.file() : undefined;
      const { bytes, sha256 } = await hashFile(workspace.path(name), {
        signal: options.signal,
        onChunk: scan?.feed,
      });
      refuseLeak(name, scan?.found() ?? []);
      files.push({ name, bytes, sha256 });
    }
    const manifest = buildManifest({ ...facts(), files });
    const text = JSON.stringify(manifest, null, 2) + "\n";
    const scan = scanner.file();
    scan.feed(new TextEncoder().encode(text));
    refuseLeak(MANIFEST_NAME, scan.found());
    await writeNewTextFile(workspace.path(MANIFEST_NAME), text);
    return manifest;
  }).catch(whenDiskFull(outputDir));

  const path = await run.final(
    compress ? "Compressing" : "Saving the bundle",
    compress ? `${workspace.bundleId}.zip` : workspace.bundleId,
    () =>
      workspace.finish(async (zipPath) => {
        const names = [...manifest.files.map((f) => f.name), MANIFEST_NAME];
        if (!zip) {
          await packFolder(workspace.dir, names, zipPath, workspace.bundleId, {
            signal: options.signal,
          });
          return;
        }
        await backupZipped;
        for (const name of names) {
          if (name !== BACKUP_NAME) await zip.add(workspace.dir, name);
        }
        await zip.close();
      }),
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

const DATABASE_STEPS: [string, string][] = [
  ["Copying the database", BACKUP_NAME],
  ["Checking the database", "database_stats.json"],
  ["Exporting the newest events", "audit_log.csv"],
];

async function readSettings(path: string, explicit: boolean): Promise<string | null> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new Error("it is not a file");
    if (info.size > MAX_SETTINGS_BYTES) throw new Error("it is larger than 5 MB");
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !explicit) return null;
    throw new Error(`Cannot read the settings file "${path}": ${errorMessage(error)}`);
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

function refuseLeak(file: string, keys: string[]): void {
  if (keys.length === 0) return;
  throw new AuditTrailError(
    `No bundle was saved: ${file} contains the value of the settings key${
      keys.length > 1 ? "s" : ""
    } ${keys.map((k) => `"${k}"`).join(", ")}`,
    {
      hint:
        "A secret from the settings file also appears in the data. Remove it there (or change that password) and make the bundle again.",
    },
  );
}

/**
 * Starts the bundle's ZIP under its temporary name, or returns `undefined` when it cannot be
 * (the ZIP is then written at the end, as without the overlap, and fails there if it must).
 */
async function startZip(
  workspace: BundleWorkspace,
  signal: AbortSignal | undefined,
): Promise<FolderZip | undefined> {
  if (!workspace.partialZip) return undefined;
  try {
    return await FolderZip.create(workspace.partialZip, workspace.bundleId, { signal });
  } catch {
    await Deno.remove(workspace.partialZip).catch(() => {});
    signal?.throwIfAborted();
    return undefined;
  }
}

function describeError(error: unknown): string {
  if (error instanceof DatabaseBusyError) return "the database is locked by another program";
  return errorMessage(error);
}
