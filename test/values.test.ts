/**
 * What a write returns is what reads return: event data and metadata, checkpoint states and
 * metadata. Values JSON would change are rejected naming their path; the harmless changes
 * (undefined properties, -0, objects without a prototype) are applied and returned; binary
 * metadata round-trips; checkpoint metadata counts toward maxCheckpointBytes; the list filter
 * compares by value. REELDB_VALUE_RUNS sets the number of generated values.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventToJson } from '../js/src/cli/dump.js';
import { jsonEqual } from '../js/src/json-equal.js';
import { decodeEvent, encodeEvent, FLAG_BINARY_METADATA, FLAG_HAS_METADATA } from '../js/src/primitives/event-codec.js';
import { reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const { open } = reeldb;
const RUNS = Number(process.env.REELDB_VALUE_RUNS ?? (runtime === 'node' ? 300 : 100));
const encoder = new TextEncoder();

function files(path: string): Buffer[] {
  return segmentPaths(path).map((file) => readFileSync(file));
}

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** Values JSON would change, each with the path the error must name (inside `{ v: … }`). */
function notJson(): [string, unknown, string][] {
  const cycle: Record<string, unknown> = { a: { list: [] as unknown[] } };
  ((cycle.a as Record<string, unknown>).list as unknown[]).push(cycle);
  // eslint-disable-next-line no-sparse-arrays
  const sparse = [1, , 3];
  return [
    ['a Date', { when: new Date(0) }, '.v.when is a Date'],
    ['NaN', { n: [1, NaN] }, '.v.n[1] is NaN'],
    ['Infinity', { n: Infinity }, '.v.n is Infinity'],
    ['-Infinity', { n: -Infinity }, '.v.n is -Infinity'],
    ['a Set', { s: new Set([1]) }, '.v.s is a Set'],
    ['a Map', { m: new Map([['a', 1]]) }, '.v.m is a Map'],
    ['a RegExp', { r: /x/ }, '.v.r is a RegExp'],
    ['a class instance', { p: new Point(1, 2) }, '.v.p is a Point'],
    ['an object with toJSON', { t: { toJSON: () => 'x' } }, '.v.t.toJSON is a toJSON method'],
    ['an ArrayBuffer', { b: new ArrayBuffer(2) }, '.v.b is an ArrayBuffer'],
    ['a Float32Array', { f: new Float32Array(2) }, '.v.f is a Float32Array'],
    ['a nested Uint8Array', { u: new Uint8Array([7]) }, '.v.u is a Uint8Array'],
    ['a DataView', { d: new DataView(new ArrayBuffer(2)) }, '.v.d is a DataView'],
    ['undefined in an array', { list: [1, undefined] }, '.v.list[1] is undefined'],
    ['a sparse array', { list: sparse }, '.v.list[1] is a hole'],
    ['a bigint', { big: 10n }, '.v.big is a bigint'],
    ['a function', { f: () => 1 }, '.v.f is a function'],
    ['a symbol', { s: Symbol('s') }, '.v.s is a symbol'],
    ['a boxed string', { s: new String('x') }, '.v.s is a String object'],
    ['a cycle', cycle, '.v.a.list[0] refers back to'],
    ['an odd key', { 'odd key': NaN }, '.v["odd key"] is NaN'],
  ];
}

/** Values JSON stores with a harmless change, and what reads return for them. */
function normalised(): [string, unknown, unknown][] {
  const bare = Object.create(null) as Record<string, unknown>;
  bare.k = 1;
  return [
    ['undefined properties', { a: 1, b: undefined, c: { d: undefined } }, { a: 1, c: {} }],
    ['-0', { z: -0, list: [-0] }, { z: 0, list: [0] }],
    ['an object without a prototype', { o: bare }, { o: { k: 1 } }],
  ];
}

