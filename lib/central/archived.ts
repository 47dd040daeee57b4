/**
 * Reading a site's archived events back for `sync`, when the central store holds less of the
 * site than this PC archived (restored from an older backup): the archive files hold those
 * events exactly as sealed, and the central store checks every seal as they arrive.
 *
 * @module
 */
import type { AuditDatabase } from "../db.ts";
import { type Checkpoint, readCheckpoints } from "../archive/checkpoint_list.ts";
import { openChecked } from "../archive/read.ts";
import { localSeal, readSealedRows, type SealedRow } from "./local.ts";

/** The archive files of a database, opened one at a time as the sync reaches them. */
export class ArchivedEvents implements Disposable {
  readonly #checkpoints: Checkpoint[];
  #open: { checkpoint: Checkpoint; archive: AuditDatabase } | null = null;

  /**
   * @param db The live database, whose checkpoints name the archive files.
   * @param dir The folder of the archive files.
   */
  constructor(db: AuditDatabase, readonly dir: string) {
    this.#checkpoints = readCheckpoints(db);
  }

  /** The newest archived event. */
  get through(): number {
    return this.#checkpoints.at(-1)?.last_audit_id ?? 0;
  }

  /**
   * The seal of archived event `id` in hex, or null when no archive holds it.
   *
   * @throws {AuditTrailError} When the archive file that should hold it cannot be read.
   */
  seal(id: number): string | null {
    const archive = this.#archiveAfter(id - 1);
    return archive ? localSeal(archive, id) : null;
  }

  /** Up to `limit` archived events after `afterId`, oldest first, from one archive file. */
  read(afterId: number, limit: number, maxChars: number): SealedRow[] {
    const archive = this.#archiveAfter(afterId);
    return archive ? readSealedRows(archive, afterId, limit, maxChars) : [];
  }

  /** The archive holding the first archived event after `afterId`, opened and checked. */
  #archiveAfter(afterId: number): AuditDatabase | null {
    const checkpoint = this.#checkpoints.find((c) => c.last_audit_id > afterId);
    if (!checkpoint) return null;
    if (this.#open?.checkpoint !== checkpoint) {
      this.#open?.archive.close();
      this.#open = null;
      this.#open = { checkpoint, archive: openChecked(this.dir, checkpoint) };
    }
    return this.#open.archive;
  }

  [Symbol.dispose](): void {
    this.#open?.archive.close();
    this.#open = null;
  }
}
