/**
 * The README's pictures: a report and the viewer, taken by Debian's headless Chromium from a
 * demo log of six weeks (busy weekdays, quiet weekends, batches of which every tenth failed).
 *
 *     deno run --allow-all scripts/screenshots.ts     # writes docs/report.png, docs/viewer.png
 *
 * @module
 */
import { join } from "node:path";
import { screenshot } from "../tests/browser.ts";
import { buildSpreadDatabase } from "./bench_viewer.ts";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1");
const DOCS = join(ROOT, "docs");
const dir = await Deno.makeTempDir({ prefix: "audit-trail-screenshots-" });
const cli = (...args: string[]) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...RUNTIME_FLAGS, join(ROOT, "cli.ts"), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  });

try {
  const db = join(dir, "app.db");
  buildSpreadDatabase(db, 40_000, {
    days: 42,
    weekly: [0.15, 1, 1.1, 0.9, 1.2, 1, 0.35],
    runSize: 60,
  });
  const report = join(dir, "audit_report.html");
  const made = await cli("report", "--output", report, "--db", db).output();
  if (!made.success) throw new Error("report failed");
  await Deno.mkdir(DOCS, { recursive: true });
  await screenshot(`file://${report}`, join(DOCS, "report.png"), 1280, 1500);

  const server = cli("serve", "--port", "0", "--db", db).spawn();
  try {
    const reader = server.stdout.getReader();
    const { value } = await reader.read();
    const url = new TextDecoder().decode(value).split("\n")[0];
    await screenshot(
      `${url}events?sku=SKU-00003&since=2026-02-01`,
      join(DOCS, "viewer.png"),
      1280,
      1500,
    );
    reader.releaseLock();
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
  Deno.stderr.writeSync(
    new TextEncoder().encode(`screenshots: docs/report.png, docs/viewer.png\n`),
  );
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
