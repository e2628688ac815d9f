/**
 * The log device contract: what the engine needs from the storage under the log, and what it
 * may rely on. The log is a sequence of entries at contiguous positions 0, 1, 2, …, written
 * in frames (the core encodes them; docs/FORMAT.md §6) and grouped in segments: every segment
 * but the last (the current one) is sealed and changes only by `rewriteSegment`.
 *
 * The device stores frame bytes as the core encoded them and keeps, per entry, its kind,
 * payload length and entry check (docs/FORMAT.md §10.1), so that a read never scans and every
 * payload it returns is verified. Opening and recovering a device is the device's own (the
 * file device: `SegmentLog.open`, device/recovery.ts); the contract starts at an open device.
 *
 * device/segments.ts (`SegmentLog`) implements it over segment files. It is kept small so that
 * a device over a database can implement it too: a segment is a group of rows, `append` +
 * `flushWrites` an insert, `LogSync.sync` a commit, `roll` closing a group and starting the
 * next, `rewriteSegment` one transaction that replaces a group's rows.
 *
 * Failures: a failed write or sync is fail-stop. The device reports it through
 * `onWriteFailed` (the engine fails the store there) and from then on reads stop at
 * `readLimit()`, so a read never returns bytes a failed write may not have stored. Damaged
 * or missing bytes are CorruptionError at the entry's location, never data.
 */

/** A segment as the engine sees it: a run of positions, sealed unless it is the current one. */
export interface LogSegment {
  /** Stable name for messages and stats (the file device: `<first position>.seg`). */
  readonly name: string;
  readonly firstPosition: number;
  /** One past its last entry (the current segment's grows with every append). */
  readonly nextPosition: number;
  /** Bytes it takes up in storage, including what is appended but not yet flushed. */
  readonly size: number;
}

/** One frame of an append: the kind, payload length and entry check of each entry, in order. */
export interface FrameIndex {
  kinds: ArrayLike<number>;
  lengths: ArrayLike<number>;
  checks: ArrayLike<number>;
}

/** Where appended frames go: once flushed, `sync` makes them durable (fdatasync, a commit). */
export interface LogSync {
  sync(): Promise<void>;
}

/** Receives an entry of a range read: `bytes.subarray(start, start + length)` is its payload, valid only during the call. */
export type RangeVisitor = (kind: number, position: number, bytes: Uint8Array, start: number, length: number) => void;

/** Receives an entry of a positions read: `bytes.subarray(start, start + length)` is its payload, valid only during the call. */
export type PositionVisitor = (position: number, bytes: Uint8Array, start: number, length: number) => void;

/** What a rewrite changes in a sealed segment: positions that become placeholders, entries given new payloads. */
export interface Rewrite {
  removed: ReadonlySet<number>;
  replaced: ReadonlyMap<number, Uint8Array>;
}

export interface CompactResult {
  /** Entries that became placeholders (those already placeholders are not counted). */
  removed: number;
  bytesBefore: number;
  bytesAfter: number;
}

export interface LogDevice<S extends LogSegment = LogSegment> {
  /** The position the next appended entry gets (entries below it are indexed). */
  readonly nextPosition: number;
  /** The chain checksum of the last frame appended: the next frame is encoded to chain from it. */
  readonly lastChecksum: number;

  /**
   * Appends encoded frames (`bytes`, one frame after another; `frames` lists each one's
   * entries) to the current segment, at positions from `nextPosition` on, and records that
   * `lastChecksum` now ends the chain. Synchronous and never fails: the entries are indexed
   * at once and the bytes copied into a write buffer (`bytes` may be a view of wasm memory and
   * is not kept). Nothing is written yet, let alone durable. Returns where the frames go:
   * syncing it after a `flushWrites` makes them durable.
   */
  append(bytes: Uint8Array, frames: readonly FrameIndex[], lastChecksum: number): LogSync;
  /** Bytes appended but not yet handed to storage. */
  readonly pendingBytes: number;
  /**
   * Hands every buffered frame to storage (one write), after the writes of earlier calls: the
   * log in storage is always a prefix of the log appended. Resolves once written, not durable
   * (that takes `LogSync.sync`). A failure is passed to `onWriteFailed` and rejects with what
   * it returns.
   */
  flushWrites(): Promise<void>;
  /** Set by the engine: told of a failed write, whichever call ran into it; returns the error to reject with. */
  onWriteFailed: (error: unknown) => unknown;
  /** Set by the engine: reads return no entry at or past this position (Infinity while healthy; once failed, what is durable). */
  readLimit: () => number;

  /**
   * Reads the entries `[from, to)` in position order, every kind, with few large reads
   * (about `chunkBytes` at once). Flushes buffered frames first, so everything appended is
   * readable. Every payload is verified against its entry check before `each` sees it; a
   * mismatch, or storage that holds less than the index, is CorruptionError at the entry.
   * Stops early at `readLimit()` and at the end of the log.
   */
  readRange(from: number, to: number, each: RangeVisitor, chunkBytes?: number): Promise<void>;
  /** Reads the entries at `positions` (ascending, each below `nextPosition`) with the same promises as `readRange`. */
  readPositions(positions: readonly number[], each: PositionVisitor): Promise<void>;
  /** The kind of the entry at `position`, or -1 when there is none (from the index: no I/O). */
  kindAt(position: number): number;
  /** Where an entry's payload lies, for error messages (file or table, and offset). */
  locate(position: number): { file: string; offset: number };

  /** Every segment in position order; the last is `current`, all others are sealed. */
  readonly segments: readonly S[];
  readonly current: S;
  /** The segment holding `position`, or undefined. */
  segmentOf(position: number): S | undefined;
  /**
   * Seals the current segment and starts the next at `nextPosition`: the new segment is
   * durable before the seal is written, and the seal is durable when this resolves (call with
   * everything appended durable). When the new segment cannot be started, nothing changes
   * and it rejects. A seal that fails is cut off again (the old segment stays unsealed, which
   * is valid) or, when that fails too, it rejects with what `onWriteFailed` returns.
   */
  roll(): Promise<S>;
  /**
   * Rewrites a sealed segment atomically: the entries at `rewrite.removed` become empty
   * placeholders (kind 0x01), those in `rewrite.replaced` get their new payloads (same kind);
   * every other entry keeps its bytes, and every position its place. Kept bytes are verified
   * before they are rewritten. A crash leaves the old segment or the new one, never a mix;
   * reads under way finish on the old one. A failure before the swap leaves the segment as
   * it was; one during or after it (the segment may be old or new) is a StoreFailedError the
   * engine must fail the store with.
   */
  rewriteSegment(segment: S, rewrite: Rewrite): Promise<CompactResult>;

  /** Hands buffered frames to storage (a failure there was reported already) and releases it; does not sync. */
  close(): Promise<void>;
}
