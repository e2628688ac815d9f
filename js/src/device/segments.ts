/**
 * The log device over a FileHost: segment files `log/<first position>.seg`, each a header
 * followed by whole frames. It recovers the log on open (with the core's scan), appends
 * encoded frames, rolls segments, and keeps the location of every entry so reads never scan.
 */
import { ScannedEntry, type RecoveryVisitor } from './entry.js';
import { ScanStatus, SEGMENT_HEADER_BYTES, ENTRY_RECORD_WORDS, HEADER_ERRORS, type Core, type Probe, type ScanSession } from '../core/core.js';
import { CorruptionError, IncompatibleFormatError } from '../errors.js';
import { joinPath, type FileHandle, type FileHost } from '../host/types.js';
import { GrowableUint32, GrowableUint8 } from './growable.js';
import { MalformedEntry } from './malformed.js';
import { SegmentHandles } from './handles.js';
import { probeInChunks } from './probe.js';
import type { LogImage } from '../engine/snapshot.js';

export const SEGMENT_NAME = /^(\d{20})\.seg$/;
export const FRAME_BEGIN_BYTES = 32;
export const ENTRY_HEADER_BYTES = 8;
/** Bytes read per scan step during recovery and replay. */
export const SCAN_CHUNK_BYTES = 4 << 20;
/** After a bad frame, up to this many bytes of the rest are probed in one piece; a longer rest in chunks (memory stays bounded). */
export const PROBE_WHOLE_BYTES = 64 << 20;
/** Sealed segments whose read handles stay open by default (`maxOpenSegments`); the current segment's is extra. */
export const MAX_OPEN_SEGMENTS = 64;

/** The first position a segment file's name gives, or -1. */
function positionOfName(name: string | undefined): number {
  const match = name === undefined ? null : SEGMENT_NAME.exec(name);
  return match ? Number(match[1]) : -1;
}

export function segmentName(firstPosition: number): string {
  return `${String(firstPosition).padStart(20, '0')}.seg`;
}

/** Kind of the empty entry that takes the place of one a prune removed (docs/FORMAT.md §7, §17). */
export const KIND_PRUNED = 0x01;

/** Segment header flags bit 0: the segment was rewritten by compaction (docs/FORMAT.md §5.1, §17). */
export const SEGMENT_FLAG_COMPACTED = 1;

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/**
 * A read that got fewer bytes than the index says lie there: the file was cut short behind the
 * store's back. Corruption, never zeros handed on as data.
 */
function cutShort(segment: Segment, offset: number, read: number, wanted: number): CorruptionError {
  return new CorruptionError(segment.path, offset + read, `the file ends at offset ${offset + read}, but the index has entries up to offset ${offset + wanted}`);
}

/** A payload decoder's MalformedEntry as CorruptionError at the entry; anything else as it is. */
function malformed(error: unknown, segment: Segment, offset: number, position: number): unknown {
  return error instanceof MalformedEntry ? new CorruptionError(segment.path, offset, `entry at position ${position}: ${error.message}`) : error;
}

/** The end magic of a frame, "RLFE" (docs/FORMAT.md §6.2). */
export const FRAME_END_MAGIC = 0x45464c52;

/** A frame with no entries (40 bytes) ends a sealed segment: "a successor exists" (docs/FORMAT.md §6.2, §9.2). */
export const SEAL_FRAME_BYTES = 40;

/**
 * Whether a segment ends with a seal frame: bytes after the frame that holds its last entry
 * can only be frames with no entries, which the writer writes only as seals. Computed from the
 * index, so no payload bytes can pass for a seal.
 */
export function isSealed(segment: Segment, size = segment.size): boolean {
  const count = segment.offsets.length;
  const entriesEnd = count === 0 ? SEGMENT_HEADER_BYTES : Math.ceil((segment.offsets.values[count - 1]! + segment.lengths.values[count - 1]!) / 8) * 8 + 8;
  return size > entriesEnd;
}

/**
 * The chain checksum after a segment whose header is `header` and whose last frame's checksum
 * is `last`: a compacted segment (§5.1 flags bit 0) had its frames rewritten, so the chain goes
 * on from the checksum its header records, that of its last frame before the rewrite.
 */
export function chainAfter(header: Uint8Array, last: number): number {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  return view.getUint32(12, true) & SEGMENT_FLAG_COMPACTED ? view.getUint32(40, true) : last;
}

function restoredSegment(name: string, path: string, size: number, image: { firstPosition: number; offsets: Uint32Array; lengths: Uint32Array; kinds: Uint8Array; checks: Uint32Array }): Segment {
  const segment = new Segment(name, path, image.firstPosition, undefined, size);
  segment.offsets.assign(image.offsets);
  segment.lengths.assign(image.lengths);
  segment.kinds.assign(image.kinds);
  segment.checks.assign(image.checks);
  return segment;
}

export class Segment {
  /** Payload offset, payload length and kind of each entry, by position - firstPosition. */
  offsets = new GrowableUint32();
  lengths = new GrowableUint32();
  kinds = new GrowableUint8();
  /** Entry check of each payload (docs/FORMAT.md §10.1): every read verifies against it. */
  checks = new GrowableUint32();
  /** Sealed into existence by a prune (not a roll or an open): a prune seals it again only when worth it. */
  startedByPrune = false;
  /**
   * The open file, or undefined while closed: the current segment's stays open; sealed ones
   * are opened on demand and kept in a bounded cache (handles.ts).
   */
  constructor(readonly name: string, readonly path: string, readonly firstPosition: number, public handle: FileHandle | undefined, public size: number) {}
  get nextPosition(): number {
    return this.firstPosition + this.offsets.length;
  }
}

