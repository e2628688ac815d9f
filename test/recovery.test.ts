/** Recovery on open: torn tails are truncated, damage followed by valid data is corruption. */
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asIfCrashed, quiet, reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const { open } = reeldb;

/**
 * Appends `batches` commits to stream 's' (each of `size` events) and returns frame end offsets.
 * The store is closed cleanly, then made to look as a crash leaves it (no durable end in the
 * MANIFEST), so that damage at its tail is judged by the torn-tail rule.
 */
async function build(path: string, batches: number, size = 1, options = {}): Promise<number[]> {
  const db = await open(path, options);
  const ends: number[] = [];
  for (let batch = 0; batch < batches; batch++) {
    await db.events.append('s', Array.from({ length: size }, (_, index) => ({ type: 'step', data: { batch, index } })));
    const segments = db.stats().segments;
    ends.push(segments[segments.length - 1]!.bytes);
  }
  await db.close();
  await asIfCrashed(path);
  return ends;
}

function flip(file: string, offset: number): void {
  const bytes = readFileSync(file);
  bytes[offset]! ^= 0x20;
  writeFileSync(file, bytes);
}

describe(`recovery on ${runtime}`, () => {
  it('truncates garbage appended to the tail, with a warning, and keeps every commit', async () => {
    const path = storePath();
    const ends = await build(path, 5);
    const [segment] = segmentPaths(path);
    appendFileSync(segment!, Buffer.from('this is not a frame, just garbage after a crash'));
    const log = quiet();
    const db = await open(path, log);
    expect(log.warnings.join()).toMatch(/truncated a torn tail of 47 bytes at offset \d+/);
    expect(statSync(segment!).size).toBe(ends[4]);
    expect(db.events.streamVersion('s')).toBe(4);
    await db.events.append('s', [{ type: 'after', data: 1 }]);
    await db.close();
    const again = await open(path, quiet());
    expect((await again.events.readStream('s')).map((event) => event.type)).toEqual(['step', 'step', 'step', 'step', 'step', 'after']);
    await again.close();
  });

  it('treats a CRC mismatch in the last frame as a torn tail', async () => {
    const path = storePath();
    const ends = await build(path, 4);
    const [segment] = segmentPaths(path);
    flip(segment!, ends[3]! - 20);
    const log = quiet();
    const db = await open(path, log);
    expect(log.warnings.join()).toMatch(/checksum mismatch/);
    expect(db.events.streamVersion('s')).toBe(2);
    expect(statSync(segment!).size).toBe(ends[2]);
    await db.close();
  });

  it('truncates a zero-filled tail', async () => {
    const path = storePath();
    const ends = await build(path, 3);
    const [segment] = segmentPaths(path);
    truncateSync(segment!, ends[2]! + 4096);
    const db = await open(path, quiet());
    expect(db.events.streamVersion('s')).toBe(2);
    expect(statSync(segment!).size).toBe(ends[2]);
    await db.close();
  });

  it('reports damage in a middle frame as CorruptionError with file and offset, and changes nothing', async () => {
    const path = storePath();
    const ends = await build(path, 6);
    const [segment] = segmentPaths(path);
    flip(segment!, ends[2]! + 50);
    const before = readFileSync(segment!);
    const error = await open(path, quiet()).catch((caught) => caught);
    expect(error).toBeInstanceOf(reeldb.CorruptionError);
    expect(error.code).toBe('CORRUPTION');
    expect(error.file).toBe(segment!.replaceAll('\\', '/'));
    expect(error.offset).toBe(ends[2]);
    expect(error.message).toContain(`at offset ${ends[2]}`);
    expect(error.message).toMatch(/valid frame follows at offset/);
    expect(error.reason).toMatch(/^frame checksum mismatch/);
    expect(readFileSync(segment!).equals(before)).toBe(true);
    // The lock was released: fixing the file lets the store open.
    flip(segment!, ends[2]! + 50);
    const db = await open(path);
    expect(db.events.streamVersion('s')).toBe(5);
    await db.close();
  });

  it('detects damage to a frame length field (not mistaken for a torn tail)', async () => {
    const path = storePath();
    const ends = await build(path, 5);
    const [segment] = segmentPaths(path);
    const bytes = readFileSync(segment!);
    bytes.writeUInt32LE(10_000_000, ends[1]! + 4);
    writeFileSync(segment!, bytes);
    await expect(open(path, quiet())).rejects.toMatchObject({ code: 'CORRUPTION', offset: ends[1] });
  });

  it('exposes none of the events of a frame torn in the middle', async () => {
    const path = storePath();
    const ends = await build(path, 3, 10);
    const [segment] = segmentPaths(path);
    truncateSync(segment!, ends[2]! - Math.floor((ends[2]! - ends[1]!) / 2));
    const db = await open(path, quiet());
    const events = await db.events.readStream('s');
    expect(events.length).toBe(20);
    expect(events.every((event) => (event.data as { batch: number }).batch < 2)).toBe(true);
    expect(db.events.headPosition).toBe(19);
    await db.close();
  });

  it('leaves a torn tail alone when opened read-only', async () => {
    const path = storePath();
    const ends = await build(path, 2);
    const [segment] = segmentPaths(path);
    appendFileSync(segment!, Buffer.alloc(100, 7));
    const log = quiet();
    const db = await open(path, { readOnly: true, ...log });
    expect(db.events.streamVersion('s')).toBe(1);
    expect(log.warnings.join()).toMatch(/ignored a torn tail/);
    await db.close();
    expect(statSync(segment!).size).toBe(ends[1]! + 100);
  });

  it('rolls segments and recovers across them; damage in a sealed segment is corruption', async () => {
    const path = storePath();
    await build(path, 40, 2, { segmentBytes: 2048 });
    const segments = segmentPaths(path);
    expect(segments.length).toBeGreaterThan(2);
    const db = await open(path);
    expect(db.events.streamVersion('s')).toBe(79);
    expect((await db.events.readAll()).map((event) => event.streamVersion)).toEqual([...Array(80).keys()]);
    await db.close();
    // The last bytes of a sealed segment: not a torn tail, because later segments exist.
    const sealed = segments[0]!;
    flip(sealed, statSync(sealed).size - 12);
    await expect(open(path, quiet())).rejects.toMatchObject({ code: 'CORRUPTION', file: sealed.replaceAll('\\', '/') });
  });

  it('reports a missing segment as corruption', async () => {
    const path = storePath();
    await build(path, 40, 2, { segmentBytes: 2048 });
    const segments = segmentPaths(path);
    rmSync(segments[1]!);
    await expect(open(path, quiet())).rejects.toThrow(/segment is missing or out of place/);
  });

  it('removes a new last segment whose header never reached the disk', async () => {
    const path = storePath();
    await build(path, 3);
    const [segment] = segmentPaths(path);
    const next = segment!.replace(/\d{20}\.seg$/, `${'3'.padStart(20, '0')}.seg`);
    writeFileSync(next, Buffer.from('REELSEG\0\x01'));
    const log = quiet();
    const db = await open(path, log);
    expect(log.warnings.join()).toMatch(/header is incomplete/);
    expect(segmentPaths(path)).toEqual([segment]);
    await db.events.append('s', [{ type: 'after', data: 1 }]);
    expect(db.events.streamVersion('s')).toBe(3);
    await db.close();
  });

  it('refuses a damaged MANIFEST and a directory that is not a store', async () => {
    const path = storePath();
    await build(path, 1);
    const manifest = `${path}/MANIFEST`;
    const bytes = readFileSync(manifest);
    bytes[0] = 0;
    writeFileSync(manifest, bytes);
    await expect(open(path)).rejects.toMatchObject({ code: 'CORRUPTION' });
    rmSync(manifest);
    await expect(open(path)).rejects.toThrow(/not a reeldb store/);
  });
});

describe(`recovery of an unsynced tail on ${runtime}`, () => {
  it('treats damage followed only by frames written before it was synced as a torn tail', async () => {
    const path = storePath();
    const ends = await build(path, 2);
    // buffered: three commits written in one turn, none synced when the next was written.
    const db = await open(path, { durability: 'buffered' });
    await Promise.all([1, 2, 3].map((index) => db.events.append('s', [{ type: 'late', data: index }])));
    await db.close();
    await asIfCrashed(path);
    const [segment] = segmentPaths(path);
    flip(segment!, ends[1]! + 50); // inside the first of the three
    const log = quiet();
    const reopened = await open(path, log);
    expect(log.warnings.join()).toMatch(/truncated a torn tail/);
    expect(reopened.events.streamVersion('s')).toBe(1);
    expect(statSync(segment!).size).toBe(ends[1]);
    await reopened.close();
  });
});
