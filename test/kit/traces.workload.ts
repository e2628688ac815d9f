/**
 * Traces in the test kit: spans recorded whole (given times, ok or error, usage) and spans
 * started and never ended (incomplete), in two runs, each optionally a child of its run's
 * newest span. Span ids are random and a started span's time is the clock's: the read-back
 * names spans by their order and shows times only for recorded spans.
 */
import fc from 'fast-check';
import type { SpanSummary, Store } from '../../js/src/index.node.js';
import { show, type Workload } from './workload.js';

const RUNS = ['run-a', 'run-b'] as const;
const T0 = Date.UTC(2026, 0, 1);

type Op =
  | { kind: 'record'; run: string; span: string; name: string; child: boolean; input: unknown; output: unknown; error: string | undefined; start: number; duration: number; tokens: number | undefined }
  | { kind: 'start'; run: string; span: string; name: string; child: boolean; input: unknown };

interface ModelSpan {
  run: string;
  kind: string;
  name: string;
  parent: number | null;
  recorded: Extract<Op, { kind: 'record' }> | undefined;
  input: unknown;
}

interface Model {
  spans: ModelSpan[];
}

const json = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.record({ q: fc.string({ maxLength: 8 }), k: fc.nat(9) }), fc.integer({ min: 200, max: 700 }).map((size) => 'p'.repeat(size)));
const common = { run: fc.constantFrom(...RUNS), span: fc.constantFrom('llm_call', 'tool_call', 'retrieval'), name: fc.constantFrom('plan', 'search', 'answer'), child: fc.boolean(), input: json };
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('record' as const),
      ...common,
      output: json,
      error: fc.option(fc.constantFrom('timeout', 'rate limited'), { nil: undefined }),
      start: fc.nat(10_000),
      duration: fc.nat(5_000),
      tokens: fc.option(fc.nat(4000), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('start' as const), ...common }) },
);

/** Every span, oldest first (pages of the query, newest first, reversed). */
async function allSpans(db: Store): Promise<SpanSummary[]> {
  const spans: SpanSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await db.traces.query({ limit: 7, ...(cursor ? { cursor } : {}) });
    spans.push(...page.spans);
    cursor = page.cursor;
  } while (cursor);
  return spans.reverse();
}

const newestOf = (spans: readonly { runId?: string; run?: string }[], run: string) => {
  for (let index = spans.length - 1; index >= 0; index--) if ((spans[index]!.runId ?? spans[index]!.run) === run) return index;
  return -1;
};

