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
}

function quietOptions(durability: Durability) {
  return { durability, segmentBytes: 1536, syncIntervalMs: 1, syncBytes: 2048, onWarning: () => {} } as const;
}

/** Runs the workload until it ends or the host crashes; never throws for injected faults. */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadRun> {
  const random = new Random(options.seed * 7919 + 17);
  const host = new FaultyFileHost({ seed: options.seed, ...options.plan });
  const sent: SentCommit[] = [];
  const run: WorkloadRun = { host, sent, syncedPosition: 0, operations: 0, crashed: false, openFailed: false };
  let db: Store;
  try {
    db = await reeldb.open(STORE, { host, ...quietOptions(options.durability) });
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
  for (let index = 0; index < commits && !failed; ) {
    // Sometimes several commits at once (group commit), sometimes one.
    const group = random.next() < 0.3 ? 2 + random.integer(3) : 1;
    const started: Promise<void>[] = [];
    for (let member = 0; member < group && index < commits; member++, index++) {
      const previous = sent.length > 0 && random.next() < 0.15 ? sent[random.integer(sent.length)] : undefined;
      if (previous && previous.acknowledged && previous.retryOf === undefined) {
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
export async function checkRecovered(run: WorkloadRun, durability: Durability): Promise<{ events: number }> {
  const host = run.host.afterCrash();
  const where = () => `(seed plan ${JSON.stringify(run.host.plan)}, ${run.operations} operations)`;
  const db = await reeldb.open(STORE, { host, onWarning: () => {} });
  try {
    const all = await db.events.readAll();
    // The sequence that may be in the log: every commit that is not a retry, in send order.
    const expected: { commit: number; event: SentCommit['events'][number]; stream: string }[] = [];
    const commitEnds = new Set<number>([0]);
    run.sent.forEach((commit, index) => {
      if (commit.retryOf !== undefined) return;
      for (const event of commit.events) expected.push({ commit: index, event, stream: commit.stream });
      commitEnds.add(expected.length);
    });
    if (all.length > expected.length) throw new Error(`recovered ${all.length} events but only ${expected.length} were sent ${where()}`);
    all.forEach((event, index) => {
      const want = expected[index]!;
      if (event.position !== index) throw new Error(`position hole: event ${index} has position ${event.position} ${where()}`);
      if (event.id !== want.event.id || event.stream !== want.stream || JSON.stringify(event.data) !== JSON.stringify(want.event.data)) {
        throw new Error(`recovered log is not a prefix of what was sent at ${index}: got ${event.id}, want ${want.event.id} ${where()}`);
      }
    });
    if (!commitEnds.has(all.length)) throw new Error(`a partial frame: the log ends inside a commit at ${all.length} ${where()}`);
    // Acknowledged commits must survive.
    run.sent.forEach((commit, index) => {
      if (!commit.acknowledged || commit.retryOf !== undefined) return;
      const last = commit.events[commit.events.length - 1]!.id;
      const at = expected.findIndex((entry) => entry.event.id === last);
      const mustSurvive = durability === 'strict' || at < run.syncedPosition;
      if (mustSurvive && at >= all.length) throw new Error(`acknowledged commit ${index} (${last}) was lost ${where()}`);
    });
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
    await db.close();
    // A second open rebuilds the same state, and the store takes new writes durably.
    const again = await reeldb.open(STORE, { host, onWarning: () => {} });
    const rebuilt = summary(await again.events.readAll(), again);
    if (rebuilt !== state) throw new Error(`a second open rebuilt a different state ${where()}`);
    await again.events.append('after-crash', [{ type: 'check', data: all.length }]);
    await again.close();
    const third = await reeldb.open(STORE, { host, onWarning: () => {} });
    if (third.events.streamVersion('after-crash') !== 0) throw new Error(`an append after recovery was lost ${where()}`);
    await third.close();
    return { events: all.length };
  } finally {
    if (!db.closed) await db.close();
  }
}

function summary(events: RecordedEvent[], db: Store): string {
  return JSON.stringify([events.map((event) => [event.id, event.position, event.streamVersion]), db.events.headPosition, db.events.streamNames().map((name) => [name, db.events.streamVersion(name)])]);
}
