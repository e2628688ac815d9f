/**
 * Runs (`db.runs`): begin, end, status changes, query with filters and a cursor, children,
 * delete of a run with everything attributed to it, runs left running by a crash, snapshot +
 * tail against a full scan, and prune by the runs policy.
 */
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { fixtureCommand, reeldb, runtime, storePath, temporaryDirectory } from './helpers.js';
import type { PrimitiveSpec, PrimitiveContext } from '../js/src/engine/primitive.js';
import { decodeNamedEntry, writeNamedEntry } from '../js/src/primitives/named-entry.js';

const { open, ConflictError, InvalidArgumentError } = reeldb;
type Db = Awaited<ReturnType<typeof open>>;

/** A small extension primitive whose entries belong to runs (as kv, state cells and spans do): it attributes them. */
interface Notes {
  forRun(runId: string): { add(text: string): Promise<number> };
  list(): string[];
}
const KIND_NOTE = 0xc0;
const encoder = new TextEncoder();
const notesPrimitive: PrimitiveSpec<Notes> = {
  name: 'notes',
  kinds: [0xc0, 0xc0],
  namedKinds: [KIND_NOTE],
  section: 0xc0,
  create(context: PrimitiveContext) {
    const notes = new Map<number, { runId: string; text: string }>();
    const api: Notes = {
      forRun: (runId) => ({
        add: (text) =>
          context.submit<number>({
            prepare: (position, writer) => {
              writeNamedEntry(writer, KIND_NOTE, encoder.encode('note'), { type: encoder.encode('add'), id: runId, data: JSON.stringify(text), binary: false }, 0, Date.now());
              return {
                count: 1,
                apply: () => {
                  notes.set(position, { runId, text });
                  context.attribute(runId, position);
                },
                result: (at) => at,
              };
            },
          }),
      }),
      list: () => [...notes.values()].map((note) => note.text),
    };
    return {
      api,
      recover(entry) {
        const payload = entry.payload();
        const decoded = decodeNamedEntry(payload, 0, payload.length, entry.position);
        notes.set(entry.position, { runId: decoded.id, text: decoded.data as string });
        if (decoded.id !== '') context.attribute(decoded.id, entry.position);
        return undefined;
      },
      captureSection: () => encoder.encode(JSON.stringify([...notes])),
      restoreSection(bytes) {
        notes.clear();
        if (bytes.length > 0) for (const [position, note] of JSON.parse(new TextDecoder().decode(bytes))) notes.set(position, note);
      },
      markLive: (mark) => {
        for (const position of notes.keys()) mark(position);
      },
      fingerprint: () => [...notes].sort((a, b) => a[0] - b[0]),
      dropRun(runId) {
        for (const [position, note] of notes) if (note.runId === runId) notes.delete(position);
      },
    };
  },
};

function everyFile(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? everyFile(path) : [path];
  });
}

