/**
 * Snapshots: the materialised index of a store up to a durable position, so that open reads
 * one file and scans only the log after it instead of every segment. A snapshot is a
 * sectioned file (docs/FORMAT.md §16): a header naming the store and the position covered, a
 * table of sections (id, length, CRC32C) and the sections: the log's entry locations
 * (SECTION_LOG) and one section per registered primitive (its `section` id, its own bytes:
 * PrimitiveInstance.captureSection). Unknown section ids are skipped.
 * Files are `snapshot-<position>.snap` in the store directory, written atomically; the newest
 * valid one is used, anything doubtful is ignored with a warning (the log is the truth).
 */
import type { Core } from '../core/core.js';
import { IOError } from '../errors.js';
import { Invalid, Reader, Writer } from './section-codec.js';
export type { NamedPositions } from './section-codec.js';
import { joinPath, readWholeFile, writeFileAtomic, type FileHost } from '../host/types.js';

export const SNAPSHOT_NAME = /^snapshot-(\d{20})\.snap$/;
/** 2: the log section carries each entry's check, and section checksums are entry checks
 * (XXH64, seed 0: ~5× faster than CRC32C in wasm, which pays for the larger section; docs/FORMAT.md
 * §10.1, §16). A snapshot of another version is ignored with a warning, and open scans the log
 * instead (snapshots are caches). */
export const SNAPSHOT_VERSION = 2;
export const SNAPSHOT_HEADER_BYTES = 48;
export const SECTION_ENTRY_BYTES = 16;
const MAGIC = [0x52, 0x45, 0x45, 0x4c, 0x53, 0x4e, 0x41, 0x50]; // "REELSNAP"

export { SECTION_LOG } from './registry.js';
import { SECTION_LOG } from './registry.js';

/** Snapshots kept: the newest and the one before it (in case the newest turns out damaged). */
export const SNAPSHOTS_KEPT = 2;

export function snapshotName(position: number): string {
  return `snapshot-${String(position).padStart(20, '0')}.snap`;
}

/** One segment as a snapshot records it: its entries' locations up to `coveredSize`. */
export interface SegmentImage {
  firstPosition: number;
  /** Bytes of the segment the snapshot covers (a frame boundary). */
  coveredSize: number;
  offsets: Uint32Array;
  lengths: Uint32Array;
  kinds: Uint8Array;
  /** Entry check of each entry (wasm-core/src/verify.rs). */
  checks: Uint32Array;
}

export interface LogImage {
  segments: SegmentImage[];
  /** Checksum of the last frame covered (the chain continues from it). */
  checksum: number;
}


export interface SnapshotImage {
  storeId: Uint8Array;
  /** Entries below this position are covered. */
  position: number;
  log: LogImage;
  /** Each primitive's section by id (the registry's `captureSections`). */
  sections: Map<number, Uint8Array>;
}

function encodeLog(log: LogImage): Uint8Array {
  const writer = new Writer();
  writer.u32(log.segments.length);
  writer.u32(log.checksum);
  for (const segment of log.segments) {
    writer.f64(segment.firstPosition);
    writer.f64(segment.coveredSize);
    writer.u32(segment.offsets.length);
    writer.u32(0);
    writer.u32s(segment.offsets);
    writer.u32s(segment.lengths);
    writer.u32s(segment.checks);
    writer.raw(segment.kinds);
    writer.align(8);
  }
  return writer.done();
}

function decodeLog(bytes: Uint8Array): LogImage {
  const reader = new Reader(bytes);
  const count = reader.u32();
  const checksum = reader.u32();
  const segments: SegmentImage[] = [];
  for (let index = 0; index < count; index++) {
    const firstPosition = reader.f64();
    const coveredSize = reader.f64();
    const entries = reader.u32();
    reader.u32();
    const offsets = reader.u32s(entries);
    const lengths = reader.u32s(entries);
    const checks = reader.u32s(entries);
    const kinds = reader.raw(entries).slice();
    reader.align(8);
    segments.push({ firstPosition, coveredSize, offsets, lengths, kinds, checks });
  }
  reader.end();
  return { segments, checksum };
}

