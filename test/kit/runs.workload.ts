/**
 * Runs in the test kit: begins (some as children of a run), status changes with and without
 * expectedStatus (an ended run's status is final), ends with output or error, events appended
 * to a run's stream, and deletes (refused for a run with children unless recursive). The
 * read-back names runs by id and leaves out times; the prune policy deletes the failed and
 * cancelled runs (those with a child that stays are kept).
 */
import fc from 'fast-check';
import type { RunStatus, Store } from '../../js/src/index.node.js';
import { fails, show, type Workload } from './workload.js';

const IDS = ['r-a', 'r-b', 'r-c', 'r-d', 'r-e'] as const;
const STATUSES: readonly RunStatus[] = ['running', 'paused', 'succeeded', 'failed', 'cancelled'];
const ENDED = new Set<RunStatus>(['succeeded', 'failed', 'cancelled']);

type Op =
  | { kind: 'begin'; id: string; parent: string | undefined; tag: string; input: unknown }
  | { kind: 'status'; id: string; status: RunStatus; expected: RunStatus | undefined }
  | { kind: 'end'; id: string; status: 'succeeded' | 'failed' | 'cancelled'; output: unknown }
  | { kind: 'event'; id: string; data: unknown }
  | { kind: 'delete'; id: string; recursive: boolean };

interface ModelRun {
  parent: string | null;
  tag: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  events: number;
  records: number;
}

interface Model {
  runs: Map<string, ModelRun>;
}

const json = fc.oneof(fc.string({ maxLength: 10 }), fc.integer({ min: -50, max: 50 }), fc.record({ step: fc.nat(20), ok: fc.boolean() }), fc.integer({ min: 200, max: 600 }).map((size) => 'q'.repeat(size)));
const id = fc.constantFrom(...IDS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('begin' as const), id, parent: fc.option(id, { nil: undefined }), tag: fc.constantFrom('x', 'y'), input: json }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('status' as const), id, status: fc.constantFrom(...STATUSES), expected: fc.option(fc.constantFrom(...STATUSES), { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('end' as const), id, status: fc.constantFrom('succeeded' as const, 'failed' as const, 'cancelled' as const), output: json }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('event' as const), id, data: json }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), id, recursive: fc.boolean() }) },
);

/** The run and its descendants in the model. */
function family(model: Model, root: string): string[] {
  return [root, ...[...model.runs].filter(([, run]) => run.parent === root).flatMap(([child]) => family(model, child))];
}

