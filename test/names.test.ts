/**
 * The name policy (js/src/names.ts, wasm-core/src/names.rs): names are well-formed Unicode,
 * compared in NFC, limited in UTF-8 bytes after NFC; stores written before it open.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reeldb, storePath, temporaryDirectory } from './helpers.js';
import { firstLoneSurrogate, loneSurrogateAt } from '../js/src/names.js';
import { KIND_EVENT, writeEvent } from '../js/src/primitives/event-codec.js';

const { open, InvalidArgumentError, NameConflictError, CorruptionError } = reeldb;

/** Writes one event of stream `name` at `version` as raw bytes, past every check (a store made by other code). */
async function writeRawEvent(db: Awaited<ReturnType<typeof open>>, name: string, version: number): Promise<void> {
  const stream = new TextEncoder().encode(name);
  const event = { type: new TextEncoder().encode('t'), id: crypto.randomUUID(), data: '1', binary: false, metadata: undefined };
  await db.pipeline.submit({
    prepare: (_first, writer) => {
      const at = writer.reservePayload(256);
      writer.endPayload(KIND_EVENT, writeEvent(writer.u8, at, stream, event, version, Date.now()));
      return { count: 1, result: () => undefined };
    },
  });
}

const COMPOSED = 'caf\u00e9';
const DECOMPOSED = 'cafe\u0301';

/** A copy of a store written by reeldb before the name policy (test/fixtures/old-names/make.mjs). */
function oldStore(name: 'lone-surrogates' | 'decomposed' | 'pruned-collision'): string {
  const path = join(temporaryDirectory(), name);
  cpSync(new URL(`./fixtures/old-names/${name}`, import.meta.url).pathname, path, { recursive: true });
  return path;
}

