/**
 * Output formats shared by every command: JSON, NDJSON, CSV and a table for people. Rows
 * (arrays of cells in column order) are what every format writes; records are rows by their
 * field names. Output streams in pieces of about 64 KiB, so exports of any size run in flat
 * memory.
 *
 * @module
 */
import { EVENT_COLUMNS } from "./event_row.ts";
import type { ShownText } from "./table.ts";

/** The formats records can be printed in. */
export type OutputFormat = "json" | "ndjson" | "csv" | "table";

/** Where output text goes; `write` resolves once the text is accepted (backpressure). */
export interface TextSink {
  write(text: string): Promise<void>;
}

/** One record as its cells, in the order of the columns it is printed with. */
export type Row = readonly unknown[];

/**
 * Writes pages of rows in `format`, each row the cells of `columns` in order: JSON is one
 * array with a record per line (valid JSON that `jq` reads, and that streams; `[]` when
 * empty), NDJSON a record per line, CSV a header row and CRLF line ends (see `csv.ts`), and a
 * table columns sized from the first 1,000 rows, with ids never cut (see `table.ts`).
 *
 * @returns How many rows were written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeRows } from "./output.ts";
 * let text = "";
 * const sink = { write: (t: string) => Promise.resolve(void (text += t)) };
 * await writeRows(sink, [[[1, "a, b"]], [[2, null]]], "csv", ["id", "note"]);
 * assert.equal(text, 'id,note\r\n1,"a, b"\r\n2,\r\n');
 * ```
 */
export async function writeRows(
  sink: TextSink,
  pages: Iterable<readonly Row[]> | AsyncIterable<readonly Row[]>,
  format: OutputFormat,
  columns: readonly string[] = EVENT_COLUMNS,
  options: RowsOptions = {},
): Promise<number> {
  return await writeRowsWith(sink, pages, await WRITERS[format](columns, options));
}

/** How {@linkcode writeRows} lays out what it writes. */
export interface RowsOptions {
  /**
   * The terminal's width in columns, for a table: free text (details) is cut shorter, down to
   * 10 columns, so that a line fits rather than wrapping into the next.
   */
  width?: number | undefined;
}

async function writeRowsWith(
  sink: TextSink,
  pages: Iterable<readonly Row[]> | AsyncIterable<readonly Row[]>,
  writer: RowWriter,
): Promise<number> {
  const out = new ChunkedText(sink, writer.separator);
  let count = 0;
  try {
    for await (const page of writer.sample ? sampled(pages, writer.sample) : pages) {
      if (page.length === 0) continue;
      if (count === 0) out.start(writer.begin(page));
      if (writer.page) {
        out.add(writer.page(page));
        if (out.full) await out.flush();
      } else {
        for (let i = 0; i < page.length; i++) {
          out.add(writer.line!(page[i]!));
          if (out.full) await out.flush();
        }
      }
      count += page.length;
    }
    await out.finish(count === 0 ? writer.empty : writer.end);
  } catch (error) {
    // Reading failed with a write in flight: let it settle, and report the read error.
    await out.settle();
    throw error;
  }
  return count;
}

/**
 * `pages` with the first ones joined until they hold `rows` rows (or there are no more), for
 * a writer that lays its text out after that many: a source may begin with a short page (the
 * live log's last events, before the archives' pages), which would lay out the whole output.
 */
async function* sampled(
  pages: Iterable<readonly Row[]> | AsyncIterable<readonly Row[]>,
  rows: number,
): AsyncGenerator<readonly Row[]> {
  let held: Row[] | null = [];
  for await (const page of pages) {
    if (held === null) {
      yield page;
      continue;
    }
    for (let i = 0; i < page.length; i++) held.push(page[i]!);
    if (held.length >= rows) {
      yield held;
      held = null;
    }
  }
  if (held !== null) yield held;
}

/**
 * Writes pages of records (objects) in `format`, as {@linkcode writeRows} writes their
 * `columns`; a field a record lacks is `null`.
 */
export async function writeRecords(
  sink: TextSink,
  pages: Iterable<readonly object[]>,
  format: OutputFormat,
  columns: readonly string[] = EVENT_COLUMNS,
): Promise<number> {
  return await writeRows(sink, recordRows(pages, columns), format, columns);
}

function* recordRows(pages: Iterable<readonly object[]>, columns: readonly string[]) {
  for (const page of pages) {
    yield page.map((record) =>
      columns.map((column) => (record as Record<string, unknown>)[column] ?? null)
    );
  }
}

/**
 * Writes `object` as {@linkcode writeObject} writes it in JSON or NDJSON, byte for byte, except
 * that its array field `field` comes from `pages` of rows (each made a record by `record`), so
 * that memory holds one page however long the array is. `object[field]` itself is not read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeObject, writeObjectWithRows } from "./output.ts";
 * let text = "";
 * const sink = { write: (t: string) => Promise.resolve(void (text += t)) };
 * const record = (row: readonly unknown[]) => ({ id: row[0] });
 * await writeObjectWithRows(sink, { n: 2, items: [], end: true }, "items", [[[1]], [[2]]], record, "json");
 * let whole = "";
 * await writeObject({ write: (t) => Promise.resolve(void (whole += t)) }, { n: 2, items: [{ id: 1 }, { id: 2 }], end: true }, "json");
 * assert.equal(text, whole);
 * ```
 */
