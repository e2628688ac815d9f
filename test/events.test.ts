/** The events API: appends, expected versions, limits, reads, replay, subscribe, idempotency. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reeldb, runtime, storePath, quiet } from './helpers.js';

const { open } = reeldb;

function snapshotFiles(directory: string): Record<string, string> {
  const files: Record<string, string> = {};
  (function walk(path: string) {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else if (name !== 'LOCK') files[child] = readFileSync(child).toString('hex');
    }
  })(directory);
  return files;
}

describe(`events on ${runtime}`, () => {
  it('creates a new store and reads back an empty log', async () => {
    const path = storePath();
    const db = await open(path);
    expect(db.durability).toBe('strict');
    expect(db.events.headPosition).toBe(-1);
    expect(db.events.streamVersion('nothing')).toBeUndefined();
    expect(await db.events.readAll()).toEqual([]);
    await expect(db.events.readStream('nothing')).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND', stream: 'nothing' });
    await db.close();
    const again = await open(path);
    expect(again.events.headPosition).toBe(-1);
    await again.close();
  });

  it('reopens after appends to two streams with versions, positions, data and metadata intact', async () => {
    const path = storePath();
    const db = await open(path);
    const first = await db.events.append('run-1', [
      { type: 'user_message', data: { text: 'hi' } },
      { type: 'tool_call', data: { tool: 'search', args: { q: 'x' } }, metadata: { model: 'm1' } },
    ]);
    expect(first.map((event) => [event.stream, event.streamVersion, event.position])).toEqual([['run-1', 0, 0], ['run-1', 1, 1]]);
    expect(first[0]!.id).toMatch(/^[0-9a-f-]{36}$/);
    await db.events.append('run-2', [{ type: 'blob', data: new Uint8Array([0, 1, 254, 255]) }]);
    await db.events.append('run-1', [{ type: 'final', data: 'done', id: 'fixed-id' }]);
    await db.close();

    const reopened = await open(path);
    expect(reopened.events.headPosition).toBe(3);
    expect(reopened.events.streamVersion('run-1')).toBe(2);
    expect(reopened.events.streamVersion('run-2')).toBe(0);
    const run1 = await reopened.events.readStream('run-1');
    expect(run1.map((event) => [event.type, event.streamVersion, event.position])).toEqual([['user_message', 0, 0], ['tool_call', 1, 1], ['final', 2, 3]]);
    expect(run1[1]!.data).toEqual({ tool: 'search', args: { q: 'x' } });
    expect(run1[1]!.metadata).toEqual({ model: 'm1' });
    expect(run1[0]!.metadata).toBeUndefined();
    expect(run1[0]!.id).toBe(first[0]!.id);
    expect(run1[2]!.id).toBe('fixed-id');
    const [blob] = await reopened.events.readStream('run-2');
    expect(blob!.data).toBeInstanceOf(Uint8Array);
    expect([...(blob!.data as Uint8Array)]).toEqual([0, 1, 254, 255]);
    expect(reopened.events.streamNames()).toEqual(['run-1', 'run-2']);
    await reopened.close();
  });

  it('handles every expected-version case, writing nothing on a mismatch', async () => {
    const path = storePath();
    const db = await open(path);
    const event = { type: 't', data: 1 };
    await expect(db.events.append('s', [event], { expectedVersion: 'stream_exists' })).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION', stream: 's', expected: 'stream_exists', actual: 'no_stream' });
    await expect(db.events.append('s', [event], { expectedVersion: 0 })).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION', expected: 0, actual: 'no_stream' });
    expect(db.events.headPosition).toBe(-1);
    await db.events.append('s', [event], { expectedVersion: 'no_stream' });
    await expect(db.events.append('s', [event], { expectedVersion: 'no_stream' })).rejects.toBeInstanceOf(reeldb.WrongExpectedVersionError);
    await db.events.append('s', [event], { expectedVersion: 'stream_exists' });
    await db.events.append('s', [event, event], { expectedVersion: 1 });
    await expect(db.events.append('s', [event], { expectedVersion: 1 })).rejects.toMatchObject({ expected: 1, actual: 3 });
    await expect(db.events.append('s', [event], { expectedVersion: 4 })).rejects.toMatchObject({ expected: 4, actual: 3 });
    await db.events.append('s', [event], { expectedVersion: 3 });
    await db.events.append('s', [event], { expectedVersion: 'any' });
    await db.events.append('s', [event]);
    expect(db.events.streamVersion('s')).toBe(6);
    const files = snapshotFiles(path);
    await expect(db.events.append('s', [event], { expectedVersion: 2 })).rejects.toThrow(/expected version 2 but the stream is at 6/);
    expect(snapshotFiles(path)).toEqual(files);
    for (const bad of [-1, 1.5, 'latest', null, Number.NaN]) {
      await expect(db.events.append('s', [event], { expectedVersion: bad as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await db.close();
  });

  it('serialises concurrent appends with expected versions: exactly one of two racers wins', async () => {
    const db = await open(storePath());
    await db.events.append('race', [{ type: 't', data: 0 }]);
    const results = await Promise.allSettled([
      db.events.append('race', [{ type: 'a', data: 1 }], { expectedVersion: 0 }),
      db.events.append('race', [{ type: 'b', data: 2 }], { expectedVersion: 0 }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(db.events.streamVersion('race')).toBe(1);
    await db.close();
  });

  it('rejects limit violations with typed errors and leaves the files unchanged', async () => {
    const path = storePath();
    const db = await open(path, { maxEventBytes: 4096 });
    await db.events.append('s', [{ type: 't', data: 'seed' }]);
    const files = snapshotFiles(path);
    const cases: [string, unknown[], string][] = [
      ['', [{ type: 't', data: 1 }], 'INVALID_ARGUMENT'],
      ['x'.repeat(513), [{ type: 't', data: 1 }], 'INVALID_ARGUMENT'],
      ['s', [{ type: '', data: 1 }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 'é'.repeat(129), data: 1 }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 7, data: 1 }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: undefined }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: () => 1 }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: 10n }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: 1, id: '' }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: 1, id: 'x'.repeat(256) }], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: 1, id: 'same' }, { type: 't', data: 2, id: 'same' }], 'INVALID_ARGUMENT'],
      ['s', [], 'INVALID_ARGUMENT'],
      ['s', [null], 'INVALID_ARGUMENT'],
      ['s', [{ type: 't', data: 'x'.repeat(5000) }], 'EVENT_TOO_LARGE'],
      ['s', [{ type: 't', data: new Uint8Array(5000) }], 'EVENT_TOO_LARGE'],
      ['s', [{ type: 't', data: 1 }, { type: 't', data: 1, metadata: { big: 'y'.repeat(5000) } }], 'EVENT_TOO_LARGE'],
    ];
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    cases.push(['s', [{ type: 't', data: circular }], 'INVALID_ARGUMENT']);
    for (const [stream, events, code] of cases) {
      await expect(db.events.append(stream, events as never)).rejects.toMatchObject({ code });
    }
    await expect(db.events.append(42 as never, [{ type: 't', data: 1 }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(db.events.append('s', 'nope' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const tooLarge = await db.events.append('s', [{ type: 't', data: 'x'.repeat(5000) }]).catch((error) => error);
    expect(tooLarge).toBeInstanceOf(reeldb.EventTooLargeError);
    expect(tooLarge.message).toMatch(/maxEventBytes/);
    expect(snapshotFiles(path)).toEqual(files);
    expect(db.events.headPosition).toBe(0);
    await db.close();
  });

  it('accepts the limits exactly at their edges (512-byte stream, 256-byte type, 16 MiB event)', async () => {
    const db = await open(storePath());
    const stream = 's'.repeat(512);
    const type = 't'.repeat(256);
    const overhead = 32 + 512 + 256 + 36 + 2; // header + names + uuid + the JSON quotes
    const data = 'd'.repeat(reeldb.LIMITS.maxEventBytes - overhead);
    const [event] = await db.events.append(stream, [{ type, data }]);
    expect(event!.streamVersion).toBe(0);
    await expect(db.events.append(stream, [{ type, data: data + 'd' }])).rejects.toMatchObject({ code: 'EVENT_TOO_LARGE' });
    const [read] = await db.events.readStream(stream);
    expect((read!.data as string).length).toBe(data.length);
    await db.close();
  });

  it('paginates readStream forward and backward with edges', async () => {
    const db = await open(storePath());
    for (let index = 0; index < 10; index++) {
      await db.events.append('p', [{ type: 't', data: index }]);
      await db.events.append('other', [{ type: 't', data: -index }]);
    }
    const data = (events: { data: unknown }[]) => events.map((event) => event.data);
    expect(data(await db.events.readStream('p', { maxCount: 3 }))).toEqual([0, 1, 2]);
    expect(data(await db.events.readStream('p', { fromVersion: 3, maxCount: 3 }))).toEqual([3, 4, 5]);
    expect(data(await db.events.readStream('p', { fromVersion: 8, maxCount: 5 }))).toEqual([8, 9]);
    expect(await db.events.readStream('p', { fromVersion: 10 })).toEqual([]);
    expect(await db.events.readStream('p', { fromVersion: 1000 })).toEqual([]);
    expect(await db.events.readStream('p', { maxCount: 0 })).toEqual([]);
    expect(data(await db.events.readStream('p', { direction: 'backward', maxCount: 3 }))).toEqual([9, 8, 7]);
    expect(data(await db.events.readStream('p', { direction: 'backward', fromVersion: 1, maxCount: 5 }))).toEqual([1, 0]);
    expect(data(await db.events.readStream('p', { direction: 'backward', fromVersion: 50, maxCount: 2 }))).toEqual([9, 8]);
    expect((await db.events.readStream('p')).map((event) => event.position)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    for (const options of [{ fromVersion: -1 }, { maxCount: -2 }, { maxCount: 1.5 }, { direction: 'sideways' }, { fromVersion: '2' }]) {
      await expect(db.events.readStream('p', options as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await db.close();
  });

  it('paginates readAll across interleaved streams and never throws for range', async () => {
    const db = await open(storePath(), { segmentBytes: 1024 });
    const expected: string[] = [];
    for (let index = 0; index < 60; index++) {
      const stream = `s${index % 3}`;
      await db.events.append(stream, [{ type: 't', data: { index } }]);
      expected.push(`${stream}:${index}`);
    }
    expect(db.stats().segments.length).toBeGreaterThan(3);
    const label = (events: { stream: string; data: unknown }[]) => events.map((event) => `${event.stream}:${(event.data as { index: number }).index}`);
    expect(label(await db.events.readAll())).toEqual(expected);
    const pages: string[] = [];
    for (let from = 0; ; from += 7) {
      const page = await db.events.readAll({ fromPosition: from, maxCount: 7 });
      if (page.length === 0) break;
      expect(page[0]!.position).toBe(from);
      pages.push(...label(page));
    }
    expect(pages).toEqual(expected);
    expect(await db.events.readAll({ fromPosition: 60 })).toEqual([]);
    expect(await db.events.readAll({ fromPosition: 10 ** 9 })).toEqual([]);
    expect(label(await db.events.readAll({ direction: 'backward', maxCount: 2 }))).toEqual(expected.slice(-2).reverse());
    expect(label(await db.events.readAll({ direction: 'backward', fromPosition: 1, maxCount: 5 }))).toEqual(expected.slice(0, 2).reverse());
    expect(label(await db.events.readAll({ direction: 'backward', fromPosition: 10 ** 9, maxCount: 1 }))).toEqual(expected.slice(-1));
    const s1 = await db.events.readStream('s1');
    expect(s1.map((event) => event.streamVersion)).toEqual([...Array(20).keys()]);
    await db.close();
    const reopened = await open(db.path, { segmentBytes: 1024 });
    expect(label(await reopened.events.readAll())).toEqual(expected);
    await reopened.close();
  });

  it('makes a retried append with the same ids idempotent', async () => {
    const path = storePath();
    const db = await open(path);
    const batch = [
      { type: 'tool_call', data: { n: 1 }, id: 'call-1' },
      { type: 'tool_result', data: { n: 2 }, id: 'call-1-result' },
    ];
    const first = await db.events.append('run', batch, { expectedVersion: 'no_stream' });
    const retry = await db.events.append('run', batch, { expectedVersion: 'no_stream' });
    expect(retry.map((event) => [event.id, event.position, event.streamVersion])).toEqual(first.map((event) => [event.id, event.position, event.streamVersion]));
    expect(db.events.headPosition).toBe(1);
    const next = [{ type: 'decision', data: 3, id: 'decision-1' }];
    await db.events.append('run', next, { expectedVersion: 1 });
    expect((await db.events.append('run', next, { expectedVersion: 1 }))[0]!.position).toBe(2);
    expect((await db.events.append('run', next))[0]!.position).toBe(2); // 'any': the stream's last events
    expect(db.events.headPosition).toBe(2);
    await db.close();
    const reopened = await open(path);
    expect((await reopened.events.append('run', batch, { expectedVersion: 'no_stream' }))[1]!.position).toBe(1);
    expect(reopened.events.headPosition).toBe(2);
    // Same expected version, different ids: a real conflict.
    await expect(reopened.events.append('run', [{ type: 'x', data: 0, id: 'other' }], { expectedVersion: 1 })).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION' });
    await reopened.close();
  });

  it('regression (crash sweep seed 7): an append right after an idempotent retry resolves is not stranded', async () => {
    const db = await open(storePath());
    const batch = [{ type: 't', data: 1, id: 'only' }];
    await db.events.append('a', batch, { expectedVersion: 'no_stream' });
    await Promise.all([db.events.append('a', batch, { expectedVersion: 'no_stream' })]);
    const next = await Promise.race([db.events.append('b', [{ type: 't', data: 2 }]), new Promise((resolve) => setTimeout(() => resolve('stranded'), 2000))]);
    expect(next).not.toBe('stranded');
    await db.close();
  });

  it('replays the whole log in order, with and without decoding', async () => {
    const db = await open(storePath(), { segmentBytes: 64 * 1024 });
    const count = 5000;
    for (let start = 0; start < count; start += 100) {
      await db.events.append(`s${start % 7}`, Array.from({ length: 100 }, (_, index) => ({ type: 'step', data: { index: start + index } })));
    }
    let seen = 0;
    for await (const event of db.events.replay()) {
      expect(event.position).toBe(seen);
      expect((event.data as { index: number }).index).toBe(seen);
      seen++;
    }
    expect(seen).toBe(count);
    const raw: unknown[] = [];
    for await (const event of db.events.replay({ fromPosition: 4998, decodeData: false })) raw.push(event.data);
    expect(raw.map((bytes) => new TextDecoder().decode(bytes as Uint8Array))).toEqual(['{"index":4998}', '{"index":4999}']);
    let ranged = 0;
    for await (const event of db.events.replay({ fromPosition: 10, toPosition: 20 })) ranged += event.position >= 10 && event.position < 20 ? 1 : 100;
    expect(ranged).toBe(10);
    await db.close();
  });

  it('subscribes: catches up, then follows new commits live, and stops on close', async () => {
    const db = await open(storePath());
    await db.events.append('a', [{ type: 't', data: 0 }, { type: 't', data: 1 }]);
    const subscription = db.events.subscribe({ fromPosition: 1 });
    const received: unknown[] = [];
    const done = (async () => {
      for await (const event of subscription) {
        received.push(event.data);
        if (received.length === 3) break;
      }
    })();
    await db.events.append('b', [{ type: 't', data: 2 }]);
    await db.events.append('a', [{ type: 't', data: 3 }]);
    await done;
    expect(received).toEqual([1, 2, 3]);
    const live = db.events.subscribe({ fromPosition: 4 });
    const pending = live.next();
    await db.close();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('rejects every call after close with StoreClosedError', async () => {
    const db = await open(storePath());
    await db.events.append('s', [{ type: 't', data: 1 }]);
    await db.close();
    await db.close(); // idempotent
    await expect(db.events.append('s', [{ type: 't', data: 1 }])).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(db.events.readStream('s')).rejects.toBeInstanceOf(reeldb.StoreClosedError);
    await expect(db.events.readAll()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    expect(() => db.events.headPosition).toThrow(reeldb.StoreClosedError);
    expect(() => db.events.subscribe()).toThrow(reeldb.StoreClosedError);
  });

  it('memory durability writes nothing to disk', async () => {
    const path = join(storePath(), 'never');
    const db = await open(path, { durability: 'memory' });
    await db.events.append('s', [{ type: 't', data: 1 }]);
    expect((await db.events.readStream('s'))[0]!.data).toBe(1);
    await db.close();
    expect(() => statSync(path)).toThrow();
  });

  it('buffered durability acknowledges at once and syncs; data survives reopen', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered', syncIntervalMs: 5 });
    for (let index = 0; index < 100; index++) await db.events.append('s', [{ type: 't', data: index }]);
    await db.sync();
    await db.close();
    const reopened = await open(path);
    expect(reopened.events.streamVersion('s')).toBe(99);
    await reopened.close();
  });

  it('group commit: 64 concurrent strict appenders all get acknowledged with contiguous versions', async () => {
    const path = storePath();
    const db = await open(path);
    await Promise.all(
      Array.from({ length: 64 }, async (_, worker) => {
        for (let index = 0; index < 10; index++) await db.events.append(`w${worker}`, [{ type: 't', data: index }], { expectedVersion: index === 0 ? 'no_stream' : index - 1 });
      }),
    );
    expect(db.events.headPosition).toBe(639);
    await db.close();
    const reopened = await open(path);
    for (let worker = 0; worker < 64; worker++) {
      expect((await reopened.events.readStream(`w${worker}`)).map((event) => event.data)).toEqual([...Array(10).keys()]);
    }
    await reopened.close();
  });

  it('validates open options', async () => {
    await expect(open(storePath(), { durability: 'fast' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(open(storePath(), { segmentBytes: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(open('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(open(storePath(), { create: false })).rejects.toMatchObject({ code: 'NOT_A_STORE' });
    const missing = storePath();
    await expect(open(missing, { readOnly: true })).rejects.toMatchObject({ code: 'NOT_A_STORE' });
    expect(() => statSync(missing)).toThrow(); // a read-only open creates nothing
    const log = quiet();
    const path = storePath();
    await (await open(path, log)).close();
    const reader = await open(path, { readOnly: true });
    await expect(reader.events.append('s', [{ type: 't', data: 1 }])).rejects.toMatchObject({ code: 'READ_ONLY' });
    await reader.close();
  });
});
