/**
 * Traces: spans of runs (start/end, record), nesting, incomplete spans after a killed process,
 * query filters and cursors, trees with usage summed, the OTLP/JSON export's shape, reopen
 * (full scan and snapshot + tail agree), spans of deleted runs dropped and pruned, redaction,
 * and bad input that writes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureCommand, quiet, reeldb, runtime, storePath } from './helpers.js';
import type { PrimitiveContext, PrimitiveSpec } from '../js/src/engine/primitive.js';
import { writeNamedEntry } from '../js/src/primitives/named-entry.js';
import { encodeEvent } from '../js/src/primitives/event-codec.js';

const { open } = reeldb;
type Db = Awaited<ReturnType<typeof open>>;

const encoder = new TextEncoder();

/** Every byte of a store's segment files as latin1 text (to look for what must or must not be on disk). */
function diskText(path: string): string {
  return readdirSync(join(path, 'log'))
    .filter((name) => name.endsWith('.seg'))
    .map((name) => readFileSync(join(path, 'log', name)).toString('latin1'))
    .join('');
}

/**
 * A stand-in for the runs primitive's deletion: `deleteRun(id)` writes one record (kind 0xC5)
 * whose apply and recovery call `context.dropRun(id)`, as the runs primitive does.
 */
const KIND_RUN_DELETED = 0xc5;
function runDeleter(): PrimitiveSpec<{ deleteRun(runId: string): Promise<void> }> {
  return {
    name: 'test-run-deleter',
    kinds: [KIND_RUN_DELETED, KIND_RUN_DELETED],
    namedKinds: [KIND_RUN_DELETED],
    section: 250,
    create(context: PrimitiveContext) {
      const positions: number[] = [];
      return {
        api: {
          deleteRun: (runId: string) =>
            context.submit({
              prepare(firstPosition, writer) {
                writeNamedEntry(writer, KIND_RUN_DELETED, encoder.encode(runId), { type: encoder.encode('delete'), id: runId, data: 'null', binary: false }, 0, Date.now());
                return {
                  count: 1,
                  apply() {
                    positions.push(firstPosition);
                    context.dropRun(runId);
                  },
                  result: () => undefined,
                };
              },
            }),
        },
        recover(entry) {
          positions.push(entry.position);
          context.dropRun(entry.name!);
          return undefined;
        },
        captureSection: () => new Uint8Array(new Float64Array(positions).buffer),
        restoreSection(bytes) {
          positions.length = 0;
          positions.push(...new Float64Array(bytes.slice().buffer));
        },
        markLive(mark) {
          positions.forEach(mark);
        },
        fingerprint: () => positions.slice(),
      };
    },
  };
}

function deleter(db: Db) {
  return db.primitive<{ deleteRun(runId: string): Promise<void> }>('test-run-deleter')!;
}

/** Writes raw entries of any kind (to put damaged or unusual trace entries in a store the way a buggy or newer writer would). */
const KIND_RAW_SLOT = 0xc6;
function rawWriter(): PrimitiveSpec<{ write(kind: number, payload: Uint8Array): Promise<void> }> {
  return {
    name: 'test-raw-writer',
    kinds: [KIND_RAW_SLOT, KIND_RAW_SLOT],
    section: 251,
    create(context: PrimitiveContext) {
      return {
        api: {
          write: (kind: number, payload: Uint8Array) =>
            context.submit({
              prepare(_firstPosition, writer) {
                const at = writer.reservePayload(payload.length);
                writer.u8.set(payload, at);
                writer.endPayload(kind, payload.length);
                return { count: 1, result: () => undefined };
              },
            }),
        },
        recover: () => undefined,
        captureSection: () => new Uint8Array(0),
        restoreSection() {},
        markLive() {},
        fingerprint: () => null,
      };
    },
  };
}

/** A trace entry payload: named-entry layout with the header as JSON metadata and `values` as the binary data. */
function traceEntry(spanId: string, runId: string, header: unknown, values = new Uint8Array(20)): Uint8Array {
  return encodeEvent(encoder.encode(spanId), { type: encoder.encode('x'), id: runId, metadata: JSON.stringify(header), data: values, binary: true }, 0, Date.now());
}

/** Awaits a rejection and returns the error. */
async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string; name: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code?: string; message: string; name: string };
  }
  throw new Error('expected a rejection');
}

