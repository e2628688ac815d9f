/**
 * Bad input across the API, generated: fast-check puts arbitrary values (wrong types, huge and
 * odd numbers, null, nested junk, non-serialisable data) into every argument of every call.
 * Each call must either succeed or reject with one of reeldb's typed errors (never a bare
 * TypeError from deep inside), and a rejected append must leave the files byte for byte as
 * they were. REELDB_BAD_INPUT_RUNS sets the number of runs per call.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../js/src/index.node.js';
import { reeldb, runtime, storePath, temporaryDirectory } from './helpers.js';
import { editDistance } from '../js/src/nearest.js';

/** Every option of open (checked against the OpenOptions interface by js/src/engine/options.ts). */
const OPEN_KEYS = ['durability', 'readOnly', 'create', 'segmentBytes', 'syncIntervalMs', 'syncBytes', 'maxEventBytes', 'maxTypeBytes', 'maxStreamBytes', 'maxIdBytes', 'maxBatchEvents', 'maxBatchBytes', 'maxCheckpointBytes', 'checkpointCacheBytes', 'snapshotBytes', 'snapshotIntervalMs', 'ignoreSnapshots', 'onWarning', 'onProgress', 'host'];

const RUNS = Number(process.env.REELDB_BAD_INPUT_RUNS ?? (runtime === 'node' ? 400 : 150));
const CODES = new Set(['INVALID_ARGUMENT', 'EVENT_TOO_LARGE', 'WRONG_EXPECTED_VERSION', 'STREAM_NOT_FOUND']);

/** Every file under `root` with its bytes, so "unchanged" means byte for byte. */
function files(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (directory: string) => {
    for (const name of readdirSync(directory)) {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name !== 'LOCK') out[path] = readFileSync(path).toString('base64');
    }
  };
  walk(root);
  return out;
}

/** Junk of every shape, plus values close to valid ones. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, maxDepth: 3 }),
  fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, -1, 1.5, 2 ** 53, '', 'x'.repeat(600), Symbol('s'), () => 1, 10n, [], {}, new Uint8Array(3)),
);

/** One event, sometimes valid, often with a junk field. */
const eventLike: fc.Arbitrary<unknown> = fc.oneof(
  junk,
  fc.record({ type: fc.oneof(fc.constant('t'), junk), data: fc.oneof(fc.constant({ ok: 1 }), junk) }),
  fc.record({ type: fc.constant('t'), data: fc.constant(1), id: junk }, { requiredKeys: ['type', 'data'] }),
  fc.record({ type: fc.constant('t'), data: fc.constant(1), metadata: junk }),
);

/** Settles a call that may also throw synchronously; returns the error or undefined. */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    const result = call();
    if (result && typeof (result as Promise<unknown>).then === 'function') await result;
    return undefined;
  } catch (error) {
    return error;
  }
}

const tally = { calls: 0, rejected: 0 };

function expectTyped(error: unknown, input: unknown): void {
  tally.calls++;
  if (error === undefined) return;
  tally.rejected++;
  const code = (error as { code?: unknown }).code;
  if (!(error instanceof reeldb.ReeldbError) || !CODES.has(code as string)) {
    throw new Error(`expected a typed reeldb error, got ${(error as Error)?.name}: ${(error as Error)?.message} for input ${fc.stringify(input)}`);
  }
  expect((error as Error).message.length).toBeGreaterThan(10);
}

