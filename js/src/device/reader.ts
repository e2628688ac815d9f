/**
 * The reader of the log device: finds the segment of a position and reads entry payloads by
 * range or by listed positions, with few large reads, verifying every payload against its
 * entry check (docs/FORMAT.md §10.1) before handing it on.
 */
import type { Core } from '../core/core.js';
import { CorruptionError } from '../errors.js';
import type { FileHandle } from '../host/types.js';
import type { PositionVisitor, RangeVisitor } from '../engine/log-device.js';
import { MalformedEntry } from './malformed.js';
import type { Segment } from './segment.js';
import type { SegmentLog } from './segments.js';

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * A read that got fewer bytes than the index says lie there: the file was cut short behind the
 * store's back. Corruption, never zeros handed on as data.
 */
function cutShort(segment: Segment, offset: number, read: number, wanted: number): CorruptionError {
  return new CorruptionError(segment.path, offset + read, `the file ends at offset ${offset + read}, but the index has entries up to offset ${offset + wanted}`);
}

/** A payload decoder's MalformedEntry as CorruptionError at the entry; anything else as it is. */
function malformed(error: unknown, segment: Segment, offset: number, position: number): unknown {
  return error instanceof MalformedEntry ? new CorruptionError(segment.path, offset, `entry at position ${position}: ${error.message}`) : error;
}

export class SegmentReader {
  constructor(
    private readonly log: SegmentLog,
    private readonly core: Core,
  ) {}

  /**
   * Hands buffered frames to the OS before a read. A failed write is not the read's error: it
   * failed the store (onWriteFailed), and readLimit now keeps reads to what is durable.
   */
  private async flushForRead(): Promise<void> {
    await this.log.flushWrites().catch(() => undefined);
  }

