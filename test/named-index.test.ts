/** The named index that events and checkpoints share: recovery, conflicts, snapshots, cut planning, cut records. */
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../js/src/engine/primitive.js';
import { resolveOptions } from '../js/src/engine/options.js';
import type { EntryWriter } from '../js/src/engine/commit.js';
import { checkpointsPrimitive } from '../js/src/primitives/checkpoints.js';
import { KIND_EVENT_STREAM_DELETED, KIND_EVENT_STREAM_PRUNED } from '../js/src/primitives/cut-records.js';
import { KIND_EVENT } from '../js/src/primitives/event-codec.js';
import { eventsPrimitive } from '../js/src/primitives/events.js';
import { decodeNamedEntry } from '../js/src/primitives/named-entry.js';
import { lowerBound, NamedIndex, namedIndexKinds, type NamedEntry } from '../js/src/primitives/named-index.js';
import { reeldb, runtime } from './helpers.js';

const core = await reeldb.init();

const KINDS = { append: KIND_EVENT, deleted: KIND_EVENT_STREAM_DELETED, pruned: KIND_EVENT_STREAM_PRUNED };

/** An index over a store whose written position the test moves. */
function makeIndex(written = Infinity) {
  const context = { core, writtenPosition: written };
  const index = new NamedIndex(context, {
    kinds: KINDS,
    what: 'stream',
    remedy: 'delete it',
    outOfOrder: (name, version, expected, position) => `${name}@${position}: ${version} != ${expected}`,
  });
  return { index, context };
}

const append = (name: string | undefined, version: number, position: number): NamedEntry => ({ kind: KIND_EVENT, name, version, position });
const deleted = (name: string, version: number, position: number): NamedEntry => ({ kind: KIND_EVENT_STREAM_DELETED, name, version, position });
const pruned = (name: string, version: number, position: number): NamedEntry => ({ kind: KIND_EVENT_STREAM_PRUNED, name, version, position });

/** Recovers entries in order; returns the first problem described. */
function recoverAll(index: NamedIndex, entries: NamedEntry[]): string | undefined {
  for (const entry of entries) {
    const problem = index.recover(entry);
    if (problem) return problem;
  }
  return undefined;
}

/** An EntryWriter over a plain buffer that keeps what was written. */
function bufferWriter() {
  const u8 = new Uint8Array(1 << 16);
  const entries: { kind: number; start: number; length: number }[] = [];
  let end = 0;
  let start = 0;
  const writer: EntryWriter = {
    u8,
    reservePayload() {
      start = end;
      return start;
    },
    endPayload(kind, length) {
      entries.push({ kind, start, length });
      end = start + length;
    },
  };
  const decoded = () => entries.map(({ kind, start, length }) => ({ kind, ...pick(decodeNamedEntry(u8, start, length, 0)) }));
  const bytes = () => entries.reduce((sum, entry) => sum + entry.length, 0);
  return { writer, decoded, bytes };
}

const pick = (entry: { stream: string; streamVersion: number; type: string }) => ({ name: entry.stream, version: entry.streamVersion, type: entry.type });

/** A context enough for building the events and checkpoints primitives (recovery only). */
function primitiveContext(): PrimitiveContext {
  return { core, options: resolveOptions(), writtenPosition: 0, onAcknowledged: () => () => undefined, onFailed: () => () => undefined } as unknown as PrimitiveContext;
}

