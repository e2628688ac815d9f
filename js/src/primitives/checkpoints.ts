/**
 * Checkpoints: the saved state of an agent thread after each step. Each is stored as a zstd
 * delta against the previous checkpoint of the same thread (the common prefix and suffix are
 * trimmed first, so a step costs about what changed), or as a full checkpoint when the chain
 * reaches CHAIN_LENGTH_MAX or a delta stops paying, so a load decodes a short, bounded chain.
 * The newest raw state of recently used threads is cached (HeadCache). Every reconstructed
 * state is checked against the CRC32C of the original bytes: a mismatch is CorruptionError,
 * never wrong data. Saves and deletes of one thread run one after another; threads run in
 * parallel and share group commits.
 */
import type { CheckpointCodecError } from '../core/core.js';
import { KIND_PRUNED } from '../device/segments.js';
import { CorruptionError, InvalidArgumentError } from '../errors.js';
import type { Prepared } from '../engine/commit.js';
import type { ResolvedOptions } from '../engine/options.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec, PrunePart } from '../engine/primitive.js';
import { runStreamName } from './events.js';
import { pruneInteger } from '../engine/prune.js';
import { utf8Decode } from '../host/text.js';
import { jsonEqual } from '../json-equal.js';
import { checkCount, checkFunction, checkNoOptions, checkOptions, describe, jsonText, type NoOptions, type OptionKeys } from '../validate.js';
import { checkName, normalizeName, type Name } from '../names.js';
import { HeadCache } from './checkpoint-cache.js';
import { checkpointStorage, type CheckpointStorage, type CheckpointStorageOptions } from './checkpoint-storage.js';
import {
  CheckpointIds,
  decodeCheckpointEntry,
  encodeDescriptor,
  ENCODING_DELETED,
  ENCODING_DELTA,
  ENCODING_FULL,
  KIND_CHECKPOINT,
  KIND_CHECKPOINT_THREAD_DELETED,
  pendingEntry,
  VALUE_BINARY,
  VALUE_JSON,
  type CheckpointEntry,
  type CheckpointInfo,
  type Descriptor,
} from './checkpoint-codec.js';
import { EVENT_HEADER_BYTES, maxEncodedSize, writeEvent } from './event-codec.js';
import { KIND_CHECKPOINT_THREAD_PRUNED } from './cut-records.js';
import { NamedIndex, namedIndexKinds, NamedIndexPrimitive, type Cut, type NamedKinds, type NamedState } from './named-index.js';

export type { CheckpointInfo } from './checkpoint-codec.js';
export type { CheckpointStorage, CheckpointStorageOptions } from './checkpoint-storage.js';

/**
 * A full checkpoint is written at the latest after this many deltas. The core applies a
 * chain in place (a one-message delta costs a few µs), so a long chain loads in about the
 * time of its full checkpoint; 128 keeps full saves under 1% of saves (out of the p99).
 */
export const CHAIN_LENGTH_MAX = 128;
/** A delta larger than this share of the last full checkpoint's stored size does not pay: write a full one. */
const DELTA_SHARE_MAX = 0.5;

export interface SaveCheckpointOptions {
  /** A JSON object stored with the checkpoint; `list({ filter })` matches its keys. */
  metadata?: Record<string, unknown>;
}

export interface LoadCheckpointOptions {
  /** A checkpoint id from `save` or `list`; the newest when absent. */
  id?: string;
}

export interface ListCheckpointsOptions {
  /** At most this many, newest first (default 100). */
  limit?: number;
  /** Only checkpoints older than the one with this id. */
  before?: string;
  /** Only checkpoints whose metadata has these keys with these (JSON-equal) values. */
  filter?: Record<string, unknown>;
}

/** The options each call takes (checked: any other key is InvalidArgumentError). */
const SAVE_KEYS: OptionKeys<SaveCheckpointOptions> = { metadata: true };
const LOAD_KEYS: OptionKeys<LoadCheckpointOptions> = { id: true };
const LIST_KEYS: OptionKeys<ListCheckpointsOptions> = { limit: true, before: true, filter: true };

/** What `load` returns. `S` types the state (a promise of the caller's, not checked at run time). */
export interface LoadedCheckpoint<S = unknown> {
  info: CheckpointInfo;
  state: S;
}

/** What `summary` reports for one thread. */
export interface ThreadSummary {
  threadId: string;
  checkpoints: number;
  full: number;
  delta: number;
  /** Sum of the serialised states' sizes. */
  rawBytes: number;
  /** Sum of what the log stores for them (compressed). */
  storedBytes: number;
  /** The newest checkpoint. */
  newest: CheckpointInfo;
}

/** A kept checkpoint's entry re-encoded as a full one (the prune's rebase). */
export interface Rebase {
  /** The thread. */
  name: string;
  position: number;
  payload: Uint8Array;
}

