/**
 * Masking the secrets of the settings wherever else the bundle would write them: in the
 * events of `audit_log.csv`, in every table of `database_backup.db`, in the JSON and text
 * files. A secret that was also typed into an event, or that happens to equal a user name,
 * is replaced by `[REDACTED]` there too, and the bundle is still made.
 *
 * How much a secret is looked for depends on its length, because a short value matches by
 * chance everywhere (masking a PIN of "1" would wipe every 1 from the bundle):
 *
 * | length | masked |
 * | --- | --- |
 * | under {@linkcode MIN_MASKED_LENGTH} characters | in `settings.json` only (listed in the manifest as not searched) |
 * | under {@linkcode WHOLE_TOKEN_BELOW} characters | where it stands as a whole token: `admin` in `user=admin` and `ORD-4321` is masked, in `administrator` and `14321` it is not |
 * | longer | wherever it appears, also inside a longer word |
 *
 * A secret is looked for as it is and as it appears inside a JSON string (quotes and
 * backslashes escaped). Only text is masked: figures the tool computes (counts, sizes) are
 * numbers, not occurrences of a secret.
 *
 * @module
 */
import { REDACTED, type SecretValue } from "./redact.ts";

/** Secrets shorter than this are hidden in the settings only: they match by chance. */
export const MIN_MASKED_LENGTH = 4;
/** Secrets shorter than this are masked only where they stand as a whole token. */
export const WHOLE_TOKEN_BELOW = 8;

/** A secret of the settings that is not looked for elsewhere, and why. */
export interface UnsearchedSecret {
  /** The settings key it came from, e.g. `db.pin`. */
  key: string;
  reason: string;
}

// A token is a run of letters, digits and underscores: a short secret counts only where the
// characters around it are none of these (or where the secret itself starts or ends with
// punctuation, which is a boundary of its own).
const WORD = String.raw`[\p{L}\p{N}_]`;

/** Masks the secret values of the settings in any text; see the module's rules. */
export class SecretMasker {
  /** The distinct forms looked for (each secret, and its JSON-escaped form if it differs). */
  readonly needles: readonly string[];
  /** The needles long enough to be looked for anywhere, bytes included. */
  readonly longNeedles: readonly string[];
  /** Secrets of the settings that are too short to be looked for outside them. */
  readonly unsearched: readonly UnsearchedSecret[];
  #pattern: RegExp | null;
  #longPattern: RegExp | null;

  constructor(secrets: readonly SecretValue[]) {
    const forms = new Set<string>();
    const unsearched: UnsearchedSecret[] = [];
    for (const { path, value } of secrets) {
      if (value.length < MIN_MASKED_LENGTH) {
        unsearched.push({
          key: path,
          reason: `shorter than ${MIN_MASKED_LENGTH} characters: hidden in settings.json only`,
        });
        continue;
      }
      forms.add(value);
      forms.add(JSON.stringify(value).slice(1, -1));
    }
    // Longest first, so that a secret containing another is masked whole.
    this.needles = [...forms].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    this.longNeedles = this.needles.filter((n) => n.length >= WHOLE_TOKEN_BELOW);
    this.unsearched = unsearched;
    this.#pattern = alternation(this.needles);
    this.#longPattern = alternation(this.longNeedles);
  }

  /** Whether there is anything to look for. */
  get active(): boolean {
    return this.#pattern !== null;
  }

  /** `text` with every occurrence masked, and how many there were. */
  mask(text: string): { text: string; count: number } {
    if (!this.#pattern) return { text, count: 0 };
    let count = 0;
    const masked = text.replace(this.#pattern, () => {
      count++;
      return REDACTED;
    });
    return { text: masked, count };
  }

