/**
 * The writer of the log device: appends encoded frames to the current segment through one
 * write buffer (one OS write per flush, writes in order), creates segments durably and rolls
 * the log (a new segment, then a seal frame on the old one).
 */
import { SEGMENT_HEADER_BYTES } from '../core/core.js';
import { joinPath, type FileHandle } from '../host/types.js';
import type { FrameIndex } from '../engine/log-device.js';
import { ENTRY_HEADER_BYTES, FRAME_BEGIN_BYTES, Segment, segmentName } from './segment.js';
import type { SegmentLog, SegmentLogOptions } from './segments.js';

export class SegmentWriter {
  /** Frames appended but not yet written: they go to the OS in one write per flush. */
  private pending = new Uint8Array(0);
  private pendingLength = 0;
  private pendingSegment: Segment | undefined;
  private pendingOffset = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: SegmentLog,
    private readonly options: SegmentLogOptions,
  ) {}

  /**
   * Creates a new segment starting at `firstPosition`, durably. If any step fails (a full
   * disk), the file is removed again and the log is unchanged: nothing half-made stays
   * behind (should the removal fail too, open removes the empty file as a leftover).
   */
  async createSegment(firstPosition: number): Promise<Segment> {
    const { host, core, storeId } = this.options;
    const name = segmentName(firstPosition);
    const path = joinPath(this.log.logDirectory, name);
    await host.mkdir(this.log.logDirectory);
    const existed = await host.exists(path);
    const handle = await this.log.handles.open(path, { create: true });
    try {
      await handle.truncate(0);
      await handle.write(core.encodeSegmentHeader(storeId, firstPosition), 0);
      await handle.sync();
      await host.syncDirectory(this.log.logDirectory);
    } catch (error) {
      await handle.close().catch(() => undefined);
      // Only a file this call made (or a leftover of an earlier failed roll): never a segment in use.
      if (!existed || !this.log.segments.some((segment) => segment.name === name)) {
        await host.remove(path).catch(() => undefined);
        await host.syncDirectory(this.log.logDirectory).catch(() => undefined);
      }
      throw error;
    }
    const segment = new Segment(name, path, firstPosition, handle, SEGMENT_HEADER_BYTES);
    this.log.segments.push(segment);
    // The segment before it is sealed now: its handle joins the bounded cache.
    this.log.handles.seal(this.log.segments[this.log.segments.length - 2]);
    return segment;
  }

  /**
   * Rolls the log: creates the next segment durably, then seals the current one with a frame
   * of no entries (synced), which records that a successor exists (docs/FORMAT.md §9.2). Call
   * with everything written durable and nothing pending. A half-written seal must not stay
   * before later frames: a failed seal write is cut off again (the segment stays unsealed,
   * which is valid) or, if that fails too, fails the store, as a failed sync does.
   */
  async roll(): Promise<Segment> {
    await this.log.flushWrites();
    const old = this.log.current;
    // Leased while it is still current (open for writing): once sealed its handle belongs to
    // the bounded cache, which must not close it under the seal write.
    const handle = old ? await this.log.handles.acquire(old) : undefined;
    try {
      const next = await this.log.createSegment(this.log.nextPosition);
      if (!old || !handle) return next;
      const { core, storeId } = this.options;
      core.resetOutput();
      core.beginFrame();
      const checksum = core.finishFrame(old.nextPosition, this.log.lastChecksum, storeId, 0);
      const frame = core.output().slice();
      try {
        await handle.write(frame, old.size);
      } catch (error) {
        try {
          await handle.truncate(old.size);
          await handle.sync();
        } catch {
          throw this.log.onWriteFailed(error);
        }
        return next;
      }
      try {
        await handle.sync();
      } catch (error) {
        throw this.log.onWriteFailed(error);
      }
      old.size += frame.length;
      this.log.lastChecksum = checksum;
      return next;
    } finally {
      if (handle) await this.log.handles.release(handle);
    }
  }

  /**
   * Appends encoded frames to the current segment: records where each entry's payload lies
   * and copies the bytes into the write buffer (`bytes` may be a view of wasm memory; it is
   * not kept). Nothing reaches the file until `flushWrites`. `frames` lists, per frame, its
   * payload lengths and kinds in order. Returns the file that must be synced.
   */
  append(bytes: Uint8Array, frames: readonly FrameIndex[], lastChecksum: number): FileHandle {
    const segment = this.log.current;
    if (this.pendingLength === 0) {
      this.pendingSegment = segment;
      this.pendingOffset = segment.size;
    }
    const needed = this.pendingLength + bytes.length;
    if (needed > this.pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.pending.length * 2, 64 * 1024));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(bytes, this.pendingLength);
    this.pendingLength = needed;
    let frameOffset = segment.size;
    for (const frame of frames) {
      let at = frameOffset + FRAME_BEGIN_BYTES;
      let payloadBytes = 0;
      for (let index = 0; index < frame.lengths.length; index++) {
        const length = frame.lengths[index]!;
        segment.offsets.push(at + ENTRY_HEADER_BYTES);
        segment.lengths.push(length);
        segment.kinds.push(frame.kinds[index]!);
        segment.checks.push(frame.checks[index]!);
        at += ENTRY_HEADER_BYTES + length;
        payloadBytes += length;
      }
      frameOffset += this.options.core.frameLength(frame.lengths.length, payloadBytes);
    }
    segment.size += bytes.length;
    this.log.appendedBytes += bytes.length;
    this.log.lastChecksum = lastChecksum;
    return segment.handle!;
  }

  /** Bytes appended but not yet handed to the OS. */
  get pendingBytes(): number {
    return this.pendingLength;
  }

  /** Hands buffered frames to the OS (one write). Writes run one after another. */
  flushWrites(): Promise<void> {
    if (this.pendingLength === 0) return this.writing;
    const segment = this.pendingSegment!;
    // Copy out only the used bytes and keep the buffer: allocating a fresh zero-filled buffer
    // per flush (once per commit outside buffered mode) cost ~30 % of memory-mode appends.
    const bytes = this.pending.slice(0, this.pendingLength);
    const offset = this.pendingOffset;
    this.pendingLength = 0;
    this.writing = this.writing
      .then(() => segment.handle!.write(bytes, offset))
      .catch((error: unknown) => {
        throw this.log.onWriteFailed(error);
      });
    return this.writing;
  }
}