describe('names', () => {
  it('hardening B8: lone surrogates are found with and without String.prototype.isWellFormed', () => {
    const cases: [string, number][] = [['', -1], ['plain', -1], ['caf\u00e9', -1], ['a\u{1F600}b', -1], ['\uD800', 0], ['ab\uDC00', 2], ['\uDE00\uD83D', 0], ['\uD83D\uDE00\uD83D', 2], ['x\uD83Dy', 1]];
    for (const [text, at] of cases) {
      expect(firstLoneSurrogate(text)).toBe(at);
      expect(loneSurrogateAt(text)).toBe(at);
    }
  });

  it('hardening B8 (trial): an event type or id with a lone surrogate is InvalidArgumentError (it was stored as U+FFFD, and a retry then wrote a duplicate)', async () => {
    const db = await reeldb.open('/lone-id.reel', { durability: 'memory' });
    await expect(db.events.append('s', [{ type: 't', data: 1, id: 'id\uD800' }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/events\[0\]\.id has a lone surrogate U\+D800 at index 2/) });
    await expect(db.events.append('s', [{ type: 't\uDC00', data: 1 }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/events\[0\]\.type has a lone surrogate U\+DC00 at index 1/) });
    expect(db.events.streamVersion('s')).toBeUndefined();
    // Well-formed ids are retried idempotently as before.
    const event = { type: 't', data: 1, id: 'id-\uD83D\uDE00' };
    await db.events.append('s', [event]);
    await db.events.append('s', [event]);
    expect(db.events.streamVersion('s')).toBe(0);
    await db.close();
  });

  it('hardening B8: a stream or thread name with a lone surrogate is InvalidArgumentError naming its position, and nothing is written', { timeout: 20_000 }, async () => {
    const path = storePath();
    const db = await open(path);
    const cases: [Promise<unknown>, RegExp][] = [
      [db.events.append('s-\uD800', [{ type: 't', data: 1 }]), /lone surrogate U\+D800 at index 2/],
      [db.events.append('\uDC00-s', [{ type: 't', data: 1 }]), /lone surrogate U\+DC00 at index 0/],
      [db.checkpoints.save('thread-\uD800', { a: 1 }), /threadId must be well-formed Unicode.*U\+D800 at index 7/],
      [db.checkpoints.save('thread-\uDC00', { b: 1 }), /U\+DC00 at index 7/],
      // A low surrogate before its high one is not a pair.
      [db.checkpoints.save('x\uDE00\uD83D', {}), /U\+DE00 at index 1/],
      [db.events.readStream('s-\uD800'), /lone surrogate/],
      [db.checkpoints.load('thread-\uD800'), /lone surrogate/],
      [db.checkpoints.delete('thread-\uD800'), /lone surrogate/],
    ];
    for (const [call, message] of cases) {
      const error = await call.then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toMatch(message);
    }
    expect(() => db.events.streamVersion('s-\uD800')).toThrow(InvalidArgumentError);
    expect(db.events.headPosition).toBe(-1);
    // A surrogate pair is one well-formed code point.
    await db.events.append('emoji-\uD83D\uDE00', [{ type: 't', data: 1 }]);
    await db.checkpoints.save('emoji-\uD83D\uDE00', { ok: true });
    await db.close();
    const again = await open(path);
    expect(again.events.streamNames()).toEqual(['emoji-\u{1F600}']);
    expect(again.checkpoints.threadIds()).toEqual(['emoji-\u{1F600}']);
    await again.close();
  });

  it('hardening B8: composed and decomposed café name one stream and one thread, across reopen', { timeout: 20_000 }, async () => {
    const path = storePath();
    const db = await open(path);
    await db.events.append(COMPOSED, [{ type: 't', data: 0 }]);
    const [second] = await db.events.append(DECOMPOSED, [{ type: 't', data: 1 }], { expectedVersion: 0 });
    expect(second!.stream).toBe(COMPOSED);
    expect(second!.streamVersion).toBe(1);
    expect(db.events.streamNames()).toEqual([COMPOSED]);
    expect(db.events.streamVersion(DECOMPOSED)).toBe(1);
    await db.checkpoints.save(DECOMPOSED, { step: 1 });
    await db.checkpoints.save(COMPOSED, { step: 2 });
    expect(db.checkpoints.threadIds()).toEqual([COMPOSED]);
    await db.close();
    const again = await open(path);
    for (const name of [COMPOSED, DECOMPOSED]) {
      const events = await again.events.readStream(name);
      expect(events.map((event) => [event.stream, event.streamVersion, event.data])).toEqual([
        [COMPOSED, 0, 0],
        [COMPOSED, 1, 1],
      ]);
      expect((await again.checkpoints.load(name))?.state).toEqual({ step: 2 });
      expect(again.checkpoints.count(name)).toBe(2);
    }
    expect(again.events.streamNames()).toEqual([COMPOSED]);
    await expect(again.events.append(DECOMPOSED, [{ type: 't', data: 2 }], { expectedVersion: 'no_stream' })).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION' });
    await again.close();
  });

  it('hardening B8: name limits count the UTF-8 bytes of the NFC form', { timeout: 20_000 }, async () => {
    const db = await open(storePath(), { maxStreamBytes: 5 });
    // e + U+0301 twice is 6 bytes as typed, 4 in NFC (é é): accepted.
    await db.events.append('e\u0301e\u0301', [{ type: 't', data: 1 }]);
    expect(db.events.streamNames()).toEqual(['\u00e9\u00e9']);
    // U+0958 is 3 bytes as typed and 6 in NFC (U+0915 U+093C): over 5.
    await expect(db.events.append('\u0958', [{ type: 't', data: 1 }])).rejects.toThrow(/1 to 5 UTF-8 bytes \(counted in Unicode NFC\), got 6/);
    await expect(db.checkpoints.save('\u0958', {})).rejects.toThrow(/got 6/);
    await expect(db.events.append('', [{ type: 't', data: 1 }])).rejects.toThrow(InvalidArgumentError);
    await expect(db.checkpoints.save('abcdef', {})).rejects.toThrow(/got 6/);
    await db.close();
  });

  it('hardening B8: an old store with two threads and two streams stored as U+FFFD (lone surrogates) opens; those names are NAME_CONFLICT until deleted, everything else reads and writes', { timeout: 30_000 }, async () => {
    const path = oldStore('lone-surrogates');
    const db = await open(path);
    const thread = 'thread-\uFFFD';
    expect(db.checkpoints.threadIds()).toEqual([thread, 'plain']);
    expect(db.events.streamNames()).toEqual(['s-\uFFFD', 'solo-\uFFFD', 'plain']);
    // Names that are two things: a clear error, for reads and writes alike.
    await expect(db.checkpoints.load(thread)).rejects.toBeInstanceOf(NameConflictError);
    await expect(db.checkpoints.list(thread)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await expect(db.checkpoints.save(thread, {})).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await expect(db.events.readStream('s-\uFFFD')).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await expect(db.events.append('s-\uFFFD', [{ type: 't', data: 1 }])).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    expect(() => db.checkpoints.count(thread)).toThrow(/holds 2 threads.*checkpoints\.delete/);
    // Every event is still delivered in log order; the rest of the store is as written.
    expect((await db.events.readAll()).map((event) => event.data)).toEqual(['first 0', 'second 0', 'first 1', 'solo 0', 'plain 0']);
    expect((await db.events.readStream('solo-\uFFFD')).map((event) => event.data)).toEqual(['solo 0']);
    expect((await db.checkpoints.load('plain'))?.state).toEqual({ p: 1 });
    expect(db.checkpoints.totalCount).toBe(5);
    expect((await db.checkpoints.summary([thread]))[0]).toMatchObject({ threadId: thread, checkpoints: 4 });
    // A prune keeps what it cannot attribute, and a snapshot keeps the conflict.
    await db.prune({ checkpoints: { keepLast: 1 }, streams: { 's-\uFFFD': { maxCount: 1 } } });
    await db.events.append('plain', [{ type: 't', data: 'plain 1' }]);
    expect(await db.snapshot()).toBeDefined();
    await db.close();
    const again = await open(path);
    expect(again.stats().recovery.snapshot).toBeDefined();
    await expect(again.checkpoints.load(thread)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    expect(again.checkpoints.totalCount).toBe(5);
    expect((await again.events.readAll()).length).toBe(6);
    // Deleting the thread removes everything under the name; the name is then free.
    expect(await again.checkpoints.delete(thread)).toBe(4);
    const saved = await again.checkpoints.save(thread, { fresh: true });
    expect(saved.seq).toBe(0);
    await again.close();
    const last = await open(path);
    expect((await last.checkpoints.load(thread))?.state).toEqual({ fresh: true });
    await expect(last.events.readStream('s-\uFFFD')).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await last.close();
  });

  it("hardening B8: an old store's decomposed names are found by either form; two old streams that are one name in NFC are NAME_CONFLICT", { timeout: 30_000 }, async () => {
    const path = oldStore('decomposed');
    const db = await open(path);
    const noel = 'no\u00ebl';
    expect(db.events.streamNames()).toEqual([noel, COMPOSED]);
    expect(db.checkpoints.threadIds()).toEqual(['th\u00e9']);
    for (const name of [noel, 'noe\u0308l']) expect((await db.events.readStream(name)).map((event) => event.data)).toEqual([0, 1]);
    for (const name of ['th\u00e9', 'the\u0301']) expect((await db.checkpoints.load(name))?.state).toEqual({ step: 2 });
    // New entries go on under the NFC name, at the next version and seq.
    const [event] = await db.events.append('noe\u0308l', [{ type: 't', data: 2 }], { expectedVersion: 1 });
    expect(event).toMatchObject({ stream: noel, streamVersion: 2 });
    expect((await db.checkpoints.save('th\u00e9', { step: 3 })).seq).toBe(2);
    await expect(db.events.readStream(DECOMPOSED)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await expect(db.events.readStream(COMPOSED)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await db.prune({ streams: { 'noe\u0308l': { maxCount: 1 } } });
    expect((await db.events.readStream(noel)).map((event) => event.data)).toEqual([2]);
    await db.close();
    const again = await open(path);
    expect((await again.events.readStream(noel)).map((event) => event.streamVersion)).toEqual([2]);
    expect((await again.checkpoints.load('the\u0301'))?.state).toEqual({ step: 3 });
    expect((await again.events.readAll()).filter((event) => event.data === 'decomposed 1').length).toBe(1);
    await again.close();
  });

  it('hardening B8: two old streams that are one name in NFC, the later one pruned, open as NAME_CONFLICT from the snapshot and from the log', { timeout: 30_000 }, async () => {
    for (const ignoreSnapshots of [false, true]) {
      const path = oldStore('pruned-collision');
      const log = { warnings: [] as string[] };
      const db = await open(path, { ignoreSnapshots, onWarning: (warning) => log.warnings.push(warning) });
      // The fixture's snapshot is version 1 (written before entry checks, docs/FORMAT.md §15):
      // open ignores it with a warning and scans the log either way.
      expect(db.stats().recovery.snapshot).toBeUndefined();
      expect(log.warnings.some((warning) => warning.includes('snapshot version 1'))).toBe(!ignoreSnapshots);
      expect(db.events.streamNames()).toEqual([COMPOSED, 'plain']);
      await expect(db.events.readStream(DECOMPOSED)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
      expect((await db.events.readAll()).map((event) => event.data)).toEqual(['decomposed 0', 'composed 2', 'plain 0']);
      await db.events.append('plain', [{ type: 't', data: 'plain 1' }], { expectedVersion: 0 });
      await db.close();
    }
  });

  it('hardening B8: a second sequence of versions is a name conflict only for a name that is not ASCII; under an ASCII name it stays corruption', { timeout: 30_000 }, async () => {
    for (const [name, conflict] of [['run-1', false], ['r\u00fcn-1', true]] as const) {
      const path = storePath();
      const db = await open(path);
      await db.events.append(name, [{ type: 't', data: 0 }, { type: 't', data: 1 }]);
      await writeRawEvent(db, name, 0);
      await db.close();
      if (!conflict) {
        await expect(open(path)).rejects.toThrow(CorruptionError);
        continue;
      }
      const again = await open(path);
      await expect(again.events.readStream(name)).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
      expect((await again.events.readAll()).length).toBe(3);
      await again.close();
    }
  });
});