  /**
   * Bytes with the long needles' UTF-8 forms overwritten by `*`, keeping the length: a BLOB
   * has no tokens, so short secrets are not looked for in one (they would hit random bytes).
   */
  maskBytes(bytes: Uint8Array): { bytes: Uint8Array; count: number } {
    if (!this.#longPattern) return { bytes, count: 0 };
    const text = latin1(bytes);
    let count = 0;
    let copy: Uint8Array | undefined;
    for (const needle of this.longNeedles) {
      const form = latin1(new TextEncoder().encode(needle));
      for (let at = text.indexOf(form); at !== -1; at = text.indexOf(form, at + form.length)) {
        copy ??= bytes.slice();
        copy.fill(0x2a, at, at + form.length);
        count++;
      }
    }
    return { bytes: copy ?? bytes, count };
  }

  /**
   * A copy of a JSON value with every string masked (and, with `keys`, every object key: a
   * file's own keys are its field names); numbers, booleans and `null` stay as they are.
   */
  maskJson<T>(value: T, options: { keys?: boolean } = {}): { value: T; count: number } {
    let count = 0;
    const text = (s: string) => {
      const masked = this.mask(s);
      count += masked.count;
      return masked.text;
    };
    const visit = (item: unknown): unknown => {
      if (typeof item === "string") return text(item);
      if (Array.isArray(item)) return item.map(visit);
      if (item !== null && typeof item === "object") {
        return Object.fromEntries(
          Object.entries(item).map(([k, v]) => [options.keys ? text(k) : k, visit(v)]),
        );
      }
      return item;
    };
    const masked = this.active ? visit(value) as T : value;
    return { value: masked, count };
  }
}

/**
 * Overwrites, byte for byte with `*`, every needle of `masker` in the file at `path`, in place
 * and chunk by chunk (memory stays flat). For files SQLite cannot be asked to change: the raw
 * copy of a locked or damaged database and its journal. The file keeps its size and page
 * structure; no token rule applies (a page has no tokens), so a short secret is overwritten
 * inside longer words too.
 *
 * @returns How many occurrences were overwritten.
 */
export async function maskFileBytes(path: string, masker: SecretMasker): Promise<number> {
  const forms = masker.needles.map((n) => latin1(new TextEncoder().encode(n)));
  if (forms.length === 0) return 0;
  const overlap = Math.max(...forms.map((f) => f.length)) - 1;
  using file = await Deno.open(path, { read: true, write: true });
  const buffer = new Uint8Array(CHUNK_BYTES + overlap);
  let count = 0;
  let offset = 0; // where buffer[0] lies in the file
  let carried = 0; // bytes at the start of the buffer kept from the chunk before
  for (;;) {
    await file.seek(offset + carried, Deno.SeekMode.Start);
    let filled = carried;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled === carried) break;
    const view = buffer.subarray(0, filled);
    const text = latin1(view);
    const hits: [number, number][] = [];
    for (const form of forms) {
      for (let at = text.indexOf(form); at !== -1; at = text.indexOf(form, at + form.length)) {
        hits.push([at, at + form.length]);
      }
    }
    for (const [start, end] of hits) {
      // A hit wholly inside the carried bytes was counted with the chunk before.
      if (end <= carried) continue;
      view.fill(0x2a, start, end);
      count++;
    }
    if (hits.length) {
      await file.seek(offset, Deno.SeekMode.Start);
      let written = 0;
      while (written < filled) written += await file.write(view.subarray(written, filled));
    }
    if (filled < buffer.length) break;
    carried = Math.min(overlap, filled);
    buffer.copyWithin(0, filled - carried, filled);
    offset += filled - carried;
  }
  return count;
}

const CHUNK_BYTES = 1024 * 1024;

function alternation(needles: readonly string[]): RegExp | null {
  if (needles.length === 0) return null;
  const parts = needles.map((needle) => {
    const escaped = needle.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    if (needle.length >= WHOLE_TOKEN_BELOW) return escaped;
    const before = /^[\p{L}\p{N}_]/u.test(needle) ? `(?<!${WORD})` : "";
    const after = /[\p{L}\p{N}_]$/u.test(needle) ? `(?!${WORD})` : "";
    return `${before}${escaped}${after}`;
  });
  return new RegExp(parts.join("|"), "gu");
}

/** Bytes as Latin-1 text: one character a byte, so offsets in the text are offsets in bytes. */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}
