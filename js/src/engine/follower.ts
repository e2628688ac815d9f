/**
 * A read-only store follows the writer (a read replica): new frames the writer appends, the
 * segments it rolls to and the segments a prune rewrites become visible on `db.refresh()`,
 * within `followIntervalMs` (polling), and sooner where the host can watch `log/`.
 *
 * A reader reads only whole frames that pass every check (docs/FORMAT.md §6.5). A frame still
 * being written looks like a torn tail: the reader stops before it and tries again on the next
 * refresh; it never truncates, removes or writes anything. It moves from a segment to the next
 * once the writer has sealed it (§9.2), or, for a writer that does not seal, once the next
 * segment holds a frame that continues the chain. A segment the writer rewrote (§17) has a new
 * file under the same name: the reader reloads that segment's index, and the entries the prune
 * removed leave the streams and threads (positions never move, so nothing else changes).
 */
import { ScannedEntry, type RecoveryVisitor } from '../device/entry.js';
import { ENTRY_RECORD_WORDS, ScanStatus, SEGMENT_HEADER_BYTES, type Core, type ScanSession } from '../core/core.js';
import { CorruptionError, ReeldbError } from '../errors.js';
import { toIOError } from '../host/os-error.js';
import { chainAfter, isSealed, Segment, segmentName } from '../device/segment.js';
import type { SegmentLog } from '../device/segments.js';
import { joinPath, type FileHandle, type FileHost, type HostWatcher } from '../host/types.js';
import { KIND_PRUNED } from '../device/compact.js';
import type { Registry } from './registry.js';
import type { CommitPipeline } from './commit.js';
import { SNAPSHOT_NAME } from './snapshot.js';

/** Bytes read per scan step while following. */
const FOLLOW_CHUNK_BYTES = 1 << 20;
/** Every this many refreshes, sealed segments are checked for rewrites even without a sign of a prune. */
const REWRITE_CHECK_EVERY = 20;

/** What `db.stats().follow` reports on a read-only store. */
export interface FollowStats {
  /** Entries visible to this reader (the next position it will read). */
  position: number;
  /** When the last refresh finished (ms since the epoch), 0 before the first. */
  lastRefreshAt: number;
  /** Milliseconds since then: commits the writer made since may not be visible yet. */
  lagMs: number;
  /** Bytes past `position` in the last segment that did not yet form a whole valid frame (one being written). */
  pendingBytes: number;
  refreshes: number;
  /** Whether the host watches the files (otherwise only polling and refresh()). */
  watching: boolean;
}

export interface FollowerContext {
  core: Core;
  host: FileHost;
  directory: string;
  storeId: Uint8Array;
  log: SegmentLog;
  pipeline: CommitPipeline;
  registry: Registry;
  intervalMs: number;
  onWarning: (message: string) => void;
}

export class Follower {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private watcher: HostWatcher | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private lastRefreshAt = 0;
  private refreshes = 0;
  private pendingBytes = 0;
  private snapshotNames = '';
  /** The last failure reported, so a damaged file is warned about once, not at every poll. */
  private lastProblem = '';
  private failed: CorruptionError | undefined;

  constructor(private readonly context: FollowerContext) {}