export type { RecoveredEntry, RecoveryVisitor } from './entry.js';

export interface RecoveryReport {
  /** Human-readable notes: torn tails truncated, empty segments removed. */
  warnings: string[];
  frames: number;
  entries: number;
  bytesScanned: number;
  /** The snapshot open started from (`snapshot-….snap`), and the position it covered; the scan began after it. */
  snapshot?: { name: string; position: number };
}

/** A snapshot that does not fit the files it describes: open falls back to a full scan. */
export class SnapshotMismatch extends Error {}

/** Where recovery starts when a snapshot covers the log up to `position`. */
export interface Resume {
  name: string;
  position: number;
  log: LogImage;
}

export interface SegmentLogOptions {
  host: FileHost;
  directory: string;
  storeId: Uint8Array;
  core: Core;
  readOnly: boolean;
  /** The kinds whose entries the scan indexes as named entries (a 32-byte bitmap; default: the built-in ones). */
  namedKinds?: Uint8Array;
  /** Progress during long scans (bytes done, bytes total). */
  onProgress?: (done: number, total: number) => void;
  /** Sealed segments whose read handles stay open at once (default MAX_OPEN_SEGMENTS). */
  maxOpenSegments?: number;
  /**
   * The log is known to have reached this position durably (the MANIFEST's end at the last
   * clean close, or a snapshot's position): a log that ends below it lost synced entries,
   * which is CorruptionError naming what is missing, never a torn tail.
   */
  durableEnd?: DurableEnd;
}

/** A position the log reached durably, and what records it (for messages). */
export interface DurableEnd {
  position: number;
  source: string;
}

