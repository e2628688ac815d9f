/**
 * A seeded workload of appends, checkpoint saves, stream deletes and prunes over small
 * segments, for the crash sweep; and the checker of what a restarted process finds:
 * - every event read was sent, with its data, and each stream's versions are contiguous;
 * - a stream whose delete was acknowledged shows none of the events appended before it;
 * - every checkpoint `list()` shows loads to the state saved at that seq, and
 *   `checkpoints.verify()` finds nothing; the newest acknowledged save of a thread is there;
 * - recovery from a snapshot equals a full scan, a second open the same, and the store takes
 *   new writes.
 */
import { FaultyFileHost, Random, SimulatedCrash, type FaultPlan } from '../../js/src/host/faulty.js';
import type { Durability, Store } from '../../js/src/index.node.js';
import { reeldb } from '../helpers.js';

export const PRUNE_STORE = '/crash/prune.reel';

export interface PruneRun {
  host: FaultyFileHost;
  operations: number;
  crashed: boolean;
  /** Event id → the data sent. */
  sent: Map<string, unknown>;
  /** Per stream, the ids appended before its last acknowledged delete. */
  deletedIds: Map<string, Set<string>>;
  /** Per thread, the state saved at each seq, and the newest acknowledged seq. */
  states: Map<string, unknown[]>;
  acknowledgedSeq: Map<string, number>;
}

function checkpointState(thread: string, seq: number) {
  return { thread, seq, items: Array.from({ length: seq % 50 }, (_, index) => `generation ${Math.floor(seq / 12)} item ${index}`) };
}

const tolerated = (error: unknown) => {
  const code = (error as { code?: string }).code;
  return error instanceof SimulatedCrash || (error as { cause?: unknown }).cause instanceof SimulatedCrash || code === 'STORE_FAILED' || code === 'STORE_CLOSED';
};

export async function runPruneWorkload(seed: number, durability: Durability, plan?: FaultPlan): Promise<PruneRun> {
  const random = new Random(seed * 104729 + 3);
  const host = new FaultyFileHost({ seed, ...plan });
  const run: PruneRun = { host, operations: 0, crashed: false, sent: new Map(), deletedIds: new Map(), states: new Map(), acknowledgedSeq: new Map() };
  let db: Store;
  try {
    db = await reeldb.open(PRUNE_STORE, { host, durability, segmentBytes: 1024, syncIntervalMs: 1, syncBytes: 2048, snapshotBytes: 4096, onWarning: () => {} });
  } catch (error) {
    if (!tolerated(error) && !(error as { code?: string }).code) throw error;
    run.operations = host.operations;
    run.crashed = host.crashed;
    return run;
  }
  const appended = new Map<string, string[]>();
  try {
    for (let step = 0; step < 40; step++) {
      const roll = random.next();
      if (roll < 0.45) {
        const stream = `s${random.integer(3)}`;
        const id = `e${step}`;
        const data = { step, text: 'x'.repeat(random.integer(200)) };
        run.sent.set(id, data);
        await db.events.append(stream, [{ type: 'step', data, id }]);
        appended.set(stream, [...(appended.get(stream) ?? []), id]);
      } else if (roll < 0.8) {
        const thread = `t${random.integer(2)}`;
        const states = run.states.get(thread) ?? [];
        const seq = states.length;
        states.push(checkpointState(thread, seq));
        run.states.set(thread, states);
        await db.checkpoints.save(thread, states[seq]);
        run.acknowledgedSeq.set(thread, seq);
      } else if (roll < 0.88) {
        const stream = `s${random.integer(3)}`;
        const ids = appended.get(stream) ?? [];
        await db.events.deleteStream(stream);
        run.deletedIds.set(stream, new Set([...(run.deletedIds.get(stream) ?? []), ...ids]));
        appended.set(stream, []);
      } else {
        await db.prune({ checkpoints: { keepLast: 1 + random.integer(3) }, events: { beforePosition: Math.max(0, db.events.headPosition - 10) } });
      }
    }
  } catch (error) {
    if (!tolerated(error)) throw error;
  }
  await db.close().catch(() => undefined);
  run.operations = host.operations;
  run.crashed = host.crashed;
  return run;
}

async function look(db: Store) {
  const events = (await db.events.readAll({ maxCount: 1e6 })).map((event) => [event.id, event.position, event.stream, event.streamVersion]);
  const threads = await Promise.all(db.checkpoints.threadIds().sort().map(async (thread) => [thread, (await db.checkpoints.list(thread, { limit: 1000 })).map((info) => [info.seq, info.position])]));
  return JSON.stringify({ events, threads });
}

/** Opens what a restarted process finds and checks every invariant; throws on a violation. */
export async function checkPruneRecovered(run: PruneRun, durability: Durability): Promise<{ events: number; checkpoints: number }> {
  const host = run.host.afterCrash();
  const where = () => `(prune workload, plan ${JSON.stringify(run.host.plan)}, ${run.operations} operations)`;
  const db = await reeldb.open(PRUNE_STORE, { host, onWarning: () => {} });
  let loaded = 0;
  try {
    const all = await db.events.readAll({ maxCount: 1e6 });
    for (const event of all) {
      if (!run.sent.has(event.id) || JSON.stringify(run.sent.get(event.id)) !== JSON.stringify(event.data)) throw new Error(`event ${event.id} was not sent as read ${where()}`);
      if (durability === 'strict' && run.deletedIds.get(event.stream)?.has(event.id)) throw new Error(`event ${event.id} of a deleted stream is back ${where()}`);
    }
    for (const stream of db.events.streamNames()) {
      const versions = (await db.events.readStream(stream)).map((event) => event.streamVersion);
      if (versions.some((version, index) => version !== versions[0]! + index)) throw new Error(`stream ${stream} versions are not contiguous ${where()}`);
    }
    for (const thread of db.checkpoints.threadIds()) {
      const states = run.states.get(thread) ?? [];
      const infos = await db.checkpoints.list(thread, { limit: 1000 });
      const newest = run.acknowledgedSeq.get(thread);
      if (durability === 'strict' && newest !== undefined && infos[0]!.seq < newest) throw new Error(`thread ${thread} lost its acknowledged seq ${newest} ${where()}`);
      for (const info of infos) {
        const got = await db.checkpoints.load(thread, { id: info.id });
        if (JSON.stringify(got?.state) !== JSON.stringify(states[info.seq])) throw new Error(`checkpoint ${info.seq} of ${thread} does not load its state ${where()}`);
        loaded++;
      }
    }
    const problems = (await db.checkpoints.verify()).problems;
    if (problems.length > 0) throw new Error(`verify: ${JSON.stringify(problems)} ${where()}`);
    const state = await look(db);
    await db.close();
    const scanned = await reeldb.open(PRUNE_STORE, { host, onWarning: () => {}, ignoreSnapshots: true, readOnly: true });
    const fromScan = await look(scanned);
    await scanned.close();
    if (fromScan !== state) throw new Error(`recovery from a snapshot differs from a full scan ${where()}`);
    const again = await reeldb.open(PRUNE_STORE, { host, onWarning: () => {} });
    if ((await look(again)) !== state) throw new Error(`a second open rebuilt a different state ${where()}`);
    await again.prune({ checkpoints: { keepLast: 1 } });
    await again.events.append('after-crash', [{ type: 'check', data: all.length }]);
    await again.close();
    return { events: all.length, checkpoints: loaded };
  } finally {
    if (!db.closed) await db.close();
  }
}