export function encodeSnapshot(core: Core, image: SnapshotImage): Uint8Array {
  const sections: [number, Uint8Array][] = [[SECTION_LOG, encodeLog(image.log)], ...[...image.sections].sort((a, b) => a[0] - b[0])];
  const tableBytes = sections.length * SECTION_ENTRY_BYTES;
  const total = SNAPSHOT_HEADER_BYTES + tableBytes + sections.reduce((sum, [, bytes]) => sum + bytes.length + ((8 - (bytes.length % 8)) % 8), 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, SNAPSHOT_VERSION, true);
  view.setUint32(12, sections.length, true);
  out.set(image.storeId, 16);
  view.setFloat64(32, image.position, true);
  view.setUint32(40, 0, true);
  let at = SNAPSHOT_HEADER_BYTES + tableBytes;
  sections.forEach(([id, bytes], index) => {
    const entry = SNAPSHOT_HEADER_BYTES + index * SECTION_ENTRY_BYTES;
    view.setUint32(entry, id, true);
    view.setUint32(entry + 4, 0, true);
    view.setUint32(entry + 8, bytes.length, true);
    view.setUint32(entry + 12, core.entryCheck(bytes), true);
    out.set(bytes, at);
    at += bytes.length + ((8 - (bytes.length % 8)) % 8);
  });
  // The header checksum covers the header before it and the section table.
  const covered = new Uint8Array(44 + tableBytes);
  covered.set(out.subarray(0, 44), 0);
  covered.set(out.subarray(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES + tableBytes), 44);
  view.setUint32(44, core.crc32c(covered), true);
  return out;
}

/** A snapshot decoded, or why it cannot be used, with the byte offset of the problem. */
export type DecodedSnapshot = { ok: true; image: SnapshotImage } | { ok: false; offset: number; reason: string; otherVersion?: number };