const workload: Workload<Op, Model> = {
  name: 'traces',
  op,
  // Spans are never overwritten or deleted here (only a run's deletion drops them).
  deadEntries: false,
  init: () => ({ spans: [] }),

  async apply(db, op) {
    const spans = op.child ? await allSpans(db) : [];
    const parent = op.child ? newestOf(spans, op.run) : -1;
    const base = { kind: op.span, name: op.name, input: op.input, ...(parent >= 0 ? { parentId: spans[parent]!.id } : {}) };
    if (op.kind === 'start') {
      const span = await db.traces.forRun(op.run).start(base);
      return span.runId;
    }
    const summary = await db.traces.forRun(op.run).record({
      ...base,
      output: op.output,
      ...(op.error ? { error: op.error } : {}),
      ...(op.tokens !== undefined ? { usage: { inputTokens: op.tokens, outputTokens: 1, costUsd: op.tokens / 1000 } } : {}),
      startedAt: T0 + op.start,
      endedAt: T0 + op.start + op.duration,
    });
    return [summary.status, summary.durationMs];
  },

  step(model, op) {
    const parent = op.child ? newestOf(model.spans, op.run) : -1;
    model.spans.push({ run: op.run, kind: op.span, name: op.name, parent: parent >= 0 ? parent : null, recorded: op.kind === 'record' ? op : undefined, input: op.input });
    return op.kind === 'start' ? op.run : [op.error ? 'error' : 'ok', op.duration];
  },

  async read(db) {
    const spans = await allSpans(db);
    const order = new Map(spans.map((span, index) => [span.id, index]));
    const out = [];
    for (const span of spans) {
      const detail = (await db.traces.get(span.id))!;
      const ended = span.endedAt !== undefined;
      out.push([span.runId, span.kind, span.name, span.parentId === undefined ? null : order.get(span.parentId), span.status, ended ? [span.startedAt, span.endedAt, span.usage ?? null] : null, detail.input, detail.output ?? null, detail.error ?? null]);
    }
    const trees = [];
    for (const run of RUNS) trees.push(JSON.stringify((await db.traces.tree(run)).roots?.length ?? null));
    return { spans: out, trees };
  },

  expected(model) {
    const spans = model.spans.map((span) => {
      const recorded = span.recorded;
      const times = recorded ? [T0 + recorded.start, T0 + recorded.start + recorded.duration, recorded.tokens !== undefined ? { inputTokens: recorded.tokens, outputTokens: 1, costUsd: recorded.tokens / 1000 } : null] : null;
      return [span.run, span.kind, span.name, span.parent, recorded ? (recorded.error ? 'error' : 'ok') : 'incomplete', times, span.input, recorded ? recorded.output : null, recorded?.error ?? null];
    });
    const trees = RUNS.map((run) => {
      const roots = model.spans.filter((span) => span.run === run && span.parent === null).length;
      return JSON.stringify(roots);
    });
    return { spans, trees };
  },

  badCalls: [
    { what: "forRun('')", call: (db) => db.traces.forRun('').record({ kind: 'llm_call', name: 'x', startedAt: T0, endedAt: T0 }), code: 'INVALID_ARGUMENT' },
    { what: 'record without a kind', call: (db) => db.traces.forRun('run-a').record({ name: 'x', startedAt: T0, endedAt: T0 } as never), code: 'INVALID_ARGUMENT' },
    { what: 'record ending before it starts', call: (db) => db.traces.forRun('run-a').record({ kind: 'llm_call', name: 'x', startedAt: T0 + 10, endedAt: T0 }), code: 'INVALID_ARGUMENT' },
    { what: 'record with negative tokens', call: (db) => db.traces.forRun('run-a').record({ kind: 'llm_call', name: 'x', startedAt: T0, endedAt: T0, usage: { inputTokens: -1 } }), code: 'INVALID_ARGUMENT' },
    { what: 'record with an unknown field', call: (db) => db.traces.forRun('run-a').record({ kind: 'llm_call', name: 'x', startedAt: T0, endedAt: T0, outptu: 1 } as never), code: 'INVALID_ARGUMENT' },
    { what: 'start with a function as input', call: (db) => db.traces.forRun('run-a').start({ kind: 'tool_call', name: 'x', input: () => 1 }), code: 'INVALID_ARGUMENT' },
    { what: 'start with attributes that are not an object', call: (db) => db.traces.forRun('run-a').start({ kind: 'tool_call', name: 'x', attributes: 5 as never }), code: 'INVALID_ARGUMENT' },
    { what: 'start under a parent that does not exist', call: (db) => db.traces.forRun('run-a').start({ kind: 'tool_call', name: 'x', parentId: 'no-such-span' }), code: 'INVALID_ARGUMENT' },
  ],

  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(fc.oneof(fc.constant('run-a'), junk), junk).map(([run, input]) => ({ what: `forRun(${show(run)}).start(${show(input)})`, call: (db: Store) => db.traces.forRun(run as string).start(input as never) })),
      fc.tuple(junk, junk, junk).map(([kind, startedAt, usage]) => ({ what: `record(kind ${show(kind)}, startedAt ${show(startedAt)}, usage ${show(usage)})`, call: (db: Store) => db.traces.forRun('run-b').record({ kind: kind as string, name: 'n', startedAt: startedAt as number, endedAt: T0 + 1e12, usage: usage as never }) })),
      fc.tuple(junk).map(([query]) => ({ what: `query(${show(query)})`, call: (db: Store) => db.traces.query(query as never) })),
    ),
};

export default workload;
