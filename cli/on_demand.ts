/**
 * Modules loaded only when a command needs them.
 *
 * Their specifiers are computed on purpose: a literal `import("./cli/bundle.ts")` makes
 * `deno run` read and check every command's modules (and theirs) at each start, a few
 * milliseconds that every `log` would pay. `deno compile` cannot see computed imports, so
 * `scripts/compile.ts` embeds each module listed here with `--include`.
 *
 * @module
 */

/** Every module imported on demand, relative to the project's root. */
export const ON_DEMAND_MODULES = [
  "cli/migrate.ts",
  "cli/log.ts",
  "cli/query.ts",
  "cli/batch.ts",
  "cli/bundle.ts",
  "cli/verify.ts",
  "cli/head.ts",
  "cli/sync.ts",
  "cli/central.ts",
  "cli/stats.ts",
  "cli/report.ts",
  "cli/serve.ts",
  "cli/archive.ts",
  "cli/login_name.ts",
  "lib/ndjson.ts",
  "lib/output.ts",
  "lib/table.ts",
  "lib/version.ts",
  "lib/bundle/mod.ts",
  "lib/archive/read.ts",
] as const;

/** One of {@linkcode ON_DEMAND_MODULES}. */
export type OnDemandModule = (typeof ON_DEMAND_MODULES)[number];

const ROOT = new URL("../", import.meta.url);

/**
 * Imports `module` (one of {@linkcode ON_DEMAND_MODULES}); `T` is its type, written as
 * `typeof import("…")`, which loads nothing at run time.
 */
export function importOnDemand<T>(module: OnDemandModule): Promise<T> {
  return import(new URL(module, ROOT).href);
}