describe(`bad input on ${runtime}`, () => {
  let path: string;
  let db: Store;
  beforeAll(async () => {
    path = storePath();
    db = await reeldb.open(path, { maxEventBytes: 64 * 1024 });
    await db.events.append('s', [{ type: 't', data: 'seed', id: 'seed' }]);
  });
  afterAll(async () => {
    console.log(`bad input (${runtime}): ${tally.calls} generated calls, ${tally.rejected} rejected with a typed error, 0 untyped errors, files unchanged after every rejected append`);
    await db.close();
  });

  it('append: junk in stream, events and options is a typed error and writes nothing', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant('s'), junk), fc.oneof(fc.array(eventLike, { maxLength: 3 }), junk), fc.oneof(fc.constant(undefined), junk, fc.record({ expectedVersion: junk })), async (stream, events, options) => {
        const before = files(path);
        const head = db.events.headPosition;
        const error = await outcome(() => db.events.append(stream as string, events as never, options as never));
        expectTyped(error, { stream, events, options });
        if (error !== undefined) {
          expect(db.events.headPosition).toBe(head);
          expect(files(path)).toEqual(before);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('reads: junk in readStream, readAll, replay and subscribe options is a typed error', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant('s'), junk), fc.oneof(junk, fc.record({ fromVersion: junk, fromPosition: junk, toPosition: junk, maxCount: junk, direction: junk, decodeData: junk }, { requiredKeys: [] })), async (stream, options) => {
        expectTyped(await outcome(() => db.events.readStream(stream as string, options as never)), { stream, options });
        expectTyped(await outcome(() => db.events.readAll(options as never)), options);
        expectTyped(
          await outcome(async () => {
            for await (const event of db.events.replay(options as never)) void event;
          }),
          options,
        );
        expectTyped(
          await outcome(() => {
            const live = db.events.subscribe(options as never);
            live.close();
          }),
          options,
        );
        expectTyped(await outcome(() => db.events.streamVersion(stream as string)), stream);
      }),
      { numRuns: RUNS },
    );
  });

  it('hardening B9: a typo of any option of any call is InvalidArgumentError naming it and the nearest valid one, and writes nothing', { timeout: 120_000 }, async () => {
    // A store of its own (the suite's directory is removed after the first test).
    const path = storePath();
    const db = await reeldb.open(path);
    await db.events.append('s', [{ type: 't', data: 'seed' }]);
    await db.checkpoints.save('thread', { step: 0 });
    const openRoot = temporaryDirectory();
    let opened = 0;
    const calls: { where: string; keys: string[]; field?: boolean; call: (options: Record<string, unknown>) => unknown }[] = [
      { where: 'open', keys: OPEN_KEYS, call: (options) => reeldb.open(join(openRoot, `store-${++opened}.reel`), options) },
      { where: 'append', keys: ['expectedVersion'], call: (options) => db.events.append('s', [{ type: 't', data: 1 }], options) },
      { where: 'readStream', keys: ['fromVersion', 'limit', 'maxCount', 'direction'], call: (options) => db.events.readStream('s', options) },
      { where: 'readAll', keys: ['fromPosition', 'limit', 'maxCount', 'direction'], call: (options) => db.events.readAll(options) },
      { where: 'replay', keys: ['fromPosition', 'toPosition', 'decodeData'], call: (options) => db.events.replay(options) },
      { where: 'subscribe', keys: ['fromPosition'], call: (options) => db.events.subscribe(options).close() },
      { where: 'checkpoints.save', keys: ['metadata'], call: (options) => db.checkpoints.save('thread', { step: 1 }, options) },
      { where: 'checkpoints.load', keys: ['id'], call: (options) => db.checkpoints.load('thread', options) },
      { where: 'checkpoints.list', keys: ['limit', 'before', 'filter'], call: (options) => db.checkpoints.list('thread', options) },
      { where: 'checkpoints.storage', keys: ['prefix'], call: (options) => db.checkpoints.storage(options) },
      { where: 'prune', keys: ['checkpoints', 'events', 'streams', 'dryRun', 'onProgress'], call: (options) => db.prune(options) },
      { where: 'prune.events', keys: ['beforePosition'], call: (options) => db.prune({ events: options }) },
      { where: 'prune.checkpoints', keys: ['keepLast', 'maxAgeMs'], call: (options) => db.prune({ checkpoints: { keepLast: 1, ...options } }) },
      { where: "prune.streams['s']", keys: ['keepLast', 'maxCount'], call: (options) => db.prune({ streams: { s: { keepLast: 1, ...options } } }) },
      { where: 'init', keys: ['wasm'], call: (options) => reeldb.init(options) },
      // Not options but the same mistake: a misspelt field of an event.
      { where: 'events[0]', keys: ['type', 'data', 'metadata', 'id'], field: true, call: (fields) => db.events.append('s', [{ type: 't', data: 1, ...fields } as never]) },
    ];
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_';
    /** One edit (delete, insert, replace, swap neighbours) of a valid key that is not itself valid. */
    const typo = fc
      .record({ call: fc.nat(calls.length - 1), key: fc.nat(), edit: fc.constantFrom('delete', 'insert', 'replace', 'swap'), at: fc.nat(), letter: fc.constantFrom(...letters) })
      .map(({ call, key, edit, at, letter }) => {
        const { keys } = calls[call]!;
        const original = keys[key % keys.length]!;
        const i = at % (original.length + (edit === 'insert' ? 1 : 0));
        const chars = [...original];
        if (edit === 'delete') chars.splice(i, 1);
        else if (edit === 'insert') chars.splice(i, 0, letter);
        else if (edit === 'replace') chars[i] = letter;
        else if (i + 1 < chars.length) [chars[i], chars[i + 1]] = [chars[i + 1]!, chars[i]!];
        return { call, original, typo: chars.join('') };
      })
      .filter(({ call, typo }) => typo.length > 0 && !calls[call]!.keys.includes(typo));
    await fc.assert(
      fc.asyncProperty(typo, async ({ call, original, typo }) => {
        const { where, field, call: run } = calls[call]!;
        const before = files(path);
        const head = db.events.headPosition;
        const error = (await outcome(() => run({ [typo]: 1 }))) as Error | undefined;
        tally.calls++;
        tally.rejected++;
        expect(error, `${where} { ${typo} } (a typo of ${original})`).toBeInstanceOf(reeldb.InvalidArgumentError);
        expect(error!.message).toContain(field ? `unknown field '${typo}' in ${where}; did you mean '` : `unknown option '${typo}' for ${where}; did you mean '`);
        const suggested = /did you mean '([^']+)'\?$/.exec(error!.message)?.[1];
        // The suggestion is the original key or one just as near.
        expect(editDistance(typo, suggested!)).toBeLessThanOrEqual(editDistance(typo, original));
        expect(db.events.headPosition).toBe(head);
        expect(files(path)).toEqual(before);
      }),
      { numRuns: RUNS },
    );
    expect(readdirSync(openRoot)).toEqual([]); // no typo'd open created anything
    await db.close();
  });

  it('open: junk options are a typed error and create nothing', { timeout: 120_000 }, async () => {
    const root = temporaryDirectory();
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          junk,
          fc.record(
            { durability: junk, segmentBytes: junk, syncIntervalMs: junk, syncBytes: junk, maxEventBytes: junk, maxStreamBytes: junk, maxTypeBytes: junk, maxIdBytes: junk, readOnly: junk, create: junk, onWarning: junk, onProgress: junk },
            { requiredKeys: [] },
          ),
        ),
        async (options) => {
          const path = join(root, `store-${++count}.reel`);
          let opened: Store | undefined;
          const error = await outcome(async () => (opened = await reeldb.open(path, options as never)));
          if (opened) {
            await opened.close();
            return;
          }
          const code = (error as { code?: string }).code;
          // NOT_A_STORE: create: false or readOnly: true on a path where there is no store.
          if (!(error instanceof reeldb.ReeldbError) || (code !== 'INVALID_ARGUMENT' && code !== 'NOT_A_STORE')) {
            throw new Error(`open: expected a typed error, got ${(error as Error)?.name}: ${(error as Error)?.message} for ${fc.stringify(options)}`);
          }
          expect(readdirSync(root)).not.toContain(`store-${count}.reel`);
        },
      ),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