  /** Starts following in the background (polling every intervalMs, and on file changes where the host can watch). */
  start(): void {
    const { host, directory, intervalMs } = this.context;
    if (intervalMs === 0) return;
    if (host.watch) this.watcher = host.watch(joinPath(directory, 'log'), () => this.poke());
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Waits for a refresh in progress. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  stats(): FollowStats {
    return {
      position: this.context.log.nextPosition,
      lastRefreshAt: this.lastRefreshAt,
      lagMs: this.lastRefreshAt === 0 ? 0 : Math.max(0, Date.now() - this.lastRefreshAt),
      pendingBytes: this.pendingBytes,
      refreshes: this.refreshes,
      watching: this.watcher !== undefined,
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh()
        .then(
          () => (this.lastProblem = ''),
          (error: unknown) => {
            const message = (error as Error)?.message ?? String(error);
            if (message !== this.lastProblem) this.context.onWarning(`following the writer stopped at position ${this.context.log.nextPosition}: ${message}`);
            this.lastProblem = message;
          },
        )
        .finally(() => this.schedule());
    }, this.context.intervalMs);
    // The poll never keeps a process alive by itself (Node/Bun: unref; Deno: Deno.unrefTimer).
    (this.timer as { unref?: () => void }).unref?.();
    if (typeof this.timer === 'number') (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(this.timer);
  }

  /** A file changed: refresh soon (coalesced with one in progress). */
  private poke(): void {
    if (this.stopped) return;
    this.refresh().catch(() => undefined);
  }

  /** Makes everything the writer has finished writing visible. Runs one at a time; a call during a refresh runs another after it. */
  refresh(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = (async () => {
      try {
        do {
          this.again = false;
          await this.step();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    this.running = run;
    return run;
  }

  private async step(): Promise<void> {
    const { core, log, directory } = this.context;
    if (this.stopped) return;
    const before = log.nextPosition;
    try {
      await core.scanSession((session) => this.catchUp(session), this.context.registry.namedKinds);
      await this.checkRewrites();
    } catch (error) {
      // What is visible stays visible; the error is typed (a damaged file, an I/O failure).
      // Damage ends following: the in-memory index may hold part of what it rejected.
      if (error instanceof CorruptionError) throw (this.failed = error);
      if (error instanceof ReeldbError) throw error;
      throw toIOError(error, joinPath(directory, 'log'), 'read');
    } finally {
      this.publish(before);
    }
  }

  /** Makes the entries found visible to reads and wakes subscriptions. */
  private publish(before: number): void {
    const { log, pipeline } = this.context;
    this.refreshes++;
    this.lastRefreshAt = Date.now();
    const position = log.nextPosition;
    if (position > before) {
      pipeline.writtenPosition = position;
      pipeline.syncedPosition = position;
      pipeline.onAcknowledged(position);
    }
  }

  private visitor(): RecoveryVisitor {
    return this.context.registry.recover;
  }

  /** Scans what was appended since the last refresh, moving on to new segments as the writer rolls. */
  private async catchUp(session: ScanSession): Promise<void> {
    const { log, host, storeId } = this.context;
    const visit = this.visitor();
    const segments = log.segments;
    // A roll makes the next segment before it seals the old one: while the newest segment is
    // still empty, the seal of the one before may arrive after we looked.
    const last = segments[segments.length - 1];
    const previous = segments[segments.length - 2];
    if (last && previous && last.offsets.length === 0 && last.size === SEGMENT_HEADER_BYTES && !isSealed(previous)) {
      // Its handle may be closed (sealed segments' handles are cached, not always open).
      const handle = (previous.handle as FileHandle | undefined) ?? (await host.open(previous.path, { readOnly: true }));
      try {
        const header = await readHeader(handle);
        const found = await this.scanTail(session, previous, handle, visit);
        if (found.frames > 0) log.lastChecksum = chainAfter(header, log.lastChecksum);
      } finally {
        if (handle !== previous.handle) await handle.close().catch(() => undefined);
      }
    }
    for (;;) {
      const current = segments[segments.length - 1];
      if (current) {
        const handle = await log.handles.acquire(current);
        let header: Uint8Array;
        let found: Awaited<ReturnType<typeof this.scanTail>>;
        try {
          header = await readHeader(handle);
          found = await this.scanTail(session, current, handle, visit);
        } finally {
          await log.handles.release(handle);
        }
        // After a compacted segment the chain goes on from its header (idempotent otherwise).
        if (!found.stopped && isSealed(current)) log.lastChecksum = chainAfter(header, log.lastChecksum);
        this.pendingBytes = found.pendingBytes;
        if (found.stopped) return;
      }
      // The next segment, if the writer has rolled.
      const name = segmentName(log.nextPosition);
      if (current && name === current.name) return;
      const path = joinPath(log.logDirectory, name);
      if (!(await host.exists(path))) {
        if (!current) this.pendingBytes = 0;
        return;
      }
      let handle: FileHandle;
      try {
        handle = await host.open(path, { readOnly: true });
      } catch {
        // Gone again (a writer's open removed an interrupted roll): next time.
        return;
      }
      try {
        const header = new Uint8Array(SEGMENT_HEADER_BYTES);
        const read = await handle.read(header, 0);
        const decoded = this.context.core.decodeSegmentHeader(header.subarray(0, read), storeId);
        // Not written yet (the writer is creating it): next time.
        if (decoded.code !== 0) throw new Later();
        if (decoded.firstPosition !== log.nextPosition) throw new CorruptionError(path, 0, `segment starts at position ${decoded.firstPosition} but the log before it ends at ${log.nextPosition}`);
        const segment = new Segment(name, path, log.nextPosition, handle, SEGMENT_HEADER_BYTES);
        if (current && !isSealed(current)) {
          // A writer that does not seal: move on only once this segment's first frame continues the chain.
          const trial = await this.scanTail(session, segment, handle, () => undefined, true);
          if (trial.frames === 0) throw new Later();
        }
        segments.push(segment);
      } catch (error) {
        await handle.close().catch(() => undefined);
        if (error instanceof Later) return;
        throw error;
      }
    }
  }

  /**
   * Scans `segment` from its known size to the end of the file, indexing whole valid frames and
   * visiting their entries. Stops before anything else (a frame being written, or damage that a
   * writer's open will judge): nothing is truncated. `dryRun`: checks only, keeps the chain.
   */
  private async scanTail(session: ScanSession, segment: Segment, handle: FileHandle, visit: RecoveryVisitor, dryRun = false): Promise<{ frames: number; stopped: boolean; pendingBytes: number }> {
    const { log, storeId } = this.context;
    const size = await handle.size();
    let offset = segment.size;
    let expectedPosition = segment.nextPosition;
    let checksum = log.lastChecksum;
    let chunk = FOLLOW_CHUNK_BYTES;
    let tableCapacity = 65536;
    let frames = 0;
    const names: (string | undefined)[] = [];
    const scanned = new ScannedEntry(session);
    while (offset < size) {
      const length = Math.min(chunk, size - offset);
      const view = session.bufferView(length);
      const read = await handle.read(view.subarray(0, length), offset);
      // Never final: whatever ends the file may still be being written.
      const result = session.scan(read, false, expectedPosition, checksum, storeId, tableCapacity);
      const table = session.entryTable(result.entries).slice();
      for (let entry = 0; entry < result.entries; entry++) {
        const word = entry * ENTRY_RECORD_WORDS;
        const number = table[word + 3]!;
        let name: string | undefined;
        if (number !== 0xffffffff) name = names[number] ??= session.streamName(number);
        const problem = visit(scanned.load(table, word, expectedPosition + entry, name));
        // Nothing of this chunk is indexed, so nothing of it becomes visible.
        if (problem) throw new CorruptionError(segment.path, offset + table[word]!, problem);
      }
      if (!dryRun) {
        for (let entry = 0; entry < result.entries; entry++) {
          const word = entry * ENTRY_RECORD_WORDS;
          segment.offsets.push(offset + table[word]!);
          segment.lengths.push(table[word + 1]!);
          segment.kinds.push(table[word + 2]!);
          segment.checks.push(table[word + 6]!);
        }
      }
      frames += result.frames;
      offset += result.consumed;
      expectedPosition = result.nextPosition;
      checksum = result.lastChecksum;
      if (!dryRun) {
        segment.size = offset;
        log.lastChecksum = checksum;
      }
      if (result.status === ScanStatus.End) continue;
      if (result.status === ScanStatus.TableFull) {
        if (result.entries === 0) tableCapacity = Math.max(tableCapacity * 2, result.needed);
        continue;
      }
      if (result.status === ScanStatus.NeedMore) {
        if (offset + result.needed <= size && result.consumed === 0) {
          chunk = Math.max(chunk, result.needed);
          continue;
        }
        if (result.consumed > 0) continue;
      }
      // A frame not (yet) whole and valid: stop before it.
      return { frames, stopped: true, pendingBytes: size - offset };
    }
    return { frames, stopped: false, pendingBytes: 0 };
  }

  /**
   * Sealed segments the writer rewrote (a prune, §17): checked when the store's snapshots
   * change (a prune writes one) and every REWRITE_CHECK_EVERY refreshes.
   */
  private async checkRewrites(): Promise<void> {
    const { host, directory, log } = this.context;
    const names = (await host.list(directory)).filter((name) => SNAPSHOT_NAME.test(name)).sort().join();
    if (names === this.snapshotNames && this.refreshes % REWRITE_CHECK_EVERY !== 0) return;
    this.snapshotNames = names;
    let rewritten = false;
    const segments = log.segments;
    for (let index = 0; index < segments.length - 1; index++) {
      const segment = segments[index]!;
      // Complete segments only: sealed, or followed by one with frames (a writer that does not seal).
      if (!isSealed(segment) && segments[index + 1]!.size <= SEGMENT_HEADER_BYTES) continue;
      const handle = await host.open(segment.path, { readOnly: true });
      let replaced = false;
      try {
        const size = await handle.size();
        if (size === segment.size) continue;
        await this.reload(segment, handle, size);
        replaced = true;
        rewritten = true;
      } finally {
        if (!replaced) await handle.close().catch(() => undefined);
      }
    }
    if (rewritten) this.dropRemoved();
  }

  /** Reads a rewritten segment's index from its new file and points the log at it. */
  private async reload(segment: Segment, handle: FileHandle, size: number): Promise<void> {
    const { core, log } = this.context;
    const fresh = new Segment(segment.name, segment.path, segment.firstPosition, handle, SEGMENT_HEADER_BYTES);
    const begin = new Uint8Array(32);
    await handle.read(begin, SEGMENT_HEADER_BYTES);
    const chainIn = new DataView(begin.buffer).getUint32(24, true);
    const saved = log.lastChecksum;
    log.lastChecksum = chainIn;
    try {
      const found = await core.scanSession((session) => this.scanTail(session, fresh, handle, () => undefined), this.context.registry.namedKinds);
      if (found.stopped || fresh.size !== size || fresh.offsets.length !== segment.offsets.length) {
        throw new CorruptionError(segment.path, fresh.size, `the rewritten segment does not hold the same ${segment.offsets.length} positions`);
      }
    } finally {
      log.lastChecksum = saved;
    }
    await log.replaceSegment(segment, handle, size, fresh.offsets.values.slice(0, fresh.offsets.length), fresh.lengths.values.slice(0, fresh.lengths.length), fresh.kinds.values.slice(0, fresh.kinds.length), fresh.checks.values.slice(0, fresh.checks.length));
  }

  /** The entries a prune removed (now placeholders) leave the primitives' indexes. */
  private dropRemoved(): void {
    const { log, registry } = this.context;
    registry.forgetRemoved((position) => log.kindAt(position) === KIND_PRUNED);
  }
}

/** Not ready yet: try on the next refresh. */
class Later extends Error {}

async function readHeader(handle: FileHandle): Promise<Uint8Array> {
  const header = new Uint8Array(SEGMENT_HEADER_BYTES);
  await handle.read(header, 0);
  return header;
}

