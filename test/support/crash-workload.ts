/**
 * A seeded workload for crash simulation and the invariant checker every crash test uses.
 * The workload appends to a store on a FaultyFileHost and records what it sent and what was
 * acknowledged; `checkRecovered` opens what a restarted process would find and checks:
 * - every acknowledged commit is present (strict), or at least every one the last completed
 *   sync covered (buffered);
 * - the log is a prefix of what was sent, ending on a commit boundary (no holes, reorders,
 *   duplicates or partial frames);
 * - stream versions are contiguous and readStream agrees with readAll;
 * - a second open rebuilds exactly the same state; the store takes new appends;
 * - retried appends with the same ids created no duplicates.
 */
import { FaultyFileHost, Random, SimulatedCrash, type FaultPlan } from '../../js/src/host/faulty.js';
import type { Durability, RecordedEvent, Store } from '../../js/src/index.node.js';
import { reeldb } from '../helpers.js';

export const STORE = '/crash/store.reel';

interface SentCommit {
  stream: string;
  expectedVersion: number | 'no_stream';
  events: { type: string; data: unknown; id: string }[];
  acknowledged: boolean;
  /** A retry of an earlier commit: must not add events. */
  retryOf?: number;
  /** A checkpoint save (one entry) instead of an append: the thread and the state saved. */
  checkpoint?: { thread: string; state: unknown };
}

export interface WorkloadRun {
  host: FaultyFileHost;
  sent: SentCommit[];
  /** Entries the store knew to be durable when it stopped (buffered mode's guarantee). */
  syncedPosition: number;
  operations: number;
  crashed: boolean;
  openFailed: boolean;
}

export interface WorkloadOptions {
  seed: number;
  durability: Durability;
  commits?: number;
  plan?: FaultPlan;
  /** Mix checkpoint saves (growing states, deltas, full ones) into the appends. */
  checkpoints?: boolean;
  /** Snapshots: automatic ones every ~1 KiB of log and some db.snapshot() calls. */
  snapshots?: boolean;
}

function quietOptions(durability: Durability, snapshots = false) {
  return { durability, segmentBytes: 1536, syncIntervalMs: 1, syncBytes: 2048, snapshotBytes: snapshots ? 1024 : 0, onWarning: () => {} } as const;
}

