/**
 * Compaction: rewrites a sealed segment without the entries a prune removed, so their bytes go
 * back to the file system. Every position keeps its place: a removed entry becomes an empty
 * placeholder (kind 0x01, 8 bytes of entry header), so positions stay contiguous and the scan
 * needs no change. The rewritten file is marked compacted in its header, which also records
 * the checksum the log's chain continues from (that of the original last frame), and its
 * frames chain from the checksum the original first frame chained from. It is written to a
 * temporary file, synced, renamed over the segment and the directory synced: a crash leaves
 * either the old segment or the new one (docs/FORMAT.md §17).
 */
import { SEGMENT_HEADER_BYTES } from '../core/core.js';
import { CorruptionError, StoreFailedError } from '../errors.js';
import type { FileHandle } from '../host/types.js';
import type { CompactResult, Rewrite } from '../engine/log-device.js';
import { GrowableUint32, GrowableUint8 } from './growable.js';
import { FRAME_BEGIN_BYTES, FRAME_END_MAGIC, ENTRY_HEADER_BYTES, KIND_PRUNED, SEGMENT_FLAG_COMPACTED, SEAL_FRAME_BYTES, isSealed, type Segment } from './segment.js';
import type { SegmentLog } from './segments.js';

export { KIND_PRUNED } from './segment.js';
export type { CompactResult, Rewrite } from '../engine/log-device.js';
/** A rewritten frame holds at most this many entries or payload bytes (reads stay bounded). */
const FRAME_ENTRIES = 16384;
const FRAME_PAYLOAD_BYTES = 4 << 20;
/** Temporary name of a segment being rewritten; a writable open removes leftovers. */
export const COMPACT_SUFFIX = '.compact.tmp';

/** Where each rewritten frame ends: entry indexes, bounded by FRAME_ENTRIES and the payload bytes read at once. */
function frameStops(count: number, offsets: ArrayLike<number>, lengths: ArrayLike<number>): number[] {
  const stops: number[] = [];
  let first = 0;
  while (first < count) {
    let stop = first + 1;
    const start = offsets[first]!;
    while (stop < count && stop - first < FRAME_ENTRIES && offsets[stop]! + lengths[stop]! - start <= FRAME_PAYLOAD_BYTES) stop++;
    stops.push(stop);
    first = stop;
  }
  return stops;
}

/** The size `compactSegment` gives the segment (a dry run's figure is exactly what the prune reclaims). */
export function compactedSize(segment: Segment, removed: ReadonlySet<number>, replacedLength: (position: number) => number | undefined, sealed = isSealed(segment)): number {
  const count = segment.offsets.length;
  const lengths = segment.lengths.values;
  // A sealed segment stays sealed.
  let size = SEGMENT_HEADER_BYTES + (sealed ? SEAL_FRAME_BYTES : 0);
  let first = 0;
  for (const stop of frameStops(count, segment.offsets.values, lengths)) {
    let body = FRAME_BEGIN_BYTES;
    for (let index = first; index < stop; index++) {
      const position = segment.firstPosition + index;
      body += ENTRY_HEADER_BYTES + (removed.has(position) ? 0 : replacedLength(position) ?? lengths[index]!);
    }
    size += Math.ceil(body / 8) * 8 + 8;
    first = stop;
  }
  return size;
}

/**
 * Rewrites `segment` (sealed) with the entries at `rewrite.removed` replaced by placeholders
 * and those in `rewrite.replaced` by their new payloads (same kind), then points the log at
 * the new file.
 */
export async function compactSegment(log: SegmentLog, segment: Segment, rewrite: Rewrite): Promise<CompactResult> {
  const count = segment.offsets.length;
  const offsets = segment.offsets.values.slice(0, count);
  const lengths = segment.lengths.values.slice(0, count);
  const kinds = segment.kinds.values.slice(0, count);
  const bytesBefore = segment.size;
  const source = await log.handles.acquire(segment);
  try {
    return await rewriteFrom(log, segment, rewrite, source, { count, offsets, lengths, kinds, bytesBefore });
  } finally {
    await log.handles.release(source);
  }
}