export class SegmentLog {
  readonly segments: Segment[] = [];
  readonly logDirectory: string;
  lastChecksum = 0;
  /** Bytes of frames appended since open. */
  appendedBytes = 0;
  /** Open segment files: the current one's, and a bounded cache of sealed ones. */
  readonly handles: SegmentHandles;
  /** Frames appended but not yet written: they go to the OS in one write per flush. */
  private pending = new Uint8Array(0);
  private pendingLength = 0;
  private pendingSegment: Segment | undefined;
  private pendingOffset = 0;
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly options: SegmentLogOptions) {
    this.logDirectory = joinPath(options.directory, 'log');
    this.handles = new SegmentHandles(options.host, options.maxOpenSegments ?? MAX_OPEN_SEGMENTS);
  }

  get nextPosition(): number {
    const last = this.segments[this.segments.length - 1];
    return last ? last.nextPosition : 0;
  }

  get current(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Opens and recovers the log; `visit` sees every entry in order. */
  static async open(options: SegmentLogOptions, visit: RecoveryVisitor, resume?: Resume): Promise<{ log: SegmentLog; report: RecoveryReport }> {
    const log = new SegmentLog(options);
    const report = await options.core.scanSession((session) => log.recover(session, visit, resume), options.namedKinds);
    if (!options.readOnly) {
      if (log.segments.length === 0) await log.createSegment(0);
      // What recovery found may still sit unsynced in the OS cache (the last process died
      // before its sync): make it durable before new frames record it as durable.
      else await log.current.handle!.sync();
    }
    return { log, report };
  }

  private async recover(session: ScanSession, visit: RecoveryVisitor, resume: Resume | undefined): Promise<RecoveryReport> {
    const { host, readOnly } = this.options;
    if (!readOnly) await host.mkdir(this.logDirectory);
    const names = (await host.list(this.logDirectory)).filter((name) => SEGMENT_NAME.test(name)).sort();
    // Files are opened one at a time (sizes first, then each for its scan) and sealed ones go
    // to the bounded handle cache: a log of any length opens within the descriptor limit.
    const sizes: number[] = [];
    try {
      for (const name of names) {
        const handle = await this.handles.open(joinPath(this.logDirectory, name), { readOnly });
        try {
          sizes.push(await handle.size());
        } finally {
          await handle.close();
        }
      }
      return await this.recoverFiles(session, visit, resume, names, sizes);
    } catch (error) {
      // Open fails: close every segment file (a segment removed during recovery is closed already).
      await this.recovering?.close().catch(() => undefined);
      for (const segment of this.segments) await segment.handle?.close().catch(() => undefined);
      this.segments.length = 0;
      await this.handles.closeAll([]);
      throw error;
    }
  }

  /** The file recovery has open and has not yet made a segment of (closed if open fails). */
  private recovering: FileHandle | undefined;

  /** A recovered segment joins the log; the one before it is sealed, and its handle joins the bounded cache. */
  private pushRecovered(segment: Segment): void {
    this.segments.push(segment);
    this.handles.seal(this.segments[this.segments.length - 2]);
  }

  /** Opens the segment file `name` as recovery needs it (read-write on a writable open: the last one may be truncated). */
  private openForRecovery(name: string): Promise<FileHandle> {
    return this.handles.open(joinPath(this.logDirectory, name), { readOnly: this.options.readOnly });
  }


  /**
   * Whether the file `name` (at `index`) is a leftover of a segment start that failed or that
   * a crash cut short: it holds no valid frame, and the log is whole without it (it is the
   * last file, or the next file starts where the log before it ends). Such a file was never
   * reached by an acknowledged frame; open removes it (read-only: ignores it) with a warning.
   */
  private async isLeftover(session: ScanSession, handle: FileHandle, size: number, from: number, index: number, names: readonly string[], expectedPosition: number): Promise<boolean> {
    // Later files named before the end of the log can only be leftovers too (each is judged in its turn).
    let next = index + 1;
    while (next < names.length && positionOfName(names[next]) < expectedPosition) next++;
    if (next < names.length && positionOfName(names[next]) !== expectedPosition) return false;
    return !(await this.anyValidFrame(session, handle, from, size));
  }

  private async dropLeftover(name: string, handle: FileHandle, report: RecoveryReport, why: string): Promise<void> {
    const { host, readOnly } = this.options;
    report.warnings.push(`${readOnly ? 'ignored' : 'removed'} ${name}: ${why} and it holds no frames (left over from a segment start that failed or was cut short)`);
    await handle.close();
    if (!readOnly) {
      await host.remove(joinPath(this.logDirectory, name));
      await host.syncDirectory(this.logDirectory);
    }
  }

  private async recoverFiles(session: ScanSession, visit: RecoveryVisitor, resume: Resume | undefined, names: string[], sizes: number[]): Promise<RecoveryReport> {
    const { host, storeId, readOnly } = this.options;
    const report: RecoveryReport = { warnings: [], frames: 0, entries: 0, bytesScanned: 0 };
    this.recoverySizes = sizes;
    const total = sizes.reduce((sum, size) => sum + size, 0);
    let done = 0;
    let expectedPosition = 0;
    let checksum = 0;
    let start = 0;
    if (resume) {
      // The segments the snapshot covers, with their entry tables; scanning resumes at the
      // end of the last one it covers. Anything that does not match is SnapshotMismatch.
      await this.restoreSegments(resume, names, sizes);
      start = resume.log.segments.length - 1;
      expectedPosition = resume.position;
      checksum = resume.log.checksum;
      for (let index = 0; index < start; index++) done += sizes[index]!;
      report.snapshot = { name: resume.name, position: resume.position };
    }
    for (let index = start; index < names.length; index++) {
      const name = names[index]!;
      const path = joinPath(this.logDirectory, name);
      const size = sizes[index]!;
      const isLast = index === names.length - 1;
      const resumed = resume && index === start ? this.segments[start]! : undefined;
      const handle = resumed?.handle ?? (await this.openForRecovery(name));
      this.recovering = handle;
      const header = new Uint8Array(SEGMENT_HEADER_BYTES);
      const headerRead = await handle.read(header, 0);
      if (resumed) {
        resumed.handle = handle;
        // The last segment the snapshot covers (restored above), scanned on from its covered size.
        const coveredSize = resume!.log.segments[start]!.coveredSize;
        done += coveredSize;
        // When the snapshot's last frame end was found on disk (restoreSegments), a bad frame
        // right after it is judged like any other (torn tail or damage); otherwise nothing
        // proves the snapshot fits, and a bad first frame rejects the snapshot instead.
        const verified = coveredSize > SEGMENT_HEADER_BYTES;
        const stop = await this.scanSegment(session, resumed, coveredSize, index, names, visit, report, { expectedPosition, checksum, done, total }, !verified);
        ({ expectedPosition, checksum, done } = stop);
        if (stop.truncated) continue; // only leftovers can follow a torn tail
        // The segment may have been compacted since the snapshot covered its start.
        checksum = chainAfter(header, checksum);
        continue;
      }
      const decoded = this.options.core.decodeSegmentHeader(header.subarray(0, headerRead), storeId);
      if (decoded.code === 4) throw new IncompatibleFormatError(`${path} is format version ${decoded.version}; this reeldb reads version 1`);
      if (decoded.code !== 0) {
        // A segment whose header never made it to disk is a roll interrupted by a crash (or a
        // start that failed, e.g. on a full disk): it holds no data if nothing valid is in it.
        // Not as the last file after a sealed segment: a roll seals the old segment only once
        // the new one's header is durable, so a bad header there is damage.
        const previous = this.segments[this.segments.length - 1];
        if (decoded.code !== 5 && !(isLast && previous && isSealed(previous)) && (await this.isLeftover(session, handle, size, 0, index, names, expectedPosition))) {
          // Removing the last file must not hide a log that was durably longer (checked before anything is removed).
          if (isLast || !(await this.liveLaterSegments(session, index, names, expectedPosition))) this.checkReached(expectedPosition, path, 0, `the segment header is ${HEADER_ERRORS[decoded.code]}`);
          await this.dropLeftover(name, handle, report, `its header is incomplete (${HEADER_ERRORS[decoded.code]})`);
          continue;
        }
        throw new CorruptionError(path, 0, `segment header ${HEADER_ERRORS[decoded.code]}`);
      }
      if (decoded.firstPosition !== expectedPosition) {
        // A complete header of a segment started at a position the log went past (its start
        // failed after the header was written, and appends went on in the segment before it).
        if (decoded.firstPosition < expectedPosition && (await this.isLeftover(session, handle, size, SEGMENT_HEADER_BYTES, index, names, expectedPosition))) {
          await this.dropLeftover(name, handle, report, `it starts at position ${decoded.firstPosition}, inside the segment before it,`);
          continue;
        }
        throw new CorruptionError(path, 0, `segment starts at position ${decoded.firstPosition} but the log before it ends at ${expectedPosition} (a segment is missing or out of place)`);
      }
      const segment = new Segment(name, path, expectedPosition, handle, size);
      this.pushRecovered(segment);
      done += SEGMENT_HEADER_BYTES;
      const stop = await this.scanSegment(session, segment, SEGMENT_HEADER_BYTES, index, names, visit, report, { expectedPosition, checksum, done, total }, false);
      ({ expectedPosition, checksum, done } = stop);
      if (stop.truncated) continue; // only leftovers can follow a torn tail
      checksum = chainAfter(header, checksum);
    }
    const last = this.segments[this.segments.length - 1];
    // A successor at the expected position would have joined the log: a sealed last segment has none.
    if (last && isSealed(last)) {
      const missing = segmentName(expectedPosition);
      throw new CorruptionError(joinPath(this.logDirectory, missing), 0, `missing: ${last.name} is sealed (its last frame records that a segment follows it), but log/ has no ${missing}`);
    }
    const where = last ? { file: last.path, offset: last.size } : { file: joinPath(this.logDirectory, segmentName(0)), offset: 0 };
    this.checkReached(expectedPosition, where.file, where.offset, last ? `the log ends at offset ${last.size} of ${last.name}` : 'log/ holds no segment');
    this.lastChecksum = checksum;
    // Every entry indexed must have its check (a scan loop that forgot one would fail reads later, confusingly).
    for (const segment of this.segments) if (segment.checks.length !== segment.offsets.length) throw new Error(`reeldb internal error: ${segment.name} has ${segment.offsets.length} entries but ${segment.checks.length} entry checks`);
    return report;
  }

  /** Sizes of the files in log/ during recovery (a torn seal is judged by its successor's). */
  private recoverySizes: readonly number[] = [];

  /**
   * Throws CorruptionError when the log, cut at `position`, would end below its durable end:
   * the entries from there were synced once, so what removes them is damage, not a crash.
   */
  private checkReached(position: number, file: string, offset: number, what: string): void {
    const end = this.options.durableEnd;
    if (!end || position >= end.position) return;
    throw new CorruptionError(
      file,
      offset,
      `${what}, at position ${position}, but ${end.source} records that the log reached position ${end.position}: entries ${position}..${end.position - 1} are missing ` +
        `(the end of a segment was cut or damaged, or log/${segmentName(position)} or a later segment was removed)`,
    );
  }

  /**
   * Scans one segment from `offset` to its end, indexing entries and calling `visit`.
   * A bad frame is corruption if valid data follows it, otherwise a torn tail, truncated.
   * `resuming`: the scan starts right after a snapshot that nothing on disk confirmed, and a
   * bad first frame there means the snapshot does not match the log (SnapshotMismatch), never
   * a tail to truncate.
   */
  private async scanSegment(
    session: ScanSession,
    segment: Segment,
    offset: number,
    index: number,
    names: readonly string[],
    visit: RecoveryVisitor,
    report: RecoveryReport,
    cursor: { expectedPosition: number; checksum: number; done: number; total: number },
    resuming: boolean,
  ): Promise<{ expectedPosition: number; checksum: number; done: number; truncated: boolean }> {
    const { storeId, readOnly } = this.options;
    const { path, name } = segment;
    const handle = segment.handle!;
    const size = segment.size;
    let { expectedPosition, checksum, done } = cursor;
    const streamNames: (string | undefined)[] = [];
    const scanned = new ScannedEntry(session);
    let chunk = SCAN_CHUNK_BYTES;
    let tableCapacity = 65536;
    let first = true;
    while (offset < size) {
      const length = Math.min(chunk, size - offset);
      const view = session.bufferView(length);
      const read = await handle.read(view.subarray(0, length), offset);
      const isFinal = offset + read >= size;
      const result = session.scan(read, isFinal, expectedPosition, checksum, storeId, tableCapacity);
      if (resuming && first && result.status === ScanStatus.Bad && result.consumed === 0) {
        throw new SnapshotMismatch(`the log at offset ${offset} of ${name} does not continue the snapshot (${result.message})`);
      }
      if (result.frames > 0) first = false;
      // A copy: a visitor may call the core (names), which can grow memory and detach views.
      const table = session.entryTable(result.entries).slice();
      for (let entry = 0; entry < result.entries; entry++) {
        const word = entry * ENTRY_RECORD_WORDS;
        const kind = table[word + 2]!;
        segment.offsets.push(offset + table[word]!);
        segment.lengths.push(table[word + 1]!);
        segment.kinds.push(kind);
        segment.checks.push(table[word + 6]!);
        const streamNumber = table[word + 3]!;
        let streamName: string | undefined;
        if (streamNumber !== 0xffffffff) {
          streamName = streamNames[streamNumber];
          if (streamName === undefined) streamName = streamNames[streamNumber] = session.streamName(streamNumber);
        }
        scanned.kind = kind;
        scanned.position = expectedPosition + entry;
        scanned.name = streamName;
        scanned.version = table[word + 4]! + table[word + 5]! * 2 ** 32;
        scanned.offset = table[word]!;
        scanned.length = table[word + 1]!;
        const problem = visit(scanned);
        if (problem) throw new CorruptionError(path, offset + table[word]!, problem);
      }
      report.frames += result.frames;
      report.entries += result.entries;
      expectedPosition = result.nextPosition;
      checksum = result.lastChecksum;
      offset += result.consumed;
      report.bytesScanned += result.consumed;
      done += result.consumed;
      this.options.onProgress?.(done, cursor.total);
      if (result.status === ScanStatus.End) continue;
      if (result.status === ScanStatus.NeedMore) {
        if (result.consumed === 0) chunk = Math.max(chunk, result.needed);
        continue;
      }
      if (result.status === ScanStatus.TableFull) {
        if (result.entries === 0) tableCapacity = Math.max(tableCapacity * 2, result.needed);
        continue;
      }
      // A bad frame: corruption if anything valid follows it, otherwise a torn tail.
      if (result.badEvent) throw new CorruptionError(path, offset, result.message);
      // A roll makes the new segment durable, then seals the old one: a crash in between can
      // leave a torn seal (at most one seal frame of bytes) before an empty last segment.
      const tornSeal = names.length - index - 1 === 1 && size - offset <= SEAL_FRAME_BYTES && (this.recoverySizes[index + 1] ?? 0) <= SEGMENT_HEADER_BYTES;
      const laterSegments = tornSeal ? 0 : await this.liveLaterSegments(session, index, names, expectedPosition);
      if (laterSegments > 0) throw new CorruptionError(path, offset, `${result.message}, and ${laterSegments} later segment(s) follow`);
      // Nothing is ever written after a seal: bytes there are damage.
      if (isSealed(segment, offset)) throw new CorruptionError(path, offset, `${result.message}, after the seal frame that ends ${name}`);
      // Frames after the bad one that were written once it was durable prove it is damage
      // to synced data. Frames written while it was still unsynced (a crash can keep later
      // pages and lose earlier ones) do not: then everything from here is a torn tail.
      const probe = await this.probeAfter(session, handle, offset, size);
      if (probe.offset >= 0 && probe.durablePosition > expectedPosition) {
        throw new CorruptionError(path, offset, `${result.message}; a valid frame follows at offset ${probe.offset}, written after this one was synced`);
      }
      this.checkReached(expectedPosition, path, offset, `${result.message}; this is not a torn tail: the log ends here`);
      report.warnings.push(
        tornSeal
          ? `${readOnly ? 'ignored' : 'truncated'} a torn seal of ${size - offset} bytes at offset ${offset} of ${name} (${result.message}); a crash came while the segment was being sealed`
          : `${readOnly ? 'ignored' : 'truncated'} a torn tail of ${size - offset} bytes at offset ${offset} of ${name} (${result.message}); the frames from there on were written before the log was last synced past them, as a crash leaves them`,
      );
      if (!readOnly) {
        await handle.truncate(offset);
        await handle.sync();
      }
      segment.size = offset;
      if (tornSeal) return { expectedPosition, checksum, done: done + size - offset, truncated: false };
      this.options.onProgress?.(cursor.total, cursor.total);
      return { expectedPosition, checksum, done, truncated: true };
    }
    return { expectedPosition, checksum, done, truncated: false };
  }

  /**
   * Later files that may hold data: all but frameless ones named at or before `position`
   * (leftovers of failed segment starts, removed once the scan reaches them).
   */
  private async liveLaterSegments(session: ScanSession, index: number, names: readonly string[], position: number): Promise<number> {
    let live = 0;
    for (let later = index + 1; later < names.length; later++) {
      if (positionOfName(names[later]) > position) {
        live++;
        continue;
      }
      const handle = await this.openForRecovery(names[later]!);
      try {
        if (await this.anyValidFrame(session, handle, 0, await handle.size())) live++;
      } finally {
        await handle.close();
      }
    }
    return live;
  }

  /** Builds the segments a snapshot covers from its tables, after checking they match the files. */
  private async restoreSegments(resume: Resume, names: readonly string[], sizes: readonly number[]): Promise<void> {
    const images = resume.log.segments;
    if (images.length === 0) throw new SnapshotMismatch('it lists no segments');
    if (names.length < images.length) throw new SnapshotMismatch(`it covers ${images.length} segments, the log has ${names.length}`);
    let position = 0;
    for (let index = 0; index < images.length; index++) {
      const image = images[index]!;
      const name = names[index]!;
      if (image.firstPosition !== position || name !== segmentName(position)) throw new SnapshotMismatch(`segment ${index} is ${name}, the snapshot expects ${segmentName(position)}`);
      const last = index === images.length - 1;
      if (last ? sizes[index]! < image.coveredSize : sizes[index]! !== image.coveredSize) {
        throw new SnapshotMismatch(`${name} is ${sizes[index]} bytes, the snapshot covers ${image.coveredSize}`);
      }
      for (let entry = 0; entry < image.offsets.length; entry++) {
        if (image.offsets[entry]! + image.lengths[entry]! > image.coveredSize) throw new SnapshotMismatch(`entry ${entry} of ${name} lies past the covered size`);
      }
      this.segments.push(restoredSegment(name, joinPath(this.logDirectory, name), sizes[index]!, image));
      position += image.offsets.length;
    }
    if (position !== resume.position) throw new SnapshotMismatch(`its segments hold ${position} entries, it covers ${resume.position}`);
    // The newest covered files held open now (as many as the cache keeps), as a full scan leaves
    // them: what this open reads of them cannot change under it.
    for (let index = Math.max(0, images.length - 1 - this.handles.capacity); index < images.length - 1; index++) {
      const segment = this.segments[index]!;
      segment.handle = await this.handles.open(segment.path, { readOnly: true });
      this.handles.seal(segment);
    }
    const lastImage = images[images.length - 1]!;
    if (lastImage.coveredSize > SEGMENT_HEADER_BYTES) {
      // The last covered frame ends there: its end record holds the checksum the chain goes on from.
      const end = new Uint8Array(8);
      const segment = this.segments[images.length - 1]!;
      segment.handle = await this.openForRecovery(segment.name);
      await segment.handle.read(end, lastImage.coveredSize - 8);
      const view = new DataView(end.buffer);
      if (view.getUint32(4, true) !== FRAME_END_MAGIC || view.getUint32(0, true) !== resume.log.checksum) {
        throw new SnapshotMismatch(`no frame ends at offset ${lastImage.coveredSize} of ${names[images.length - 1]} with the checksum it records`);
      }
    }
  }

  /** The log as a snapshot records it: every segment and entry, up to the end. Call only when nothing is pending. */
  captureImage(): LogImage {
    return {
      segments: this.segments.map((segment) => ({
        firstPosition: segment.firstPosition,
        coveredSize: segment.size,
        offsets: segment.offsets.values.slice(0, segment.offsets.length),
        lengths: segment.lengths.values.slice(0, segment.lengths.length),
        kinds: segment.kinds.values.slice(0, segment.kinds.length),
        checks: segment.checks.values.slice(0, segment.checks.length),
      })),
      checksum: this.lastChecksum,
    };
  }

  private async anyValidFrame(session: ScanSession, handle: FileHandle, from: number, size: number): Promise<boolean> {
    return (await this.probeAfter(session, handle, from, size)).offset >= 0;
  }

  /** The valid frames strictly after `offset` in the rest of the segment (offset -1: none). */
  private async probeAfter(session: ScanSession, handle: FileHandle, offset: number, size: number): Promise<Probe> {
    const length = size - offset;
    if (length <= 0) return { offset: -1, frames: 0, durablePosition: 0 };
    if (length > PROBE_WHOLE_BYTES) return probeInChunks(session, handle, offset, size, this.options.storeId);
    const view = session.bufferView(length);
    const read = await handle.read(view.subarray(0, length), offset);
    const probe = session.probeAfter(read, 8, this.options.storeId);
    return probe.offset >= 0 ? { ...probe, offset: offset + probe.offset } : probe;
  }

  /**
   * Creates a new segment starting at `firstPosition`, durably. If any step fails (a full
   * disk), the file is removed again and the log is unchanged: nothing half-made stays
   * behind (should the removal fail too, open removes the empty file as a leftover).
   */
  async createSegment(firstPosition: number): Promise<Segment> {
    const { host, core, storeId } = this.options;
    const name = segmentName(firstPosition);
    const path = joinPath(this.logDirectory, name);
    await host.mkdir(this.logDirectory);
    const existed = await host.exists(path);
    const handle = await this.handles.open(path, { create: true });
    try {
      await handle.truncate(0);
      await handle.write(core.encodeSegmentHeader(storeId, firstPosition), 0);
      await handle.sync();
      await host.syncDirectory(this.logDirectory);
    } catch (error) {
      await handle.close().catch(() => undefined);
      // Only a file this call made (or a leftover of an earlier failed roll): never a segment in use.
      if (!existed || !this.segments.some((segment) => segment.name === name)) {
        await host.remove(path).catch(() => undefined);
        await host.syncDirectory(this.logDirectory).catch(() => undefined);
      }
      throw error;
    }
    const segment = new Segment(name, path, firstPosition, handle, SEGMENT_HEADER_BYTES);
    this.segments.push(segment);
    // The segment before it is sealed now: its handle joins the bounded cache.
    this.handles.seal(this.segments[this.segments.length - 2]);
    return segment;
  }

  /**
   * Rolls the log: creates the next segment durably, then seals the current one with a frame
   * of no entries (synced), which records that a successor exists (docs/FORMAT.md §9.2). Call
   * with everything written durable and nothing pending. A half-written seal must not stay
   * before later frames: a failed seal write is cut off again (the segment stays unsealed,
   * which is valid) or, if that fails too, fails the store, as a failed sync does.
   */
  async roll(): Promise<Segment> {
    await this.flushWrites();
    const old = this.current;
    // Leased while it is still current (open for writing): once sealed its handle belongs to
    // the bounded cache, which must not close it under the seal write.
    const handle = old ? await this.handles.acquire(old) : undefined;
    try {
      const next = await this.createSegment(this.nextPosition);
      if (!old || !handle) return next;
      const { core, storeId } = this.options;
      core.resetOutput();
      core.beginFrame();
      const checksum = core.finishFrame(old.nextPosition, this.lastChecksum, storeId, 0);
      const frame = core.output().slice();
      try {
        await handle.write(frame, old.size);
      } catch (error) {
        try {
          await handle.truncate(old.size);
          await handle.sync();
        } catch {
          throw this.onWriteFailed(error);
        }
        return next;
      }
      try {
        await handle.sync();
      } catch (error) {
        throw this.onWriteFailed(error);
      }
      old.size += frame.length;
      this.lastChecksum = checksum;
      return next;
    } finally {
      if (handle) await this.handles.release(handle);
    }
  }

  /**
   * Appends encoded frames to the current segment: records where each entry's payload lies
   * and copies the bytes into the write buffer (`bytes` may be a view of wasm memory; it is
   * not kept). Nothing reaches the file until `flushWrites`. `frames` lists, per frame, its
   * payload lengths and kinds in order. Returns the file that must be synced.
   */
  append(bytes: Uint8Array, frames: readonly { kinds: ArrayLike<number>; lengths: ArrayLike<number>; checks: ArrayLike<number> }[], lastChecksum: number): FileHandle {
    const segment = this.current;
    if (this.pendingLength === 0) {
      this.pendingSegment = segment;
      this.pendingOffset = segment.size;
    }
    const needed = this.pendingLength + bytes.length;
    if (needed > this.pending.length) {
      const grown = new Uint8Array(Math.max(needed, this.pending.length * 2, 64 * 1024));
      grown.set(this.pending.subarray(0, this.pendingLength));
      this.pending = grown;
    }
    this.pending.set(bytes, this.pendingLength);
    this.pendingLength = needed;
    let frameOffset = segment.size;
    for (const frame of frames) {
      let at = frameOffset + FRAME_BEGIN_BYTES;
      let payloadBytes = 0;
      for (let index = 0; index < frame.lengths.length; index++) {
        const length = frame.lengths[index]!;
        segment.offsets.push(at + ENTRY_HEADER_BYTES);
        segment.lengths.push(length);
        segment.kinds.push(frame.kinds[index]!);
        segment.checks.push(frame.checks[index]!);
        at += ENTRY_HEADER_BYTES + length;
        payloadBytes += length;
      }
      frameOffset += this.options.core.frameLength(frame.lengths.length, payloadBytes);
    }
    segment.size += bytes.length;
    this.appendedBytes += bytes.length;
    this.lastChecksum = lastChecksum;
    return segment.handle!;
  }

  /**
   * Told of a failed write, whichever caller (a commit, a sync, a read that flushes first)
   * ran into it; returns the error to reject with. The pipeline makes the store fail here.
   */
  onWriteFailed: (error: unknown) => unknown = (error) => error;

  /**
   * Reads return no entry at or past this position. Infinity while the store is healthy; once
   * it failed, what is durable (the pipeline sets it), so a read never returns bytes that a
   * failed write or fsync may not have stored.
   */
  readLimit: () => number = () => Infinity;

  /**
   * Hands buffered frames to the OS before a read. A failed write is not the read's error: it
   * failed the store (onWriteFailed), and readLimit now keeps reads to what is durable.
   */
  private async flushForRead(): Promise<void> {
    await this.flushWrites().catch(() => undefined);
  }

  /** Bytes appended but not yet handed to the OS. */
  get pendingBytes(): number {
    return this.pendingLength;
  }

  /** Hands buffered frames to the OS (one write). Writes run one after another. */
  flushWrites(): Promise<void> {
    if (this.pendingLength === 0) return this.writing;
    const segment = this.pendingSegment!;
    // Copy out only the used bytes and keep the buffer: allocating a fresh zero-filled buffer
    // per flush (once per commit outside buffered mode) cost ~30 % of memory-mode appends.
    const bytes = this.pending.slice(0, this.pendingLength);
    const offset = this.pendingOffset;
    this.pendingLength = 0;
    this.writing = this.writing
      .then(() => segment.handle!.write(bytes, offset))
      .catch((error: unknown) => {
        throw this.onWriteFailed(error);
      });
    return this.writing;
  }

  /** Finds the segment holding `position` (binary search). */
  segmentOf(position: number): Segment | undefined {
    let low = 0;
    let high = this.segments.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const segment = this.segments[middle]!;
      if (position < segment.firstPosition) high = middle - 1;
      else if (position >= segment.nextPosition) low = middle + 1;
      else return segment;
    }
    return undefined;
  }

  /** The kind of the entry at `position`, or -1 when there is none. */
  kindAt(position: number): number {
    const segment = this.segmentOf(position);
    return segment ? segment.kinds.values[position - segment.firstPosition]! : -1;
  }

  /** The segment file and byte offset of an entry's payload (for error messages). */
  locate(position: number): { file: string; offset: number } {
    const segment = this.segmentOf(position);
    if (!segment) return { file: this.logDirectory, offset: 0 };
    return { file: segment.path, offset: segment.offsets.values[position - segment.firstPosition]! };
  }

  /**
   * Reads the payloads of entries `[from, to)` (positions) with large sequential reads, in
   * chunks of about `chunkBytes`, calling `each(kind, position, bytes, start, length)`.
   */
  async readRange(from: number, to: number, each: (kind: number, position: number, bytes: Uint8Array, start: number, length: number) => void, chunkBytes = 1 << 20): Promise<void> {
    await this.flushForRead();
    to = Math.min(to, this.readLimit());
    let position = from;
    while (position < to) {
      const segment = this.segmentOf(position);
      if (!segment) return;
      const end = Math.min(to, segment.nextPosition);
      let first = position - segment.firstPosition;
      const last = end - segment.firstPosition;
      // The index and the file it points into, taken together (compaction replaces both).
      const offsets = segment.offsets.values;
      const lengths = segment.lengths.values;
      const kinds = segment.kinds.values;
      const checks = segment.checks.values;
      const size = segment.size;
      const handle = this.handles.leaseOpen(segment) ?? (await this.handles.acquire(segment));
      try {
        while (first < last) {
          const start = offsets[first]!;
          let stop = first + 1;
          while (stop < last && offsets[stop]! + lengths[stop]! - start <= chunkBytes) stop++;
          const end = offsets[stop - 1]! + lengths[stop - 1]!;
          if (end > size || end < start) throw new CorruptionError(segment.path, start, `the index places entries up to offset ${end}, past the end of the file (${size} bytes)`);
          const bytes = new Uint8Array(end - start);
          const read = await handle.read(bytes, start);
          if (read < bytes.length) throw cutShort(segment, start, read, bytes.length);
          const count = stop - first;
          const table = this.verifyTable(count * 3);
          table.set(offsets.subarray(first, stop), 0);
          table.set(lengths.subarray(first, stop), count);
          table.set(checks.subarray(first, stop), 2 * count);
          this.verify(segment, bytes, start, table, count, first, false);
          let index = first;
          try {
            for (; index < stop; index++) each(kinds[index]!, segment.firstPosition + index, bytes, offsets[index]! - start, lengths[index]!);
          } catch (error) {
            throw malformed(error, segment, offsets[index]!, segment.firstPosition + index);
          }
          first = stop;
        }
      } finally {
        await this.handles.release(handle);
      }
      position = end;
    }
  }

  /** Reads the payload of each listed position (sorted), grouping neighbours into one read. */
  async readPositions(positions: readonly number[], each: (position: number, bytes: Uint8Array, start: number, length: number) => void): Promise<void> {
    await this.flushForRead();
    // On a failed store, positions past what is durable (taken before the failure) are left out.
    const limit = this.readLimit();
    if (limit !== Infinity) positions = positions.filter((position) => position < limit);
    let index = 0;
    while (index < positions.length) {
      const segment = this.segmentOf(positions[index]!);
      if (!segment) return;
      const base = segment.firstPosition;
      // The index and the file it points into, taken together (compaction replaces both).
      const offsets = segment.offsets.values;
      const lengths = segment.lengths.values;
      const checks = segment.checks.values;
      const startIndex = index;
      const start = offsets[positions[index]! - base]!;
      let end = start + lengths[positions[index]! - base]!;
      index++;
      // Merge following positions while the gap is small and the read stays bounded.
      while (index < positions.length) {
        const local = positions[index]! - base;
        if (local < 0 || positions[index]! >= segment.nextPosition) break;
        const nextEnd = offsets[local]! + lengths[local]!;
        if (offsets[local]! - end > 16384 || nextEnd - start > 4 << 20) break;
        end = Math.max(end, nextEnd);
        index++;
      }
      if (end > segment.size) throw new CorruptionError(segment.path, start, `the index places entries up to offset ${end}, past the end of the file (${segment.size} bytes)`);
      const bytes = new Uint8Array(end - start);
      const handle = this.handles.leaseOpen(segment) ?? (await this.handles.acquire(segment));
      try {
        const read = await handle.read(bytes, start);
        if (read < bytes.length) throw cutShort(segment, start, read, bytes.length);
      } finally {
        await this.handles.release(handle);
      }
      const count = index - startIndex;
      const table = this.verifyTable(count * 4);
      for (let at = 0; at < count; at++) {
        const local = positions[startIndex + at]! - base;
        table[at] = offsets[local]!;
        table[count + at] = lengths[local]!;
        table[2 * count + at] = checks[local]!;
        table[3 * count + at] = local;
      }
      this.verify(segment, bytes, start, table, count, 0, true);
      let at = startIndex;
      try {
        for (; at < index; at++) {
          const local = positions[at]! - base;
          each(positions[at]!, bytes, offsets[local]! - start, lengths[local]!);
        }
      } catch (error) {
        throw malformed(error, segment, offsets[positions[at]! - base]!, positions[at]!);
      }
    }
  }

  /** Reads `bytes` at `offset` of `handle` (the segment's file) and verifies the entries at the local indexes `locals` in them (compaction). */
  async readVerified(segment: Segment, handle: FileHandle, bytes: Uint8Array, offset: number, locals: readonly number[]): Promise<void> {
    const read = await handle.read(bytes, offset);
    if (read < bytes.length) throw cutShort(segment, offset, read, bytes.length);
    const count = locals.length;
    const table = this.verifyTable(count * 4);
    locals.forEach((local, at) => {
      table[at] = segment.offsets.values[local]!;
      table[count + at] = segment.lengths.values[local]!;
      table[2 * count + at] = segment.checks.values[local]!;
      table[3 * count + at] = local;
    });
    this.verify(segment, bytes, offset, table, count, 0, true);
  }

  /**
   * Checks the payloads of a batch of entries against their entry checks in one core call
   * (`table`: offsets, lengths, checks and, when `sparse`, local indexes; otherwise the
   * entries are the local indexes `first + i`); the first that fails is CorruptionError at
   * its file offset (docs/FORMAT.md §10.1).
   */
  private verify(segment: Segment, bytes: Uint8Array, base: number, table: Uint32Array, count: number, first: number, sparse: boolean): void {
    const core = this.options.core;
    const index = core.verifyEntries(bytes, base, table, count, segment.firstPosition + first, sparse);
    if (index < 0) return;
    const failure = core.lastVerifyFailure;
    const position = segment.firstPosition + (sparse ? table[3 * count + index]! : first + index);
    const offset = table[index]!;
    const length = table[count + index]!;
    const reason =
      failure.reason === 'mismatch'
        ? `entry checksum mismatch at position ${position} (${length} bytes: expected ${hex(table[2 * count + index]!)}, computed ${hex(failure.computed)}); the bytes on disk are damaged`
        : `entry at position ${position} (${length} bytes at offset ${offset}) lies outside the bytes read`;
    throw new CorruptionError(segment.path, offset, reason);
  }

  /** Scratch for the verify table of one batch; filled and used synchronously. */
  private verifyScratch = new Uint32Array(1024);
  private verifyTable(words: number): Uint32Array {
    if (words > this.verifyScratch.length) this.verifyScratch = new Uint32Array(Math.max(words, this.verifyScratch.length * 2));
    return this.verifyScratch;
  }

  async close(): Promise<void> {
    await this.flushWrites().catch(() => undefined);
    await this.handles.closeAll(this.segments);
  }

  /**
   * Points a sealed segment at its rewritten file and index (compaction), at once; the old
   * handle is closed when the reads still using it finish.
   */
  async replaceSegment(segment: Segment, handle: FileHandle, size: number, offsets: Uint32Array, lengths: Uint32Array, kinds: Uint8Array, checks: Uint32Array): Promise<void> {
    if (segment === this.current) throw new Error('the current segment cannot be replaced');
    segment.size = size;
    const index = { offsets: new GrowableUint32(), lengths: new GrowableUint32(), kinds: new GrowableUint8(), checks: new GrowableUint32() };
    index.offsets.assign(offsets);
    index.lengths.assign(lengths);
    index.kinds.assign(kinds);
    index.checks.assign(checks);
    segment.offsets = index.offsets;
    segment.lengths = index.lengths;
    segment.kinds = index.kinds;
    segment.checks = index.checks;
    await this.handles.replace(segment, handle);
  }

  /** @internal what compaction needs: the host, core and store id. */
  get context(): { host: FileHost; core: Core; storeId: Uint8Array } {
    return { host: this.options.host, core: this.options.core, storeId: this.options.storeId };
  }
}
