/** State cells (db.state): the API, bad input, concurrency, machines, run scopes, reopen, snapshots, prune. */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { reeldb, storePath, quiet, segmentPaths } from './helpers.js';
import type { PrimitiveContext, PrimitiveSpec, Store } from '../js/src/index.node.js';

const { open, ConflictError, InvalidArgumentError, InvalidTransitionError } = reeldb;
const memory = () => open(`/state-${Math.random()}.reel`, { durability: 'memory' });

/** Rejects with a ReeldbError of `code`, and the store holds as many entries as before. */
async function rejectsWritingNothing(db: Store, call: () => Promise<unknown>, code: string): Promise<Error> {
  const before = db.stats().entries;
  let caught: unknown;
  try {
    await call();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'the call should reject').toBeInstanceOf(reeldb.ReeldbError);
  expect((caught as { code: string }).code).toBe(code);
  expect(db.stats().entries).toBe(before);
  return caught as Error;
}

/** An extension that records every attribution and can drop a run (what the runs primitive does). */
function attributionProbe(): { spec: PrimitiveSpec; seen: [string, number][]; context: () => PrimitiveContext } {
  const seen: [string, number][] = [];
  let saved: PrimitiveContext | undefined;
  const spec: PrimitiveSpec = {
    name: 'probe',
    kinds: [0xc0, 0xc0],
    section: 0x100,
    create(context) {
      saved = context;
      context.onAttribute((runId, position) => seen.push([runId, position]));
      return { api: {}, recover: () => undefined, captureSection: () => new Uint8Array(0), restoreSection: () => undefined, markLive: () => undefined, fingerprint: () => null };
    },
  };
  return { spec, seen, context: () => saved! };
}

