/**
 * The worked extension (examples/counter-primitive): a primitive outside js/src survives
 * reopen, snapshots, prune and compaction, and its entries are kept intact by a store opened
 * without it (unknown kinds), with no engine file knowing it.
 */
import { describe, expect, it } from 'vitest';
import { quiet, reeldb, runtime, storePath } from './helpers.js';
// @ts-expect-error the example is plain JavaScript
import { counterPrimitive } from '../examples/counter-primitive/counter.mjs';

type Counters = { add(name: string, amount?: number): Promise<{ total: number; position: number }>; reset(name: string): Promise<number>; get(name: string): number; all(): Record<string, number> };
const counters = (db: unknown) => (db as { counters: Counters }).counters;

async function record(path: string, options: object = {}) {
  const db = await reeldb.open(path, { primitives: [counterPrimitive], ...options });
  await db.events.append('run', [{ type: 'start', data: {} }]);
  for (let step = 0; step < 50; step++) await counters(db).add(step % 2 ? 'tool_calls' : 'model_calls', step % 5);
  await counters(db).reset('model_calls');
  await counters(db).add('model_calls', 7);
  return db;
}

describe('the counter extension (examples/counter-primitive)', () => {
  it('adds up, and survives reopen by full scan and by snapshot', async () => {
    const path = storePath();
    const db = await record(path);
    const expected = counters(db).all();
    expect(expected).toEqual({ tool_calls: 50, model_calls: 7 });
    const print = await db.fingerprint();
    await db.snapshot();
    await counters(db).add('tool_calls', 1);
    const after = await db.fingerprint();
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      const again = await reeldb.open(path, { primitives: [counterPrimitive], ignoreSnapshots });
      expect(await again.fingerprint()).toEqual(after);
      expect(counters(again).get('tool_calls')).toBe(51);
      await again.close();
    }
    expect(print.counters).toEqual({ model_calls: 7, tool_calls: 50 });
  });

  it('a prune erases every entry but each counter’s newest, and the totals stay', async () => {
    const path = storePath();
    const db = await record(path, { segmentBytes: 4096 });
    const before = db.stats();
    const result = await db.compact();
    expect(result.primitives.counters!.erased).toBeGreaterThan(40);
    expect(db.stats().bytes).toBeLessThan(before.bytes);
    expect(counters(db).all()).toEqual({ tool_calls: 50, model_calls: 7 });
    await db.close();
    const again = await reeldb.open(path, { primitives: [counterPrimitive] });
    expect(counters(again).all()).toEqual({ tool_calls: 50, model_calls: 7 });
    expect((await again.events.readStream('run')).length).toBe(1);
    await again.close();
  });

  it('a store opened without it keeps its entries intact (warned once, listed), through compaction', async () => {
    const path = storePath();
    const db = await record(path, { segmentBytes: 4096 });
    await db.close();
    const log = quiet();
    const without = await reeldb.open(path, { ...log, snapshotBytes: 0 });
    expect(log.warnings.filter((warning) => warning.includes('no loaded primitive claims'))).toHaveLength(1);
    expect(log.warnings.join()).toMatch(/0xc0 \(\d+ entries/);
    const unknown = without.stats().unknownKinds;
    expect(unknown[0xc0]!.entries).toBe(51);
    expect(unknown[0xc1]!.entries).toBe(1);
    // Events can be pruned and segments compacted around them: the unknown entries stay.
    await without.events.deleteStream('run');
    await without.compact();
    expect(without.stats().unknownKinds[0xc0]!.entries).toBe(51);
    // Registered on the open store: its entries are recovered from the log.
    await without.registerPrimitive(counterPrimitive);
    expect(counters(without).all()).toEqual({ tool_calls: 50, model_calls: 7 });
    expect(without.stats().unknownKinds).toEqual({});
    await without.close();
    const again = await reeldb.open(path, { primitives: [counterPrimitive] });
    expect(counters(again).all()).toEqual({ tool_calls: 50, model_calls: 7 });
    await again.close();
  });

  it('a snapshot written without it is not used by a store that has it (the log is scanned)', async () => {
    const path = storePath();
    const db = await record(path);
    await db.close();
    const without = await reeldb.open(path, quiet());
    await without.events.append('run', [{ type: 'more', data: {} }]);
    await without.snapshot();
    await without.close();
    const log = quiet();
    const again = await reeldb.open(path, { primitives: [counterPrimitive], ...log });
    expect(log.warnings.join()).toMatch(/no section for primitive 'counters'/);
    expect(counters(again).all()).toEqual({ tool_calls: 50, model_calls: 7 });
    await again.close();
  });

  it('refuses specs that overlap, are malformed, or leave the extension range', async () => {
    const path = storePath();
    const bad = [
      { ...counterPrimitive, kinds: [0x30, 0x31] },
      { ...counterPrimitive, name: 'Bad Name' },
      { ...counterPrimitive, section: 2 },
      { ...counterPrimitive, name: 'close' },
      { ...counterPrimitive, namedKinds: [0xd0] },
    ];
    for (const spec of bad) await expect(reeldb.open(path, { durability: 'memory', primitives: [spec] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(reeldb.open(path, { durability: 'memory', primitives: [counterPrimitive, { ...counterPrimitive, name: 'other' }] })).rejects.toThrow(/claims kind 0xc0, which 'counters' owns/);
    const db = await reeldb.open(path, { durability: 'memory', primitives: [counterPrimitive] });
    await expect(db.registerPrimitive(counterPrimitive)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(counters(db).add('x', 1.5)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(db.stats().entries).toBe(0);
    await db.close();
  });
});

describe('reeldb verify on a store with an extension’s entries', () => {
  it.runIf(runtime === 'node')('lists the kinds no loaded primitive claims and still passes', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('..', import.meta.url));
    const path = storePath();
    const db = await record(path);
    await db.close();
    const result = spawnSync(process.execPath, [`${root}/js/bin/reeldb.mjs`, 'verify', path], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/note: 51 entries of kind 0xc0 \(from position 1\) that no loaded primitive claims: kept intact/);
    expect(result.stdout).toMatch(/note: 1 entry of kind 0xc1/);
    expect(result.stdout).toMatch(/^ok: /m);
  });
});