describe(`the named index on ${runtime}`, () => {
  it('recovers appends per name in version order, a first version above 0, cuts and deletes', () => {
    const { index } = makeIndex();
    expect(recoverAll(index, [append('a', 0, 0), append('b', 7, 1), append('a', 1, 2), append('b', 8, 3), append(undefined, 5, 4), { kind: 0x99, name: 'a', version: 9, position: 5 }])).toBeUndefined();
    expect(index.capture()).toEqual([
      { name: 'a', first: 0, positions: [0, 2] },
      { name: 'b', first: 7, positions: [1, 3] },
    ]);
    // A cut below the first version changes nothing; one past the end drops what there is.
    index.recover(pruned('b', 5, 6));
    expect(index.get('b')).toMatchObject({ first: 7, positions: [1, 3] });
    index.recover(pruned('a', 1, 7));
    expect(index.get('a')).toMatchObject({ first: 1, positions: [2] });
    expect(index.nextVersion(index.get('a'))).toBe(2);
    index.recover(deleted('b', 9, 8));
    expect(index.has('b')).toBe(false);
    expect(index.nextVersion(index.get('b'))).toBe(0);
    // After its delete the name starts again at version 0.
    expect(index.recover(append('b', 0, 9))).toBeUndefined();
    expect(index.capture()).toEqual([
      { name: 'a', first: 1, positions: [2] },
      { name: 'b', first: 0, positions: [9] },
    ]);
    expect([...index.values()].map((state) => state.name)).toEqual(['a', 'b']);
    expect(index.nameBytes('a')).toEqual(new TextEncoder().encode('a'));
    // A cut past the name's end drops only what there is (a snapshot then leaves the name out).
    index.recover(pruned('a', 9, 10));
    expect(index.get('a')).toMatchObject({ first: 2, positions: [] });
    expect(index.capture()).toEqual([{ name: 'b', first: 0, positions: [9] }]);
  });

  it('describes an ASCII name out of version order, with the expected version and position', () => {
    const { index } = makeIndex();
    expect(recoverAll(index, [append('s', 0, 0), append('s', 2, 1)])).toBe('s@1: 2 != 1');
    expect(recoverAll(makeIndex().index, [append('t', 3, 0), append('t', 3, 1)])).toBe('t@1: 3 != 4');
  });

  it("gives events' and checkpoints' own messages for entries out of order", () => {
    const events = eventsPrimitive.create(primitiveContext());
    const payload = () => new Uint8Array(0);
    expect(events.recover({ kind: KIND_EVENT, name: 's', version: 0, position: 0, payload })).toBeUndefined();
    expect(events.recover({ kind: KIND_EVENT, name: 's', version: 2, position: 1, payload })).toBe("the event at position 1 has version 2 in stream 's', expected 1");
    const checkpoints = checkpointsPrimitive.create(primitiveContext());
    expect(checkpoints.recover({ kind: 0x80, name: 'th', version: 4, position: 3, payload })).toBeUndefined();
    expect(checkpoints.recover({ kind: 0x80, name: 'th', version: 4, position: 5, payload })).toBe("checkpoint of thread 'th' has seq 4, expected 5");
    // The cut and delete records of each are their own kinds.
    expect(checkpoints.recover({ kind: 0x82, name: 'th', version: 5, position: 6, payload })).toBeUndefined();
    expect(checkpoints.recover({ kind: 0x80, name: 'th', version: 5, position: 7, payload })).toBeUndefined();
    expect(checkpoints.captureState()).toEqual([{ name: 'th', first: 5, positions: [7] }]);
    expect(checkpoints.recover({ kind: 0x81, name: 'th', version: 6, position: 8, payload })).toBeUndefined();
    expect(checkpoints.captureState()).toEqual([]);
  });

  it('keeps a non-ASCII name held twice as a conflict: no error, every entry live, NameConflictError on use', () => {
    const { index } = makeIndex();
    const name = 'caf\u00e9';
    // Two old streams that are one name now: each with its own versions, interleaved.
    expect(recoverAll(index, [append(name, 0, 0), append(name, 0, 1), append(name, 1, 2), append(name, 1, 3), append(name, 2, 4), append('x', 0, 5)])).toBeUndefined();
    expect(index.get(name)).toMatchObject({ first: 0, positions: [0, 2, 4] });
    expect(index.conflicted(name)).toBe(true);
    expect(index.conflicted('x')).toBe(false);
    expect(index.conflictCount(name)).toBe(2);
    expect(index.conflictPositions(name)).toEqual([1, 3]);
    expect(() => index.checkConflict(name)).toThrow(expect.objectContaining({ code: 'NAME_CONFLICT', count: 2, message: expect.stringMatching(/^stream "café" holds 2 streams .*: delete it$/) }));
    expect(() => index.checkConflict('x')).not.toThrow();
    const live: number[] = [];
    index.markLive((position) => live.push(position));
    expect(live.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    // A snapshot records the lane as one more item of the name; restoring it gives the conflict back.
    const items = index.capture();
    expect(items).toEqual([
      { name, first: 0, positions: [0, 2, 4] },
      { name, first: 0, positions: [1, 3] },
      { name: 'x', first: 0, positions: [5] },
    ]);
    const { index: restored } = makeIndex();
    restored.restoreSection(index.captureSection());
    expect(restored.capture()).toEqual(items);
    expect(restored.conflictCount(name)).toBe(2);
    // The delete is the way out: the name and its lanes go.
    restored.recover(deleted(name, 3, 6));
    expect(restored.conflicted(name)).toBe(false);
    expect(restored.capture()).toEqual([{ name: 'x', first: 0, positions: [5] }]);
  });

  it('round-trips capture through the snapshot section; an empty section clears; bad bytes throw', () => {
    const { index } = makeIndex();
    recoverAll(index, [append('late', 4, 3), append('early', 0, 0), pruned('early', 1, 5), append('early', 1, 1), append('late', 5, 9)]);
    // Ordered by first position, whatever the map's order.
    const { index: first } = makeIndex();
    first.restore([
      { name: 'b', first: 2, positions: [10, 12] },
      { name: 'a', first: 0, positions: [4] },
    ]);
    expect(first.capture().map((item) => item.name)).toEqual(['a', 'b']);
    const bytes = index.captureSection();
    const { index: copy } = makeIndex();
    copy.restoreSection(bytes);
    expect(copy.capture()).toEqual(index.capture());
    expect(copy.captureSection()).toEqual(bytes);
    copy.restoreSection(new Uint8Array(0));
    expect(copy.capture()).toEqual([]);
    expect(() => copy.restoreSection(bytes.subarray(0, bytes.length - 3))).toThrow(/section ends early/);
  });

  it('counts what is written, and plans cuts with the positions sorted', () => {
    const { index, context } = makeIndex(6);
    recoverAll(index, [append('a', 0, 0), append('b', 0, 1), append('a', 1, 2), append('b', 1, 3), append('a', 2, 4), append('a', 3, 7)]);
    const a = index.get('a')!;
    const b = index.get('b')!;
    expect(index.visibleCount(a)).toBe(3);
    expect(index.visibleCount(a, 100)).toBe(4);
    context.writtenPosition = 1;
    expect(index.visibleCount(a)).toBe(1);
    expect(index.visibleCount(b)).toBe(0);
    context.writtenPosition = 8;
    expect(index.countBelow(a, 3, 4)).toBe(2);
    expect(index.countBelow(a, 100, 3)).toBe(3);
    expect(lowerBound([1, 3, 5], 3, 3)).toBe(1);
    expect(lowerBound([1, 3, 5], 0, 3)).toBe(0);
    const plan = index.newPlan();
    index.addCut(plan, b, 1);
    index.addCut(plan, a, 2);
    index.addCut(plan, a, 0); // nothing
    expect(index.finishPlan(plan)).toEqual({
      cuts: [
        { name: 'b', nameBytes: b.nameBytes, state: b, first: 0, cut: 1 },
        { name: 'a', nameBytes: a.nameBytes, state: a, first: 0, cut: 2 },
      ],
      positions: [0, 1, 2],
    });
  });

  it('writes and applies only the cuts still planned: not for a name deleted, written again or cut since', () => {
    const { index } = makeIndex();
    recoverAll(index, [append('a', 0, 0), append('a', 1, 1), append('a', 2, 2), append('b', 0, 3), append('b', 1, 4), append('c', 0, 5), append('c', 1, 6)]);
    const plan = index.newPlan();
    for (const state of index.values()) index.addCut(plan, state, 1);
    // Meanwhile: b deleted and written again (a new state), c cut by another plan.
    index.erase(index.get('b')!);
    index.stage(index.fresh('b', new TextEncoder().encode('b')), 7, 1);
    const other = index.newPlan();
    index.addCut(other, index.get('c')!, 1);
    expect(index.applyCuts(other.cuts)).toBe(true);
    const { writer, decoded } = bufferWriter();
    const written = index.writeCuts(plan.cuts, writer, 1000);
    expect(written.map((cut) => cut.name)).toEqual(['a']);
    expect(decoded()).toEqual([{ kind: KIND_EVENT_STREAM_PRUNED, name: 'a', version: 1, type: 'pruned' }]);
    expect(index.applyCuts(written)).toBe(true);
    // Applied once only: the cut no longer matches the state it changed.
    expect(index.applyCuts(written)).toBe(false);
    expect(index.capture()).toEqual([
      { name: 'a', first: 1, positions: [1, 2] },
      { name: 'c', first: 1, positions: [6] },
      { name: 'b', first: 0, positions: [7] },
    ]);
  });

  it('makes a prune part: record bytes, the cuts kept, what they remove, and the apply', () => {
    const { index } = makeIndex();
    recoverAll(index, [append('a', 0, 0), append('a', 1, 1), append('bb', 0, 2), append('bb', 1, 3), append('bb', 2, 4)]);
    const plan = index.newPlan();
    index.addCut(plan, index.get('a')!, 1);
    index.addCut(plan, index.get('bb')!, 2);
    let applied = 0;
    const part = index.prunePart(index.finishPlan(plan), { replaced: new Map([[3, new Uint8Array([1])]]), keep: (notReplaced) => (cut) => !(notReplaced.has(3) && cut.name === 'bb'), applied: () => applied++ });
    expect(part.positions).toEqual([0, 2, 3]);
    expect(part.recordCount).toBe(2);
    expect(part.replaced?.get(3)).toEqual(new Uint8Array([1]));
    const { writer, decoded } = bufferWriter();
    const result = part.write!(writer, 5, new Set([3]));
    expect(result.count).toBe(1);
    expect(result.removed).toBe(1);
    expect(decoded()).toEqual([{ kind: KIND_EVENT_STREAM_PRUNED, name: 'a', version: 1, type: 'pruned' }]);
    // The record bytes are what the whole plan writes (nothing is applied yet: both records).
    const whole = bufferWriter();
    expect(index.writeCuts(plan.cuts, whole.writer, 5)).toHaveLength(2);
    expect(part.recordBytes).toBe(whole.bytes());
    expect(part.recordBytes).toBe(2 * (32 + 'pruned'.length) + 'a'.length + 'bb'.length);
    result.apply();
    expect(applied).toBe(1);
    expect(index.capture()).toEqual([
      { name: 'a', first: 1, positions: [1] },
      { name: 'bb', first: 0, positions: [2, 3, 4] },
    ]);
    // Without extras: no replaced map, every cut written.
    const bare = index.prunePart(index.finishPlan(index.newPlan()));
    expect(bare).toMatchObject({ positions: [], recordCount: 0, recordBytes: 0 });
    expect('replaced' in bare).toBe(false);
  });

  it('stages appends into a fresh or known state, and erases a state only while it is the current one', () => {
    const { index } = makeIndex();
    const bytes = new TextEncoder().encode('s');
    const fresh = index.fresh('s', bytes);
    expect(index.has('s')).toBe(false);
    index.stage(fresh, 10, 3);
    expect(index.get('s')).toBe(fresh);
    expect(fresh.positions).toEqual([10, 11, 12]);
    index.stage(fresh, 13, 1);
    expect(index.nextVersion(fresh)).toBe(4);
    const taken = fresh.positions;
    index.erase(fresh);
    expect(index.has('s')).toBe(false);
    // The state empties (a plan holding it cuts nothing); a reader's array stays as it was.
    expect(fresh).toMatchObject({ first: 0, positions: [] });
    expect(taken).toEqual([10, 11, 12, 13]);
    const again = index.fresh('s', bytes);
    index.stage(again, 20, 1);
    index.erase(fresh); // an old state: the new one stays
    expect(index.get('s')).toBe(again);
    expect(index.delete('s')).toBe(true);
    expect(index.delete('s')).toBe(false);
  });

  it('forgets a removed prefix for a follower, always keeping the newest', () => {
    const { index } = makeIndex();
    recoverAll(index, [append('a', 0, 0), append('a', 1, 1), append('a', 2, 2), append('b', 0, 3), append('b', 1, 4)]);
    const removed = new Set([0, 1, 3]);
    index.forgetRemoved((position) => removed.has(position));
    expect(index.capture()).toEqual([
      { name: 'a', first: 2, positions: [2] },
      { name: 'b', first: 1, positions: [4] },
    ]);
    index.forgetRemoved(() => true);
    // A prefix only: an entry kept stops the cut.
    const { index: other } = makeIndex();
    recoverAll(other, [append('a', 0, 0), append('a', 1, 1), append('a', 2, 2)]);
    other.forgetRemoved((position) => position === 1);
    expect(other.capture()).toEqual([{ name: 'a', first: 0, positions: [0, 1, 2] }]);
    expect(index.capture()).toEqual([
      { name: 'a', first: 2, positions: [2] },
      { name: 'b', first: 1, positions: [4] },
    ]);
  });

  it('lists the spec kinds of a named index', () => {
    expect(namedIndexKinds(KINDS)).toEqual({ namedKinds: [0x30, 0x31, 0x32], recordKinds: [0x32], erasureKinds: [0x31] });
    expect(eventsPrimitive).toMatchObject({ namedKinds: [0x30, 0x31, 0x32], recordKinds: [0x32], erasureKinds: [0x31] });
    expect(checkpointsPrimitive).toMatchObject({ namedKinds: [0x80, 0x81, 0x82], recordKinds: [0x82], erasureKinds: [0x81] });
  });
});
