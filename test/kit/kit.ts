/**
 * The primitive test kit: `definePrimitiveKit(workload)` runs the same six properties against
 * any primitive (built-in or extension) that supplies a workload (test/kit/workload.ts):
 * (a) model: random operation sequences in memory mode give the model's outcomes and state;
 * (b) snapshot + tail equals a full scan: operations, `db.snapshot()`, more operations, close;
 *     opening from the snapshot and with `ignoreSnapshots` give the same fingerprint and state,
 *     the model's, and the store restored from the snapshot keeps working;
 * (c) crash sweep: on the faulty host, a crash at each I/O operation (strict and buffered);
 *     what a restarted process finds is the state after a prefix of the operations that holds
 *     every acknowledged one (strict; buffered: every synced one) and nothing never sent; a full
 *     scan agrees, and the sequence goes on from there as the model says;
 * (d) prune sweep: `compact()` changes nothing live, the workload's policy removes exactly what
 *     its model says, reopening (snapshot or scan) agrees; a crash at each I/O operation of the
 *     prune leaves either the state before or the state after it, and a second prune ends it;
 * (e) damage sweep: bits flipped, bytes overwritten or the file cut in a segment or snapshot
 *     file: open (and reads) either reject with CorruptionError or give a prefix state — after a
 *     clean close the whole state (a snapshot is only skipped), after a crash a prefix (a torn
 *     tail) — never a wrong value, never a raw error;
 * (f) bad input: every bad call rejects with its typed code and writes nothing, junk arguments
 *     only ever reject with typed errors, and writes on a closed or read-only store are refused.
 * Counts come from REELDB_KIT_* (scripts/reliability-long.mjs raises them).
 */
import { cpSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultyFileHost, Random, SimulatedCrash } from '../../js/src/host/faulty.js';
import type { Durability, OpenOptions, Store } from '../../js/src/index.node.js';
import { asIfCrashed, reeldb, runtime, storePath, temporaryDirectory } from '../helpers.js';
import { Fails, type Workload } from './workload.js';

const count = (name: string, fallback: number) => Number(process.env[`REELDB_KIT_${name}`] ?? fallback);
/** Counts per workload on this runtime. */
export const KIT_COUNTS = {
  modelRuns: count('MODEL_RUNS', 40),
  snapshotRuns: count('SNAPSHOT_RUNS', 8),
  crashPoints: count('CRASH_POINTS', 240),
  pruneSeeds: count('PRUNE_SEEDS', 2),
  damageCases: count('DAMAGE_CASES', 60),
  badInputRuns: count('BAD_INPUT_RUNS', 100),
};

const CRASH_STORE = '/kit/store.reel';
/** Small segments: every sequence spans several, so prunes rewrite sealed ones. */
const SEGMENT_BYTES = 2048;

/** Stable JSON (sorted keys, bytes as hex): what "the same state" means. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Uint8Array) return `bytes:${[...item].map((byte) => byte.toString(16).padStart(2, '0')).join('')}`;
    if (item && typeof item === 'object' && !Array.isArray(item)) return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (item === undefined) return null;
    return item;
  });
}

/** A typed reeldb error (an extension loaded from the built package has its own copies of the classes: the code is what counts). */
function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : undefined;
}

/** An outcome as the model states it: a value, or `{ error: code }` for a typed rejection. */
type Outcome = { ok: string } | { error: string };

async function settle(call: () => unknown): Promise<Outcome | { raw: unknown }> {
  try {
    return { ok: canonical(await call()) };
  } catch (error) {
    const code = codeOf(error);
    return code ? { error: code } : { raw: error };
  }
}

function expectedOutcome(value: unknown): Outcome {
  return value instanceof Fails ? { error: value.code } : { ok: canonical(value) };
}

/** A crash or the store's failure after one: the sequence ends there. */
function isCrash(error: unknown): boolean {
  const code = codeOf(error);
  return error instanceof SimulatedCrash || (error as { cause?: unknown })?.cause instanceof SimulatedCrash || code === 'STORE_FAILED' || code === 'STORE_CLOSED';
}

/** Junk of every shape, and values close to valid ones (test/bad-input.test.ts uses the same kinds). */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, maxDepth: 2 }),
  fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, -1, 1.5, 2 ** 53, '', 'x'.repeat(2000), '\ud800', Symbol('s'), () => 1, 10n, [], {}, new Uint8Array(3)),
);

