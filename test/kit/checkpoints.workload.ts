/** The checkpoints primitive in the test kit: saves of growing states (full and delta encodings), thread deletes, keepLast prunes. */
import fc from 'fast-check';
import type { Store } from '../../js/src/index.node.js';
import { fails, show, type Workload } from './workload.js';

const THREADS = ['t0', 't1', 't2'] as const;

type Op = { kind: 'save'; thread: string; items: number; note: string; big: boolean } | { kind: 'delete'; thread: string };

interface Model {
  next: number;
  /** Per thread: the next seq and the checkpoints kept (oldest first). */
  threads: Map<string, { seq: number; kept: { seq: number; position: number; state: unknown }[] }>;
}

/** A state that shares most of itself with the thread's previous ones, so saves are often deltas. */
function stateOf(op: Extract<Op, { kind: 'save' }>) {
  return { note: op.note, items: Array.from({ length: op.items }, (_, index) => `item ${index}${op.big ? ' '.repeat(40) : ''}`) };
}

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('save' as const), thread: fc.constantFrom(...THREADS), items: fc.integer({ min: 0, max: 30 }), note: fc.string({ maxLength: 8 }), big: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), thread: fc.constantFrom(...THREADS) }) },
);

const workload: Workload<Op, Model> = {
  name: 'checkpoints',
  open: { maxCheckpointBytes: 8192 },
  op,
  init: () => ({ next: 0, threads: new Map() }),

  async apply(db, op) {
    if (op.kind === 'delete') return db.checkpoints.delete(op.thread);
    const info = await db.checkpoints.save(op.thread, stateOf(op));
    return [info.seq, info.position];
  },

  step(model, op) {
    const thread = model.threads.get(op.thread);
    if (op.kind === 'delete') {
      if (!thread || thread.kept.length === 0) return 0;
      model.threads.delete(op.thread);
      model.next++;
      return thread.kept.length;
    }
    const state = thread ?? { seq: 0, kept: [] };
    model.threads.set(op.thread, state);
    const saved = { seq: state.seq++, position: model.next++, state: stateOf(op) };
    state.kept.push(saved);
    return [saved.seq, saved.position];
  },

  async read(db) {
    const threads = [];
    for (const thread of db.checkpoints.threadIds().sort()) {
      const infos = (await db.checkpoints.list(thread, { limit: 1000 })).reverse();
      const checkpoints = [];
      for (const info of infos) checkpoints.push([info.seq, info.position, (await db.checkpoints.load(thread, { id: info.id }))?.state]);
      threads.push([thread, db.checkpoints.count(thread), (await db.checkpoints.load(thread))?.info.seq, checkpoints]);
    }
    return threads;
  },

  expected(model) {
    return [...model.threads.keys()]
      .sort()
      .filter((name) => model.threads.get(name)!.kept.length > 0)
      .map((name) => {
        const kept = model.threads.get(name)!.kept;
        return [name, kept.length, kept[kept.length - 1]!.seq, kept.map((checkpoint) => [checkpoint.seq, checkpoint.position, checkpoint.state])];
      });
  },

  badCalls: [
    { what: "save to '' (an empty thread id)", call: (db) => db.checkpoints.save('', { a: 1 }), code: 'INVALID_ARGUMENT' },
    { what: 'save of a function', call: (db) => db.checkpoints.save('t0', () => 1), code: 'INVALID_ARGUMENT' },
    { what: 'save of a state holding a bigint', call: (db) => db.checkpoints.save('t0', { n: 1n }), code: 'INVALID_ARGUMENT' },
    { what: 'save of a state holding undefined in an array', call: (db) => db.checkpoints.save('t0', [undefined]), code: 'INVALID_ARGUMENT' },
    { what: 'save with metadata that is not an object', call: (db) => db.checkpoints.save('t0', { a: 1 }, { metadata: 5 as never }), code: 'INVALID_ARGUMENT' },
    { what: 'save with an unknown option', call: (db) => db.checkpoints.save('t0', { a: 1 }, { metdata: {} } as never), code: 'INVALID_ARGUMENT' },
    { what: 'save above maxCheckpointBytes', call: (db) => db.checkpoints.save('t0', { text: 'x'.repeat(9000) }), code: 'INVALID_ARGUMENT' },
    { what: "delete('')", call: (db) => db.checkpoints.delete(''), code: 'INVALID_ARGUMENT' },
    { what: 'delete with an option', call: (db) => db.checkpoints.delete('t0', { force: true } as never), code: 'INVALID_ARGUMENT' },
    { what: 'prune keeping 0 checkpoints', call: (db) => db.prune({ checkpoints: { keepLast: 0 } }), code: 'INVALID_ARGUMENT' },
    { what: 'prune with a negative maxAgeMs', call: (db) => db.prune({ checkpoints: { maxAgeMs: -1 } }), code: 'INVALID_ARGUMENT' },
  ],

  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(fc.oneof(fc.constant('t0'), junk), fc.oneof(fc.constant({ ok: 1 }), junk)).map(([thread, state]) => ({ what: `save(${show(thread)}, ${show(state)})`, call: (db: Store) => db.checkpoints.save(thread as string, state) })),
      fc.tuple(junk).map(([options]) => ({ what: `save with options ${show(options)}`, call: (db: Store) => db.checkpoints.save('t1', { ok: 1 }, options as never) })),
      fc.tuple(junk, junk).map(([thread, options]) => ({ what: `delete(${show(thread)}, ${show(options)})`, call: (db: Store) => db.checkpoints.delete(thread as string, options as never) })),
      fc.tuple(junk).map(([retention]) => ({ what: `prune({ checkpoints: ${show(retention)} })`, call: (db: Store) => db.prune({ checkpoints: retention as never }) })),
    ),

  prune: {
    options: () => ({ checkpoints: { keepLast: 2 } }),
    step(model, options) {
      const keepLast = (options.checkpoints as { keepLast: number }).keepLast;
      let cutThreads = 0;
      for (const thread of model.threads.values()) {
        if (thread.kept.length <= keepLast) continue;
        thread.kept = thread.kept.slice(-keepLast);
        cutThreads++;
      }
      // One cut record per thread cut.
      model.next += cutThreads;
    },
  },
};

export default workload;
