/**
 * The log device over a FileHost: segment files `log/<first position>.seg`, each a header
 * followed by whole frames. It recovers the log on open (with the core's scan), appends
 * encoded frames, rolls segments, and keeps the location of every entry so reads never scan.
 * It implements the engine's log device contract (engine/log-device.ts) by composing its
 * parts: segment.ts (a segment and its index), recovery.ts (open), writer.ts (append, flush,
 * roll), reader.ts (verified reads) and compact.ts (a sealed segment rewritten and swapped).
 */
import type { RecoveryVisitor } from './entry.js';
import type { Core } from '../core/core.js';
import { joinPath, type FileHandle, type FileHost } from '../host/types.js';
import type { CompactResult, FrameIndex, LogDevice, PositionVisitor, RangeVisitor, Rewrite } from '../engine/log-device.js';
import type { LogImage } from '../engine/snapshot.js';
import { compactSegment, swapSegment } from './compact.js';
import { SegmentHandles } from './handles.js';
import { SegmentReader } from './reader.js';
import { Recovery, type DurableEnd, type RecoveryReport, type Resume } from './recovery.js';
import type { Segment } from './segment.js';
import { SegmentWriter } from './writer.js';

export { ENTRY_HEADER_BYTES, FRAME_BEGIN_BYTES, KIND_PRUNED, SEAL_FRAME_BYTES, Segment, segmentName } from './segment.js';
export { SnapshotMismatch, type DurableEnd, type RecoveryReport, type Resume } from './recovery.js';
export type { RecoveredEntry, RecoveryVisitor } from './entry.js';

/** Sealed segments whose read handles stay open by default (`maxOpenSegments`); the current segment's is extra. */
export const MAX_OPEN_SEGMENTS = 64;

export interface SegmentLogOptions {
  host: FileHost;
  directory: string;
  storeId: Uint8Array;
  core: Core;
  readOnly: boolean;
  /** The kinds whose entries the scan indexes as named entries (a 32-byte bitmap; default: the built-in ones). */
  namedKinds?: Uint8Array;
  /** Progress during long scans (bytes done, bytes total). */
  onProgress?: (done: number, total: number) => void;
  /** Sealed segments whose read handles stay open at once (default MAX_OPEN_SEGMENTS). */
  maxOpenSegments?: number;
  /**
   * The log is known to have reached this position durably (the MANIFEST's end at the last
   * clean close, or a snapshot's position): a log that ends below it lost synced entries,
   * which is CorruptionError naming what is missing, never a torn tail.
   */
  durableEnd?: DurableEnd;
}

export class SegmentLog implements LogDevice<Segment> {
  readonly segments: Segment[] = [];
  readonly logDirectory: string;
  lastChecksum = 0;
  /** Bytes of frames appended since open. */
  appendedBytes = 0;
  /** Open segment files: the current one's, and a bounded cache of sealed ones. */
  readonly handles: SegmentHandles;
  private readonly writer: SegmentWriter;
  private readonly reader: SegmentReader;

  private constructor(private readonly options: SegmentLogOptions) {
    this.logDirectory = joinPath(options.directory, 'log');
    this.handles = new SegmentHandles(options.host, options.maxOpenSegments ?? MAX_OPEN_SEGMENTS);
    this.writer = new SegmentWriter(this, options);
    this.reader = new SegmentReader(this, options.core);
  }

  get nextPosition(): number {
    const last = this.segments[this.segments.length - 1];
    return last ? last.nextPosition : 0;
  }