export function definePrimitiveKit<Op, Model>(workload: Workload<Op, Model>): void {
  const length = workload.length ?? 40;
  const sequence = (seed: number, size = length) => fc.sample(fc.array(workload.op, { minLength: size, maxLength: size }), { seed, numRuns: 1 })[0]!;
  const extra = workload.open ?? {};
  const quiet = { onWarning: () => {} };
  const optionsOn = (path: string, more: OpenOptions = {}) => reeldb.open(path, { ...extra, segmentBytes: SEGMENT_BYTES, snapshotBytes: 0, durability: 'buffered', ...quiet, ...more });
  const fingerprint = async (db: Store) => canonical((await db.fingerprint())[workload.name]);
  const read = async (db: Store) => canonical(await workload.read(db));

  /** The expected state after each prefix of `ops` (index k: after k operations), and each outcome. */
  function states(ops: readonly Op[]): { states: string[]; outcomes: Outcome[] } {
    const model = workload.init();
    const states = [canonical(workload.expected(model))];
    const outcomes: Outcome[] = [];
    for (const op of ops) {
      outcomes.push(expectedOutcome(workload.step(model, op)));
      states.push(canonical(workload.expected(model)));
    }
    return { states, outcomes };
  }

  function modelAfter(ops: readonly Op[]): Model {
    const model = workload.init();
    for (const op of ops) workload.step(model, op);
    return model;
  }

  /** Runs `ops` on `db` checking each outcome against the model. */
  async function run(db: Store, model: Model, ops: readonly Op[], where: string): Promise<void> {
    for (const [index, op] of ops.entries()) {
      const want = expectedOutcome(workload.step(model, op));
      const got = await settle(() => workload.apply(db, op));
      if ('raw' in got) throw new Error(`${where}: operation ${index} ${canonical(op)} threw an untyped error: ${String(got.raw)}`, { cause: got.raw });
      expect(got, `${where}: operation ${index} ${canonical(op)}`).toEqual(want);
    }
  }

  describe(`primitive kit: ${workload.name} on ${runtime}`, () => {
    it('(a) model: random sequences in memory mode agree with the model, after every operation', { timeout: Math.max(120_000, KIT_COUNTS.modelRuns * 2000) }, async () => {
      let operations = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(workload.op, { maxLength: length, size: 'max' }), async (ops) => {
          const db = await reeldb.open('/kit/model.reel', { ...extra, durability: 'memory', ...quiet });
          try {
            const model = workload.init();
            for (const [index, op] of ops.entries()) {
              const want = expectedOutcome(workload.step(model, op));
              const got = await settle(() => workload.apply(db, op));
              if ('raw' in got) throw new Error(`operation ${index} ${canonical(op)} threw an untyped error: ${String(got.raw)}`, { cause: got.raw });
              expect(got, `operation ${index} ${canonical(op)}`).toEqual(want);
              expect(JSON.parse(await read(db)), `state after operation ${index}`).toEqual(JSON.parse(canonical(workload.expected(model))));
              operations++;
            }
          } finally {
            await db.close();
          }
        }),
        { numRuns: KIT_COUNTS.modelRuns, seed: 0x5eed },
      );
      console.log(`primitive kit model (${workload.name}, ${runtime}): ${KIT_COUNTS.modelRuns} sequences, ${operations} operations, each outcome and state as the model says`);
    });

    it('(b) snapshot + tail equals a full scan, and the store restored from a snapshot keeps working', { timeout: Math.max(120_000, KIT_COUNTS.snapshotRuns * 5000) }, async () => {
      let fromSnapshot = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(workload.op, { minLength: 1, maxLength: length }), fc.array(workload.op, { maxLength: length / 2 }), fc.array(workload.op, { maxLength: 8 }), async (before, after, more) => {
          const path = storePath();
          const model = workload.init();
          const db = await optionsOn(path);
          await run(db, model, before, 'before the snapshot');
          const snapshot = await db.snapshot();
          expect(snapshot?.position).toBe(db.stats().entries);
          await run(db, model, after, 'after the snapshot');
          const print = await fingerprint(db);
          const state = await read(db);
          expect(JSON.parse(state)).toEqual(JSON.parse(canonical(workload.expected(model))));
          await db.close();

          const restored = await optionsOn(path);
          expect(restored.stats().recovery.snapshot?.position, 'open started from the snapshot').toBe(snapshot!.position);
          fromSnapshot++;
          const scanned = await optionsOn(path, { readOnly: true, ignoreSnapshots: true });
          expect(scanned.stats().recovery.snapshot).toBeUndefined();
          expect(await fingerprint(restored), 'fingerprint from the snapshot').toBe(print);
          expect(await fingerprint(scanned), 'fingerprint from a full scan').toBe(print);
          expect(await read(restored)).toBe(state);
          expect(await read(scanned)).toBe(state);
          await scanned.close();
          // What was restored from the section is the whole state: later operations behave as the model says.
          await run(restored, model, more, 'after opening from the snapshot');
          const later = await fingerprint(restored);
          await restored.close();
          const rescanned = await optionsOn(path, { ignoreSnapshots: true });
          expect(await fingerprint(rescanned)).toBe(later);
          expect(JSON.parse(await read(rescanned))).toEqual(JSON.parse(canonical(workload.expected(model))));
          await rescanned.close();
        }),
        { numRuns: KIT_COUNTS.snapshotRuns, seed: 0x5a4 },
      );
      console.log(`primitive kit snapshot (${workload.name}, ${runtime}): ${fromSnapshot} histories opened from a snapshot, each equal to a full scan and to the model`);
    });

    for (const durability of ['strict', 'buffered'] as const) {
      it(`(c) crash sweep (${durability}): a crash at each I/O operation recovers the state after a prefix holding every ${durability === 'strict' ? 'acknowledged' : 'synced'} operation`, { timeout: Math.max(120_000, KIT_COUNTS.crashPoints * 400) }, async () => {
        const target = Math.ceil(KIT_COUNTS.crashPoints / 2);
        let points = 0;
        let lostUnsynced = 0;
        let seed = durability === 'strict' ? 1 : 1001;
        while (points < target) {
          const ops = sequence(seed, Math.ceil(length / 2));
          const expected = states(ops);
          const clean = await crashRun(ops, expected.outcomes, seed, seed, durability, undefined);
          expect(clean.crashed).toBe(false);
          expect(clean.acknowledged).toBe(ops.length);
          // Spread the points over the run when there are more operations than the budget allows.
          const stride = Math.max(1, Math.ceil(clean.operations / Math.max(1, target / 4)));
          for (let crashAt = seed % stride; crashAt < clean.operations && points < target; crashAt += stride) {
            const crashed = await crashRun(ops, expected.outcomes, seed, seed * 7919 + crashAt, durability, crashAt);
            expect(crashed.crashed, `crash at ${crashAt}`).toBe(true);
            const k = await checkCrashRecovery(ops, expected.states, crashed, durability, `seed ${seed}, crash at operation ${crashAt}`);
            if (k < crashed.acknowledged) lostUnsynced++;
            points++;
          }
          seed++;
        }
        if (durability === 'strict') expect(lostUnsynced).toBe(0);
        console.log(`primitive kit crash sweep (${workload.name}, ${durability}, ${runtime}): ${points} crash points over ${seed - (durability === 'strict' ? 1 : 1001)} sequences, every recovery a prefix holding what it must${durability === 'buffered' ? ` (${lostUnsynced} lost acknowledged but unsynced operations)` : ''}, equal to a full scan, and continued as the model says`);
      });
    }

    interface CrashRun {
      host: FaultyFileHost;
      operations: number;
      crashed: boolean;
      /** Operations that completed (with the model's outcome). */
      acknowledged: number;
      /** Log end after each completed operation (index k: after k + 1), and the synced position at the end. */
      ends: number[];
      synced: number;
    }

    /** `seed` chooses where snapshots are taken, `faultSeed` how the crash tears writes and what unsynced data survives. */
    async function crashRun(ops: readonly Op[], outcomes: readonly Outcome[], seed: number, faultSeed: number, durability: Durability, crashAt: number | undefined): Promise<CrashRun> {
      const host = new FaultyFileHost({ seed: faultSeed, crashAt });
      const result: CrashRun = { host, operations: 0, crashed: false, acknowledged: 0, ends: [], synced: 0 };
      const random = new Random(seed);
      let db: Store | undefined;
      try {
        // Buffered syncs by size only (no timer): the same run makes the same I/O operations every time.
        db = await reeldb.open(CRASH_STORE, { ...extra, host, durability, segmentBytes: SEGMENT_BYTES, syncIntervalMs: 3_600_000, syncBytes: 1024, snapshotBytes: 0, ...quiet });
        for (const [index, op] of ops.entries()) {
          // Some snapshots along the way: recovery from them must agree too.
          if (random.next() < 0.08) await db.snapshot();
          const got = await settle(() => workload.apply(db!, op));
          if ('raw' in got) throw got.raw;
          if ('error' in got && (got.error === 'STORE_FAILED' || got.error === 'STORE_CLOSED')) break;
          expect(got, `operation ${index} ${canonical(op)}`).toEqual(outcomes[index]);
          result.acknowledged++;
          result.ends.push(db.stats().entries);
        }
      } catch (error) {
        if (!isCrash(error)) throw error;
      }
      if (db) {
        result.synced = db.pipeline.syncedPosition;
        await db.close().catch(() => undefined);
      }
      result.operations = host.operations;
      result.crashed = host.crashed;
      return result;
    }

    /** Opens what a restarted process finds; returns k, the number of operations whose state it holds. */
    async function checkCrashRecovery(ops: readonly Op[], expected: readonly string[], crashed: CrashRun, durability: Durability, where: string): Promise<number> {
      const host = crashed.host.afterCrash();
      const db = await reeldb.open(CRASH_STORE, { ...extra, host, segmentBytes: SEGMENT_BYTES, snapshotBytes: 0, ...quiet });
      const state = await read(db);
      const print = await fingerprint(db);
      const entries = db.stats().entries;
      await db.close();
      // Every acknowledged operation (strict) or every one the last sync covered (buffered) is there; at most the one in flight beyond.
      let lowest = crashed.acknowledged;
      if (durability === 'buffered') {
        lowest = 0;
        while (lowest < crashed.acknowledged && crashed.ends[lowest]! <= crashed.synced) lowest++;
      }
      const highest = Math.min(ops.length, crashed.acknowledged + 1);
      // The state after k operations, with the log ending where it ended after them (states may repeat: a delete undoes saves).
      const endAfter = (k: number) => (k === 0 ? 0 : crashed.ends[k - 1]!);
      // The operation in flight counts only if it wrote something (else it is the same as not having run).
      const logFits = (k: number) => (k <= crashed.acknowledged ? entries === endAfter(k) : entries > endAfter(k - 1));
      let k = -1;
      for (let candidate = highest; candidate >= lowest && k < 0; candidate--) if (expected[candidate] === state && logFits(candidate)) k = candidate;
      if (k < 0) {
        const anywhere = expected.indexOf(state);
        throw new Error(`${where}: the recovered state (${entries} entries) is not the state after ${lowest}–${highest} operations (${crashed.acknowledged} acknowledged, log ends ${crashed.ends.join(' ')})${anywhere >= 0 ? `; it is the state after ${anywhere}` : ''}:\n${state}\nwant e.g.\n${expected[lowest]}`);
      }
      const scanned = await reeldb.open(CRASH_STORE, { ...extra, host, readOnly: true, ignoreSnapshots: true, ...quiet });
      expect(await fingerprint(scanned), `${where}: full scan fingerprint`).toBe(print);
      expect(await read(scanned), `${where}: full scan state`).toBe(state);
      await scanned.close();
      // The store takes the rest of the sequence as the model says, durably.
      const again = await reeldb.open(CRASH_STORE, { ...extra, host, durability: 'strict', segmentBytes: SEGMENT_BYTES, snapshotBytes: 0, ...quiet });
      const model = modelAfter(ops.slice(0, k));
      const rest = ops.slice(k, k + 3);
      await run(again, model, rest, `${where}: after recovery`);
      const later = await fingerprint(again);
      await again.close();
      const third = await reeldb.open(CRASH_STORE, { ...extra, host, readOnly: true, ...quiet });
      expect(await fingerprint(third), `${where}: reopened after continuing`).toBe(later);
      expect(JSON.parse(await read(third))).toEqual(JSON.parse(canonical(workload.expected(model))));
      await third.close();
      return k;
    }

    it('(d) prune sweep: compact changes nothing live, the policy removes what the model says, reopening agrees; a crash at each I/O operation of a prune leaves the state before or after it', { timeout: Math.max(120_000, KIT_COUNTS.pruneSeeds * 60_000) }, async () => {
      let removed = 0;
      let rewritten = 0;
      let crashes = 0;
      let unfinished = 0;
      for (let seed = 1; seed <= KIT_COUNTS.pruneSeeds * 2; seed++) {
        const path = storePath();
        const ops = sequence(seed * 31, length + Math.ceil(length / 5));
        const model = workload.init();
        const db = await optionsOn(path);
        await run(db, model, ops.slice(0, length), 'before compact');
        const before = { print: await fingerprint(db), state: await read(db) };
        const compacted = await db.compact();
        rewritten += compacted.segmentsRewritten;
        expect(await fingerprint(db), 'compact keeps the live state').toBe(before.print);
        expect(await read(db)).toBe(before.state);
        if (workload.prune) {
          const options = workload.prune.options(model);
          const result = await db.prune(options);
          workload.prune.step(model, options);
          removed += result.primitives[workload.name]?.removed ?? 0;
          rewritten += result.segmentsRewritten;
          expect(JSON.parse(await read(db)), `prune ${canonical(options)}`).toEqual(JSON.parse(canonical(workload.expected(model))));
        }
        // A short tail after the prune: reopening then rests mostly on what the prune's snapshot and rewrites left.
        await run(db, model, ops.slice(length, length + Math.ceil(length / 5)), 'after the prune');
        const print = await fingerprint(db);
        const state = await read(db);
        await db.close();
        for (const ignoreSnapshots of [false, true]) {
          const reopened = await optionsOn(path, { readOnly: true, ignoreSnapshots });
          expect(await fingerprint(reopened), `reopened (ignoreSnapshots: ${ignoreSnapshots})`).toBe(print);
          expect(await read(reopened)).toBe(state);
          await reopened.close();
        }
        // A crash at each I/O operation of the prune (a few seeds: odd ones with the policy, even ones a plain compact).
        if (seed > KIT_COUNTS.pruneSeeds) continue;
        const result = await pruneCrashSweep(sequence(seed * 53, length), seed);
        crashes += result.crashes;
        unfinished += result.unfinished;
      }
      // Not vacuous: the sweeps rewrote segments (and the policy removed entries, when there is one).
      if (workload.deadEntries !== false) expect(rewritten).toBeGreaterThan(0);
      if (workload.prune) expect(removed).toBeGreaterThan(0);
      console.log(`primitive kit prune sweep (${workload.name}, ${runtime}): ${KIT_COUNTS.pruneSeeds * 2} histories (${removed} entries removed by the policy, ${rewritten} segments rewritten), ${crashes} crashes during prunes (${unfinished} left the state before the prune), every state valid and completed by a second prune`);
    });

    async function pruneCrashSweep(ops: readonly Op[], seed: number): Promise<{ crashes: number; unfinished: number }> {
      const options = { ...extra, durability: 'strict' as const, segmentBytes: SEGMENT_BYTES, snapshotBytes: 0, ...quiet };
      const setup = async (host: FaultyFileHost) => {
        const db = await reeldb.open(CRASH_STORE, { ...options, host });
        const model = workload.init();
        await run(db, model, ops, 'setup');
        return { db, model };
      };
      const prune = (db: Store, model: Model) => (workload.prune ? db.prune(workload.prune.options(model)) : db.compact());
      const reference = new FaultyFileHost({ seed });
      const { db: first, model } = await setup(reference);
      const setupOperations = reference.operations;
      const before = await read(first);
      const policy = workload.prune?.options(model);
      await prune(first, model);
      if (workload.prune) workload.prune.step(model, policy!);
      const after = await read(first);
      expect(JSON.parse(after)).toEqual(JSON.parse(canonical(workload.expected(model))));
      const pruneOperations = reference.operations - setupOperations;
      await first.close();
      let crashes = 0;
      let unfinished = 0;
      const stride = Math.max(1, Math.ceil(pruneOperations / 40));
      for (let point = seed % stride; point < pruneOperations; point += stride) {
        const host = new FaultyFileHost({ seed: seed * 1000 + point, crashAt: setupOperations + point });
        const { db, model: again } = await setup(host);
        await prune(db, again).then(
          () => undefined,
          (error: unknown) => {
            if (!isCrash(error)) throw error;
          },
        );
        await db.close().catch(() => undefined);
        expect(host.crashed, `crash at prune operation ${point}`).toBe(true);
        crashes++;
        const recovered = await reeldb.open(CRASH_STORE, { ...options, host: host.afterCrash() });
        const state = await read(recovered);
        if (state !== after) {
          expect(state, `crash at prune operation ${point} of ${pruneOperations}: neither the state before nor after the prune`).toBe(before);
          unfinished++;
        }
        await prune(recovered, modelAfter(ops));
        expect(await read(recovered), `crash at prune operation ${point}: a second prune completes it`).toBe(after);
        await recovered.close();
      }
      return { crashes, unfinished };
    }

    it('(e) damage sweep: a damaged segment or snapshot file opens as CorruptionError or a prefix state (the whole state after a clean close), never a wrong value or a raw error', { timeout: Math.max(120_000, KIT_COUNTS.damageCases * 1000) }, async () => {
      const outcomes = { corruption: 0, whole: 0, prefix: 0 };
      const cases = KIT_COUNTS.damageCases;
      const perStore = Math.max(1, Math.ceil(cases / 4));
      for (let done = 0, store = 0; done < cases; store++) {
        const ops = sequence(7000 + store, length * 2);
        const expected = states(ops).states;
        const pristine = join(temporaryDirectory(), 'pristine.reel');
        const db = await optionsOn(pristine);
        const model = workload.init();
        await run(db, model, ops.slice(0, length), 'building');
        await db.snapshot();
        await run(db, model, ops.slice(length), 'building');
        await db.close();
        const crashedCopy = join(temporaryDirectory(), 'crashed.reel');
        cpSync(pristine, crashedCopy, { recursive: true });
        await asIfCrashed(crashedCopy);
        for (let index = 0; index < perStore && done < cases; index++, done++) {
          const random = new Random(store * 1000 + index + 1);
          const crashedStore = index % 2 === 1;
          const copy = join(temporaryDirectory(), 'damaged.reel');
          cpSync(crashedStore ? crashedCopy : pristine, copy, { recursive: true });
          // The first damage of each store hits its snapshot: open must skip it and give the whole state.
          const what = damage(copy, random, index === 0);
          const where = `store ${store}, ${crashedStore ? 'crashed' : 'cleanly closed'}, ${what}`;
          const result = await settle(async () => {
            const damaged = await reeldb.open(copy, { ...extra, ...quiet });
            try {
              return { state: await read(damaged) };
            } finally {
              await damaged.close();
            }
          });
          if ('raw' in result) throw new Error(`${where}: an untyped error: ${String(result.raw)}`, { cause: result.raw });
          if ('error' in result) {
            expect(result.error, where).toBe('CORRUPTION');
            outcomes.corruption++;
            continue;
          }
          const state = (JSON.parse(result.ok) as { state: string }).state;
          const k = expected.lastIndexOf(state);
          if (k < 0) throw new Error(`${where}: a state that is no prefix of the history (a wrong value):\n${state}`);
          if (!crashedStore) expect(k, `${where}: after a clean close nothing may be lost silently`).toBe(ops.length);
          if (k === ops.length) outcomes.whole++;
          else outcomes.prefix++;
        }
      }
      // Not vacuous: damage was found, and the store opened past damage it can skip.
      expect(outcomes.corruption).toBeGreaterThan(0);
      expect(outcomes.whole).toBeGreaterThan(0);
      console.log(`primitive kit damage sweep (${workload.name}, ${runtime}): ${cases} damaged copies: ${outcomes.corruption} CorruptionError, ${outcomes.whole} whole state (damage to a snapshot or the unused part of a file), ${outcomes.prefix} torn tails recovered to a prefix, 0 wrong values`);
    });

    it('(f) bad input: typed errors, nothing written; junk arguments never escape untyped; writes on a closed or read-only store are refused', { timeout: Math.max(120_000, KIT_COUNTS.badInputRuns * 500) }, async () => {
      const path = storePath();
      const db = await optionsOn(path);
      const model = workload.init();
      await run(db, model, sequence(99, Math.ceil(length / 2)), 'setup');
      const unchanged = async (what: string, entries: number, print: string) => {
        expect(db.stats().entries, `${what} wrote nothing`).toBe(entries);
        expect(await fingerprint(db), `${what} changed nothing`).toBe(print);
      };
      for (const bad of workload.badCalls) {
        const entries = db.stats().entries;
        const print = await fingerprint(db);
        const result = await settle(() => bad.call(db));
        if ('raw' in result) throw new Error(`${bad.what}: an untyped error: ${String(result.raw)}`, { cause: result.raw });
        expect(result, bad.what).toEqual({ error: bad.code });
        await unchanged(bad.what, entries, print);
      }
      // The store still works as the model says after refusing them.
      await run(db, model, sequence(98, 3), 'after bad input');
      let junkRuns = 0;
      let typed = 0;
      if (workload.junkCalls) {
        await fc.assert(
          fc.asyncProperty(workload.junkCalls(junk), async (call) => {
            const entries = db.stats().entries;
            const print = await fingerprint(db);
            const result = await settle(() => call.call(db));
            junkRuns++;
            if ('raw' in result) throw new Error(`${call.what}: an untyped error: ${String(result.raw)}`, { cause: result.raw });
            if ('error' in result) {
              typed++;
              await unchanged(call.what, entries, print);
            }
          }),
          { numRuns: KIT_COUNTS.badInputRuns, seed: 0xbad },
        );
        expect(typed).toBeGreaterThan(0);
      }
      // Its files open to the same state; writes on a closed or read-only store are refused.
      const print = await fingerprint(db);
      await db.close();
      const op = sequence(5, 1)[0]!;
      const closed = await settle(() => workload.apply(db, op));
      expect(closed, 'a write on a closed store').toEqual({ error: 'STORE_CLOSED' });
      const reader = await optionsOn(path, { readOnly: true });
      expect(await settle(() => workload.apply(reader, op)), 'a write on a read-only store').toEqual({ error: 'READ_ONLY' });
      expect(await fingerprint(reader)).toBe(print);
      await reader.close();
      console.log(`primitive kit bad input (${workload.name}, ${runtime}): ${workload.badCalls.length} bad calls and ${junkRuns} junk calls (${typed} rejected with typed errors), nothing written by any rejected call`);
    });
  });
}

