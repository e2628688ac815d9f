/**
 * The commit pipeline. Commits queue up; one loop takes everything queued, prepares each in
 * order (a primitive checks versions and stages its state), encodes one frame per commit,
 * writes the whole batch with one write, and then acknowledges by durability mode:
 * memory and buffered at once, strict after a sync that every commit written before it
 * shares (group commit). While a sync runs, the next batch is already being written.
 */
import type { Core } from '../core/core.js';
import { StoreClosedError, StoreFailedError } from '../errors.js';
import type { SegmentLog } from '../device/segments.js';
import type { FileHandle } from '../host/types.js';
import type { ResolvedOptions } from './options.js';

export interface PreparedEntries<T> {
  kinds: ArrayLike<number>;
  payloads: Uint8Array[];
  /** Builds the commit's result once its entries are written at `firstPosition`. */
  result(firstPosition: number): T;
}

export interface Commit<T> {
  /**
   * Runs in commit order. Returns the entries to write, or `{ done }` to resolve without
   * writing (an idempotent retry). Throwing rejects this commit alone.
   */
  prepare(firstPosition: number): PreparedEntries<T> | { done: T } | Promise<PreparedEntries<T> | { done: T }>;
}

interface Queued {
  commit: Commit<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class CommitPipeline {
  private queue: Queued[] = [];
  private flushing: Promise<void> | undefined;
  private syncing: Promise<void> | undefined;
  private syncTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly dirty = new Set<FileHandle>();
  private unsyncedBytes = 0;
  /** Entries written to the OS (positions below are readable). */
  writtenPosition: number;
  /** Entries made durable by a completed sync. */
  syncedPosition: number;
  failure: StoreFailedError | undefined;
  closed = false;
  /** Called after entries up to `position` are acknowledged. */
  onAcknowledged: (position: number) => void = () => {};

  constructor(private readonly core: Core, private readonly log: SegmentLog, private readonly storeId: Uint8Array, private readonly options: ResolvedOptions) {
    this.writtenPosition = log.nextPosition;
    this.syncedPosition = log.nextPosition;
  }

  submit<T>(commit: Commit<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ commit, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushing) this.flushing = this.flush().finally(() => (this.flushing = undefined));
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      if (this.failure) {
        for (const item of batch) item.reject(this.failure);
        continue;
      }
      await this.writeBatch(batch);
    }
  }

  private async writeBatch(batch: Queued[]): Promise<void> {
    const core = this.core;
    core.resetOutput();
    let position = this.log.nextPosition;
    let checksum = this.log.lastChecksum;
    const written: { item: Queued; prepared: PreparedEntries<unknown>; firstPosition: number }[] = [];
    const frames: { kinds: ArrayLike<number>; lengths: number[] }[] = [];
    for (const item of batch) {
      try {
        const prepared = await item.commit.prepare(position);
        if ('done' in prepared) {
          item.resolve(prepared.done);
          continue;
        }
        checksum = core.encodeFrame(prepared.kinds, prepared.payloads, position, checksum, this.storeId);
        written.push({ item, prepared, firstPosition: position });
        frames.push({ kinds: prepared.kinds, lengths: prepared.payloads.map((payload) => payload.length) });
        position += prepared.payloads.length;
      } catch (error) {
        item.reject(error);
      }
    }
    if (written.length === 0) return;
    // Copy out of wasm memory: a later core call may grow (and so detach) it mid-write.
    const bytes = core.output().slice();
    let handle: FileHandle;
    try {
      handle = await this.log.append(bytes, frames, checksum);
    } catch (error) {
      this.fail('a write failed', error);
      for (const entry of written) entry.item.reject(this.failure);
      return;
    }
    this.writtenPosition = position;
    const results = written.map((entry) => entry.prepared.result(entry.firstPosition));
    const acknowledge = () => {
      written.forEach((entry, index) => entry.item.resolve(results[index]));
      this.onAcknowledged(position);
    };
    if (this.options.durability === 'memory') {
      this.syncedPosition = position;
      acknowledge();
    } else {
      this.dirty.add(handle);
      this.unsyncedBytes += bytes.length;
      if (this.options.durability === 'buffered') {
        acknowledge();
        this.scheduleSync();
      } else {
        this.waitDurable(position).then(acknowledge, (error) => written.forEach((entry) => entry.item.reject(error)));
      }
    }
    if (this.log.current.size >= this.options.segmentBytes) await this.roll();
  }

  /** Seals the current segment (synced first, so only the newest segment can have a torn tail). */
  private async roll(): Promise<void> {
    try {
      if (this.options.durability !== 'memory') await this.waitDurable(this.writtenPosition);
      await this.log.createSegment(this.log.nextPosition);
    } catch (error) {
      this.fail('starting a new segment failed', error);
    }
  }

  private scheduleSync(): void {
    if (this.unsyncedBytes >= this.options.syncBytes) {
      this.startSync().catch(() => undefined);
      return;
    }
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.startSync().catch(() => undefined);
    }, this.options.syncIntervalMs);
    (this.syncTimer as { unref?: () => void }).unref?.();
  }

  private startSync(): Promise<void> {
    if (!this.syncing) {
      const target = this.writtenPosition;
      const files = [...this.dirty];
      this.dirty.clear();
      this.unsyncedBytes = 0;
      this.syncing = Promise.all(files.map((file) => file.sync()))
        .then(
          () => {
            this.syncedPosition = Math.max(this.syncedPosition, target);
          },
          (error) => {
            this.fail('fdatasync failed; data written since the last successful sync may be lost', error);
            throw this.failure;
          },
        )
        .finally(() => (this.syncing = undefined));
    }
    return this.syncing;
  }

  /** Resolves once everything up to `position` is durable (group commit). */
  async waitDurable(position: number): Promise<void> {
    while (this.syncedPosition < position) {
      if (this.failure) throw this.failure;
      await this.startSync();
    }
  }

  private fail(reason: string, cause: unknown): void {
    if (!this.failure) this.failure = new StoreFailedError(`${reason} (${(cause as Error)?.message ?? String(cause)})`, cause);
  }

  /** Waits for queued commits, then makes everything written durable. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.failure) throw this.failure;
    if (this.options.durability !== 'memory') await this.waitDurable(this.writtenPosition);
  }
}