describe('state cells: the API', () => {
  test('init, get, set, cas, delete and list; versions are positions of the last write', async () => {
    const db = await memory();
    await db.events.append('s', [{ type: 't', data: 1 }]); // position 0: versions are log positions
    expect(await db.state.get('phase')).toBeUndefined();
    expect(await db.state.init('phase', { step: 1 })).toEqual({ version: 1 });
    expect(await db.state.get('phase')).toEqual({ value: { step: 1 }, version: 1 });
    const init = await db.state.init('phase', { step: 9 }).catch((error) => error);
    expect(init).toBeInstanceOf(ConflictError);
    expect(init.message).toContain("state cell 'phase' already exists (version 1)");
    expect(await db.state.set('phase', { step: 2 })).toEqual({ version: 2 });
    expect(await db.state.cas('phase', 1, { step: 3 })).toEqual({ ok: false, current: { value: { step: 2 }, version: 2 } });
    expect(await db.state.cas('phase', 2, { step: 3 })).toEqual({ ok: true, version: 3 });
    expect(await db.state.cas('missing', 3, 'x')).toEqual({ ok: false, current: undefined });
    expect(await db.state.cas('fresh', null, 'x')).toEqual({ ok: true, version: 4 });
    expect(await db.state.cas('fresh', null, 'y')).toEqual({ ok: false, current: { value: 'x', version: 4 } });
    expect(await db.state.list()).toEqual([
      { name: 'fresh', version: 4 },
      { name: 'phase', version: 3 },
    ]);
    expect(await db.state.list({ prefix: 'ph' })).toEqual([{ name: 'phase', version: 3 }]);
    expect(await db.state.list({ limit: 1 })).toEqual([{ name: 'fresh', version: 4 }]);
    const conflict = await db.state.delete('phase', { expectedVersion: 2 }).catch((error) => error);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict.message).toContain('expected version 2 but it is at version 3');
    expect(await db.state.delete('phase', { expectedVersion: 3 })).toBe(true);
    expect(await db.state.get('phase')).toBeUndefined();
    expect(await db.state.delete('phase')).toBe(false);
    expect(db.stats().entries).toBe(6); // the event, init, set, cas, cas, delete
    // A deleted cell can be created again.
    expect(await db.state.init('phase', 'again')).toEqual({ version: 6 });
    expect(db.stats().primitives.state).toMatchObject({ cells: 2, runCells: 0 });
    await db.close();
  });

  test('values are JSON or bytes, and reads return copies', async () => {
    const db = await memory();
    const bytes = new Uint8Array([1, 2, 3]);
    await db.state.set('blob', bytes);
    bytes[0] = 9; // the caller's array is not the stored one
    const read = await db.state.get<Uint8Array>('blob');
    expect(read!.value).toEqual(new Uint8Array([1, 2, 3]));
    read!.value[1] = 7;
    expect((await db.state.get<Uint8Array>('blob'))!.value).toEqual(new Uint8Array([1, 2, 3]));
    const object = { list: [1, 'two', null], nested: { ok: true } };
    await db.state.set('json', object);
    const first = await db.state.get<typeof object>('json');
    first!.value.list.push(4);
    expect((await db.state.get('json'))!.value).toEqual({ list: [1, 'two', null], nested: { ok: true } });
    // Names are NFC: the decomposed form finds the composed cell.
    await db.state.set('caf\u00e9', 1);
    expect(await db.state.get('cafe\u0301')).toEqual({ value: 1, version: 2 });
    await db.close();
  });

  test('transition reads, applies and writes; on a missing cell it gets undefined', async () => {
    const db = await memory();
    expect(await db.state.transition<number>('count', (value) => (value ?? 0) + 1)).toEqual({ value: 1, version: 0 });
    expect(await db.state.transition<number>('count', (value) => value! + 10)).toEqual({ value: 11, version: 1 });
    expect(await db.state.get('count')).toEqual({ value: 11, version: 1 });
    // What the function throws comes back as it is; nothing is written.
    const boom = new Error('boom');
    await expect(db.state.transition('count', () => { throw boom; })).rejects.toBe(boom);
    expect(db.stats().entries).toBe(2);
    await db.close();
  });

  test('a get while a write is in flight waits for its acknowledgement and sees it', async () => {
    const probe = attributionProbe();
    const db = await open(`/inflight-${Math.random()}.reel`, { durability: 'memory', primitives: [probe.spec] });
    const run = db.state.forRun('r');
    await run.set('c', 1);
    let acknowledged = false;
    let read: Promise<unknown> | undefined;
    // Attribution runs when the write is applied: before it is acknowledged.
    probe.context().onAttribute((_runId, position) => {
      if (position === 1) read = run.get('c').then((cell) => ({ cell, acknowledged }));
    });
    const write = run.set('c', 2).then((result) => ((acknowledged = true), result));
    expect(await write).toEqual({ version: 1 });
    expect(await read).toEqual({ cell: { value: 2, version: 1 }, acknowledged: true });
    await db.close();
  });
});