export async function writeObjectWithRows(
  sink: TextSink,
  object: object,
  field: string,
  pages: Iterable<readonly Row[]>,
  record: (row: Row) => object,
  format: "json" | "ndjson",
): Promise<number> {
  // The object is written whole with a mark where the array goes, then split around the mark.
  const mark = JSON.stringify("\u0000rows\u0000");
  const pretty = format === "json";
  const whole = JSON.stringify({ ...object, [field]: JSON.parse(mark) }, null, pretty ? 2 : 0);
  const at = whole.indexOf(mark);
  const before = whole.slice(0, at);
  const after = whole.slice(at + mark.length) + "\n";
  // Pretty: the array's items are indented one step more than the field's own line.
  const fieldIndent = pretty ? before.length - before.lastIndexOf("\n") - 1 - field.length - 4 : 0;
  const shift = " ".repeat(fieldIndent);
  return await writeRowsWith(sink, pages, {
    begin: () => before + (pretty ? "[\n" : "["),
    // A page as one array, its items then cut out and indented one step more: one call into
    // JSON a page rather than one an event (a third of a `batch show` of 1,000 events).
    page: pretty
      ? (rows) =>
        shift +
        arrayItems(JSON.stringify(rows.map(record), null, 2)).replaceAll("\n", "\n" + shift)
      : (rows) => arrayItems(JSON.stringify(rows.map(record))),
    separator: pretty ? ",\n" : ",",
    end: (pretty ? "\n" + shift + "]" : "]") + after,
    empty: before + "[]" + after,
  });
}

/** Writes one object: indented JSON, one NDJSON line, or `key  value` lines for people. */
export async function writeObject(
  sink: TextSink,
  value: object,
  format: OutputFormat,
): Promise<void> {
  if (format === "ndjson") return await sink.write(JSON.stringify(value) + "\n");
  if (format === "table") {
    const { showCell } = await loadTable();
    const entries = Object.entries(value).filter(([, v]) => !Array.isArray(v));
    const width = entries.reduce((most, [key]) => Math.max(most, key.length), 0);
    const lines = entries.map(([key, v]) => `${key.padEnd(width)}  ${showCell(v).text}`);
    return await sink.write(lines.join("\n") + "\n");
  }
  await sink.write(JSON.stringify(value, null, 2) + "\n");
}

/** `[…]` written by `JSON.stringify` (indented or not) without its brackets. */
function arrayItems(json: string): string {
  return json.startsWith("[\n") ? json.slice(2, -2) : json.slice(1, -1);
}

/** How one format writes rows: lines between a beginning and an end. */
interface RowWriter {
  /**
   * Text before the first line; `sample` is the first page, or the first `sample` rows
   * (all when fewer) when the writer names how many it lays its text out after.
   */
  begin(sample: readonly Row[]): string;
  sample?: number;
  /** One row's line; or, for a whole page at once, `page`. */
  line?(row: Row): string;
  /** The lines of a whole page, joined by the separator. */
  page?(rows: readonly Row[]): string;
  /** What goes between two lines. */
  separator: string;
  /** Text after the last line. */
  end: string;
  /** The whole output when there is no row. */
  empty: string;
}

/**
 * The writer of each format. CSV and the table load their helpers only when asked for: JSON,
 * what scripts read, needs neither, and each module costs a command's start.
 */
const WRITERS: Record<
  OutputFormat,
  (columns: readonly string[], options: RowsOptions) => RowWriter | Promise<RowWriter>
> = {
  json: (columns) => ({
    begin: () => "[\n",
    line: jsonRecords(columns),
    separator: ",\n",
    end: "\n]\n",
    empty: "[]\n",
  }),
  ndjson: (columns) => ({
    begin: () => "",
    line: jsonRecords(columns),
    separator: "\n",
    end: "\n",
    empty: "",
  }),
  async csv(columns) {
    const { csvLine } = await loadCsv();
    const header = csvLine(columns) + "\r\n";
    return { begin: () => header, line: csvLine, separator: "\r\n", end: "\r\n", empty: header };
  },
  table: async (columns, options) => tableWriter(columns, await loadTable(), options.width),
};

// The CSV and table helpers load by computed specifiers: a literal `import("./csv.ts")` makes
// `deno run` read both modules at the start of every command that writes rows, whatever its
// format. The build (`scripts/build.ts`) points each at the file it made of the module.
const loadCsv = (): Promise<typeof import("./csv.ts")> =>
  import(new URL("./csv.ts", import.meta.url).href);
const loadTable = (): Promise<typeof import("./table.ts")> =>
  import(new URL("./table.ts", import.meta.url).href);

/**
 * A row's record as JSON text, as `JSON.stringify` writes an object with the `columns` as keys
 * in order (a missing cell is `null`), without making the object.
 */
