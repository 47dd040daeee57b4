/**
 * A `batch show` or `batch list` as built and shipped: the command line with `batch`, which
 * `deno task build` bundles into one file (`dist/js/cli_build_batch.js`), where the program of
 * every command (`cli_build_commands.ts`) spreads it over a dozen. Scripts call it to follow
 * their runs, and each file a start reads costs it time, from a cold disk most (DEVELOPERS.md,
 * "Start-up"). `cli_build.ts` runs this program only for the command lines it is made for
 * (`ownProgram`): `batch start`, `end` and `exec` (which write, run and bundle), and a `show` or
 * `list` of archives, or for its help or the version, run in the program of every command.
 *
 * @module
 */
import { useOnDemandLoaders } from "./cli/context.ts";

export { main } from "./cli.ts";

useOnDemandLoaders({
  "cli/batch.ts": () => import("./cli/batch.ts"),
  // How an error shows what it quotes: the file the program of every command has of it,
  // loaded only for an error. It imports nothing, so a copy of its own in this process is as
  // good as a shared one. (The CSV and table writers load the same way, from lib/output.ts.)
  "lib/table.ts": () => import(new URL("./lib/table.ts", import.meta.url).href),
});