describe('state cells: bad input writes nothing', () => {
  test('names, values, versions, options and functions', async () => {
    const db = await open(`/bad-${Math.random()}.reel`, { durability: 'memory', maxEventBytes: 4096 });
    await db.state.init('c', 1);
    const invalid = 'INVALID_ARGUMENT';
    await rejectsWritingNothing(db, () => db.state.set('', 1), invalid);
    await rejectsWritingNothing(db, () => db.state.set('x'.repeat(1025), 1), invalid);
    await rejectsWritingNothing(db, () => db.state.set(42 as unknown as string, 1), invalid);
    await rejectsWritingNothing(db, () => db.state.set('bad\ud800', 1), invalid);
    await rejectsWritingNothing(db, () => db.state.set('c', NaN), invalid);
    await rejectsWritingNothing(db, () => db.state.set('c', { when: new Date() }), invalid);
    await rejectsWritingNothing(db, () => db.state.set('c', undefined), invalid);
    await rejectsWritingNothing(db, () => db.state.set('c', 'x'.repeat(5000)), invalid);
    await rejectsWritingNothing(db, () => db.state.init('new'), invalid); // no machine: a value is needed
    await rejectsWritingNothing(db, () => db.state.cas('c', -1, 2), invalid);
    await rejectsWritingNothing(db, () => db.state.cas('c', '0' as unknown as number, 2), invalid);
    await rejectsWritingNothing(db, () => db.state.delete('c', { expectedVersion: 1.5 }), invalid);
    await rejectsWritingNothing(db, () => db.state.delete('c', { expectedVersoin: 0 } as never), invalid);
    await rejectsWritingNothing(db, () => db.state.transition('c', 'inc' as never), invalid);
    await rejectsWritingNothing(db, () => db.state.transition('c', (value) => value, { retries: -1 }), invalid);
    await rejectsWritingNothing(db, () => db.state.transition('c', (value) => value, { retry: 3 } as never), invalid);
    await rejectsWritingNothing(db, () => db.state.transition('c', async (value) => value), invalid);
    await rejectsWritingNothing(db, () => db.state.transition('c', () => ({ bad: Symbol('x') })), invalid);
    await rejectsWritingNothing(db, () => db.state.list({ limit: -1 }), invalid);
    await rejectsWritingNothing(db, () => db.state.list({ prefx: 'a' } as never), invalid);
    expect(() => db.state.forRun('')).toThrow(InvalidArgumentError);
    expect(() => db.state.forRun('r'.repeat(256))).toThrow(InvalidArgumentError);
    expect(() => db.state.defineMachine('m', { initial: 'a' } as never)).toThrow(/transitions must be an object/);
    expect(() => db.state.defineMachine('m', { initial: '', transitions: {} })).toThrow(/initial must be a non-empty string/);
    expect(() => db.state.defineMachine('m', { initial: 'a', transitions: { a: 'b' } } as never)).toThrow(/transitions\['a'\] must be an array/);
    expect(() => db.state.defineMachine('m', { initial: 'a', transitions: { a: [1] } } as never)).toThrow(/transitions\['a'\]\[0\]/);
    expect(() => db.state.defineMachine('m', { initial: 'a', transitions: {}, final: [] } as never)).toThrow(/final/);
    expect(await db.state.get('c')).toEqual({ value: 1, version: 0 });
    await db.close();
    await expect(db.state.get('c')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(db.state.set('c', 2)).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  test('a read-only store refuses writes and follows the writer', async () => {
    const path = storePath();
    const db = await open(path);
    await db.state.set('c', 1);
    const reader = await open(path, { readOnly: true });
    expect(await reader.state.get('c')).toEqual({ value: 1, version: 0 });
    await expect(reader.state.set('c', 2)).rejects.toMatchObject({ code: 'READ_ONLY' });
    // It follows the writer: new writes and deletes, after a prune too.
    await db.state.set('c', 3);
    await db.state.forRun('r').set('d', 4);
    await reader.refresh();
    expect(await reader.state.get('c')).toEqual({ value: 3, version: 1 });
    expect(await reader.state.forRun('r').get('d')).toEqual({ value: 4, version: 2 });
    await db.state.set('c', 5);
    await db.state.forRun('r').delete('d');
    await db.prune({});
    await reader.refresh();
    expect(await reader.state.get('c')).toEqual({ value: 5, version: 3 });
    expect(await reader.state.forRun('r').get('d')).toBeUndefined();
    expect(reader.stats().primitives.state).toMatchObject({ cells: 1 });
    await reader.close();
    await db.close();
  });
});

describe('state cells: concurrency', () => {
  for (const durability of ['memory', 'buffered'] as const) {
    test(`64 concurrent transitions on one cell count every increment once (${durability})`, async () => {
      const db = await open(durability === 'memory' ? `/c-${Math.random()}.reel` : storePath(), { durability });
      await db.state.init('counter', 0);
      const results = await Promise.all(Array.from({ length: 64 }, () => db.state.transition<number>('counter', (value) => value! + 1, { retries: 64 })));
      expect(await db.state.get('counter')).toEqual({ value: 64, version: 64 });
      // Each call wrote one of the values 1..64 exactly once.
      expect(results.map((result) => result.value).sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, index) => index + 1));
      expect(new Set(results.map((result) => result.version)).size).toBe(64);
      expect(db.stats().entries).toBe(65);
      await db.close();
    });
  }

  test('a transition whose retries run out throws ConflictError and writes nothing', async () => {
    const db = await memory();
    await db.state.init('c', 0);
    let attempts = 0;
    const error = await db.state
      .transition<number>(
        'c',
        (value) => {
          attempts++;
          // Another writer gets in first every time.
          void db.state.set('c', 100 + attempts);
          return value! + 1;
        },
        { retries: 2 },
      )
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/changed under each of 3 attempts/);
    expect(attempts).toBe(3);
    // The three sets were written, the transition's value never.
    expect(db.stats().entries).toBe(4);
    expect(await db.state.get('c')).toEqual({ value: 103, version: 3 });
    // retries: 0 tries once.
    const once = await db.state.transition('c', (value) => (void db.state.set('c', 'other'), value), { retries: 0 }).catch((caught) => caught);
    expect(once).toBeInstanceOf(ConflictError);
    expect(once.message).toMatch(/each of 1 attempts/);
    await db.close();
  });

  test('concurrent inits: exactly one wins', async () => {
    const db = await memory();
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, index) => db.state.init('once', index)));
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected' && outcome.reason instanceof ConflictError)).toHaveLength(7);
    expect(db.stats().entries).toBe(1);
    await db.close();
  });
});

