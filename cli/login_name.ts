/**
 * The operating system's name for the user running the tool, for when the environment does
 * not say (`USER`, `LOGNAME` and `USERNAME` unset, as under some schedulers and services).
 *
 * @module
 */

/**
 * The login name of this process's user, or `undefined` when the system will not tell.
 * On Linux it is read from `/etc/passwd` by user id, which costs no start-up; elsewhere, and
 * for users that file does not list (directory services), from Node's `os.userInfo()`,
 * loaded only then: `node:os` would start Deno's Node layer, 10 ms or more.
 */
export function osLoginName(): string | undefined {
  const uid = userId();
  if (uid !== null) {
    const fromPasswd = passwdName(readPasswd(), uid);
    if (fromPasswd !== undefined) return fromPasswd;
  }
  try {
    const os = (globalThis as unknown as {
      process: { getBuiltinModule(name: "node:os"): typeof import("node:os") };
    }).process.getBuiltinModule("node:os");
    return nonEmpty(os.userInfo().username);
  } catch {
    // No entry for this user anywhere (a container's arbitrary user id): no name to give.
    return undefined;
  }
}

/**
 * The name of user `uid` in the text of an `/etc/passwd` file (`name:password:uid:…` lines),
 * or `undefined` when no line has that id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { passwdName } from "./login_name.ts";
 * const passwd = "root:x:0:0:root:/root:/bin/sh\nana:x:1000:1000::/home/ana:/bin/sh\n";
 * assert.equal(passwdName(passwd, 1000), "ana");
 * assert.equal(passwdName(passwd, 1001), undefined);
 * ```
 */
export function passwdName(passwd: string | undefined, uid: number): string | undefined {
  for (const line of passwd?.split("\n") ?? []) {
    const fields = line.split(":");
    if (fields.length >= 3 && fields[2] === String(uid) && !line.startsWith("#")) {
      return nonEmpty(fields[0]);
    }
  }
  return undefined;
}

function userId(): number | null {
  try {
    return Deno.uid();
  } catch {
    return null;
  }
}

function readPasswd(): string | undefined {
  try {
    return Deno.readTextFileSync("/etc/passwd");
  } catch {
    return undefined;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