function jsonRecords(columns: readonly string[]): (row: Row) => string {
  const keys = columns.map((column, i) => (i ? "," : "{") + JSON.stringify(column) + ":");
  return (row) => {
    let text = "";
    for (let i = 0; i < keys.length; i++) text += keys[i] + JSON.stringify(row[i] ?? null);
    return text + "}";
  };
}

/** Columns of free text: a table may cut them, with a visible mark. Ids and names never are. */
const FREE_TEXT = new Set(["details"]);
/** Widest a free-text cell is shown, in terminal columns. */
const MAX_FREE_TEXT = 60;
/** Narrowest a free-text cell is cut to so that a line fits a terminal. */
const MIN_FREE_TEXT = 10;
/** Rows a table's column widths are taken from, so that a long listing streams. */
const SAMPLE_ROWS = 1000;

function tableWriter(
  columns: readonly string[],
  { padTo, showCell }: typeof import("./table.ts"),
  terminalWidth = Infinity,
): RowWriter {
  const limits = columns.map((column) => FREE_TEXT.has(column) ? MAX_FREE_TEXT : Infinity);
  const widths = columns.map((column) => showCell(column).width);
  const last = columns.length - 1;
  const line = (cells: ShownText[]) =>
    cells.map((cell, i) => i === last ? cell.text : padTo(cell, widths[i]!)).join("  ").trimEnd();
  const show = (row: Row) => columns.map((_, i) => showCell(row[i], limits[i]));
  // A terminal too narrow for a row even with its free text cut short gets each row as a
  // block of `column  value` lines instead (as psql's expanded display), blocks apart by a
  // blank line: a line wider than the terminal wraps into the next, and the columns are lost.
  let expanded = false;
  let rows = 0;
  const labels = columns.map((column) => showCell(column));
  const labelWidth = Math.max(...labels.map((label) => label.width));
  const block = (row: Row) =>
    (rows++ ? "\n" : "") +
    show(row).map((cell, i) => `${padTo(labels[i]!, labelWidth)}  ${cell.text}`.trimEnd())
      .join("\n");
  return {
    begin(sample) {
      // An id wider than any in the sample is still printed whole, pushing its line right.
      for (let r = 0; r < Math.min(sample.length, SAMPLE_ROWS); r++) {
        const cells = show(sample[r]!);
        for (let i = 0; i < cells.length; i++) widths[i] = Math.max(widths[i]!, cells[i]!.width);
      }
      // Free text gives way first, as far as it can while staying readable.
      let over = widths.reduce((sum, w) => sum + w, 0) + 2 * last - terminalWidth;
      for (let i = 0; i < columns.length && over > 0; i++) {
        if (!FREE_TEXT.has(columns[i]!) || widths[i]! <= MIN_FREE_TEXT) continue;
        const narrower = Math.max(MIN_FREE_TEXT, widths[i]! - over);
        over -= widths[i]! - narrower;
        widths[i] = limits[i] = narrower;
      }
      if (over <= 0) return line(labels) + "\n";
      expanded = true;
      const valueWidth = Math.max(MIN_FREE_TEXT, terminalWidth - labelWidth - 2);
      columns.forEach((column, i) => {
        if (FREE_TEXT.has(column)) limits[i] = Math.min(MAX_FREE_TEXT, valueWidth);
      });
      return "";
    },
    line: (row) => expanded ? block(row) : line(show(row)),
    sample: SAMPLE_ROWS,
    separator: "\n",
    end: "\n",
    empty: "(nothing found)\n",
  };
}

/**
 * Lines gathered and written about 64 KiB at a time, joined once: one write per 1,000-row page
 * made the writes themselves a tenth of the cost of an export, and larger pieces only keep more
 * text alive (peak memory). One write is left in flight while the next piece is made, so the
 * disk or pipe works while the CPU does; it is awaited before the next, so a slow reader still
 * holds the export back.
 */
class ChunkedText {
  #sink: TextSink;
  #separator: string;
  #lines: string[] = [];
  #size = 0;
  /** What goes before the next piece's first line: the beginning, then the separator. */
  #lead = "";
  #writing: Promise<void> | undefined;

  constructor(sink: TextSink, separator: string) {
    this.#sink = sink;
    this.#separator = separator;
  }

  start(text: string): void {
    this.#lead = text;
  }

  add(line: string): void {
    this.#lines.push(line);
    this.#size += line.length + this.#separator.length;
  }

  get full(): boolean {
    return this.#size >= WRITE_CHUNK;
  }

  async flush(tail = ""): Promise<void> {
    const text = this.#lines.length ? this.#lead + this.#lines.join(this.#separator) + tail : tail;
    if (this.#lines.length) this.#lead = this.#separator;
    this.#lines = [];
    this.#size = 0;
    await this.#writing;
    this.#writing = text ? this.#sink.write(text) : undefined;
  }

  async finish(tail: string): Promise<void> {
    await this.flush(tail);
    await this.#writing;
  }

  async settle(): Promise<void> {
    await this.#writing?.catch(() => {});
  }
}

const WRITE_CHUNK = 1 << 16;
