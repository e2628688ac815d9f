/**
 * Crash simulation: for seeded workloads, crash at every I/O operation (and fail syncs and
 * writes), then recover and check the invariants in test/support/crash-workload.ts.
 * Prunes and stream deletes are swept by test/support/prune-workload.ts.
 * REELDB_CRASH_POINTS sets the minimum number of crash points (CI: 10,000 on each runtime); scripts/reliability-long.mjs runs a longer sweep.
 */
import { describe, expect, it } from 'vitest';
import { checkRecovered, runWorkload } from './support/crash-workload.js';
import { checkPruneRecovered, runPruneWorkload } from './support/prune-workload.js';
import { runtime } from './helpers.js';

const defaultPoints = 10_000;
const minimumPoints = Number(process.env.REELDB_CRASH_POINTS ?? defaultPoints);

describe(`crash sweep on ${runtime}`, () => {
  for (const durability of ['strict', 'buffered'] as const) {
    it(`${durability}: crash at every I/O operation of seeded workloads`, { timeout: Math.max(600_000, minimumPoints * 20) }, async () => {
      let points = 0;
      let recoveredEvents = 0;
      let seed = durability === 'strict' ? 1 : 100_001;
      const target = durability === 'strict' ? Math.ceil(minimumPoints * 0.6) : Math.ceil(minimumPoints * 0.4);
      while (points < target) {
        const clean = await runWorkload({ seed, durability });
        expect(clean.crashed).toBe(false);
        for (let crashAt = 0; crashAt < clean.operations && points < target; crashAt++) {
          const run = await runWorkload({ seed, durability, plan: { crashAt } });
          expect(run.crashed).toBe(true);
          recoveredEvents += (await checkRecovered(run, durability)).events;
          points++;
        }
        seed++;
      }
      console.log(`crash sweep (${durability}, ${runtime}): ${points} crash points over ${seed - (durability === 'strict' ? 1 : 100_001)} seeds, ${recoveredEvents} events recovered and checked, 0 invariant violations`);
    });
  }

  it('checkpoints mixed in (deltas, full ones, chains across segments): crash at every I/O operation', { timeout: Math.max(600_000, minimumPoints * 20) }, async () => {
    let points = 0;
    let checked = 0;
    const target = Math.ceil(minimumPoints * 0.3);
    let seed = 200_001;
    while (points < target) {
      const durability = seed % 3 === 0 ? 'buffered' : 'strict';
      const clean = await runWorkload({ seed, durability, checkpoints: true, commits: 20 });
      expect(clean.crashed).toBe(false);
      for (let crashAt = 0; crashAt < clean.operations && points < target; crashAt++) {
        const run = await runWorkload({ seed, durability, checkpoints: true, commits: 20, plan: { crashAt } });
        expect(run.crashed).toBe(true);
        checked += (await checkRecovered(run, durability)).events;
        points++;
      }
      seed++;
    }
    console.log(`crash sweep (checkpoints, ${runtime}): ${points} crash points over ${seed - 200_001} seeds, ${checked} events and every surviving checkpoint loaded and checked, 0 invariant violations`);
  });

  it('snapshots mixed in (automatic and explicit, with checkpoints): crash at every I/O operation, recovery equals a full scan', { timeout: Math.max(600_000, minimumPoints * 20) }, async () => {
    let points = 0;
    let checked = 0;
    const target = Math.ceil(minimumPoints * 0.2);
    let seed = 300_001;
    let fromSnapshots = 0;
    while (points < target) {
      const durability = seed % 3 === 0 ? 'buffered' : 'strict';
      const clean = await runWorkload({ seed, durability, checkpoints: true, snapshots: true, commits: 20 });
      expect(clean.crashed).toBe(false);
      for (let crashAt = 0; crashAt < clean.operations && points < target; crashAt++) {
        const run = await runWorkload({ seed, durability, checkpoints: true, snapshots: true, commits: 20, plan: { crashAt } });
        expect(run.crashed).toBe(true);
        const result = await checkRecovered(run, durability);
        checked += result.events;
        if (result.fromSnapshot) fromSnapshots++;
        points++;
      }
      seed++;
    }
    // Most crashes come after the first snapshot: the sweep is about recovering from them.
    expect(fromSnapshots).toBeGreaterThan(points / 2);
    console.log(`crash sweep (snapshots, ${runtime}): ${points} crash points over ${seed - 300_001} seeds, ${fromSnapshots} recoveries started from a snapshot, ${checked} events checked, each equal to a full scan, 0 invariant violations`);
  });

  it('hardening A2/B18: prunes and stream deletes mixed in (long chains, small segments): crash at every I/O operation, every listed checkpoint loads, deleted streams stay deleted', { timeout: Math.max(600_000, minimumPoints * 20) }, async () => {
    let points = 0;
    let checked = 0;
    const target = Math.ceil(minimumPoints * 0.15);
    let seed = 400_001;
    while (points < target) {
      const durability = seed % 3 === 0 ? 'buffered' : 'strict';
      const clean = await runPruneWorkload(seed, durability);
      expect(clean.crashed).toBe(false);
      for (let crashAt = 0; crashAt < clean.operations && points < target; crashAt++) {
        const run = await runPruneWorkload(seed, durability, { crashAt });
        expect(run.crashed).toBe(true);
        checked += (await checkPruneRecovered(run, durability)).checkpoints;
        points++;
      }
      seed++;
    }
    console.log(`crash sweep (prunes and deletes, ${runtime}): ${points} crash points over ${seed - 400_001} seeds, ${checked} listed checkpoints loaded, 0 invariant violations`);
  });

  it('a failed sync is fail-stop: nothing is acknowledged after it, and reopening recovers a valid prefix', { timeout: 120_000 }, async () => {
    let cases = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const clean = await runWorkload({ seed, durability: 'strict' });
      for (let failSyncAt = 0; failSyncAt < clean.operations; failSyncAt += 3) {
        const run = await runWorkload({ seed, durability: 'strict', plan: { failSyncAt, persistent: seed % 2 === 0 } });
        if (run.host.failures.length === 0) continue;
        // Every commit after the failed sync was rejected.
        const firstFailed = run.sent.findIndex((commit) => !commit.acknowledged && commit.retryOf === undefined);
        if (firstFailed >= 0) expect(run.sent.slice(firstFailed).every((commit) => !commit.acknowledged)).toBe(true);
        await checkRecovered(run, 'strict');
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(50);
  });

  it('a failed write (disk full) is fail-stop too', { timeout: 120_000 }, async () => {
    let cases = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const clean = await runWorkload({ seed, durability: 'strict' });
      for (let failWriteAt = 0; failWriteAt < clean.operations; failWriteAt += 2) {
        const run = await runWorkload({ seed, durability: 'strict', plan: { failWriteAt, persistent: true } });
        if (run.host.failures.length === 0) continue;
        await checkRecovered(run, 'strict');
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(50);
  });
});
