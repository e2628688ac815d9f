/**
 * Concurrency: random operations of every kind (appends, checkpoint saves, deletes, loads,
 * lists, prunes, snapshots, reads, reopens) started without waiting for each other, on a
 * memory host. Every call must succeed (no untyped error, no race), recovery must warn of
 * nothing, the state seen before close must equal the state after reopening and the state of
 * a full scan, and each thread's newest checkpoint must be the last one acknowledged.
 * REELDB_STRESS_ROUNDS sets the number of rounds (scripts/reliability-long.mjs raises it).
 */
import { describe, expect, it } from 'vitest';
import { reeldb, runtime } from './helpers.js';

const ROUNDS = Number(process.env.REELDB_STRESS_ROUNDS ?? 20);
type Db = Awaited<ReturnType<typeof reeldb.open>>;

async function observe(db: Db) {
  return JSON.stringify({
    head: db.events.headPosition,
    streams: db.events.streamNames().sort().map((stream) => [stream, db.events.streamVersion(stream)]),
    events: (await db.events.readAll({ maxCount: 1e6 })).map((event) => [event.position, event.stream, event.streamVersion]),
    threads: await Promise.all(db.checkpoints.threadIds().sort().map(async (thread) => [thread, (await db.checkpoints.load(thread))?.state])),
  });
}

describe(`concurrent operations on ${runtime}`, () => {
  it(`${ROUNDS} rounds of 120 random operations started together agree with a reopen and a full scan`, { timeout: Math.max(120_000, ROUNDS * 3_000) }, async () => {
    let seed = 20261201;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = (count: number) => Math.floor(random() * count);
    let operations = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const host = new reeldb.MemoryFileHost();
      const warnings: string[] = [];
      const options = {
        host,
        durability: round % 2 ? ('buffered' as const) : ('strict' as const),
        segmentBytes: 2048 + pick(4096),
        snapshotBytes: pick(2) ? 1024 : 0,
        onWarning: (warning: string) => warnings.push(warning),
      };
      let db = await reeldb.open('/stress.reel', options);
      const newest = new Map<string, unknown>();
      const errors: unknown[] = [];
      let started: Promise<unknown>[] = [];
      for (let step = 0; step < 120; step++) {
        const roll = random();
        const thread = `t${pick(3)}`;
        let call: Promise<unknown>;
        if (roll < 0.35) call = db.events.append(`s${pick(4)}`, [{ type: 'x', data: { step, pad: 'p'.repeat(pick(300)) } }]);
        else if (roll < 0.6) {
          const state = { step, items: Array.from({ length: pick(30) }, (_, index) => `item ${index} of ${step}`) };
          call = db.checkpoints.save(thread, state).then(() => newest.set(thread, state));
        } else if (roll < 0.65) call = db.checkpoints.delete(thread).then(() => newest.delete(thread));
        else if (roll < 0.75) call = db.checkpoints.load(thread);
        else if (roll < 0.8) call = db.checkpoints.list(thread, { limit: 5 });
        else if (roll < 0.87) call = db.prune({ events: { beforePosition: pick(db.events.headPosition + 2) }, checkpoints: { keepLast: 1 + pick(3) } });
        else if (roll < 0.92) call = db.snapshot();
        else if (roll < 0.95) call = db.events.readAll({ maxCount: 50 });
        else {
          await Promise.all(started);
          started = [];
          await db.close();
          db = await reeldb.open('/stress.reel', options);
          continue;
        }
        operations++;
        started.push(call.catch((error: unknown) => errors.push(error)));
        if (random() < 0.3) {
          await Promise.all(started);
          started = [];
        }
      }
      await Promise.all(started);
      expect(errors, `round ${round}`).toEqual([]);
      const live = await observe(db);
      await db.close();
      const reopened = await reeldb.open('/stress.reel', options);
      expect(await observe(reopened), `round ${round}: reopened`).toBe(live);
      for (const [thread, state] of newest) expect((await reopened.checkpoints.load(thread))?.state, `round ${round}: ${thread}`).toEqual(state);
      await reopened.close();
      const scanned = await reeldb.open('/stress.reel', { ...options, readOnly: true, ignoreSnapshots: true });
      expect(await observe(scanned), `round ${round}: full scan`).toBe(live);
      await scanned.close();
      expect(warnings.filter((warning) => !warning.startsWith('ignored snapshot')), `round ${round}`).toEqual([]);
    }
    console.log(`concurrency (${runtime}): ${ROUNDS} rounds, ${operations} operations started together, 0 errors, every reopen and full scan equal to what was seen`);
  });
});
