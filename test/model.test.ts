/**
 * Model-based tests: fast-check generates random sequences of API calls (appends with every
 * kind of expected version, idempotent retries, groups of concurrent appends, both reads in
 * both directions, replay, prunes by position and by stream count, snapshots, reopen) and runs
 * them against a store and against a plain in-memory model of what the README promises. After
 * every call the two must agree.
 * REELDB_MODEL_RUNS sets the number of sequences (scripts/reliability-long.mjs raises it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventInput, ExpectedVersion, RecordedEvent, Store } from '../js/src/index.node.js';
import { reeldb, runtime, storePath } from './helpers.js';

const RUNS = Number(process.env.REELDB_MODEL_RUNS ?? (runtime === 'node' ? 150 : 60));
const STREAMS = ['a', 'b', 'c'] as const;

interface ModelEvent {
  id: string;
  stream: string;
  type: string;
  data: unknown;
  metadata: unknown;
  streamVersion: number;
  position: number;
}

/** What the README promises, written as plainly as possible. */
class Model {
  /** Events kept, in log order. */
  log: ModelEvent[] = [];
  /** Positions ever taken (prune keeps them). */
  positions = 0;
  /** Per stream: the events kept (oldest may have been pruned) and its last version. */
  streams = new Map<string, ModelEvent[]>();
  last = new Map<string, number>();

  version(stream: string): number {
    return this.last.get(stream) ?? -1;
  }

  /** Removes events before `before`, and beyond `maxCount` of `stream`; each stream keeps its newest event. */
  prune(before: number, stream?: string, maxCount?: number): number {
    let removed = 0;
    let cutStreams = 0;
    for (const [name, events] of [...this.streams]) {
      let cut = events.filter((event) => event.position < before).length;
      if (name === stream && maxCount !== undefined) cut = Math.max(cut, events.length - maxCount);
      // Every stream keeps its newest event.
      cut = Math.min(cut, events.length - 1);
      if (cut <= 0) continue;
      removed += cut;
      cutStreams++;
      const gone = new Set(events.slice(0, cut).map((event) => event.position));
      this.log = this.log.filter((event) => !gone.has(event.position));
      this.streams.set(name, events.slice(cut));
    }
    // The prune records its decision first: one entry (a position) per stream it cuts.
    this.positions += cutStreams;
    return removed;
  }

  /** Returns the recorded events, or the code of the error the store must throw. */
  append(stream: string, events: EventInput[], expected: ExpectedVersion): ModelEvent[] | { code: string } {
    const recorded = this.streams.get(stream) ?? [];
    const current = this.version(stream);
    const ok = expected === 'any' || (expected === 'no_stream' ? current === -1 : expected === 'stream_exists' ? current >= 0 : current === expected);
    const idsGiven = events.every((event) => event.id !== undefined);
    if (idsGiven && recorded.length > 0 && (!ok || expected === 'any' || expected === 'stream_exists')) {
      const from = typeof expected === 'number' ? expected + 1 : expected === 'no_stream' ? 0 : current - events.length + 1;
      // By version: pruned versions are gone, so a retry of them is not recognised.
      const at = recorded.findIndex((event) => event.streamVersion === from);
      const slice = at >= 0 ? recorded.slice(at, at + events.length) : [];
      if (slice.length === events.length && slice.every((event, index) => event.id === events[index]!.id)) return slice;
    }
    if (!ok) return { code: 'WRONG_EXPECTED_VERSION' };
    const added = events.map((event, index) => ({
      id: event.id!,
      stream,
      type: event.type,
      data: event.data,
      metadata: event.metadata,
      streamVersion: current + 1 + index,
      position: this.positions + index,
    }));
    this.positions += added.length;
    this.log.push(...added);
    this.streams.set(stream, [...recorded, ...added]);
    this.last.set(stream, current + added.length);
    return added;
  }
}

