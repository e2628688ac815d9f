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
import { KIND_CHECKPOINT, KIND_CHECKPOINT_THREAD_DELETED } from '../primitives/checkpoint-codec.js';
import { cutRecordBytes, isCutRecord, KIND_CHECKPOINT_THREAD_PRUNED, KIND_EVENT_STREAM_DELETED, KIND_EVENT_STREAM_PRUNED } from '../primitives/cut-records.js';
import { KIND_EVENT } from '../primitives/event-codec.js';
import type { Cut } from '../primitives/cut-records.js';
import { InvalidArgumentError } from '../errors.js';
import type { Checkpoints } from '../primitives/checkpoints.js';
import type { Events } from '../primitives/events.js';
import { aliasedOption, checkBoolean, checkFunction, checkObject, checkOptions, describe, type OptionKeys } from '../validate.js';
import type { CommitPipeline, Prepared } from './commit.js';

export interface PruneOptions {
  /** Per thread, remove checkpoints beyond the newest `keepLast` and (when given) older than `maxAgeMs`; the newest is always kept. */
  checkpoints?: CheckpointRetention;
  /** Remove every event before this position (each stream keeps at least its newest event). */
  events?: EventRetention;
  /** Keep the newest `keepLast` (at least 1) events of these streams. */
  streams?: Record<string, StreamRetention>;
  /** Only say what would be removed, with the same figures the prune would report; change nothing. */
  dryRun?: boolean;
  /** Progress of the rewrites: segments done of those to rewrite (the total is settled once the cuts are written). */
  onProgress?: (segmentsDone: number, segmentsTotal: number) => void;
}

export interface CheckpointRetention {
  keepLast?: number;
  maxAgeMs?: number;
}

export interface EventRetention {
  beforePosition?: number;
}

/** One of `keepLast` or its older name `maxCount` (both given and different is InvalidArgumentError). */
export interface StreamRetention {
  /** Keep the newest this many (at least 1) events of the stream. */
  keepLast?: number;
  /** @deprecated the older name of `keepLast`, still accepted. */
  maxCount?: number;
}

/** The options each part of a prune policy takes (checked: any other key is InvalidArgumentError). */
const PRUNE_KEYS: OptionKeys<PruneOptions> = { checkpoints: true, events: true, streams: true, dryRun: true, onProgress: true };
const CHECKPOINT_RETENTION_KEYS: OptionKeys<CheckpointRetention> = { keepLast: true, maxAgeMs: true };
const EVENT_RETENTION_KEYS: OptionKeys<EventRetention> = { beforePosition: true };
const STREAM_RETENTION_KEYS: OptionKeys<StreamRetention> = { keepLast: true, maxCount: true };

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
}

interface PruneContext {
  log: SegmentLog;
  pipeline: CommitPipeline;
  events: Events;
  checkpoints: Checkpoints;
}

function nonNegativeInteger(name: string, value: unknown, minimum = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
    throw new InvalidArgumentError(`prune: ${name} must be an integer of at least ${minimum}, got ${describe(value)}`);
  }
  return value;
}

interface Policy {
  dryRun: boolean;
  onProgress: ((done: number, total: number) => void) | undefined;
  beforePosition: number;
  maxCounts: Map<string, number>;
  keepLast: number | undefined;
  maxAgeMs: number | undefined;
  checkpoints: boolean;
}

/** Validates the options (typed errors, nothing done on bad input). */
export function checkPruneOptions(given: unknown): Policy {
  const options = checkOptions('prune', given as PruneOptions | undefined, PRUNE_KEYS);
  const events = checkOptions('prune.events', options.events, EVENT_RETENTION_KEYS);
  const beforePosition = events.beforePosition === undefined ? 0 : nonNegativeInteger('events.beforePosition', events.beforePosition);
  const maxCounts = new Map<string, number>();
  const streams = checkObject('prune.streams', options.streams) as Record<string, unknown>;
  for (const [stream, rule] of Object.entries(streams)) {
    const where = `prune.streams['${stream}']`;
    const retention = checkOptions(where, rule as StreamRetention | undefined, STREAM_RETENTION_KEYS);
    const keepLast = aliasedOption(where, retention, 'keepLast', 'maxCount');
    maxCounts.set(stream, nonNegativeInteger(`streams['${stream}'].${retention.keepLast === undefined && retention.maxCount !== undefined ? 'maxCount' : 'keepLast'}`, keepLast, 1));
  }
  const checkpoints = options.checkpoints === undefined ? undefined : checkOptions('prune.checkpoints', options.checkpoints, CHECKPOINT_RETENTION_KEYS);
  const keepLast = checkpoints?.keepLast === undefined ? undefined : nonNegativeInteger('checkpoints.keepLast', checkpoints.keepLast, 1);
  const maxAgeMs = checkpoints?.maxAgeMs === undefined ? undefined : nonNegativeInteger('checkpoints.maxAgeMs', checkpoints.maxAgeMs);
  if (checkpoints !== undefined && keepLast === undefined && maxAgeMs === undefined) {
    throw new InvalidArgumentError('prune: checkpoints needs keepLast or maxAgeMs (or leave it out)');
  }
  const dryRun = checkBoolean('prune: dryRun', options.dryRun, false);
  const onProgress = checkFunction<(done: number, total: number) => void>('prune: onProgress', options.onProgress);
  return { dryRun, onProgress, beforePosition, maxCounts, keepLast, maxAgeMs, checkpoints: checkpoints !== undefined };
}

