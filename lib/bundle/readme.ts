/**
 * `README.txt`: a health summary to read at a glance, then what each file is and how to use
 * the bundle.
 *
 * @module
 */
import { LATEST_SCHEMA_VERSION } from "../schema.ts";
import { formatBytes } from "./files.ts";
import type { Manifest } from "./manifest.ts";
import { REPORT_NAME } from "../report/file.ts";
import { BACKUP_NAME, RAW_NAME } from "./snapshot.ts";
import { MIN_MASKED_LENGTH, WHOLE_TOKEN_BELOW } from "./mask.ts";
import { isToolTable } from "./app_secrets.ts";

/** The README's name in the bundle. */
export const README_NAME = "README.txt";

/** What the README is written from: the manifest so far, and the free disk space. */
export type ReadmeFacts = Omit<Manifest, "files"> & {
  freeDiskBytes: number | null;
  /** The names of the files in the bundle. */
  fileNames: string[];
  auditLimit: number;
  /** Which check ran, when one did. */
  integrityMode: "quick_check+indexes" | null;
};

const DESCRIPTIONS: Record<string, (facts: ReadmeFacts) => string> = {
  [BACKUP_NAME]: (f) =>
    f.snapshot.consistent
      ? `A consistent copy of the database (${f.snapshot.note}). It is one file: no -wal or -shm file is needed.`
      : `What SQLite could read from the damaged or locked database (${f.snapshot.note}). Rows may be missing.`,
  [RAW_NAME]: () =>
    "The database file copied as it was found, because no consistent copy could be made.",
  [`${RAW_NAME}-wal`]: () => `The database's write-ahead log, copied with ${RAW_NAME}.`,
  [`${RAW_NAME}-journal`]: () => `The database's rollback journal, copied with ${RAW_NAME}.`,
  "audit_log.csv": (f) =>
    `The ${
      f.auditLimit === 0 ? "" : `newest ${f.auditLimit.toLocaleString("en-US")} `
    }events, newest first, for a spreadsheet (UTF-8). Cells that start with = + - @ or a control character are prefixed with ' so that they show as text.`,
  "database_stats.json": () =>
    "Schema version, tables with row counts, indexes, page figures, journal mode, WAL size and the integrity check.",
  "system_info.json": () =>
    "Versions of audit-trail, Deno and SQLite; the operating system and the machine.",
  "settings.json": () =>
    "The settings file, with passwords, tokens, keys and other secrets replaced by [REDACTED].",
  [README_NAME]: () => "This file.",
  [REPORT_NAME]: () =>
    "Open this first, in any web browser (it works offline): events per day and operation, the busiest SKUs and users, recent batches and failures, the audit chain's verdict, and the newest 1,000 events in a table that filters as you type.",
  "manifest.json": () =>
    "What the bundle holds: every file with its size and SHA-256, the steps, and any errors.",
};

/** The `audit-trail verify` verdict, with the newest seal to note as an anchor. */
function chainSummary(facts: ReadmeFacts): string {
  const verdict = facts.chain_verify;
  if (!verdict) return "not checked (the database predates the chain, or see the errors below)";
  const head = facts.chain_head
    ? `; newest seal ${facts.chain_head.audit_id}:${facts.chain_head.hash}`
    : "";
  const after = facts.archives?.length ? " after the archived ones" : "";
  return verdict.failure
    ? `TAMPERED: ${verdict.failure.message}`
    : `intact (${verdict.events_checked.toLocaleString("en-US")} events${after}${head})`;
}

/** The events in the database, and those archived out of it (never in a bundle). */
function eventsSummary(facts: ReadmeFacts): string {
  const count = facts.audit_records_count;
  const live = count === null ? "unknown" : count.toLocaleString("en-US");
  const archives = facts.archives ?? [];
  if (archives.length === 0) return live;
  const archived = archives.reduce((sum, c) => sum + c.events, 0);
  const files = archives.length === 1 ? "1 archive file" : `${archives.length} archive files`;
  return `${live} in the database; ${archived.toLocaleString("en-US")} more archived (events ${
    archives[0]!.first_audit_id
  } to ${archives.at(-1)!.last_audit_id}, in ${files}, not in this bundle)`;
}

/** The central store this database syncs to, and how far it got, when it does. */
function centralLine(facts: ReadmeFacts): string[] {
  const record = facts.central;
  if (!record) return [];
  const acknowledged = record.acknowledged_audit_id ?? 0;
  const newest = facts.chain_head?.audit_id ?? null;
  const unsent = newest === null
    ? ""
    : newest > acknowledged
    ? `; ${
      newest === acknowledged + 1 ? `event ${newest}` : `events ${acknowledged + 1} to ${newest}`
    } not sent yet`
    : "; nothing left to send";
  const last = record.last_sync_at.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
  return [
    `  Central store:    site ${record.site} at ${record.central}, ${
      record.acknowledged_audit_id === null
        ? "no event acknowledged yet"
        : `events up to ${acknowledged} acknowledged`
    } (last sync ${last})${unsent}`,
  ];
}

