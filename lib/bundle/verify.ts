/**
 * Checking a bundle (folder or ZIP) against its manifest: every file present, with the size
 * and SHA-256 the manifest lists, and nothing added.
 *
 * @module
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import { AuditTrailError, errorMessage, notReadBecause } from "../errors.ts";
import { hashFile } from "./files.ts";
import { MANIFEST_NAME } from "./manifest.ts";
import { openZip, type ZipFileEntry } from "./zip.ts";

/** The result of {@linkcode verifyBundle}. */
export interface VerifyResult {
  path: string;
  bundle_id: string | null;
  /** `true` when every file matches the manifest. */
  ok: boolean;
  files_checked: number;
  /** One line per mismatch: the file and what differs. */
  problems: string[];
}

interface ListedFile {
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * Checks the bundle at `path`, a bundle folder or its ZIP, against its `manifest.json`.
 *
 * @param path The bundle folder or ZIP.
 * @returns Whether it is intact, and each mismatch.
 * @throws {AuditTrailError} When there is nothing at `path`, or it is neither a folder nor a
 * ZIP.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verifyBundle } from "./verify.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify({ files: [{ name: "a.txt",
 *   bytes: 5, sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" }] }));
 * assert.equal((await verifyBundle(dir)).ok, true);
 * ```
 */
export async function verifyBundle(path: string): Promise<VerifyResult> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    throw new AuditTrailError(`No bundle at "${path}": ${notReadBecause(error)}`, {
      hint: "Give the bundle folder or its .zip file.",
    });
  }
  if (info.isDirectory) return await verifyFolder(path);
  // Opening a named pipe or a device would wait for a writer, or read for ever.
  if (!info.isFile) throw notABundle(path, "it is neither a folder nor a file");
  return await verifyZip(path);
}

/** How the bundle's files are read: each must be a plain file, and none larger than listed. */
interface BundleSource {
  /** Each name present, and how many times (a ZIP may hold a name twice). */
  present: Map<string, number>;
  /** Why `name` cannot be checked as a file (a link, a folder, a device), or `null`. */
  notAFile(name: string): Promise<string | null>;
  /**
   * The size and hash of `name`; no hash when it is larger than `limit`, and no size either
   * when that was found by reading only part of it.
   */
  measure(name: string, limit: number): Promise<{ bytes: number | null; sha256: string | null }>;
  /** The manifest's text, or `null` when it is larger than any manifest can be. */
  readManifest(): Promise<string | null>;
}

async function verifyFolder(dir: string): Promise<VerifyResult> {
  const present = new Map<string, number>();
  for await (const entry of Deno.readDir(dir)) present.set(entry.name, 1);
  const notAFile = async (name: string) => {
    const info = await Deno.lstat(join(dir, name));
    if (info.isFile) return null;
    return info.isSymlink ? "a link" : info.isDirectory ? "a folder" : "a device or pipe";
  };
  return await check(dir, {
    present,
    notAFile,
    async measure(name, limit) {
      // The manifest lists sizes a plain file has exactly: no need to read a larger one.
      const { size } = await Deno.lstat(join(dir, name));
      if (size > limit) return { bytes: size, sha256: null };
      return await hashFile(join(dir, name));
    },
    async readManifest() {
      const path = join(dir, MANIFEST_NAME);
      if ((await Deno.lstat(path)).size > MAX_MANIFEST_BYTES) return null;
      return await Deno.readTextFile(path);
    },
  });
}

async function verifyZip(path: string): Promise<VerifyResult> {
  let zip: Awaited<ReturnType<typeof openZip>>;
  try {
    zip = await openZip(path);
  } catch (error) {
    const entry = (error as { filename?: unknown }).filename;
    throw notABundle(
      path,
      typeof entry === "string"
        ? `it holds "${entry}", a name that leads out of the bundle's folder`
        : `it cannot be read as a ZIP (${errorMessage(error)})`,
    );
  }
  try {
    const manifestEntry = zip.entries.find((e) => e.name.split("/").pop() === MANIFEST_NAME);
    // Every entry lives in the one top folder that holds the manifest.
    const prefix = manifestEntry ? manifestEntry.name.slice(0, -MANIFEST_NAME.length) : "";
    const byName = new Map<string, ZipFileEntry>();
    const present = new Map<string, number>();
    const stray: string[] = [];
    for (const entry of zip.entries) {
      if (!entry.name.startsWith(prefix)) {
        stray.push(entry.name);
        continue;
      }
      const name = entry.name.slice(prefix.length);
      byName.set(name, entry);
      present.set(name, (present.get(name) ?? 0) + 1);
    }
    const result = await check(path, {
      present,
      notAFile: () => Promise.resolve(null),
      async measure(name, limit) {
        const entry = byName.get(name)!;
        if (entry.bytes > limit) return { bytes: entry.bytes, sha256: null };
        return await readEntry(entry, limit);
      },
      async readManifest() {
        const read = await readEntry(manifestEntry!, MAX_MANIFEST_BYTES, new TextDecoder());
        return read.text ?? null;
      },
    });
    for (const name of stray) result.problems.push(`${name}: not in the bundle's folder`);
    result.ok = result.problems.length === 0;
    return result;
  } finally {
    await zip.close();
  }
}

