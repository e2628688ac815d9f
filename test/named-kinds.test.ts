/** The scan's set of named kinds comes from the host: `core.scanSession(work, namedKinds)`. */
import { describe, expect, it } from 'vitest';
import { encodeEvent, KIND_EVENT } from '../js/src/primitives/event-codec.js';
import { ABI_VERSION, BUILTIN_NAMED_KINDS, Core, ENTRY_RECORD_WORDS, NO_STREAM, namedKindsBitmap, ScanStatus, type ScanSession } from '../js/src/core/core.js';
import { reeldb, runtime } from './helpers.js';

const core = await reeldb.init();
const storeId = new Uint8Array(16).fill(7);
const encoder = new TextEncoder();
/** A kind in the extension range, outside the built-in set. */
const KIND_TAG = 0xc5;

/** A payload with the named-entry layout (that of events, docs/FORMAT.md §8). */
function named(name: string, version: number): Uint8Array {
  return encodeEvent(encoder.encode(name), { type: encoder.encode('tag'), id: 'x', data: '{}', binary: false }, version, 1_700_000_000_000);
}

/** One frame at position 0 of the given entries; its bytes. */
function frame(entries: [kind: number, payload: Uint8Array][]): Uint8Array {
  core.resetOutput();
  core.encodeFrame(
    entries.map(([kind]) => kind),
    entries.map(([, payload]) => payload),
    0,
    0,
    storeId,
  );
  return core.output().slice();
}

/** Scans `bytes` in `session`: the result and each entry's kind, name (undefined: none) and version. */
function scan(session: ScanSession, bytes: Uint8Array) {
  session.bufferView(bytes.length).set(bytes);
  const result = session.scan(bytes.length, true, 0, 0, storeId);
  const table = session.entryTable(result.entries);
  const entries = [];
  for (let entry = 0; entry < result.entries; entry++) {
    const record = table.subarray(entry * ENTRY_RECORD_WORDS, (entry + 1) * ENTRY_RECORD_WORDS);
    entries.push({ kind: record[2], name: record[3] === NO_STREAM ? undefined : session.streamName(record[3]!), version: record[4]! + record[5]! * 2 ** 32 });
  }
  return { result, entries };
}

const log = frame([
  [KIND_EVENT, named('chat', 0)],
  [KIND_TAG, named('tags:color', 7)],
]);

