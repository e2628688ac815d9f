/**
 * Pruning: decides which entries a retention policy removes (old events, events of a stream
 * beyond a count, checkpoints beyond keepLast / older than maxAgeMs, entries of deleted streams
 * and threads) and gives their disk space back, crash-safe at every step (docs/FORMAT.md §17):
 * 1. re-base each thread's oldest kept checkpoint as a full one when it is a delta (an
 *    in-place rewrite of its segment; it loads the same either way);
 * 2. write the cuts as cut records (primitives/cut-records.ts), one commit, and wait until it
 *    is durable; only then do the indexes drop what was cut (so memory never runs ahead of disk);
 * 3. rewrite the sealed segments holding dead entries (device/compact.ts), oldest first.
 * Recovery applies the cut records whichever segments a crash left rewritten, so it finds the
 * old state (before 2) or exactly the pruned one; a later prune removes what is left dead.
 */
import { SEGMENT_HEADER_BYTES } from '../core/core.js';
import { compactedSize, compactSegment, type Rewrite } from '../device/compact.js';
import { ENTRY_HEADER_BYTES, FRAME_BEGIN_BYTES, SEAL_FRAME_BYTES, type Segment, type SegmentLog } from '../device/segments.js';
import { InvalidArgumentError } from '../errors.js';
import { checkBoolean, checkFunction, checkKeys, describe } from '../validate.js';
import type { CommitPipeline, EntryWriter, Prepared } from './commit.js';
import type { PrunePart } from './primitive.js';
import type { Registered, Registry } from './registry.js';

/**
 * `prune(options)`: `dryRun` and `onProgress`, and each primitive's own keys (`events`,
 * `streams`, `checkpoints`, `runs`…: PrimitiveSpec.pruneKeys), checked by that primitive.
 */
export interface PruneOptions {
  /** Per thread, remove checkpoints beyond the newest `keepLast` and (when given) older than `maxAgeMs`; the newest is always kept. */
  checkpoints?: import('../primitives/checkpoints.js').CheckpointRetention;
  /** Remove every event before this position (each stream keeps at least its newest event). */
  events?: import('../primitives/events.js').EventRetention;
  /** Keep the newest `keepLast` (at least 1) events of these streams. */
  streams?: Record<string, import('../primitives/events.js').StreamRetention>;
  /** Only say what would be removed, with the same figures the prune would report; change nothing. */
  dryRun?: boolean;
  /** Progress of the rewrites: segments done of those to rewrite (the total is settled once the cuts are written). */
  onProgress?: (segmentsDone: number, segmentsTotal: number) => void;
  /** The keys of other registered primitives. */
  [key: string]: unknown;
}

export type { CheckpointRetention } from '../primitives/checkpoints.js';
export type { EventRetention, StreamRetention } from '../primitives/events.js';

/** A prune's integer option: typed error naming it. */
export function pruneInteger(name: string, value: unknown, minimum = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new InvalidArgumentError(`prune: ${name} must be an integer of at least ${minimum}, got ${describe(value)}`);
  }
  return value;
}

/** What one primitive's part of a prune did. */
export interface PrimitivePruneResult {
  /** Entries this prune removed by its policy: they leave reads at once, their bytes go when their segment is rewritten. */
  removed: number;
  /** Entries already gone from reads (deleted, overwritten, cut earlier) whose bytes this prune erased from disk. */
  erased: number;
}

export interface PruneResult {
  /** Events this prune removed (by the policy): they leave reads at once, their bytes go when their segment is rewritten. */
  events: number;
  /** Checkpoints this prune removed by the retention policy. */
  checkpoints: number;
  /**
   * Event entries already gone from reads whose bytes this prune erased from disk: those of
   * deleted streams, and those an earlier prune cut but left in a segment then not worth sealing.
   */
  erasedEvents: number;
  /** Checkpoint entries erased likewise: those of deleted threads (or cut by an earlier or interrupted prune). */
  deletedThreadCheckpoints: number;
  /** Oldest kept checkpoints that were deltas, re-encoded as full ones so that exactly the kept ones remain. */
  rebased: number;
  /** Sealed segments rewritten. */
  segmentsRewritten: number;
  /** Log bytes before and after (after counts the prune's cut records, and a new segment's header when it sealed one). */
  bytesBefore: number;
  bytesAfter: number;
  /** What the rewritten segments gave back (a re-based checkpoint may grow its segment a little). */
  bytesReclaimed: number;
  /** Per primitive (by name): what its part removed and erased (`events` and `checkpoints` above are two of these). */
  primitives: Record<string, PrimitivePruneResult>;
}

