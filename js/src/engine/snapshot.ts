/**
 * Snapshots: the materialised index of a store up to a durable position, so that open reads
 * one file and scans only the log after it instead of every segment. A snapshot is a
 * sectioned file (docs/FORMAT.md §16): a header naming the store and the position covered, a
 * table of sections (id, length, CRC32C) and the sections: the log's entry locations
 * (SECTION_LOG), the event streams (SECTION_EVENTS) and the checkpoint threads
 * (SECTION_CHECKPOINTS). Unknown section ids are skipped, so later primitives add their own.
 * Files are `snapshot-<position>.snap` in the store directory, written atomically; the newest
 * valid one is used, anything doubtful is ignored with a warning (the log is the truth).
 */
import type { Core } from '../core/core.js';
import { IOError } from '../errors.js';
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

export const SECTION_LOG = 1;
export const SECTION_EVENTS = 2;
export const SECTION_CHECKPOINTS = 3;

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

/** A primitive's state as names with the positions of their entries, in order; `first` is the version (seq) of the first position (older ones were pruned). */
export type NamedPositions = { name: string; first: number; positions: number[] }[];

export interface SnapshotImage {
  storeId: Uint8Array;
  /** Entries below this position are covered. */
  position: number;
  log: LogImage;
  events: NamedPositions;
  checkpoints: NamedPositions;
}

/** A little-endian byte writer that grows. */
class Writer {
  bytes = new Uint8Array(1 << 16);
  view = new DataView(this.bytes.buffer);
  length = 0;
  private room(count: number): void {
    if (this.length + count <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + count) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }
  f64(value: number): void {
    this.room(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }
  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }
  u32s(values: Uint32Array): void {
    this.room(values.length * 4);
    if (LITTLE_ENDIAN && this.length % 4 === 0) new Uint32Array(this.bytes.buffer, this.length, values.length).set(values);
    else for (let index = 0; index < values.length; index++) this.view.setUint32(this.length + index * 4, values[index]!, true);
    this.length += values.length * 4;
  }
  align(to: number): void {
    const padding = (to - (this.length % to)) % to;
    this.room(padding);
    this.bytes.fill(0, this.length, this.length + padding);
    this.length += padding;
  }
  done(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** The format is little-endian; on a little-endian host (all of today's) u32 arrays are copied whole. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Thrown inside decoding; the caller turns it into "ignored snapshot: …". */
class Invalid extends Error {}

class Reader {
  private readonly view: DataView;
  at = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(count: number): void {
    if (count < 0 || this.at + count > this.bytes.length) throw new Invalid(`section ends early (needs ${count} bytes at ${this.at} of ${this.bytes.length})`);
  }
  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }
  f64(): number {
    this.need(8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!Number.isSafeInteger(value) || value < 0) throw new Invalid(`bad position ${value}`);
    return value;
  }
  raw(count: number): Uint8Array {
    this.need(count);
    const value = this.bytes.subarray(this.at, this.at + count);
    this.at += count;
    return value;
  }
  u32s(count: number): Uint32Array {
    this.need(count * 4);
    let values: Uint32Array;
    // One copy when the words are aligned (they are: the log section lays them out so).
    const offset = this.bytes.byteOffset + this.at;
    if (LITTLE_ENDIAN && offset % 4 === 0) values = new Uint32Array(this.bytes.buffer, offset, count).slice();
    else {
      values = new Uint32Array(count);
      for (let index = 0; index < count; index++) values[index] = this.view.getUint32(this.at + index * 4, true);
    }
    this.at += count * 4;
    return values;
  }
  align(to: number): void {
    this.at += (to - (this.at % to)) % to;
  }
  end(): void {
    if (this.at !== this.bytes.length) throw new Invalid(`${this.bytes.length - this.at} unexpected bytes at the end of a section`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

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

function encodeNamed(items: NamedPositions): Uint8Array {
  const writer = new Writer();
  writer.u32(items.length);
  for (const item of items) {
    const name = encoder.encode(item.name);
    writer.u32(name.length);
    writer.raw(name);
    writer.align(4);
    writer.u32(item.positions.length);
    writer.align(8);
    writer.f64(item.first);
    for (const position of item.positions) writer.f64(position);
  }
  return writer.done();
}

/** Names come back in NFC (names.ts): a snapshot written before names were normalised may hold other forms. */
function decodeNamed(core: Core, bytes: Uint8Array): NamedPositions {
  const reader = new Reader(bytes);
  const count = reader.u32();
  const items: NamedPositions = [];
  for (let index = 0; index < count; index++) {
    let name: string;
    const nameBytes = reader.raw(reader.u32());
    try {
      name = decoder.decode(nameBytes);
    } catch {
      throw new Invalid('a name is not UTF-8');
    }
    if (!/^[\x00-\x7f]*$/.test(name)) name = core.normalizeName(nameBytes, true).text;
    reader.align(4);
    const positionCount = reader.u32();
    reader.align(8);
    const first = reader.f64();
    const positions = new Array<number>(positionCount);
    for (let at = 0; at < positionCount; at++) positions[at] = reader.f64();
    items.push({ name, first, positions });
  }
  reader.end();
  return items;
}

export function encodeSnapshot(core: Core, image: SnapshotImage): Uint8Array {
  const sections: [number, Uint8Array][] = [
    [SECTION_LOG, encodeLog(image.log)],
    [SECTION_EVENTS, encodeNamed(image.events)],
    [SECTION_CHECKPOINTS, encodeNamed(image.checkpoints)],
  ];
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
  const image: Partial<SnapshotImage> = { storeId, position, events: [], checkpoints: [] };
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
      else if (id === SECTION_EVENTS) image.events = decodeNamed(core, section);
      else if (id === SECTION_CHECKPOINTS) image.checkpoints = decodeNamed(core, section);
      // Other ids: sections of later primitives, skipped.
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
