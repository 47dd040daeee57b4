import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, tempDir } from "./helpers.ts";

// An application type-checks mod.ts's files (imported by path) with its own compiler options:
// an error inside the library under a stricter option than this repository uses stops every
// such application's `deno check`.

const STRICT_OPTIONS = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
};

// Options an application builds from a form or a config file, where a field left empty is
// `undefined`: under exactOptionalPropertyTypes the types must accept that, as the code does.
const APP = (mod: string) => `
import {
  exportDebugBundle, getAuditLog, getStats, listBatches, logAuditEvent, openDatabase, verifyChain,
} from ${JSON.stringify(mod)};
const form: { sku?: string | undefined; since?: string | undefined; user?: string | undefined } =
  {};
using db = openDatabase("inventory.db", { busyTimeoutMs: undefined, readOnly: undefined });
logAuditEvent(db, { operation: "STOCK_SET", sku: form.sku, user: form.user }, {
  user: form.user,
});
getAuditLog(db, { sku: form.sku, since: form.since, limit: undefined });
getStats(db, { since: form.since, until: undefined });
listBatches(db, { limit: undefined });
await verifyChain(db, { anchor: undefined });
await exportDebugBundle({ database: db.path, outputDir: undefined, onProgress: undefined });
`;

Deno.test("an application checked with strict options (exactOptionalPropertyTypes, noUncheckedIndexedAccess, ...) finds no error in the library, and may pass undefined options", async () => {
  await using dir = await tempDir();
  const repoConfig = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  await Deno.writeTextFile(
    join(dir.path, "deno.json"),
    JSON.stringify({ compilerOptions: STRICT_OPTIONS, imports: repoConfig.imports, lock: false }),
  );
  await Deno.writeTextFile(join(dir.path, "app.ts"), APP(pathToFileURL(join(ROOT, "mod.ts")).href));
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["check", "app.ts"],
    cwd: dir.path,
    env: { NO_COLOR: "1" },
  }).output();
  const errors = new TextDecoder().decode(output.stderr).split("\n")
    .filter((line) => /^TS\d+|^\s+at file:/.test(line));
  assert.deepEqual(errors, []);
  assert.equal(output.code, 0);
});
