/**
 * Names that one store holds more than once: a store written before the name policy
 * (names.ts) may have two streams or threads that are one name now, written as different
 * texts with the same NFC form or as lone-surrogate names that UTF-8 stored alike (U+FFFD).
 * Recovery sees their entries under one name, each with its own sequence (stream version or
 * checkpoint seq). The first sequence is the name's own; each later one is kept here as a
 * lane, so the store opens and no entry is dropped (a prune keeps them all),
 * while reads and writes of the name throw NameConflictError: which entries belong together
 * cannot be told any more. Snapshots record each lane as one more item of the same name.
 */
import { NameConflictError } from '../errors.js';
import type { NamedPositions } from '../engine/section-codec.js';

const ASCII = /^[\x00-\x7f]*$/;

interface Lane {
  first: number;
  positions: number[];
}

export class NameConflicts {
  private readonly lanes = new Map<string, Lane[]>();

  /** `what` is 'stream' or 'thread'; `remedy` says how a user gets out of it. */
  constructor(private readonly what: string, private readonly remedy: string) {}

  /**
   * Recovery: the entry at `position` of `name` with sequence number `seq` does not continue
   * the name's own sequence. True when it continues a lane or starts one, at any seq (the
   * later name may have lost its oldest entries to a prune), for a name that is not ASCII: only
   * those can be two old names. An ASCII name out of sequence stays corruption.
   */
  recover(name: string, seq: number, position: number): boolean {
    if (ASCII.test(name)) return false;
    let lanes = this.lanes.get(name);
    const lane = lanes?.find((candidate) => candidate.first + candidate.positions.length === seq);
    if (lane) {
      lane.positions.push(position);
      return true;
    }
    if (!lanes) this.lanes.set(name, (lanes = []));
    lanes.push({ first: seq, positions: [position] });
    return true;
  }

  /** Snapshot restore: one more item of a name already restored. */
  restore(name: string, first: number, positions: number[]): void {
    let lanes = this.lanes.get(name);
    if (!lanes) this.lanes.set(name, (lanes = []));
    lanes.push({ first, positions });
  }

  has(name: string): boolean {
    return this.lanes.has(name);
  }

  /** Throws NameConflictError when `name` holds lanes. */
  check(name: string): void {
    const lanes = this.lanes.get(name);
    if (lanes) throw new NameConflictError(this.what, name, lanes.length + 1, this.remedy);
  }

  /** The name's conflict is gone (its thread was deleted). */
  delete(name: string): void {
    this.lanes.delete(name);
  }

  /** Entries held by the lanes of `name`. */
  count(name: string): number {
    return this.lanes.get(name)?.reduce((sum, lane) => sum + lane.positions.length, 0) ?? 0;
  }

  /** Positions of the entries held by the lanes of `name`. */
  positionsOf(name: string): number[] {
    return this.lanes.get(name)?.flatMap((lane) => lane.positions) ?? [];
  }

  /** Every position the lanes hold (entries that belong to a name, for a prune). */
  *positions(): Iterable<number> {
    for (const lanes of this.lanes.values()) for (const lane of lanes) yield* lane.positions;
  }

  /** The lanes as snapshot items (the caller sorts them with its own). */
  capture(): NamedPositions {
    const items: NamedPositions = [];
    for (const [name, lanes] of this.lanes) for (const lane of lanes) if (lane.positions.length > 0) items.push({ name, first: lane.first, positions: lane.positions.slice() });
    return items;
  }

  clear(): void {
    this.lanes.clear();
  }
}