describe('state cells: machines', () => {
  const machine = { initial: 'idle', transitions: { idle: ['running'], running: ['paused', 'done', 'failed'], paused: ['running'] } };

  test('allowed transitions pass, forbidden ones are InvalidTransitionError and write nothing', async () => {
    const db = await memory();
    db.state.defineMachine('phase', machine);
    expect(await db.state.init('phase')).toEqual({ version: 0 });
    expect(await db.state.get('phase')).toEqual({ value: 'idle', version: 0 });
    await db.state.set('phase', 'running');
    expect(await db.state.transition('phase', () => 'paused')).toEqual({ value: 'paused', version: 2 });
    const error = (await rejectsWritingNothing(db, () => db.state.set('phase', 'done'), 'INVALID_TRANSITION')) as InstanceType<typeof InvalidTransitionError>;
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ cell: 'phase', runId: undefined, from: 'paused', to: 'done', allowed: ['running'] });
    expect(error.message).toContain(`state cell 'phase': cannot move to "done": it is in state "paused" (allowed: "running"); nothing was written`);
    // transition and cas are checked too (a transition does not retry a forbidden move).
    let calls = 0;
    await rejectsWritingNothing(db, () => db.state.transition('phase', () => (calls++, 'idle'), { retries: 10 }), 'INVALID_TRANSITION');
    expect(calls).toBe(1);
    await rejectsWritingNothing(db, () => db.state.cas('phase', 2, 'failed'), 'INVALID_TRANSITION');
    // A stale cas is a mismatch before it is a machine question.
    expect(await db.state.cas('phase', 0, 'failed')).toEqual({ ok: false, current: { value: 'paused', version: 2 } });
    await db.state.cas('phase', 2, 'running');
    await db.state.set('phase', 'done');
    // A final state allows nothing.
    const final = (await rejectsWritingNothing(db, () => db.state.set('phase', 'running'), 'INVALID_TRANSITION')) as InstanceType<typeof InvalidTransitionError>;
    expect(final).toMatchObject({ from: 'done', to: 'running', allowed: [] });
    // Not a state at all: InvalidArgumentError naming the states.
    const notState = await rejectsWritingNothing(db, () => db.state.set('phase', 'dancing'), 'INVALID_ARGUMENT');
    expect(notState.message).toContain('"idle", "running", "paused", "done", "failed"');
    await rejectsWritingNothing(db, () => db.state.set('phase', { state: 'running' }), 'INVALID_ARGUMENT');
    // Delete always works; the cell starts over.
    expect(await db.state.delete('phase')).toBe(true);
    await db.close();
  });

  test('creating a machine cell: init in any state, other writes only in the initial one', async () => {
    const db = await memory();
    db.state.defineMachine('phase', machine);
    expect(await db.state.init('phase', 'paused')).toEqual({ version: 0 });
    await rejectsWritingNothing(db, () => db.state.init('phase', 'running'), 'CONFLICT');
    const run = db.state.forRun('run-1');
    const created = (await rejectsWritingNothing(db, () => run.set('phase', 'running'), 'INVALID_TRANSITION')) as InstanceType<typeof InvalidTransitionError>;
    expect(created).toMatchObject({ cell: 'phase', runId: 'run-1', from: undefined, to: 'running', allowed: ['idle'] });
    expect(created.message).toContain("state cell 'phase' of run 'run-1'");
    expect(await run.transition('phase', (value) => (value === undefined ? 'idle' : 'running'))).toEqual({ value: 'idle', version: 1 });
    expect(await run.cas('phase', 1, 'running')).toEqual({ ok: true, version: 2 });
    await db.close();
  });

  test('a run may define its own machine for a name; the store-wide one holds elsewhere', async () => {
    const db = await memory();
    db.state.defineMachine('phase', machine);
    const loose = db.state.forRun('loose');
    loose.defineMachine('phase', { initial: 'a', transitions: { a: ['b'], b: ['a'] } });
    await loose.init('phase');
    await loose.set('phase', 'b');
    await rejectsWritingNothing(db, () => loose.set('phase', 'idle'), 'INVALID_ARGUMENT');
    const strict = db.state.forRun('strict');
    await strict.init('phase');
    await rejectsWritingNothing(db, () => strict.set('phase', 'done'), 'INVALID_TRANSITION');
    // A cell written before its machine was defined: its value is not a state.
    await db.state.set('later', 5);
    db.state.defineMachine('later', machine);
    const stale = (await rejectsWritingNothing(db, () => db.state.set('later', 'running'), 'INVALID_TRANSITION')) as InstanceType<typeof InvalidTransitionError>;
    expect(stale).toMatchObject({ from: '5', to: 'running', allowed: [] });
    expect(stale.message).toContain('delete it and init it again');
    await db.close();
  });

  test('machines are code: a reopened store writes freely until they are defined again', async () => {
    const path = storePath();
    let db = await open(path);
    db.state.defineMachine('phase', machine);
    await db.state.init('phase');
    await db.close();
    db = await open(path);
    await db.state.set('phase', 'anything'); // no machine defined in this open
    await db.state.delete('phase');
    db.state.defineMachine('phase', machine);
    await db.state.init('phase');
    await rejectsWritingNothing(db, () => db.state.set('phase', 'done'), 'INVALID_TRANSITION');
    await db.close();
  });
});

