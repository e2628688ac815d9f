/**
 * The commit pipeline. Commits queue up; one loop takes everything queued, prepares each in
 * order (a primitive checks versions and stages its state), encodes one frame per commit,
 * writes the whole batch with one write, and then acknowledges by durability mode:
 * memory at once; buffered once the frames are in the write buffer, which goes to the OS
 * at the end of the event-loop turn (one syscall for many commits) and is synced every
 * syncIntervalMs/syncBytes; strict after a sync that every commit written before it shares
 * (group commit). While a sync runs, the next batch is already being written.
 */
import type { Core } from '../core/core.js';
import { StoreClosedError, StoreFailedError } from '../errors.js';
import type { LogDevice, LogSync } from './log-device.js';
import type { ResolvedOptions } from './options.js';

/** Where a commit writes its entries: the frame being built in wasm memory. */
export interface EntryWriter {
  /** Linear memory; re-read after every reservePayload. */
  readonly u8: Uint8Array;
  /** Room for one payload of at most `maxBytes`; returns its offset in `u8`. */
  reservePayload(maxBytes: number): number;
  endPayload(kind: number, length: number): void;
}

export type Prepared<T> =
  /**
   * Entries were written (staged: nothing else changed, so a throw before this return backs
   * out cleanly); `apply` then updates the primitives' state and cannot fail: it runs once the
   * frame is built, before the next commit is prepared. `result` builds the commit's value
   * once the entries are at `firstPosition`.
   */
  | { count: number; apply?(): void; result(firstPosition: number): T }
  /** Nothing to write (an idempotent retry): resolve with `done`. */
  | { done: T }
  /** Async work is needed first (reads); `prepare` is called again once `wait` settles. */
  | { wait: Promise<void> };

export interface Commit<T> {
  /**
   * Runs in commit order, synchronously: checks versions, writes entries, stages state.
   * Throwing rejects this commit alone.
   */
  prepare(firstPosition: number, writer: EntryWriter): Prepared<T>;
}

/** buffered: the write buffer goes to the OS at once when it holds this much. */
export const WRITE_BUFFER_BYTES = 1 << 20;

/** Marks a promise as handled now (it is awaited later, in commit order) and returns it. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

const nextTurn: (callback: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (callback) => (globalThis as unknown as { setImmediate(callback: () => void): void }).setImmediate(callback)
    : (callback) => void setTimeout(callback, 0);

/** A commit whose frame is in the write buffer (or an idempotent retry), not yet acknowledged. */
interface Written {
  item: Queued;
  prepared: { result(firstPosition: number): unknown };
  firstPosition: number;
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
  private writeScheduled = false;
  private readonly dirty = new Set<LogSync>();
  private unsyncedBytes = 0;
  /** Entries written to the OS. */
  private written: number;
  /** Entries made durable by a completed sync. */
  syncedPosition: number;
  failure: StoreFailedError | undefined;
  closed = false;
  /** Called after entries up to `position` are acknowledged. */
  onAcknowledged: (position: number) => void = () => {};
  /** Called once when the store fails (followers stop waiting for commits that will not come). */
  onFailed: (failure: StoreFailedError) => void = () => {};

  /**
   * Entries below this position are readable: written to the OS. Once the store failed, only
   * what a sync made durable (a failed write or fsync leaves the bytes after it unknown), so
   * reads of what was acknowledged go on and never see bytes that may not be there.
   */
  get writtenPosition(): number {
    return this.failure ? Math.min(this.written, this.syncedPosition) : this.written;
  }

  /** A follower (read-only store) publishes what it found the writer wrote. */
  set writtenPosition(position: number) {
    this.written = position;
  }

  constructor(private readonly core: Core, private readonly log: LogDevice, private readonly storeId: Uint8Array, private readonly options: ResolvedOptions) {
    this.written = log.nextPosition;
    this.syncedPosition = log.nextPosition;
    log.onWriteFailed = (error) => {
      this.fail('a write failed', error);
      return this.failure;
    };
  }