describe(`traces on ${runtime}`, () => {
  it('start and end a span; get reads input, output and merged attributes from the log', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const traces = db.traces.forRun('run-1');
    expect(traces.runId).toBe('run-1');
    const before = db.stats().entries;
    const span = await traces.start({ kind: 'llm_call', name: 'draft reply', input: { messages: [{ role: 'user', content: 'hi' }] }, attributes: { 'gen_ai.request.model': 'model-a', temperature: 0.2 } });
    expect(span.runId).toBe('run-1');
    expect(typeof span.id).toBe('string');
    expect(db.stats().entries).toBe(before + 1);
    const open1 = await db.traces.get(span.id);
    expect(open1).toMatchObject({ status: 'incomplete', endedAt: undefined, durationMs: undefined, output: undefined, input: { messages: [{ role: 'user', content: 'hi' }] } });
    const summary = await span.end({ output: { text: 'hello' }, usage: { inputTokens: 10, outputTokens: 3, costUsd: 0.0004 }, attributes: { temperature: 0.3, 'gen_ai.response.model': 'model-a-1' } });
    expect(db.stats().entries).toBe(before + 2);
    expect(summary.status).toBe('ok');
    expect(summary.durationMs).toBe(summary.endedAt! - summary.startedAt);
    expect(summary.durationMs).toBeGreaterThanOrEqual(0);
    const full = await db.traces.get(span.id);
    expect(full).toEqual({
      ...summary,
      input: { messages: [{ role: 'user', content: 'hi' }] },
      output: { text: 'hello' },
      error: undefined,
      attributes: { 'gen_ai.request.model': 'model-a', temperature: 0.3, 'gen_ai.response.model': 'model-a-1' },
    });
    expect(full!.usage).toEqual({ inputTokens: 10, outputTokens: 3, costUsd: 0.0004 });
    expect(await db.traces.get('no-such-span')).toBeUndefined();
    expect(db.stats().primitives.traces).toEqual({ spans: 1, runs: 1, incomplete: 0 });
    await db.close();
  });

  it('an error makes the status error; binary input and output read back as bytes; record writes one entry', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const traces = db.traces.forRun('run-2');
    const failing = await traces.start({ kind: 'tool_call', name: 'fetch', input: new Uint8Array([1, 2, 3]) });
    const ended = await failing.end({ error: new TypeError('socket hang up'), output: new Uint8Array([9]) });
    expect(ended.status).toBe('error');
    const read = await db.traces.get(failing.id);
    expect(read!.input).toEqual(new Uint8Array([1, 2, 3]));
    // Bytes are copied at the call: changing the buffer afterwards changes nothing stored.
    const buffer = new Uint8Array([4, 5, 6]);
    const pending = traces.record({ kind: 'tool_call', name: 'bytes', input: buffer, startedAt: 0, endedAt: 1 });
    buffer.fill(0);
    expect((await db.traces.get((await pending).id))!.input).toEqual(new Uint8Array([4, 5, 6]));
    expect(read!.output).toEqual(new Uint8Array([9]));
    expect(read!.error).toEqual({ name: 'TypeError', message: 'socket hang up' });
    const before = db.stats().entries;
    const recorded = await traces.record({ kind: 'retrieval', name: 'vector search', input: 'refund policy', output: ['doc-1', 'doc-2'], startedAt: new Date(5_000), endedAt: 5_042.5, usage: { costUsd: 0.01 } });
    expect(db.stats().entries).toBe(before + 1);
    expect(recorded).toMatchObject({ status: 'ok', startedAt: 5000, endedAt: 5042.5, durationMs: 42.5, usage: { costUsd: 0.01 } });
    expect(await db.traces.get(recorded.id)).toMatchObject({ input: 'refund policy', output: ['doc-1', 'doc-2'], error: undefined, attributes: {} });
    const failed = await traces.record({ kind: 'decision', name: 'route', error: 'no route', startedAt: 1, endedAt: 2 });
    expect(failed.status).toBe('error');
    // An error of null is no error.
    expect((await traces.record({ kind: 'decision', name: 'route', error: null, startedAt: 1, endedAt: 2 })).status).toBe('ok');
    await db.close();
  });

  it('ending twice, ending on a closed store and a parent of another run are typed errors that write nothing', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const a = db.traces.forRun('a');
    const b = db.traces.forRun('b');
    const parent = await a.start({ kind: 'agent', name: 'root' });
    await parent.end();
    const entries = db.stats().entries;
    const again = await rejection(parent.end());
    expect(again.code).toBe('INVALID_ARGUMENT');
    expect(again.message).toContain('already ended');
    const wrongRun = await rejection(b.start({ kind: 'llm_call', name: 'x', parentId: parent.id }));
    expect(wrongRun.code).toBe('INVALID_ARGUMENT');
    expect(wrongRun.message).toContain("run 'a'");
    expect((await rejection(b.record({ kind: 'llm_call', name: 'x', parentId: parent.id, startedAt: 0, endedAt: 1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(a.start({ kind: 'llm_call', name: 'x', parentId: 'missing' }))).code).toBe('INVALID_ARGUMENT');
    expect(db.stats().entries).toBe(entries);
    // Nesting within the run works, to any depth.
    let current = parent.id;
    for (let depth = 0; depth < 5; depth++) current = (await a.start({ kind: 'decision', name: `level ${depth}`, parentId: current })).id;
    const open1 = await a.start({ kind: 'llm_call', name: 'left open' });
    await db.close();
    expect((await rejection(open1.end())).code).toBe('STORE_CLOSED');
    expect((await rejection(a.start({ kind: 'x', name: 'y' }))).code).toBe('STORE_CLOSED');
    expect(() => db.traces.forRun('a')).toThrow(expect.objectContaining({ code: 'STORE_CLOSED' }));
  });

  it('bad input is InvalidArgumentError naming the problem, and nothing is written', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const traces = db.traces.forRun('run');
    const span = await traces.start({ kind: 'llm_call', name: 'ok' });
    const entries = db.stats().entries;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const calls: [string, () => Promise<unknown>][] = [
      ['unknown field', () => traces.start({ kind: 'a', name: 'b', inputs: 1 } as never)],
      ['not an object', () => traces.start('llm_call' as never)],
      ['empty kind', () => traces.start({ kind: '', name: 'b' })],
      ['name not a string', () => traces.start({ kind: 'a', name: 42 as never })],
      ['lone surrogate name', () => traces.start({ kind: 'a', name: 'x\ud800' })],
      ['NaN input', () => traces.start({ kind: 'a', name: 'b', input: { value: NaN } })],
      ['function input', () => traces.start({ kind: 'a', name: 'b', input: { f: () => 1 } })],
      ['cyclic input', () => traces.start({ kind: 'a', name: 'b', input: cyclic })],
      ['attributes array', () => traces.start({ kind: 'a', name: 'b', attributes: [1] as never })],
      ['attributes with a Map', () => traces.start({ kind: 'a', name: 'b', attributes: { m: new Map() } })],
      ['parentId not a string', () => traces.start({ kind: 'a', name: 'b', parentId: 7 as never })],
      ['negative tokens', () => span.end({ usage: { inputTokens: -1 } })],
      ['fractional tokens', () => span.end({ usage: { outputTokens: 1.5 } })],
      ['NaN cost', () => span.end({ usage: { costUsd: NaN } })],
      ['unknown usage field', () => span.end({ usage: { tokens: 3 } as never })],
      ['unknown end field', () => span.end({ outputs: 1 } as never)],
      ['end before start', () => traces.record({ kind: 'a', name: 'b', startedAt: 10, endedAt: 9 })],
      ['string time', () => traces.record({ kind: 'a', name: 'b', startedAt: '2024-01-01' as never, endedAt: 9 })],
      ['missing times', () => traces.record({ kind: 'a', name: 'b' } as never)],
      ['invalid Date', () => traces.record({ kind: 'a', name: 'b', startedAt: new Date(NaN), endedAt: 9 })],
    ];
    for (const [what, call] of calls) {
      const error = await rejection(call());
      expect(error.code, what).toBe('INVALID_ARGUMENT');
      expect(error.message.length, what).toBeGreaterThan(10);
    }
    expect(db.stats().entries).toBe(entries);
    // The span whose end was refused can still end once.
    expect((await span.end({ usage: { inputTokens: 1 } })).status).toBe('ok');
    expect(() => db.traces.forRun('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => db.traces.forRun('x'.repeat(256))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect((await rejection(db.traces.query({ status: 'done' as never }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(db.traces.query({ cursor: 'abc' }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(db.traces.query({ limit: 0 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(db.traces.query({ runid: 'x' } as never))).message).toContain("did you mean 'runId'");
    expect((await rejection(db.traces.exportOtlp('run', { values: false } as never))).code).toBe('INVALID_ARGUMENT');
    await db.close();

    // One entry's values must fit maxEventBytes (measured exactly near the limit: 'é' is 2 bytes).
    const small = await open(storePath(), { durability: 'memory', maxEventBytes: 4096 });
    const run = small.traces.forRun('run');
    const big = await rejection(run.start({ kind: 'a', name: 'b', input: 'é'.repeat(2100) }));
    expect(big.code).toBe('INVALID_ARGUMENT');
    expect(big.message).toContain('maxEventBytes');
    const fits = await run.start({ kind: 'a', name: 'b', input: 'é'.repeat(1500) });
    expect((await small.traces.get(fits.id))!.input).toBe('é'.repeat(1500));
    expect((await rejection(fits.end({ output: new Uint8Array(5000) }))).code).toBe('INVALID_ARGUMENT');
    expect(small.stats().entries).toBe(1);
    await fits.end({ output: new Uint8Array(3000) });
    await small.close();
  });

  it('a span never ended when the process was killed reads as incomplete after reopen', async () => {
    const path = storePath();
    const [command, ...args] = fixtureCommand('trace-crash.mjs');
    const child = spawn(command!, [...args, path, 'crashed-run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stderr!.on('data', (chunk) => (errors += chunk));
    const ids = await new Promise<{ root: string; child: string; recorded: string }>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('\n')) resolve(JSON.parse(output.slice(0, output.indexOf('\n'))));
      });
      child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before it was ready: ${errors}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const db = await open(path, quiet());
    const root = await db.traces.get(ids.root);
    expect(root).toMatchObject({ status: 'incomplete', endedAt: undefined, input: { task: 'sort the inbox' }, kind: 'agent' });
    expect((await db.traces.get(ids.child))!.status).toBe('ok');
    expect((await db.traces.get(ids.recorded))!.status).toBe('ok');
    expect((await db.traces.query({ status: 'incomplete' })).spans.map((span) => span.id)).toEqual([ids.root]);
    const tree = await db.traces.tree('crashed-run');
    expect(tree.incomplete).toBe(1);
    expect(tree.roots.map((node) => node.id)).toEqual([ids.root]);
    expect(tree.roots[0]!.totalUsage).toEqual({ inputTokens: 12, outputTokens: 5, costUsd: 0.001 });
    expect(db.stats().primitives.traces).toMatchObject({ spans: 3, incomplete: 1 });
    await db.close();
  }, 30_000);

  it('query filters by run, kind, name, status, start and duration, newest first, with a cursor that stays valid', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    type Made = { id: string; runId: string; kind: string; name: string; status: string; startedAt: number; durationMs: number | undefined };
    const made: Made[] = [];
    const kinds = ['llm_call', 'tool_call', 'retrieval'];
    for (let index = 0; index < 40; index++) {
      const runId = `run-${index % 3}`;
      const kind = kinds[index % kinds.length]!;
      const name = `step-${index % 4}`;
      const traces = db.traces.forRun(runId);
      if (index % 5 === 4) {
        const span = await traces.start({ kind, name });
        made.push({ id: span.id, runId, kind, name, status: 'incomplete', startedAt: (await db.traces.get(span.id))!.startedAt, durationMs: undefined });
        continue;
      }
      const startedAt = 1_000 * index;
      const durationMs = (index * 37) % 500;
      const error = index % 7 === 0 ? 'boom' : undefined;
      const span = await traces.record({ kind, name, startedAt, endedAt: startedAt + durationMs, error });
      made.push({ id: span.id, runId, kind, name, status: error ? 'error' : 'ok', startedAt, durationMs });
    }
    const newestFirst = made.slice().reverse();
    const cases: [Record<string, unknown>, (span: Made) => boolean][] = [
      [{}, () => true],
      [{ runId: 'run-1' }, (span) => span.runId === 'run-1'],
      [{ kind: 'tool_call' }, (span) => span.kind === 'tool_call'],
      [{ name: 'step-2' }, (span) => span.name === 'step-2'],
      [{ status: 'error' }, (span) => span.status === 'error'],
      [{ status: 'incomplete' }, (span) => span.status === 'incomplete'],
      [{ status: 'ok', runId: 'run-0' }, (span) => span.status === 'ok' && span.runId === 'run-0'],
      [{ startedAfter: 20_000 }, (span) => span.startedAt > 20_000],
      [{ startedAfter: new Date(30_500) }, (span) => span.startedAt > 30_500],
      [{ minDurationMs: 250 }, (span) => span.durationMs !== undefined && span.durationMs >= 250],
      [{ kind: 'llm_call', minDurationMs: 100, runId: 'run-2' }, (span) => span.kind === 'llm_call' && span.durationMs !== undefined && span.durationMs >= 100 && span.runId === 'run-2'],
      [{ runId: 'no-such-run' }, () => false],
    ];
    for (const [filter, matches] of cases) {
      const expected = newestFirst.filter(matches).map((span) => span.id);
      const all = await db.traces.query({ ...filter, limit: 1000 });
      expect(all.spans.map((span) => span.id), JSON.stringify(filter)).toEqual(expected);
      expect(all.cursor).toBeUndefined();
      // Pages of 3 give the same list, the last one with no cursor.
      const paged: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await db.traces.query({ ...filter, limit: 3, cursor });
        expect(page.spans.length).toBeLessThanOrEqual(3);
        paged.push(...page.spans.map((span) => span.id));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      expect(paged, JSON.stringify(filter)).toEqual(expected);
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 3)));
    }
    // Default limit 100; summaries carry no input or output.
    const first = await db.traces.query({ limit: 5 });
    expect(Object.keys(first.spans[0]!).sort()).toEqual(['durationMs', 'endedAt', 'id', 'kind', 'name', 'parentId', 'runId', 'startedAt', 'status', 'usage']);
    // Spans added between pages do not shift the pages after the cursor.
    for (let index = 0; index < 5; index++) await db.traces.forRun('run-0').record({ kind: 'llm_call', name: 'late', startedAt: 0, endedAt: 1 });
    const rest: string[] = [];
    let cursor = first.cursor;
    while (cursor !== undefined) {
      const page = await db.traces.query({ limit: 7, cursor });
      rest.push(...page.spans.map((span) => span.id));
      cursor = page.cursor;
    }
    expect([...first.spans.map((span) => span.id), ...rest]).toEqual(newestFirst.map((span) => span.id));
    expect((await db.traces.query()).spans).toHaveLength(45);
    await db.close();
  });

  it('tree nests spans under their parents sorted by start, with usage summed up the tree', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const traces = db.traces.forRun('tree-run');
    const random = (() => {
      let state = 7;
      return () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
    })();
    type Made = { id: string; parentId: string | undefined; startedAt: number; usage: { inputTokens: number; outputTokens: number; costUsd: number } };
    const made: Made[] = [];
    for (let index = 0; index < 60; index++) {
      const parent = index === 0 || random() < 0.1 ? undefined : made[Math.floor(random() * made.length)]!;
      const startedAt = Math.floor(random() * 10_000);
      const usage = { inputTokens: Math.floor(random() * 100), outputTokens: Math.floor(random() * 50), costUsd: Math.floor(random() * 1000) / 1e6 };
      const span = await traces.record({ kind: 'llm_call', name: `s${index}`, parentId: parent?.id, startedAt, endedAt: startedAt + Math.floor(random() * 500), usage });
      made.push({ id: span.id, parentId: parent?.id, startedAt, usage });
    }
    // A span of another run does not appear.
    await db.traces.forRun('other').record({ kind: 'llm_call', name: 'x', startedAt: 0, endedAt: 1, usage: { inputTokens: 1000 } });
    const tree = await db.traces.tree('tree-run');
    expect(tree.spanCount).toBe(60);
    expect(tree.incomplete).toBe(0);
    const childrenOf = (id: string | undefined) => made.filter((span) => span.parentId === id);
    const subtree = (id: string): Made[] => [made.find((span) => span.id === id)!, ...childrenOf(id).flatMap((child) => subtree(child.id))];
    let visited = 0;
    const check = (nodes: typeof tree.roots, parentId: string | undefined) => {
      expect(nodes.map((node) => node.id).sort()).toEqual(childrenOf(parentId).map((span) => span.id).sort());
      for (let index = 1; index < nodes.length; index++) expect(nodes[index]!.startedAt).toBeGreaterThanOrEqual(nodes[index - 1]!.startedAt);
      for (const node of nodes) {
        visited++;
        const below = subtree(node.id);
        expect(node.descendants).toBe(below.length - 1);
        expect(node.totalUsage.inputTokens).toBe(below.reduce((sum, span) => sum + span.usage.inputTokens, 0));
        expect(node.totalUsage.outputTokens).toBe(below.reduce((sum, span) => sum + span.usage.outputTokens, 0));
        expect(node.totalUsage.costUsd).toBeCloseTo(below.reduce((sum, span) => sum + span.usage.costUsd, 0), 12);
        expect(node.durationMs).toBe(node.endedAt! - node.startedAt);
        check(node.children, node.id);
      }
    };
    check(tree.roots, undefined);
    expect(visited).toBe(60);
    expect(tree.usage.inputTokens).toBe(made.reduce((sum, span) => sum + span.usage.inputTokens, 0));
    expect(tree.startedAt).toBe(Math.min(...made.map((span) => span.startedAt)));
    expect(tree.durationMs).toBe(tree.endedAt! - tree.startedAt!);
    const empty = await db.traces.tree('nothing-here');
    expect(empty).toMatchObject({ spanCount: 0, roots: [], usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 }, durationMs: undefined });
    await db.close();
  });

  it('exportOtlp returns OTLP/JSON: hex ids derived from run and span ids, nanosecond strings, enums as integers, AnyValue attributes', async () => {
    const path = storePath();
    const db = await open(path);
    const traces = db.traces.forRun('otlp-run');
    const root = await traces.start({ kind: 'agent', name: 'support agent', input: { ticket: 42 }, attributes: { 'gen_ai.agent.id': 'agent-7', nested: { a: [1, 'two', true, null, 2.5] } } });
    const llm = await traces.record({ kind: 'llm_call', name: 'chat model-a', parentId: root.id, input: [{ role: 'user', content: 'hi' }], output: 'hello', usage: { inputTokens: 120, outputTokens: 30, costUsd: 0.0021 }, attributes: { 'gen_ai.request.model': 'model-a' }, startedAt: 1_700_000_000_123.456, endedAt: 1_700_000_000_500 });
    const tool = await traces.record({ kind: 'tool_call', name: 'lookup_order', parentId: root.id, input: new Uint8Array([0, 255]), error: { name: 'Timeout', message: 'took too long' }, startedAt: 1_700_000_000_600, endedAt: 1_700_000_001_600 });
    await root.end({ output: { resolved: true } });
    const open1 = await traces.start({ kind: 'decision', name: 'pending' });
    await db.traces.forRun('another-run').record({ kind: 'llm_call', name: 'elsewhere', startedAt: 1, endedAt: 2 });

    const exported = await db.traces.exportOtlp('otlp-run');
    // Plain JSON: survives a round trip unchanged (no undefined, bigint or bytes inside).
    expect(JSON.parse(JSON.stringify(exported))).toEqual(exported);
    expect(Object.keys(exported)).toEqual(['resourceSpans']);
    expect(exported.resourceSpans).toHaveLength(1);
    const resourceSpans = exported.resourceSpans[0]!;
    expect(resourceSpans.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'reeldb' } });
    expect(resourceSpans.scopeSpans).toHaveLength(1);
    expect(resourceSpans.scopeSpans[0]!.scope.name).toBe('reeldb');
    const spans = resourceSpans.scopeSpans[0]!.spans;
    expect(spans).toHaveLength(4);

    // The Span message's fields (opentelemetry-proto trace.proto, lowerCamelCase in JSON).
    const SPAN_FIELDS = ['traceId', 'spanId', 'traceState', 'parentSpanId', 'flags', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'droppedAttributesCount', 'events', 'droppedEventsCount', 'links', 'droppedLinksCount', 'status'];
    const ANY_VALUE_FIELDS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'];
    const checkAnyValue = (anyValue: object) => {
      const value = anyValue as Record<string, unknown>;
      const keys = Object.keys(value);
      expect(keys.length).toBeLessThanOrEqual(1);
      if (keys.length === 0) return;
      const key = keys[0]!;
      expect(ANY_VALUE_FIELDS).toContain(key);
      const inner = value[key];
      if (key === 'stringValue') expect(typeof inner).toBe('string');
      if (key === 'boolValue') expect(typeof inner).toBe('boolean');
      if (key === 'intValue') expect(inner).toMatch(/^-?\d+$/);
      if (key === 'doubleValue') expect(Number.isFinite(inner)).toBe(true);
      if (key === 'bytesValue') expect(inner).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
      if (key === 'arrayValue') for (const item of (inner as { values: object[] }).values) checkAnyValue(item);
      if (key === 'kvlistValue') for (const pair of (inner as { values: { key: string; value: object }[] }).values) checkKeyValue(pair);
    };
    const checkKeyValue = (pair: { key: string; value: object }) => {
      expect(Object.keys(pair).sort()).toEqual(['key', 'value']);
      expect(typeof pair.key).toBe('string');
      checkAnyValue(pair.value);
    };
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (const span of spans) {
      for (const key of Object.keys(span)) expect(SPAN_FIELDS).toContain(key);
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.traceId).not.toMatch(/^0+$/);
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(span.spanId).not.toMatch(/^0+$/);
      traceIds.add(span.traceId);
      spanIds.add(span.spanId);
      expect(span.startTimeUnixNano).toMatch(/^\d+$/);
      expect(span.endTimeUnixNano).toMatch(/^\d+$/);
      expect(BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano)).toBe(true);
      expect(Number.isInteger(span.kind) && span.kind >= 0 && span.kind <= 5).toBe(true);
      expect([0, 1, 2]).toContain(span.status.code);
      expect(typeof span.name).toBe('string');
      const keys = span.attributes.map((pair) => pair.key);
      expect(new Set(keys).size).toBe(keys.length);
      span.attributes.forEach(checkKeyValue);
      for (const event of span.events ?? []) {
        expect(event.timeUnixNano).toMatch(/^\d+$/);
        event.attributes.forEach(checkKeyValue);
      }
    }
    expect(traceIds.size).toBe(1);
    expect(spanIds.size).toBe(4);

    const attribute = (span: (typeof spans)[number], key: string) => span.attributes.find((pair) => pair.key === key)?.value;
    const byName = (name: string) => spans.find((span) => span.name === name)!;
    const rootSpan = byName('support agent');
    const llmSpan = byName('chat model-a');
    const toolSpan = byName('lookup_order');
    const openSpan = byName('pending');
    expect(rootSpan.parentSpanId).toBeUndefined();
    expect(llmSpan.parentSpanId).toBe(rootSpan.spanId);
    expect(toolSpan.parentSpanId).toBe(rootSpan.spanId);
    // Times: milliseconds (microsecond precision) as nanoseconds.
    expect(llmSpan.startTimeUnixNano).toBe('1700000000123456000');
    expect(llmSpan.endTimeUnixNano).toBe('1700000000500000000');
    // GenAI semantic conventions.
    expect(attribute(llmSpan, 'gen_ai.operation.name')).toEqual({ stringValue: 'chat' });
    expect(attribute(llmSpan, 'gen_ai.request.model')).toEqual({ stringValue: 'model-a' });
    expect(attribute(llmSpan, 'gen_ai.usage.input_tokens')).toEqual({ intValue: '120' });
    expect(attribute(llmSpan, 'gen_ai.usage.output_tokens')).toEqual({ intValue: '30' });
    expect(attribute(llmSpan, 'gen_ai.usage.cost')).toEqual({ doubleValue: 0.0021 });
    expect(attribute(llmSpan, 'input.value')).toEqual({ stringValue: JSON.stringify([{ role: 'user', content: 'hi' }]) });
    expect(attribute(llmSpan, 'output.value')).toEqual({ stringValue: 'hello' });
    expect(llmSpan.kind).toBe(3);
    expect(llmSpan.status).toEqual({ code: 1 });
    expect(attribute(toolSpan, 'gen_ai.operation.name')).toEqual({ stringValue: 'execute_tool' });
    expect(attribute(toolSpan, 'gen_ai.tool.name')).toEqual({ stringValue: 'lookup_order' });
    expect(attribute(toolSpan, 'input.value')).toEqual({ bytesValue: 'AP8=' });
    expect(toolSpan.kind).toBe(1);
    expect(toolSpan.status).toEqual({ code: 2, message: 'took too long' });
    expect(toolSpan.events).toEqual([{ timeUnixNano: toolSpan.endTimeUnixNano, name: 'exception', attributes: [{ key: 'exception.message', value: { stringValue: 'took too long' } }, { key: 'exception.type', value: { stringValue: 'Timeout' } }] }]);
    expect(attribute(rootSpan, 'gen_ai.operation.name')).toEqual({ stringValue: 'invoke_agent' });
    expect(attribute(rootSpan, 'nested')).toEqual({ kvlistValue: { values: [{ key: 'a', value: { arrayValue: { values: [{ intValue: '1' }, { stringValue: 'two' }, { boolValue: true }, {}, { doubleValue: 2.5 }] } } }] } });
    expect(attribute(openSpan, 'reeldb.span.status')).toEqual({ stringValue: 'incomplete' });
    expect(openSpan.status).toEqual({ code: 0 });
    expect(openSpan.endTimeUnixNano).toBe(openSpan.startTimeUnixNano);
    expect(attribute(rootSpan, 'reeldb.span.id')).toEqual({ stringValue: root.id });
    expect(attribute(llmSpan, 'reeldb.span.id')).toEqual({ stringValue: llm.id });
    expect(attribute(toolSpan, 'reeldb.span.id')).toEqual({ stringValue: tool.id });

    // Without values, and with a service name.
    const bare = await db.traces.exportOtlp('otlp-run', { includeValues: false, serviceName: 'support-bot' });
    expect(bare.resourceSpans[0]!.resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'support-bot' } }]);
    for (const span of bare.resourceSpans[0]!.scopeSpans[0]!.spans) expect(span.attributes.some((pair) => pair.key === 'input.value' || pair.key === 'output.value')).toBe(false);
    expect((await db.traces.exportOtlp('no-spans')).resourceSpans[0]!.scopeSpans[0]!.spans).toEqual([]);
    await open1.end();
    const ended = await db.traces.exportOtlp('otlp-run');
    await db.close();
    // Deterministic: the same ids and content after reopen.
    const again = await open(path, { readOnly: true });
    expect(await again.traces.exportOtlp('otlp-run')).toEqual(ended);
    await again.close();
  });

  it('reopen by full scan and from a snapshot plus the log after it give the same traces', async () => {
    const path = storePath();
    const db = await open(path);
    const runs = ['r0', 'r1', 'r2'].map((id) => db.traces.forRun(id));
    const openSpans = [];
    for (let index = 0; index < 30; index++) {
      const traces = runs[index % 3]!;
      if (index % 3 === 0) openSpans.push(await traces.start({ kind: 'llm_call', name: `open ${index}`, input: { index }, attributes: { index } }));
      else await traces.record({ kind: 'tool_call', name: `tool ${index}`, input: index, output: index * 2, usage: { inputTokens: index }, startedAt: index, endedAt: index + 3, error: index % 4 === 0 ? 'bad' : undefined });
    }
    await db.snapshot();
    // After the snapshot: end some spans started before it, start and record more.
    for (const span of openSpans.slice(0, 6)) await span.end({ output: 'done', usage: { outputTokens: 2 } });
    const late = await runs[1]!.start({ kind: 'agent', name: 'late' });
    await runs[1]!.record({ kind: 'decision', name: 'child of late', parentId: late.id, startedAt: 50, endedAt: 60 });
    const expected = await db.fingerprint();
    const expectedQuery = await db.traces.query({ limit: 1000 });
    await db.close();
    expect((expected.traces as unknown[]).length).toBe(32);

    const log = quiet();
    const viaSnapshot = await open(path, { readOnly: true, ...log });
    expect(viaSnapshot.stats().recovery.snapshot).toBeDefined();
    const fromSnapshot = await viaSnapshot.fingerprint();
    expect(await viaSnapshot.traces.query({ limit: 1000 })).toEqual(expectedQuery);
    expect(await viaSnapshot.traces.get(late.id)).toMatchObject({ status: 'incomplete', kind: 'agent' });
    await viaSnapshot.close();
    const viaScan = await open(path, { readOnly: true, ignoreSnapshots: true, ...log });
    expect(viaScan.stats().recovery.snapshot).toBeUndefined();
    const fromScan = await viaScan.fingerprint();
    expect(await viaScan.traces.tree('r0')).toEqual(await (async () => {
      const again = await open(path, { readOnly: true, ...log });
      try {
        return await again.traces.tree('r0');
      } finally {
        await again.close();
      }
    })());
    await viaScan.close();
    expect(fromSnapshot.traces).toEqual(expected.traces);
    expect(fromScan.traces).toEqual(expected.traces);
    expect(log.warnings).toEqual([]);
  });

  it("a deleted run's spans leave reads at once and its entries leave the disk at the next prune; other spans stay", async () => {
    const path = storePath();
    const db = await open(path, { primitives: [runDeleter()] });
    const keep = db.traces.forRun('keep');
    const drop = db.traces.forRun('drop');
    const kept = await keep.record({ kind: 'llm_call', name: 'kept', input: 'KEEP-MARKER-1', startedAt: 1, endedAt: 2 });
    const keptOpen = await keep.start({ kind: 'agent', name: 'kept open', input: 'KEEP-MARKER-2' });
    const dropped = await drop.start({ kind: 'agent', name: 'dropped', input: 'DROP-MARKER-1' });
    await drop.record({ kind: 'tool_call', name: 'dropped child', parentId: dropped.id, input: 'DROP-MARKER-2', startedAt: 1, endedAt: 2 });
    await dropped.end({ output: 'DROP-MARKER-3' });
    await db.snapshot();
    const liveHandle = await drop.start({ kind: 'llm_call', name: 'still open when deleted', input: 'DROP-MARKER-4' });

    // Nothing is pruned while no run is deleted.
    const before = await db.fingerprint();
    await db.prune();
    expect(await db.fingerprint()).toEqual(before);
    expect(diskText(path)).toContain('DROP-MARKER-1');

    await deleter(db).deleteRun('drop');
    expect(await db.traces.get(dropped.id)).toBeUndefined();
    expect((await db.traces.query({ runId: 'drop' })).spans).toEqual([]);
    expect((await db.traces.tree('drop')).spanCount).toBe(0);
    expect((await db.traces.query()).spans.map((span) => span.id)).toEqual([keptOpen.id, kept.id]);
    expect((await rejection(liveHandle.end())).message).toContain('deleted');
    expect(db.stats().primitives.traces).toMatchObject({ spans: 2, runs: 1 });

    const afterDelete = await db.fingerprint();
    await db.prune();
    expect(await db.fingerprint()).toEqual(afterDelete);
    const text = diskText(path);
    for (const marker of ['DROP-MARKER-1', 'DROP-MARKER-2', 'DROP-MARKER-3', 'DROP-MARKER-4']) expect(text).not.toContain(marker);
    expect(text).toContain('KEEP-MARKER-1');
    expect(text).toContain('KEEP-MARKER-2');
    await keptOpen.end({ output: 'fine' });
    const final = await db.fingerprint();
    await db.close();

    for (const ignoreSnapshots of [false, true]) {
      const again = await open(path, { readOnly: true, ignoreSnapshots, primitives: [runDeleter()] });
      expect((await again.fingerprint()).traces, `ignoreSnapshots ${ignoreSnapshots}`).toEqual(final.traces);
      expect(await again.traces.get(kept.id)).toMatchObject({ input: 'KEEP-MARKER-1' });
      expect(await again.traces.get(dropped.id)).toBeUndefined();
      await again.close();
    }
  });

  it('recovery refuses trace entries that break the invariants (CorruptionError) and ignores an end of a deleted run and kinds it does not know', async () => {
    const cases: [string, (raw: (kind: number, payload: Uint8Array) => Promise<void>, db: Db) => Promise<void>, string | undefined][] = [
      ['header not JSON', async (raw) => raw(0x50, encodeEvent(encoder.encode('s1'), { type: encoder.encode('x'), id: 'r', metadata: '{nope', data: new Uint8Array(20), binary: true }, 0, 0)), 'not JSON'],
      ['header without a name', async (raw) => raw(0x50, traceEntry('s1', 'r', { kind: 'llm_call', startedAt: 1 })), 'no kind or name'],
      ['started twice', async (raw) => {
        await raw(0x50, traceEntry('s1', 'r', { kind: 'a', name: 'b', startedAt: 1 }));
        await raw(0x50, traceEntry('s1', 'r', { kind: 'a', name: 'b', startedAt: 1 }));
      }, 'again'],
      ['ended twice', async (raw, db) => {
        const span = await db.traces.forRun('r').start({ kind: 'a', name: 'b' });
        await span.end();
        await raw(0x51, traceEntry(span.id, 'r', { endedAt: 5, status: 'ok' }));
      }, 'again'],
      ['ended as another run', async (raw, db) => {
        const span = await db.traces.forRun('r').start({ kind: 'a', name: 'b' });
        await raw(0x51, traceEntry(span.id, 'other', { endedAt: 5, status: 'ok' }));
      }, "as run 'other'"],
      ['bad status', async (raw, db) => {
        const span = await db.traces.forRun('r').start({ kind: 'a', name: 'b' });
        await raw(0x51, traceEntry(span.id, 'r', { endedAt: 5, status: 'fine' }));
      }, 'status'],
      ['an end of an unknown span (a deleted run) and an unknown kind of the range', async (raw) => {
        await raw(0x51, traceEntry('gone', 'r', { endedAt: 5, status: 'ok' }));
        await raw(0x5e, new Uint8Array([1, 2, 3]));
      }, undefined],
    ];
    for (const [what, write, problem] of cases) {
      const path = storePath();
      const db = await open(path, { primitives: [rawWriter()] });
      await write(db.primitive<{ write(kind: number, payload: Uint8Array): Promise<void> }>('test-raw-writer')!.write, db);
      await db.close();
      const reopened = open(path, { ignoreSnapshots: true, primitives: [rawWriter()], ...quiet() });
      if (problem === undefined) {
        const again = await reopened;
        expect(again.stats().primitives.traces, what).toMatchObject({ spans: 0 });
        await again.close();
        continue;
      }
      const error = await rejection(reopened);
      expect(error.code, what).toBe('CORRUPTION');
      expect(error.message, what).toContain(problem);
    }
  });

  it('kind and name are compared in Unicode NFC', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const traces = db.traces.forRun('caf\u00e9');
    await traces.record({ kind: 'd\u00e9cision', name: '\u00c5ngstr\u00f6m', startedAt: 1, endedAt: 2 });
    // The same names in decomposed form (NFD) find it.
    const found = await db.traces.query({ runId: 'cafe\u0301', kind: 'de\u0301cision', name: 'A\u030angstro\u0308m' });
    expect(found.spans).toHaveLength(1);
    expect(found.spans[0]!.name).toBe('\u00c5ngstr\u00f6m');
    expect((await db.traces.tree('cafe\u0301')).spanCount).toBe(1);
    await db.close();
  });

  it('reeldb traces <path> <runId> prints the span tree, --json the tree, --otlp the export; an unknown run is a usage error', async () => {
    const path = storePath();
    const db = await open(path);
    const traces = db.traces.forRun('cli-run');
    const root = await traces.start({ kind: 'agent', name: 'triage' });
    const plan = await traces.start({ kind: 'llm_call', name: 'plan', parentId: root.id });
    await plan.end({ usage: { inputTokens: 1200, outputTokens: 80, costUsd: 0.0125 } });
    const searchAt = Date.now() + 1000;
    await traces.record({ kind: 'tool_call', name: 'search', parentId: root.id, startedAt: searchAt, endedAt: searchAt + 1500, error: 'timeout' });
    await db.close();
    const bin = new URL('../js/bin/reeldb.mjs', import.meta.url).pathname;
    const cli = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const text = cli('traces', path, 'cli-run');
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines.find((line) => line.startsWith('spans'))).toContain('3 (1 incomplete)');
    expect(lines.find((line) => line.startsWith('usage'))).toContain('1,200 in / 80 out tokens, $0.0125');
    const treeStart = lines.findIndex((line) => line.startsWith('agent triage'));
    expect(lines[treeStart]).toContain('[incomplete]');
    expect(lines[treeStart + 1]).toMatch(/^├─ llm_call plan {2}.* · 1,200 in \/ 80 out tokens, \$0\.0125$/);
    expect(lines[treeStart + 2]).toBe('└─ tool_call search [error]  1500 ms');
    const json = cli('traces', path, 'cli-run', '--json');
    expect(json.status).toBe(0);
    const reader = await open(path, { readOnly: true });
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(await reader.traces.tree('cli-run'))));
    const otlp = cli('traces', path, 'cli-run', '--otlp');
    expect(otlp.status).toBe(0);
    expect(JSON.parse(otlp.stdout)).toEqual(await reader.traces.exportOtlp('cli-run'));
    await reader.close();
    const unknown = cli('traces', path, 'no-such-run');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("run 'no-such-run' has no spans");
    expect(cli('traces', path).status).toBe(2);
    expect(cli('traces', path, 'cli-run', '--json', '--otlp').status).toBe(2);
  });

  it('random histories (start, end, record, delete a run, snapshot, prune, reopen) read the same as a model, by scan and by snapshot', async () => {
    for (const seed of [1, 2, 3]) {
      let state = seed * 7919;
      const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
      const path = storePath();
      let db = await open(path, { primitives: [runDeleter()], ...quiet() });
      type Model = { id: string; runId: string; status: 'ok' | 'error' | 'incomplete'; parentId: string | undefined };
      const model: Model[] = [];
      const handles = new Map<string, Awaited<ReturnType<ReturnType<Db['traces']['forRun']>['start']>>>();
      const runIds = ['a', 'b', 'c', 'd'];
      const check = async (where: string) => {
        const page = await db.traces.query({ limit: 100_000 });
        expect(page.spans.map((span) => [span.id, span.runId, span.status, span.parentId]), where).toEqual(model.slice().reverse().map((span) => [span.id, span.runId, span.status, span.parentId]));
      };
      for (let step = 0; step < 70; step++) {
        const roll = random();
        const runId = pick(runIds);
        const traces = db.traces.forRun(runId);
        const parents = model.filter((span) => span.runId === runId);
        const parentId = parents.length > 0 && random() < 0.6 ? pick(parents).id : undefined;
        if (roll < 0.35) {
          const span = await traces.start({ kind: pick(['llm_call', 'tool_call']), name: `s${step}`, input: { step }, parentId });
          handles.set(span.id, span);
          model.push({ id: span.id, runId, status: 'incomplete', parentId });
        } else if (roll < 0.6) {
          const open1 = model.filter((span) => span.status === 'incomplete' && handles.has(span.id));
          if (open1.length === 0) continue;
          const span = pick(open1);
          const error = random() < 0.3 ? 'failed' : undefined;
          await handles.get(span.id)!.end({ output: step, error, usage: { inputTokens: step } });
          handles.delete(span.id);
          span.status = error ? 'error' : 'ok';
        } else if (roll < 0.8) {
          const error = random() < 0.3 ? { message: 'bad' } : undefined;
          const span = await traces.record({ kind: 'decision', name: `r${step}`, parentId, startedAt: step, endedAt: step + 1, error });
          model.push({ id: span.id, runId, status: error ? 'error' : 'ok', parentId });
        } else if (roll < 0.85) {
          await deleter(db).deleteRun(runId);
          for (let index = model.length - 1; index >= 0; index--) if (model[index]!.runId === runId) model.splice(index, 1);
        } else if (roll < 0.9) {
          await db.snapshot();
        } else if (roll < 0.94) {
          await db.prune();
        } else {
          // A reopen: open spans are never ended now (their handles belong to the closed store).
          await db.close();
          handles.clear();
          db = await open(path, { primitives: [runDeleter()], ...quiet() });
        }
        await check(`seed ${seed} step ${step}`);
      }
      const expected = (await db.fingerprint()).traces;
      await db.close();
      for (const ignoreSnapshots of [false, true]) {
        db = await open(path, { readOnly: true, ignoreSnapshots, primitives: [runDeleter()], ...quiet() });
        expect((await db.fingerprint()).traces, `seed ${seed} ignoreSnapshots ${ignoreSnapshots}`).toEqual(expected);
        await check(`seed ${seed} reopened (ignoreSnapshots ${ignoreSnapshots})`);
        await db.close();
      }
    }
  });

  it('redact sees input, output, error and attributes before they are written; secrets never reach the disk', async () => {
    const path = storePath();
    const seen: string[] = [];
    const redact = (value: unknown, where: { primitive: string; field: string }) => {
      if (where.primitive === 'traces') seen.push(where.field);
      return JSON.parse(JSON.stringify(value ?? null).replaceAll(/sk-[a-z0-9]+/g, '[redacted]'));
    };
    const db = await open(path, { redact });
    const traces = db.traces.forRun('secret-run');
    const span = await traces.start({ kind: 'llm_call', name: 'call', input: { apiKey: 'sk-abc123' }, attributes: { header: 'Bearer sk-def456' } });
    await span.end({ output: 'echo sk-ghi789', error: 'failed with sk-jkl012', attributes: { again: 'sk-mno345' } });
    expect(seen).toEqual(['input', 'attributes', 'error', 'output', 'attributes']);
    const read = await db.traces.get(span.id);
    expect(read).toMatchObject({ input: { apiKey: '[redacted]' }, output: 'echo [redacted]', error: 'failed with [redacted]', attributes: { header: 'Bearer [redacted]', again: '[redacted]' }, status: 'error' });
    await db.close();
    expect(diskText(path)).not.toMatch(/sk-[a-z]{3}\d{3}/);
  });
});
