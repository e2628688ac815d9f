/** The events primitive in the test kit: appends with every kind of expected version, stream deletes, prunes by position and by count. */
import fc from 'fast-check';
import type { ExpectedVersion, Store } from '../../js/src/index.node.js';
import { fails, show, type Workload } from './workload.js';

const STREAMS = ['a', 'b', 'c'] as const;
type Stream = (typeof STREAMS)[number];
/** Relative to the stream's version when the operation runs: 'current' is right, 'stale' is wrong. */
type Expectation = 'any' | 'no_stream' | 'stream_exists' | 'current' | 'stale';

type Op =
  | { kind: 'append'; stream: Stream; expected: Expectation; events: { type: string; data: unknown }[] }
  | { kind: 'delete'; stream: Stream; expected: 'any' | 'current' | 'stale' };

interface ModelEvent {
  position: number;
  version: number;
  type: string;
  data: unknown;
}

interface Model {
  next: number;
  /** In order of creation; a deleted stream leaves (its name starts over at version 0). */
  streams: Map<string, { last: number; events: ModelEvent[] }>;
}

const data = fc.oneof(
  { weight: 8, arbitrary: fc.record({ n: fc.integer({ min: -1000, max: 1000 }), text: fc.string({ maxLength: 12 }) }) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 900 }).map((size) => ({ big: 'x'.repeat(size) })) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, 0, 'text', [1, [2]]) },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      stream: fc.constantFrom(...STREAMS),
      expected: fc.constantFrom<Expectation>('any', 'any', 'current', 'current', 'no_stream', 'stream_exists', 'stale'),
      events: fc.array(fc.record({ type: fc.constantFrom('step', 'note'), data }), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), stream: fc.constantFrom(...STREAMS), expected: fc.constantFrom('any' as const, 'current' as const, 'stale' as const) }) },
);

/** The expected version to pass, from the store's own view of the stream (as a caller would). */
function expectedVersion(db: Store, stream: string, expected: Expectation): ExpectedVersion {
  const version = db.events.streamVersion(stream) ?? -1;
  if (expected === 'current') return version < 0 ? 'no_stream' : version;
  if (expected === 'stale') return version + 1;
  return expected;
}

function modelExpected(model: Model, stream: string, expected: Expectation): ExpectedVersion {
  const version = model.streams.get(stream)?.last ?? -1;
  if (expected === 'current') return version < 0 ? 'no_stream' : version;
  if (expected === 'stale') return version + 1;
  return expected;
}

function matches(expected: ExpectedVersion, current: number): boolean {
  return expected === 'any' || (expected === 'no_stream' ? current === -1 : expected === 'stream_exists' ? current >= 0 : current === expected);
}

