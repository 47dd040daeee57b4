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
 * The first run after an installation compiles more, once.
 *
 * `--no-sparkplug`: V8's baseline compiler then compiled the unrolled SHA-256 again at the
 * seal of every `log` (the code cache keeps bytecode, not machine code). Without it: `log` 0.55
 * ms faster, `query --sku` 1.3 ms (medians of 41 runs in turns, load 1.1); what runs long goes
 * on to V8's optimizing compilers as before: bulk ingest of 200,000 events 1.75 s against 1.81,
 * `verify`, `report`, `stats` and `bundle --compress` within 2%, the CSV export 3% slower (7 runs
 * each in turns).
 *
 * The benchmark's bare Deno peer runs with the same flags.
 *
 * @module
 */
export const RUNTIME_FLAGS: readonly string[] = [
  "--allow-all",
  "--v8-flags=--no-lazy,--no-sparkplug",
];
