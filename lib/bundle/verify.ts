/**
 * Checking a bundle (folder or ZIP) against its manifest: every file present, with the size
 * and SHA-256 the manifest lists, and nothing added.
 *
 * @module
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import { AuditTrailError, errorMessage } from "../errors.ts";
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
    throw new AuditTrailError(`No bundle at "${path}": ${errorMessage(error)}`, {
      hint: "Give the bundle folder or its .zip file.",
    });
  }
  return info.isDirectory ? await verifyFolder(path) : await verifyZip(path);
}

async function verifyFolder(dir: string): Promise<VerifyResult> {
  const present = new Set<string>();
  for await (const entry of Deno.readDir(dir)) present.add(entry.name);
  return await check(dir, present, async (name) => {
    const { bytes, sha256 } = await hashFile(join(dir, name));
    return { bytes, sha256 };
  }, async () => await Deno.readTextFile(join(dir, MANIFEST_NAME)));
}

async function verifyZip(path: string): Promise<VerifyResult> {
  let zip: Awaited<ReturnType<typeof openZip>>;
  try {
    zip = await openZip(path);
  } catch (error) {
    throw new AuditTrailError(`"${path}" is not a bundle folder or ZIP: ${errorMessage(error)}`);
  }
  try {
    const manifestEntry = zip.entries.find((e) => e.name.split("/").pop() === MANIFEST_NAME);
    // Every entry lives in the one top folder that holds the manifest.
    const prefix = manifestEntry ? manifestEntry.name.slice(0, -MANIFEST_NAME.length) : "";
    const byName = new Map<string, ZipFileEntry>();
    const stray: string[] = [];
    for (const entry of zip.entries) {
      if (entry.name.startsWith(prefix)) byName.set(entry.name.slice(prefix.length), entry);
      else stray.push(entry.name);
    }
    const result = await check(path, new Set(byName.keys()), async (name) => {
      const hash = createHash("sha256");
      let bytes = 0;
      await byName.get(name)!.read(
        new WritableStream({
          write(chunk) {
            hash.update(chunk);
            bytes += chunk.length;
          },
        }),
      );
      return { bytes, sha256: hash.digest("hex") };
    }, async () => {
      let text = "";
      const decoder = new TextDecoder();
      await manifestEntry!.read(
        new WritableStream({
          write: (chunk) => void (text += decoder.decode(chunk, { stream: true })),
        }),
      );
      return text + decoder.decode();
    });
    for (const name of stray) result.problems.push(`${name}: not in the bundle's folder`);
    result.ok = result.problems.length === 0;
    return result;
  } finally {
    await zip.close();
  }
}

async function check(
  path: string,
  present: Set<string>,
  measure: (name: string) => Promise<{ bytes: number; sha256: string }>,
  readManifest: () => Promise<string>,
): Promise<VerifyResult> {
  const result: VerifyResult = { path, bundle_id: null, ok: false, files_checked: 0, problems: [] };
  if (!present.has(MANIFEST_NAME)) {
    result.problems.push(`${MANIFEST_NAME}: missing, so nothing can be checked`);
    return result;
  }
  let listed: ListedFile[];
  try {
    const manifest = JSON.parse(await readManifest());
    result.bundle_id = typeof manifest.bundle_id === "string" ? manifest.bundle_id : null;
    listed = manifest.files;
    if (!Array.isArray(listed) || !listed.every(isListedFile)) {
      throw new Error("no valid file list");
    }
  } catch (error) {
    result.problems.push(`${MANIFEST_NAME}: unreadable (${errorMessage(error)})`);
    return result;
  }
  for (const file of listed) {
    if (!present.has(file.name)) {
      result.problems.push(`${file.name}: missing`);
      continue;
    }
    try {
      const { bytes, sha256 } = await measure(file.name);
      result.files_checked++;
      if (bytes !== file.bytes) {
        result.problems.push(
          `${file.name}: size is ${bytes} bytes, the manifest says ${file.bytes}`,
        );
      } else if (sha256 !== file.sha256) {
        result.problems.push(`${file.name}: SHA-256 differs from the manifest (content changed)`);
      }
    } catch (error) {
      result.problems.push(`${file.name}: cannot be read (${errorMessage(error)})`);
    }
  }
  const known = new Set([MANIFEST_NAME, ...listed.map((f) => f.name)]);
  for (const name of present) {
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