/** How the settings' secrets were masked, when the settings held any. */
function secretsSection(facts: ReadmeFacts): string[] {
  const r = facts.redactions;
  if (r.secrets_searched === 0 && r.not_searched.length === 0) return [];
  const where = Object.entries(r.files).map(([file, n]) => `${file} ${n}`).join(", ");
  const lines = [
    "",
    "SECRETS",
    "  Values of the settings that name a secret (passwords, tokens, keys...) are [REDACTED]",
    "  in settings.json. Where the same values appear in another file (typed into an event,",
    "  or equal to a user name), they are masked there too, and the bundle is still made.",
    `  Masked: ${r.total === 0 ? "nothing" : `${r.total} (${where})`}.`,
    `  Rules: a secret under ${MIN_MASKED_LENGTH} characters is hidden in settings.json only; under`,
    `  ${WHOLE_TOKEN_BELOW} characters it is masked where it stands as a whole word or number (not`,
    "  inside a longer one); a longer secret wherever it appears. In a raw copy of the",
    "  database (database_raw.db...) secrets are overwritten with * byte for byte.",
  ];
  if (r.not_searched.length) {
    lines.push(`  Not looked for (too short): ${r.not_searched.map((u) => u.key).join(", ")}.`);
  }
  const ids = r.database?.audit_ids;
  if (ids && ids.count > 0) {
    lines.push(
      `  Hash chain: ${
        ids.count.toLocaleString("en-US")
      } events of ${BACKUP_NAME} were masked (their`,
      "  audit_ids are in manifest.json, redactions.database.audit_ids). Their seals no longer",
      "  match, so audit-trail verify of the backup reports the first of them as modified: that",
      "  is the masking, not tampering. The live database's chain was checked before (Audit",
      "  chain above).",
    );
  }
  return lines;
}

/** The masked columns README.txt names one by one; the manifest lists them all. */
const LISTED_COLUMNS = 20;

/** How the application's own tables were masked, when the copy was looked at. */
function applicationSection(facts: ReadmeFacts): string[] {
  const database = facts.redactions.database;
  const raw = facts.fileNames.includes(RAW_NAME)
    ? [
      `  ${RAW_NAME} is the database file as it was found (it could not be read as rows):`,
      "  only the settings' secrets are overwritten in it, the application's credentials are",
      "  still there. Handle this bundle as holding them.",
    ]
    : [];
  if (!database) return raw.length ? ["", "APPLICATION CREDENTIALS", ...raw] : [];
  const masked = database.columns.filter((c) => !isToolTable(c.table));
  const listed = masked.slice(0, LISTED_COLUMNS).map((c) =>
    `    ${c.table}.${c.column}: ${c.cells.toLocaleString("en-US")} (${c.by.join(", ")})`
  );
  if (masked.length > LISTED_COLUMNS) {
    listed.push(`    and ${masked.length - LISTED_COLUMNS} more columns (manifest.json)`);
  }
  return [
    "",
    "APPLICATION CREDENTIALS",
    `  In ${BACKUP_NAME} (never in the live database), the inventory application's tables`,
    "  lose their credentials: every value of a column whose name ends in a credential word",
    "  (password, passwd, pwd, secret, token, pin, salt, credential, api_key, private_key...,",
    "  also password_hash or pin_code; but not token_count, password_changed_at or",
    "  secretary_name), and anywhere else what looks like a private key, a Slack or Teams",
    "  webhook, a URL signature (sig=), a Bearer or Basic credential or a JSON Web Token.",
    "  Text becomes [REDACTED] (numbered where the column must stay unique), a number 0, a",
    "  BLOB as many * bytes as it had; NULL stays NULL. audit-trail's own tables (audit_log,",
    "  audit_trail_*) are not concerned. A CHECK constraint on a masked column (a PIN that",
    "  must have 4 digits) may fail in the copy: PRAGMA integrity_check then names the table.",
    "  Per column, values masked and why (manifest.json: redactions.database.columns, with",
    "  cells and by):",
    ...(listed.length ? listed : ["    nothing was masked"]),
    ...raw,
  ];
}

/** Where README.txt's lines end, at most. */
const LINE_WIDTH = 88;

/** `text` in lines of at most {@linkcode LINE_WIDTH} columns, the first indented 2, the rest 4. */
function wrapped(text: string): string[] {
  const lines: string[] = [];
  let line = "  ";
  for (const word of text.split(" ")) {
    if (line.trim() && line.length + 1 + word.length > LINE_WIDTH) {
      lines.push(line);
      line = "    ";
    }
    line += line.trim() ? ` ${word}` : word;
  }
  return [...lines, line];
}

