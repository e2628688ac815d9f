/**
 * The search for valid frames after a bad one (docs/FORMAT.md §9.3), over a rest too long to
 * hold in memory at once: a zero-filled or garbage tail of any size (a sparse file of many GiB
 * cost as much memory and made the core trap at 2 GiB).
 */
import type { Probe, ScanSession } from '../core/core.js';
import type { FileHandle } from '../host/types.js';
import { FRAME_BEGIN_BYTES, FRAME_END_MAGIC, SCAN_CHUNK_BYTES } from './segment.js';

/** The begin magic of a frame, "RLFB" (docs/FORMAT.md §6.1). */
const FRAME_BEGIN_MAGIC = 0x42464c52;
/** The format's frame size cap (docs/FORMAT.md §6). */
const FRAME_BYTES_MAX = 1 << 30;

/**
 * probeAfter over a long rest (a zero-filled or garbage tail of any size) in bounded memory:
 * reads it in SCAN_CHUNK_BYTES pieces looking for begin magics at frame alignment, and has
 * the core check only the frame each one claims (so memory is at most one frame, never the
 * rest). Frames found are skipped over, as the core's probe does.
 */
export async function probeInChunks(session: ScanSession, handle: FileHandle, offset: number, size: number, storeId: Uint8Array): Promise<Probe> {
  const found: Probe = { offset: -1, frames: 0, durablePosition: 0 };
  const chunk = new Uint8Array(SCAN_CHUNK_BYTES);
  const chunkView = new DataView(chunk.buffer);
  let base = 0; // the file offset of chunk[0]
  let filled = 0; // bytes of chunk read from there
  const edges = new Uint8Array(8);
  const edgeView = new DataView(edges.buffer);
  let at = offset + 8;
  while (at + FRAME_BEGIN_BYTES + 8 <= size) {
    // The next aligned begin magic at or after `at` (offsets are 8-aligned, so a magic never
    // straddles chunks); the chunk in memory is searched on before the next one is read.
    let candidate = -1;
    while (candidate < 0 && at < size) {
      if (at < base || at >= base + filled) {
        base = at;
        filled = await handle.read(chunk.subarray(0, Math.min(chunk.length, size - base)), base);
        if (filled === 0) break;
      }
      for (let index = chunk.indexOf(0x52, at - base); index >= 0 && index + 4 <= filled; index = chunk.indexOf(0x52, index + 1)) {
        if ((base + index) % 8 === 0 && chunkView.getUint32(index, true) === FRAME_BEGIN_MAGIC) {
          candidate = base + index;
          break;
        }
      }
      if (candidate < 0) at = base + filled;
    }
    if (candidate < 0) break;
    at = candidate + 8;
    // Its claimed length, and the end magic there, before reading the whole frame.
    await handle.read(edges, candidate);
    const length = edgeView.getUint32(4, true);
    if (length < FRAME_BEGIN_BYTES + 8 || length % 8 !== 0 || length > FRAME_BYTES_MAX || candidate + length > size) continue;
    await handle.read(edges, candidate + length - 8);
    if (edgeView.getUint32(4, true) !== FRAME_END_MAGIC) continue;
    const view = session.bufferView(length);
    const read = await handle.read(view.subarray(0, length), candidate);
    const probe = session.probeAfter(read, 0, storeId);
    if (probe.offset !== 0) continue;
    if (found.offset < 0) found.offset = candidate;
    found.frames++;
    found.durablePosition = Math.max(found.durablePosition, probe.durablePosition);
    at = candidate + length;
  }
  return found;
}