/**
 * Streams `entry` through SHA-256 (and `decoder`, for its text), stopping as soon as it holds
 * more than `limit` bytes: an entry may inflate to far more than its directory declares.
 */
async function readEntry(
  entry: ZipFileEntry,
  limit: number,
  decoder?: TextDecoder,
): Promise<{ bytes: number | null; sha256: string | null; text?: string | undefined }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let text = "";
  const tooLarge = new Error("larger than its limit");
  try {
    await entry.read(
      new WritableStream({
        write(chunk) {
          bytes += chunk.length;
          if (bytes > limit) throw tooLarge;
          hash.update(chunk);
          if (decoder) text += decoder.decode(chunk, { stream: true });
        },
      }),
    );
  } catch (error) {
    if (error !== tooLarge) throw error;
    return { bytes: null, sha256: null };
  }
  return { bytes, sha256: hash.digest("hex"), text: decoder ? text + decoder.decode() : undefined };
}

/** A manifest lists a dozen files in a few KB; a larger one is not read. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function notABundle(path: string, why: string): AuditTrailError {
  return new AuditTrailError(`"${path}" is not a bundle folder or ZIP: ${why}`, {
    hint:
      "Give the bundle folder or its .zip file as audit-trail made it; if it was cut short or changed on the way, ask for a new bundle.",
  });
}

async function check(path: string, source: BundleSource): Promise<VerifyResult> {
  const result: VerifyResult = { path, bundle_id: null, ok: false, files_checked: 0, problems: [] };
  const { present } = source;
  if (!present.has(MANIFEST_NAME)) {
    result.problems.push(`${MANIFEST_NAME}: missing, so nothing can be checked`);
    return result;
  }
  const unchecked = (why: string) => {
    result.problems.push(`${MANIFEST_NAME}: ${why}, so nothing can be checked`);
    return result;
  };
  // A name held twice is checked once, while an unpacking program may keep the other copy.
  if (present.get(MANIFEST_NAME)! > 1) return unchecked("in the ZIP more than once");
  const manifestKind = await source.notAFile(MANIFEST_NAME);
  if (manifestKind) return unchecked(`${manifestKind}, not a file`);
  let listed: ListedFile[];
  try {
    const text = await source.readManifest();
    if (text === null) return unchecked("larger than a manifest can be");
    const manifest = JSON.parse(text);
    result.bundle_id = typeof manifest.bundle_id === "string" ? manifest.bundle_id : null;
    listed = manifest.files;
    // The earlier audit module's bundles have a manifest that lists no files at all: nothing
    // in them was changed, there is just nothing to check them against.
    if (listed === undefined && manifest.audit_records_exported !== undefined) {
      return unchecked(
        "lists no files (made by the earlier audit module, which kept no checksums)",
      );
    }
    if (!Array.isArray(listed) || !listed.every(isListedFile)) {
      throw new Error("no valid file list");
    }
  } catch (error) {
    result.problems.push(`${MANIFEST_NAME}: unreadable (${notReadBecause(error)})`);
    return result;
  }
  const seen = new Set<string>();
  for (const file of listed) {
    if (seen.has(file.name)) {
      result.problems.push(`${file.name}: listed more than once in the manifest`);
      continue;
    }
    seen.add(file.name);
    if (!present.has(file.name)) {
      result.problems.push(`${file.name}: missing`);
      continue;
    }
    if (present.get(file.name)! > 1) {
      result.problems.push(`${file.name}: in the ZIP more than once`);
      continue;
    }
    try {
      const kind = await source.notAFile(file.name);
      if (kind) {
        result.problems.push(`${file.name}: ${kind}, not a file, so it was not read`);
        continue;
      }
      const { bytes, sha256 } = await source.measure(file.name, file.bytes);
      result.files_checked++;
      if (bytes === null) {
        result.problems.push(`${file.name}: larger than the ${file.bytes} bytes the manifest says`);
      } else if (bytes !== file.bytes) {
        result.problems.push(
          `${file.name}: size is ${bytes} bytes, the manifest says ${file.bytes}`,
        );
      } else if (sha256 !== file.sha256) {
        result.problems.push(`${file.name}: SHA-256 differs from the manifest (content changed)`);
      }
    } catch (error) {
      result.problems.push(`${file.name}: cannot be read (${notReadBecause(error)})`);
    }
  }
  const known = new Set([MANIFEST_NAME, ...listed.map((f) => f.name)]);
  for (const name of present.keys()) {
    if (!known.has(name)) result.problems.push(`${name}: not listed in the manifest`);
  }
  result.ok = result.problems.length === 0;
  return result;
}

function isListedFile(file: unknown): file is ListedFile {
  const f = file as ListedFile;
  return typeof f?.name === "string" && typeof f.bytes === "number" &&
    typeof f.sha256 === "string" && !/[\\/]|^\.\.?$/.test(f.name);
}