/**
 * How to restore the backup, and whether to: a copy with masked values is no faithful copy of
 * the database (masked events fail their seals, masked credentials are not the application's),
 * and in the database's place it would pass for tampering.
 */
function restoreLines(facts: ReadmeFacts): string[] {
  const database = facts.redactions.database;
  const events = database?.audit_ids.count ?? 0;
  const credentials = database?.columns.some((c) => !isToolTable(c.table)) ?? false;
  const how =
    `stop the inventory application, move its database (data/app.db) and any app.db-wal and app.db-shm aside, copy ${BACKUP_NAME} in its place under the same name, and start the application again.`;
  const reasons: string[] = [];
  if (events > 0) {
    const first = database!.audit_ids.ranges[0]![0];
    reasons.push(
      events === 1
        ? `values were masked in it (SECRETS above), so event ${first} no longer matches its seal and audit-trail verify of it reports tampering`
        : `values were masked in it (SECRETS above), so ${events} events (the first ${first}) no longer match their seals and audit-trail verify of it reports tampering`,
    );
  }
  if (credentials) {
    reasons.push(
      "the application's credentials were masked in it (APPLICATION CREDENTIALS above), so its passwords, tokens and keys are not the real ones",
    );
  }
  const restore = reasons.length === 0
    ? `Restore the backup: ${how}`
    : `Restore the backup only when no other copy of the database is left: ${
      reasons.join("; and ")
    }. To restore it anyway: ${how}`;
  return [
    ...wrapped(`${restore} To look without restoring:`),
    `    audit-trail query --db ${BACKUP_NAME}   or   sqlite3 ${BACKUP_NAME}`,
  ];
}

/** The text of `README.txt`. */
export function readmeText(facts: ReadmeFacts): string {
  const created = facts.created_at.replace("T", " ").replace(/\.\d+Z$/, " UTC");
  const integrity = facts.integrity_ok === null
    ? "not checked (see the errors below)"
    : facts.integrity_ok
    ? facts.integrityMode === "quick_check+indexes"
      ? "ok (SQLite's quick check; every index compared with its table)"
      : "ok"
    : "FAILED: the database is damaged (details in database_stats.json)";
  const schema = facts.schema_version === null
    ? "unknown"
    : facts.schema_version === LATEST_SCHEMA_VERSION
    ? `${facts.schema_version} (current)`
    : `${facts.schema_version} (this audit-trail expects ${LATEST_SCHEMA_VERSION})`;
  const size = !facts.database_exists
    ? `no database at ${facts.database_path}`
    : `${
      facts.database_size_bytes === null ? "unknown" : formatBytes(facts.database_size_bytes)
    }, WAL ${formatBytes(facts.wal_size_bytes ?? 0)}`;
  const lines = [
    `audit-trail debug bundle ${facts.bundle_id}`,
    `Made ${created} by audit-trail ${facts.audit_trail_version} on ${facts.platform}.`,
    `Database: ${facts.database_path}`,
    "",
    `Open ${REPORT_NAME} first: the charts, the batches and the newest events, in any web browser.`,
    "",
    "HEALTH AT A GLANCE",
    `  Integrity check:  ${integrity}`,
    `  Audit chain:      ${chainSummary(facts)}`,
    `  Schema version:   ${schema}`,
    `  Events:           ${eventsSummary(facts)}`,
    ...centralLine(facts),
    `  Database size:    ${size}`,
    `  Free disk:        ${
      facts.freeDiskBytes === null ? "unknown" : formatBytes(facts.freeDiskBytes)
    }`,
    `  Errors:           ${
      facts.errors.length === 0 ? "none" : `${facts.errors.length} (listed below)`
    }`,
  ];
  if (facts.errors.length) {
    lines.push("", "ERRORS (the rest of the bundle was still made)");
    for (const error of facts.errors) lines.push(`  - ${error.step}: ${error.message}`);
  }
  lines.push(...secretsSection(facts), ...applicationSection(facts));
  lines.push("", "FILES");
  const width = Math.max(...facts.fileNames.map((n) => n.length));
  for (const name of facts.fileNames) {
    lines.push(`  ${name.padEnd(width)}  ${DESCRIPTIONS[name]?.(facts) ?? ""}`.trimEnd());
  }
  lines.push(
    "",
    "HOW TO USE IT",
    ...restoreLines(facts),
    "  Open the CSV: double-click audit_log.csv, or in Excel use Data > From Text/CSV.",
    "  Check the checksums: audit-trail bundle verify PATH (this folder or the ZIP) checks",
    "    every file against manifest.json. By hand: sha256sum FILE (Linux) or",
    "    Get-FileHash FILE (Windows PowerShell) must print the sha256 manifest.json lists.",
    "",
  );
  return lines.join("\r\n");
}
