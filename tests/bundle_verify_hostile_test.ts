/**
 * `bundle verify` given bundles that were tampered with on purpose, or are no bundle at all:
 * names held twice, names that leave the folder, links and pipes, entries far larger than the
 * manifest says, files that are no ZIP. Each must end in one error line, a hint, and exit 1.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { configure, Uint8ArrayReader, Uint8ArrayWriter, ZipWriter } from "@zip.js/zip.js";
import { runCli, tempDir } from "./helpers.ts";
import { openMigrated } from "./fixtures.ts";
import { logAuditEvents } from "./internals.ts";

configure({ useWebWorkers: false });

/** A bundle folder made by the real CLI, and its files' contents by name. */
async function realBundle(
  dir: string,
): Promise<{ folder: string; files: Map<string, Uint8Array> }> {
  using db = openMigrated(dir);
  await logAuditEvents(db, [{ operation: "RECEIVE", sku: "A1", details: "ten boxes" }]);
  const made = await runCli(["bundle", "--db", db.path]);
  assert.equal(made.code, 0, made.stderr);
  const folder = made.stdout.trim();
  const files = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(folder)) {
    files.set(entry.name, await Deno.readFile(join(folder, entry.name)));
  }
  return { folder, files };
}

/** A ZIP of `entries` in order; names are written as given, even twice. */
async function zipOf(entries: [string, Uint8Array][]): Promise<Uint8Array> {
  const writer = new ZipWriter(new Uint8ArrayWriter());
  // zip.js refuses a name twice or one with "..": each is written under a placeholder of the
  // same length, put back in the bytes afterwards (names are outside the CRC-32).
  const placeholders: [string, string][] = [];
  for (const [i, [name, content]] of entries.entries()) {
    const placeholder = `${String(i).padStart(2, "0")}${"x".repeat(name.length - 2)}`;
    placeholders.push([placeholder, name]);
    await writer.add(placeholder, new Uint8ArrayReader(content));
  }
  const bytes = await writer.close();
  const text = new TextDecoder("latin1").decode(bytes);
  for (const [placeholder, name] of placeholders) {
    for (let at = text.indexOf(placeholder); at >= 0; at = text.indexOf(placeholder, at + 1)) {
      bytes.set(new TextEncoder().encode(name), at);
    }
  }
  return bytes;
}

async function verify(path: string) {
  const result = await runCli(["bundle", "verify", path]);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 2, result.stderr);
  assert.match(lines[0], /^audit-trail: error: /);
  assert.match(lines[1], /^hint: /);
  assert.equal(result.code, 1, result.stderr);
  return { ...result, problems: result.stdout ? JSON.parse(result.stdout).problems : null };
}

Deno.test("CLI bundle verify fails a ZIP that holds a file twice, whichever copy is the changed one", async () => {
  await using dir = await tempDir();
  const { files } = await realBundle(dir.path);
  const inFolder = [...files].map(([name, bytes]): [string, Uint8Array] => [`b/${name}`, bytes]);
  const forged: [string, Uint8Array] = ["b/audit_log.csv", new TextEncoder().encode("forged")];
  for (
    const [order, entries] of [["first", [forged, ...inFolder]], ["last", [
      ...inFolder,
      forged,
    ]]] as const
  ) {
    const path = join(dir.path, `twice_${order}.zip`);
    await Deno.writeFile(path, await zipOf([...entries]));
    const { problems } = await verify(path);
    assert.deepEqual(problems, ["audit_log.csv: in the ZIP more than once"], order);
  }
});

Deno.test("CLI bundle verify fails a manifest that lists a file twice", async () => {
  await using dir = await tempDir();
  const { folder } = await realBundle(dir.path);
  const path = join(folder, "manifest.json");
  const manifest = JSON.parse(await Deno.readTextFile(path));
  manifest.files.push(manifest.files[0]);
  await Deno.writeTextFile(path, JSON.stringify(manifest));
  const { problems } = await verify(folder);
  assert.deepEqual(problems, [`${manifest.files[0].name}: listed more than once in the manifest`]);
});