function logBytes(log: SegmentLog): number {
  return log.segments.reduce((sum, segment) => sum + segment.size, 0);
}

/** Entry kinds whose dead entries in the current segment make a prune seal it: data, and explicit deletions (their names). */
function isDeletion(kind: number): boolean {
  return kind === KIND_EVENT_STREAM_DELETED || kind === KIND_CHECKPOINT_THREAD_DELETED;
}

function sealsFor(kind: number): boolean {
  return kind === KIND_EVENT || kind === KIND_CHECKPOINT || kind === KIND_EVENT_STREAM_DELETED || kind === KIND_CHECKPOINT_THREAD_DELETED;
}

/**
 * What a prune removes from disk, below `horizon`: every event and checkpoint entry the
 * indexes no longer show (`cut` holds those a plan not yet applied will cut), and every cut
 * record (each lies after the entries it cut, which all go in the same pass, oldest segment
 * first, so recovery never needs it again).
 */
function removable(context: PruneContext, horizon: number, cut: ReadonlySet<number>): Set<number> {
  const live = new Uint8Array(Math.ceil(horizon / 8)); // one bit per position
  const mark = (position: number) => {
    if (position < horizon && !cut.has(position)) live[Math.floor(position / 8)]! |= 1 << position % 8;
  };
  context.events.markLive(mark);
  context.checkpoints.markLive(mark);
  const removed = new Set<number>();
  for (const segment of context.log.segments) {
    const kinds = segment.kinds.values;
    for (let index = 0; index < segment.kinds.length; index++) {
      const position = segment.firstPosition + index;
      if (position >= horizon) return removed;
      const kind = kinds[index]!;
      if (((kind === KIND_EVENT || kind === KIND_CHECKPOINT) && (live[Math.floor(position / 8)]! & (1 << position % 8)) === 0) || isCutRecord(kind)) removed.add(position);
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
function cutRecordsFrameBytes(cuts: readonly { kind: number; cut: Cut }[]): number {
  if (cuts.length === 0) return 0;
  const body = FRAME_BEGIN_BYTES + cuts.reduce((sum, { kind, cut }) => sum + ENTRY_HEADER_BYTES + cutRecordBytes(kind, cut.nameBytes.length), 0);
  return Math.ceil(body / 8) * 8 + 8;
}

/** Runs a prune; the caller holds the store's maintenance lock. */
export async function runPrune(context: PruneContext, policy: Policy): Promise<PruneResult> {
  const { log, pipeline, events, checkpoints } = context;
  const bytesBefore = logBytes(log);
  const eventPlan = events.planPrune(policy.beforePosition, policy.maxCounts);
  const checkpointPlan = policy.checkpoints ? await checkpoints.planPrune(policy.keepLast, policy.maxAgeMs, Date.now()) : { cuts: [], positions: [], rebases: [] };
  const cutPositions = new Set([...eventPlan.positions, ...checkpointPlan.positions]);
  const records = [...eventPlan.cuts.map((cut) => ({ kind: KIND_EVENT_STREAM_PRUNED, cut })), ...checkpointPlan.cuts.map((cut) => ({ kind: KIND_CHECKPOINT_THREAD_PRUNED, cut }))];
  const replaced = new Map(checkpointPlan.rebases.map((rebase) => [rebase.position, rebase.payload]));
  const planned = removable(context, pipeline.writtenPosition, cutPositions);
  const result: PruneResult = { events: 0, checkpoints: 0, erasedEvents: 0, deletedThreadCheckpoints: 0, rebased: replaced.size, segmentsRewritten: 0, bytesBefore, bytesAfter: bytesBefore, bytesReclaimed: 0 };
  // What this prune cuts counts as removed at once (reads no longer show it); the rest of what
  // it erases from disk was already gone from reads.
  const count = (removed: ReadonlySet<number>, cutThreads: ReadonlySet<string> = new Set(checkpointPlan.cuts.map((cut) => cut.name))) => {
    result.events = eventPlan.positions.length;
    result.checkpoints = checkpointPlan.cuts.reduce((sum, cut) => sum + (cutThreads.has(cut.name) ? cut.cut : 0), 0);
    result.erasedEvents = result.deletedThreadCheckpoints = 0;
    for (const position of removed) {
      if (cutPositions.has(position)) continue;
      const kind = log.kindAt(position);
      if (kind === KIND_EVENT) result.erasedEvents++;
      else if (kind === KIND_CHECKPOINT) result.deletedThreadCheckpoints++;
    }
  };
  count(planned);
  // A segment is rewritten for its data and deletion records; cut records alone (a few dozen
  // bytes each) wait until their segment is rewritten anyway.
  const worth = (removed: ReadonlySet<number>) => [...removed].filter((position) => sealsFor(log.kindAt(position)));
  if (worth(planned).length === 0 && records.length === 0 && replaced.size === 0) return result;

  // Entries to remove in the current segment: it is sealed first (only sealed segments are rewritten).
  // So is one that holds an oldest kept delta to re-base.
  const current = log.current;
  let seal = false;
  let mustSeal = false;
  if (current.offsets.length > 0) {
    for (const position of planned) if (position >= current.firstPosition && sealsFor(log.kindAt(position))) seal = true;
    for (const position of replaced.keys()) if (position >= current.firstPosition) mustSeal = true;
    // An erasure (a stream or thread delete) is not left waiting either.
    for (const position of planned) if (position >= current.firstPosition && isDeletion(log.kindAt(position))) mustSeal = true;
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
    result.bytesAfter = bytesBefore - result.bytesReclaimed + cutRecordsFrameBytes(records) + (seal ? SEGMENT_HEADER_BYTES + SEAL_FRAME_BYTES : 0);
    count(new Set([...planned].filter((position) => position < end && compacted.has(log.segmentOf(position)!))));
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

  // 1. Re-base each oldest kept delta as a full checkpoint (it loads the same either way), so
  //    no kept checkpoint needs one the cut removes.
  const holding = segmentsHolding(log.segments, replaced.keys());
  const rebaseWork = sealedSegments().filter((segment) => holding.has(segment));
  total.segments = rebaseWork.length + segmentsHolding(sealedSegments(), worth(planned)).size;
  policy.onProgress?.(0, total.segments);
  for (const segment of rebaseWork) await rewrite(segment, { removed: new Set(), replaced });
  // A thread whose re-base could not be written (never expected: its segment is sealed) keeps all its checkpoints.
  const notRebased = new Set(checkpointPlan.rebases.filter((rebase) => !rebaseWork.some((segment) => rebase.position >= segment.firstPosition && rebase.position < segment.nextPosition)).map((rebase) => rebase.name));
  const checkpointCuts = checkpointPlan.cuts.filter((cut) => !notRebased.has(cut.name));

  // 2. The cuts, in one commit.
  let horizon: number | undefined;
  let written: { events: Cut[]; checkpoints: Cut[] } | undefined;
  if (records.length > 0) {
    await pipeline.submit<void>({
      prepare: (firstPosition, writer): Prepared<void> => {
        const timestamp = Date.now();
        written = { events: events.writeCuts(eventPlan.cuts, writer, timestamp), checkpoints: checkpoints.writeCuts(checkpointCuts, writer, timestamp) };
        horizon = firstPosition;
        const entries = written.events.length + written.checkpoints.length;
        if (entries === 0) return { done: undefined };
        return { count: entries, result: () => undefined };
      },
    });
  }
  // Once the cuts and everything before them are durable (in every durability mode), the
  // indexes drop what was cut; every entry then dead below the cut records becomes a
  // placeholder, oldest segment first.
  const removed = await pipeline.barrier(() => {
    if (written) {
      events.applyCuts(written.events);
      checkpoints.applyCuts(written.checkpoints);
    }
    return removable(context, horizon ?? pipeline.writtenPosition, new Set());
  });
  const holdingRemoved = segmentsHolding(log.segments, worth(removed));
  const work = sealedSegments().filter((segment) => holdingRemoved.has(segment));
  const rewritten = new Set(work);
  count(new Set([...removed].filter((position) => rewritten.has(log.segmentOf(position)!))), new Set(checkpointCuts.map((cut) => cut.name)));
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
