/**
 * Pruning: decides which entries a retention policy removes (old events, events of a stream
 * beyond a count, checkpoints beyond keepLast / older than maxAgeMs, checkpoints of deleted
 * threads), hides them from the API at once, and rewrites the sealed segments that hold them
 * (device/compact.ts), oldest first, so the disk space comes back. Per stream and per thread
 * only a prefix is ever removed, and the oldest checkpoint kept keeps the full checkpoint its
 * delta chain starts from. Since segments are rewritten in position order, a crash part way
 * leaves a state where each stream and thread lost a prefix of what was planned: running the
 * prune again finishes it.
 */
import { compactSegment } from '../device/compact.js';
import type { SegmentLog } from '../device/segments.js';
import { InvalidArgumentError } from '../errors.js';
import type { Checkpoints } from '../primitives/checkpoints.js';
import type { Events } from '../primitives/events.js';
import { aliasedOption, checkBoolean, checkFunction, checkObject, checkOptions, describe, type OptionKeys } from '../validate.js';
import type { CommitPipeline } from './commit.js';

export interface PruneOptions {
  /** Per thread, remove checkpoints beyond the newest `keepLast` and (when given) older than `maxAgeMs`; the newest is always kept. */
  checkpoints?: CheckpointRetention;
  /** Remove every event before this position (each stream keeps at least its newest event). */
  events?: EventRetention;
  /** Keep the newest `keepLast` (at least 1) events of these streams. */
  streams?: Record<string, StreamRetention>;
  /** Only say what would be removed (bytesReclaimed is then the payload bytes of those entries); change nothing. */
  dryRun?: boolean;
  /** Progress of the rewrite: segments done of those to rewrite. */
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
  /** Events removed. */
  events: number;
  /** Checkpoints removed by the retention policy. */
  checkpoints: number;
  /** Checkpoints removed because their thread was deleted. */
  deletedThreadCheckpoints: number;
  /** Sealed segments rewritten. */
  segmentsRewritten: number;
  /** Log bytes before and after, and the difference. */
  bytesBefore: number;
  bytesAfter: number;
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

/** Runs a prune; the caller holds the store's maintenance lock. */
export async function runPrune(context: PruneContext, policy: Policy): Promise<PruneResult> {
  const { log, pipeline, events, checkpoints } = context;
  const bytesBefore = logBytes(log);
  const eventPlan = events.planPrune(policy.beforePosition, policy.maxCounts);
  const checkpointPlan = policy.checkpoints ? await checkpoints.planPrune(policy.keepLast, policy.maxAgeMs, Date.now()) : { cuts: new Map(), positions: [] };
  const dead = checkpoints.deadPositions((visit) => {
    for (const segment of log.segments) {
      const kinds = segment.kinds.values;
      for (let index = 0; index < segment.kinds.length; index++) visit(kinds[index]!, segment.firstPosition + index);
    }
  }, pipeline.writtenPosition);
  const removed = [...new Set([...eventPlan.positions, ...checkpointPlan.positions, ...dead])].sort((a, b) => a - b);
  const result: PruneResult = {
    events: eventPlan.positions.length,
    checkpoints: checkpointPlan.positions.length,
    deletedThreadCheckpoints: dead.length,
    segmentsRewritten: 0,
    bytesBefore,
    bytesAfter: bytesBefore,
    bytesReclaimed: 0,
  };
  if (removed.length === 0) return result;
  if (policy.dryRun) {
    result.bytesReclaimed = payloadBytes(log, removed);
    result.bytesAfter = bytesBefore - result.bytesReclaimed;
    return result;
  }

  // Entries to remove in the current segment: seal it first (only sealed segments are rewritten).
  const last = removed[removed.length - 1]!;
  await pipeline.exclusive(async () => {
    const current = log.current;
    if (last >= current.firstPosition && current.offsets.length > 0) await log.createSegment(log.nextPosition);
  });

  // From here the API no longer shows them; the files follow, oldest segment first.
  events.applyPrune(eventPlan);
  checkpoints.applyPrune(checkpointPlan);
  let at = 0;
  const work: { segment: (typeof log.segments)[number]; inside: number[] }[] = [];
  for (const segment of log.segments) {
    if (segment === log.current) break;
    const inside: number[] = [];
    while (at < removed.length && removed[at]! < segment.nextPosition) {
      if (removed[at]! >= segment.firstPosition) inside.push(removed[at]!);
      at++;
    }
    if (inside.length > 0) work.push({ segment, inside });
  }
  policy.onProgress?.(0, work.length);
  for (const { segment, inside } of work) {
    try {
      await compactSegment(log, segment, inside);
    } catch (error) {
      // A rewrite that may have replaced the file without the directory being synced leaves
      // the store unsure of its own files: stop writing (reopen recovers either version).
      if ((error as { renamed?: boolean }).renamed) pipeline.failWith('compaction could not make a rewritten segment durable', error);
      throw error;
    }
    result.segmentsRewritten++;
    policy.onProgress?.(result.segmentsRewritten, work.length);
  }
  result.bytesAfter = logBytes(log);
  result.bytesReclaimed = result.bytesBefore - result.bytesAfter;
  return result;
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