function filesHolding(directory: string, secret: string): string[] {
  const needle = Buffer.from(secret);
  return everyFile(directory).filter((path) => readFileSync(path).includes(needle));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`runs on ${runtime}`, () => {
  it('begins, ends and reports a run with its values, counts and positions', async () => {
    const db = await open(storePath(), { durability: 'memory', primitives: [notesPrimitive] });
    const run = await db.runs.begin({ name: 'researcher', tags: ['nightly', 'v2'], metadata: { model: 'm1' }, input: { question: 'why?' } });
    expect(run.id).toMatch(/^run_[0-9A-HJKMNP-TV-Z]{26}$/);
    let info = (await db.runs.get(run.id))!;
    expect(info).toMatchObject({ id: run.id, name: 'researcher', status: 'running', parentRunId: null, tags: ['nightly', 'v2'], metadata: { model: 'm1' }, input: { question: 'why?' }, output: null, error: null, endedAt: null, durationMs: null });
    expect(info.counts).toEqual({ runs: 1 });

    const appended = await run.events.append([{ type: 'thought', data: { text: 'a' } }, { type: 'tool', data: { name: 'search' } }]);
    const saved = await run.checkpoints.save({ step: 1 });
    const noted = await db.primitive<Notes>('notes')!.forRun(run.id).add('a fact');
    await db.events.append('elsewhere', [{ type: 'other', data: 1 }]);
    expect((await run.events.read()).map((event) => event.type)).toEqual(['thought', 'tool']);
    expect((await run.checkpoints.load())!.state).toEqual({ step: 1 });
    await sleep(2);
    await run.end({ status: 'succeeded', output: new Uint8Array([1, 2, 3]) });

    info = (await db.runs.get(run.id))!;
    expect(info.status).toBe('succeeded');
    expect(info.output).toEqual(new Uint8Array([1, 2, 3]));
    expect(info.endedAt! - info.startedAt).toBe(info.durationMs);
    expect(info.durationMs).toBeGreaterThanOrEqual(2);
    expect(info.counts).toEqual({ runs: 2, events: 2, checkpoints: 1, notes: 1 });
    const positions = db.runs.positions(run.id);
    expect(positions).toEqual([info.firstPosition, appended[0]!.position, appended[1]!.position, saved.position, noted, info.lastPosition]);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(db.stats().primitives.runs).toMatchObject({ runs: 1, succeeded: 1, running: 0 });
    await db.close();
  });

  it('takes an Error as error, redacts values, and keeps binary input and metadata', async () => {
    const seen: string[] = [];
    const redact = (value: unknown, where: { primitive: string; field: string }) => {
      if (where.primitive === 'runs') seen.push(where.field);
      return typeof value === 'string' ? value.replace(/sk-[a-z0-9]+/g, '[secret]') : value;
    };
    const path = storePath();
    const db = await open(path, { durability: 'buffered', redact });
    const run = await db.runs.begin({ id: 'r1', name: 'agent', input: 'key sk-abc123', metadata: new Uint8Array([9]) });
    await run.end({ status: 'failed', error: new TypeError('no sk-zzz9 here'), output: 'sk-out1' });
    expect(seen.sort()).toEqual(['error', 'input', 'metadata', 'output']);
    const info = (await db.runs.get('r1'))!;
    expect(info).toMatchObject({ status: 'failed', input: 'key [secret]', metadata: new Uint8Array([9]), output: '[secret]', error: { name: 'TypeError', message: 'no sk-zzz9 here' } });
    await db.close();
    expect(filesHolding(path, 'sk-abc123')).toEqual([]);
  });

  it('changes status: pause and resume, expectedStatus, and an ended run is final', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const run = await db.runs.begin({ id: 'job', name: 'worker' });
    await db.runs.setStatus('job', 'paused', { expectedStatus: 'running' });
    expect((await db.runs.get('job'))!.status).toBe('paused');
    const head = db.events.headPosition;
    await expect(db.runs.setStatus('job', 'running', { expectedStatus: 'running' })).rejects.toThrow(ConflictError);
    await db.runs.setStatus('job', 'paused'); // already paused: nothing written
    expect(db.events.headPosition).toBe(head);
    await run.setStatus('running');
    await run.end({ status: 'cancelled' });
    const ended = db.events.headPosition;
    for (const attempt of [() => db.runs.setStatus('job', 'running'), () => run.end({ status: 'succeeded' }), () => db.runs.setStatus('job', 'cancelled')]) {
      const error = await attempt().catch((caught) => caught);
      expect(error).toBeInstanceOf(ConflictError);
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toMatch(/ended \(cancelled\).*final/);
    }
    expect(db.events.headPosition).toBe(ended);
    expect((await db.runs.get('job'))!.status).toBe('cancelled');
    // setStatus to an ending status ends the run.
    await db.runs.begin({ id: 'job2', name: 'worker' });
    await db.runs.setStatus('job2', 'failed');
    expect((await db.runs.get('job2'))!).toMatchObject({ status: 'failed', output: null });
    expect((await db.runs.get('job2'))!.endedAt).not.toBeNull();
    await db.close();
  });

  it('bad input is a typed error and writes nothing', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    await db.runs.begin({ id: 'exists', name: 'a' });
    const head = db.events.headPosition;
    const bad: [() => Promise<unknown>, RegExp][] = [
      [() => db.runs.begin(undefined as never), /needs options/],
      [() => db.runs.begin({} as never), /name must be a string/],
      [() => db.runs.begin({ name: '' }), /name must be 1 to 1024/],
      [() => db.runs.begin({ name: 'a', id: '' }), /id must be 1 to 128/],
      [() => db.runs.begin({ name: 'a', id: 'x'.repeat(129) }), /id must be 1 to 128/],
      [() => db.runs.begin({ name: 'a', id: 'tab\there' }), /control characters/],
      [() => db.runs.begin({ name: 'a', id: '\ud800' }), /lone surrogate/],
      [() => db.runs.begin({ name: 'a', tags: 'x' as never }), /tags must be an array/],
      [() => db.runs.begin({ name: 'a', tags: ['x', 'x'] }), /appears twice/],
      [() => db.runs.begin({ name: 'a', input: { when: new Date() } }), /input/],
      [() => db.runs.begin({ name: 'a', metadata: NaN }), /metadata/],
      [() => db.runs.begin({ name: 'a', parentRunId: 'nope' }), /parentRunId 'nope' is not a run/],
      [() => db.runs.begin({ name: 'a', nmae: 'typo' } as never), /nmae/],
      [() => db.runs.end('exists', { status: 'running' as never }), /status must be one of 'succeeded'/],
      [() => db.runs.end('exists', { status: 'succeeded', output: () => 1 }), /output/],
      [() => db.runs.end('missing', { status: 'succeeded' }), /run 'missing' does not exist/],
      [() => db.runs.setStatus('exists', 'done' as never), /status must be one of/],
      [() => db.runs.setStatus('exists', 'paused', { expectedStatus: 'nope' as never }), /expectedStatus/],
      [() => db.runs.delete('exists', { recursive: 'yes' as never }), /recursive/],
      [() => db.runs.query({ status: 'done' as never }), /status/],
      [() => db.runs.query({ limit: -1 }), /limit/],
      [() => db.runs.query({ cursor: 'garbage!' }), /cursor/],
      [() => db.runs.query({ startedAfter: 'yesterday' as never }), /startedAfter/],
    ];
    for (const [call, message] of bad) {
      const error = await call().catch((caught) => caught);
      expect(error, String(message)).toBeInstanceOf(reeldb.ReeldbError);
      expect(error.message).toMatch(message);
    }
    await expect(db.runs.begin({ id: 'exists', name: 'again' })).rejects.toThrow(ConflictError);
    await expect(db.runs.begin({ name: 'a', input: new Uint8Array(2000) })).resolves.toBeDefined();
    const large = await open(storePath(), { durability: 'memory', maxEventBytes: 1024 });
    await expect(large.runs.begin({ name: 'a', input: 'x'.repeat(2000) })).rejects.toMatchObject({ code: 'EVENT_TOO_LARGE' });
    expect(large.events.headPosition).toBe(-1);
    await large.close();
    expect(db.events.headPosition).toBe(head + 1);
    expect(() => db.runs.handle('missing')).toThrow(InvalidArgumentError);
    await db.close();
  });

  it('queries newest first with filters, and a cursor that stays valid while runs are added', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    const made: string[] = [];
    for (let index = 0; index < 30; index++) {
      const run = await db.runs.begin({ name: index % 3 === 0 ? 'planner' : 'coder', tags: index % 2 === 0 ? ['even'] : ['odd'], input: index });
      made.push(run.id);
      if (index % 5 === 0) await run.end({ status: index % 10 === 0 ? 'failed' : 'succeeded' });
    }
    const newestFirst = [...made].reverse();
    const all = await db.runs.query({ limit: 1000 });
    expect(all.runs.map((run) => run.id)).toEqual(newestFirst);
    expect(all.cursor).toBeUndefined();
    const input = (ids: { input: unknown }[]) => ids.map((run) => run.input);
    expect(input((await db.runs.query({ name: 'planner' })).runs)).toEqual([27, 24, 21, 18, 15, 12, 9, 6, 3, 0]);
    expect(input((await db.runs.query({ status: 'failed' })).runs)).toEqual([20, 10, 0]);
    expect(input((await db.runs.query({ status: ['failed', 'succeeded'] })).runs)).toEqual([25, 20, 15, 10, 5, 0]);
    expect(input((await db.runs.query({ status: 'running', tag: 'even', name: 'planner' })).runs)).toEqual([24, 18, 12, 6]);
    expect((await db.runs.query({ tag: 'none' })).runs).toEqual([]);
    const times = all.runs.map((run) => run.startedAt);
    const middle = times[15]!;
    const after = (await db.runs.query({ startedAfter: middle, limit: 1000 })).runs;
    expect(after.every((run) => run.startedAt > middle)).toBe(true);
    expect(after.length).toBe(times.filter((time) => time > middle).length);
    const before = (await db.runs.query({ startedBefore: middle, limit: 1000 })).runs;
    expect(before.map((run) => run.id)).toEqual(all.runs.filter((run) => run.startedAt < middle).map((run) => run.id));

    // Pages of 7, with runs begun between pages: every run of the first listing once, in order.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await db.runs.query({ limit: 7, cursor });
      paged.push(...page.runs.map((run) => run.id));
      cursor = page.cursor;
      await db.runs.begin({ name: 'late' });
    } while (cursor);
    expect(paged).toEqual(newestFirst);
    // A page that ends exactly at the last run has no cursor.
    expect((await db.runs.query({ name: 'planner', limit: 10 })).cursor).toBeUndefined();
    expect((await db.runs.query({ name: 'planner', limit: 9 })).cursor).toBeDefined();
    expect((await db.runs.query({ limit: 0 })).runs).toEqual([]);
    const late = await db.runs.query({ name: 'late', limit: 2 });
    expect(late.runs.length).toBe(2);
    const rest = await db.runs.query({ name: 'late', cursor: late.cursor, limit: 100 });
    expect([...late.runs, ...rest.runs].map((run) => run.id)).toEqual((await db.runs.query({ name: 'late' })).runs.map((run) => run.id));
    expect(rest.runs.length).toBe(Math.ceil(paged.length / 7) - 2);
    await db.close();
  });

  it('lists children and deletes a run with its children only when asked', async () => {
    const db = await open(storePath(), { durability: 'memory' });
    await db.runs.begin({ id: 'root', name: 'supervisor' });
    await db.runs.begin({ id: 'a', name: 'sub', parentRunId: 'root' });
    await db.runs.begin({ id: 'b', name: 'sub', parentRunId: 'root' });
    await db.runs.begin({ id: 'a1', name: 'subsub', parentRunId: 'a' });
    expect((await db.runs.children('root')).map((run) => run.id)).toEqual(['b', 'a']);
    expect((await db.runs.query({ parentRunId: 'a' })).runs.map((run) => run.id)).toEqual(['a1']);
    const head = db.events.headPosition;
    await expect(db.runs.delete('root')).rejects.toThrow(/has 2 child run\(s\).*recursive/);
    expect(db.events.headPosition).toBe(head);
    const a1 = db.runs.handle('a1');
    expect(await db.runs.delete('a1')).toEqual({ runs: 1, entries: 1 });
    await expect(a1.events.append([{ type: 'late', data: 1 }])).rejects.toThrow(/run 'a1' does not exist/);
    await expect(a1.checkpoints.save({})).rejects.toThrow(/run 'a1' does not exist/);
    await expect(a1.end({ status: 'succeeded' })).rejects.toThrow(/run 'a1' does not exist/);
    expect(() => a1.state).toThrow(/run\.state: run 'a1' does not exist/);
    expect(db.events.streamNames()).toEqual([]);
    expect(await db.runs.delete('a1')).toEqual({ runs: 0, entries: 0 });
    await db.runs.begin({ id: 'a2', name: 'subsub', parentRunId: 'a' });
    expect(await db.runs.delete('root', { recursive: true })).toEqual({ runs: 4, entries: 4 });
    expect((await db.runs.query()).runs).toEqual([]);
    expect(await db.runs.get('a')).toBeUndefined();
    // The id is free again.
    await db.runs.begin({ id: 'root', name: 'again' });
    expect((await db.runs.get('root'))!.name).toBe('again');
    await db.close();
  });

  it('delete removes every entry attributed to the run: its stream, thread and other primitives, then their bytes at prune', async () => {
    const path = storePath();
    let db = await open(path, { durability: 'buffered', primitives: [notesPrimitive], segmentBytes: 4096, snapshotBytes: 0 });
    const keep = await db.runs.begin({ id: 'keep', name: 'agent' });
    const doomed = await db.runs.begin({ id: 'doomed', name: 'agent', input: 'SECRET-INPUT' });
    for (let index = 0; index < 20; index++) {
      await doomed.events.append([{ type: 'step', data: `SECRET-EVENT-${index}` }]);
      await keep.events.append([{ type: 'step', data: `kept-${index}` }]);
    }
    await doomed.checkpoints.save({ secret: 'SECRET-CHECKPOINT' });
    await db.primitive<Notes>('notes')!.forRun('doomed').add('SECRET-NOTE');
    await db.primitive<Notes>('notes')!.forRun('keep').add('kept note');
    const scoped: string[] = [];
    for (const primitive of ['kv', 'state', 'traces'] as const) {
      if (db.primitive(primitive)) scoped.push(primitive);
      else expect(() => doomed[primitive]).toThrow(new RegExp(`no '${primitive}' primitive`));
    }
    if (scoped.includes('kv')) await (doomed.kv as { put(key: string, value: unknown): Promise<unknown> }).put('fact', 'SECRET-KV');
    if (scoped.includes('state')) await (doomed.state as { init(name: string, value: unknown): Promise<unknown> }).init('phase', 'SECRET-STATE');
    if (scoped.includes('traces')) await (doomed.traces as { record(span: object): Promise<unknown> }).record({ kind: 'tool_call', name: 'search', input: 'SECRET-SPAN', startedAt: Date.now() - 5, endedAt: Date.now() });
    await doomed.end({ status: 'succeeded', output: 'SECRET-OUTPUT' });
    const before = (await db.runs.get('doomed'))!;
    expect(before.counts).toMatchObject({ runs: 2, events: 20, checkpoints: 1, notes: 1 });
    expect(Object.keys(before.counts).sort()).toEqual(['checkpoints', 'events', 'notes', 'runs', ...scoped].sort());
    for (const primitive of scoped) expect(before.counts[primitive]).toBeGreaterThanOrEqual(1);
    const entries = db.runs.positions('doomed').length;
    expect(await db.runs.delete('doomed')).toEqual({ runs: 1, entries });
    expect(await db.runs.get('doomed')).toBeUndefined();
    expect(db.runs.positions('doomed')).toEqual([]);
    expect(db.events.streamNames()).not.toContain('run:doomed');
    expect(await db.checkpoints.load('run:doomed')).toBeUndefined();
    expect(db.primitive<Notes>('notes')!.list()).toEqual(['kept note']);
    expect((await db.events.readAll()).some((event) => String(event.data).startsWith('SECRET'))).toBe(false);
    expect((await db.runs.get('keep'))!.counts).toEqual({ runs: 1, events: 20, notes: 1 });
    const deleted = await db.fingerprint();
    await db.close();
    // Recovery applies the delete record: a full scan and the snapshot-less reopen agree.
    db = await open(path, { primitives: [notesPrimitive], ignoreSnapshots: true });
    expect(await db.fingerprint()).toEqual(deleted);
    await db.prune();
    expect(filesHolding(path, 'SECRET')).toEqual([]);
    expect((await db.runs.get('keep'))!.counts).toEqual({ runs: 1, events: 20, notes: 1 });
    const pruned = await db.fingerprint();
    await db.close();
    db = await open(path, { primitives: [notesPrimitive], ignoreSnapshots: true });
    expect(await db.fingerprint()).toEqual(pruned);
    await db.close();
  });

  it('a run that was running when the process died is running on reopen', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'strict' });
    const done = await db.runs.begin({ id: 'done', name: 'agent' });
    await done.end({ status: 'succeeded' });
    const run = await db.runs.begin({ id: 'interrupted', name: 'agent', input: { task: 't' } });
    await run.events.append([{ type: 'step', data: 1 }]);
    await db.runs.begin({ id: 'paused', name: 'agent' });
    await db.runs.setStatus('paused', 'paused');
    // What a kill leaves: the files as they are, the writer never closed (its lock, held by
    // this live process, left out: a killed writer's lock is stale).
    const copy = join(temporaryDirectory(), 'crashed.reel');
    cpSync(path, copy, { recursive: true, filter: (source) => !source.endsWith('LOCK') });
    await db.close();
    const reopened = await open(copy, {});
    const running = await reopened.runs.query({ status: 'running' });
    expect(running.runs.map((info) => [info.id, info.status, info.input, info.counts])).toEqual([['interrupted', 'running', { task: 't' }, { runs: 1, events: 1 }]]);
    expect((await reopened.runs.query({ status: ['running', 'paused'] })).runs.map((info) => info.id)).toEqual(['paused', 'interrupted']);
    // A supervisor resumes it.
    const resumed = reopened.runs.handle('interrupted');
    await resumed.events.append([{ type: 'step', data: 2 }]);
    await resumed.end({ status: 'succeeded' });
    expect((await reopened.runs.get('interrupted'))!.counts).toEqual({ runs: 2, events: 2 });
    await reopened.close();
  });

  it('a run open in a process killed with SIGKILL is running on reopen', async () => {
    const path = storePath();
    const [command, ...args] = fixtureCommand('run-killed.mjs');
    const child = spawn(command!, [...args, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const ready = await new Promise<boolean>((resolve) => {
      let output = '';
      child.stdout!.on('data', (chunk) => {
        output += String(chunk);
        if (output.includes('"ready"')) resolve(true);
      });
      child.on('exit', () => resolve(false));
    });
    expect(ready).toBe(true);
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const db = await open(path, {});
    expect((await db.runs.query({ status: 'running' })).runs.map((info) => [info.id, info.input, info.counts])).toEqual([['interrupted', { task: 't' }, { runs: 1, events: 1 }]]);
    expect((await db.runs.query()).runs.map((info) => [info.id, info.status])).toEqual([
      ['paused', 'paused'],
      ['interrupted', 'running'],
      ['done', 'succeeded'],
    ]);
    await db.runs.end('interrupted', { status: 'cancelled', error: 'the process died' });
    expect((await db.runs.get('interrupted'))!).toMatchObject({ status: 'cancelled', error: 'the process died' });
    await db.close();
  });

  it('snapshot + tail and a full scan give the same runs, across deletes and prunes', async () => {
    const path = storePath();
    let db = await open(path, { durability: 'buffered', primitives: [notesPrimitive], segmentBytes: 8192, snapshotBytes: 0 });
    const notes = db.primitive<Notes>('notes')!;
    for (let index = 0; index < 40; index++) {
      const parent = index % 7 === 0 && (await db.runs.get(`r${index - 7}`)) ? `r${index - 7}` : undefined;
      const run = await db.runs.begin({ id: `r${index}`, name: `n${index % 4}`, tags: [`t${index % 3}`], parentRunId: parent, input: { index } });
      await run.events.append([{ type: 'e', data: index }]);
      if (index % 2 === 0) await notes.forRun(run.id).add(`note ${index}`);
      if (index % 3 === 0) await run.checkpoints.save({ index });
      if (index % 4 === 0) await run.end({ status: 'succeeded', output: index });
      if (index % 4 === 1) await run.setStatus('paused');
      if (index === 20) await db.snapshot();
      if (index % 9 === 5) await db.runs.delete(`r${index - 4}`, { recursive: true });
    }
    await notes.forRun('never-begun').add('orphan');
    await db.snapshot();
    await db.runs.begin({ id: 'tail', name: 'n0' });
    await notes.forRun('tail').add('tail note');
    await db.runs.setStatus('r3', 'failed');
    await db.runs.delete('r2');
    const print = await db.fingerprint();
    const query = async (handle: Db) => (await handle.runs.query({ limit: 1000 })).runs;
    const listed = await query(db);
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { primitives: [notesPrimitive], ignoreSnapshots });
      expect(db.stats().recovery.snapshot !== undefined, `ignoreSnapshots ${ignoreSnapshots}`).toBe(!ignoreSnapshots);
      expect(await db.fingerprint(), `ignoreSnapshots ${ignoreSnapshots}`).toEqual(print);
      expect(await query(db)).toEqual(listed);
      await db.close();
    }
    // After a prune that deletes runs and compacts: the same again.
    db = await open(path, { primitives: [notesPrimitive] });
    await db.prune({ runs: { status: 'succeeded', keepLast: 2 } });
    await db.snapshot();
    await db.runs.begin({ id: 'after', name: 'n1' });
    const pruned = await db.fingerprint();
    const prunedList = await query(db);
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { primitives: [notesPrimitive], ignoreSnapshots });
      expect(await db.fingerprint(), `pruned, ignoreSnapshots ${ignoreSnapshots}`).toEqual(pruned);
      expect(await query(db)).toEqual(prunedList);
      await db.close();
    }
  });

  it('random sequences of begin, status changes, ends, deletes and prunes match a model, across reopen with and without snapshots', async () => {
    let seed = Number(process.env.REELDB_RUNS_SEED ?? 12345);
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    type Model = { status: string; parent: string | undefined; name: string; tag: string };
    const model = new Map<string, Model>();
    const path = storePath();
    let db = await open(path, { durability: 'buffered', segmentBytes: 4096, snapshotBytes: 0 });
    const check = async (step: number) => {
      const listed = (await db.runs.query({ limit: 10_000 })).runs;
      expect(listed.map((run) => [run.id, run.status]).sort(), `step ${step}`).toEqual([...model].map(([id, run]) => [id, run.status]).sort());
      const status = pick(['running', 'paused', 'succeeded', 'failed', 'cancelled'] as const);
      const tag = pick(['a', 'b', 'c']);
      const filtered = (await db.runs.query({ status, tag, limit: 10_000 })).runs.map((run) => run.id).sort();
      expect(filtered, `step ${step}: status ${status} tag ${tag}`).toEqual([...model].filter(([, run]) => run.status === status && run.tag === tag).map(([id]) => id).sort());
    };
    for (let step = 0; step < 300; step++) {
      const ids = [...model.keys()];
      const roll = random();
      const id = ids.length > 0 ? pick(ids) : undefined;
      if (roll < 0.35 || !id) {
        const parent = ids.length > 0 && random() < 0.3 ? pick(ids) : undefined;
        const run = await db.runs.begin({ id: `r${String(step).padStart(3, '0')}`, name: pick(['x', 'y']), tags: [pick(['a', 'b', 'c'])], parentRunId: parent });
        const info = (await db.runs.get(run.id))!;
        model.set(run.id, { status: 'running', parent, name: info.name, tag: info.tags[0]! });
        if (random() < 0.5) await run.events.append([{ type: 'step', data: step }]);
      } else if (roll < 0.7) {
        const next = pick(['running', 'paused', 'succeeded', 'failed', 'cancelled'] as const);
        const current = model.get(id)!;
        const ended = ['succeeded', 'failed', 'cancelled'].includes(current.status);
        const outcome = await db.runs.setStatus(id, next).then(() => 'ok', (error) => error.code);
        expect(outcome, `step ${step}: ${current.status} → ${next}`).toBe(ended ? 'CONFLICT' : 'ok');
        if (!ended) current.status = next;
      } else if (roll < 0.85) {
        const recursive = random() < 0.5;
        const descendants = (root: string): string[] => [root, ...[...model].filter(([, run]) => run.parent === root).flatMap(([child]) => descendants(child))];
        const doomed = descendants(id);
        const outcome = await db.runs.delete(id, { recursive }).then((result) => result.runs, (error) => error.code);
        expect(outcome, `step ${step}: delete ${id}`).toBe(doomed.length > 1 && !recursive ? 'CONFLICT' : doomed.length);
        if (typeof outcome === 'number') for (const gone of doomed) model.delete(gone);
      } else if (roll < 0.92) {
        const keepLast = Math.floor(random() * 3);
        await db.prune({ runs: { status: ['failed', 'cancelled'], keepLast } });
        const ended = [...model].filter(([, run]) => run.status === 'failed' || run.status === 'cancelled');
        // Newest first by start (ids r<step> begin in step order and sort so within a millisecond).
        ended.sort((a, b) => (a[0] < b[0] ? 1 : -1));
        const doomed = new Set(ended.slice(keepLast).map(([runId]) => runId));
        for (let changed = true; changed; ) {
          changed = false;
          for (const runId of doomed) if ([...model].some(([child, run]) => run.parent === runId && !doomed.has(child))) (doomed.delete(runId), (changed = true));
        }
        for (const runId of doomed) model.delete(runId);
      } else if (roll < 0.96) {
        await db.snapshot();
      } else {
        await db.close();
        db = await open(path, { durability: 'buffered', segmentBytes: 4096, snapshotBytes: 0, ignoreSnapshots: random() < 0.5 });
      }
      if (step % 10 === 0) await check(step);
    }
    await check(300);
    const print = await db.fingerprint();
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { ignoreSnapshots });
      expect(await db.fingerprint(), `ignoreSnapshots ${ignoreSnapshots}`).toEqual(print);
      await check(301);
      await db.close();
    }
  });

  it('reeldb runs <path> lists the runs newest first with filters, reeldb run <path> <id> shows one with its timeline; --json, and usage errors', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered' });
    const first = await db.runs.begin({ id: 'first', name: 'planner', tags: ['nightly'] });
    await first.events.append([{ type: 'step', data: 1 }, { type: 'step', data: 2 }]);
    await first.end({ status: 'succeeded', output: 'done' });
    await sleep(2);
    await db.runs.begin({ id: 'second', name: 'coder', parentRunId: 'first' });
    await db.close();
    const bin = new URL('../js/bin/reeldb.mjs', import.meta.url).pathname;
    const cli = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const text = cli('runs', path);
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toBe('2 runs shown of 2 runs in the store');
    expect(lines[1]).toMatch(/^id\s+name\s+status\s+started\s+duration\s+entries\s+tags$/);
    expect(lines[2]).toMatch(/^second\s+coder\s+running\s+\S+\s+\d+ (ms|s|min)…\s+-$/);
    expect(lines[3]).toMatch(/^first\s+planner\s+succeeded\s+\S+\s+\d+ ms\s+events 2\s+nightly$/);
    const json = cli('runs', path, '--status', 'succeeded,failed', '--json');
    expect(json.status).toBe(0);
    const reader = await open(path, { readOnly: true });
    expect(json.stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([await reader.runs.get('first')]);
    await reader.close();
    expect(cli('runs', path, '--parent', 'first', '--limit', '1').stdout).toContain('1 run shown of 2 runs in the store\n');
    const bad = cli('runs', path, '--status', 'done');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("status must be one of 'running'");
    expect(cli('runs', path, '--limit', 'x').status).toBe(2);
    expect(cli('runs').status).toBe(2);

    // reeldb run <path> <id>: the summary, then the timeline in time order.
    const one = cli('run', path, 'first');
    expect(one.stderr).toBe('');
    expect(one.status).toBe(0);
    const shown = one.stdout.trim().split('\n');
    expect(shown.find((line) => line.startsWith('status'))).toMatch(/succeeded$/);
    expect(shown.find((line) => line.startsWith('entries'))).toMatch(/runs 2, events 2$/);
    expect(shown.find((line) => line.startsWith('output'))).toMatch(/"done"$/);
    const timeline = shown.slice(shown.indexOf('') + 1);
    expect(timeline.map((line) => /^\s*[+-][\d.]+ \S+\s+(\S+)\s+(\S+)/.exec(line)?.slice(1).join(' '))).toEqual(['event step', 'event step', 'end succeeded']);
    const parsed = JSON.parse(cli('run', path, 'first', '--json').stdout);
    expect(parsed.run.id).toBe('first');
    expect(parsed.timeline.map((item: { what: string; data: unknown }) => [item.what, item.data])).toEqual([['event', 1], ['event', 2]]);
    const missing = cli('run', path, 'nope');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("no run 'nope'");
    expect(cli('run', path).status).toBe(2);
  });

  it('verify audits every run record; a record whose values do not decode is damage', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered' });
    await db.runs.begin({ id: 'parent', name: 'a', input: { big: 'x'.repeat(100) } });
    await db.runs.begin({ id: 'child', name: 'b', parentRunId: 'parent' });
    await db.runs.end('child', { status: 'failed', error: new Error('boom') });
    expect(await (db.runs as unknown as { audit(): Promise<unknown> }).audit()).toEqual({ checked: { runs: 2, records: 3 }, problems: [] });
    await db.close();
    const bin = new URL('../js/bin/reeldb.mjs', import.meta.url).pathname;
    const verify = () => spawnSync('node', [bin, 'verify', path], { encoding: 'utf8' });
    const ok = verify();
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('runs: 2 runs, 3 records checked');
    // A status record written past the API, whose values are not the JSON object the format says.
    const writer = await open(path, { durability: 'buffered' });
    const context = (writer.runs as unknown as { context: PrimitiveContext }).context;
    await context.submit({
      prepare: (_position, entryWriter) => {
        writeNamedEntry(entryWriter, 0x61, encoder.encode('parent'), { type: encoder.encode('paused'), id: 'parent', data: '[1]', binary: false }, 1, Date.now());
        return { count: 1, result: () => undefined };
      },
    });
    await writer.close();
    const reopened = await open(path, { readOnly: true });
    const report = (await (reopened.runs as unknown as { audit(): Promise<{ problems: string[] }> }).audit()).problems;
    expect(report).toEqual([expect.stringMatching(/^run 'parent': its record at position 3 does not decode: .*not a JSON object/)]);
    await reopened.close();
    const damaged = verify();
    expect(damaged.status).toBe(1);
    expect(damaged.stdout).toContain("damaged: runs: run 'parent'");
  });

  it('prune by the runs policy deletes the ended runs it selects and all their entries', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered', segmentBytes: 4096, snapshotBytes: 0 });
    const ids: string[] = [];
    for (let index = 0; index < 12; index++) {
      const run = await db.runs.begin({ id: `r${String(index).padStart(2, '0')}`, name: 'agent' });
      ids.push(run.id);
      await run.events.append([{ type: 'step', data: `payload-of-${run.id}` }]);
      if (index < 10) await run.end({ status: index % 2 === 0 ? 'succeeded' : 'failed' });
      await sleep(2);
    }
    // A failed parent of a running child is kept while the child is.
    await db.runs.begin({ id: 'child-of-r01', name: 'agent', parentRunId: 'r01' });
    const cutoff = (await db.runs.get('r06'))!.endedAt!;
    await expect(db.prune({ runs: {} })).rejects.toThrow(InvalidArgumentError);
    await expect(db.prune({ runs: { status: 'running' as never } })).rejects.toThrow(/status must be one of 'succeeded'/);
    await expect(db.prune({ runs: { keepLast: -1 } })).rejects.toThrow(/keepLast/);
    const dry = await db.prune({ runs: { endedBefore: cutoff }, dryRun: true });
    expect(dry.primitives.runs!.removed).toBe(5 * 3); // r00, r02–r05 (r01 has a child): begin, event, end each
    expect((await db.runs.query({ limit: 100 })).runs.length).toBe(13);
    const result = await db.prune({ runs: { endedBefore: cutoff } });
    expect(result.primitives.runs!.removed).toBe(15);
    const left = () => db.runs.query({ limit: 100 }).then((page) => page.runs.map((run) => run.id).sort());
    expect(await left()).toEqual(['child-of-r01', 'r01', 'r06', 'r07', 'r08', 'r09', 'r10', 'r11']);
    expect(db.events.streamNames().sort()).toEqual(['run:r01', 'run:r06', 'run:r07', 'run:r08', 'run:r09', 'run:r10', 'run:r11']);
    expect(filesHolding(path, 'payload-of-r00')).toEqual([]);
    expect(filesHolding(path, 'payload-of-r07').length).toBeGreaterThan(0);
    // keepLast keeps the newest ended runs of the status.
    await db.prune({ runs: { status: ['failed'], keepLast: 1 } });
    expect(await left()).toEqual(['child-of-r01', 'r01', 'r06', 'r08', 'r09', 'r10', 'r11']);
    await db.prune({ runs: { status: 'succeeded', keepLast: 1 } });
    expect(await left()).toEqual(['child-of-r01', 'r01', 'r08', 'r09', 'r10', 'r11']);
    // Running runs are never pruned.
    await db.prune({ runs: { endedBefore: Date.now() + 1000 } });
    expect(await left()).toEqual(['child-of-r01', 'r01', 'r10', 'r11']);
    await db.runs.end('child-of-r01', { status: 'succeeded' });
    await db.prune({ runs: { endedBefore: Date.now() + 1000 } });
    expect(await left()).toEqual(['r10', 'r11']);
    await db.close();
  });
});
