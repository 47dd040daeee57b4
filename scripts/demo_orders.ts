// deno-lint-ignore-file no-console
/**
 * The demo's batch job: confirms 15 orders, each with its own `audit-trail log` call. Run by
 * `batch exec`, so every call inherits AUDIT_TRAIL_RUN_ID and AUDIT_TRAIL_DB and joins the
 * batch without being told.
 *
 * @module
 */
import { join } from "node:path";
import { RUNTIME_FLAGS } from "./runtime_flags.ts";

const CLI = join(new URL("..", import.meta.url).pathname.replace(/^\/([A-Za-z]:)/, "$1"), "cli.ts");

for (let order = 1; order <= 15; order++) {
  const sku = `SKU-${1000 + (order % 5)}`;
  const units = 5 * order;
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...RUNTIME_FLAGS,
      CLI,
      "log",
      "ORDER_CONFIRMED",
      "--sku",
      sku,
      "--details",
      `Order ORD-${100 + order}: ${units} units`,
    ],
    stdout: "piped",
  }).output();
  if (code !== 0) Deno.exit(code);
  console.log(
    `order ORD-${100 + order} confirmed (event ${new TextDecoder().decode(stdout).trim()})`,
  );
}
