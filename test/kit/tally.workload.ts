/** The kit on an extension primitive (test/kit/tally-primitive.ts, kinds 0xC0–0xC1), registered with `open(path, { primitives })`. */
import fc from 'fast-check';
import type { Store } from '../../js/src/index.node.js';
import { tallyPrimitive, type Tally } from './tally-primitive.js';
import { show, type Workload } from './workload.js';

type Op = { kind: 'add'; name: string; amount: number } | { kind: 'clear'; name: string };

interface Model {
  next: number;
  tallies: Map<string, { total: number; position: number }>;
}

const NAMES = ['alpha', 'beta', 'gamma', 'délta', 'a/long/name/'.repeat(6)];
const tally = (db: Store) => db.primitive<Tally>('tally')!;

const workload: Workload<Op, Model> = {
  name: 'tally',
  open: { primitives: [tallyPrimitive] },
  op: fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), name: fc.constantFrom(...NAMES), amount: fc.integer({ min: 1, max: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const), name: fc.constantFrom(...NAMES) }) },
  ),
  length: 60,
  init: () => ({ next: 0, tallies: new Map() }),
  apply: (db, op) => (op.kind === 'add' ? tally(db).add(op.name, op.amount) : tally(db).clear(op.name)),
  step(model, op) {
    const current = model.tallies.get(op.name);
    if (op.kind === 'clear') {
      if (!current) return 0;
      model.tallies.delete(op.name);
      model.next++;
      return current.total;
    }
    const next = { total: (current?.total ?? 0) + op.amount, position: model.next++ };
    model.tallies.set(op.name, next);
    return next;
  },
  read: async (db) => tally(db).all().map(([name, total]) => [name, total, tally(db).get(name)]),
  expected: (model) =>
    [...model.tallies]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, { total }]) => [name, total, total]),
  badCalls: [
    { what: "add to ''", call: (db) => tally(db).add('', 1), code: 'INVALID_ARGUMENT' },
    { what: 'add 0', call: (db) => tally(db).add('alpha', 0), code: 'INVALID_ARGUMENT' },
    { what: 'add above the largest amount', call: (db) => tally(db).add('alpha', 2_000_000), code: 'INVALID_ARGUMENT' },
    { what: 'add 1.5', call: (db) => tally(db).add('alpha', 1.5), code: 'INVALID_ARGUMENT' },
    { what: 'add a name not in NFC', call: (db) => tally(db).add('de\u0301lta', 1), code: 'INVALID_ARGUMENT' },
    { what: 'clear a number', call: (db) => tally(db).clear(7 as never), code: 'INVALID_ARGUMENT' },
    { what: 'prune with a bad tally rule', call: (db) => db.prune({ tally: { below: -1 } }), code: 'INVALID_ARGUMENT' },
    { what: 'prune with an unknown tally key', call: (db) => db.prune({ tally: { below: 3, above: 1 } }), code: 'INVALID_ARGUMENT' },
  ],
  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(fc.oneof(fc.constant('alpha'), junk), fc.oneof(fc.integer({ min: 1, max: 5 }), junk)).map(([name, amount]) => ({ what: `add(${show(name)}, ${show(amount)})`, call: (db: Store) => tally(db).add(name as string, amount as number) })),
      junk.map((name) => ({ what: `clear(${show(name)})`, call: (db: Store) => tally(db).clear(name as string) })),
      junk.map((rule) => ({ what: `prune({ tally: ${show(rule)} })`, call: (db: Store) => db.prune({ tally: rule }) })),
    ),
  prune: {
    options: () => ({ tally: { below: 30 } }),
    step(model, options) {
      const below = (options.tally as { below: number }).below;
      for (const [name, { total }] of [...model.tallies]) {
        if (total >= below) continue;
        model.tallies.delete(name);
        model.next++;
      }
    },
  },
};

export default workload;
