/**
 * Every command as built and shipped: `deno task build` bundles the command line from here into
 * JavaScript files in `dist/js/`: this one, one per command and module loaded on demand, and
 * the pieces they share. It is `cli.ts` with every module that loads on demand named by a
 * literal import, which the bundler follows to put each command's code in files of its own;
 * the build then makes those imports computed again, so that starting one command reads only
 * the files it runs. `cli_build.ts` runs it for every command line but a `log` of one event.
 *
 * @module
 */
import { type OnDemandLoaders, useOnDemandLoaders } from "./cli/context.ts";

export { main } from "./cli.ts";

useOnDemandLoaders(
  {
    "cli/migrate.ts": () => import("./cli/migrate.ts"),
    "cli/log.ts": () => import("./cli/log.ts"),
    "cli/query.ts": () => import("./cli/query.ts"),
    "cli/batch.ts": () => import("./cli/batch.ts"),
    "cli/bundle.ts": () => import("./cli/bundle.ts"),
    "cli/verify.ts": () => import("./cli/verify.ts"),
    "cli/head.ts": () => import("./cli/head.ts"),
    "cli/sync.ts": () => import("./cli/sync.ts"),
    "cli/central.ts": () => import("./cli/central.ts"),
    "cli/stats.ts": () => import("./cli/stats.ts"),
    "cli/report.ts": () => import("./cli/report.ts"),
    "cli/serve.ts": () => import("./cli/serve.ts"),
    "cli/archive.ts": () => import("./cli/archive.ts"),
    "cli/login_name.ts": () => import("./cli/login_name.ts"),
    "lib/ndjson.ts": () => import("./lib/ndjson.ts"),
    "lib/bulk_append.ts": () => import("./lib/bulk_append.ts"),
    "lib/output.ts": () => import("./lib/output.ts"),
    "lib/csv.ts": () => import("./lib/csv.ts"),
    "lib/table.ts": () => import("./lib/table.ts"),
    "lib/version.ts": () => import("./lib/version.ts"),
    "lib/bundle/mod.ts": () => import("./lib/bundle/mod.ts"),
    "lib/archive/read.ts": () => import("./lib/archive/read.ts"),
    "lib/batch_run.ts": () => import("./lib/batch_run.ts"),
    "lib/batch_outcome.ts": () => import("./lib/batch_outcome.ts"),
  } satisfies OnDemandLoaders,
);
