/**
 * The open files of a segment log. The current segment's handle stays open; sealed segments
 * are opened on demand and at most `limit` of them stay open, least recently used closed
 * first, so a log of any number of segments needs a bounded number of file descriptors
 * (`maxOpenSegments`). Reads lease a handle; one closed by the cache or replaced by compaction
 * while leased is closed when its last read releases it.
 */
import { IOError } from '../errors.js';
import type { FileHandle, FileHost, OpenOptions } from '../host/types.js';

/** What the cache needs of a segment: its path, its size as indexed, and its open handle, if any. */
export interface HandleOwner {
  readonly path: string;
  readonly size: number;
  handle: FileHandle | undefined;
}

export class SegmentHandles {
  /** Reads in flight per handle. */
  private readonly leases = new Map<FileHandle, number>();
  /** Handles to close once their reads finish. */
  private readonly retired = new Set<FileHandle>();
  /** Sealed segments with an open handle, least recently used first. */
  private readonly cached = new Map<HandleOwner, FileHandle>();
  private readonly opening = new Map<HandleOwner, Promise<FileHandle>>();
  /** Lowered when the process ran out of descriptors. */
  private lowered: number | undefined;

  constructor(private readonly host: FileHost, private readonly limit: number) {}

  /** Sealed-segment handles kept open at most. */
  get capacity(): number {
    return this.lowered ?? this.limit;
  }

  /**
   * Opens a file; when the process is out of descriptors (EMFILE, ENFILE), closes the cached
   * handles no read uses, keeps half as many from then on, and tries once more. What still
   * fails is the host's typed IOError.
   */
  async open(path: string, options: OpenOptions): Promise<FileHandle> {
    try {
      return await this.host.open(path, options);
    } catch (error) {
      const errno = (error as { errno?: unknown }).errno;
      if ((errno !== 'EMFILE' && errno !== 'ENFILE') || this.cached.size === 0) throw error;
      this.lowered = Math.max(1, Math.floor(this.cached.size / 2));
      for (const [owner, handle] of [...this.cached]) {
        if (this.leases.has(handle)) continue;
        this.cached.delete(owner);
        if (owner.handle === handle) owner.handle = undefined;
        await handle.close().catch(() => undefined);
      }
      return this.host.open(path, options);
    }
  }

  /** A segment was sealed (or recovered before the last): its open handle joins the cache. */
  seal(segment: HandleOwner | undefined): void {
    if (segment?.handle && !this.cached.has(segment)) this.cache(segment, segment.handle);
  }

  /** `acquire` without a turn of the event loop when the file is open already (the usual case); undefined otherwise. */
  leaseOpen(segment: HandleOwner): FileHandle | undefined {
    const handle = segment.handle;
    if (!handle) return undefined;
    if (this.cached.delete(segment)) this.cached.set(segment, handle);
    this.leases.set(handle, (this.leases.get(handle) ?? 0) + 1);
    return handle;
  }

  /** A handle on the segment's file for a read, leased until `release` (a sealed one is opened read-only on demand). */
  async acquire(segment: HandleOwner): Promise<FileHandle> {
    const open = this.leaseOpen(segment);
    if (open) return open;
    let opening = this.opening.get(segment);
    if (!opening) {
      opening = this.open(segment.path, { readOnly: true }).then(async (handle) => {
        // Reopened later, the file must still be the one indexed: another process (a writer
        // beside this read-only store) may have rewritten it since, and its offsets differ.
        const size = await handle.size();
        if (size !== segment.size) {
          await handle.close().catch(() => undefined);
          throw new IOError(`segment '${segment.path}' is ${size} bytes, not the ${segment.size} this store indexed: another process rewrote it (a compaction by the writer); reopen the store`, { path: segment.path, errno: 'ESTALE', syscall: 'open' });
        }
        return handle;
      });
      this.opening.set(segment, opening);
    }
    let handle: FileHandle;
    try {
      handle = await opening;
    } finally {
      this.opening.delete(segment);
    }
    if (segment.handle) {
      // Opened twice at once, or replaced meanwhile: keep the one the segment has.
      if (segment.handle !== handle) await handle.close().catch(() => undefined);
      handle = segment.handle;
    } else {
      segment.handle = handle;
      this.cache(segment, handle);
    }
    this.leases.set(handle, (this.leases.get(handle) ?? 0) + 1);
    return handle;
  }

  async release(handle: FileHandle): Promise<void> {
    const count = (this.leases.get(handle) ?? 1) - 1;
    if (count > 0) {
      this.leases.set(handle, count);
      return;
    }
    this.leases.delete(handle);
    if (this.retired.delete(handle)) await handle.close().catch(() => undefined);
  }

  /** Points a sealed segment at a new file (compaction); the old handle closes once its reads finish. */
  async replace(segment: HandleOwner, handle: FileHandle): Promise<void> {
    const old = segment.handle;
    segment.handle = handle;
    this.cached.delete(segment);
    this.cache(segment, handle);
    if (!old || old === handle) return;
    if (this.leases.has(old)) this.retired.add(old);
    else await old.close().catch(() => undefined);
  }

  /** Sealed-segment handles open now (for tests). */
  get openCount(): number {
    return this.cached.size;
  }

  /** Closes every handle of `segments` and those waiting for reads. */
  async closeAll(segments: readonly HandleOwner[]): Promise<void> {
    for (const segment of segments) {
      const handle = segment.handle;
      segment.handle = undefined;
      await handle?.close().catch(() => undefined);
    }
    this.cached.clear();
    for (const handle of this.retired) await handle.close().catch(() => undefined);
    this.retired.clear();
  }

  private cache(segment: HandleOwner, handle: FileHandle): void {
    this.cached.set(segment, handle);
    const limit = this.lowered ?? this.limit;
    for (const [oldest, oldHandle] of this.cached) {
      if (this.cached.size <= limit) break;
      this.cached.delete(oldest);
      if (oldest.handle === oldHandle) oldest.handle = undefined;
      if (this.leases.has(oldHandle)) this.retired.add(oldHandle);
      else void oldHandle.close().catch(() => undefined);
    }
  }
}
