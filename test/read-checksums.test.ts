/**
 * Hardening A3: reads check every entry's bytes against the entry check in the index
 * (docs/FORMAT.md §10.1), so damage to a segment that open never scans (a snapshot covers
 * it) is CorruptionError naming the file and the entry's offset, never wrong data.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quiet, reeldb, runtime, segmentPaths, storePath } from './helpers.js';
import { decodeEvent } from '../js/src/primitives/event-codec.js';
import { MalformedEntry } from '../js/src/device/malformed.js';

const { open, CorruptionError } = reeldb;
const root = new URL('..', import.meta.url).pathname;
const SEGMENT_HEADER_BYTES = 48;
const FRAME_BEGIN_BYTES = 32;

interface EntryLocation {
  file: string;
  kind: number;
  /** File offset of the payload. */
  offset: number;
  length: number;
}

/** Every entry of every segment, in log order, from the frames' begin records and entry headers. */
function entries(store: string): EntryLocation[] {
  const found: EntryLocation[] = [];
  for (const file of segmentPaths(store)) {
    const bytes = readFileSync(file);
    let offset = SEGMENT_HEADER_BYTES;
    while (offset < bytes.length) {
      const length = bytes.readUInt32LE(offset + 4);
      const count = bytes.readUInt32LE(offset + 8);
      let at = offset + FRAME_BEGIN_BYTES;
      for (let entry = 0; entry < count; entry++) {
        const payload = bytes.readUInt32LE(at + 4);
        found.push({ file, kind: bytes[at]!, offset: at + 8, length: payload });
        at += 8 + payload;
      }
      offset += length;
    }
  }
  return found;
}

/** The entry whose payload holds `marker`, and the file offset of the marker. */
function entryWith(store: string, marker: string): { entry: EntryLocation; at: number } {
  for (const entry of entries(store)) {
    const bytes = readFileSync(entry.file).subarray(entry.offset, entry.offset + entry.length);
    const index = bytes.indexOf(Buffer.from(marker));
    if (index >= 0) return { entry, at: entry.offset + index };
  }
  throw new Error(`no entry holds ${marker}`);
}

function patch(file: string, at: number, change: (byte: number) => number): void {
  const bytes = readFileSync(file);
  bytes[at] = change(bytes[at]!);
  writeFileSync(file, bytes);
}

async function rejection(promise: Promise<unknown>): Promise<{ name?: string; code?: string; file?: string; offset?: number; message?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { name: string };
  }
  return { name: 'no error' };
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterator) out.push(item);
  return out;
}

/** A store of several sealed segments with events on a few streams and checkpoints, with a snapshot that covers all of it. */
async function build(path: string): Promise<void> {
  const db = await open(path, { segmentBytes: 4096 });
  for (let index = 0; index < 120; index++) {
    await db.events.append(`run-${index % 3}`, [{ type: 'step', data: { index, note: `marker-${String(index).padStart(3, '0')}` } }]);
    if (index % 20 === 5) await db.checkpoints.save('agent', { index, memory: 'x'.repeat(200 + index) });
  }
  expect(await db.snapshot()).toBeDefined();
  await db.close();
}