interface PruneContext {
  log: SegmentLog;
  pipeline: CommitPipeline;
  registry: Registry;
}

export interface Policy {
  dryRun: boolean;
  onProgress: ((done: number, total: number) => void) | undefined;
  /** Each primitive's checked policy. */
  parts: Map<Registered, unknown>;
}

/** Validates the options (typed errors, nothing done on bad input): each primitive checks its own keys. */
export function checkPruneOptions(given: unknown, registry: Registry): Policy {
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) throw new InvalidArgumentError(`prune: options must be an object, got ${describe(given)}`);
  const options = (given ?? {}) as Record<string, unknown>;
  const keys: Record<string, true> = { dryRun: true, onProgress: true };
  for (const { spec } of registry.registered) for (const key of spec.pruneKeys ?? []) keys[key] = true;
  checkKeys('option', 'prune', options, keys);
  const parts = new Map<Registered, unknown>();
  for (const registered of registry.registered) {
    const { spec } = registered;
    if (!spec.checkPrune) continue;
    const mine: Record<string, unknown> = {};
    for (const key of spec.pruneKeys ?? []) mine[key] = options[key];
    parts.set(registered, spec.checkPrune(mine));
  }
  const dryRun = checkBoolean('prune: dryRun', options.dryRun, false);
  const onProgress = checkFunction<(done: number, total: number) => void>('prune: onProgress', options.onProgress);
  return { dryRun, onProgress, parts };
}

function logBytes(log: SegmentLog): number {
  return log.segments.reduce((sum, segment) => sum + segment.size, 0);
}

/**
 * What a prune removes from disk, below `horizon`: every entry of a registered primitive's
 * kinds that no primitive marks live (`cut` holds those a plan not yet applied will cut):
 * dead data, and the records that killed it (each lies after the entries it cut, which all go
 * in the same pass, oldest segment first, so recovery never needs it again). Entries of kinds
 * no primitive claims are kept intact.
 */
function removable(context: PruneContext, horizon: number, cut: ReadonlySet<number>): Set<number> {
  const live = new Uint8Array(Math.ceil(horizon / 8)); // one bit per position
  const mark = (position: number) => {
    if (position < horizon && !cut.has(position)) live[Math.floor(position / 8)]! |= 1 << position % 8;
  };
  context.registry.markLive(mark);
  const removed = new Set<number>();
  for (const segment of context.log.segments) {
    const kinds = segment.kinds.values;
    for (let index = 0; index < segment.kinds.length; index++) {
      const position = segment.firstPosition + index;
      if (position >= horizon) return removed;
      if (context.registry.isClaimed(kinds[index]!) && (live[Math.floor(position / 8)]! & (1 << position % 8)) === 0) removed.add(position);
    }
  }
  return removed;
}

/** The segments that hold any of `positions`. */
function segmentsHolding(segments: readonly Segment[], positions: Iterable<number>): Set<Segment> {
  const sorted = Float64Array.from(positions).sort();
  const found = new Set<Segment>();
  let at = 0;
  for (const segment of segments) {
    while (at < sorted.length && sorted[at]! < segment.firstPosition) at++;
    if (at < sorted.length && sorted[at]! < segment.nextPosition) found.add(segment);
  }
  return found;
}

/** Bytes of the frame that holds a prune's cut records. */
function cutRecordsFrameBytes(parts: readonly PrunePart[]): number {
  const count = parts.reduce((sum, part) => sum + (part.recordCount ?? 0), 0);
  if (count === 0) return 0;
  const body = FRAME_BEGIN_BYTES + count * ENTRY_HEADER_BYTES + parts.reduce((sum, part) => sum + (part.recordBytes ?? 0), 0);
  return Math.ceil(body / 8) * 8 + 8;
}

