/**
 * Snapshots: open from the newest snapshot plus the log after it gives exactly the state of a
 * full scan (fast-check property over random histories with reopens), automatic snapshots by
 * size and at close, and damaged or mismatched snapshots skipped with a warning.
 */
import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asIfCrashed, quiet, reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const { open } = reeldb;
type Db = Awaited<ReturnType<typeof open>>;

function snapshots(path: string): string[] {
  return readdirSync(path)
    .filter((name) => name.endsWith('.snap'))
    .sort();
}

/** Everything a store's indexes answer, read through the API. */
async function observe(db: Db) {
  const streams = db.events.streamNames();
  const threads = db.checkpoints.threadIds().sort();
  return {
    head: db.events.headPosition,
    entries: db.stats().entries,
    streams,
    versions: streams.map((stream) => db.events.streamVersion(stream)),
    events: (await db.events.readAll({ maxCount: 100_000 })).map((event) => [event.position, event.stream, event.streamVersion, event.id]),
    threads,
    checkpoints: await Promise.all(threads.map(async (thread) => (await db.checkpoints.list(thread, { limit: 1000 })).map((info) => [info.seq, info.position, info.id]))),
    newest: await Promise.all(threads.map(async (thread) => (await db.checkpoints.load(thread))?.state)),
  };
}

/** The state from the newest snapshot + tail, and from a full scan of the same files. */
async function bothWays(path: string) {
  const log = quiet();
  const fromSnapshot = await open(path, { readOnly: true, onWarning: log.onWarning });
  const viaSnapshot = { recovery: fromSnapshot.stats().recovery, state: await observe(fromSnapshot) };
  await fromSnapshot.close();
  const full = await open(path, { readOnly: true, ignoreSnapshots: true, onWarning: log.onWarning });
  const viaScan = await observe(full);
  await full.close();
  return { viaSnapshot, viaScan, warnings: log.warnings };
}

