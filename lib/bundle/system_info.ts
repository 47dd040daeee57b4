/**
 * `system_info.json`: the versions and the machine a problem happened on. Never the
 * environment variables, which may hold secrets.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { freeDiskBytes } from "../io.ts";
import { TOOL_VERSION } from "../version.ts";

/** The versions a bug report needs. */
export interface Versions {
  audit_trail: string;
  deno: string;
  v8: string;
  typescript: string;
  sqlite: string;
}

/** The content of `system_info.json`. */
export interface SystemInfo {
  versions: Versions;
  os: string;
  arch: string;
  target: string;
  os_release: string | null;
  hostname: string | null;
  cpus: number | null;
  memory_total_bytes: number | null;
  memory_available_bytes: number | null;
  uptime_seconds: number | null;
  load_average: number[] | null;
  timezone: string | null;
  executable: string | null;
  working_directory: string | null;
  /** Free space for this user on the disk holding the database's folder. */
  free_disk_bytes: number | null;
}

/** The versions of audit-trail, Deno, V8, TypeScript and the embedded SQLite. */
export function versions(): Versions {
  let sqlite = "unknown";
  try {
    const db = new DatabaseSync(":memory:");
    sqlite = String(db.prepare("SELECT sqlite_version() AS v").get()!.v);
    db.close();
  } catch {
    // Reported as unknown; the other versions still help.
  }
  return {
    audit_trail: TOOL_VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    sqlite,
  };
}

/**
 * Collects `system_info.json`. Each fact is read on its own, so one the platform or the
 * permissions refuse is `null` and the others are still there.
 *
 * @param folder A folder on the disk whose free space matters (where the bundle is written).
 */
export function collectSystemInfo(folder: string): SystemInfo {
  const memory = attempt(() => Deno.systemMemoryInfo());
  return {
    versions: versions(),
    os: Deno.build.os,
    arch: Deno.build.arch,
    target: Deno.build.target,
    os_release: attempt(() => Deno.osRelease()),
    hostname: attempt(() => Deno.hostname()),
    cpus: attempt(() => navigator.hardwareConcurrency),
    memory_total_bytes: memory?.total ?? null,
    memory_available_bytes: memory?.available ?? null,
    uptime_seconds: attempt(() => Deno.osUptime()),
    load_average: attempt(() => Deno.loadavg()),
    timezone: attempt(() => Intl.DateTimeFormat().resolvedOptions().timeZone),
    executable: attempt(() => Deno.execPath()),
    working_directory: attempt(() => Deno.cwd()),
    free_disk_bytes: freeDiskBytes(folder),
  };
}

function attempt<T>(read: () => T): T | null {
  try {
    return read() ?? null;
  } catch {
    return null;
  }
}