describe(`named kinds from the host on ${runtime}`, () => {
  it('indexes a 0xC5 entry by name and version only when the session names it', async () => {
    const builtIn = await core.scanSession(async (session) => scan(session, log));
    expect(builtIn.result).toMatchObject({ status: ScanStatus.End, entries: 2 });
    expect(builtIn.entries).toEqual([
      { kind: KIND_EVENT, name: 'chat', version: 0 },
      { kind: KIND_TAG, name: undefined, version: 0 },
    ]);

    const withTags = await core.scanSession(async (session) => scan(session, log), [...BUILTIN_NAMED_KINDS, KIND_TAG]);
    expect(withTags.entries).toEqual([
      { kind: KIND_EVENT, name: 'chat', version: 0 },
      { kind: KIND_TAG, name: 'tags:color', version: 7 },
    ]);

    // The set replaces the built-in one: without 0x30 the event is not named either.
    const tagsOnly = await core.scanSession(async (session) => scan(session, log), new Set([KIND_TAG]));
    expect(tagsOnly.entries.map((entry) => entry.name)).toEqual([undefined, 'tags:color']);

    // The same set as a 32-byte bitmap (what the registry builds), copied at the session's start.
    const bitmap = namedKindsBitmap([...BUILTIN_NAMED_KINDS, KIND_TAG]);
    const fromBitmap = await core.scanSession(async (session) => {
      bitmap.fill(0);
      return scan(session, log);
    }, bitmap);
    expect(fromBitmap.entries).toEqual(withTags.entries);

    // The next session without a set is back to the built-in one.
    const again = await core.scanSession(async (session) => scan(session, log));
    expect(again.entries).toEqual(builtIn.entries);
  });

  it('a named kind whose payload is not the named layout is a bad frame; unnamed, it is opaque', async () => {
    const broken = named('tags:color', 7).slice(0, -1); // one byte short of what its lengths say
    const bytes = frame([
      [KIND_EVENT, named('chat', 0)],
      [KIND_TAG, broken],
    ]);
    const asNamed = await core.scanSession(async (session) => scan(session, bytes), [KIND_EVENT, KIND_TAG]);
    expect(asNamed.result).toMatchObject({ status: ScanStatus.Bad, errorCode: 7, badEvent: true, consumed: 0, entries: 0 });
    expect(asNamed.result.message).toMatch(/named kind/);
    const opaque = await core.scanSession(async (session) => scan(session, bytes));
    expect(opaque.result).toMatchObject({ status: ScanStatus.End, badEvent: false, entries: 2 });
  });

  it('keeps each session its own set while sessions wait on each other', async () => {
    let releaseFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (releaseFirst = resolve));
    const order: string[] = [];
    const first = core.scanSession(async (session) => {
      const before = scan(session, log);
      order.push('first scanned');
      await firstMayFinish; // the second session is queued meanwhile
      const after = scan(session, log);
      order.push('first done');
      return [before, after];
    }, [KIND_EVENT, KIND_TAG]);
    const second = core.scanSession(async (session) => {
      order.push('second started');
      return scan(session, log);
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order).toEqual(['first scanned']);
    releaseFirst();
    const [[before, after], other] = [await first, await second];
    expect(order).toEqual(['first scanned', 'first done', 'second started']);
    expect(before!.entries[1]!.name).toBe('tags:color');
    expect(after!.entries[1]!.name).toBe('tags:color');
    expect(other.entries[1]!.name).toBeUndefined();
  });

  it('rejects a bad set with InvalidArgumentError before the session starts', async () => {
    const cases: [unknown, RegExp][] = [
      [[0x05], /0x05 .*belong to the core/],
      [[0x01], /0x01 .*belong to the core/],
      [[256], /0x100 .*0x10–0xFF/],
      [[-1], /-1 .*0x10–0xFF/],
      [[0x30, 1.5], /1\.5 /],
      [['0x30'], /"0x30" /],
      [0x30, /expected an iterable/],
      [null, /expected an iterable/],
      ['0x30', /expected an iterable/],
      [new Uint8Array(31), /must be 32 bytes .*got 31/],
      [new Uint8Array(32).fill(1, 0, 1), /sets kind 0x00, .*belong to the core/],
      [Uint8Array.of(0, 0b100, ...new Uint8Array(30)), /sets kind 0x0a, /],
    ];
    for (const [kinds, message] of cases) {
      let ran = false;
      const attempt = core.scanSession(
        async () => {
          ran = true;
        },
        kinds as Iterable<number>,
      );
      await expect(attempt).rejects.toMatchObject({ name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
      expect(ran).toBe(false);
    }
    // Nothing was left holding the scan lock or a half-installed set.
    const after = await core.scanSession(async (session) => scan(session, log));
    expect(after.entries[1]!.name).toBeUndefined();
  });

  it('builds the bitmap the core takes: kind k is bit k % 8 of byte k / 8', async () => {
    const builtIn = namedKindsBitmap(BUILTIN_NAMED_KINDS);
    expect(builtIn.length).toBe(32);
    expect([...builtIn].map((byte, index) => [index, byte]).filter(([, byte]) => byte !== 0)).toEqual([
      [6, 0b111],
      [16, 0b111],
    ]);
    const edges = namedKindsBitmap([0x10, 0xff, KIND_TAG, KIND_TAG]);
    expect([edges[2], edges[31], edges[24]]).toEqual([1, 0x80, 1 << 5]);
    await core.scanSession(async (session) => {
      expect(BUILTIN_NAMED_KINDS.every((kind) => session.isNamedKind(kind))).toBe(true);
      expect(session.isNamedKind(KIND_TAG)).toBe(false);
    });
    await core.scanSession(async (session) => expect(session.isNamedKind(KIND_TAG)).toBe(true), [KIND_TAG]);
  });

  it('the core of this build speaks ABI 3, and a host refuses a core of ABI 2', () => {
    expect(ABI_VERSION).toBe(3);
    expect(core.exports.reel_abi_version()).toBe(3);
    expect(() => new Core({ ...core.exports, reel_abi_version: () => 2 })).toThrow(/wasm core ABI 2, this build expects 3/);
  });
});
