/**
 * The permissions the compiled executable gets, in one place: `deno task compile` bakes
 * these flags in, and the CLI tests run `cli.ts` with exactly these flags.
 *
 * `--allow-all`, because the tool needs every kind anyway (files, environment, subprocesses
 * for `batch exec`, system facts for bundles), and because Deno enables SQLite's ATTACH, and
 * with it `VACUUM INTO` (the snapshot method that stays consistent under live writers), only
 * with all permissions. `--allow-run` alone would already let `batch exec` run anything.
 *
 * @module
 */
export const PERMISSION_FLAGS: readonly string[] = ["--allow-all"];