describe(`values on ${runtime}`, () => {
  it('hardening B12: values JSON would change are InvalidArgumentError naming the path, in event data and metadata and checkpoint states and metadata, and nothing is written', async () => {
    const path = storePath();
    const db = await open(path);
    await db.events.append('s', [{ type: 't', data: 'seed' }]);
    await db.checkpoints.save('t', { seed: 1 });
    const before = files(path);
    for (const [name, value, where] of notJson()) {
      const wrapped = { v: value };
      const calls: [string, () => Promise<unknown>][] = [
        [`append: events[1].data${where}`, () => db.events.append('s', [{ type: 't', data: 1 }, { type: 't', data: wrapped }])],
        [`append: events[0].metadata${where}`, () => db.events.append('s', [{ type: 't', data: 1, metadata: wrapped }])],
        [`checkpoints.save: state${where}`, () => db.checkpoints.save('t', wrapped)],
        [`checkpoints.save: metadata${where}`, () => db.checkpoints.save('t', { ok: 1 }, { metadata: wrapped })],
      ];
      for (const [message, call] of calls) {
        const error = await call().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(error, `${name}: ${message}`).toBeInstanceOf(reeldb.InvalidArgumentError);
        expect((error as Error).message, name).toContain(message);
      }
    }
    // Whole values that are bytes but not a Uint8Array: told how to pass them.
    for (const bytes of [new ArrayBuffer(3), new Float64Array(2), new DataView(new ArrayBuffer(2))]) {
      await expect(db.events.append('s', [{ type: 't', data: bytes }])).rejects.toThrow(/append: events\[0\]\.data is an? \w+; binary values must be a Uint8Array: pass new Uint8Array/);
      await expect(db.checkpoints.save('t', bytes)).rejects.toThrow(/checkpoints\.save: state is an? \w+; a binary state must be a Uint8Array/);
    }
    await expect(db.events.append('s', [{ type: 't', data: new Date(0) }])).rejects.toThrow('append: events[0].data is a Date, which JSON cannot store; pass date.toISOString()');
    // A getter that throws is the caller's error, reported as a typed one.
    const throwing = {
      get x(): number {
        throw new Error('boom');
      },
    };
    await expect(db.events.append('s', [{ type: 't', data: { v: throwing } }])).rejects.toThrow(/append: events\[0\]\.data cannot be read \(boom\)/);
    expect(files(path)).toEqual(before);
    expect(db.events.headPosition).toBe(1);
    await db.close();
  });

  it('hardening B12: what append and checkpoints.save return equals what reads return, before and after a reopen', async () => {
    const path = storePath();
    const db = await open(path);
    const plain = { text: 'lone \uD800 surrogate and \u00e9', n: [0, 1.5, -2, 1e21, 5e-324], nested: { list: [{ a: [] }, {}], t: true, f: false, z: null } };
    const inputs = [
      { type: 'plain', data: plain, metadata: { by: 'test', tags: ['a'] } },
      ...normalised().map(([name, value]) => ({ type: name, data: value, metadata: value })),
      { type: 'buffer', data: Buffer.from([1, 2, 3]), metadata: Buffer.from([9]) },
      { type: 'binary metadata', data: 'x', metadata: new Uint8Array([7, 0, 255]) },
      { type: 'no metadata', data: null },
    ];
    const appended = await db.events.append('s', inputs);
    const infos = [];
    for (const [name, value] of [['plain', plain], ...normalised()] as [string, unknown][]) {
      infos.push(await db.checkpoints.save('thread', { name, value }, { metadata: { name, value } }));
    }
    const check = async (store: typeof db) => {
      expect(await store.events.readStream('s')).toStrictEqual(appended);
      expect(await store.events.readAll()).toStrictEqual(appended);
      const replayed = [];
      for await (const event of store.events.replay()) replayed.push(event);
      expect(replayed).toStrictEqual(appended);
      expect((await store.checkpoints.list('thread')).reverse()).toStrictEqual(infos);
      for (const [index, [name, value]] of ([['plain', plain], ...normalised()] as [string, unknown][]).entries()) {
        const loaded = await store.checkpoints.load('thread', { id: infos[index]!.id });
        expect(loaded!.info).toStrictEqual(infos[index]);
        expect(loaded!.state).toStrictEqual({ name, value: index === 0 ? value : normalised()[index - 1]![2] });
      }
    };
    // The normalised ones come back as JSON stores them, the others as given.
    expect(appended[0]!.data).toBe(plain);
    normalised().forEach(([, , stored], index) => {
      expect(appended[1 + index]!.data).toStrictEqual(stored);
      expect(appended[1 + index]!.metadata).toStrictEqual(stored);
    });
    expect(appended[4]!.data).toStrictEqual(new Uint8Array([1, 2, 3]));
    expect(appended[5]!.metadata).toStrictEqual(new Uint8Array([7, 0, 255]));
    expect(appended[6]!.metadata).toBeUndefined();
    await check(db);
    await db.close();
    const reopened = await open(path);
    await check(reopened);
    await reopened.close();
  });

  it('hardening B12: generated values are either rejected or read back exactly as append and save returned them', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered' });
    // JSON data, values with harmless changes (undefined properties, -0, no prototype), and junk.
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.anything({ withNullPrototype: true, maxDepth: 3 }),
      fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true, maxDepth: 3 }),
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(value, value, async (data, metadata) => {
        const wrapped = { m: metadata };
        const appended = await db.events.append('g', [{ type: 't', data, metadata: wrapped }]).catch((error: unknown) => error);
        if (appended instanceof Error) {
          expect(appended).toBeInstanceOf(reeldb.InvalidArgumentError);
        } else {
          accepted++;
          const [event] = appended as Awaited<ReturnType<typeof db.events.append>>;
          const [read] = await db.events.readStream('g', { fromVersion: event!.streamVersion });
          expect(read).toStrictEqual(event);
        }
        const saved = await db.checkpoints.save('g', data, { metadata: wrapped }).catch((error: unknown) => error);
        if (saved instanceof Error) {
          expect(saved).toBeInstanceOf(reeldb.InvalidArgumentError);
          // One rule for events and checkpoints: the same values are rejected.
          expect(appended).toBeInstanceOf(Error);
        } else {
          expect(appended).not.toBeInstanceOf(Error);
          const loaded = await db.checkpoints.load('g');
          expect(loaded!.info).toStrictEqual(saved);
          const [event] = appended as Awaited<ReturnType<typeof db.events.append>>;
          expect(loaded!.state).toStrictEqual(event!.data);
        }
      }),
      { numRuns: RUNS },
    );
    expect(accepted).toBeGreaterThan(RUNS / 5);
    console.log(`values (${runtime}): ${RUNS} generated values, ${accepted} accepted and read back equal, the rest InvalidArgumentError`);
    await db.close();
  });

  it('hardening B12: a Buffer state is the store\'s own copy: changing it after save leaves the next delta and every load right', async () => {
    const path = storePath();
    const db = await open(path);
    const bytes = Buffer.alloc(4096, 1);
    await db.checkpoints.save('t', bytes);
    // Buffer#slice is a view: were the cached head the caller's memory, the next delta would be
    // computed against these bytes instead of the saved ones, and its load would fail.
    bytes[2000] = 7;
    const second = new Uint8Array(4096).fill(1);
    second[100] = 5;
    second[2000] = 7;
    await db.checkpoints.save('t', second);
    await db.close();
    const reopened = await open(path); // loads decode from the log, not from the cache
    const infos = await reopened.checkpoints.list('t');
    expect((await reopened.checkpoints.load('t'))!.state).toStrictEqual(second);
    expect((await reopened.checkpoints.load('t', { id: infos[1]!.id }))!.state).toStrictEqual(new Uint8Array(4096).fill(1));
    await reopened.close();
  });

  it('hardening B12: binary event metadata is stored with flag bit 2 and reads as binary; metadata without it reads as JSON as before', () => {
    const stream = encoder.encode('s');
    const base = { type: encoder.encode('t'), id: 'id-1', data: '{"a":1}', binary: false };
    const binary = encodeEvent(stream, { ...base, metadata: new Uint8Array([0x7b, 0x7d]), binaryMetadata: true }, 0, 1);
    expect(binary[29]).toBe(FLAG_HAS_METADATA | FLAG_BINARY_METADATA);
    expect(decodeEvent(binary, 0, binary.length, 0).metadata).toStrictEqual(new Uint8Array([0x7b, 0x7d]));
    // The same bytes as JSON text metadata (what every store before this addition has).
    const json = encodeEvent(stream, { ...base, metadata: new Uint8Array([0x7b, 0x7d]) }, 0, 1);
    expect(json[29]).toBe(FLAG_HAS_METADATA);
    expect(decodeEvent(json, 0, json.length, 0).metadata).toStrictEqual({});
    // `reeldb dump` prints binary metadata as it prints binary data.
    const line = JSON.parse(eventToJson(decodeEvent(binary, 0, binary.length, 0)));
    expect(line.metadata).toEqual({ $binary: 'e30=' });
  });

  it('hardening B14: checkpoint metadata counts toward maxCheckpointBytes (UTF-8 bytes); over it is InvalidArgumentError and nothing is written', async () => {
    const path = storePath();
    const db = await open(path, { maxCheckpointBytes: 1000 });
    await db.checkpoints.save('t', { seed: 1 });
    const before = files(path);
    const cases: [unknown, Record<string, unknown>][] = [
      [{ s: 1 }, { big: 'x'.repeat(2000) }], // metadata alone over the limit
      ['y'.repeat(500), { big: 'x'.repeat(500) }], // state and metadata together over it
      ['y'.repeat(300), { big: '\u00e9'.repeat(350) }], // 700 UTF-8 bytes, 350 characters
      [new Uint8Array(600), { big: 'x'.repeat(450) }],
    ];
    for (const [state, metadata] of cases) {
      const error = await db.checkpoints.save('t', state, { metadata }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(reeldb.InvalidArgumentError);
      expect((error as Error).message).toMatch(/maxCheckpointBytes/);
    }
    expect(files(path)).toEqual(before);
    // Within the limit together: saved.
    const info = await db.checkpoints.save('t', 'y'.repeat(400), { metadata: { big: 'x'.repeat(400) } });
    expect((await db.checkpoints.list('t'))[0]).toStrictEqual(info);
    await db.close();
  });

  it('hardening B14: at the default limit, metadata over 64 MiB is rejected before anything is written', async () => {
    const path = storePath();
    const db = await open(path);
    await db.checkpoints.save('t', { seed: 1 });
    const before = files(path);
    const error = await db.checkpoints.save('t', { ok: 1 }, { metadata: { big: 'x'.repeat(64 << 20) } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(reeldb.InvalidArgumentError);
    expect((error as Error).message).toMatch(/limit of state and metadata together is 67108864 \(maxCheckpointBytes\)/);
    expect(files(path)).toEqual(before);
    await db.close();
  }, 60_000);

  it('hardening B15: the list filter compares metadata by value, whatever the key order', async () => {
    const path = storePath();
    const db = await open(path);
    const a = await db.checkpoints.save('t', 1, { metadata: { tags: { a: 1, b: 2 }, list: [1, 2], node: 'agent' } });
    const b = await db.checkpoints.save('t', 2, { metadata: { node: 'tool', tags: { b: 2, a: 1, c: { x: [{ p: 1, q: 2 }] } } } });
    const ids = async (filter: Record<string, unknown>) => (await db.checkpoints.list('t', { filter })).map((info) => info.id);
    expect(await ids({ tags: { b: 2, a: 1 } })).toEqual([a.id]);
    expect(await ids({ tags: { c: { x: [{ q: 2, p: 1 }] }, a: 1, b: 2 } })).toEqual([b.id]);
    expect(await ids({ list: [1, 2] })).toEqual([a.id]);
    expect(await ids({ list: [2, 1] })).toEqual([]); // arrays compare in order
    expect(await ids({ tags: { a: 1 } })).toEqual([]); // a whole value, not a subset
    expect(await ids({ node: 'tool', tags: { a: 1, b: 2, c: { x: [{ p: 1, q: 2 }] } } })).toEqual([b.id]);
    expect(await ids({ missing: undefined })).toEqual([b.id, a.id]); // undefined is no condition, as it would be no key
    expect(await ids({ tags: undefined, node: 'agent' })).toEqual([a.id]);
    await expect(db.checkpoints.list('t', { filter: { when: new Date(0) } })).rejects.toThrow('checkpoints.list: filter.when is a Date');
    await db.close();
  });

  it('hardening B15: jsonEqual is equality by value of JSON values', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2, d: null }] }, { b: [1, { d: null, c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual(0, -0)).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1, c: 2 })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual({}, [])).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual('1', 1)).toBe(false);
    expect(jsonEqual({ '0': 'a' }, ['a'])).toBe(false);
  });
});