/** Runs the workload until it ends or the host crashes; never throws for injected faults. */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadRun> {
  const random = new Random(options.seed * 7919 + 17);
  const host = new FaultyFileHost({ seed: options.seed, ...options.plan });
  const sent: SentCommit[] = [];
  const run: WorkloadRun = { host, sent, syncedPosition: 0, operations: 0, crashed: false, openFailed: false };
  let db: Store;
  try {
    db = await reeldb.open(STORE, { host, ...quietOptions(options.durability, options.snapshots) });
  } catch (error) {
    if (!(error instanceof SimulatedCrash) && !(error as { code?: string }).code) throw error;
    run.openFailed = true;
    run.operations = host.operations;
    run.crashed = host.crashed;
    return run;
  }
  const versions = new Map<string, number>();
  const commits = options.commits ?? 14;
  let failed = false;
  const append = async (index: number) => {
    const commit = sent[index]!;
    try {
      await db.events.append(commit.stream, commit.events, { expectedVersion: commit.expectedVersion });
      commit.acknowledged = true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      // A crash may also surface as the failed read of an idempotent-retry check.
      if (code !== 'STORE_FAILED' && code !== 'STORE_CLOSED' && !(error instanceof SimulatedCrash)) throw error;
      failed = true;
    }
  };
  const states = new Map<string, { step: number; items: string[] }>();
  for (let index = 0; index < commits && !failed; ) {
    if (options.snapshots && random.next() < 0.1) {
      try {
        await db.snapshot();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'STORE_FAILED' && code !== 'STORE_CLOSED' && !(error instanceof SimulatedCrash)) throw error;
        failed = true;
      }
      continue;
    }
    if (options.checkpoints && random.next() < 0.3) {
      // A checkpoint save, alone (so the log order is the send order): a growing state.
      const thread = `t${random.integer(2)}`;
      const previous = states.get(thread) ?? { step: 0, items: [] };
      const state = { step: previous.step + 1, items: [...previous.items, `item ${index} ${'y'.repeat(random.integer(300))}`] };
      states.set(thread, state);
      const commit: SentCommit = { stream: '', expectedVersion: 'no_stream', events: [], acknowledged: false, checkpoint: { thread, state } };
      sent.push(commit);
      index++;
      try {
        await db.checkpoints.save(thread, state);
        commit.acknowledged = true;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'STORE_FAILED' && code !== 'STORE_CLOSED' && !(error instanceof SimulatedCrash)) throw error;
        failed = true;
      }
      continue;
    }
    // Sometimes several commits at once (group commit), sometimes one.
    const group = random.next() < 0.3 ? 2 + random.integer(3) : 1;
    const started: Promise<void>[] = [];
    for (let member = 0; member < group && index < commits; member++, index++) {
      const previous = sent.length > 0 && random.next() < 0.15 ? sent[random.integer(sent.length)] : undefined;
      if (previous && previous.acknowledged && previous.retryOf === undefined && !previous.checkpoint) {
        // A retry of an acknowledged append with the same ids: idempotent, writes nothing.
        sent.push({ stream: previous.stream, expectedVersion: previous.expectedVersion, events: previous.events, acknowledged: false, retryOf: sent.indexOf(previous) });
      } else {
        const stream = `s${random.integer(3)}`;
        const size = 1 + random.integer(3);
        const events = Array.from({ length: size }, (_, k) => {
          const big = random.next() < 0.1;
          return { type: big ? 'blob' : 'step', data: { commit: sent.length, k, text: big ? 'x'.repeat(700 + random.integer(900)) : 'ok' }, id: `c${sent.length}-e${k}` };
        });
        const current = versions.get(stream) ?? -1;
        sent.push({ stream, expectedVersion: current < 0 ? 'no_stream' : current, events, acknowledged: false });
        versions.set(stream, current + size);
      }
      started.push(append(sent.length - 1));
    }
    await Promise.all(started);
  }
  run.syncedPosition = db.pipeline.syncedPosition;
  await db.close().catch(() => undefined);
  run.operations = host.operations;
  run.crashed = host.crashed;
  return run;
}