Deno.test("CLI bundle verify reads no further into an entry than the size the manifest lists", async () => {
  await using dir = await tempDir();
  const { files } = await realBundle(dir.path);
  const listed = files.get("audit_log.csv")!.length;
  const entries = [...files].map(([name, bytes]): [string, Uint8Array] => [
    `b/${name}`,
    name === "audit_log.csv" ? new Uint8Array(64 * 1024 * 1024) : bytes,
  ]);
  const path = join(dir.path, "bomb.zip");
  await Deno.writeFile(path, await zipOf(entries));
  // The directory's size lied about too: the content must be cut off while it inflates.
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer);
  const name = new TextEncoder().encode("b/audit_log.csv");
  let patched = 0;
  for (let at = 0; at + 46 < bytes.length; at++) {
    const central = view.getUint32(at, true) === 0x02014b50;
    const local = view.getUint32(at, true) === 0x04034b50;
    if (!central && !local) continue;
    const nameAt = at + (central ? 46 : 30);
    if (!name.every((b, i) => bytes[nameAt + i] === b)) continue;
    view.setUint32(at + (central ? 24 : 22), listed, true);
    patched++;
  }
  assert.equal(patched, 2);
  await Deno.writeFile(path, bytes);
  const { problems } = await verify(path);
  assert.deepEqual(problems, [`audit_log.csv: larger than the ${listed} bytes the manifest says`]);
});

Deno.test("CLI bundle verify names an entry that leads out of the folder, and refuses what is no ZIP", async () => {
  await using dir = await tempDir();
  const { files } = await realBundle(dir.path);
  const inFolder = [...files].map(([name, bytes]): [string, Uint8Array] => [`b/${name}`, bytes]);
  const cases: [string, Uint8Array | null, RegExp][] = [
    [
      "dotdot.zip",
      await zipOf([...inFolder, ["b/../evil.txt", new Uint8Array(1)]]),
      /"b\/\.\.\/evil\.txt", a name that leads out/,
    ],
    [
      "absolute.zip",
      await zipOf([...inFolder, ["/tmp/evil.txt", new Uint8Array(1)]]),
      /"\/tmp\/evil\.txt", a name that leads out/,
    ],
    ["empty.zip", new Uint8Array(0), /cannot be read as a ZIP/],
    ["text.zip", new TextEncoder().encode("not a zip\n".repeat(50)), /cannot be read as a ZIP/],
    ["cut.zip", (await zipOf(inFolder)).slice(0, 2000), /cannot be read as a ZIP/],
  ];
  for (const [name, content, message] of cases) {
    const path = join(dir.path, name);
    await Deno.writeFile(path, content!);
    const result = await verify(path);
    assert.match(result.stderr, /is not a bundle folder or ZIP: /, name);
    assert.match(result.stderr, message, name);
    assert.equal(result.stdout, "", name);
  }
});

Deno.test({
  name:
    "CLI bundle verify reads no link, pipe or folder in place of a file, and no pipe given as the bundle",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    const { folder } = await realBundle(dir.path);
    const moved = join(dir.path, "audit_log.csv");
    await Deno.rename(join(folder, "audit_log.csv"), moved);
    await Deno.symlink(moved, join(folder, "audit_log.csv"));
    await Deno.remove(join(folder, "README.txt"));
    await new Deno.Command("mkfifo", { args: [join(folder, "README.txt")] }).output();
    await Deno.remove(join(folder, "report.html"));
    await Deno.mkdir(join(folder, "report.html"));
    const { problems } = await verify(folder);
    assert.deepEqual(problems.toSorted(), [
      "README.txt: a device or pipe, not a file, so it was not read",
      "audit_log.csv: a link, not a file, so it was not read",
      "report.html: a folder, not a file, so it was not read",
    ]);

    const pipe = join(dir.path, "bundle.zip");
    await new Deno.Command("mkfifo", { args: [pipe] }).output();
    const result = await verify(pipe);
    assert.match(result.stderr, /is not a bundle folder or ZIP: it is neither a folder nor a file/);
  },
});