/** Damages one segment or snapshot file of the store at `path`: flipped bits, overwritten bytes, or a cut. Returns what it did. */
function damage(path: string, random: Random, snapshot: boolean): string {
  const segments = readdirSync(join(path, 'log'))
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => join(path, 'log', name));
  const snapshots = readdirSync(path)
    .filter((name) => name.endsWith('.snap'))
    .sort()
    .map((name) => join(path, name));
  const files = (snapshot || random.next() < 0.15) && snapshots.length > 0 ? snapshots : segments;
  const file = files[random.integer(files.length)]!;
  const size = statSync(file).size;
  // Half the damage near the end of the file (where a torn tail lies), half anywhere.
  const offset = random.next() < 0.5 ? Math.max(0, size - 1 - random.integer(Math.min(size, 200))) : random.integer(size);
  const name = file.slice(path.length + 1);
  const roll = random.next();
  if (roll < 0.2) {
    truncateSync(file, offset);
    return `${name} cut at ${offset} of ${size}`;
  }
  const bytes = readFileSync(file);
  if (roll < 0.6) {
    const bits = 1 + random.integer(3);
    for (let bit = 0; bit < bits; bit++) {
      const at = Math.min(size - 1, offset + random.integer(8));
      bytes[at]! ^= 1 << random.integer(8);
    }
    writeFileSync(file, bytes);
    return `${bits} bits flipped in ${name} near ${offset}`;
  }
  const count = Math.min(size - offset, 1 + random.integer(64));
  const zeros = random.next() < 0.5;
  for (let at = offset; at < offset + count; at++) bytes[at] = zeros ? 0 : random.integer(256);
  writeFileSync(file, bytes);
  return `${count} bytes of ${name} at ${offset} overwritten with ${zeros ? 'zeros' : 'random bytes'}`;
}