/** Checkpoints that a prune removes: per thread, how many of its oldest go. */
export interface CheckpointPrunePlan {
  /** Per thread (its state object, so a thread deleted and saved again meanwhile is left alone). */
  cuts: Cut[];
  /** The positions removed, sorted. */
  positions: number[];
  /** The oldest kept checkpoints that are deltas, re-encoded as full ones. */
  rebases: Rebase[];
}

/** What `checkpoints.verify()` found. */
export interface CheckpointVerifyReport {
  threads: number;
  checkpoints: number;
  /** Checkpoints that do not load to what was saved. */
  problems: { threadId: string; seq: number; position: number; id?: string; reason: string }[];
}

/** Checkpoint entries read per batch by `summary` (bounds its memory). */
const SUMMARY_BATCH = 1024;

/**
 * A thread: the positions of its checkpoints by seq from `first` on. A prune or a delete
 * replaces the array, so a reader that took it keeps a consistent view (its entries may then
 * have been pruned: see `readEntries`).
 */
type ThreadState = NamedState;

/** A thread's checkpoints, its delete and its cuts. */
const THREAD_KINDS: NamedKinds = { append: KIND_CHECKPOINT, deleted: KIND_CHECKPOINT_THREAD_DELETED, pruned: KIND_CHECKPOINT_THREAD_PRUNED };

/** A checkpoint a reader needed was removed by a prune meanwhile. */
class PrunedMeanwhile extends Error {}

const encoder = new TextEncoder();

const BINARY_HINT = 'a binary state must be a Uint8Array: pass new Uint8Array(buffer), or new Uint8Array(view.buffer, view.byteOffset, view.byteLength)';

/** A JSON object (not an array, not bytes), as metadata and filters must be. */
function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

export class Checkpoints extends NamedIndexPrimitive implements PrimitiveInstance<Checkpoints> {
  /** The threads: per name, the positions of its checkpoints (and names an old store holds more than once). */
  private readonly threads: NamedIndex;
  /** Saves and deletes of each thread run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly cache: HeadCache;
  private readonly ids = new CheckpointIds();
  private readonly options: ResolvedOptions;

  /** @internal built by the registry (checkpointsPrimitive). */
  constructor(private readonly context: PrimitiveContext) {
    const threads = new NamedIndex(context, {
      kinds: THREAD_KINDS,
      what: 'thread',
      remedy: 'delete the thread (checkpoints.delete) to remove every checkpoint under the name and use it again',
      outOfOrder: (threadId, seq, expected) => `checkpoint of thread '${threadId}' has seq ${seq}, expected ${expected}`,
    });
    super(threads);
    this.threads = threads;
    this.options = context.options;
    this.cache = new HeadCache(this.options.checkpointCacheBytes);
  }

  /** @internal the primitive instance is this object; its API too. */
  get api(): Checkpoints {
    return this;
  }

  /**
   * @internal What `prune` would remove from each thread: exactly the checkpoints beyond the
   * newest `keepLast` and (when given) those older than `maxAgeMs`, the newest always kept.
   * When the oldest one kept is a delta, its entry re-encoded as a full checkpoint (same
   * position, seq, id, time and metadata) is in `rebases`: the prune writes it before its cut
   * so that no kept checkpoint needs one removed. Nothing changes here.
   */
  async planCuts(keepLast: number | undefined, maxAgeMs: number | undefined, now: number): Promise<CheckpointPrunePlan> {
    const threads = this.threads;
    const plan = threads.newPlan();
    const rebases: Rebase[] = [];
    const written = this.context.writtenPosition;
    for (const thread of [...threads.values()]) {
      const threadId = thread.name;
      // A name an old store holds more than once keeps every checkpoint (none can be told apart).
      if (threads.conflicted(threadId)) continue;
      const threadPositions = thread.positions;
      const count = threads.visibleCount(thread, written);
      if (count <= 1) continue;
      let cut = Math.min(count - 1, keepLast !== undefined ? count - keepLast : count - 1);
      if (cut > 0 && maxAgeMs !== undefined) {
        // Checkpoints of a thread are saved in order, so their times rise: count the old ones.
        const cutoff = now - maxAgeMs;
        let old = 0;
        for (let start = 0; start < cut && old === start; start += SUMMARY_BATCH) {
          const batch = threadPositions.slice(start, Math.min(cut, start + SUMMARY_BATCH));
          const entries = await this.readEntries(batch, false);
          for (const position of batch) {
            const entry = entries.get(position);
            if (!entry || entry.info.timestamp >= cutoff) break;
            old++;
          }
        }
        cut = Math.min(cut, old);
      }
      if (cut <= 0) continue;
      let rebase: Rebase | undefined;
      try {
        rebase = await this.rebased(threadId, threadPositions, cut);
      } catch (error) {
        if (error instanceof PrunedMeanwhile) continue; // deleted meanwhile
        throw error;
      }
      if (rebase) rebases.push(rebase);
      threads.addCut(plan, thread, cut, threadPositions);
    }
    return { ...threads.finishPlan(plan), rebases };
  }