type Expectation = 'any' | 'no_stream' | 'stream_exists' | 'exact' | 'off_by_one';
interface AppendAction {
  kind: 'append';
  stream: string;
  count: number;
  expectation: Expectation;
  binary: boolean;
  metadata: boolean;
}
type Action =
  | AppendAction
  | { kind: 'group'; appends: AppendAction[] }
  | { kind: 'retry'; pick: number }
  | { kind: 'readStream'; stream: string; fromVersion?: number; maxCount?: number; direction: 'forward' | 'backward' }
  | { kind: 'readAll'; fromPosition?: number; maxCount?: number; direction: 'forward' | 'backward' }
  | { kind: 'replay'; fromPosition: number }
  | { kind: 'prune'; before: number }
  | { kind: 'pruneStream'; stream: string; maxCount: number }
  | { kind: 'snapshot' }
  | { kind: 'reopen' };

const appendAction: fc.Arbitrary<AppendAction> = fc.record({
  kind: fc.constant('append' as const),
  stream: fc.constantFrom(...STREAMS),
  count: fc.integer({ min: 1, max: 4 }),
  expectation: fc.constantFrom<Expectation>('any', 'no_stream', 'stream_exists', 'exact', 'exact', 'off_by_one'),
  binary: fc.boolean(),
  metadata: fc.boolean(),
});

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: appendAction },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('group' as const), appends: fc.array(appendAction, { minLength: 2, maxLength: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { kind: fc.constant('readStream' as const), stream: fc.constantFrom(...STREAMS, 'never'), fromVersion: fc.nat(12), maxCount: fc.nat(6), direction: fc.constantFrom('forward' as const, 'backward' as const) },
      { requiredKeys: ['kind', 'stream', 'direction'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { kind: fc.constant('readAll' as const), fromPosition: fc.nat(40), maxCount: fc.nat(8), direction: fc.constantFrom('forward' as const, 'backward' as const) },
      { requiredKeys: ['kind', 'direction'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), fromPosition: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('prune' as const), before: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pruneStream' as const), stream: fc.constantFrom(...STREAMS), maxCount: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

/** The fields a RecordedEvent must share with the model (timestamps are the store's own). */
function comparable(event: RecordedEvent | ModelEvent): ModelEvent {
  return { id: event.id, stream: event.stream, type: event.type, data: event.data, metadata: event.metadata ?? undefined, streamVersion: event.streamVersion, position: event.position };
}

/** Reads by version (readStream) or by position (readAll) over the events kept: pruned ones are skipped. */
function keyedSlice(events: ModelEvent[], key: 'streamVersion' | 'position', from: number | undefined, maxCount: number | undefined, direction: 'forward' | 'backward'): ModelEvent[] {
  const count = maxCount ?? Infinity;
  if (direction === 'forward') return events.filter((event) => event[key] >= (from ?? 0)).slice(0, count);
  return events
    .filter((event) => event[key] <= (from ?? Infinity))
    .reverse()
    .slice(0, count);
}

const tally = { sequences: 0, calls: 0, reopens: 0, prunes: 0 };

async function runSequence(actions: Action[], open: () => Promise<Store>): Promise<void> {
  tally.sequences++;
  tally.calls += actions.length;
  tally.reopens += actions.filter((step) => step.kind === 'reopen').length;
  const model = new Model();
  const sent: { stream: string; events: EventInput[]; expected: ExpectedVersion }[] = [];
  let db = await open();
  let counter = 0;
  const build = (append: AppendAction) => {
    const events: EventInput[] = Array.from({ length: append.count }, (_, index) => {
      const n = counter++;
      return {
        id: `e${n}`,
        type: index % 2 ? 'tool_call' : 'message',
        data: append.binary ? new Uint8Array([n & 255, index, 7]) : { n, text: 'x'.repeat(n % 5), list: [index, null, true] },
        ...(append.metadata ? { metadata: { step: n } } : {}),
      };
    });
    const current = model.version(append.stream);
    const expected: ExpectedVersion =
      append.expectation === 'exact' ? (current < 0 ? 'no_stream' : current) : append.expectation === 'off_by_one' ? current + 1 : append.expectation;
    return { stream: append.stream, events, expected };
  };
  /** Submits appends in one turn (they share a batch) and checks each against the model in order. */
  const submit = async (requests: { stream: string; events: EventInput[]; expected: ExpectedVersion }[]) => {
    const settled = await Promise.allSettled(requests.map((request) => db.events.append(request.stream, request.events, { expectedVersion: request.expected })));
    requests.forEach((request, index) => {
      const want = model.append(request.stream, request.events, request.expected);
      const got = settled[index]!;
      if ('code' in want) {
        expect(got.status).toBe('rejected');
        expect((got as PromiseRejectedResult).reason.code).toBe(want.code);
      } else {
        if (got.status === 'rejected') throw got.reason;
        expect(got.value.map(comparable)).toEqual(want.map(comparable));
        sent.push(request);
      }
    });
  };
  try {
    for (const step of actions) {
      switch (step.kind) {
        case 'append':
          await submit([build(step)]);
          break;
        case 'group': {
          // Expected versions are computed as if each ran alone, so some collide on purpose.
          await submit(step.appends.map(build));
          break;
        }
        case 'retry':
          if (sent.length > 0) await submit([sent[step.pick % sent.length]!]);
          break;
        case 'readStream': {
          const recorded = model.streams.get(step.stream) ?? [];
          const call = db.events.readStream(step.stream, { fromVersion: step.fromVersion, limit: step.maxCount, direction: step.direction });
          if (recorded.length === 0) await expect(call).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
          else expect((await call).map(comparable)).toEqual(keyedSlice(recorded, 'streamVersion', step.fromVersion, step.maxCount, step.direction).map(comparable));
          break;
        }
        case 'readAll': {
          const events = await db.events.readAll({ fromPosition: step.fromPosition, limit: step.maxCount, direction: step.direction });
          expect(events.map(comparable)).toEqual(keyedSlice(model.log, 'position', step.fromPosition, step.maxCount, step.direction).map(comparable));
          break;
        }
        case 'replay': {
          const events: RecordedEvent[] = [];
          for await (const event of db.events.replay({ fromPosition: step.fromPosition })) events.push(event);
          expect(events.map(comparable)).toEqual(model.log.filter((event) => event.position >= step.fromPosition).map(comparable));
          break;
        }
        case 'prune': {
          const result = await db.prune({ events: { beforePosition: step.before } });
          expect(result.events).toBe(model.prune(step.before));
          tally.prunes++;
          break;
        }
        case 'pruneStream': {
          const result = await db.prune({ streams: { [step.stream]: { maxCount: step.maxCount } } });
          expect(result.events).toBe(model.prune(0, step.stream, step.maxCount));
          tally.prunes++;
          break;
        }
        case 'snapshot':
          await db.snapshot();
          break;
        case 'reopen':
          await db.close();
          db = await open();
          break;
      }
      expect(db.events.headPosition).toBe(model.positions - 1);
      for (const stream of STREAMS) expect(db.events.streamVersion(stream)).toBe(model.streams.has(stream) ? model.version(stream) : undefined);
    }
    // Whatever the sequence, a final reopen shows exactly the model's log.
    await db.close();
    db = await open();
    expect((await db.events.readAll()).map(comparable)).toEqual(model.log.map(comparable));
    expect(db.events.streamNames().sort()).toEqual([...model.streams.keys()].sort());
  } finally {
    await db.close();
  }
}

describe(`model-based tests on ${runtime}`, () => {
  it(`${RUNS} random call sequences agree with the model (memory host, strict and buffered)`, { timeout: Math.max(300_000, RUNS * 2_000) }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 40 }), fc.constantFrom('strict' as const, 'buffered' as const), async (actions, durability) => {
        const host = new reeldb.MemoryFileHost();
        // Small segments, so sequences roll segments and recover across them.
        // No crash here, so recovery must never find a torn tail or skip a snapshot.
        const warnings: string[] = [];
        await runSequence(actions, () => reeldb.open('/model.reel', { host, durability, segmentBytes: 2048, snapshotBytes: 1024, onWarning: (warning) => warnings.push(warning) }));
        expect(warnings.filter((warning) => !warning.startsWith('ignored snapshot'))).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('random call sequences agree with the model on the real file system', { timeout: Math.max(300_000, RUNS * 2_000) }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 25 }), async (actions) => {
        const path = storePath();
        await runSequence(actions, () => reeldb.open(path, { segmentBytes: 4096 }));
      }),
      { numRuns: Math.max(5, Math.ceil(RUNS / 10)) },
    );
    console.log(`model-based (${runtime}): ${tally.sequences} random call sequences (fast-check runs and shrinks), ${tally.calls} calls, ${tally.reopens} reopens, ${tally.prunes} prunes; 0 disagreements with the model`);
  });
});
