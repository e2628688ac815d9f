/** Checkpoints: full and delta round trips, the chain bound, damage, list/paging/filter, delete, reopen. */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const { open } = reeldb;

/** An agent state that grows by one ~500-byte message per step. */
function agentState(steps: number): { messages: { role: string; content: string; step: number }[]; step: number } {
  const messages = [];
  for (let step = 0; step < steps; step++) {
    messages.push({ role: step % 2 ? 'assistant' : 'user', content: `step ${step}: ${'lorem ipsum dolor sit amet '.repeat(17)}${step * 7919}`, step });
  }
  return { messages, step: steps };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

describe(`checkpoints on ${runtime}`, () => {
  it('saves and loads JSON and binary states, full then deltas, across a reopen', async () => {
    const path = storePath();
    const db = await open(path);
    expect(await db.checkpoints.load('t')).toBeUndefined();
    const infos = [];
    for (let step = 1; step <= 30; step++) infos.push(await db.checkpoints.save('t', agentState(step), { metadata: { step } }));
    expect(infos[0]!.encoding).toBe('full');
    expect(infos.slice(1).every((info) => info.encoding === 'delta')).toBe(true);
    expect(infos.map((info) => info.seq)).toEqual(Array.from({ length: 30 }, (_, index) => index));
    // A delta costs about what changed: far less than the state.
    const last = infos[29]!;
    expect(last.storedBytes).toBeLessThan(last.rawBytes / 20);
    const ids = infos.map((info) => info.id);
    expect([...ids].sort()).toEqual(ids);
    const binary = new Uint8Array(5000).map((_, index) => (index * 31) & 255);
    await db.checkpoints.save('b', binary);
    binary[0] = 99; // the saved copy is the store's own
    const loaded = await db.checkpoints.load('t');
    expect(loaded!.state).toEqual(agentState(30));
    expect(loaded!.info).toMatchObject({ id: last.id, seq: 29, encoding: 'delta', metadata: { step: 30 } });
    await db.close();

    const reopened = await open(path);
    expect(reopened.checkpoints.threadIds().sort()).toEqual(['b', 't']);
    expect((await reopened.checkpoints.load('t'))!.state).toEqual(agentState(30));
    const middle = await reopened.checkpoints.load('t', { id: ids[11] });
    expect(middle!.state).toEqual(agentState(12));
    expect(middle!.info.seq).toBe(11);
    const bytes = (await reopened.checkpoints.load('b'))!.state as Uint8Array;
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes[0]).toBe(0);
    expect(bytes.length).toBe(5000);
    // Saving after a reopen continues the chain (decodes the head once).
    const next = await reopened.checkpoints.save('t', agentState(31));
    expect(next).toMatchObject({ seq: 30, encoding: 'delta' });
    expect((await reopened.checkpoints.load('t', { id: 'nope' }))).toBeUndefined();
    await reopened.close();
  });

  it('bounds the delta chain with a full checkpoint every CHAIN_LENGTH_MAX saves', async () => {
    const db = await open(storePath(), { durability: 'buffered' });
    const encodings: string[] = [];
    for (let step = 1; step <= 300; step++) encodings.push((await db.checkpoints.save('t', agentState(step % 50 + 1))).encoding);
    const fulls = encodings.flatMap((encoding, index) => (encoding === 'full' ? [index] : []));
    expect(fulls[0]).toBe(0);
    for (let index = 1; index < fulls.length; index++) expect(fulls[index]! - fulls[index - 1]!).toBeLessThanOrEqual(129);
    let run = 0;
    for (const encoding of encodings) {
      run = encoding === 'full' ? 0 : run + 1;
      expect(run).toBeLessThanOrEqual(128);
    }
    expect(fulls.length).toBeGreaterThanOrEqual(3);
    // Every checkpoint still loads (the longest chains included).
    const infos = await db.checkpoints.list('t', { limit: 300 });
    for (const index of [0, 127, 128, 129, 255, 299]) {
      const info = infos[299 - index]!;
      expect((await db.checkpoints.load('t', { id: info.id }))!.state).toEqual(agentState((index + 1) % 50 + 1));
    }
    await db.close();
  });

  it('writes a full checkpoint when a delta stops paying (the state changed completely)', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    await db.checkpoints.save('t', { text: 'a'.repeat(2000) });
    const random = Array.from({ length: 3000 }, (_, index) => ((index * 2654435761) >>> 0).toString(36)).join('');
    const info = await db.checkpoints.save('t', { text: random });
    expect(info.encoding).toBe('full');
    expect((await db.checkpoints.load('t'))!.state).toEqual({ text: random });
    await db.close();
  });

  it('lists newest first with limit, before and a metadata filter; delete removes a thread', async () => {
    const path = storePath();
    const db = await open(path);
    for (let step = 0; step < 25; step++) await db.checkpoints.save('t', { step }, { metadata: { step, kind: step % 3 === 0 ? 'tool' : 'llm', tags: ['a', step % 2] } });
    const all = await db.checkpoints.list('t', { limit: 1000 });
    expect(all.map((info) => info.seq)).toEqual(Array.from({ length: 25 }, (_, index) => 24 - index));
    const page = await db.checkpoints.list('t', { limit: 5 });
    expect(page.map((info) => info.seq)).toEqual([24, 23, 22, 21, 20]);
    const next = await db.checkpoints.list('t', { limit: 5, before: page[4]!.id });
    expect(next.map((info) => info.seq)).toEqual([19, 18, 17, 16, 15]);
    const tools = await db.checkpoints.list('t', { limit: 3, filter: { kind: 'tool' } });
    expect(tools.map((info) => info.seq)).toEqual([24, 21, 18]);
    expect((await db.checkpoints.list('t', { filter: { tags: ['a', 1] } })).length).toBe(12);
    expect(await db.checkpoints.list('t', { limit: 0 })).toEqual([]);
    expect(await db.checkpoints.list('none')).toEqual([]);
    expect(await db.checkpoints.delete('t')).toBe(25);
    expect(await db.checkpoints.load('t')).toBeUndefined();
    expect(await db.checkpoints.list('t')).toEqual([]);
    const again = await db.checkpoints.save('t', { fresh: true });
    expect(again).toMatchObject({ seq: 0, encoding: 'full' });
    await db.close();
    const reopened = await open(path);
    expect((await reopened.checkpoints.load('t'))!.state).toEqual({ fresh: true });
    expect(reopened.checkpoints.count('t')).toBe(1);
    await reopened.close();
  });

  it('interleaves with events: reads of events skip checkpoint entries', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    for (let step = 0; step < 10; step++) {
      await db.events.append('run', [{ type: 'step', data: { step } }]);
      await db.checkpoints.save('run', agentState(step + 1));
    }
    const events = await db.events.readAll({ maxCount: 4 });
    expect(events.map((event) => (event.data as { step: number }).step)).toEqual([0, 1, 2, 3]);
    const backward = await db.events.readAll({ direction: 'backward', maxCount: 3 });
    expect(backward.map((event) => (event.data as { step: number }).step)).toEqual([9, 8, 7]);
    const replayed = [];
    for await (const event of db.events.replay()) replayed.push(event);
    expect(replayed).toHaveLength(10);
    await db.close();
  });

  it('concurrent saves to one thread are applied in call order; different threads share commits', async () => {
    const db = await open(storePath());
    const saves = [];
    for (let step = 1; step <= 20; step++) {
      saves.push(db.checkpoints.save('a', agentState(step)));
      saves.push(db.checkpoints.save(`other-${step % 4}`, { step }));
    }
    const infos = await Promise.all(saves);
    expect(infos.filter((info) => info.threadId === 'a').map((info) => info.seq)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect((await db.checkpoints.load('a'))!.state).toEqual(agentState(20));
    await db.close();
  });

  it('rejects bad input with typed errors and writes nothing', async () => {
    const path = storePath();
    const db = await open(path, { maxCheckpointBytes: 1000 });
    await db.checkpoints.save('t', { ok: 1 });
    const before = segmentPaths(path).map((file) => readFileSync(file));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const cases: [unknown, unknown, unknown][] = [
      ['', {}, undefined],
      [42, {}, undefined],
      ['x'.repeat(513), {}, undefined],
      ['t', undefined, undefined],
      ['t', () => 1, undefined],
      ['t', 10n, undefined],
      ['t', circular, undefined],
      ['t', 'y'.repeat(2000), undefined],
      ['t', {}, null],
      ['t', {}, { metadata: 'not an object' }],
      ['t', {}, { metadata: [1] }],
    ];
    for (const [thread, state, options] of cases) {
      await expect(db.checkpoints.save(thread as string, state, options as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await expect(db.checkpoints.load('t', { id: 5 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(db.checkpoints.list('t', { limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(db.checkpoints.list('t', { filter: 'x' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(segmentPaths(path).map((file) => readFileSync(file))).toEqual(before);
    await db.close();
    await expect(db.checkpoints.save('t', {})).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(db.checkpoints.load('t')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  it('a damaged delta or base is CorruptionError naming the segment, never wrong data', async () => {
    for (const target of ['base', 'delta'] as const) {
      const path = storePath();
      const db = await open(path);
      for (let step = 1; step <= 6; step++) await db.checkpoints.save('t', agentState(step));
      await db.close();
      // Damage below the frame layer: the store is opened (recovery checked every frame), then
      // the stored bytes change on disk, so only the checkpoint's own checks can catch it.
      const reopened = await open(path);
      const ids = (await reopened.checkpoints.list('t')).map((info) => info.id);
      const [segment] = segmentPaths(path);
      const bytes = readFileSync(segment!);
      bytes[findStoredBytes(bytes, target === 'base' ? 0 : 3)] ^= 0x40;
      writeFileSync(segment!, bytes);
      const error = await reopened.checkpoints.load('t').catch((caught) => caught);
      expect(error).toBeInstanceOf(reeldb.CorruptionError);
      expect(error.file).toBe(segment);
      // The read's entry check finds it (docs/FORMAT.md §10.1) before the checkpoint's own checks would.
      expect(error.message).toMatch(/checkpoint at position|entry checksum mismatch at position/);
      // Checkpoints before the damaged one still load.
      if (target === 'delta') expect((await reopened.checkpoints.load('t', { id: ids[3]! }))!.state).toEqual(agentState(3));
      await reopened.close();
    }
  });
  it('checkpoints.storage(): a key → bytes store (save/load/delete/list) with deltas per key', async () => {
    const path = storePath();
    const db = await open(path);
    const storage = db.checkpoints.storage({ prefix: 'files/' });
    const other = db.checkpoints.storage({ prefix: 'other/' });
    expect(await storage.load('a')).toBeUndefined();
    const bytes = (step: number) => new TextEncoder().encode(JSON.stringify(agentState(step)));
    for (let step = 1; step <= 10; step++) await storage.save('a', bytes(step));
    await storage.save('b', new Uint8Array([1, 2, 3]));
    await other.save('a', new Uint8Array([9]));
    expect(await storage.list()).toEqual(['a', 'b']);
    expect(await other.list()).toEqual(['a']);
    expect(sameBytes((await storage.load('a'))!, bytes(10))).toBe(true);
    // Re-saving a key stored deltas, not whole states.
    const [summary] = await db.checkpoints.summary(['files/a']);
    expect(summary).toMatchObject({ threadId: 'files/a', checkpoints: 10, full: 1, delta: 9 });
    expect(summary!.storedBytes).toBeLessThan(summary!.rawBytes / 5);
    expect(await storage.delete('b')).toBe(true);
    expect(await storage.delete('b')).toBe(false);
    await expect(storage.save('', new Uint8Array(1))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(storage.save('c', 'text' as unknown as Uint8Array)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => db.checkpoints.storage({ prefix: 3 as unknown as string })).toThrow(/prefix must be a string/);
    await db.close();
    const reopened = await open(path);
    const again = reopened.checkpoints.storage({ prefix: 'files/' });
    expect(await again.list()).toEqual(['a']);
    expect(sameBytes((await again.load('a'))!, bytes(10))).toBe(true);
    await reopened.close();
  });

  it('stats() counts entries and bytes per kind; summary() gives sizes per thread', async () => {
    const db = await open(storePath());
    await db.events.append('s', [{ type: 'x', data: 1 }, { type: 'y', data: 2 }]);
    for (let step = 1; step <= 5; step++) await db.checkpoints.save('t', agentState(step));
    await db.checkpoints.save('gone', { a: 1 });
    await db.checkpoints.delete('gone');
    const stats = db.stats();
    expect(stats.kinds.events.entries).toBe(2);
    expect(stats.kinds.checkpoints.entries).toBe(6);
    expect(stats.kinds.checkpointDeletes.entries).toBe(1);
    expect(stats.kinds.other.entries).toBe(0);
    expect(stats.checkpoints).toBe(5);
    expect(stats.threads).toBe(1);
    const summaries = await db.checkpoints.summary();
    expect(summaries).toHaveLength(1);
    const infos = await db.checkpoints.list('t');
    expect(summaries[0]).toMatchObject({
      threadId: 't',
      checkpoints: 5,
      full: 1,
      delta: 4,
      rawBytes: infos.reduce((sum, info) => sum + info.rawBytes, 0),
      storedBytes: infos.reduce((sum, info) => sum + info.storedBytes, 0),
      newest: { seq: 4 },
    });
    expect(await db.checkpoints.summary(['nothing'])).toEqual([]);
    await db.close();
  });
});

/** Offset of a byte inside the stored data of the `seq`-th checkpoint entry of thread 't' in a segment. */
function findStoredBytes(segment: Uint8Array, seq: number): number {
  // Checkpoint entries carry the thread 't' right after their 32-byte header; the seq is the u64 at header offset 8.
  let found = -1;
  for (let at = 0; at + 40 < segment.length; at++) {
    if (segment[at + 24] === 1 && segment[at + 25] === 0 && segment[at + 26] === 24 && segment[at + 27] === 0 && segment[at + 32] === 0x74 && segment[at + 8] === seq && segment[at + 9] === 0) {
      const length = segment[at + 16]! | (segment[at + 17]! << 8) | (segment[at + 18]! << 16);
      const idLength = segment[at + 28]!;
      const metadataLength = segment[at + 20]! | (segment[at + 21]! << 8);
      found = at + 32 + 1 + 24 + idLength + metadataLength + Math.floor(length / 2);
      break;
    }
  }
  if (found < 0) throw new Error(`checkpoint ${seq} not found in the segment`);
  return found;
}
