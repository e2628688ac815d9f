/**
 * Recovery of the log device on open: lists the segment files, scans each with the core
 * (resuming after a snapshot when one fits), indexes every entry and visits it, truncates a
 * torn tail, removes leftovers of segment starts that failed, and tells damage from a crash
 * by probing what follows a bad frame.
 */
import { ScannedEntry, type RecoveryVisitor } from './entry.js';
import { ScanStatus, SEGMENT_HEADER_BYTES, ENTRY_RECORD_WORDS, HEADER_ERRORS, type Probe, type ScanSession } from '../core/core.js';
import { CorruptionError, IncompatibleFormatError } from '../errors.js';
import { joinPath, type FileHandle } from '../host/types.js';
import type { SegmentHandles } from './handles.js';
import { probeInChunks } from './probe.js';
import type { LogImage } from '../engine/snapshot.js';
import { FRAME_END_MAGIC, SCAN_CHUNK_BYTES, SEAL_FRAME_BYTES, SEGMENT_NAME, Segment, chainAfter, isSealed, positionOfName, segmentName } from './segment.js';
import type { SegmentLogOptions } from './segments.js';

/** After a bad frame, up to this many bytes of the rest are probed in one piece; a longer rest in chunks (memory stays bounded). */
export const PROBE_WHOLE_BYTES = 64 << 20;

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

/** A position the log reached durably, and what records it (for messages). */
export interface DurableEnd {
  position: number;
  source: string;
}

function restoredSegment(name: string, path: string, size: number, image: { firstPosition: number; offsets: Uint32Array; lengths: Uint32Array; kinds: Uint8Array; checks: Uint32Array }): Segment {
  const segment = new Segment(name, path, image.firstPosition, undefined, size);
  segment.offsets.assign(image.offsets);
  segment.lengths.assign(image.lengths);
  segment.kinds.assign(image.kinds);
  segment.checks.assign(image.checks);
  return segment;
}

/** Recovers the segments of one open into `segments`; the chain checksum it ends at is `lastChecksum`. */
export class Recovery {
  lastChecksum = 0;

  constructor(
    private readonly options: SegmentLogOptions,
    private readonly logDirectory: string,
    private readonly handles: SegmentHandles,
    private readonly segments: Segment[],
  ) {}

  /** Lists log/, restores what `resume` covers, scans the rest; `visit` sees every entry scanned, in order. */
  async recover(session: ScanSession, visit: RecoveryVisitor, resume: Resume | undefined): Promise<RecoveryReport> {
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
        const problem = visit(scanned.load(table, word, expectedPosition + entry, streamName));
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

}
