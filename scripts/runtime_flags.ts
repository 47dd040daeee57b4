/**
 * The flags the compiled executable runs with, in one place: `deno task compile` bakes them
 * in, the CLI tests run `cli.ts` with exactly these flags, and `deno task bench` runs the built
 * program with them.
 *
 * `--allow-all`, because the tool needs every kind of permission anyway (files, environment,
 * subprocesses for `batch exec`, system facts for bundles), and because Deno enables SQLite's
 * ATTACH, and with it `VACUUM INTO` (the snapshot method that stays consistent under live
 * writers), only with all permissions. `--allow-run` alone would already let `batch exec` run
 * anything.
 *
 * `--v8-flags=--no-lazy`: V8 compiles a function at its first call, in every process, unless it
 * was compiled with its module; Deno's code cache keeps only what was compiled with the module.
 * So every run of a command compiled again each function it called: about 2.5 ms of a 25 ms
 * `log` (the unrolled SHA-256 alone 1.2 ms, once the build had dropped the parentheses that
 * made V8 compile it early). Compiled with their modules, the functions come from the code
 * cache from the second run on: `log` 1.1 ms faster, `query --sku` 2 ms, and no command
 * measured slower or larger (`bundle --compress`, `report`, `stats`, CSV export, `batch show`;
 * medians of 11 to 41 runs in turns; DEVELOPERS.md, "Where one `log` process spends its time").
 * The first run after an installation compiles more, once.
 *
 * @module
 */
export const RUNTIME_FLAGS: readonly string[] = ["--allow-all", "--v8-flags=--no-lazy"];
