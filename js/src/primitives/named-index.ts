/**
 * The index of a primitive whose entries come in named sequences: per name (an event stream,
 * a checkpoint thread…) the version of its first kept entry and the positions of its entries
 * in order, with the records that end them (a delete: every entry of the name goes; a cut:
 * the oldest go, docs/FORMAT.md §8.3). It owns what such a primitive needs of that index:
 * recovery of the three kinds (append, deleted, pruned) under the version invariant and the
 * name-conflict rule (name-conflicts.ts), snapshot capture and restore, what is written
 * (visible) and what is live, and a prune's cuts: planned, written as records, applied.
 *
 * A name's positions array is only appended to in place; a cut or a delete replaces it, so a
 * reader that took it keeps a consistent view (its entries may since have been pruned).
 */
import type { Core } from '../core/core.js';
import type { EntryWriter } from '../engine/commit.js';
import type { PrunePart } from '../engine/primitive.js';
import { decodeNamed, encodeNamed, type NamedPositions } from '../engine/section-codec.js';
import { cutRecordBytes, writeCutRecord } from './cut-records.js';
import { NameConflicts } from './name-conflicts.js';

/** One name's entries. */
export interface NamedState {
  readonly name: string;
  readonly nameBytes: Uint8Array;
  /** Version of positions[0]: the versions before it were pruned (0 when none were). */
  first: number;
  /** Global positions of the name's entries from version `first` on (written or being written). */
  positions: number[];
}

/** A planned cut of one name: its `cut` oldest entries (from version `first`) go. */
export interface Cut {
  name: string;
  nameBytes: Uint8Array;
  /** The name's state object when planned: a delete since replaces it. */
  state: NamedState;
  first: number;
  cut: number;
}

/** What a prune removes from a named index: per name, how many of its oldest go. */
export interface CutPlan {
  cuts: Cut[];
  /** The positions removed, sorted. */
  positions: number[];
}

/** The entry kinds of a named index, by role. */
export interface NamedKinds {
  /** An entry of the sequence: version = its place in the name's sequence. */
  append: number;
  /** Every entry of the name before it is gone (a later append starts the name again). */
  deleted: number;
  /** The name's entries below `version` are gone. */
  pruned: number;
}

/** A primitive spec's kind lists for a named index: all three named, the cut record a record, the delete an erasure. */
export function namedIndexKinds(kinds: NamedKinds): { namedKinds: number[]; recordKinds: number[]; erasureKinds: number[] } {
  return { namedKinds: [kinds.append, kinds.deleted, kinds.pruned], recordKinds: [kinds.pruned], erasureKinds: [kinds.deleted] };
}

export interface NamedIndexOptions {
  kinds: NamedKinds;
  /** What a name is, for NameConflictError ('stream', 'thread'). */
  what: string;
  /** How a user gets out of a name conflict (NameConflictError's remedy). */
  remedy: string;
  /** Recovery's description of an append entry whose version does not continue its name. */
  outOfOrder(name: string, version: number, expected: number, position: number): string;
}

/** What the index needs of the store. */
export interface NamedIndexContext {
  readonly core: Core;
  /** Entries below this are written (readable). */
  readonly writtenPosition: number;
}

/** One recovered entry of the index's kinds (engine/primitive.ts RecoveredEntry). */
export interface NamedEntry {
  readonly kind: number;
  readonly position: number;
  readonly name: string | undefined;
  readonly version: number;
}

const encoder = new TextEncoder();

export class NamedIndex {
  private readonly states = new Map<string, NamedState>();
  /** Names that an old store holds more than once (name-conflicts.ts). */
  private readonly conflicts: NameConflicts;
  readonly kinds: NamedKinds;

  constructor(private readonly context: NamedIndexContext, private readonly options: NamedIndexOptions) {
    this.kinds = options.kinds;
    this.conflicts = new NameConflicts(options.what, options.remedy);
  }

  // ---- state per name

  get(name: string): NamedState | undefined {
    return this.states.get(name);
  }

  has(name: string): boolean {
    return this.states.has(name);
  }

  /** The UTF-8 bytes of a known name (checkName's cache), or undefined. */
  nameBytes(name: string): Uint8Array | undefined {
    return this.states.get(name)?.nameBytes;
  }

  /** How many names the index holds. */
  get size(): number {
    return this.states.size;
  }

  /** The names' states, in order of first entry (a name deleted and written again comes last). */
  values(): IterableIterator<NamedState> {
    return this.states.values();
  }

  /** A state for a name with no entries yet (not in the index until `stage` adds its first). */
  fresh(name: string, nameBytes: Uint8Array): NamedState {
    return { name, nameBytes, first: 0, positions: [] };
  }

  /** The next version of the name's sequence (what an append writes), counting staged entries. */
  nextVersion(state: NamedState | undefined): number {
    return state ? state.first + state.positions.length : 0;
  }

  // ---- commits (call from `apply`: they cannot fail)

