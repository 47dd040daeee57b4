// deno-lint-ignore-file no-console
/**
 * `deno task demo`: a guided tour on a fresh database under demo/. Creates it, runs a batch
 * of 15 order confirmations through `batch exec` (each one a nested `audit-trail log`),
 * queries the events and shows the batch. Every step prints the command it runs.
 *
 * Usage: deno task demo [--dir DIR] [--keep]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
const CLI = join(ROOT, "cli.ts");
const ORDERS = join(ROOT, "scripts", "demo_orders.ts");

const { values } = parseArgs({
  args: Deno.args,
  options: { dir: { type: "string", default: join(ROOT, "demo") }, keep: { type: "boolean" } },
});
const dir = resolve(values.dir!);
const db = join(dir, "app.db");
if (!values.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});

/** Runs audit-trail with the binary's permissions, showing the command line first. */
async function auditTrail(...args: string[]): Promise<void> {
  console.log(
    `\n$ audit-trail ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(" ")}`,
  );
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...RUNTIME_FLAGS, CLI, "--db", db, ...args],
    env: { AUDIT_TRAIL_USER: "demo" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`demo: that step failed with exit code ${code}`);
    Deno.exit(code);
  }
}

console.log(`audit-trail demo — database: ${db}`);
await auditTrail("migrate");
await auditTrail(
  "batch",
  "exec",
  "--description",
  "Confirm 15 supplier orders",
  "--",
  Deno.execPath(),
  "run",
  "--quiet",
  ...RUNTIME_FLAGS,
  ORDERS,
);
await auditTrail("query", "--operation", "ORDER_CONFIRMED", "--limit", "5", "--format", "table");
const runId = new TextDecoder().decode(
  (await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...RUNTIME_FLAGS,
      CLI,
      "--db",
      db,
      "batch",
      "list",
      "--limit",
      "1",
      "--format",
      "ndjson",
    ],
    stdout: "piped",
  }).output()).stdout,
);
await auditTrail("batch", "show", JSON.parse(runId).run_id, "--format", "table");
console.log(
  `\nDone. Explore further: npx --yes deno@2.9.6 run -A cli.ts --db "${db}" query --sku SKU-1003`,
);