  /** Finds the segment holding `position` (binary search). */
  segmentOf(position: number): Segment | undefined {
    let low = 0;
    let high = this.log.segments.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const segment = this.log.segments[middle]!;
      if (position < segment.firstPosition) high = middle - 1;
      else if (position >= segment.nextPosition) low = middle + 1;
      else return segment;
    }
    return undefined;
  }

  /** The kind of the entry at `position`, or -1 when there is none. */
  kindAt(position: number): number {
    const segment = this.segmentOf(position);
    return segment ? segment.kinds.values[position - segment.firstPosition]! : -1;
  }

  /** The segment file and byte offset of an entry's payload (for error messages). */
  locate(position: number): { file: string; offset: number } {
    const segment = this.segmentOf(position);
    if (!segment) return { file: this.log.logDirectory, offset: 0 };
    return { file: segment.path, offset: segment.offsets.values[position - segment.firstPosition]! };
  }

  /**
   * Reads the payloads of entries `[from, to)` (positions) with large sequential reads, in
   * chunks of about `chunkBytes`, calling `each(kind, position, bytes, start, length)`.
   */
  async readRange(from: number, to: number, each: RangeVisitor, chunkBytes = 1 << 20): Promise<void> {
    await this.flushForRead();
    to = Math.min(to, this.log.readLimit());
    let position = from;
    while (position < to) {
      const segment = this.segmentOf(position);
      if (!segment) return;
      const end = Math.min(to, segment.nextPosition);
      let first = position - segment.firstPosition;
      const last = end - segment.firstPosition;
      // The index and the file it points into, taken together (compaction replaces both).
      const offsets = segment.offsets.values;
      const lengths = segment.lengths.values;
      const kinds = segment.kinds.values;
      const checks = segment.checks.values;
      const size = segment.size;
      const handle = this.log.handles.leaseOpen(segment) ?? (await this.log.handles.acquire(segment));
      try {
        while (first < last) {
          const start = offsets[first]!;
          let stop = first + 1;
          while (stop < last && offsets[stop]! + lengths[stop]! - start <= chunkBytes) stop++;
          const end = offsets[stop - 1]! + lengths[stop - 1]!;
          if (end > size || end < start) throw new CorruptionError(segment.path, start, `the index places entries up to offset ${end}, past the end of the file (${size} bytes)`);
          const bytes = new Uint8Array(end - start);
          const read = await handle.read(bytes, start);
          if (read < bytes.length) throw cutShort(segment, start, read, bytes.length);
          const count = stop - first;
          const table = this.verifyTable(count * 3);
          table.set(offsets.subarray(first, stop), 0);
          table.set(lengths.subarray(first, stop), count);
          table.set(checks.subarray(first, stop), 2 * count);
          this.verify(segment, bytes, start, table, count, first, false);
          let index = first;
          try {
            for (; index < stop; index++) each(kinds[index]!, segment.firstPosition + index, bytes, offsets[index]! - start, lengths[index]!);
          } catch (error) {
            throw malformed(error, segment, offsets[index]!, segment.firstPosition + index);
          }
          first = stop;
        }
      } finally {
        await this.log.handles.release(handle);
      }
      position = end;
    }
  }

  /** Reads the payload of each listed position (sorted), grouping neighbours into one read. */
  async readPositions(positions: readonly number[], each: PositionVisitor): Promise<void> {
    await this.flushForRead();
    // On a failed store, positions past what is durable (taken before the failure) are left out.
    const limit = this.log.readLimit();
    if (limit !== Infinity) positions = positions.filter((position) => position < limit);
    let index = 0;
    while (index < positions.length) {
      const segment = this.segmentOf(positions[index]!);
      if (!segment) return;
      const base = segment.firstPosition;
      // The index and the file it points into, taken together (compaction replaces both).
      const offsets = segment.offsets.values;
      const lengths = segment.lengths.values;
      const checks = segment.checks.values;
      const startIndex = index;
      const start = offsets[positions[index]! - base]!;
      let end = start + lengths[positions[index]! - base]!;
      index++;
      // Merge following positions while the gap is small and the read stays bounded.
      while (index < positions.length) {
        const local = positions[index]! - base;
        if (local < 0 || positions[index]! >= segment.nextPosition) break;
        const nextEnd = offsets[local]! + lengths[local]!;
        if (offsets[local]! - end > 16384 || nextEnd - start > 4 << 20) break;
        end = Math.max(end, nextEnd);
        index++;
      }
      if (end > segment.size) throw new CorruptionError(segment.path, start, `the index places entries up to offset ${end}, past the end of the file (${segment.size} bytes)`);
      const bytes = new Uint8Array(end - start);
      const handle = this.log.handles.leaseOpen(segment) ?? (await this.log.handles.acquire(segment));
      try {
        const read = await handle.read(bytes, start);
        if (read < bytes.length) throw cutShort(segment, start, read, bytes.length);
      } finally {
        await this.log.handles.release(handle);
      }
      const count = index - startIndex;
      const table = this.verifyTable(count * 4);
      for (let at = 0; at < count; at++) {
        const local = positions[startIndex + at]! - base;
        table[at] = offsets[local]!;
        table[count + at] = lengths[local]!;
        table[2 * count + at] = checks[local]!;
        table[3 * count + at] = local;
      }
      this.verify(segment, bytes, start, table, count, 0, true);
      let at = startIndex;
      try {
        for (; at < index; at++) {
          const local = positions[at]! - base;
          each(positions[at]!, bytes, offsets[local]! - start, lengths[local]!);
        }
      } catch (error) {
        throw malformed(error, segment, offsets[positions[at]! - base]!, positions[at]!);
      }
    }
  }

  /** Reads `bytes` at `offset` of `handle` (the segment's file) and verifies the entries at the local indexes `locals` in them (compaction). */
  async readVerified(segment: Segment, handle: FileHandle, bytes: Uint8Array, offset: number, locals: readonly number[]): Promise<void> {
    const read = await handle.read(bytes, offset);
    if (read < bytes.length) throw cutShort(segment, offset, read, bytes.length);
    const count = locals.length;
    const table = this.verifyTable(count * 4);
    locals.forEach((local, at) => {
      table[at] = segment.offsets.values[local]!;
      table[count + at] = segment.lengths.values[local]!;
      table[2 * count + at] = segment.checks.values[local]!;
      table[3 * count + at] = local;
    });
    this.verify(segment, bytes, offset, table, count, 0, true);
  }

  /**
   * Checks the payloads of a batch of entries against their entry checks in one core call
   * (`table`: offsets, lengths, checks and, when `sparse`, local indexes; otherwise the
   * entries are the local indexes `first + i`); the first that fails is CorruptionError at
   * its file offset (docs/FORMAT.md §10.1).
   */
  private verify(segment: Segment, bytes: Uint8Array, base: number, table: Uint32Array, count: number, first: number, sparse: boolean): void {
    const core = this.core;
    const index = core.verifyEntries(bytes, base, table, count, segment.firstPosition + first, sparse);
    if (index < 0) return;
    const failure = core.lastVerifyFailure;
    const position = segment.firstPosition + (sparse ? table[3 * count + index]! : first + index);
    const offset = table[index]!;
    const length = table[count + index]!;
    const reason =
      failure.reason === 'mismatch'
        ? `entry checksum mismatch at position ${position} (${length} bytes: expected ${hex(table[2 * count + index]!)}, computed ${hex(failure.computed)}); the bytes on disk are damaged`
        : `entry at position ${position} (${length} bytes at offset ${offset}) lies outside the bytes read`;
    throw new CorruptionError(segment.path, offset, reason);
  }

  /** Scratch for the verify table of one batch; filled and used synchronously. */
  private verifyScratch = new Uint32Array(1024);
  private verifyTable(words: number): Uint32Array {
    if (words > this.verifyScratch.length) this.verifyScratch = new Uint32Array(Math.max(words, this.verifyScratch.length * 2));
    return this.verifyScratch;
  }

}