  /** The entry at `index` of the thread re-encoded as a full checkpoint, or undefined when it is one. */
  private async rebased(threadId: string, positions: readonly number[], index: number): Promise<Rebase | undefined> {
    const position = positions[index]!;
    let original: Uint8Array | undefined;
    await this.context.readPositions([position], (_at, bytes, start, length) => void (original = bytes.slice(start, start + length)));
    // Not read: the store failed meanwhile and it lies past what is durable.
    if (original === undefined && this.context.failure) throw this.context.failure;
    const entry = original && decodeCheckpointEntry(original, 0, original.length, position);
    if (!entry) {
      if (this.context.kindAt(position) === KIND_PRUNED) throw new PrunedMeanwhile();
      throw this.corruption(position, 'the checkpoint entry does not decode');
    }
    if (entry.descriptor.encoding !== ENCODING_DELTA) return undefined;
    const { raw } = await this.reconstruct(positions, index);
    const stored = this.context.core.encodeCheckpointFull(raw);
    const descriptor = encodeDescriptor({ ...entry.descriptor, encoding: ENCODING_FULL, chainLength: 0, basePosition: 0 });
    // The same payload with the descriptor and the stored bytes replaced (docs/FORMAT.md §8.1).
    const keep = original!.length - entry.info.storedBytes; // header, thread, descriptor, id, metadata
    const payload = new Uint8Array(keep + stored.length);
    payload.set(original!.subarray(0, keep));
    const threadLength = original![24]! | (original![25]! << 8);
    payload.set(descriptor, EVENT_HEADER_BYTES + threadLength);
    new DataView(payload.buffer).setUint32(16, stored.length, true);
    payload.set(stored, keep);
    return { name: threadId, position, payload };
  }

  /** @internal this primitive's part of a prune (the policy from `checkpointsPrimitive.checkPrune`; undefined: none): re-bases, then 0x82 records. */
  async planPrune(policy: unknown, now: number): Promise<PrunePart> {
    const retention = policy as CheckpointPrunePolicy | undefined;
    if (!retention) return { positions: [] };
    const plan = await this.planCuts(retention.keepLast, retention.maxAgeMs, now);
    const byPosition = new Map(plan.rebases.map((rebase) => [rebase.position, rebase.name]));
    return this.threads.prunePart(plan, {
      replaced: new Map(plan.rebases.map((rebase) => [rebase.position, rebase.payload])),
      keep: (notReplaced) => {
        // A thread whose re-base could not be written (never expected: its segment is sealed) keeps all its checkpoints.
        const skipped = new Set([...notReplaced].map((position) => byPosition.get(position)).filter((name) => name !== undefined));
        return (cut) => !skipped.has(cut.name);
      },
    });
  }

  /** @internal */
  stats(): Record<string, number> {
    return { checkpoints: this.totalCount, threads: this.threadIds().length };
  }

  /** @internal a run's checkpoints are its thread `run:<id>`: deleting the run deletes them. */
  dropRun(runId: string): void {
    this.threads.delete(runStreamName(runId));
  }

  /** Threads with at least one checkpoint. */
  threadIds(): string[] {
    this.context.checkOpen();
    // Only written checkpoints count: not one being saved, nor one a failed store never wrote.
    const written = this.context.writtenPosition;
    return [...this.threads.values()].filter((thread) => thread.positions.length > 0 && thread.positions[0]! < written).map((thread) => thread.name);
  }

  /**
   * A key → bytes view (`save(id, bytes)`, `load(id)`, `delete(id)`, `list()`) for code written
   * against a file-per-checkpoint store; each id is a thread, so re-saving an id stores a delta.
   */
  storage(options?: CheckpointStorageOptions): CheckpointStorage {
    this.context.checkOpen();
    return checkpointStorage(this, options);
  }

  /** Number of checkpoints in the store (all threads). */
  get totalCount(): number {
    let total = 0;
    for (const thread of this.threads.values()) total += thread.positions.length + this.threads.conflictCount(thread.name);
    return total;
  }

