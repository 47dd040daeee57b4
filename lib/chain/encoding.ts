/**
 * The canonical encoding of an audit event and its seal: exactly what the hash chain hashes,
 * so that anyone can recompute it without audit-trail (README, "Tamper evidence").
 *
 * An event's seal is the SHA-256 of the previous event's seal (32 bytes; 32 zero bytes for
 * the first event) followed by the UTF-8 text of the JSON array
 *
 * ```text
 * [audit_id, timestamp, operation, sku, details, user, run_id]
 * ```
 *
 * with no spaces. `audit_id` is a JSON number; the other fields are exactly as stored
 * (`timestamp` unconverted, so legacy `YYYY-MM-DD HH:MM:SS` values stay as they are), each a
 * JSON string, or `null` for SQL NULL (so NULL and `""` differ). Strings escape only `"`, `\`
 * and control characters (`\b \f \n \r \t`, else `\u00XX` in lowercase hex), as
 * `JSON.stringify`, SQLite's `json_array()` and Python's
 * `json.dumps(value, ensure_ascii=False, separators=(",", ":"))` all write them. A BLOB, which
 * audit-trail never writes, is encoded as the string `x'HEX'`. Seals are stored as 32-byte
 * BLOBs and shown as 64 lowercase hex digits.
 *
 * @module
 */
import { hexOf, SHA256_PADDING, sha256Into } from "../sha256.ts";

/** The seal before the first event, in hex: 32 zero bytes. */
export const GENESIS_HASH: string = "0".repeat(64);

/** The fields of a stored event that its seal covers, as stored. */
export interface SealedFields {
  audit_id: number;
  timestamp: string | null;
  operation: string | null;
  sku: string | null;
  details: string | null;
  user: string | null;
  run_id: string | null;
}

/**
 * The seal of one event, from its fields as stored and the seal before it.
 *
 * @param previousHash The previous event's seal in hex, or {@linkcode GENESIS_HASH} for the
 * first.
 * @param event The event's fields exactly as stored.
 * @returns 64 lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chainHash, GENESIS_HASH } from "./encoding.ts";
 * const hash = chainHash(GENESIS_HASH, {
 *   audit_id: 1, timestamp: "2026-02-16 08:00:00", operation: "SKU_CREATED",
 *   sku: "SKU-1", details: null, user: null, run_id: null,
 * });
 * assert.match(hash, /^[0-9a-f]{64}$/);
 * ```
 */
export function chainHash(previousHash: string, event: SealedFields): string {
  const { audit_id, timestamp, operation, sku, details, user, run_id } = event;
  return linkHex(
    previousHash,
    JSON.stringify([audit_id, timestamp, operation, sku, details, user, run_id]),
  );
}

/**
 * The canonical encoding of an event whose fields are the given SQL expressions, for events
 * on their way into `audit_log`. Only for values audit-trail writes itself (text or NULL,
 * never a BLOB).
 */
export function encodingSql(fields: Record<keyof SealedFields, string>): string {
  const { audit_id, timestamp, operation, sku, details, user, run_id } = fields;
  return `json_array(${audit_id}, ${timestamp}, ${operation}, ${sku}, ${details}, ${user}, ${run_id})`;
}

/** The canonical encoding of the current `audit_log` row, whatever it holds. */
export const ENCODING_SQL: string = `json_array(audit_id, ${
  ["timestamp", "operation", "sku", "details", "user", "run_id"]
    // json_array() would read a BLOB as SQLite's binary JSON, which an attacker could shape
    // to look like text or make unreadable: encode it as its hex instead.
    .map((c) => `CASE typeof(${c}) WHEN 'blob' THEN 'x''' || hex(${c}) || '''' ELSE ${c} END`)
    .join(", ")
})`;

/** The seal following `previousHash` (hex) for an event's canonical encoding, in hex. */
export function linkHex(previousHash: string, encoded: string): string {
  scratch ??= new ChainLinker();
  scratch.reset(previousHash);
  scratch.link(encoded);
  return scratch.hash;
}

/**
 * Computes seal after seal along the chain without allocating: one buffer holds the previous
 * seal followed by the next event's encoding, and the new seal is written over the old one.
 * A million events are sealed without leaving garbage behind, so memory stays flat however
 * many are sealed at once.
 */
export class ChainLinker {
  #bytes = new Uint8Array(1024);
  /** Where the encoding starts: the length of the previous seal (32 unless tampered with). */
  #start = 0;
  /** `#bytes` from `#start`: where the encoding is written. */
  #body = this.#bytes;
  /** `#bytes[0, 32)`: the newest seal. */
  #seal = this.#bytes.subarray(0, 32);

  /** @param previousHash The seal to chain from, in hex (default: the start of the chain). */
  constructor(previousHash: string = GENESIS_HASH) {
    this.reset(previousHash);
  }

  /** Chains from `previousHash` (hex) again, as stored (normally 32 bytes). */
  reset(previousHash: string): void {
    const length = previousHash.length >> 1;
    this.#ensure(length + 1024);
    for (let i = 0; i < length; i++) {
      this.#bytes[i] = parseInt(previousHash.slice(2 * i, 2 * i + 2), 16) || 0;
    }
    this.#setStart(length);
  }

  /**
   * Seals the next event, given its canonical encoding (`[audit_id,…]`).
   *
   * @returns The new seal's 32 bytes, valid until the next call.
   */
  link(encoded: string): Uint8Array {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const need = this.#start + encoded.length * 3 + SHA256_PADDING;
    if (need > this.#bytes.length) this.#ensure(need);
    const length = this.#start + encoder.encodeInto(encoded, this.#body).written;
    sha256Into(this.#bytes, length, this.#bytes);
    if (this.#start !== 32) this.#setStart(32);
    return this.#seal;
  }

  /** The newest seal (or the one chained from, before any event), in hex. */
  get hash(): string {
    return hexOf(this.#bytes, this.#start);
  }

  /** Whether the newest seal is `hex` (64 lowercase hex digits), without building a string. */
  matches(hex: string): boolean {
    if (this.#start !== 32 || hex.length !== 64) return false;
    const bytes = this.#bytes;
    for (let i = 0; i < 32; i++) {
      const byte = bytes[i]!;
      if (
        hex.charCodeAt(2 * i) !== HEX_CODES[byte >> 4] ||
        hex.charCodeAt(2 * i + 1) !== HEX_CODES[byte & 15]
      ) {
        return false;
      }
    }
    return true;
  }

  #ensure(size: number) {
    if (size <= this.#bytes.length) return;
    const bigger = new Uint8Array(size * 2);
    bigger.set(this.#bytes.subarray(0, this.#start));
    this.#bytes = bigger;
    this.#seal = bigger.subarray(0, 32);
    this.#setStart(this.#start);
  }

  #setStart(start: number) {
    this.#start = start;
    this.#body = this.#bytes.subarray(start);
  }
}

const encoder = new TextEncoder();
const HEX_CODES = encoder.encode("0123456789abcdef");
/** The linker of {@linkcode linkHex}, made on first use: a `log` never needs it. */
let scratch: ChainLinker | undefined;
