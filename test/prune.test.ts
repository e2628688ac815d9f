/**
 * Pruning: what each policy removes and keeps, disk given back, positions and versions of what
 * stays unchanged, delta chains of kept checkpoints intact, the same state after reopening
 * (with or without snapshots), bad options rejected with nothing changed, and a crash at every
 * I/O operation of a prune leaving a state that a second prune completes.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultyFileHost, SimulatedCrash } from '../js/src/host/faulty.js';
import { quiet, reeldb, runtime, storePath } from './helpers.js';
import type { FileHost } from '../js/src/host/types.js';

const { open } = reeldb;

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
type Db = Awaited<ReturnType<typeof open>>;

function logBytes(path: string): number {
  return readdirSync(join(path, 'log')).reduce((sum, name) => sum + statSync(join(path, 'log', name)).size, 0);
}

/** A growing agent state (one message per step). */
function state(step: number) {
  return { step, messages: Array.from({ length: step }, (_, index) => `message ${index}: ${'words and more words '.repeat(8)}`) };
}

async function fill(db: Db, events: number, saves: number) {
  for (let index = 0; index < events; index++) {
    await db.events.append(`stream-${index % 3}`, [{ type: 'step', data: { index, text: 'x'.repeat(300) } }]);
    if (index < saves) await db.checkpoints.save('thread', state(index + 1), { metadata: { step: index + 1 } });
  }
}

/** What the API shows: events (position, stream, version), stream versions, checkpoints. */
async function observe(db: Db) {
  const streams = db.events.streamNames().sort();
  return {
    events: (await db.events.readAll({ maxCount: 1e6 })).map((event) => [event.position, event.stream, event.streamVersion]),
    versions: streams.map((stream) => [stream, db.events.streamVersion(stream)]),
    checkpoints: await Promise.all(db.checkpoints.threadIds().sort().map(async (thread) => [thread, (await db.checkpoints.list(thread, { limit: 1e6 })).map((info) => [info.seq, info.position])])),
  };
}