/** Opens what survives and checks every invariant; throws with a description on a violation. */
export async function checkRecovered(run: WorkloadRun, durability: Durability): Promise<{ events: number; fromSnapshot: boolean }> {
  const host = run.host.afterCrash();
  const where = () => `(seed plan ${JSON.stringify(run.host.plan)}, ${run.operations} operations)`;
  const db = await reeldb.open(STORE, { host, onWarning: () => {} });
  try {
    const all = await db.events.readAll();
    const head = db.events.headPosition + 1; // entries in the recovered log
    // The sequence that may be in the log: every commit that is not a retry, in send order;
    // an append is its events, a checkpoint save one entry.
    const expected: { commit: number; event: SentCommit['events'][number]; stream: string; position: number }[] = [];
    const commitEnds = new Set<number>([0]);
    const commitEnd: number[] = [];
    let entries = 0;
    run.sent.forEach((commit, index) => {
      if (commit.retryOf !== undefined) return;
      if (commit.checkpoint) entries++;
      else for (const event of commit.events) expected.push({ commit: index, event, stream: commit.stream, position: entries++ });
      commitEnds.add(entries);
      commitEnd[index] = entries;
    });
    if (head > entries) throw new Error(`recovered ${head} entries but only ${entries} were sent ${where()}`);
    if (!commitEnds.has(head)) throw new Error(`a partial frame: the log ends inside a commit at ${head} ${where()}`);
    const present = expected.filter((entry) => entry.position < head);
    if (all.length !== present.length) throw new Error(`recovered ${all.length} events, expected ${present.length} in ${head} entries ${where()}`);
    all.forEach((event, index) => {
      const want = present[index]!;
      if (event.position !== want.position) throw new Error(`position hole: event ${index} has position ${event.position}, want ${want.position} ${where()}`);
      if (event.id !== want.event.id || event.stream !== want.stream || JSON.stringify(event.data) !== JSON.stringify(want.event.data)) {
        throw new Error(`recovered log is not a prefix of what was sent at ${index}: got ${event.id}, want ${want.event.id} ${where()}`);
      }
    });
    // Acknowledged commits must survive.
    run.sent.forEach((commit, index) => {
      if (!commit.acknowledged || commit.retryOf !== undefined) return;
      const end = commitEnd[index]!;
      const mustSurvive = durability === 'strict' || end <= run.syncedPosition;
      if (mustSurvive && end > head) throw new Error(`acknowledged commit ${index} was lost ${where()}`);
    });
    // Checkpoints: each thread holds exactly the saves inside the recovered log, every one loads
    // its own state (deltas and chains intact), and the newest is the last one saved.
    const savedByThread = new Map<string, unknown[]>();
    run.sent.forEach((commit, index) => {
      if (!commit.checkpoint || commitEnd[index]! > head) return;
      const list = savedByThread.get(commit.checkpoint.thread) ?? [];
      list.push(commit.checkpoint.state);
      savedByThread.set(commit.checkpoint.thread, list);
    });
    for (const [thread, states] of savedByThread) {
      if (db.checkpoints.count(thread) !== states.length) throw new Error(`thread ${thread} has ${db.checkpoints.count(thread)} checkpoints, expected ${states.length} ${where()}`);
      const infos = (await db.checkpoints.list(thread, { limit: 1000 })).reverse();
      for (let seq = 0; seq < states.length; seq++) {
        const loaded = await db.checkpoints.load(thread, { id: infos[seq]!.id });
        if (JSON.stringify(loaded?.state) !== JSON.stringify(states[seq])) throw new Error(`checkpoint ${seq} of ${thread} does not load its state ${where()}`);
      }
    }
    if (db.checkpoints.threadIds().length !== savedByThread.size) throw new Error(`unexpected checkpoint threads ${db.checkpoints.threadIds()} ${where()}`);
    // No duplicate ids (retries wrote nothing).
    const ids = new Set(all.map((event) => event.id));
    if (ids.size !== all.length) throw new Error(`duplicate event ids after retries ${where()}`);
    // Streams: contiguous versions that agree with the log.
    for (const stream of db.events.streamNames()) {
      const events = await db.events.readStream(stream);
      const fromLog = all.filter((event) => event.stream === stream);
      if (events.some((event, version) => event.streamVersion !== version || event.id !== fromLog[version]?.id)) {
        throw new Error(`stream ${stream} versions are not contiguous or disagree with the log ${where()}`);
      }
    }
    const state = summary(all, db);
    const fromSnapshot = db.stats().recovery.snapshot !== undefined;
    await db.close();
    // Whether it opened from a snapshot or not: the same state as a full scan of the log.
    const scanned = await reeldb.open(STORE, { host, onWarning: () => {}, ignoreSnapshots: true, readOnly: true });
    const fromScan = summary(await scanned.events.readAll(), scanned);
    await scanned.close();
    if (fromScan !== state) throw new Error(`recovery from a snapshot differs from a full scan ${where()}`);
    // A second open rebuilds the same state, and the store takes new writes durably.
    const again = await reeldb.open(STORE, { host, onWarning: () => {} });
    const rebuilt = summary(await again.events.readAll(), again);
    if (rebuilt !== state) throw new Error(`a second open rebuilt a different state ${where()}`);
    await again.events.append('after-crash', [{ type: 'check', data: all.length }]);
    // A checkpoint after recovery continues the thread's chain from what survived.
    const afterState = { after: true, events: all.length };
    await again.checkpoints.save('t0', afterState);
    await again.close();
    const third = await reeldb.open(STORE, { host, onWarning: () => {} });
    if (third.events.streamVersion('after-crash') !== 0) throw new Error(`an append after recovery was lost ${where()}`);
    if (JSON.stringify((await third.checkpoints.load('t0'))?.state) !== JSON.stringify(afterState)) throw new Error(`a checkpoint after recovery was lost ${where()}`);
    await third.close();
    return { events: all.length, fromSnapshot };
  } finally {
    if (!db.closed) await db.close();
  }
}

function summary(events: RecordedEvent[], db: Store): string {
  return JSON.stringify([events.map((event) => [event.id, event.position, event.streamVersion]), db.events.headPosition, db.events.streamNames().map((name) => [name, db.events.streamVersion(name)]), db.checkpoints.threadIds().map((thread) => [thread, db.checkpoints.count(thread)])]);
}