const workload: Workload<Op, Model> = {
  name: 'runs',
  op,
  init: () => ({ runs: new Map() }),

  async apply(db, op) {
    switch (op.kind) {
      case 'begin':
        return (await db.runs.begin({ id: op.id, name: 'agent', tags: [op.tag], input: op.input, ...(op.parent ? { parentRunId: op.parent } : {}) })).id;
      case 'status':
        await db.runs.setStatus(op.id, op.status, op.expected ? { expectedStatus: op.expected } : undefined);
        return (await db.runs.get(op.id))?.status;
      case 'end':
        await db.runs.end(op.id, { status: op.status, output: op.output });
        return (await db.runs.get(op.id))?.status;
      case 'event':
        return (await db.runs.handle(op.id).events.append([{ type: 'step', data: op.data }]))[0]!.streamVersion;
      case 'delete':
        return db.runs.delete(op.id, { recursive: op.recursive });
    }
  },

  step(model, op) {
    const run = model.runs.get(op.id);
    switch (op.kind) {
      case 'begin':
        if (run) return fails('CONFLICT');
        if (op.parent !== undefined && !model.runs.has(op.parent)) return fails('INVALID_ARGUMENT');
        model.runs.set(op.id, { parent: op.parent ?? null, tag: op.tag, status: 'running', input: op.input, output: null, events: 0, records: 1 });
        return op.id;
      case 'status':
      case 'end': {
        if (!run) return fails('INVALID_ARGUMENT');
        if (op.kind === 'status' && op.expected !== undefined && run.status !== op.expected) return fails('CONFLICT');
        if (ENDED.has(run.status)) return fails('CONFLICT');
        if (run.status !== op.status) {
          run.status = op.status;
          run.records++;
          if (op.kind === 'end') run.output = op.output;
        }
        return run.status;
      }
      case 'event':
        if (!run) return fails('INVALID_ARGUMENT');
        return run.events++;
      case 'delete': {
        if (!run) return { runs: 0, entries: 0 };
        const doomed = family(model, op.id);
        if (doomed.length > 1 && !op.recursive) return fails('CONFLICT');
        let entries = 0;
        for (const gone of doomed) {
          entries += model.runs.get(gone)!.records + model.runs.get(gone)!.events;
          model.runs.delete(gone);
        }
        return { runs: doomed.length, entries };
      }
    }
  },

  async read(db) {
    const runs = [];
    let cursor: string | undefined;
    do {
      const page = await db.runs.query({ limit: 3, ...(cursor ? { cursor } : {}) });
      runs.push(...page.runs);
      cursor = page.cursor;
    } while (cursor);
    return runs
      .map((run) => [run.id, run.parentRunId, run.tags, run.status, run.input, run.output, run.counts])
      .sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  },

  expected(model) {
    return [...model.runs]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([runId, run]) => [runId, run.parent, [run.tag], run.status, run.input, run.output, { runs: run.records, ...(run.events > 0 ? { events: run.events } : {}) }]);
  },

  deadEntries: true,

  prune: {
    options: () => ({ runs: { status: ['failed', 'cancelled'] } }),
    step(model) {
      const doomed = new Set([...model.runs].filter(([, run]) => run.status === 'failed' || run.status === 'cancelled').map(([runId]) => runId));
      for (let changed = true; changed; ) {
        changed = false;
        for (const runId of doomed) {
          if ([...model.runs].some(([child, run]) => run.parent === runId && !doomed.has(child))) {
            doomed.delete(runId);
            changed = true;
          }
        }
      }
      for (const runId of doomed) model.runs.delete(runId);
    },
  },

  badCalls: [
    { what: 'begin without a name', call: (db) => db.runs.begin({} as never), code: 'INVALID_ARGUMENT' },
    { what: "begin with id ''", call: (db) => db.runs.begin({ id: '', name: 'a' }), code: 'INVALID_ARGUMENT' },
    { what: 'begin with a 129-byte id', call: (db) => db.runs.begin({ id: 'x'.repeat(129), name: 'a' }), code: 'INVALID_ARGUMENT' },
    { what: 'begin with a control character in the id', call: (db) => db.runs.begin({ id: 'a\nb', name: 'a' }), code: 'INVALID_ARGUMENT' },
    { what: 'begin with an unknown parent', call: (db) => db.runs.begin({ name: 'a', parentRunId: 'no-such-run' }), code: 'INVALID_ARGUMENT' },
    { what: 'begin with a function as input', call: (db) => db.runs.begin({ name: 'a', input: () => 1 }), code: 'INVALID_ARGUMENT' },
    { what: 'begin with a tag twice', call: (db) => db.runs.begin({ name: 'a', tags: ['t', 't'] }), code: 'INVALID_ARGUMENT' },
    { what: 'begin with an unknown option', call: (db) => db.runs.begin({ name: 'a', label: 'x' } as never), code: 'INVALID_ARGUMENT' },
    { what: 'end of an unknown run', call: (db) => db.runs.end('no-such-run', { status: 'succeeded' }), code: 'INVALID_ARGUMENT' },
    { what: "end with status 'running'", call: (db) => db.runs.end('r-a', { status: 'running' as never }), code: 'INVALID_ARGUMENT' },
    { what: 'setStatus to an unknown status', call: (db) => db.runs.setStatus('r-a', 'done' as never), code: 'INVALID_ARGUMENT' },
    { what: 'query with a bad cursor', call: (db) => db.runs.query({ cursor: 'not a cursor' }), code: 'INVALID_ARGUMENT' },
    { what: 'prune with runs: {}', call: (db) => db.prune({ runs: {} }), code: 'INVALID_ARGUMENT' },
  ],

  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(junk, junk).map(([runId, name]) => ({ what: `begin({ id: ${show(runId)}, name: ${show(name)} })`, call: (db: Store) => db.runs.begin({ id: runId as string, name: name as string }) })),
      fc.tuple(fc.oneof(fc.constant('r-a'), junk), junk).map(([runId, status]) => ({ what: `setStatus(${show(runId)}, ${show(status)})`, call: (db: Store) => db.runs.setStatus(runId as string, status as RunStatus) })),
      fc.tuple(fc.oneof(fc.constant('r-a'), junk), junk).map(([runId, options]) => ({ what: `end(${show(runId)}, ${show(options)})`, call: (db: Store) => db.runs.end(runId as string, options as never) })),
      junk.map((options) => ({ what: `query(${show(options)})`, call: (db: Store) => db.runs.query(options as never) })),
      fc.tuple(junk, junk).map(([runId, options]) => ({ what: `delete(${show(runId)}, ${show(options)})`, call: (db: Store) => db.runs.delete(runId as string, options as never) })),
    ),
};

export default workload;