  /**
   * Per-thread sizes: checkpoints, full and delta counts, raw and stored bytes, the newest
   * one. Reads every checkpoint entry of the threads asked for (all when `threadIds` is
   * absent), in batches; `onProgress(done, total)` is called after each batch.
   */
  async summary(threadIds?: readonly string[], onProgress?: (done: number, total: number) => void): Promise<ThreadSummary[]> {
    this.context.checkOpen();
    if (threadIds !== undefined && (!Array.isArray(threadIds) || threadIds.some((threadId) => typeof threadId !== 'string'))) {
      throw new InvalidArgumentError(`threadIds must be an array of strings, got ${describe(threadIds)}`);
    }
    checkFunction('checkpoints.summary: onProgress', onProgress);
    const written = this.context.writtenPosition;
    const owner = new Map<number, ThreadSummary>();
    const summaries: ThreadSummary[] = [];
    const positions: number[] = [];
    for (const given of threadIds ?? this.threadIds()) {
      const threadId = normalizeName(this.context.core, 'threadId', given).text;
      const thread = this.threads.get(threadId);
      // Sizes are well defined for a name an old store holds more than once: count them all.
      const all = thread ? thread.positions.concat(this.threads.conflictPositions(threadId)) : [];
      const visible = all.filter((position) => position < written);
      if (visible.length === 0) continue;
      const summary = { threadId, checkpoints: visible.length, full: 0, delta: 0, rawBytes: 0, storedBytes: 0 } as ThreadSummary;
      summaries.push(summary);
      for (const position of visible) {
        owner.set(position, summary);
        positions.push(position);
      }
    }
    positions.sort((a, b) => a - b);
    for (let start = 0; start < positions.length; start += SUMMARY_BATCH) {
      const batch = positions.slice(start, start + SUMMARY_BATCH);
      const entries = await this.readEntries(batch, false);
      for (const position of batch) {
        const entry = entries.get(position);
        if (!entry) continue; // pruned meanwhile
        const { info } = entry;
        const summary = owner.get(position)!;
        if (info.encoding === 'full') summary.full++;
        else summary.delta++;
        summary.rawBytes += info.rawBytes;
        summary.storedBytes += info.storedBytes;
        if (!summary.newest || info.seq > summary.newest.seq) summary.newest = info;
      }
      onProgress?.(Math.min(start + SUMMARY_BATCH, positions.length), positions.length);
    }
    return summaries.filter((summary) => summary.newest !== undefined);
  }

  /**
   * Decodes every checkpoint of every thread (each delta against the state before it, as a
   * load would) and checks each state against its checksum. Resolves to what was checked and
   * the checkpoints that do not load, with the reason; `reeldb verify` reports them.
   */
  async verify(onProgress?: (done: number, total: number) => void): Promise<CheckpointVerifyReport> {
    this.context.checkOpen();
    const written = this.context.writtenPosition;
    const report: CheckpointVerifyReport = { threads: 0, checkpoints: 0, problems: [] };
    const threads = [...this.threads.values()].map((thread) => ({ threadId: thread.name, first: thread.first, positions: thread.positions.filter((position) => position < written) }));
    const total = threads.reduce((sum, thread) => sum + thread.positions.length, 0);
    const core = this.context.core;
    for (const { threadId, first, positions } of threads) {
      if (positions.length === 0) continue;
      report.threads++;
      let previous: Uint8Array | undefined;
      for (let start = 0; start < positions.length; start += SUMMARY_BATCH) {
        const batch = positions.slice(start, start + SUMMARY_BATCH);
        let entries: Map<number, CheckpointEntry>;
        try {
          entries = await this.readEntries(batch);
        } catch (error) {
          if (!(error instanceof CorruptionError)) throw error;
          report.problems.push({ threadId, seq: first + start, position: batch[0]!, reason: error.message });
          previous = undefined;
          continue;
        }
        for (let offset = 0; offset < batch.length; offset++) {
          const index = start + offset;
          const position = batch[offset]!;
          const entry = entries.get(position);
          report.checkpoints++;
          const fail = (reason: string) => {
            report.problems.push({ threadId, seq: first + index, position, id: entry?.info.id, reason });
            previous = undefined;
          };
          if (!entry) {
            fail('pruned while it was verified');
            continue;
          }
          const { descriptor } = entry;
          if (descriptor.encoding === ENCODING_DELTA && (index === 0 || positions[index - 1] !== descriptor.basePosition)) {
            fail(`its delta base (position ${descriptor.basePosition}) is not the thread's previous checkpoint`);
            continue;
          }
          if (descriptor.encoding === ENCODING_DELTA && previous === undefined) {
            fail('the checkpoint it is a delta of does not load');
            continue;
          }
          try {
            const raw = core.decodeCheckpoint(entry.stored, descriptor.encoding === ENCODING_DELTA ? previous : undefined, descriptor.rawBytes);
            if (raw.length !== descriptor.rawBytes || core.crc32c(raw) !== descriptor.rawChecksum) fail('the reconstructed state does not match the checksum of the state that was saved');
            else previous = raw;
          } catch (error) {
            fail(`its ${entry.info.encoding} data does not decode (${(error as Error).message})`);
          }
        }
        onProgress?.(Math.min(report.checkpoints, total), total);
      }
    }
    return report;
  }

