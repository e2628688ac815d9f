/** State cells in the test kit: init, set, cas (right, stale and absent versions), transitions and deletes, in the store's scope and a run's. */
import fc from 'fast-check';
import type { Store } from '../../js/src/index.node.js';
import { fails, show, type Workload } from './workload.js';

const SCOPES = ['', 'run-1'] as const;
const CELLS = ['phase', 'plan', 'count', 'nested/cell'] as const;
type Scope = (typeof SCOPES)[number];
type Version = 'current' | 'stale' | 'absent';

type Op =
  | { kind: 'init' | 'set'; scope: Scope; cell: string; value: unknown }
  | { kind: 'cas'; scope: Scope; cell: string; expected: Version; value: unknown }
  | { kind: 'transition'; scope: Scope; cell: string; add: number }
  | { kind: 'delete'; scope: Scope; cell: string; expected: 'any' | 'current' | 'stale' };

interface Model {
  next: number;
  /** `${scope}\u0000${cell}` → the cell. */
  cells: Map<string, { value: unknown; version: number }>;
}

const value = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(fc.integer({ min: -100, max: 100 }), fc.string({ maxLength: 10 }), fc.record({ step: fc.nat(50), done: fc.boolean() })) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 900 }).map((size) => ({ blob: 'z'.repeat(size) })) },
);
const target = { scope: fc.constantFrom(...SCOPES), cell: fc.constantFrom(...CELLS) };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('init' as const, 'set' as const), ...target, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cas' as const), ...target, expected: fc.constantFrom<Version>('current', 'current', 'stale', 'absent'), value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('transition' as const), ...target, add: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), ...target, expected: fc.constantFrom('any' as const, 'current' as const, 'stale' as const) }) },
);

const cells = (db: Store, scope: Scope) => (scope === '' ? db.state : db.state.forRun(scope));
const key = (scope: string, cell: string) => `${scope}\u0000${cell}`;

const workload: Workload<Op, Model> = {
  name: 'state',
  op,
  init: () => ({ next: 0, cells: new Map() }),

  async apply(db, op) {
    const scope = cells(db, op.scope);
    const current = await scope.get(op.cell);
    switch (op.kind) {
      case 'init':
        return scope.init(op.cell, op.value);
      case 'set':
        return scope.set(op.cell, op.value);
      case 'cas':
        return scope.cas(op.cell, op.expected === 'absent' ? null : op.expected === 'current' ? (current?.version ?? null) : (current?.version ?? 0) + 1, op.value);
      case 'transition':
        return scope.transition(op.cell, (value) => (typeof value === 'number' ? value : 0) + op.add);
      case 'delete':
        return scope.delete(op.cell, op.expected === 'any' ? undefined : { expectedVersion: op.expected === 'current' ? (current?.version ?? 0) : (current?.version ?? 0) + 1 });
    }
  },

  step(model, op) {
    const id = key(op.scope, op.cell);
    const current = model.cells.get(id);
    const write = (value: unknown) => {
      const cell = { value, version: model.next++ };
      model.cells.set(id, cell);
      return cell;
    };
    switch (op.kind) {
      case 'init':
        return current ? fails('CONFLICT') : { version: write(op.value).version };
      case 'set':
        return { version: write(op.value).version };
      case 'cas': {
        const expected = op.expected === 'absent' ? null : op.expected === 'current' ? (current?.version ?? null) : (current?.version ?? 0) + 1;
        if ((current?.version ?? null) !== expected) return { ok: false, current };
        return { ok: true, version: write(op.value).version };
      }
      case 'transition': {
        const cell = write((typeof current?.value === 'number' ? current.value : 0) + op.add);
        return { value: cell.value, version: cell.version };
      }
      case 'delete': {
        if (op.expected !== 'any') {
          const expected = op.expected === 'current' ? (current?.version ?? 0) : (current?.version ?? 0) + 1;
          if (current?.version !== expected) return fails('CONFLICT');
        }
        if (!current) return false;
        model.cells.delete(id);
        model.next++;
        return true;
      }
    }
  },

  async read(db) {
    const out = [];
    for (const scope of SCOPES) {
      for (const { name, version } of await cells(db, scope).list()) out.push([scope, name, version, (await cells(db, scope).get(name))?.value]);
    }
    return out;
  },

  expected(model) {
    return [...model.cells]
      .map(([id, cell]) => [...id.split('\u0000'), cell.version, cell.value])
      .sort((a, b) => (a[0] !== b[0] ? ((a[0] as string) < (b[0] as string) ? -1 : 1) : (a[1] as string) < (b[1] as string) ? -1 : (a[1] as string) > (b[1] as string) ? 1 : 0));
  },

  badCalls: [
    { what: "init('')", call: (db) => db.state.init('', 1), code: 'INVALID_ARGUMENT' },
    { what: 'set of a function', call: (db) => db.state.set('plan', () => 1), code: 'INVALID_ARGUMENT' },
    { what: 'set of a bigint', call: (db) => db.state.set('plan', { n: 1n }), code: 'INVALID_ARGUMENT' },
    { what: 'cas with expectedVersion -1', call: (db) => db.state.cas('plan', -1, 1), code: 'INVALID_ARGUMENT' },
    { what: 'cas with expectedVersion 1.5', call: (db) => db.state.cas('plan', 1.5, 1), code: 'INVALID_ARGUMENT' },
    { what: 'transition whose next returns a promise', call: (db) => db.state.transition('count', () => Promise.resolve(1)), code: 'INVALID_ARGUMENT' },
    { what: 'transition whose next returns a function', call: (db) => db.state.transition('count', () => () => 1), code: 'INVALID_ARGUMENT' },
    { what: 'transition with an unknown option', call: (db) => db.state.transition('count', () => 1, { retry: 2 } as never), code: 'INVALID_ARGUMENT' },
    { what: 'delete with a wrong expected version', call: (db) => db.state.delete('phase', { expectedVersion: 1_000_000 }), code: 'CONFLICT' },
    { what: 'delete with an unknown option', call: (db) => db.state.delete('phase', { version: 1 } as never), code: 'INVALID_ARGUMENT' },
    { what: "forRun('')", call: (db) => db.state.forRun('').set('a', 1), code: 'INVALID_ARGUMENT' },
    { what: 'a cell name holding a lone surrogate', call: (db) => db.state.set('\ud800', 1), code: 'INVALID_ARGUMENT' },
  ],

  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(fc.oneof(fc.constant('plan'), junk), fc.oneof(fc.constant({ ok: 1 }), junk)).map(([name, value]) => ({ what: `set(${show(name)}, ${show(value)})`, call: (db: Store) => db.state.set(name as string, value) })),
      fc.tuple(junk, junk).map(([version, value]) => ({ what: `cas('plan', ${show(version)}, ${show(value)})`, call: (db: Store) => db.state.cas('plan', version as number, value) })),
      fc.tuple(fc.oneof(fc.constant('count'), junk), junk).map(([name, options]) => ({ what: `delete(${show(name)}, ${show(options)})`, call: (db: Store) => db.state.delete(name as string, options as never) })),
      fc.tuple(junk, junk).map(([name, value]) => ({ what: `init(${show(name)}, ${show(value)})`, call: (db: Store) => db.state.init(name as string, value) })),
      junk.map((run) => ({ what: `forRun(${show(run)})`, call: (db: Store) => db.state.forRun(run as string).set('a', 1) })),
    ),
};

export default workload;