  get current(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Opens and recovers the log; `visit` sees every entry in order. */
  static async open(options: SegmentLogOptions, visit: RecoveryVisitor, resume?: Resume): Promise<{ log: SegmentLog; report: RecoveryReport }> {
    const log = new SegmentLog(options);
    const recovery = new Recovery(options, log.logDirectory, log.handles, log.segments);
    const report = await options.core.scanSession((session) => recovery.recover(session, visit, resume), options.namedKinds);
    log.lastChecksum = recovery.lastChecksum;
    if (!options.readOnly) {
      if (log.segments.length === 0) await log.createSegment(0);
      // What recovery found may still sit unsynced in the OS cache (the last process died
      // before its sync): make it durable before new frames record it as durable.
      else await log.current.handle!.sync();
    }
    return { log, report };
  }

  /** The log as a snapshot records it: every segment and entry, up to the end. Call only when nothing is pending. */
  captureImage(): LogImage {
    return {
      segments: this.segments.map((segment) => ({
        firstPosition: segment.firstPosition,
        coveredSize: segment.size,
        offsets: segment.offsets.values.slice(0, segment.offsets.length),
        lengths: segment.lengths.values.slice(0, segment.lengths.length),
        kinds: segment.kinds.values.slice(0, segment.kinds.length),
        checks: segment.checks.values.slice(0, segment.checks.length),
      })),
      checksum: this.lastChecksum,
    };
  }

  /** Creates a new segment starting at `firstPosition`, durably (writer.ts). */
  createSegment(firstPosition: number): Promise<Segment> {
    return this.writer.createSegment(firstPosition);
  }

  /** Rolls the log: a new segment, then a seal on the old one (writer.ts). */
  roll(): Promise<Segment> {
    return this.writer.roll();
  }

  /** Appends encoded frames into the write buffer and indexes their entries (writer.ts). */
  append(bytes: Uint8Array, frames: readonly FrameIndex[], lastChecksum: number): FileHandle {
    return this.writer.append(bytes, frames, lastChecksum);
  }

  /**
   * Told of a failed write, whichever caller (a commit, a sync, a read that flushes first)
   * ran into it; returns the error to reject with. The pipeline makes the store fail here.
   */
  onWriteFailed: (error: unknown) => unknown = (error) => error;

  /**
   * Reads return no entry at or past this position. Infinity while the store is healthy; once
   * it failed, what is durable (the pipeline sets it), so a read never returns bytes that a
   * failed write or fsync may not have stored.
   */
  readLimit: () => number = () => Infinity;

  get pendingBytes(): number {
    return this.writer.pendingBytes;
  }

  flushWrites(): Promise<void> {
    return this.writer.flushWrites();
  }

  segmentOf(position: number): Segment | undefined {
    return this.reader.segmentOf(position);
  }

  kindAt(position: number): number {
    return this.reader.kindAt(position);
  }

  locate(position: number): { file: string; offset: number } {
    return this.reader.locate(position);
  }

  readRange(from: number, to: number, each: RangeVisitor, chunkBytes?: number): Promise<void> {
    return this.reader.readRange(from, to, each, chunkBytes);
  }

  readPositions(positions: readonly number[], each: PositionVisitor): Promise<void> {
    return this.reader.readPositions(positions, each);
  }

  /** Reads `bytes` at `offset` of `handle` (the segment's file) and verifies the entries at the local indexes `locals` in them (compaction). */
  readVerified(segment: Segment, handle: FileHandle, bytes: Uint8Array, offset: number, locals: readonly number[]): Promise<void> {
    return this.reader.readVerified(segment, handle, bytes, offset, locals);
  }

  async close(): Promise<void> {
    await this.flushWrites().catch(() => undefined);
    await this.handles.closeAll(this.segments);
  }

  /**
   * Points a sealed segment at its rewritten file and index (compaction), at once; the old
   * handle is closed when the reads still using it finish.
   */
  replaceSegment(segment: Segment, handle: FileHandle, size: number, offsets: Uint32Array, lengths: Uint32Array, kinds: Uint8Array, checks: Uint32Array): Promise<void> {
    return swapSegment(this, segment, handle, size, offsets, lengths, kinds, checks);
  }

  /** Rewrites a sealed segment without what a prune removed and swaps it in (compact.ts). */
  async rewriteSegment(segment: Segment, rewrite: Rewrite): Promise<CompactResult> {
    // Checked before anything is written: the rewrite renames its file over the segment's.
    if (segment === this.current) throw new Error('the current segment cannot be rewritten');
    return compactSegment(this, segment, rewrite);
  }

  /** @internal what compaction needs: the host, core and store id. */
  get context(): { host: FileHost; core: Core; storeId: Uint8Array } {
    return { host: this.options.host, core: this.options.core, storeId: this.options.storeId };
  }
}