describe(`read checksums on ${runtime}`, () => {
  it('hardening A3: a flipped byte inside an event covered by a snapshot is CorruptionError naming the file and offset from readStream, readAll and replay', async () => {
    const path = storePath();
    await build(path);
    const { entry, at } = entryWith(path, 'marker-031');
    expect(segmentPaths(path).indexOf(entry.file)).toBeLessThan(segmentPaths(path).length - 1); // a sealed segment
    patch(entry.file, at + 7, (byte) => byte ^ 0x04); // 'marker-031' → 'marker-431'
    const db = await open(path, quiet());
    try {
      expect(db.stats().recovery.snapshot).toBeDefined(); // open never scanned the damaged frame
      const expected = { name: 'CorruptionError', code: 'CORRUPTION', file: entry.file, offset: entry.offset };
      const pick = (error: { name?: string; code?: string; file?: string; offset?: number }) => ({ name: error.name, code: error.code, file: error.file, offset: error.offset });
      const streamError = await rejection(db.events.readStream('run-1'));
      expect(pick(streamError), streamError.message).toEqual(expected);
      expect(streamError.message).toMatch(/entry checksum mismatch/);
      expect(streamError).toBeInstanceOf(CorruptionError);
      expect(pick(await rejection(db.events.readAll()))).toEqual(expected);
      expect(pick(await rejection(db.events.readAll({ direction: 'backward' })))).toEqual(expected);
      expect(pick(await rejection(collect(db.events.replay())))).toEqual(expected);
      expect(pick(await rejection(collect(db.events.replay({ decodeData: false }))))).toEqual(expected);
      // Entries that do not share the damaged bytes still read.
      expect((await db.events.readStream('run-0')).length).toBe(40);
      expect((await db.events.readStream('run-1', { fromVersion: 11 })).length).toBe(29);
    } finally {
      await db.close();
    }
  });

  it('hardening A3: a flipped byte inside a checkpoint covered by a snapshot is CorruptionError from load, naming the file and offset', async () => {
    const path = storePath();
    await build(path);
    const checkpoints = entries(path).filter((entry) => entry.kind === 0x80);
    const newest = checkpoints[checkpoints.length - 1]!;
    patch(newest.file, newest.offset + newest.length - 3, (byte) => byte ^ 0x80);
    const db = await open(path, quiet());
    try {
      expect(db.stats().recovery.snapshot).toBeDefined();
      const error = await rejection(db.checkpoints.load('agent'));
      expect({ name: error.name, file: error.file, offset: error.offset }, error.message).toEqual({ name: 'CorruptionError', file: newest.file, offset: newest.offset });
      expect(error.message).toMatch(/entry checksum mismatch/);
    } finally {
      await db.close();
    }
  });

  it('hardening A3: a forged event length is CorruptionError, never a RangeError or a wrong event', async () => {
    const path = storePath();
    await build(path);
    const { entry } = entryWith(path, 'marker-040');
    // The data length (payload bytes 16..20) claims far more than the entry holds.
    patch(entry.file, entry.offset + 18, () => 0x7f);
    const db = await open(path, quiet());
    try {
      const error = await rejection(db.events.readStream('run-1'));
      expect({ name: error.name, file: error.file, offset: error.offset }, error.message).toEqual({ name: 'CorruptionError', file: entry.file, offset: entry.offset });
      expect((await rejection(db.events.readAll())).name).toBe('CorruptionError');
    } finally {
      await db.close();
    }
    // The same forgery in a frame that open scans (no snapshot): the scan rejects it.
    const scanned = await rejection(open(path, { ...quiet(), ignoreSnapshots: true }));
    expect({ name: scanned.name, file: scanned.file }).toEqual({ name: 'CorruptionError', file: entry.file });
    // And a payload whose lengths do not add up never reaches a caller as a RangeError.
    const bytes = new Uint8Array(40);
    new DataView(bytes.buffer).setUint32(16, 0x7fffffff, true);
    bytes[24] = 1;
    bytes[26] = 1;
    expect(() => decodeEvent(bytes, 0, 40, 0)).toThrow(MalformedEntry);
  });

  it('hardening A3: a segment cut short behind the store\'s back is CorruptionError on read, not zeros', async () => {
    const path = storePath();
    await build(path);
    const db = await open(path, quiet());
    try {
      const { entry } = entryWith(path, 'marker-010');
      truncateSync(entry.file, entry.offset + 4);
      const error = await rejection(db.events.readAll());
      expect({ name: error.name, file: error.file }, error.message).toEqual({ name: 'CorruptionError', file: entry.file });
      expect(error.message).toMatch(/ends at offset|past the end/);
    } finally {
      await db.close();
    }
  });

  it('hardening A3: a prune that compacts never turns damaged kept bytes into a valid frame; compaction keeps the checks', async () => {
    const path = storePath();
    await build(path);
    const { entry, at } = entryWith(path, 'marker-006');
    expect(entry.file).toBe(segmentPaths(path)[0]);
    const sizeBefore = statSync(entry.file).size;
    const db = await open(path, quiet());
    try {
      patch(entry.file, at + 8, (byte) => byte ^ 0x01);
      // Positions 0..2 go: the first segment is rewritten, keeping the damaged entry.
      const error = await rejection(db.prune({ events: { beforePosition: 3 } }));
      expect({ name: error.name, file: error.file, offset: error.offset }, error.message).toEqual({ name: 'CorruptionError', file: entry.file, offset: entry.offset });
      expect(statSync(entry.file).size).toBe(sizeBefore);
    } finally {
      await db.close().catch(() => undefined);
    }
    patch(entry.file, at + 8, (byte) => byte ^ 0x01); // repaired
    const again = await open(path, quiet());
    const before = (await again.events.readAll()).filter((event) => event.position >= 3);
    await again.prune({ events: { beforePosition: 3 } });
    expect(statSync(entry.file).size).toBeLessThan(sizeBefore); // compacted
    expect(await again.events.readAll()).toEqual(before);
    await again.close();
    // The compacted segment's checks, carried by the snapshot, verify its new layout.
    const reopened = await open(path, quiet());
    expect(reopened.stats().recovery.snapshot).toBeDefined();
    expect(await reopened.events.readAll()).toEqual(before);
    expect((await reopened.checkpoints.load('agent'))?.state).toEqual({ index: 105, memory: 'x'.repeat(305) });
    await reopened.close();
  });

  it('hardening A3: a snapshot of version 1 (no entry checks) is ignored with a warning and the log is scanned', async () => {
    const path = storePath();
    await build(path);
    const names = readdirSync(path).filter((file) => file.startsWith('snapshot-'));
    expect(names.length).toBeGreaterThan(0);
    for (const snapshot of names) {
      const file = join(path, snapshot);
      const bytes = readFileSync(file);
      expect(bytes.readUInt32LE(8)).toBe(2);
      bytes.writeUInt32LE(1, 8);
      // The header checksum (CRC32C of bytes 0..44 and the section table) made right again, so only the version differs.
      const count = bytes.readUInt32LE(12);
      bytes.writeUInt32LE(crc32c(Buffer.concat([bytes.subarray(0, 44), bytes.subarray(48, 48 + count * 16)])), 44);
      writeFileSync(file, bytes);
    }
    const name = [...names].sort().pop()!;
    const log = quiet();
    const db = await open(path, log);
    try {
      expect(db.stats().recovery.snapshot).toBeUndefined();
      expect(log.warnings.some((warning) => warning.startsWith(`ignored snapshot ${name}`) && warning.includes('version 1'))).toBe(true);
      expect((await db.events.readAll()).length).toBe(120);
    } finally {
      await db.close();
    }
    // `reeldb verify` calls it a cache of another version, not damage.
    const copy = `${path}-verify`;
    cpSync(path, copy, { recursive: true });
    for (const snapshot of readdirSync(copy).filter((file) => file.startsWith('snapshot-'))) rmSync(join(copy, snapshot));
    for (const snapshot of names) cpSync(join(path, snapshot), join(copy, snapshot));
    const result = spawnSync('node', [join(root, 'js/bin/reeldb.mjs'), 'verify', copy], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    rmSync(copy, { recursive: true, force: true });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`is snapshot version 1; open ignores it`);
  });
});

/** CRC32C (Castagnoli), bitwise: small inputs only. */
function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