  /** Number of checkpoints of a thread (0 when none). */
  count(threadId: string): number {
    this.context.checkOpen();
    const thread = this.threads.get(this.checkThread(threadId).text);
    return thread ? this.threads.visibleCount(thread) : 0;
  }

  /** A thread id in NFC (names.ts); NameConflictError for a name an old store holds more than once, unless `forDelete`. */
  private checkThread(threadId: unknown, forDelete = false): Name {
    const name = checkName(this.context.core, 'threadId', threadId, this.options.maxStreamBytes, (text) => this.threads.nameBytes(text));
    if (!forDelete) this.threads.checkConflict(name.text);
    return name;
  }

  /** Runs `work` after every earlier save or delete of the thread. */
  private serial<T>(threadId: string, nameBytes: Uint8Array, work: (thread: ThreadState) => Promise<T>): Promise<T> {
    const previous = this.queues.get(threadId) ?? Promise.resolve();
    // The thread as it is when the work starts: a fresh one (not yet in the map; a save puts
    // it there) when there is none, or when a delete before this removed it.
    const run = previous.then(() => work(this.threads.get(threadId) ?? this.threads.fresh(threadId, nameBytes)));
    const settled = run.catch(() => undefined);
    this.queues.set(threadId, settled);
    void settled.then(() => {
      if (this.queues.get(threadId) === settled) this.queues.delete(threadId);
    });
    return run;
  }