  /** `count` entries of `state` were written from `firstPosition` on; a new name joins the index. */
  stage(state: NamedState, firstPosition: number, count: number): void {
    for (let index = 0; index < count; index++) state.positions.push(firstPosition + index);
    if (!this.states.has(state.name)) this.states.set(state.name, state);
  }

  /** A delete of the name was written: it leaves the index with its conflicts, and `state` empties (a plan that took it cuts nothing). */
  erase(state: NamedState): void {
    if (this.states.get(state.name) === state) this.states.delete(state.name);
    this.conflicts.delete(state.name);
    state.positions = [];
    state.first = 0;
  }

  /** Forgets the name (a run deleted, a name with no entries); returns whether it was known. */
  delete(name: string): boolean {
    const known = this.states.delete(name);
    this.conflicts.delete(name);
    return known;
  }

  // ---- recovery

  /** One recovered entry; returns a description when it breaks the version invariant (CorruptionError). */
  recover(entry: NamedEntry): string | undefined {
    const { kind, name, version } = entry;
    if (name === undefined) return undefined;
    const kinds = this.kinds;
    if (kind === kinds.deleted) {
      this.delete(name);
      return undefined;
    }
    if (kind === kinds.pruned) {
      // The name's entries below `version` are gone, whether or not their segments were rewritten yet.
      const state = this.states.get(name);
      const drop = state ? Math.min(version - state.first, state.positions.length) : 0;
      if (state && drop > 0) {
        state.positions = state.positions.slice(drop);
        state.first += drop;
      }
      return undefined;
    }
    if (kind !== kinds.append) return undefined;
    let state = this.states.get(name);
    if (!state) {
      // A name whose first entry has a version above 0 had its oldest entries pruned.
      state = { name, nameBytes: encoder.encode(name), first: version, positions: [] };
      this.states.set(name, state);
    }
    const expected = state.first + state.positions.length;
    if (version !== expected) {
      if (this.conflicts.recover(name, version, entry.position)) return undefined;
      return this.options.outOfOrder(name, version, expected, entry.position);
    }
    state.positions.push(entry.position);
    return undefined;
  }

  // ---- snapshots

  /** Every name with its positions (conflict lanes as more items of the same name), in order of first entry. */
  capture(): NamedPositions {
    return [...this.states.values()]
      .filter((state) => state.positions.length > 0)
      .map((state) => ({ name: state.name, first: state.first, positions: state.positions.slice() }))
      .concat(this.conflicts.capture())
      .sort((a, b) => a.positions[0]! - b.positions[0]!);
  }

  /** The index as `capture` recorded it (recovery then goes on with the log after it). */
  restore(items: NamedPositions): void {
    this.states.clear();
    this.conflicts.clear();
    for (const item of items) {
      if (this.states.has(item.name)) this.conflicts.restore(item.name, item.first, item.positions);
      else this.states.set(item.name, { name: item.name, nameBytes: encoder.encode(item.name), first: item.first, positions: item.positions });
    }
  }

  /** The snapshot section (section-codec.ts's named layout). */
  captureSection(): Uint8Array {
    return encodeNamed(this.capture());
  }

  /** Throws on a section that does not decode (the snapshot is then skipped). */
  restoreSection(bytes: Uint8Array): void {
    this.restore(bytes.length === 0 ? [] : decodeNamed(this.context.core, bytes));
  }

  /** A follower found segments the writer's prune rewrote: each name lost a prefix of its entries (now placeholders), its newest always kept. */
  forgetRemoved(removed: (position: number) => boolean): void {
    this.restore(
      this.capture().map((item) => {
        let cut = 0;
        while (cut < item.positions.length - 1 && removed(item.positions[cut]!)) cut++;
        return cut === 0 ? item : { name: item.name, first: item.first + cut, positions: item.positions.slice(cut) };
      }),
    );
  }

  // ---- what is written and what is live

  /** How many of the name's entries are written (staged ones excluded), below `written`. */
  visibleCount(state: NamedState, written = this.context.writtenPosition): number {
    const positions = state.positions;
    let count = positions.length;
    while (count > 0 && positions[count - 1]! >= written) count--;
    return count;
  }

  /** Calls `mark` with the position of every entry the index holds (a prune removes the others). */
  markLive(mark: (position: number) => void): void {
    for (const state of this.states.values()) for (const position of state.positions) mark(position);
    // A name an old store holds more than once keeps every entry.
    for (const position of this.conflicts.positions()) mark(position);
  }

  // ---- name conflicts

  /** Throws NameConflictError when an old store holds the name more than once. */
  checkConflict(name: string): void {
    this.conflicts.check(name);
  }

  /** Whether an old store holds the name more than once (its entries cannot be told apart: none is cut). */
  conflicted(name: string): boolean {
    return this.conflicts.has(name);
  }

  /** Entries the name's conflict lanes hold (beyond its own sequence). */
  conflictCount(name: string): number {
    return this.conflicts.count(name);
  }

  /** Positions of the entries the name's conflict lanes hold. */
  conflictPositions(name: string): number[] {
    return this.conflicts.positionsOf(name);
  }

  // ---- prune cuts

  /** How many of the name's first `end` entries lie below `position`. */
  countBelow(state: NamedState, position: number, end: number): number {
    return lowerBound(state.positions, position, end);
  }

