/**
 * Output formats shared by every command: JSON, NDJSON, CSV and a table for people.
 * Records are written page by page, so exports of any size stream with flat memory.
 *
 * @module
 */
import {
  appendCsvLines,
  appendJoinedCsvLines,
  EVENT_COLUMNS,
  loadCsvWriter,
  recordsToCsv,
} from "./csv.ts";

/** The formats records can be printed in. */
export type OutputFormat = "json" | "ndjson" | "csv" | "table";
/** Every {@linkcode OutputFormat}, for argument checking and help. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["json", "ndjson", "csv", "table"];

/** Where output text goes; `write` resolves once the text is accepted (backpressure). */
export interface TextSink {
  write(text: string): Promise<void>;
}

/**
 * Writes pages of records in `format`. JSON is one array with a record per line (valid JSON
 * that `jq` reads, and that streams); an empty result is `[]`.
 */
export async function writeRecords(
  sink: TextSink,
  pages: Iterable<readonly object[]> | AsyncIterable<readonly object[]>,
  format: OutputFormat,
  columns: readonly string[] = EVENT_COLUMNS,
): Promise<number> {
  let count = 0;
  let widths: number[] | undefined;
  for await (const page of pages) {
    if (page.length === 0) continue;
    switch (format) {
      case "json":
        await sink.write(
          (count === 0 ? "[\n" : ",\n") + page.map((r) => JSON.stringify(r)).join(",\n"),
        );
        break;
      case "ndjson":
        await sink.write(page.map((r) => JSON.stringify(r)).join("\n") + "\n");
        break;
      case "csv":
        await sink.write(await recordsToCsv(page, count === 0, columns));
        break;
      case "table": {
        const cells = page.map((record) => tableRow(record, columns));
        // Column widths come from the first page so that a long listing can stream.
        if (!widths) {
          widths = columns.map((c, i) =>
            Math.min(MAX_CELL, Math.max(c.length, ...cells.map((row) => row[i].length)))
          );
          await sink.write(formatTableLine([...columns], widths) + "\n");
        }
        await sink.write(cells.map((row) => formatTableLine(row, widths!)).join("\n") + "\n");
        break;
      }
    }
    count += page.length;
  }
  if (count === 0) {
    if (format === "json") await sink.write("[]\n");
    else if (format === "csv") await sink.write(await recordsToCsv([], true, columns));
    else if (format === "table") await sink.write("(nothing found)\n");
  } else if (format === "json") {
    await sink.write("\n]\n");
  }
  return count;
}

/**
 * Writes pages of rows (arrays of cells in `columns` order) as CSV, the header first: the
 * fast path of large exports, with no object made per record.
 */
export async function writeCsvRows(
  sink: TextSink,
  pages: Iterable<readonly (readonly unknown[])[]>,
  columns: readonly string[] = EVENT_COLUMNS,
): Promise<number> {
  return await writeCsv(sink, pages, columns, appendCsvLines);
}

/**
 * Writes pages of events whose cells come joined into one string (`streamJoinedAuditRows`)
 * as CSV, the header first: the fastest path of full exports. `readRow(id)` gives the cells
 * of an event whose joined string does not split (see {@linkcode appendJoinedCsvLines}).
 */
export async function writeJoinedCsvRows(
  sink: TextSink,
  pages: Iterable<readonly (readonly [id: number, cells: string])[]>,
  readRow: (id: number) => readonly unknown[] | undefined,
): Promise<number> {
  return await writeCsv(
    sink,
    pages,
    EVENT_COLUMNS,
    (lines, page) => appendJoinedCsvLines(lines, page, readRow),
  );
}

async function writeCsv<T>(
  sink: TextSink,
  pages: Iterable<readonly T[]>,
  columns: readonly string[],
  append: (lines: string[], page: readonly T[]) => number,
): Promise<number> {
  await loadCsvWriter();
  let count = 0;
  // Lines are gathered and written 64 KiB at a time, joined once: one write per 1,000-row
  // page made the writes themselves a tenth of the cost of an export, and larger pieces
  // only keep more text alive (peak memory). One write is left in flight while the next
  // piece is read and formatted, so the disk or pipe works while the CPU does; it is
  // awaited before the next, so a slow reader still holds the export back.
  const lines: string[] = [];
  let length = appendCsvLines(lines, [columns]);
  let writing: Promise<void> | undefined;
  const flush = async () => {
    lines.push("");
    const text = lines.join("\r\n");
    lines.length = 0;
    length = 0;
    await writing;
    writing = sink.write(text);
  };
  try {
    for (const page of pages) {
      if (page.length === 0) continue;
      length += append(lines, page);
      count += page.length;
      if (length >= WRITE_CHUNK) await flush();
    }
    if (lines.length) await flush();
    await writing;
  } catch (error) {
    // Reading failed with a write in flight: let it settle, and report the read error.
    await writing?.catch(() => {});
    throw error;
  }
  return count;
}

const WRITE_CHUNK = 1 << 16;

/** Writes one object: indented JSON, one NDJSON line, or `key: value` lines for people. */
export async function writeObject(
  sink: TextSink,
  value: object,
  format: OutputFormat,
): Promise<void> {
  if (format === "ndjson") return await sink.write(JSON.stringify(value) + "\n");
  if (format === "table") {
    const width = Math.max(...Object.keys(value).map((k) => k.length));
    const lines = Object.entries(value)
      .filter(([, v]) => !Array.isArray(v))
      .map(([key, v]) => `${key.padEnd(width)}  ${v === null ? "-" : printable(String(v))}`);
    return await sink.write(lines.join("\n") + "\n");
  }
  await sink.write(JSON.stringify(value, null, 2) + "\n");
}

const MAX_CELL = 60;

function tableRow(record: object, columns: readonly string[]): string[] {
  return columns.map((column) => {
    const value = (record as Record<string, unknown>)[column];
    return value === null || value === undefined ? "-" : printable(String(value));
  });
}

function formatTableLine(cells: string[], widths: number[]): string {
  return cells.map((cell, i) => {
    const text = cell.length > widths[i] ? cell.slice(0, widths[i] - 1) + "…" : cell;
    return i === cells.length - 1 ? text : text.padEnd(widths[i]);
  }).join("  ").trimEnd();
}

/** Control characters would break a table's lines; show them as visible symbols instead. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => c === "\n" ? "⏎" : c === "\t" ? " " : "�");
}