export function decodeSnapshot(core: Core, bytes: Uint8Array, storeId: Uint8Array): DecodedSnapshot {
  const bad = (offset: number, reason: string): DecodedSnapshot => ({ ok: false, offset, reason });
  if (bytes.length < SNAPSHOT_HEADER_BYTES) return bad(0, `${bytes.length} bytes, shorter than the ${SNAPSHOT_HEADER_BYTES}-byte header`);
  if (MAGIC.some((byte, index) => bytes[index] !== byte)) return bad(0, 'not a reeldb snapshot (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  const count = view.getUint32(12, true);
  const tableBytes = count * SECTION_ENTRY_BYTES;
  if (count > 4096 || SNAPSHOT_HEADER_BYTES + tableBytes > bytes.length) return bad(12, `section table of ${count} entries does not fit the file`);
  const covered = new Uint8Array(44 + tableBytes);
  covered.set(bytes.subarray(0, 44), 0);
  covered.set(bytes.subarray(SNAPSHOT_HEADER_BYTES, SNAPSHOT_HEADER_BYTES + tableBytes), 44);
  if (view.getUint32(44, true) !== core.crc32c(covered)) return bad(44, 'header checksum mismatch');
  // Another version is not damage: a cache from an older (or newer) reeldb, scanned past.
  if (version !== SNAPSHOT_VERSION) return { ok: false, offset: 8, reason: `snapshot version ${version}; this reeldb reads version ${SNAPSHOT_VERSION}`, otherVersion: version };
  if (storeId.some((byte, index) => bytes[16 + index] !== byte)) return bad(16, 'it belongs to another store');
  const position = view.getFloat64(32, true);
  if (!Number.isSafeInteger(position) || position < 0) return bad(32, `bad position ${position}`);
  const image: Partial<SnapshotImage> = { storeId, position, sections: new Map() };
  let at = SNAPSHOT_HEADER_BYTES + tableBytes;
  for (let index = 0; index < count; index++) {
    const entry = SNAPSHOT_HEADER_BYTES + index * SECTION_ENTRY_BYTES;
    const id = view.getUint32(entry, true);
    const length = view.getUint32(entry + 8, true);
    if (at + length > bytes.length) return bad(entry, `section ${id} of ${length} bytes runs past the end of the file`);
    const section = bytes.subarray(at, at + length);
    if (core.entryCheck(section) !== view.getUint32(entry + 12, true)) return bad(at, `section ${id} checksum mismatch`);
    try {
      if (id === SECTION_LOG) image.log = decodeLog(section);
      // The primitives decode their own (registry.restoreSections); a section no loaded primitive claims is skipped.
      else image.sections!.set(id, section);
    } catch (error) {
      if (error instanceof Invalid) return bad(at, `section ${id}: ${error.message}`);
      throw error;
    }
    const padded = at + length + ((8 - (length % 8)) % 8);
    // Padding is not under a checksum: it must be zeros.
    for (let byte = at + length; byte < padded; byte++) if (bytes[byte] !== 0) return bad(byte, `section ${id} padding is not zero`);
    at = padded;
  }
  if (at !== bytes.length) return bad(at, `${bytes.length - at} bytes follow the last section`);
  if (!image.log) return bad(SNAPSHOT_HEADER_BYTES, 'no log section');
  return { ok: true, image: image as SnapshotImage };
}

/** Snapshot file names in `directory`, newest first. */
export async function listSnapshots(host: FileHost, directory: string): Promise<string[]> {
  return (await host.list(directory)).filter((name) => SNAPSHOT_NAME.test(name)).sort().reverse();
}

/** The largest snapshot open reads (a larger file, e.g. a sparse one, is skipped with a warning). */
export const SNAPSHOT_BYTES_MAX = 1 << 30;

/**
 * The bytes of a snapshot file, or undefined when it is gone. A file that is not a regular
 * file or is over SNAPSHOT_BYTES_MAX is a typed error (the caller skips the snapshot).
 */
export async function readSnapshotFile(host: FileHost, directory: string, name: string): Promise<Uint8Array | undefined> {
  const path = joinPath(directory, name);
  if (!(await host.exists(path))) return undefined;
  // The size first: a sparse file of many GiB costs nothing to skip.
  const handle = await host.open(path, { readOnly: true });
  let size: number;
  try {
    size = await handle.size();
  } finally {
    await handle.close();
  }
  if (size > SNAPSHOT_BYTES_MAX) {
    throw new IOError(`snapshot '${path}' is ${size} bytes, larger than a snapshot can be (${SNAPSHOT_BYTES_MAX} bytes)`, { path, errno: 'EFBIG', syscall: 'read' });
  }
  return readWholeFile(host, path, SNAPSHOT_BYTES_MAX);
}

/**
 * Writes the snapshot atomically (temporary file, sync, rename, directory sync), then removes
 * all but the newest `keep` (a prune keeps only its own: older ones may name what it erased).
 */
export async function writeSnapshotFile(core: Core, host: FileHost, directory: string, image: SnapshotImage, keep = SNAPSHOTS_KEPT): Promise<{ name: string; bytes: number }> {
  const bytes = encodeSnapshot(core, image);
  const name = snapshotName(image.position);
  if (bytes.length > SNAPSHOT_BYTES_MAX) {
    // Open would skip it: writing it only costs disk.
    const path = joinPath(directory, name);
    throw new IOError(`snapshot '${path}' would be ${bytes.length} bytes, larger than a snapshot can be (${SNAPSHOT_BYTES_MAX} bytes); open scans the log instead`, { path, errno: 'EFBIG', syscall: 'write' });
  }
  await writeFileAtomic(host, directory, name, bytes);
  const names = await listSnapshots(host, directory);
  let removed = false;
  for (const old of names.slice(keep)) {
    await host.remove(joinPath(directory, old));
    removed = true;
  }
  if (removed) await host.syncDirectory(directory);
  return { name, bytes: bytes.length };
}