  submit<T>(commit: Commit<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreClosedError());
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ commit, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushing) {
        // Start on a microtask so that commits submitted in the same turn share the batch.
        this.flushing = new Promise<void>((done) => queueMicrotask(done)).then(() => this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        if (this.failure) {
          for (const item of batch) item.reject(this.failure);
          continue;
        }
        await this.writeBatch(batch);
      }
    } finally {
      // Cleared in the same turn as the last look at the queue, so a commit submitted from
      // now on starts a new flush instead of waiting on one that has ended.
      this.flushing = undefined;
    }
  }

  private async writeBatch(batch: Queued[]): Promise<void> {
    let next = 0;
    while (next < batch.length) {
      // Build frames synchronously (the core's buffers are shared by every store) until a
      // commit asks to wait for a read; write what was built, wait, then go on.
      let wait: Promise<void> | undefined;
      const core = this.core;
      core.resetOutput();
      let position = this.log.nextPosition;
      let checksum = this.log.lastChecksum;
      const written: Written[] = [];
      const frames: { kinds: number[]; lengths: number[]; checks: Uint32Array }[] = [];
      const retries: Written[] = [];
      for (; next < batch.length; next++) {
        const item = batch[next]!;
        try {
          core.beginFrame();
          const prepared = item.commit.prepare(position, core);
          if ('wait' in prepared) {
            wait = prepared.wait;
            break;
          }
          if ('done' in prepared) {
            // Acknowledged in order: once every commit submitted before it is (so a retry
            // after a failed sync is rejected like everything else).
            const done = prepared.done;
            retries.push({ item, prepared: { result: () => done }, firstPosition: position });
            continue;
          }
          checksum = core.finishFrame(position, checksum, this.storeId, position - this.syncedPosition);
          prepared.apply?.();
          written.push({ item, prepared, firstPosition: position });
          frames.push({ kinds: core.frameKinds.slice(), lengths: core.frameLengths.slice(), checks: core.frameChecks });
          position += prepared.count;
        } catch (error) {
          item.reject(error);
        }
      }
      if (written.length > 0) await this.writeFrames(written, frames, position, checksum);
      if (retries.length > 0) this.acknowledgeAt(retries, position);
      if (wait) {
        try {
          await wait;
        } catch (error) {
          // The read this commit waited for failed: reject it alone. (Preparing it again
          // would ask for the same read forever.)
          batch[next]!.reject(error);
          next++;
        }
        if (this.failure) {
          for (const item of batch.slice(next)) item.reject(this.failure);
          return;
        }
      }
    }
  }

  private async writeFrames(written: Written[], frames: { kinds: number[]; lengths: number[]; checks: Uint32Array }[], position: number, checksum: number): Promise<void> {
    const bytes = this.core.output();
    const byteLength = bytes.length;
    const handle = this.log.append(bytes, frames, checksum);
    const buffered = this.options.durability === 'buffered';
    if (!buffered || this.log.pendingBytes >= WRITE_BUFFER_BYTES) {
      try {
        await this.log.flushWrites();
      } catch (error) {
        this.fail('a write failed', error);
        for (const entry of written) entry.item.reject(this.failure);
        return;
      }
    } else {
      this.scheduleWrite();
    }
    this.written = position;
    if (this.options.durability === 'memory') this.syncedPosition = position;
    else {
      this.dirty.add(handle);
      this.unsyncedBytes += byteLength;
    }
    this.acknowledgeAt(written, position);
    if (buffered) this.scheduleSync();
    if (this.log.current.size >= this.options.segmentBytes) {
      this.rolling = this.roll();
      try {
        await this.rolling;
      } finally {
        this.rolling = undefined;
      }
    }
  }

  /** A segment roll in progress (barrier and exclusive work wait for it). */
  private rolling: Promise<void> | undefined;

  /**
   * Resolves `entries` once everything up to `position` is acknowledged by the durability
   * mode: at once (memory, buffered unless the store failed) or after a shared sync (strict).
   */
  private acknowledgeAt(entries: Written[], position: number): void {
    const results = entries.map((entry) => entry.prepared.result(entry.firstPosition));
    const acknowledge = () => {
      for (let index = 0; index < entries.length; index++) entries[index]!.item.resolve(results[index]);
      this.onAcknowledged(position);
    };
    const reject = (error: unknown) => entries.forEach((entry) => entry.item.reject(error));
    if (this.options.durability === 'strict') this.waitDurable(position).then(acknowledge, reject);
    else if (this.failure) reject(this.failure);
    else acknowledge();
  }

  /** Seals the current segment (synced first, so only the newest segment can have a torn tail) and starts the next. */
  private async roll(): Promise<void> {
    try {
      if (this.options.durability !== 'memory') await this.waitDurable(this.writtenPosition);
      await this.log.roll();
    } catch (error) {
      this.fail('starting a new segment failed', error);
    }
  }

  /** buffered: hand the write buffer to the OS at the end of this event-loop turn. */
  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    nextTurn(() => {
      this.writeScheduled = false;
      this.log.flushWrites().catch((error) => this.fail('a write failed', error));
    });
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
      const target = this.written;
      const files = [...this.dirty];
      this.dirty.clear();
      this.unsyncedBytes = 0;
      this.syncing = (async () => {
        try {
          await this.log.flushWrites();
        } catch (error) {
          this.fail('a write failed', error);
          throw this.failure;
        }
        try {
          await Promise.all(files.map((file) => file.sync()));
        } catch (error) {
          this.fail('fdatasync failed; data written since the last successful sync may be lost', error);
          throw this.failure;
        }
        this.syncedPosition = Math.max(this.syncedPosition, target);
      })()
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
    if (this.failure) return;
    this.failure = new StoreFailedError(`${reason} (${(cause as Error)?.message ?? String(cause)})`, cause);
    // Reads already under way stop at what is durable too (see writtenPosition).
    this.log.readLimit = () => this.writtenPosition;
    this.onFailed(this.failure);
  }

  /**
   * Runs `capture` synchronously at a point in the commit order where every commit before it
   * is written and durable and none after it has begun: a consistent, durable cut of the
   * store (what a snapshot records). Commits queued meanwhile wait for it.
   */
  barrier<T>(capture: () => T): Promise<T> {
    return this.exclusive(async () => capture());
  }

  /**
   * Runs `work` with the commit order held: every commit before it is written and durable,
   * and none after it begins until `work` settles (sealing a segment for compaction).
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    let outcome: { value: T } | undefined;
    return this.submit<T>({
      prepare: (firstPosition) => {
        if (outcome) return { done: outcome.value };
        return {
          wait: handled(
            this.settle(firstPosition)
              .then(work)
              .then((value) => void (outcome = { value })),
          ),
        };
      },
    });
  }

  /** Fails the store (fail-stop) from outside the pipeline: compaction that could not finish a rename. */
  failWith(reason: string, cause: unknown): void {
    this.fail(reason, cause);
  }

  /** Resolves once everything before `position` is written and durable. */
  private async settle(position: number): Promise<void> {
    // The frames built before the barrier in its batch are written before this is awaited.
    while (this.written < position) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => nextTurn(resolve));
    }
    await this.log.flushWrites();
    if (this.options.durability !== 'memory') await this.waitDurable(position);
    // A roll started by the last write (it runs after the acknowledgement) finishes first.
    while (this.rolling) await this.rolling.catch(() => undefined);
  }

  /** Waits for queued commits, then makes everything written durable. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.failure) throw this.failure;
    if (this.options.durability !== 'memory') await this.waitDurable(this.written);
  }
}