describe('state cells: runs', () => {
  test('scopes are isolated, entries are attributed to their run, and a dropped run loses its cells', async () => {
    const probe = attributionProbe();
    const path = storePath();
    let db = await open(path, { primitives: [probe.spec] });
    const a = db.state.forRun('run-a');
    const b = db.state.forRun('run-b');
    expect(a.runId).toBe('run-a');
    expect(db.state.runId).toBeUndefined();
    await db.state.set('phase', 'store');
    const va = await a.set('phase', 'a');
    const vb = await b.init('phase', 'b');
    expect(await db.state.get('phase')).toEqual({ value: 'store', version: 0 });
    expect(await a.get('phase')).toEqual({ value: 'a', version: va.version });
    expect(await b.get('phase')).toEqual({ value: 'b', version: vb.version });
    expect(await a.cas('phase', vb.version, 'x')).toEqual({ ok: false, current: { value: 'a', version: va.version } });
    expect(await a.delete('phase')).toBe(true);
    expect(await b.get('phase')).toEqual({ value: 'b', version: 2 });
    await a.set('other', 1);
    expect(await a.list()).toEqual([{ name: 'other', version: 4 }]);
    expect(await db.state.list()).toEqual([{ name: 'phase', version: 0 }]);
    // Every run-scoped entry (writes and the delete) is attributed; store-wide ones are not.
    const expected: [string, number][] = [
      ['run-a', 1],
      ['run-b', 2],
      ['run-a', 3],
      ['run-a', 4],
    ];
    expect(probe.seen).toEqual(expected);
    await db.close();
    // Recovery attributes them again (a full scan).
    probe.seen.length = 0;
    db = await open(path, { primitives: [probe.spec], ignoreSnapshots: true });
    expect(probe.seen).toEqual(expected);
    expect(db.stats().primitives.state).toMatchObject({ cells: 3, runCells: 2 });
    probe.context().dropRun('run-a');
    expect(await db.state.forRun('run-a').get('other')).toBeUndefined();
    expect(await db.state.forRun('run-b').get('phase')).toEqual({ value: 'b', version: 2 });
    const pruned = await db.prune({});
    // run-a's deleted 'phase' and its dropped 'other' (the delete record goes with them, uncounted).
    expect(pruned.primitives.state!.erased).toBe(2);
    expect(db.stats().kinds.pruned.entries).toBe(3);
    expect(await db.state.forRun('run-b').get('phase')).toEqual({ value: 'b', version: 2 });
    await db.close();
  });
});

