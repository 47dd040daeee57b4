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
 * was compiled with its module, and Deno's code cache keeps only what was compiled with the
 * module. So every `log` compiled again each function it called: the unrolled SHA-256 alone
 * cost 1.2 ms of about 25 (the build drops the parentheses that made V8 compile it early), the
 * other functions 0.9 ms more (medians of 41 runs in turns, load 2.4). With the flag they come
 * from the code cache from the second run on. Deno's own start is the same with it or without
 * (the bare script and an empty one, 41 runs each), and `bundle --compress`, `report`,
 * `stats`, the CSV export and `batch show` were no slower or larger in memory (11 runs each).
 * The first run after an installation compiles more, once. The benchmark's bare Deno peer runs
 * with the same flags.
 *
 * @module
 */
export const RUNTIME_FLAGS: readonly string[] = ["--allow-all", "--v8-flags=--no-lazy"];