  /** An empty plan; `addCut` fills it, `finishPlan` sorts it. */
  newPlan(): CutPlan {
    return { cuts: [], positions: [] };
  }

  /** Plans the first `cut` of `positions` (the name's array as the planner took it) to go; nothing when `cut` is 0 or less. */
  addCut(plan: CutPlan, state: NamedState, cut: number, positions: readonly number[] = state.positions): void {
    if (cut <= 0) return;
    plan.cuts.push({ name: state.name, nameBytes: state.nameBytes, state, first: state.first, cut });
    for (let index = 0; index < cut; index++) plan.positions.push(positions[index]!);
  }

  finishPlan(plan: CutPlan): CutPlan {
    plan.positions.sort((a, b) => a - b);
    return plan;
  }

  /** Whether the planned cut still applies: its name is the same state object, not cut since. */
  private stillPlanned(cut: Cut): boolean {
    return this.states.get(cut.name) === cut.state && cut.state.first === cut.first;
  }

  /** Writes a cut record for each planned cut that still applies (in commit order); returns those written. */
  writeCuts(cuts: readonly Cut[], writer: EntryWriter, timestamp: number): Cut[] {
    const written = cuts.filter((cut) => this.stillPlanned(cut));
    for (const cut of written) writeCutRecord(writer, this.kinds.pruned, cut.nameBytes, cut.first + cut.cut, timestamp);
    return written;
  }

  /** Forgets the entries of durable cuts that still apply; returns whether any did. */
  applyCuts(cuts: readonly Cut[]): boolean {
    let applied = false;
    for (const cut of cuts) {
      if (!this.stillPlanned(cut)) continue;
      const state = cut.state;
      state.positions = state.positions.slice(cut.cut);
      state.first += cut.cut;
      applied = true;
    }
    return applied;
  }

  /**
   * The plan as a primitive's part of a prune: its cut records written in the prune's commit,
   * applied once it is durable. `replaced`: entries rewritten before the cuts, with `keep`
   * telling which cuts may be written when some of them could not be; `applied` runs after
   * cuts that applied.
   */
  prunePart(plan: CutPlan, extra: { replaced?: Map<number, Uint8Array>; keep?(notReplaced: ReadonlySet<number>): (cut: Cut) => boolean; applied?(): void } = {}): PrunePart {
    const kind = this.kinds.pruned;
    const part: PrunePart = {
      positions: plan.positions,
      recordBytes: plan.cuts.reduce((sum, cut) => sum + cutRecordBytes(kind, cut.nameBytes.length), 0),
      recordCount: plan.cuts.length,
      write: (writer, timestamp, notReplaced) => {
        const cuts = extra.keep ? plan.cuts.filter(extra.keep(notReplaced)) : plan.cuts;
        const written = this.writeCuts(cuts, writer, timestamp);
        return {
          count: written.length,
          removed: cuts.reduce((sum, cut) => sum + cut.cut, 0),
          apply: () => {
            if (this.applyCuts(written)) extra.applied?.();
          },
        };
      },
    };
    if (extra.replaced) part.replaced = extra.replaced;
    return part;
  }
}

/** Index of the first of `values[0..end)` (sorted) that is >= `target`. */
export function lowerBound(values: readonly number[], target: number, end: number): number {
  let low = 0;
  let high = end;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (values[middle]! < target) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The hooks of a primitive whose recovered state is one named index (events, checkpoints):
 * recovery, the snapshot section, the fingerprint, live marks and a follower's forgetting are
 * the index's. A subclass adds what is its own (reads, writes, its prune policy).
 */
export abstract class NamedIndexPrimitive {
  protected constructor(private readonly namedIndex: NamedIndex) {}

  /** @internal one entry found by recovery. */
  recover(entry: NamedEntry): string | undefined {
    return this.namedIndex.recover(entry);
  }

  /** @internal every name with its positions, in order of first entry (what a snapshot records; every entry written is durable when it is taken). */
  captureState(): NamedPositions {
    return this.namedIndex.capture();
  }

  /** @internal the index as a snapshot recorded it (recovery then goes on with the log after it). */
  restoreState(items: NamedPositions): void {
    this.namedIndex.restore(items);
  }

  /** @internal the snapshot section: names with the positions of their entries. */
  captureSection(): Uint8Array {
    return this.namedIndex.captureSection();
  }

  /** @internal */
  restoreSection(bytes: Uint8Array): void {
    this.namedIndex.restoreSection(bytes);
  }

  /** @internal every name's positions (tests compare it across reopen, snapshot and prune). */
  fingerprint(): unknown {
    return this.captureState();
  }

  /** @internal calls `mark` with the position of every entry still live (a prune removes the others). */
  markLive(mark: (position: number) => void): void {
    this.namedIndex.markLive(mark);
  }

  /** @internal a follower found segments the writer's prune rewrote: each name lost a prefix. */
  forgetRemoved(removed: (position: number) => boolean): void {
    this.namedIndex.forgetRemoved(removed);
  }
}
