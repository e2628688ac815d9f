/**
 * The log device contract (js/src/engine/log-device.ts), exercised on the file device through
 * the interface alone: contiguous segments with only the last one open, positions found and
 * read back verified by range and by position, a roll, and an atomic rewrite of a sealed
 * segment that keeps every position and every kept payload, also after reopening.
 */
import { describe, expect, it } from 'vitest';
import type { LogDevice } from '../js/src/engine/log-device.js';
import { quiet, reeldb, runtime, storePath } from './helpers.js';

const { open } = reeldb;
const KIND_PRUNED = 0x01;

type Db = Awaited<ReturnType<typeof open>>;
const deviceOf = (db: Db) => (db as unknown as { log: LogDevice }).log;

/** Every entry by range: kind and a copy of the payload, by position. */
async function readAll(log: LogDevice): Promise<{ kind: number; payload: number[] }[]> {
  const entries: { kind: number; payload: number[] }[] = [];
  await log.readRange(0, log.nextPosition, (kind, position, bytes, start, length) => {
    expect(position).toBe(entries.length);
    entries.push({ kind, payload: [...bytes.subarray(start, start + length)] });
  });
  return entries;
}

describe(`log device contract on ${runtime}`, () => {
  it('segments are contiguous, reads by range and by position agree, a roll seals the current segment', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 8 * 1024, snapshotBytes: 0 });
    for (let index = 0; index < 120; index++) await db.events.append(`stream-${index % 4}`, [{ type: 'step', data: { index, text: 'y'.repeat(200) } }]);
    const log = deviceOf(db);
    expect(log.nextPosition).toBe(120);
    expect(log.segments.length).toBeGreaterThan(3);
    expect(log.segments[0]!.firstPosition).toBe(0);
    for (let index = 1; index < log.segments.length; index++) expect(log.segments[index]!.firstPosition).toBe(log.segments[index - 1]!.nextPosition);
    expect(log.current).toBe(log.segments[log.segments.length - 1]);
    expect(log.current.nextPosition).toBe(log.nextPosition);
    for (let position = 0; position < log.nextPosition; position++) {
      const segment = log.segmentOf(position)!;
      expect(position >= segment.firstPosition && position < segment.nextPosition).toBe(true);
    }
    expect(log.segmentOf(log.nextPosition)).toBeUndefined();
    expect(log.kindAt(log.nextPosition)).toBe(-1);

    const entries = await readAll(log);
    expect(entries.map((entry) => entry.kind)).toEqual(entries.map((_, position) => log.kindAt(position)));
    expect(new Set(entries.map((entry) => entry.kind)).size).toBe(1);
    const picked = [0, 1, 37, 38, 90, 119];
    const byPosition = new Map<number, number[]>();
    await log.readPositions(picked, (position, bytes, start, length) => byPosition.set(position, [...bytes.subarray(start, start + length)]));
    expect([...byPosition.keys()]).toEqual(picked);
    for (const position of picked) expect(byPosition.get(position)).toEqual(entries[position]!.payload);

    // The engine rolls with the commit order held (a roll the last append started finishes first).
    const pipeline = (db as unknown as { pipeline: { exclusive<T>(work: () => Promise<T>): Promise<T> } }).pipeline;
    const { before, segments, next } = await pipeline.exclusive(async () => {
      const before = log.current;
      const segments = log.segments.length;
      return { before, segments, next: await log.roll() };
    });
    expect(log.segments.length).toBe(segments + 1);
    expect(log.current).toBe(next);
    expect(next.firstPosition).toBe(before.nextPosition);
    expect(next.nextPosition).toBe(next.firstPosition);
    // The seal is a frame of no entries: the old segment grew, its positions did not.
    expect(before.nextPosition).toBe(120);
    await db.close();
  });

  it('rewriteSegment turns removed entries into placeholders, keeps every other payload and position, and survives reopening', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 8 * 1024, snapshotBytes: 0 });
    for (let index = 0; index < 80; index++) await db.events.append(`stream-${index}`, [{ type: 'step', data: { index, text: 'z'.repeat(200) } }]);
    const log = deviceOf(db);
    const entries = await readAll(log);
    const segment = log.segments[1]!;
    const removed = new Set([segment.firstPosition, segment.firstPosition + 2]);
    const result = await log.rewriteSegment(segment, { removed, replaced: new Map() });
    expect(result.removed).toBe(2);
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore);
    expect(log.segments[1]).toBe(segment);
    expect(segment.size).toBe(result.bytesAfter);
    const expected = entries.map((entry, position) => (removed.has(position) ? { kind: KIND_PRUNED, payload: [] } : entry));
    expect(await readAll(log)).toEqual(expected);
    // Removing what is already a placeholder counts nothing.
    expect((await log.rewriteSegment(segment, { removed, replaced: new Map() })).removed).toBe(0);
    await db.close();

    const reopened = await open(path, { ...quiet(), snapshotBytes: 0, ignoreSnapshots: true });
    expect(await readAll(deviceOf(reopened))).toEqual(expected);
    await reopened.close();
  });

  it('rewriteSegment refuses the current segment and leaves its file alone', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    for (let index = 0; index < 5; index++) await db.events.append('stream', [{ type: 'step', data: { index } }]);
    const log = deviceOf(db);
    const entries = await readAll(log);
    await expect(log.rewriteSegment(log.current, { removed: new Set([0]), replaced: new Map() })).rejects.toThrow('the current segment cannot be rewritten');
    expect(await readAll(log)).toEqual(entries);
    await db.close();
  });
});