const workload: Workload<Op, Model> = {
  name: 'events',
  open: { maxEventBytes: 4096 },
  op,
  init: () => ({ next: 0, streams: new Map() }),

  async apply(db, op) {
    const expected = expectedVersion(db, op.stream, op.expected);
    if (op.kind === 'delete') return db.events.deleteStream(op.stream, { expectedVersion: expected });
    const recorded = await db.events.append(op.stream, op.events, { expectedVersion: expected });
    return recorded.map((event) => [event.position, event.streamVersion]);
  },

  step(model, op) {
    const stream = model.streams.get(op.stream);
    const current = stream?.last ?? -1;
    if (!matches(modelExpected(model, op.stream, op.expected), current)) return fails('WRONG_EXPECTED_VERSION');
    if (op.kind === 'delete') {
      if (!stream) return 0;
      model.streams.delete(op.stream);
      model.next++;
      return stream.events.length;
    }
    const state = stream ?? { last: -1, events: [] };
    model.streams.set(op.stream, state);
    return op.events.map((event) => {
      const recorded = { position: model.next++, version: ++state.last, type: event.type, data: event.data };
      state.events.push(recorded);
      return [recorded.position, recorded.version];
    });
  },

  async read(db) {
    const events = (await db.events.readAll()).map((event) => [event.position, event.stream, event.streamVersion, event.type, event.data]);
    const streams = db.events
      .streamNames()
      .sort()
      .map((name) => [name, db.events.streamVersion(name)]);
    const perStream = [];
    for (const [name] of streams) perStream.push([name, (await db.events.readStream(name as string)).map((event) => event.position)]);
    return { events, streams, perStream };
  },

  expected(model) {
    const all = [...model.streams].flatMap(([name, stream]) => stream.events.map((event) => ({ name, event }))).sort((a, b) => a.event.position - b.event.position);
    const names = [...model.streams.keys()].sort();
    return {
      events: all.map(({ name, event }) => [event.position, name, event.version, event.type, event.data]),
      streams: names.map((name) => [name, model.streams.get(name)!.last]),
      perStream: names.map((name) => [name, model.streams.get(name)!.events.map((event) => event.position)]),
    };
  },

  badCalls: [
    { what: "append to '' (an empty stream name)", call: (db) => db.events.append('', [{ type: 'step', data: 1 }]), code: 'INVALID_ARGUMENT' },
    { what: 'append with an empty type', call: (db) => db.events.append('a', [{ type: '', data: 1 }]), code: 'INVALID_ARGUMENT' },
    { what: 'append of a function as data', call: (db) => db.events.append('a', [{ type: 'step', data: () => 1 }]), code: 'INVALID_ARGUMENT' },
    { what: 'append with a bigint in the data', call: (db) => db.events.append('a', [{ type: 'step', data: { n: 1n } }]), code: 'INVALID_ARGUMENT' },
    { what: 'append where the second event is bad (all or nothing)', call: (db) => db.events.append('a', [{ type: 'step', data: 1 }, { type: 'step', data: Symbol('s') }]), code: 'INVALID_ARGUMENT' },
    { what: 'append with expectedVersion -5', call: (db) => db.events.append('a', [{ type: 'step', data: 1 }], { expectedVersion: -5 }), code: 'INVALID_ARGUMENT' },
    { what: 'append with an unknown option', call: (db) => db.events.append('a', [{ type: 'step', data: 1 }], { expectedVersoin: 0 } as never), code: 'INVALID_ARGUMENT' },
    { what: 'append above maxEventBytes', call: (db) => db.events.append('a', [{ type: 'step', data: 'x'.repeat(5000) }]), code: 'EVENT_TOO_LARGE' },
    { what: 'append with a wrong expected version', call: (db) => db.events.append('a', [{ type: 'step', data: 1 }], { expectedVersion: 100_000 }), code: 'WRONG_EXPECTED_VERSION' },
    { what: "deleteStream('')", call: (db) => db.events.deleteStream(''), code: 'INVALID_ARGUMENT' },
    { what: 'deleteStream with a wrong expected version', call: (db) => db.events.deleteStream('b', { expectedVersion: 100_000 }), code: 'WRONG_EXPECTED_VERSION' },
    { what: 'prune with a negative beforePosition', call: (db) => db.prune({ events: { beforePosition: -1 } }), code: 'INVALID_ARGUMENT' },
    { what: 'prune keeping 0 events of a stream', call: (db) => db.prune({ streams: { a: { keepLast: 0 } } }), code: 'INVALID_ARGUMENT' },
  ],

  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(fc.oneof(fc.constant('a'), junk), fc.oneof(fc.constant([{ type: 'step', data: 1 }]), junk)).map(([stream, events]) => ({ what: `append(${show(stream)}, ${show(events)})`, call: (db: Store) => db.events.append(stream as string, events as never) })),
      fc.tuple(fc.constantFrom('a', 'b'), fc.record({ type: fc.oneof(fc.constant('step'), junk), data: junk })).map(([stream, event]) => ({ what: `append(${stream}, [junk event])`, call: (db: Store) => db.events.append(stream, [event as never]) })),
      fc.tuple(junk).map(([options]) => ({ what: 'append with junk options', call: (db: Store) => db.events.append('a', [{ type: 'step', data: 1 }], options as never) })),
      fc.tuple(junk, junk).map(([stream, options]) => ({ what: 'deleteStream(junk, junk)', call: (db: Store) => db.events.deleteStream(stream as string, options as never) })),
    ),

  prune: {
    // Nearly everything is before the position: most streams keep only their newest event.
    options: (model) => ({ events: { beforePosition: Math.max(0, model.next - 4) }, streams: { a: { keepLast: 2 } } }),
    step(model, options) {
      const before = (options.events as { beforePosition: number }).beforePosition;
      const keep = (options.streams as Record<string, { keepLast: number }>) ?? {};
      let cutStreams = 0;
      for (const [name, stream] of model.streams) {
        let cut = stream.events.filter((event) => event.position < before).length;
        if (keep[name]) cut = Math.max(cut, stream.events.length - keep[name].keepLast);
        // Every stream keeps its newest event.
        cut = Math.min(cut, stream.events.length - 1);
        if (cut <= 0) continue;
        stream.events = stream.events.slice(cut);
        cutStreams++;
      }
      // One cut record per stream cut.
      model.next += cutStreams;
    },
  },
};

export default workload;