/** Runs a prune; the caller holds the store's maintenance lock. */
export async function runPrune(context: PruneContext, policy: Policy): Promise<PruneResult> {
  const { log, pipeline, registry } = context;
  const bytesBefore = logBytes(log);
  const now = Date.now();
  const plans: { registered: Registered; part: PrunePart }[] = [];
  for (const registered of registry.registered) {
    if (!registered.instance.planPrune) continue;
    plans.push({ registered, part: await registered.instance.planPrune(policy.parts.get(registered), now) });
  }
  const cutPositions = new Set<number>();
  const replaced = new Map<number, Uint8Array>();
  for (const { part } of plans) {
    for (const position of part.positions) cutPositions.add(position);
    for (const [position, payload] of part.replaced ?? []) replaced.set(position, payload);
  }
  const records = plans.reduce((sum, { part }) => sum + (part.recordCount ?? 0), 0);
  const planned = removable(context, pipeline.writtenPosition, cutPositions);
  const primitives: Record<string, PrimitivePruneResult> = {};
  for (const { spec } of registry.registered) primitives[spec.name] = { removed: 0, erased: 0 };
  const result: PruneResult = { events: 0, checkpoints: 0, erasedEvents: 0, deletedThreadCheckpoints: 0, rebased: replaced.size, segmentsRewritten: 0, bytesBefore, bytesAfter: bytesBefore, bytesReclaimed: 0, primitives };
  // What this prune cuts counts as removed at once (reads no longer show it); the rest of what
  // it erases from disk was already gone from reads (data kinds only: records are bookkeeping).
  const count = (removed: ReadonlySet<number>, cutCounts: ReadonlyMap<Registered, number>) => {
    for (const registered of registry.registered) primitives[registered.spec.name] = { removed: cutCounts.get(registered) ?? 0, erased: 0 };
    for (const position of removed) {
      if (cutPositions.has(position)) continue;
      const kind = log.kindAt(position);
      const owner = registry.ownerOf(kind);
      if (owner && !registry.isRecordKind(kind) && !registry.isErasureKind(kind)) primitives[owner.spec.name]!.erased++;
    }
    result.events = primitives.events?.removed ?? 0;
    result.erasedEvents = primitives.events?.erased ?? 0;
    result.checkpoints = primitives.checkpoints?.removed ?? 0;
    result.deletedThreadCheckpoints = primitives.checkpoints?.erased ?? 0;
  };
  const plannedCounts = new Map(plans.map(({ registered, part }) => [registered, part.positions.length]));
  count(planned, plannedCounts);
  // A segment is rewritten for its dead data and erasures; records alone (a few dozen bytes
  // each) wait until their segment is rewritten anyway.
  const sealsFor = (kind: number) => registry.isClaimed(kind) && !registry.isRecordKind(kind);
  const worth = (removed: ReadonlySet<number>) => [...removed].filter((position) => sealsFor(log.kindAt(position)));
  if (worth(planned).length === 0 && records === 0 && replaced.size === 0) return result;

  // Entries to remove in the current segment: it is sealed first (only sealed segments are rewritten).
  // So is one that holds an oldest kept delta to re-base.
  const current = log.current;
  let seal = false;
  let mustSeal = false;
  if (current.offsets.length > 0) {
    for (const position of planned) if (position >= current.firstPosition && sealsFor(log.kindAt(position))) seal = true;
    for (const position of replaced.keys()) if (position >= current.firstPosition) mustSeal = true;
    // An erasure (a stream or thread delete) is not left waiting either.
    for (const position of planned) if (position >= current.firstPosition && registry.isErasureKind(log.kindAt(position))) mustSeal = true;
  }
  // Sealing again, for a few bytes, a nearly empty segment that a prune started would only add
  // segment files (a prune on every step made one each): what is in it waits for a later prune.
  if (seal && !mustSeal && !worthSealing(log, [...planned].sort((a, b) => a - b))) seal = false;
  seal ||= mustSeal;

  if (policy.dryRun) {
    const end = seal ? Infinity : current.firstPosition;
    const compacted = segmentsHolding(log.segments, worth(planned));
    const rebased = segmentsHolding(log.segments, replaced.keys());
    const none = new Set<number>();
    for (const segment of log.segments) {
      if (segment.firstPosition >= end) break;
      // The current segment, once sealed, ends with a seal frame (a roll writes one).
      const sealing = segment === current && seal;
      const size = segment.size + (sealing ? SEAL_FRAME_BYTES : 0);
      // A segment is rewritten once to re-base and once more to compact, as the prune does.
      result.segmentsRewritten += (compacted.has(segment) ? 1 : 0) + (rebased.has(segment) ? 1 : 0);
      if (compacted.has(segment) || rebased.has(segment)) result.bytesReclaimed += size - compactedSize(segment, compacted.has(segment) ? planned : none, (position) => replaced.get(position)?.length, sealing || undefined);
    }
    result.bytesAfter = bytesBefore - result.bytesReclaimed + cutRecordsFrameBytes(plans.map(({ part }) => part)) + (seal ? SEGMENT_HEADER_BYTES + SEAL_FRAME_BYTES : 0);
    count(new Set([...planned].filter((position) => position < end && compacted.has(log.segmentOf(position)!))), plannedCounts);
    return result;
  }

  if (seal) {
    await pipeline.exclusive(async () => {
      // Unless a roll sealed it meanwhile.
      if (log.current === current) {
        await log.roll();
        log.current.startedByPrune = true;
      }
    });
  }
  const sizeBefore = new Map<Segment, number>();
  const total = { done: 0, segments: 0 };
  const rewrite = async (segment: Segment, change: Rewrite) => {
    if (!sizeBefore.has(segment)) sizeBefore.set(segment, segment.size);
    try {
      await compactSegment(log, segment, change);
    } catch (error) {
      // A rewrite that may have replaced the file without the directory being synced leaves
      // the store unsure of its own files: stop writing (reopen recovers either version).
      if ((error as { renamed?: boolean }).renamed) pipeline.failWith('compaction could not make a rewritten segment durable', error);
      throw error;
    }
    result.segmentsRewritten++;
    policy.onProgress?.(++total.done, total.segments);
  };
  const sealedSegments = () => log.segments.filter((segment) => segment !== log.current);

  // 1. Re-write the entries the plans replace (each oldest kept delta as a full checkpoint: it
  //    loads the same either way), so no kept entry needs one the cut removes.
  const holding = segmentsHolding(log.segments, replaced.keys());
  const rebaseWork = sealedSegments().filter((segment) => holding.has(segment));
  total.segments = rebaseWork.length + segmentsHolding(sealedSegments(), worth(planned)).size;
  policy.onProgress?.(0, total.segments);
  for (const segment of rebaseWork) await rewrite(segment, { removed: new Set(), replaced });
  const notReplaced = new Set([...replaced.keys()].filter((position) => !rebaseWork.some((segment) => position >= segment.firstPosition && position < segment.nextPosition)));

  // 2. The cuts, in one commit.
  let horizon: number | undefined;
  let written: { registered: Registered; count: number; removed: number; apply(): void }[] = [];
  if (records > 0) {
    await pipeline.submit<void>({
      prepare: (firstPosition, writer: EntryWriter): Prepared<void> => {
        const timestamp = Date.now();
        written = [];
        for (const { registered, part } of plans) {
          const done = part.write?.(writer, timestamp, notReplaced);
          if (done) written.push({ registered, ...done });
        }
        horizon = firstPosition;
        const entries = written.reduce((sum, part) => sum + part.count, 0);
        if (entries === 0) return { done: undefined };
        return { count: entries, result: () => undefined };
      },
    });
  }
  // Once the cuts and everything before them are durable (in every durability mode), the
  // indexes drop what was cut; every entry then dead below the cut records becomes a
  // placeholder, oldest segment first.
  const removed = await pipeline.barrier(() => {
    for (const part of written) part.apply();
    return removable(context, horizon ?? pipeline.writtenPosition, new Set());
  });
  const holdingRemoved = segmentsHolding(log.segments, worth(removed));
  const work = sealedSegments().filter((segment) => holdingRemoved.has(segment));
  const rewritten = new Set(work);
  const cutCounts = new Map(plans.map(({ registered, part }) => [registered, part.write ? (written.find((done) => done.registered === registered)?.removed ?? 0) : part.positions.length]));
  count(new Set([...removed].filter((position) => rewritten.has(log.segmentOf(position)!))), cutCounts);
  total.segments = total.done + work.length;
  for (const segment of work) await rewrite(segment, { removed, replaced: new Map() });
  result.bytesAfter = logBytes(log);
  for (const [segment, size] of sizeBefore) result.bytesReclaimed += size - segment.size;
  return result;
}

/** A current segment that a prune started, and smaller than this, is sealed by a prune only when that reclaims at least half of it. */
export const SEAL_MIN_BYTES = 64 << 10;

/** Whether a prune that removes `removed` (sorted) should seal the current segment to reclaim what is in it. */
function worthSealing(log: SegmentLog, removed: readonly number[]): boolean {
  const current = log.current;
  if (!current.startedByPrune || current.size >= SEAL_MIN_BYTES) return true;
  const inside = removed.filter((position) => position >= current.firstPosition);
  return inside.length === 0 || payloadBytes(log, inside) * 2 >= current.size;
}

/** Payload bytes of the entries at `positions` (sorted): what a dry run reports. */
function payloadBytes(log: SegmentLog, positions: readonly number[]): number {
  let total = 0;
  for (const position of positions) {
    const segment = log.segmentOf(position);
    if (segment) total += segment.lengths.values[position - segment.firstPosition]!;
  }
  return total;
}