async function rewriteFrom(
  log: SegmentLog,
  segment: Segment,
  { removed, replaced }: Rewrite,
  source: FileHandle,
  { count, offsets, lengths, kinds, bytesBefore }: { count: number; offsets: Uint32Array; lengths: Uint32Array; kinds: Uint8Array; bytesBefore: number },
): Promise<CompactResult> {
  const { host, core, storeId } = log.context;
  const sealed = isSealed(segment);

  // The chain around the segment: what its first frame chains from, and what the next
  // segment's first frame chains from (kept in the new header).
  const head = new Uint8Array(SEGMENT_HEADER_BYTES + FRAME_BEGIN_BYTES);
  await source.read(head, 0);
  const headView = new DataView(head.buffer);
  const chainIn = headView.getUint32(SEGMENT_HEADER_BYTES + 24, true);
  let chainOut: number;
  if (headView.getUint32(12, true) & SEGMENT_FLAG_COMPACTED) chainOut = headView.getUint32(40, true);
  else {
    const end = new Uint8Array(8);
    await source.read(end, bytesBefore - 8);
    const endView = new DataView(end.buffer);
    if (endView.getUint32(4, true) !== FRAME_END_MAGIC) throw new CorruptionError(segment.path, bytesBefore - 8, 'a sealed segment does not end with a frame end');
    chainOut = endView.getUint32(0, true);
  }

  const header = core.encodeSegmentHeader(storeId, segment.firstPosition).slice();
  const view = new DataView(header.buffer);
  view.setUint32(12, SEGMENT_FLAG_COMPACTED, true);
  view.setUint32(40, chainOut, true);
  view.setUint32(44, core.crc32c(header.subarray(0, 44)), true);

  const temporary = `${segment.path}${COMPACT_SUFFIX}`;
  const target = await log.handles.open(temporary, { create: true });
  const newOffsets = new Uint32Array(count);
  const newLengths = new Uint32Array(count);
  const newKinds = new Uint8Array(count);
  const newChecks = new Uint32Array(count);
  let removedCount = 0;
  let fileOffset = 0;
  try {
    await target.truncate(0);
    await target.write(header, 0);
    fileOffset = SEGMENT_HEADER_BYTES;
    let checksum = chainIn;
    let first = 0;
    for (const stop of frameStops(count, offsets, lengths)) {
      // One frame: entries [first, stop), reading the payload bytes they span at once.
      const start = offsets[first]!;
      const span = new Uint8Array(offsets[stop - 1]! + lengths[stop - 1]! - start);
      const drops = new Uint8Array(stop - first);
      const kept: number[] = [];
      for (let index = first; index < stop; index++) {
        if (removed.has(segment.firstPosition + index)) drops[index - first] = 1;
        else kept.push(index);
      }
      // The kept bytes are verified before they go under a new frame checksum: compaction must
      // never turn damaged bytes into a valid frame. (Damage in what is removed is dropped.)
      await log.readVerified(segment, source, span, start, kept);
      // Built and copied out synchronously: the core's frame buffers are shared.
      core.resetOutput();
      core.beginFrame();
      let at = fileOffset + FRAME_BEGIN_BYTES;
      for (let index = first; index < stop; index++) {
        const drop = drops[index - first] === 1;
        const payload = drop ? undefined : replaced.get(segment.firstPosition + index);
        const kind = drop ? KIND_PRUNED : kinds[index]!;
        const length = drop ? 0 : payload ? payload.length : lengths[index]!;
        if (drop && kinds[index] !== KIND_PRUNED) removedCount++;
        const pointer = core.reservePayload(length);
        if (payload) core.u8.set(payload, pointer);
        else if (length > 0) core.u8.set(span.subarray(offsets[index]! - start, offsets[index]! - start + length), pointer);
        core.endPayload(kind, length);
        newOffsets[index] = at + ENTRY_HEADER_BYTES;
        newLengths[index] = length;
        newKinds[index] = kind;
        at += ENTRY_HEADER_BYTES + length;
      }
      checksum = core.finishFrame(segment.firstPosition + first, checksum, storeId, 0);
      // A kept entry keeps its bytes and position, so its check too; a placeholder gets the
      // check of its empty payload.
      newChecks.set(core.frameChecks, first);
      const frame = core.output().slice();
      await target.write(frame, fileOffset);
      fileOffset += frame.length;
      first = stop;
    }
    if (sealed) {
      // The rewritten segment stays sealed: its successor still exists (docs/FORMAT.md §17).
      core.resetOutput();
      core.beginFrame();
      core.finishFrame(segment.firstPosition + count, checksum, storeId, 0);
      const seal = core.output().slice();
      await target.write(seal, fileOffset);
      fileOffset += seal.length;
    }
    await target.sync();
  } catch (error) {
    await target.close().catch(() => undefined);
    await host.remove(temporary).catch(() => undefined);
    throw error;
  }
  await target.close();
  try {
    await host.replace(temporary, segment.path);
    // The path names the new file from here: read through it before anything else can fail.
    const handle = await log.handles.open(segment.path, {});
    await log.replaceSegment(segment, handle, fileOffset, newOffsets, newLengths, newKinds, newChecks);
    await host.syncDirectory(log.logDirectory);
  } catch (error) {
    // Gone if the rename happened; if it did not, the rewrite is of no use.
    await host.remove(temporary).catch(() => undefined);
    throw new RenameFailed(segment.path, error);
  }
  return { removed: removedCount, bytesBefore, bytesAfter: fileOffset };
}

/**
 * Points a sealed segment at its rewritten file and index (compaction), at once; the old
 * handle is closed when the reads still using it finish.
 */
export async function swapSegment(log: SegmentLog, segment: Segment, handle: FileHandle, size: number, offsets: Uint32Array, lengths: Uint32Array, kinds: Uint8Array, checks: Uint32Array): Promise<void> {
  if (segment === log.current) throw new Error('the current segment cannot be replaced');
  segment.size = size;
  const index = { offsets: new GrowableUint32(), lengths: new GrowableUint32(), kinds: new GrowableUint8(), checks: new GrowableUint32() };
  index.offsets.assign(offsets);
  index.lengths.assign(lengths);
  index.kinds.assign(kinds);
  index.checks.assign(checks);
  segment.offsets = index.offsets;
  segment.lengths = index.lengths;
  segment.kinds = index.kinds;
  segment.checks = index.checks;
  await log.handles.replace(segment, handle);
}

/**
 * The rename of a rewritten segment, or what follows it, failed: the file may be old or new,
 * so the store must fail (a StoreFailedError whose cause is the typed I/O error).
 */
export class RenameFailed extends StoreFailedError {
  readonly renamed = true;
  constructor(path: string, cause: unknown) {
    super(`replacing ${path} with its rewritten version failed (${(cause as Error)?.message ?? String(cause)})`, cause);
  }
}
