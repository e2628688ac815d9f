/**
 * An entry as recovery sees it: what the core's scan reports of it, and its payload on demand.
 * One object is reused for every entry of a scan (no allocation per entry).
 */
import type { ScanSession } from '../core/core.js';

/** One entry found by recovery (a scan of the log, or a follower's scan of the writer's new frames). */
export interface RecoveredEntry {
  readonly kind: number;
  readonly position: number;
  /** For a named kind: the name the scan indexed (NFC); otherwise undefined. */
  readonly name: string | undefined;
  /** For a named kind: the version field of the named-entry layout; otherwise 0. */
  readonly version: number;
  /**
   * The entry's payload, verified by its frame checksum. A view into the scan buffer, valid
   * only during the visit (copy what must outlive it). Named kinds are usually recovered from
   * `name` and `version` alone, without reading it.
   */
  payload(): Uint8Array;
}

/**
 * Called for each entry found during recovery, in position order. Returns a description of
 * what is wrong when the entry breaks an invariant (it becomes a CorruptionError at the
 * entry's location), or undefined.
 */
export type RecoveryVisitor = (entry: RecoveredEntry) => string | undefined;

/** The reused entry of one scan: the scanner sets the fields, then visits. */
export class ScannedEntry implements RecoveredEntry {
  kind = 0;
  position = 0;
  name: string | undefined = undefined;
  version = 0;
  /** Payload offset and length in the scan buffer. */
  offset = 0;
  length = 0;

  constructor(private readonly session: ScanSession) {}

  /** Sets the fields from the scan's entry record at `word` of `table` (ENTRY_RECORD_WORDS per entry). */
  load(table: Uint32Array, word: number, position: number, name: string | undefined): this {
    this.kind = table[word + 2]!;
    this.position = position;
    this.name = name;
    this.version = table[word + 4]! + table[word + 5]! * 2 ** 32;
    this.offset = table[word]!;
    this.length = table[word + 1]!;
    return this;
  }

  payload(): Uint8Array {
    return this.session.bytes(this.offset, this.length);
  }
}