describe('state cells: durability, snapshots and prune', () => {
  /** A workload over several segments: overwrites, deletes, run cells, binary values. */
  async function workload(db: Store, rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      await db.state.set(`cell-${round % 7}`, { round, text: 'x'.repeat(200) });
      await db.state.forRun(`run-${round % 3}`).transition<number>('steps', (value) => (value ?? 0) + 1);
      if (round % 5 === 4) await db.state.delete(`cell-${(round + 3) % 7}`);
      if (round % 11 === 0) await db.state.set(`bytes-${round}`, new Uint8Array([round & 255, 1, 2]));
    }
  }

  test('a directory store survives reopen: snapshot + tail and a full scan give the same state', async () => {
    const path = storePath();
    let db = await open(path, { segmentBytes: 16 << 10 });
    await workload(db, 60);
    await db.snapshot();
    await workload(db, 17); // the tail after the snapshot
    const expected = (await db.fingerprint()).state;
    const values = await db.state.get('cell-3');
    await db.close();

    db = await open(path, quiet());
    expect(db.stats().recovery.snapshot).toBeDefined();
    expect((await db.fingerprint()).state).toEqual(expected);
    expect(await db.state.get('cell-3')).toEqual(values);
    expect(await db.state.forRun('run-1').get('steps')).toEqual({ value: 26, version: expect.any(Number) });
    await db.close();

    db = await open(path, { ignoreSnapshots: true });
    expect(db.stats().recovery.snapshot).toBeUndefined();
    expect((await db.fingerprint()).state).toEqual(expected);
    // It goes on writing where it left off.
    await db.state.forRun('run-1').transition<number>('steps', (value) => value! + 1);
    expect((await db.state.forRun('run-1').get('steps'))!.value).toBe(27);
    await db.close();
  });

  test('a state section that does not decode is refused (open then scans the log)', async () => {
    const db = await memory();
    await db.state.set('a', 1);
    await db.state.forRun('r').set('b', 2);
    type Index = { captureSection(): Uint8Array; restoreSection(bytes: Uint8Array): void; fingerprint(): Promise<unknown> };
    const index = (db as unknown as { registry: { get(name: string): { instance: Index } } }).registry.get('state').instance;
    const section = index.captureSection().slice();
    const expected = await index.fingerprint();
    expect(() => index.restoreSection(section.subarray(0, section.length - 3))).toThrow(/ends early/);
    const longer = new Uint8Array(section.length + 1);
    longer.set(section);
    expect(() => index.restoreSection(longer)).toThrow(/unexpected bytes/);
    // The same cell twice (the layout of docs/FORMAT.md §16.x).
    const writer = new reeldb.SectionWriter();
    writer.u32(2);
    for (const position of [0, 1]) {
      writer.u32(0);
      writer.align(4);
      writer.u32(1);
      writer.raw(new Uint8Array([0x61]));
      writer.align(8);
      writer.f64(position);
    }
    expect(() => index.restoreSection(writer.done())).toThrow(/listed twice/);
    index.restoreSection(section);
    expect(await index.fingerprint()).toEqual(expected);
    await db.close();
  });

  test('prune keeps current values and erases overwritten and deleted ones', async () => {
    const path = storePath();
    let db = await open(path, { segmentBytes: 16 << 10 });
    await workload(db, 80);
    const before = (await db.fingerprint()).state as { name: string; runId: string; value: unknown }[];
    const cells = db.stats().primitives.state!.cells!;
    const entries = db.stats().entries;
    const result = await db.prune({});
    // Everything but the current values (and what the newest segment still holds) goes.
    expect(result.primitives.state!.erased).toBeGreaterThan(entries / 2);
    expect(result.primitives.state!.removed).toBe(0);
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore / 2);
    expect(db.stats().kinds.pruned.entries).toBeGreaterThan(entries / 2);
    expect(db.stats().primitives.state!.cells).toBe(cells);
    expect((await db.fingerprint()).state).toEqual(before);
    for (const cell of before) {
      const scope = cell.runId === '' ? db.state : db.state.forRun(cell.runId);
      expect(await scope.get(cell.name)).toBeDefined();
    }
    expect((await db.state.get('cell-1'))!.value).toMatchObject({ round: 78 });
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { ignoreSnapshots });
      expect((await db.fingerprint()).state).toEqual(before);
      expect((await db.state.get('cell-1'))!.value).toMatchObject({ round: 78 });
      await db.close();
    }
  });

  test('after reopen, a check that needs the current value reads it from the log', async () => {
    const path = storePath();
    let db = await open(path);
    await db.state.set('plain', { n: 1 });
    await db.state.forRun('r').set('phase', 'running');
    await db.close();
    db = await open(path);
    expect(db.stats().primitives.state).toMatchObject({ cells: 2, cachedValues: 0 });
    // A stale cas reports the current value: read in commit order, nothing written.
    expect(await db.state.cas('plain', 99, { n: 2 })).toEqual({ ok: false, current: { value: { n: 1 }, version: 0 } });
    db.state.defineMachine('phase', { initial: 'idle', transitions: { idle: ['running'], running: ['done'] } });
    const run = db.state.forRun('r');
    await expect(run.set('phase', 'idle')).rejects.toMatchObject({ code: 'INVALID_TRANSITION', from: 'running', to: 'idle' });
    expect(db.stats().entries).toBe(2);
    expect(await run.set('phase', 'done')).toEqual({ version: 2 });
    await db.close();
  });

  test('values beyond the cache are read back from the log', async () => {
    const db = await memory();
    const big = (index: number) => `${index}:`.padEnd(1 << 20, String.fromCharCode(97 + index));
    for (let index = 0; index < 12; index++) await db.state.set(`big-${index}`, big(index));
    const stats = db.stats().primitives.state!;
    expect(stats.cachedValues).toBeLessThan(12);
    expect(stats.cachedBytes).toBeLessThanOrEqual(8 << 20);
    for (let index = 0; index < 12; index++) expect((await db.state.get(`big-${index}`))!.value).toBe(big(index));
    // A stale cas on an evicted cell still reports its value.
    const cas = await db.state.cas('big-0', 5, 'x');
    expect(cas).toEqual({ ok: false, current: { value: big(0), version: 0 } });
    await db.close();
  });

  test('strict durability: writes are acknowledged once durable and read back after reopen', async () => {
    const path = storePath();
    let db = await open(path, { durability: 'strict' });
    await Promise.all(Array.from({ length: 16 }, () => db.state.transition<number>('n', (value) => (value ?? 0) + 1, { retries: 16 })));
    await db.close();
    db = await open(path);
    expect(await db.state.get('n')).toEqual({ value: 16, version: 15 });
    await db.close();
  });

  test('redact is applied to every value before it is written: the secret never reaches the disk', async () => {
    const path = storePath();
    const secret = 'sk-proj-' + 'a1B2c3D4e5F6g7H8i9J0kLmNoP';
    const db = await open(path, { redact: reeldb.redactSecrets });
    await db.state.set('config', { apiKey: 'plain-looking', model: 'm' });
    await db.state.forRun('r').init('note', `call with ${secret}`);
    expect(await db.state.get('config')).toEqual({ value: { apiKey: reeldb.REDACTED, model: 'm' }, version: 0 });
    expect(await db.state.transition('config', (value) => value)).toMatchObject({ value: { apiKey: reeldb.REDACTED } });
    expect((await db.state.forRun('r').get('note'))!.value).toBe(`call with ${reeldb.REDACTED}`);
    await db.close();
    const bytes = segmentPaths(path).map((file) => readFileSync(file).toString('latin1')).join('');
    expect(bytes).toContain('config');
    expect(bytes).not.toContain(secret);
    expect(bytes).not.toContain('plain-looking');
  });
});
