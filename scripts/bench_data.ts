/**
 * The benchmark's event set: deterministic, realistic warehouse events written as NDJSON (for
 * `audit-trail log --stdin`) and as CSV (for the `sqlite3` shell's `.import`).
 *
 * Shape, per the benchmark's brief: 5 operations, 5,000 SKUs (popular ones far more often, as
 * in a real warehouse), 1,000 events per run id (1,000 run ids at the default 1,000,000
 * events), 25 users, details like `Order ORD-123: 45 units`.
 *
 * @module
 */
import { writeAll } from "../lib/io.ts";

/** One generated event, as an NDJSON line carries it. */
export interface BenchEvent {
  operation: string;
  sku: string | null;
  details: string;
  user: string;
  run_id: string;
}

/** Events per run id: `batch show` of one run reads this many. */
export const EVENTS_PER_RUN = 1000;
/** Distinct SKUs. */
export const SKU_COUNT = 5000;
/** The operations, in the order the generator draws them. */
export const OPERATIONS = [
  "ORDER_CONFIRMED",
  "ORDER_SHIPPED",
  "STOCK_ADJUSTED",
  "SKU_UPDATED",
  "STOCK_COUNTED",
] as const;

const USERS = Array.from({ length: 25 }, (_, i) => `clerk${String(i + 1).padStart(2, "0")}`);

/** The SKU code for index `i` (0 is the most popular). */
export function skuName(i: number): string {
  return `SKU-${String(i).padStart(5, "0")}`;
}

/** The run id of the `r`-th block of {@linkcode EVENTS_PER_RUN} events. */
export function runName(r: number): string {
  return `run_20260216_${String(100000 + (r % 900000)).slice(-6)}_${
    (0x1a2b3c4d + r * 2654435761 >>> 0).toString(16).padStart(8, "0")
  }`;
}

/** A small, fast, seeded PRNG (mulberry32): the same numbers on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields `count` events in a fixed order (the same seed gives the same events). */
export function* generateEvents(count: number, seed = 20260216): Generator<BenchEvent> {
  const next = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const op = OPERATIONS[Math.floor(next() * OPERATIONS.length)];
    // A squared uniform draw skews toward low indexes: a few SKUs move a lot.
    const r = next();
    const sku = skuName(Math.min(SKU_COUNT - 1, Math.floor(SKU_COUNT * r * r)));
    const qty = 1 + Math.floor(next() * 200);
    const order = 100 + Math.floor(next() * 900000);
    let details: string;
    switch (op) {
      case "ORDER_CONFIRMED":
        details = `Order ORD-${order}: ${qty} units`;
        break;
      case "ORDER_SHIPPED":
        details = `Order ORD-${order} shipped: ${qty} units, carrier "DHL"`;
        break;
      case "STOCK_ADJUSTED":
        details = `Stock ${qty} -> ${qty + 1 + Math.floor(next() * 20)} (damaged, recount)`;
        break;
      case "SKU_UPDATED":
        details = `Safety stock: ${qty % 50} -> ${(qty % 50) + 10}`;
        break;
      default:
        details = `Counted ${qty} units at bin A-${order % 400}`;
    }
    yield {
      operation: op,
      sku,
      details,
      user: USERS[Math.floor(next() * USERS.length)],
      run_id: runName(Math.floor(i / EVENTS_PER_RUN)),
    };
  }
}

function csvCell(value: string | null): string {
  if (value === null) return "";
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Writes the same `count` events twice: `ndjsonPath` (one JSON object a line) and, when given,
 * `csvPath` (a header row, then operation, sku, details, user, run_id; an empty cell is no
 * value).
 */
export async function writeEventFiles(
  count: number,
  ndjsonPath: string,
  csvPath?: string,
): Promise<void> {
  using ndjson = await Deno.open(ndjsonPath, { write: true, create: true, truncate: true });
  using csv = csvPath === undefined
    ? null
    : await Deno.open(csvPath, { write: true, create: true, truncate: true });
  let jsonChunk: string[] = [];
  let csvChunk: string[] = ["operation,sku,details,user,run_id"];
  for (const event of generateEvents(count)) {
    jsonChunk.push(JSON.stringify(event));
    if (csv) {
      csvChunk.push(
        [event.operation, event.sku, event.details, event.user, event.run_id].map(csvCell)
          .join(","),
      );
    }
    if (jsonChunk.length === 20_000) {
      await writeAll(ndjson, jsonChunk.join("\n") + "\n");
      if (csv) await writeAll(csv, csvChunk.join("\n") + "\n");
      jsonChunk = [];
      csvChunk = [];
    }
  }
  if (jsonChunk.length) await writeAll(ndjson, jsonChunk.join("\n") + "\n");
  if (csv && csvChunk.length) await writeAll(csv, csvChunk.join("\n") + "\n");
}
