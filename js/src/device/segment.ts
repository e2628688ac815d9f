/**
 * A segment file of the log device, `log/<first position>.seg`: a header followed by whole
 * frames, and the in-memory index of where each of its entries lies. The frame-layout
 * constants and the helpers that read a segment's shape (its name, whether it is sealed, the
 * chain checksum after it) live here too.
 */
import { SEGMENT_HEADER_BYTES } from '../core/core.js';
import type { FileHandle } from '../host/types.js';
import type { LogSegment } from '../engine/log-device.js';
import { GrowableUint32, GrowableUint8 } from './growable.js';

export const SEGMENT_NAME = /^(\d{20})\.seg$/;
export const FRAME_BEGIN_BYTES = 32;
export const ENTRY_HEADER_BYTES = 8;
/** Bytes read per scan step during recovery and replay. */
export const SCAN_CHUNK_BYTES = 4 << 20;

/** The first position a segment file's name gives, or -1. */
export function positionOfName(name: string | undefined): number {
  const match = name === undefined ? null : SEGMENT_NAME.exec(name);
  return match ? Number(match[1]) : -1;
}

export function segmentName(firstPosition: number): string {
  return `${String(firstPosition).padStart(20, '0')}.seg`;
}

/** Kind of the empty entry that takes the place of one a prune removed (docs/FORMAT.md §7, §17). */
export const KIND_PRUNED = 0x01;

/** Segment header flags bit 0: the segment was rewritten by compaction (docs/FORMAT.md §5.1, §17). */
export const SEGMENT_FLAG_COMPACTED = 1;

/** The end magic of a frame, "RLFE" (docs/FORMAT.md §6.2). */
export const FRAME_END_MAGIC = 0x45464c52;

/** A frame with no entries (40 bytes) ends a sealed segment: "a successor exists" (docs/FORMAT.md §6.2, §9.2). */
export const SEAL_FRAME_BYTES = 40;

/**
 * Whether a segment ends with a seal frame: bytes after the frame that holds its last entry
 * can only be frames with no entries, which the writer writes only as seals. Computed from the
 * index, so no payload bytes can pass for a seal.
 */
export function isSealed(segment: Segment, size = segment.size): boolean {
  const count = segment.offsets.length;
  const entriesEnd = count === 0 ? SEGMENT_HEADER_BYTES : Math.ceil((segment.offsets.values[count - 1]! + segment.lengths.values[count - 1]!) / 8) * 8 + 8;
  return size > entriesEnd;
}

/**
 * The chain checksum after a segment whose header is `header` and whose last frame's checksum
 * is `last`: a compacted segment (§5.1 flags bit 0) had its frames rewritten, so the chain goes
 * on from the checksum its header records, that of its last frame before the rewrite.
 */
export function chainAfter(header: Uint8Array, last: number): number {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  return view.getUint32(12, true) & SEGMENT_FLAG_COMPACTED ? view.getUint32(40, true) : last;
}

export class Segment implements LogSegment {
  /** Payload offset, payload length and kind of each entry, by position - firstPosition. */
  offsets = new GrowableUint32();
  lengths = new GrowableUint32();
  kinds = new GrowableUint8();
  /** Entry check of each payload (docs/FORMAT.md §10.1): every read verifies against it. */
  checks = new GrowableUint32();
  /** Sealed into existence by a prune (not a roll or an open): a prune seals it again only when worth it. */
  startedByPrune = false;
  /**
   * The open file, or undefined while closed: the current segment's stays open; sealed ones
   * are opened on demand and kept in a bounded cache (handles.ts).
   */
  constructor(readonly name: string, readonly path: string, readonly firstPosition: number, public handle: FileHandle | undefined, public size: number) {}
  get nextPosition(): number {
    return this.firstPosition + this.offsets.length;
  }
}