describe(`prune on ${runtime}`, () => {
  it('events.beforePosition removes older events only, gives disk back, keeps positions and versions', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 16 * 1024, snapshotBytes: 0 });
    await fill(db, 300, 0);
    const before = await db.events.readAll({ maxCount: 1e6 });
    const bytesBefore = logBytes(path);
    const result = await db.prune({ events: { beforePosition: 200 } });
    expect(result).toMatchObject({ events: 200, checkpoints: 0, deletedThreadCheckpoints: 0 });
    expect(result.segmentsRewritten).toBeGreaterThan(3);
    expect(result.bytesAfter).toBe(logBytes(path));
    expect(logBytes(path)).toBeLessThan(bytesBefore * 0.45);
    const after = await db.events.readAll({ maxCount: 1e6 });
    expect(after).toEqual(before.slice(200));
    // Versions do not move; reads of a stream start at its oldest event kept.
    expect(db.events.streamVersion('stream-0')).toBe(99);
    const stream = await db.events.readStream('stream-0');
    expect(stream[0]!.streamVersion).toBe(67);
    expect(stream[0]!.position).toBe(201);
    expect((await db.events.readStream('stream-0', { fromVersion: 3, maxCount: 2 })).map((event) => event.streamVersion)).toEqual([67, 68]);
    expect((await db.events.readStream('stream-0', { direction: 'backward', fromVersion: 10 }))).toEqual([]);
    await db.events.append('stream-0', [{ type: 'step', data: 'next' }], { expectedVersion: 99 });
    expect(db.stats().kinds.pruned.entries).toBe(200);
    const seen = await observe(db);
    await db.close();
    // The same after reopening, from a snapshot or a full scan.
    for (const ignoreSnapshots of [false, true]) {
      const again = await open(path, { readOnly: true, ignoreSnapshots });
      expect(await observe(again)).toEqual(seen);
      await again.close();
    }
  });

  it('streams maxCount keeps the newest events of the streams named, others untouched', async () => {
    const db = await open(storePath(), { segmentBytes: 8 * 1024, snapshotBytes: 0 });
    await fill(db, 90, 0);
    const result = await db.prune({ streams: { 'stream-1': { maxCount: 5 }, 'stream-2': { maxCount: 100 } } });
    expect(result.events).toBe(25);
    expect((await db.events.readStream('stream-1')).map((event) => event.streamVersion)).toEqual([25, 26, 27, 28, 29]);
    expect((await db.events.readStream('stream-2')).length).toBe(30);
    expect((await db.events.readStream('stream-0')).length).toBe(30);
    await db.close();
  });

  it('checkpoints keepLast keeps exactly the newest N (hardening B17: the oldest kept is re-based as a full checkpoint); every kept one loads', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 64 * 1024, snapshotBytes: 0 });
    await fill(db, 200, 200);
    const infos = (await db.checkpoints.list('thread', { limit: 1000 })).reverse();
    expect(infos[190]!.encoding).toBe('delta');
    const result = await db.prune({ checkpoints: { keepLast: 10 } });
    const kept = (await db.checkpoints.list('thread', { limit: 1000 })).reverse();
    expect(result).toMatchObject({ checkpoints: 190, rebased: 1 });
    // Exactly the newest ten, with their ids, seqs, positions and times; the oldest is now full.
    expect(kept.map(({ id, seq, position, timestamp, metadata }) => ({ id, seq, position, timestamp, metadata }))).toEqual(infos.slice(190).map(({ id, seq, position, timestamp, metadata }) => ({ id, seq, position, timestamp, metadata })));
    expect(kept[0]!.encoding).toBe('full');
    for (const info of kept) expect((await db.checkpoints.load('thread', { id: info.id }))!.state).toEqual(state(info.seq + 1));
    expect(await db.checkpoints.load('thread', { id: infos[0]!.id })).toBeUndefined();
    // Saving goes on with the next seq.
    expect((await db.checkpoints.save('thread', state(201))).seq).toBe(200);
    const seen = await observe(db);
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      const again = await open(path, { ignoreSnapshots });
      expect(await observe(again)).toEqual(seen);
      expect((await again.checkpoints.load('thread'))!.state).toEqual(state(201));
      for (const info of kept) expect((await again.checkpoints.load('thread', { id: info.id }))!.state).toEqual(state(info.seq + 1));
      await again.close();
    }
  });

  it('hardening B17: keepLast and maxAgeMs keep exactly what they say (not whole delta chains), and the dry run reports exactly what the prune then reclaims', { timeout: 120_000 }, async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 32 * 1024, snapshotBytes: 0 });
    for (let step = 1; step <= 300; step++) await db.checkpoints.save('long', state(step % 60), { metadata: { step } });
    for (let step = 1; step <= 30; step++) await db.checkpoints.save('short', state(step));
    for (let step = 1; step <= 40; step++) await db.events.append('log', [{ type: 'step', data: { step, text: 'z'.repeat(200) } }]);
    const saved = async (thread: string) => (await db.checkpoints.list(thread, { limit: 1000 })).reverse();
    const longBefore = await saved('long');
    const shortBefore = await saved('short');
    // Same figures from the dry run and the prune; the log is then as big as the prune says.
    const exact = async (policy: Parameters<Db['prune']>[0]) => {
      const dry = await db.prune({ ...policy, dryRun: true });
      const done = await db.prune(policy);
      // Every figure, segmentsRewritten included (the dry run once reported 0 there).
      const { dryRun: _a, ...dryFigures } = dry as typeof dry & { dryRun?: boolean };
      const { dryRun: _b, ...doneFigures } = done as typeof done & { dryRun?: boolean };
      expect(doneFigures, JSON.stringify(policy)).toEqual(dryFigures);
      expect(done.bytesAfter).toBe(logBytes(path));
      return done;
    };
    const first = await exact({ checkpoints: { keepLast: 20 }, events: { beforePosition: 340 } });
    expect(first).toMatchObject({ checkpoints: 280 + 10, events: 10, rebased: 2 });
    expect((await saved('long')).map((info) => info.id)).toEqual(longBefore.slice(-20).map((info) => info.id));
    expect((await saved('short')).map((info) => info.id)).toEqual(shortBefore.slice(-20).map((info) => info.id));
    await exact({ checkpoints: { keepLast: 3 } });
    expect((await saved('long')).map((info) => info.seq)).toEqual([297, 298, 299]);
    expect((await saved('short')).map((info) => info.seq)).toEqual([27, 28, 29]);
    // maxAgeMs 0: everything older than now goes, except each thread's newest.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await exact({ checkpoints: { maxAgeMs: 0 } });
    expect((await saved('long')).map((info) => info.seq)).toEqual([299]);
    expect((await saved('short')).map((info) => info.seq)).toEqual([29]);
    for (const [thread, info] of [['long', longBefore.at(-1)!], ['short', shortBefore.at(-1)!]] as const) {
      expect((await db.checkpoints.load(thread))!.info.id).toBe(info.id);
    }
    expect((await db.checkpoints.load('long'))!.state).toEqual(state(300 % 60));
    expect((await db.checkpoints.load('short'))!.state).toEqual(state(30));
    const seen = await observe(db);
    await db.close();
    const again = await open(path, { ignoreSnapshots: true });
    expect(await observe(again)).toEqual(seen);
    expect((await again.checkpoints.load('long'))!.state).toEqual(state(300 % 60));
    expect((await again.checkpoints.verify()).problems).toEqual([]);
    await again.close();
  });

  it('checkpoints maxAgeMs removes old ones but always keeps the newest; compact() reclaims deleted threads', async () => {
    const db = await open(storePath(), { segmentBytes: 16 * 1024, snapshotBytes: 0 });
    for (let step = 1; step <= 30; step++) await db.checkpoints.save('a', state(step));
    for (let step = 1; step <= 20; step++) await db.checkpoints.save('gone', state(step));
    await db.checkpoints.delete('gone');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const recent = await db.prune({ checkpoints: { maxAgeMs: 60_000 } });
    expect(recent).toMatchObject({ checkpoints: 0, deletedThreadCheckpoints: 20 });
    const old = await db.prune({ checkpoints: { maxAgeMs: 1 } });
    const kept = await db.checkpoints.list('a');
    expect(kept[0]!.seq).toBe(29);
    expect(kept).toHaveLength(1); // hardening B17: a 30-save thread keeps only its newest, whatever its chain
    expect(old.checkpoints).toBe(30 - kept.length);
    expect((await db.checkpoints.load('a'))!.state).toEqual(state(30));
    // Nothing more to do: no rewrite.
    expect(await db.compact()).toMatchObject({ events: 0, checkpoints: 0, deletedThreadCheckpoints: 0, segmentsRewritten: 0, bytesReclaimed: 0 });
    await db.close();
  });

  it('seals the current segment when it holds entries to remove', async () => {
    const db = await open(storePath(), { snapshotBytes: 0 });
    await fill(db, 20, 0);
    expect(db.stats().segments.length).toBe(1);
    const result = await db.prune({ events: { beforePosition: 10 } });
    expect(result).toMatchObject({ events: 10, segmentsRewritten: 1 });
    expect(db.stats().segments.length).toBe(2);
    expect((await db.events.readAll()).map((event) => event.position)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    await db.events.append('stream-0', [{ type: 'step', data: 1 }]);
    await db.close();
  });

  it('regression (model test): a snapshot covering the start of a segment compacted later did not carry the chain past it, and the next open truncated the log after it as a torn tail', async () => {
    const host = new reeldb.MemoryFileHost();
    const log = quiet();
    const options = { host, durability: 'strict' as const, segmentBytes: 2048, snapshotBytes: 1024, onWarning: log.onWarning };
    let db = await open('/regression.reel', options);
    await db.snapshot(); // covers segment 0 up to its header only
    for (const count of [1, 3, 4, 2]) await db.events.append('a', Array.from({ length: count }, (_, index) => ({ type: 'm', data: { index, text: 'x'.repeat(40) } })));
    // The prune keeps only its own snapshot: keep a copy of the first one to put back.
    const first = '/regression.reel/snapshot-00000000000000000000.snap';
    const handle = await host.open(first, {});
    const copy = new Uint8Array(await handle.size());
    await handle.read(copy, 0);
    await handle.close();
    await db.prune({ events: { beforePosition: 10 } }); // seals segment 0 and compacts it (stream a keeps its newest)
    await Promise.all([db.events.append('a', [{ type: 'm', data: 1 }]), db.events.append('a', [{ type: 'm', data: 2 }])]);
    await db.close();
    // As if the prune's own snapshot were lost: only the first one is left.
    for (const name of await host.list('/regression.reel')) if (name.endsWith('.snap')) await host.remove(`/regression.reel/${name}`);
    const restored = await host.open(first, { create: true });
    await restored.write(copy, 0);
    await restored.close();
    db = await open('/regression.reel', options);
    expect(db.stats().recovery.snapshot?.position).toBe(0);
    expect(log.warnings).toEqual([]);
    // Position 10 is the prune's cut record (docs/FORMAT.md §8.3).
    expect((await db.events.readAll()).map((event) => [event.position, event.streamVersion])).toEqual([
      [9, 9],
      [11, 10],
      [12, 11],
    ]);
    await db.close();
  });

  /** A memory host whose reads can call `onRead` after they complete, and whose compaction files can fail. */
  function hookedHost() {
    const base = new reeldb.MemoryFileHost();
    const hooks: { onRead?: () => Promise<void>; failCompaction?: boolean } = {};
    const host = new Proxy(base, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key === 'open') {
          return async (path: string, options?: object) => {
            if (hooks.failCompaction && path.endsWith('.compact.tmp')) throw Object.assign(new Error('no space left (simulated)'), { code: 'ENOSPC' });
            const handle = await target.open(path, options);
            return new Proxy(handle, {
              get(file, name) {
                const member = Reflect.get(file, name, file);
                if (name !== 'read') return typeof member === 'function' ? member.bind(file) : member;
                return async (...args: unknown[]) => {
                  const read = await (member as (...a: unknown[]) => Promise<number>).apply(file, args);
                  const hook = hooks.onRead;
                  if (hook) await hook();
                  return read;
                };
              },
            });
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { host, hooks };
  }

  it('regression (review): every stream keeps its newest event, so versions go on even when the rewrite failed', async () => {
    const { host, hooks } = hookedHost();
    const options = { host, durability: 'strict' as const, snapshotBytes: 0, onWarning: () => {} };
    let db = await open('/keep-newest.reel', options);
    for (let index = 0; index < 3; index++) await db.events.append('a', [{ type: 't', data: index }]);
    await db.events.append('other', [{ type: 't', data: 1 }]);
    hooks.failCompaction = true;
    await expect(db.prune({ events: { beforePosition: 100 } })).rejects.toMatchObject({ code: 'ENOSPC' });
    // Stream a kept version 2 (its newest), so the next append is version 3, not a restart at 0.
    expect(db.events.streamVersion('a')).toBe(2);
    expect((await db.events.append('a', [{ type: 't', data: 'new' }], { expectedVersion: 2 }))[0]!.streamVersion).toBe(3);
    await db.close();
    hooks.failCompaction = false;
    db = await open('/keep-newest.reel', options);
    expect(db.events.streamVersion('a')).toBe(3);
    // The failed prune's cut was durable (versions 0 and 1 were gone already): this one cuts version 2 and erases the three.
    expect(await db.prune({ events: { beforePosition: 100 } })).toMatchObject({ events: 1, erasedEvents: 2 });
    expect((await db.events.readStream('a')).map((event) => event.streamVersion)).toEqual([3]);
    await db.close();
  });

  it('regression (review): a delete and a save of a thread while a prune planned lost the save, and the store then failed to open', async () => {
    const { host, hooks } = hookedHost();
    const options = { host, durability: 'strict' as const, snapshotBytes: 0, onWarning: () => {} };
    let db = await open('/delete-save.reel', options);
    for (let index = 0; index < 3; index++) {
      await db.checkpoints.save('T', new Uint8Array(2000).fill(index));
      await db.checkpoints.save('U', new Uint8Array(2000).fill(10 + index));
    }
    let reads = 0;
    let deleted: Promise<number> | undefined;
    let saved: Promise<{ seq: number }> | undefined;
    hooks.onRead = async () => {
      if (++reads !== 1) return; // the prune is planning T (reading its oldest kept checkpoint)
      deleted = db.checkpoints.delete('T');
      saved = db.checkpoints.save('T', { fresh: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await db.prune({ checkpoints: { keepLast: 1 } });
    hooks.onRead = undefined;
    expect(await deleted).toBe(3);
    expect((await saved)!.seq).toBe(0);
    expect(db.checkpoints.count('T')).toBe(1);
    expect((await db.checkpoints.load('T'))!.state).toEqual({ fresh: 1 });
    await db.close();
    db = await open('/delete-save.reel', { ...options, ignoreSnapshots: true });
    expect((await db.checkpoints.load('T'))!.state).toEqual({ fresh: 1 });
    expect((await db.checkpoints.save('T', { fresh: 2 })).seq).toBe(1);
    await db.close();
  });

  it('regression (review): loads during a prune read positions the prune had replaced (TypeError)', async () => {
    const { host, hooks } = hookedHost();
    const db = await open('/load-during-prune.reel', { host, durability: 'strict', snapshotBytes: 0, onWarning: () => {} });
    // Random bytes: no delta pays, so every checkpoint is full and a prune removes exactly the old ones.
    const states = Array.from({ length: 6 }, () => crypto.getRandomValues(new Uint8Array(2000)));
    for (const state of states) await db.checkpoints.save('T', state);
    const ids = (await db.checkpoints.list('T')).map((info) => info.id).reverse();
    hooks.onRead = async () => {
      hooks.onRead = undefined;
      await db.prune({ checkpoints: { keepLast: 3 } });
    };
    const middle = await db.checkpoints.load('T', { id: ids[4] });
    expect(middle?.info.id).toBe(ids[4]);
    expect(middle!.state).toEqual(states[4]);
    hooks.onRead = async () => {
      hooks.onRead = undefined;
      await db.prune({ checkpoints: { keepLast: 1 } });
    };
    // Asked for one the prune removes meanwhile: undefined, never a TypeError or wrong data.
    const old = await db.checkpoints.load('T', { id: ids[3] });
    expect(old === undefined || old.state).toEqual(old === undefined ? true : states[3]);
    expect((await db.checkpoints.load('T'))!.state).toEqual(states[5]);
    await db.close();
  });

  it('regression (review): a prune submitted while a segment roll ran created the new segment twice', async () => {
    const path = storePath();
    const log = quiet();
    let db = await open(path, { durability: 'strict', segmentBytes: 1000, snapshotBytes: 0, onWarning: log.onWarning });
    for (let index = 0; index < 2; index++) await db.events.append('a', [{ type: 't', data: { index, pad: 'x'.repeat(200) } }]);
    const append = db.events.append('a', [{ type: 't', data: { index: 2, pad: 'x'.repeat(200) } }]); // reaches segmentBytes: a roll
    const prune = db.prune({ events: { beforePosition: 1 } });
    await append;
    await prune;
    const names = db.stats().segments.map((segment) => segment.name);
    expect(new Set(names).size).toBe(names.length);
    await db.events.append('a', [{ type: 't', data: 'after' }]);
    await db.close();
    db = await open(path, { onWarning: log.onWarning });
    expect(db.stats().recovery.snapshot).toBeDefined();
    expect(db.events.streamVersion('a')).toBe(3);
    expect(log.warnings).toEqual([]);
    await db.close();
  });

  it('rejects bad options with a typed error and changes nothing', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    await fill(db, 10, 3);
    const bytes = logBytes(path);
    for (const options of [
      { events: { beforePosition: -1 } },
      { events: { beforePosition: 1.5 } },
      { checkpoints: { keepLast: 0 } },
      { checkpoints: {} },
      { checkpoints: { maxAgeMs: 'old' } },
      { streams: { s: { maxCount: -2 } } },
      { streams: { s: { maxCount: 0 } } },
      { streams: { s: null } },
      { everything: true },
      'all',
    ]) {
      await expect(db.prune(options as never), JSON.stringify(options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(logBytes(path)).toBe(bytes);
    expect((await db.events.readAll()).length).toBe(10);
    await db.close();
    await expect(db.prune({})).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  it('a crash at every I/O operation of a prune leaves a valid state (each stream and thread lost at most the planned prefix); a second prune completes it', { timeout: 300_000 }, async () => {
    const STORE = '/prune/store.reel';
    const options = { durability: 'strict' as const, segmentBytes: 4096, snapshotBytes: 0, onWarning: () => {} };
    const policy = { events: { beforePosition: 60 }, checkpoints: { keepLast: 3 } };
    async function setup(host: FaultyFileHost) {
      const db = await open(STORE, { host, ...options });
      for (let index = 0; index < 90; index++) {
        await db.events.append(`s${index % 3}`, [{ type: 'step', data: { index, text: 'y'.repeat(120) } }]);
        if (index % 3 === 0) await db.checkpoints.save(`t${index % 2}`, state(index / 3 + 1));
      }
      return db;
    }
    // The expected end state, and how many I/O operations setup and prune take.
    const reference = new FaultyFileHost({ seed: 1 });
    const referenceDb = await setup(reference);
    const setupOperations = reference.operations;
    const full = await observe(referenceDb);
    await referenceDb.prune(policy);
    const pruned = await observe(referenceDb);
    const pruneOperations = reference.operations - setupOperations;
    await referenceDb.close();
    expect(pruneOperations).toBeGreaterThan(20);

    let crashes = 0;
    let partial = 0;
    const seeds = Number(process.env.REELDB_PRUNE_SEEDS ?? 3);
    for (let point = 0; point < pruneOperations * seeds; point++) {
      // Each I/O operation of the prune, with several seeds for what the crash keeps of unsynced data.
      const crashAt = setupOperations + (point % pruneOperations);
      const host = new FaultyFileHost({ seed: point + 1, crashAt });
      const db = await setup(host);
      await db.prune(policy).then(
        () => undefined,
        (error: unknown) => {
          const crash = error instanceof SimulatedCrash || (error as { cause?: unknown }).cause instanceof SimulatedCrash;
          if (!crash && (error as { code?: string }).code !== 'STORE_FAILED') throw error;
        },
      );
      await db.close().catch(() => undefined);
      expect(host.crashed).toBe(true);
      crashes++;
      const recovered = await open(STORE, { host: host.afterCrash(), ...options });
      const seen = await observe(recovered);
      // Every event kept by the prune is there; those removed may be there, as a prefix per stream.
      const present = new Set(seen.events.map((event) => event[0]));
      for (const event of pruned.events) expect(present.has(event[0]), `crash at ${crashAt}: event ${event[0]} lost`).toBe(true);
      for (const event of seen.events) expect(full.events.some((original) => original[0] === event[0] && original[2] === event[2])).toBe(true);
      const byStream = new Map<unknown, number[]>();
      for (const event of seen.events) byStream.set(event[1], [...(byStream.get(event[1]) ?? []), event[2] as number]);
      for (const [, versions] of byStream) expect(versions).toEqual(Array.from({ length: versions.length }, (_, index) => versions[0]! + index));
      // Every checkpoint there loads to the state that was saved.
      for (const thread of recovered.checkpoints.threadIds()) {
        for (const info of await recovered.checkpoints.list(thread, { limit: 1000 })) {
          const loaded = await recovered.checkpoints.load(thread, { id: info.id });
          expect(loaded!.state, `crash at ${crashAt}: ${thread} seq ${info.seq}`).toEqual(state(((info.seq * 2 + (thread === 't1' ? 1 : 0)) * 3) / 3 + 1));
        }
      }
      if (JSON.stringify(seen) !== JSON.stringify(pruned)) partial++;
      // Pruning again reaches the planned state.
      await recovered.prune(policy);
      expect(await observe(recovered)).toEqual(pruned);
      await recovered.close();
    }
    console.log(`prune crash sweep (${runtime}): ${crashes} crashes at each of the ${pruneOperations} I/O operations of a prune (${seeds} seeds), ${partial} left the store unpruned or partly pruned, every state valid and completed by a second prune`);
  });

  /** A store with long delta chains over 20+ segments: two threads, events between the saves. */
  async function longChains(host: FileHost, path: string) {
    const db = await open(path, { host, durability: 'strict', segmentBytes: 1024, snapshotBytes: 0, onWarning: () => {} });
    for (let step = 1; step <= 120; step++) {
      await db.checkpoints.save(`t${step % 2}`, longState(step));
      if (step % 4 === 0) await db.events.append(`s${step % 3}`, [{ type: 'step', data: { step } }]);
    }
    return db;
  }
  /** A state that grows by one short item per step (each save a small delta). */
  function longState(step: number) {
    // Every 40 steps every item changes: a delta does not pay, a full checkpoint starts a new chain (of up to 20 deltas per thread).
    return { step, items: Array.from({ length: step }, (_, index) => `generation ${Math.floor(step / 40)} item ${index}`) };
  }
  const longPolicy = { checkpoints: { keepLast: 7 }, events: { beforePosition: 150 } };

  /** Every checkpoint `list()` shows loads to what was saved; verify() agrees; returns [thread, seqs]. */
  async function checkChains(db: Db, where: string) {
    const seen: [string, number[]][] = [];
    for (const thread of db.checkpoints.threadIds().sort()) {
      const infos = await db.checkpoints.list(thread, { limit: 1000 });
      for (const info of infos) {
        const loaded = await db.checkpoints.load(thread, { id: info.id });
        expect(loaded?.state, `${where}: ${thread} seq ${info.seq}`).toEqual(longState(info.seq * 2 + (thread === 't1' ? 1 : 2)));
      }
      seen.push([thread, infos.map((info) => info.seq).reverse()]);
    }
    expect((await db.checkpoints.verify()).problems, where).toEqual([]);
    return seen;
  }

  async function files(host: FileHost, directory: string): Promise<Map<string, Uint8Array>> {
    const found = new Map<string, Uint8Array>();
    for (const name of await host.list(directory)) {
      const path = `${directory}/${name}`;
      if (name === 'log') {
        for (const [inner, bytes] of await files(host, path)) found.set(inner, bytes);
        continue;
      }
      const handle = await host.open(path, { readOnly: true });
      const bytes = new Uint8Array(await handle.size());
      await handle.read(bytes, 0);
      await handle.close();
      found.set(path, bytes);
    }
    return found;
  }

  it('hardening A2: a store made of the first k rewritten segments of a 20+-segment prune and the rest from before it lists only checkpoints that load, for every k', { timeout: 120_000 }, async () => {
    const STORE = '/chains/store.reel';
    const base = new reeldb.MemoryFileHost();
    const captures: Map<string, Uint8Array>[] = [];
    let db: Db | undefined;
    let counted = -1;
    // Before each segment rewrite starts (the previous one published): a copy of every file, once the prune has cut in memory.
    const host = new Proxy(base, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key !== 'open') return typeof value === 'function' ? value.bind(target) : value;
        return async (path: string, options?: object) => {
          if (path.endsWith('.compact.tmp') && db && db.checkpoints.count('t0') < counted) captures.push(await files(target, STORE));
          return target.open(path, options);
        };
      },
    });
    db = await longChains(host, STORE);
    counted = db.checkpoints.count('t0');
    const before = await checkChains(db, 'before');
    expect(before[0]![1].length).toBe(60);
    const result = await db.prune(longPolicy);
    expect(result.segmentsRewritten).toBeGreaterThanOrEqual(20);
    const pruned = await checkChains(db, 'after');
    expect(pruned).toEqual([['t0', [53, 54, 55, 56, 57, 58, 59]], ['t1', [53, 54, 55, 56, 57, 58, 59]]]);
    await db.close();
    const after = await files(base, STORE);
    const start = captures[0]!;
    const rewritten = [...start.keys()].filter((path) => path.endsWith('.seg') && after.has(path) && !equalBytes(start.get(path)!, after.get(path)!)).sort();
    expect(rewritten.length).toBeGreaterThanOrEqual(20);
    for (let k = 0; k <= rewritten.length; k++) {
      const mixed = new reeldb.MemoryFileHost();
      await mixed.mkdir(STORE);
      await mixed.mkdir(`${STORE}/log`);
      for (const [path, bytes] of start) {
        const from = rewritten.indexOf(path) >= 0 && rewritten.indexOf(path) < k ? after.get(path)! : bytes;
        const handle = await mixed.open(path, { create: true });
        await handle.write(from, 0);
        await handle.close();
      }
      const recovered = await open(STORE, { host: mixed, onWarning: () => {} });
      // The cut is durable before any segment is rewritten: exactly the kept checkpoints, each loading.
      expect(await checkChains(recovered, `k=${k}`)).toEqual(pruned);
      await recovered.prune(longPolicy);
      expect(await checkChains(recovered, `k=${k}, pruned again`)).toEqual(pruned);
      await recovered.close();
    }
  });

  it('hardening A2: a crash at every I/O operation of a 20+-segment prune with long delta chains: every listed checkpoint loads, verify agrees, a second prune completes it', { timeout: 600_000 }, async () => {
    const STORE = '/chains/crash.reel';
    const reference = new FaultyFileHost({ seed: 1 });
    const referenceDb = await longChains(reference, STORE);
    const setupOperations = reference.operations;
    const result = await referenceDb.prune(longPolicy);
    expect(result.segmentsRewritten).toBeGreaterThanOrEqual(20);
    const pruned = await checkChains(referenceDb, 'reference');
    const pruneOperations = reference.operations - setupOperations;
    await referenceDb.close();
    const seeds = Number(process.env.REELDB_PRUNE_SEEDS ?? 1);
    let partial = 0;
    for (let point = 0; point < pruneOperations * seeds; point++) {
      const crashAt = setupOperations + (point % pruneOperations);
      const host = new FaultyFileHost({ seed: point + 1, crashAt });
      const db = await longChains(host, STORE);
      await db.prune(longPolicy).then(
        () => undefined,
        (error: unknown) => {
          const crash = error instanceof SimulatedCrash || (error as { cause?: unknown }).cause instanceof SimulatedCrash;
          if (!crash && (error as { code?: string }).code !== 'STORE_FAILED') throw error;
        },
      );
      await db.close().catch(() => undefined);
      expect(host.crashed).toBe(true);
      const recovered = await open(STORE, { host: host.afterCrash(), onWarning: () => {} });
      const seen = await checkChains(recovered, `crash at ${crashAt}`);
      if (JSON.stringify(seen) !== JSON.stringify(pruned)) partial++;
      await recovered.prune(longPolicy);
      expect(await checkChains(recovered, `crash at ${crashAt}, pruned again`)).toEqual(pruned);
      await recovered.close();
    }
    console.log(`prune crash sweep, long chains (${runtime}): ${pruneOperations * seeds} crashes over the ${pruneOperations} I/O operations of a ${result.segmentsRewritten}-segment prune, ${partial} before its cut was durable, every listed checkpoint loaded`);
  });

  for (const durability of ['strict', 'buffered'] as const) {
  it(`hardening A1 (${durability}): a prune that fails at any write, sync or rename leaves memory as a reopen finds the store, and no half-made file`, { timeout: 300_000 }, async () => {
    const STORE = `/failing/${durability}.reel`;
    const policy = { events: { beforePosition: 100 }, checkpoints: { keepLast: 2 } };
    const options = { durability, segmentBytes: 2048, syncIntervalMs: 1, snapshotBytes: 0, onWarning: () => {} };
    async function setup(host: FileHost) {
      const db = await open(STORE, { host, ...options });
      for (let index = 0; index < 60; index++) {
        await db.events.append(`s${index % 3}`, [{ type: 'step', data: { index, text: 'q'.repeat(100) } }]);
        if (index % 2 === 0) await db.checkpoints.save(`t${index % 4}`, longState(index));
      }
      return db;
    }
    const reference = new FaultyFileHost({ seed: 1 });
    const referenceDb = await setup(reference);
    const setupOperations = reference.operations;
    const before = await observe(referenceDb);
    await referenceDb.prune(policy);
    const pruned = await observe(referenceDb);
    const pruneOperations = reference.operations - setupOperations;
    await referenceDb.close();
    /** A host whose `replace` number `failAt` (counted from 0) fails. */
    const failingReplace = (host: FaultyFileHost, failAt: number) => {
      let replaces = 0;
      return new Proxy(host, {
        get(target, key) {
          const value = Reflect.get(target, key, target);
          if (key !== 'replace') return typeof value === 'function' ? value.bind(target) : value;
          return async (from: string, to: string) => {
            if (from.endsWith('.compact.tmp') && replaces++ === failAt) throw Object.assign(new Error('input/output error, rename'), { code: 'EIO' });
            return target.replace(from, to);
          };
        },
      });
    };
    let failed = 0;
    const cases: { plan: object; replaceAt?: number }[] = [];
    for (let at = setupOperations; at < setupOperations + pruneOperations; at++) cases.push({ plan: { failWriteAt: at } }, { plan: { failSyncAt: at } });
    for (let replaceAt = 0; replaceAt < 30; replaceAt++) cases.push({ plan: {}, replaceAt });
    for (const { plan, replaceAt } of cases) {
      const faulty = new FaultyFileHost({ seed: 7, ...plan });
      const host = replaceAt === undefined ? faulty : failingReplace(faulty, replaceAt);
      const db = await setup(host);
      const outcome = await db.prune(policy).then(
        () => 'done',
        (error: unknown) => (error as { code?: string }).code ?? String(error),
      );
      if (outcome === 'done') {
        expect(await observe(db)).toEqual(pruned);
        await db.close();
        continue;
      }
      failed++;
      const where = `${JSON.stringify(plan)} replace ${replaceAt}: ${outcome}`;
      expect(outcome, where).not.toMatch(/^(undefined|Error)/);
      const storeFailed = db.pipeline.failure !== undefined;
      const inMemory = storeFailed ? undefined : await observe(db);
      if (!storeFailed) expect((await faulty.list(`${STORE}/log`)).filter((name) => !name.endsWith('.seg')), where).toEqual([]);
      await db.close().catch(() => undefined);
      const recovered = await open(STORE, { host: faulty.afterCrash({}), ...options });
      const reopened = await observe(recovered);
      if (storeFailed && durability === 'buffered') {
        // A failed sync may lose what was acknowledged but not yet synced (the buffered promise): only check it is valid.
        expect((await recovered.checkpoints.verify()).problems, where).toEqual([]);
        await recovered.close();
        continue;
      }
      // Memory showed what the store holds: nothing half-applied.
      if (inMemory) expect(reopened, where).toEqual(inMemory);
      expect([JSON.stringify(before), JSON.stringify(pruned)], where).toContain(JSON.stringify(reopened));
      await recovered.prune(policy);
      expect(await observe(recovered), where).toEqual(pruned);
      await recovered.close();
    }
    expect(failed).toBeGreaterThan(20);
  });
  }
});