  /**
   * Saves `state` (a JSON value, or a Uint8Array kept as binary) as the thread's newest
   * checkpoint. Resolves once it is acknowledged by the store's durability mode.
   */
  save<S = unknown>(threadId: string, state: S, options?: SaveCheckpointOptions): Promise<CheckpointInfo> {
    let nameBytes: Uint8Array;
    let raw: Uint8Array;
    let valueKind: number;
    let metadataBytes: Uint8Array | undefined;
    let metadata: unknown;
    try {
      this.context.checkWritable();
      ({ text: threadId, bytes: nameBytes } = this.checkThread(threadId));
      const given = { ...checkOptions('checkpoints.save', options, SAVE_KEYS) };
      const limit = this.options.maxCheckpointBytes;
      if (this.options.redact) {
        // The `redact` option sees the state and metadata before they are serialised.
        state = this.context.redact(state, { primitive: 'checkpoints', field: 'state' });
        if (given.metadata !== undefined) given.metadata = this.context.redact(given.metadata, { primitive: 'checkpoints', field: 'metadata' });
      }
      if (given.metadata !== undefined) {
        if (!isObject(given.metadata)) throw new InvalidArgumentError(`checkpoints.save: metadata must be a JSON object, got ${describe(given.metadata)}`);
        const text = jsonText(given.metadata, 'checkpoints.save: metadata').text;
        // A copy: what save returns is what list and load will, whatever the caller does with its object.
        metadata = JSON.parse(text);
        metadataBytes = encoder.encode(text);
        if (metadataBytes.length > limit) throw new InvalidArgumentError(`checkpoints.save: metadata is ${metadataBytes.length} bytes serialised; the limit of state and metadata together is ${limit} (maxCheckpointBytes)`);
      }
      if (state instanceof Uint8Array) {
        // A copy (Buffer's slice() would be a view): later changes by the caller must not reach the cached head.
        raw = new Uint8Array(state);
        valueKind = VALUE_BINARY;
      } else {
        raw = encoder.encode(jsonText(state, 'checkpoints.save: state', BINARY_HINT).text);
        valueKind = VALUE_JSON;
      }
      const size = raw.length + (metadataBytes?.length ?? 0);
      if (size > limit) {
        throw new InvalidArgumentError(
          metadataBytes === undefined
            ? `checkpoints.save: state is ${raw.length} bytes serialised; the limit is ${limit} (maxCheckpointBytes)`
            : `checkpoints.save: state (${raw.length} bytes serialised) and metadata (${metadataBytes.length}) are ${size} bytes; the limit of both together is ${limit} (maxCheckpointBytes)`,
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.serial(threadId, nameBytes, async (thread) => {
      this.context.checkWritable();
      const core = this.context.core;
      const seq = this.threads.nextVersion(thread);
      const head = thread.positions.length > 0 ? await this.head(threadId, thread) : undefined;
      let descriptor: Descriptor;
      let stored: Uint8Array | undefined;
      const rawChecksum = core.crc32c(raw);
      if (head && head.chainLength < CHAIN_LENGTH_MAX) {
        const delta = core.encodeCheckpointDelta(head.raw, raw);
        if (delta.length <= Math.max(64, head.fullStoredBytes * DELTA_SHARE_MAX)) {
          stored = delta;
          descriptor = { encoding: ENCODING_DELTA, valueKind, chainLength: head.chainLength + 1, rawBytes: raw.length, rawChecksum, basePosition: head.position };
        }
      }
      if (!stored) {
        stored = core.encodeCheckpointFull(raw);
        descriptor = { encoding: ENCODING_FULL, valueKind, chainLength: 0, rawBytes: raw.length, rawChecksum, basePosition: 0 };
      }
      const entry = pendingEntry(descriptor!, '', metadataBytes, stored);
      const body = stored;
      const info = await this.context.submit<CheckpointInfo>({
        prepare: (firstPosition, writer): Prepared<CheckpointInfo> => {
          const timestamp = Date.now();
          entry.id = this.ids.next(timestamp);
          const pointer = writer.reservePayload(maxEncodedSize(nameBytes, entry));
          writer.endPayload(KIND_CHECKPOINT, writeEvent(writer.u8, pointer, nameBytes, entry, seq, timestamp));
          return {
            count: 1,
            apply: () => this.threads.stage(thread, firstPosition, 1),
            result: (position) => ({
              id: entry.id,
              threadId,
              seq,
              position,
              encoding: descriptor!.encoding === ENCODING_DELTA ? 'delta' : 'full',
              rawBytes: raw.length,
              storedBytes: body.length,
              timestamp,
              metadata,
            }),
          };
        },
      });
      this.cache.set(threadId, {
        position: info.position,
        seq,
        raw,
        chainLength: descriptor!.chainLength,
        fullStoredBytes: descriptor!.encoding === ENCODING_FULL ? body.length : head!.fullStoredBytes,
      });
      return info;
    });
  }

  /** The thread's newest raw state, from the cache or decoded (and then cached). */
  private async head(threadId: string, thread: ThreadState) {
    const cached = this.cache.get(threadId);
    const positions = thread.positions;
    const newest = positions[positions.length - 1]!;
    if (cached && cached.position === newest) return cached;
    const rebuilt = await this.reconstruct(positions, positions.length - 1);
    const head = { position: newest, seq: thread.first + positions.length - 1, raw: rebuilt.raw, chainLength: rebuilt.entry.descriptor.chainLength, fullStoredBytes: rebuilt.fullStoredBytes };
    this.cache.set(threadId, head);
    return head;
  }

  /** Reads the entries at `positions` (sorted), decoded. */
  private async readEntries(positions: number[], keepStored = true): Promise<Map<number, CheckpointEntry>> {
    const entries = new Map<number, CheckpointEntry>();
    await this.context.readPositions(positions, (position, bytes, start, length) => {
      const entry = decodeCheckpointEntry(bytes, start, length, position);
      if (!entry) {
        // A prune removed it after the caller took the thread's positions: leave it out.
        if (this.context.kindAt(position) === KIND_PRUNED) return;
        throw this.corruption(position, 'the checkpoint entry does not decode');
      }
      // Copy out of the read buffer: it is reused.
      entries.set(position, { ...entry, stored: keepStored ? entry.stored.slice() : new Uint8Array(0) });
    });
    return entries;
  }

  private corruption(position: number, reason: string): CorruptionError {
    const where = this.context.locate(position);
    return new CorruptionError(where.file, where.offset, `checkpoint at position ${position}: ${reason}`);
  }

  /** Decodes the checkpoint at `index` of the thread: reads its chain back to a full one and applies it. */
  private async reconstruct(positions: readonly number[], index: number): Promise<{ raw: Uint8Array; entry: CheckpointEntry; fullStoredBytes: number }> {
    const first = Math.max(0, index - CHAIN_LENGTH_MAX);
    const entries = await this.readEntries(positions.slice(first, index + 1));
    const target = entries.get(positions[index]!);
    if (!target) throw new PrunedMeanwhile();
    // Walk back to the full checkpoint the chain starts from.
    const chain: CheckpointEntry[] = [target];
    let at = index;
    while (chain[0]!.descriptor.encoding === ENCODING_DELTA) {
      const entry = chain[0]!;
      at--;
      if (at < first || positions[at] !== entry.descriptor.basePosition) {
        throw this.corruption(entry.info.position, `its delta base (position ${entry.descriptor.basePosition}) is not the thread's previous checkpoint`);
      }
      const base = entries.get(positions[at]!);
      if (!base) throw new PrunedMeanwhile();
      chain.unshift(base);
    }
    // One core call: the deltas are applied in place in the core, each costing what changed.
    const limit = chain.reduce((largest, entry) => Math.max(largest, entry.descriptor.rawBytes), 0);
    let decoded: { raw: Uint8Array; checksum: number };
    try {
      decoded = this.context.core.decodeCheckpointChain(
        chain.map((entry) => entry.stored),
        limit,
      );
    } catch (error) {
      const entry = chain[(error as CheckpointCodecError).link ?? 0] ?? target;
      throw this.corruption(entry.info.position, `its ${entry.info.encoding} data does not decode (${(error as Error).message})`);
    }
    if (decoded.raw.length !== target.descriptor.rawBytes) throw this.corruption(target.info.position, `decoded ${decoded.raw.length} bytes, expected ${target.descriptor.rawBytes}`);
    if (decoded.checksum !== target.descriptor.rawChecksum) {
      throw this.corruption(target.info.position, 'the reconstructed state does not match the checksum of the state that was saved');
    }
    return { raw: decoded.raw, entry: target, fullStoredBytes: chain[0]!.info.storedBytes };
  }

  /** Index of the checkpoint with `id` in the thread, or -1 (ids sort by time: binary search, then a scan as fallback). */
  private async indexOf(positions: readonly number[], id: string): Promise<number> {
    // A checkpoint pruned meanwhile reads as '' (never an id).
    const idAt = async (index: number) => (await this.readEntries([positions[index]!], false)).get(positions[index]!)?.info.id ?? '';
    let low = 0;
    let high = positions.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = await idAt(middle);
      if (found === id) return middle;
      if (found < id) low = middle + 1;
      else high = middle - 1;
    }
    // Ids from a clock that stepped back need not sort: look at every one.
    for (let index = positions.length - 1; index >= 0; index--) if ((await idAt(index)) === id) return index;
    return -1;
  }

  /**
   * Loads the thread's newest checkpoint, or the one with `id`. Undefined when there is none.
   * A state that does not reconstruct exactly is CorruptionError.
   */
  async load<S = unknown>(threadId: string, options?: LoadCheckpointOptions): Promise<LoadedCheckpoint<S> | undefined> {
    this.context.checkOpen();
    threadId = this.checkThread(threadId).text;
    const given = checkOptions('checkpoints.load', options, LOAD_KEYS);
    if (given.id !== undefined && typeof given.id !== 'string') throw new InvalidArgumentError(`id must be a string, got ${describe(given.id)}`);
    const thread = this.threads.get(threadId);
    const written = this.context.writtenPosition;
    if (!thread) return undefined;
    // One view of the thread for the whole load (a prune or delete replaces the array).
    const positions = thread.positions;
    const first = thread.first;
    const count = this.threads.visibleCount(thread, written);
    if (count === 0) return undefined;
    let index = count - 1;
    if (given.id !== undefined) {
      index = await this.indexOf(positions, given.id);
      if (index < 0 || index >= count) return undefined;
    }
    const position = positions[index]!;
    const cached = this.cache.get(threadId);
    let raw: Uint8Array;
    let entry: CheckpointEntry | undefined;
    try {
      if (cached && cached.position === position) {
        raw = cached.raw;
        entry = (await this.readEntries([position], false)).get(position);
        if (!entry) throw new PrunedMeanwhile();
      } else {
        const rebuilt = await this.reconstruct(positions, index);
        raw = rebuilt.raw;
        entry = rebuilt.entry;
        if (index === positions.length - 1 && this.threads.get(threadId) === thread) {
          this.cache.set(threadId, { position, seq: first + index, raw, chainLength: entry.descriptor.chainLength, fullStoredBytes: rebuilt.fullStoredBytes });
        }
      }
    } catch (error) {
      // The checkpoint asked for was removed by a prune (or its thread deleted) during the load.
      if (error instanceof PrunedMeanwhile) return undefined;
      throw error;
    }
    const state = entry.descriptor.valueKind === VALUE_BINARY ? raw.slice() : JSON.parse(utf8Decode(raw, 0, raw.length));
    return { info: entry.info, state: state as S };
  }

  /** The thread's checkpoints, newest first, without their states; costs O(limit) reads. */
  async list(threadId: string, options?: ListCheckpointsOptions): Promise<CheckpointInfo[]> {
    this.context.checkOpen();
    threadId = this.checkThread(threadId).text;
    const given = checkOptions('checkpoints.list', options, LIST_KEYS);
    const limit = given.limit === undefined ? 100 : checkCount('limit', given.limit);
    if (given.before !== undefined && typeof given.before !== 'string') throw new InvalidArgumentError(`before must be a checkpoint id (a string), got ${describe(given.before)}`);
    let filter = given.filter;
    if (filter !== undefined) {
      if (!isObject(filter)) throw new InvalidArgumentError(`checkpoints.list: filter must be an object of metadata keys and values, got ${describe(filter)}`);
      // The filter as JSON stores it (so an undefined value is no condition, as it would be no key).
      const json = jsonText(filter, 'checkpoints.list: filter');
      if (!json.exact) filter = JSON.parse(json.text) as Record<string, unknown>;
    }
    const thread = this.threads.get(threadId);
    if (!thread || limit === 0) return [];
    const written = this.context.writtenPosition;
    const threadPositions = thread.positions;
    let end = this.threads.visibleCount(thread, written);
    if (given.before !== undefined) {
      const index = await this.indexOf(threadPositions, given.before);
      if (index < 0) return [];
      end = Math.min(end, index);
    }
    const found: CheckpointInfo[] = [];
    const conditions = filter === undefined ? [] : Object.entries(filter);
    const matches = (info: CheckpointInfo) =>
      conditions.length === 0 ||
      (isObject(info.metadata) && conditions.every(([key, value]) => Object.prototype.hasOwnProperty.call(info.metadata, key) && jsonEqual((info.metadata as Record<string, unknown>)[key], value)));
    while (end > 0 && found.length < limit) {
      const start = Math.max(0, end - Math.max(limit - found.length, 16));
      const positions = threadPositions.slice(start, end);
      const entries = await this.readEntries(positions, false);
      for (let index = positions.length - 1; index >= 0 && found.length < limit; index--) {
        const info = entries.get(positions[index]!)?.info; // absent: pruned meanwhile
        if (info && matches(info)) found.push(info);
      }
      end = start;
    }
    return found;
  }

  /**
   * Deletes every checkpoint of the thread (a later save starts again at seq 0). Resolves to
   * the number of checkpoints deleted. The space is returned to disk by `prune`/compaction.
   */
  delete(threadId: string, options?: NoOptions): Promise<number> {
    let nameBytes: Uint8Array;
    try {
      checkNoOptions('checkpoints.delete', options);
      this.context.checkWritable();
      ({ text: threadId, bytes: nameBytes } = this.checkThread(threadId, true));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.serial(threadId, nameBytes, async (thread) => {
      this.context.checkWritable();
      const count = thread.positions.length + this.threads.conflictCount(threadId);
      if (count === 0) {
        this.threads.delete(threadId);
        return 0;
      }
      const entry = pendingEntry({ encoding: ENCODING_DELETED, valueKind: VALUE_JSON, chainLength: 0, rawBytes: 0, rawChecksum: 0, basePosition: 0 }, '', undefined, new Uint8Array(0));
      await this.context.submit<number>({
        prepare: (_firstPosition, writer): Prepared<number> => {
          const timestamp = Date.now();
          entry.id = this.ids.next(timestamp);
          const pointer = writer.reservePayload(maxEncodedSize(nameBytes, entry));
          writer.endPayload(KIND_CHECKPOINT_THREAD_DELETED, writeEvent(writer.u8, pointer, nameBytes, entry, count, timestamp));
          return { count: 1, apply: () => this.threads.erase(thread), result: () => count };
        },
      });
      this.cache.delete(threadId);
      return count;
    });
  }
}

export interface CheckpointRetention {
  keepLast?: number;
  maxAgeMs?: number;
}

interface CheckpointPrunePolicy {
  keepLast: number | undefined;
  maxAgeMs: number | undefined;
}

const CHECKPOINT_RETENTION_KEYS: OptionKeys<CheckpointRetention> = { keepLast: true, maxAgeMs: true };

function checkCheckpointPrune(given: Readonly<Record<string, unknown>>): CheckpointPrunePolicy | undefined {
  if (given.checkpoints === undefined) return undefined;
  const checkpoints = checkOptions('prune.checkpoints', given.checkpoints as CheckpointRetention, CHECKPOINT_RETENTION_KEYS);
  const keepLast = checkpoints.keepLast === undefined ? undefined : pruneInteger('checkpoints.keepLast', checkpoints.keepLast, 1);
  const maxAgeMs = checkpoints.maxAgeMs === undefined ? undefined : pruneInteger('checkpoints.maxAgeMs', checkpoints.maxAgeMs);
  if (keepLast === undefined && maxAgeMs === undefined) throw new InvalidArgumentError('prune: checkpoints needs keepLast or maxAgeMs (or leave it out)');
  return { keepLast, maxAgeMs };
}

/** Checkpoints of threads (docs/FORMAT.md §8.1): kinds 0x80 checkpoint, 0x81 thread deleted, 0x82 thread pruned. */
export const checkpointsPrimitive: PrimitiveSpec<Checkpoints> = {
  name: 'checkpoints',
  kinds: [0x80, 0x8f],
  ...namedIndexKinds(THREAD_KINDS),
  section: 3,
  pruneKeys: ['checkpoints'],
  checkPrune: checkCheckpointPrune,
  create: (context) => new Checkpoints(context),
};