describe(`snapshots on ${runtime}`, () => {
  it('db.snapshot() writes one; the next open reads it and scans only the log after it', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    for (let index = 0; index < 200; index++) await db.events.append(`s${index % 7}`, [{ type: 't', data: { index, text: 'x'.repeat(200) } }]);
    for (let step = 0; step < 20; step++) await db.checkpoints.save(`thread-${step % 3}`, { step, messages: Array.from({ length: step }, (_, at) => `message ${at}`) });
    const info = (await db.snapshot())!;
    expect(info.name).toMatch(/^snapshot-\d{20}\.snap$/);
    expect(info.position).toBe(220);
    expect(snapshots(path)).toEqual([info.name]);
    // Nothing logged since: no new file.
    expect(await db.snapshot()).toEqual(info);
    await db.events.append('after', [{ type: 't', data: 1 }]);
    await db.checkpoints.delete('thread-1');
    await db.close();

    const { viaSnapshot, viaScan, warnings } = await bothWays(path);
    expect(warnings).toEqual([]);
    expect(viaSnapshot.recovery.snapshot).toEqual({ name: info.name, position: 220 });
    expect(viaSnapshot.recovery.entries).toBe(2); // the tail: one event, one thread deletion
    expect(viaSnapshot.state).toEqual(viaScan);
    expect(viaScan.threads).toEqual(['thread-0', 'thread-2']);

    // A writer opened from the snapshot goes on where the log ends.
    const again = await open(path);
    expect(again.stats().recovery.snapshot?.position).toBe(220);
    await again.events.append('after', [{ type: 't', data: 2 }], { expectedVersion: 0 });
    await again.checkpoints.save('thread-0', { step: 99 });
    await again.close();
    const second = await bothWays(path);
    expect(second.viaSnapshot.state).toEqual(second.viaScan);
  });

  it('writes snapshots automatically every snapshotBytes and at close, keeping the newest two', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 64 * 1024, segmentBytes: 256 * 1024 });
    for (let index = 0; index < 400; index++) await db.events.append('s', [{ type: 't', data: 'y'.repeat(1000) }]);
    // Automatic snapshots run in the background: let the last one finish.
    await db.sync();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await db.close();
    const names = snapshots(path);
    expect(names.length).toBe(2);
    expect(segmentPaths(path).length).toBeGreaterThan(1);
    const { viaSnapshot, viaScan } = await bothWays(path);
    expect(viaSnapshot.recovery.snapshot).toBeDefined();
    expect(viaSnapshot.recovery.bytesScanned).toBeLessThan(64 * 1024 + 8192);
    expect(viaSnapshot.state).toEqual(viaScan);

    // close() writes one when at least 1 MiB was logged since the newest (snapshotBytes 0 = no automatic ones).
    const closing = await open(path, { snapshotBytes: 0 });
    for (let index = 0; index < 70; index++) await closing.events.append('big', [{ type: 't', data: 'z'.repeat(16 * 1024) }]);
    const position = closing.events.headPosition + 1;
    await closing.close();
    expect(snapshots(path).at(-1)).toBe(`snapshot-${String(position).padStart(20, '0')}.snap`);
  });

  it('snapshotIntervalMs writes one once the interval has passed and something was logged', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0, snapshotIntervalMs: 30 });
    await db.events.append('s', [{ type: 't', data: 1 }]);
    expect(snapshots(path)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 40));
    await db.events.append('s', [{ type: 't', data: 2 }]);
    // Written in the background after that acknowledgement.
    for (let wait = 0; wait < 50 && snapshots(path).length === 0; wait++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(snapshots(path)).toEqual(['snapshot-00000000000000000002.snap']);
    await db.close();
    await expect(open(storePath(), { snapshotIntervalMs: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('a write torn right after the snapshot is a torn tail, still recovered from the snapshot (long kill run)', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    for (let index = 0; index < 5; index++) await db.events.append('s', [{ type: 't', data: index }]);
    const info = (await db.snapshot())!;
    await db.events.append('s', [{ type: 't', data: 'torn' }]);
    await db.close();
    await asIfCrashed(path);
    const [segment] = segmentPaths(path);
    truncateSync(segment!, statSync(segment!).size - 12);
    for (const name of snapshots(path)) if (name !== info.name) rmSync(join(path, name));
    const log = quiet();
    const again = await open(path, { onWarning: log.onWarning });
    expect(again.stats().recovery.snapshot?.name).toBe(info.name);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/^truncated a torn tail/);
    expect(again.events.streamVersion('s')).toBe(4);
    await again.close();
  });

  it('a damaged snapshot is skipped with a warning (the older one or a full scan is used), never trusted', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    await db.events.append('a', [{ type: 't', data: 1 }]);
    const older = (await db.snapshot())!;
    await db.events.append('a', [{ type: 't', data: 2 }]);
    await db.checkpoints.save('t', { n: 1 });
    const newer = (await db.snapshot())!;
    await db.close();
    const file = join(path, newer.name);
    const bytes = readFileSync(file);
    for (const offset of [0, 20, 44, 70, bytes.length - 9]) {
      const damaged = Buffer.from(bytes);
      damaged[offset] ^= 0x10;
      writeFileSync(file, damaged);
      const { viaSnapshot, viaScan, warnings } = await bothWays(path);
      expect(warnings.some((warning) => warning.includes(`ignored snapshot ${newer.name}`))).toBe(true);
      expect(viaSnapshot.recovery.snapshot?.name).toBe(older.name);
      expect(viaSnapshot.state).toEqual(viaScan);
    }
    writeFileSync(file, bytes);
    expect((await bothWays(path)).viaSnapshot.recovery.snapshot?.name).toBe(newer.name);
  });

  it('hardening A4: a snapshot that covers more of the log than is on disk is CorruptionError naming what is missing, not a fallback', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    for (let index = 0; index < 10; index++) await db.events.append('a', [{ type: 't', data: index }]);
    const info = (await db.snapshot())!;
    await db.close();
    // Only the snapshot records how far the log reached (as after a crash).
    await asIfCrashed(path);
    const [segment] = segmentPaths(path);
    truncateSync(segment!, statSync(segment!).size - 40);
    const before = readFileSync(segment!);
    const log = quiet();
    const error = await open(path, { onWarning: log.onWarning }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(reeldb.CorruptionError);
    expect((error as Error).message).toContain(`snapshot ${info.name} records that the log reached position 10: entries 9..9 are missing`);
    expect(readFileSync(segment!).equals(before)).toBe(true);
    await expect(open(path, { readOnly: true, ignoreSnapshots: true, onWarning: log.onWarning })).rejects.toMatchObject({ code: 'CORRUPTION' });
  });

  it('property: for random histories with snapshots, prunes and reopens, snapshot + tail recovery equals a full scan', { timeout: 900_000 }, async () => {
    type Action =
      | { kind: 'append'; stream: number; count: number; size: number }
      | { kind: 'save'; thread: number; grow: number }
      | { kind: 'delete'; thread: number }
      | { kind: 'snapshot' }
      | { kind: 'prune'; share: number; keepLast: number }
      | { kind: 'reopen' };
    const action: fc.Arbitrary<Action> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), stream: fc.nat(4), count: fc.integer({ min: 1, max: 3 }), size: fc.integer({ min: 0, max: 3000 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('save' as const), thread: fc.nat(2), grow: fc.integer({ min: 1, max: 800 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), thread: fc.nat(2) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('prune' as const), share: fc.double({ min: 0, max: 1, noNaN: true }), keepLast: fc.integer({ min: 1, max: 4 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
    );
    let runs = 0;
    let fromSnapshots = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 30 }), fc.boolean(), async (actions, buffered) => {
        runs++;
        const path = storePath();
        const options = { durability: buffered ? ('buffered' as const) : ('strict' as const), segmentBytes: 8 * 1024, snapshotBytes: 6 * 1024 };
        let db = await open(path, options);
        const states = new Map<number, string>();
        for (const step of actions) {
          if (step.kind === 'append') {
            await db.events.append(`stream-${step.stream}`, Array.from({ length: step.count }, () => ({ type: 't', data: 'd'.repeat(step.size) })));
          } else if (step.kind === 'save') {
            const state = (states.get(step.thread) ?? '') + 'm'.repeat(step.grow);
            states.set(step.thread, state);
            await db.checkpoints.save(`thread-${step.thread}`, { state });
          } else if (step.kind === 'delete') {
            states.delete(step.thread);
            await db.checkpoints.delete(`thread-${step.thread}`);
          } else if (step.kind === 'snapshot') {
            await db.snapshot();
          } else if (step.kind === 'prune') {
            await db.prune({ events: { beforePosition: Math.floor((db.events.headPosition + 1) * step.share) }, checkpoints: { keepLast: step.keepLast } });
          } else {
            await db.close();
            db = await open(path, options);
          }
        }
        await db.close();
        const { viaSnapshot, viaScan, warnings } = await bothWays(path);
        expect(warnings).toEqual([]);
        if (viaSnapshot.recovery.snapshot) fromSnapshots++;
        expect(viaSnapshot.state).toEqual(viaScan);
      }),
      { numRuns: Number(process.env.REELDB_SNAPSHOT_RUNS ?? 40), seed: Number(process.env.REELDB_SNAPSHOT_SEED ?? 20261201) },
    );
    // Most histories log more than snapshotBytes or call snapshot(): the property is about them.
    expect(fromSnapshots).toBeGreaterThan(runs / 2);
    console.log(`snapshot property (${runtime}): ${runs} random histories (${fromSnapshots} opened from a snapshot), snapshot + tail recovery equal to a full scan in every one`);
  });
});
