import { checkDatabasePath } from "../lib/db.ts";
import { AuditTrailError, UsageError } from "../lib/errors.ts";
import { formatBytes } from "../lib/bundle/files.ts";
import {
  BundleFolderError,
  type BundleProgress,
  type DebugBundleResult,
  DEFAULT_AUDIT_LIMIT,
  exportDebugBundle,
  verifyBundle,
} from "../lib/bundle/mod.ts";
import { writeObject } from "../lib/output.ts";
import type { TextSink } from "../lib/output.ts";
import { type Command, expectAtMost, parseCommandArgs, requireFormat } from "./context.ts";
import { interruptible, Interruption } from "./interrupt.ts";
import { parseCount } from "../lib/count.ts";

const VERIFY_EXAMPLE =
  "Example: audit-trail bundle verify data/debug_bundles/debug_bundle_20260216_143005.zip";

export const command: Command = {
  help: `audit-trail bundle — make a debug bundle for support, or check one

USAGE
  audit-trail bundle [--output DIR] [--audit-limit N] [--compress] [--settings PATH]
  audit-trail bundle verify PATH

Writes debug_bundle_YYYYMMDD_HHMMSS/ (UTC time), or with --compress one .zip of that
folder, and prints its path. It holds a consistent copy of the database (taken safely
while other programs write), the newest events as a spreadsheet, database figures and
integrity check, versions, the settings with every secret replaced by [REDACTED], a
report to open in a browser (report.html: charts, batches, the newest events), a README
and a manifest with the SHA-256 of every file. A secret of the settings that also
appears in the events or the copy of the database is masked there too. In the copy,
the application's own tables lose their credentials: columns named like password_hash,
api_token, pin or client_secret are masked whole, and private keys, webhooks, sig=,
Bearer tokens and JWTs anywhere else. manifest.json ("redactions") and README.txt say
how many and where. The database is only read.

A locked, damaged or missing database still gives a bundle: what could not be collected
is listed in manifest.json and README.txt, and the exit code is 1.

"bundle verify PATH" checks a bundle folder or ZIP against its manifest: exit 0 when
every file is intact, 1 naming each file that is missing, changed or added.

OPTIONS
  --output DIR       where to write it (default: debug_bundles/ beside the database)
  --audit-limit N    how many of the newest events go into audit_log.csv
                     (default ${DEFAULT_AUDIT_LIMIT}; 0 = all)
  --compress         write one ZIP file instead of a folder
  --settings PATH    the settings file to include, redacted (default: settings.json
                     beside the database, when there is one)
  --db PATH          the database (default: $AUDIT_TRAIL_DB, else data/app.db)

OUTPUT
  the bundle's path; bundle verify prints {"path", "bundle_id", "ok", "files_checked",
  "problems"}. Progress goes to stderr when it is a terminal.

EXAMPLES
  audit-trail bundle --compress
  audit-trail bundle --output /tmp/support --audit-limit 5000
  audit-trail bundle verify data/debug_bundles/debug_bundle_20260216_143005.zip
`,
  async run(context, args) {
    const { values, positionals } = parseCommandArgs(context, "bundle", args, {
      output: { type: "string" },
      "audit-limit": { type: "string" },
      compress: { type: "boolean" },
      settings: { type: "string" },
    }, { paths: ["output", "settings"] });
    const { io } = context;
    if (positionals[0] === "verify") {
      requireFormat(context, "bundle verify", ["json", "ndjson", "table"]);
      expectAtMost("bundle verify", positionals, 2);
      const given = Object.keys(values)[0];
      if (given) {
        throw new UsageError(`--${given} cannot be used with bundle verify`, {
          hint: VERIFY_EXAMPLE,
        });
      }
      if (positionals.length < 2) {
        throw new UsageError("Missing PATH: the bundle folder or ZIP to check", {
          hint: VERIFY_EXAMPLE,
        });
      }
      const result = await verifyBundle(positionals[1]);
      await writeObject(io.stdout, { ...result }, context.explicitFormat ?? "json");
      if (!result.ok) {
        throw new AuditTrailError(
          `The bundle does not match its manifest: ${result.problems.join("; ")}`,
          {
            hint:
              "It was changed or damaged after it was made, or made without a file list. Ask for a new bundle (audit-trail bundle).",
          },
        );
      }
      return 0;
    }
    expectAtMost("bundle", positionals, 0);
    requireFormat(context, "bundle", []);
    checkDatabasePath(context.dbPath);

    const limit = values["audit-limit"];
    const auditLimit = limit === undefined ? undefined : parseCount(limit, "--audit-limit");
    const printer = io.stderr.isTerminal ? progressPrinter(io.stderr) : undefined;
    const outcome = await interruptible((signal) =>
      exportDebugBundle({
        database: context.dbPath,
        outputDir: values.output,
        auditLimit,
        compress: values.compress ?? false,
        settingsPath: values.settings,
        onProgress: printer?.onProgress,
        signal,
      })
    ).catch(withOutputOption).finally(() => printer?.flushed());
    if (outcome instanceof Interruption) {
      await io.stderr.write(`audit-trail: ${INTERRUPTED_MESSAGE}\n`);
      return outcome.exitCode;
    }
    const result = outcome;
    await io.stdout.write(result.path + "\n");
    if (!result.complete) throw incomplete(result);
    return 0;
  },
};

/** A folder that cannot take the bundle: the hint names the option that picks another. */
function withOutputOption(error: unknown): never {
  if (!(error instanceof BundleFolderError)) throw error;
  throw new AuditTrailError(error.message, {
    hint: `${error.hint} Give it with --output DIR.`,
    cause: error,
  });
}

/** The error for a bundle that was saved without some of its parts. */
export function incomplete(result: DebugBundleResult): AuditTrailError {
  const parts = result.errors.map((e) => `${e.step}: ${e.message}`).join("; ");
  return new AuditTrailError(`The bundle was saved, but incomplete: ${parts}`, {
    hint: "Send it to support as it is: its README.txt and manifest.json say what is missing.",
  });
}

/**
 * Writes numbered steps with sizes, `[2/8] Copying the database ... database_backup.db,
 * 12.0 MB (0.8 s)`, to `sink`. `flushed` resolves once everything is written.
 */
export function progressPrinter(sink: TextSink): {
  onProgress(progress: BundleProgress): void;
  flushed(): Promise<void>;
} {
  let queue = Promise.resolve();
  const write = (text: string) => {
    queue = queue.then(() => sink.write(text)).catch(() => {});
  };
  const seconds = (ms?: number) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
  return {
    onProgress(p) {
      switch (p.state) {
        case "start":
          write(`[${p.step}/${p.steps}] ${p.title} ... `);
          break;
        case "done": {
          const file = p.bytes ? `${p.file}, ${formatBytes(p.bytes)}` : p.message ? "" : p.file;
          write(`${[file, p.message].filter(Boolean).join(", ")} (${seconds(p.durationMs)})\n`);
          break;
        }
        case "partial":
          write(`only partly: ${p.message} (${seconds(p.durationMs)})\n`);
          break;
        case "failed":
          write(`FAILED: ${p.message}\n`);
          break;
        case "skipped":
          write(`skipped (${p.message})\n`);
          break;
      }
    },
    flushed: () => queue,
  };
}

/** What to tell the person who stopped the bundle. */
export const INTERRUPTED_MESSAGE =
  "interrupted: no bundle was saved, and its temporary files were removed";
