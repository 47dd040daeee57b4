/**
 * A `log` of one event as built and shipped: the command line with `log` and the modules such a
 * run can load on demand, which `deno task build` bundles into one file
 * (`dist/js/cli_build_log.js`). Scripts call it more than anything else, and each file a start
 * reads costs it time, from a cold disk most (DEVELOPERS.md, "Start-up"): the program of every
 * command (`cli_build_commands.ts`) spreads this run over nine files. `cli_build.ts` runs this
 * program only for the command lines it is made for (`ownProgram`); a `log` that reads NDJSON,
 * prints its record, its help or the version runs in the program of every command.
 *
 * @module
 */
import { useOnDemandLoaders } from "./cli/context.ts";

export { main } from "./cli.ts";

useOnDemandLoaders({
  "cli/log.ts": () => import("./cli/log.ts"),
  // The login name, for when the environment gives none.
  "cli/login_name.ts": () => import("./cli/login_name.ts"),
  // How an error shows what it quotes: the file the program of every command has of it,
  // loaded only for an error. It imports nothing, so a copy of its own in this process is as
  // good as a shared one.
  "lib/table.ts": () => import(new URL("./lib/table.ts", import.meta.url).href),
});
