/**
 * The errors audit-trail raises. Each carries a message a warehouse clerk can act on and an
 * optional hint; the command line turns them into one line on stderr and an exit code.
 *
 * @module
 */

/** Base class of every error audit-trail raises on purpose. */
export class AuditTrailError extends Error {
  /** A next step for the person reading the message, if one helps. */
  readonly hint?: string | undefined;

  constructor(message: string, options?: { hint?: string | undefined; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

/** The caller asked for something that cannot be done as asked: a bad value or option. */
export class UsageError extends AuditTrailError {}

/** A line of NDJSON input is not a valid event. Nothing of that input was stored. */
export class InvalidInputError extends UsageError {
  /** The 1-based line number of the offending line. */
  readonly line: number;

  constructor(
    line: number,
    problem: string,
    options?: { hint?: string | undefined; unit?: string },
  ) {
    super(`${options?.unit ?? "Line"} ${line}: ${problem}`, options);
    this.line = line;
  }
}

/**
 * An event (or the defaults of events) refused before anything was written. `field` names
 * the field at fault, if one is, and `problem` says what is wrong with it, so that a command
 * line can name its own argument or option (`--details`) where a program reads the field's.
 */
export class EventRefusedError extends UsageError {
  /** The field at fault (`operation`, `details`, `sku`, `user`, `run_id`), if one is. */
  readonly field: string | undefined;
  /** What is wrong, without the field's name when `field` is given. */
  readonly problem: string;

  constructor(problem: string, field?: string) {
    super(fieldProblem(problem, field), {
      hint: "Nothing was written. Correct it and run it again.",
    });
    this.field = field;
    this.problem = problem;
  }
}

/**
 * A problem as an NDJSON line or a program states it: the field by its JSON name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fieldProblem } from "./errors.ts";
 * assert.equal(fieldProblem("must not be empty", "sku"), '"sku" must not be empty');
 * assert.equal(fieldProblem("expected an object"), "expected an object");
 * ```
 */
export function fieldProblem(problem: string, field?: string): string {
  return field === undefined ? problem : `"${field}" ${problem}`;
}

/** The database file does not exist (and the command does not create one). */
export class DatabaseNotFoundError extends AuditTrailError {
  /** The path that was looked for. */
  readonly path: string;

  constructor(path: string) {
    super(`Database not found: "${path}"`, {
      hint:
        "Check the path. A new database is made by openDatabase(path, { create: true }) followed by migrate(db).",
    });
    this.path = path;
  }
}

/**
 * The hint of a {@linkcode DatabaseNotFoundError} for a person at the command line (or the
 * viewer it started), in its own terms; the error's own hint speaks to a program's author.
 */
export function commandLineHint(error: AuditTrailError): string | undefined {
  if (!(error instanceof DatabaseNotFoundError)) return error.hint;
  return `Create it with: audit-trail migrate --db "${error.path}" (or pass --db / set AUDIT_TRAIL_DB)`;
}

/** Another program held the database lock for longer than the busy timeout. */
export class DatabaseBusyError extends AuditTrailError {
  /**
   * @param options.waitedMs The busy timeout that ran out, when it is not the default 10 s
   * (`openDatabase`'s `busyTimeoutMs`).
   */
  constructor(
    path: string,
    options?: { cause?: unknown; message?: string; hint?: string | undefined; waitedMs?: number },
  ) {
    super(
      options?.message ?? `Database is busy: "${path}" ${lockedFor(options?.waitedMs ?? 10_000)}`,
      {
        hint: options?.hint ??
          "Nothing was written. Try again when the other program has finished.",
        cause: options?.cause,
      },
    );
  }
}

function lockedFor(ms: number): string {
  if (ms === 0) return "is locked by another program (this connection does not wait)";
  const wait = ms < 1000 ? `${ms} ms` : `${ms / 1000} second${ms === 1000 ? "" : "s"}`;
  return `stayed locked by another program for over ${wait}`;
}

/** The file is not a usable SQLite database, or its contents are damaged. */
export class DatabaseCorruptError extends AuditTrailError {
  constructor(path: string, detail: string, options?: { cause?: unknown }) {
    super(`Database cannot be read: "${path}": ${detail}`, {
      hint:
        "The file is damaged or is not an audit-trail database. Make a debug bundle (audit-trail bundle) and send it to support.",
      cause: options?.cause,
    });
  }
}

/** The disk (or the database's size limit) is full. */
export class DiskFullError extends AuditTrailError {
  constructor(path: string, options?: { cause?: unknown }) {
    super(`Disk is full: cannot write to "${path}"`, {
      hint: "Nothing was written. Free some disk space and try again.",
      cause: options?.cause,
    });
  }
}

/** The database (or its folder) cannot be written to. */
export class ReadOnlyDatabaseError extends AuditTrailError {
  constructor(path: string, options?: { cause?: unknown }) {
    super(`Database is read-only: cannot write to "${path}"`, {
      hint:
        "Check that this user may write to the file and to its folder (SQLite needs both), and that the disk is not read-only.",
      cause: options?.cause,
    });
  }
}

/** The database's schema does not match what this version of the tool expects. */
export class SchemaError extends AuditTrailError {}

/** Verification found an audit log that was changed after it was written (exit code 3). */
export class TamperingFoundError extends AuditTrailError {}

/**
 * The message of anything thrown, on one line: a message from SQLite or the operating system
 * may span lines, and an error is shown (or recorded in a manifest) as one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorMessage } from "./errors.ts";
 * assert.equal(errorMessage(new Error("disk I/O error\n  at page 7")), "disk I/O error at page 7");
 * assert.equal(errorMessage("plain"), "plain");
 * ```
 */
export function errorMessage(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error));
}

/**
 * Why a file could not be written in `folder`, in terms of that folder: the runtime's message
 * names the system call and the exact file (a temporary one, often), which mean nothing to
 * the person who chose the folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notWrittenBecause } from "./errors.ts";
 * const error = new Deno.errors.NotFound("No such file or directory (os error 2): writefile 'x'");
 * assert.equal(notWrittenBecause(error, "out"), 'the folder "out" does not exist');
 * assert.equal(
 *   notWrittenBecause(new Error("No space left on device (os error 28): write 'out/x.tmp'"), "out"),
 *   "No space left on device (os error 28)",
 * );
 * ```
 */
export function notWrittenBecause(error: unknown, folder: string): string {
  if (error instanceof Deno.errors.NotFound) return `the folder "${folder}" does not exist`;
  if (error instanceof Deno.errors.NotADirectory) {
    return `a part of "${folder}" is a file, not a folder`;
  }
  // Making the folder found a file of that name in its place.
  if (error instanceof Deno.errors.AlreadyExists) return `"${folder}" is a file, not a folder`;
  if (error instanceof Deno.errors.PermissionDenied) {
    return `this user may not write in "${folder}"`;
  }
  return withoutOperation(error);
}

/**
 * Why the file or folder at `path` could not be read, in terms of that path: the runtime's
 * message names the system call and its error number (`No such file or directory (os error
 * 2): stat 'x'`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { notReadBecause } from "./errors.ts";
 * const error = new Deno.errors.NotFound("No such file or directory (os error 2): stat 'x'");
 * assert.equal(notReadBecause(error), "it does not exist");
 * assert.equal(notReadBecause(new Error("Input/output error (os error 5): read 'x'")),
 *   "Input/output error (os error 5)");
 * ```
 */
export function notReadBecause(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "it does not exist";
  if (error instanceof Deno.errors.NotADirectory) {
    return "a part of its path is a file, not a folder";
  }
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder, not a file";
  if (error instanceof Deno.errors.PermissionDenied) return "this user may not read it";
  return withoutOperation(error);
}

/** The message of `error` without the system call and file name the runtime appends. */
function withoutOperation(error: unknown): string {
  return errorMessage(error).replace(/: [a-z]+ '.*$/, "");
}

/** `text` with every line break (and the spaces around it) turned into one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
