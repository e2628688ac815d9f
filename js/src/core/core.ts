import { InternalError, InvalidArgumentError } from '../errors.js';

/**
 * Typed wrapper over the wasm core's raw exports. It owns the scratch regions in linear
 * memory, re-creates views whenever memory may have grown, and turns result codes into data.
 */
export interface CoreExports {
  memory: WebAssembly.Memory;
  reel_abi_version(): number;
  reel_alloc(size: number): number;
  reel_free(pointer: number, size: number): void;
  reel_result_ptr(): number;
  reel_message_ptr(): number;
  reel_message_len(): number;
  reel_crc32c(pointer: number, length: number, initial: number): number;
  reel_segment_header_encode(out: number, store: number, firstPosition: number): number;
  reel_segment_header_decode(pointer: number, length: number, expectedStore: number, storeOut: number): number;
  reel_frame_length(entryCount: number, payloadBytes: number): number;
  reel_frame_encode(kindsLengths: number, entryCount: number, payloads: number, firstPosition: number, unsyncedBefore: number, previousChecksum: number, store: number, out: number, checksOut: number): number;
  reel_entries_verify(data: number, length: number, base: number, table: number, count: number, firstPosition: number, sparse: number): number;
  reel_entry_check(pointer: number, length: number, seed: number): number;
  reel_scan(bytes: number, length: number, isFinal: number, expectedPosition: number, previousChecksum: number, store: number, table: number, tableCapacity: number): number;
  reel_find_valid_frame(bytes: number, length: number, start: number, store: number): number;
  reel_intern(pointer: number, length: number): number;
  reel_interned_count(): number;
  reel_interned_name(number: number): number;
  reel_interner_clear(): void;
  reel_set_named_kinds(bitmap: number): number;
  reel_checkpoint_encode(previous: number, previousLength: number, raw: number, rawLength: number, level: number, mode: number): number;
  reel_checkpoint_decode(previous: number, previousLength: number, stored: number, storedLength: number, mode: number, rawLengthMax: number): number;
  reel_checkpoint_decode_chain(links: number, lengths: number, count: number, rawLengthMax: number): number;
  reel_name_normalize(pointer: number, length: number, lossy: number): number;
}

/** 3: the host passes the named kinds to the scan (`reel_set_named_kinds`, docs/FORMAT.md §10). */
export const ABI_VERSION = 3;

/**
 * The exports with every function guarded: a wasm trap (WebAssembly.RuntimeError, e.g.
 * `unreachable` after an allocation fails) becomes an InternalError naming the export, so no
 * trap reaches a caller. Fixed arity keeps the wrapper cheap on hot paths.
 */
function guardExports(exports: CoreExports): CoreExports {
  const guarded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'function') {
      guarded[name] = value;
      continue;
    }
    const call = value as (...args: number[]) => number;
    const trapped = (error: unknown) => (error instanceof WebAssembly.RuntimeError || error instanceof RangeError ? new InternalError(name, error) : error);
    guarded[name] =
      call.length <= 8
        ? (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => {
            try {
              return call(a, b, c, d, e, f, g, h);
            } catch (error) {
              throw trapped(error);
            }
          }
        : (...args: number[]) => {
            try {
              return call(...args);
            } catch (error) {
              throw trapped(error);
            }
          };
  }
  return guarded as unknown as CoreExports;
}
export const SEGMENT_HEADER_BYTES = 48;
export const STORE_ID_BYTES = 16;
/** u32 words per entry in a scan table: offset, length, kind, stream number, version (2), entry check. */
export const ENTRY_RECORD_WORDS = 7;
export const NO_STREAM = 0xffffffff;

export const enum ScanStatus {
  End = 0,
  NeedMore = 1,
  Bad = 2,
  TableFull = 3,
}

export interface ScanResult {
  status: ScanStatus;
  /** Frame error code (docs/FORMAT.md), 0 if none. */
  errorCode: number;
  /** What is wrong with the frame at `consumed`, for a person. */
  message: string;
  consumed: number;
  frames: number;
  entries: number;
  needed: number;
  nextPosition: number;
  lastChecksum: number;
  badEvent: boolean;
}

export interface Probe {
  offset: number;
  frames: number;
  durablePosition: number;
}

/**
 * zstd level for checkpoints when the caller gives none (the same as LEVEL_DEFAULT in
 * wasm-core/src/codec.rs). Measured on 500 KB JSON agent states in the wasm: level 3 stores
 * full states 7–18% smaller than level 1 at about the same speed; levels 5 and up save 5–15%
 * more at a third to a fifth of the speed.
 */
export const CHECKPOINT_LEVEL_DEFAULT = 3;

/** Modes of `reel_checkpoint_encode` / `reel_checkpoint_decode`. */
const CHECKPOINT_FULL = 0;
const CHECKPOINT_DELTA = 1;

/** Codec error codes (wasm-core/src/codec.rs `error_code`). */
export const CODEC_ERROR_CORRUPT = 1;
export const CODEC_ERROR_TOO_LARGE = 2;
export const CODEC_ERROR_INVALID_ARGUMENT = 3;

/**
 * Stored checkpoint bytes that do not decode (`errorCode` CODEC_ERROR_CORRUPT, or TOO_LARGE for a
 * state over the allowed length), or a bad argument. The message says what is wrong, without a
 * location: the caller knows where the bytes came from and raises CorruptionError there.
 */
export class CheckpointCodecError extends Error {
  readonly errorCode: number;
  /** decodeCheckpointChain: the index of the link that failed (0 otherwise). */
  readonly link: number;
  constructor(errorCode: number, message: string, link = 0) {
    super(message);
    this.name = 'CheckpointCodecError';
    this.errorCode = errorCode;
    this.link = link;
  }
}

/** UTF-8 bytes given to `normalizeName` that are not UTF-8 (`offset`: the first invalid byte). */
export class NameBytesError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'NameBytesError';
    this.offset = offset;
  }
}

/**
 * The kinds the built-in primitives index by name (docs/FORMAT.md §7): events 0x30 with their
 * cut records 0x31 and 0x32, checkpoints 0x80 with 0x81 and 0x82. The scan's set when a
 * session is given none.
 */
export const BUILTIN_NAMED_KINDS: readonly number[] = Object.freeze([0x30, 0x31, 0x32, 0x80, 0x81, 0x82]);

/** Bytes of the named-kinds bitmap `reel_set_named_kinds` takes: one bit per kind. */
export const NAMED_KINDS_BYTES = 32;

/** The first kind a primitive may own: 0x00–0x0F are the core's (0x01, the pruned placeholder, has an empty payload). */
const FIRST_PRIMITIVE_KIND = 0x10;

/**
 * The bitmap of `kinds` that the core's scan takes: kind `k` is bit `k % 8` (least significant
 * first) of byte `k / 8` of 32 bytes. Each kind must be an integer 0x10–0xFF (0x00–0x0F belong
 * to the core and never carry a name); repeats are allowed. Anything else is
 * InvalidArgumentError.
 */
export function namedKindsBitmap(kinds: Iterable<number>): Uint8Array {
  const bitmap = new Uint8Array(NAMED_KINDS_BYTES);
  if (typeof kinds === 'string' || typeof (kinds as { [Symbol.iterator]?: unknown } | null | undefined)?.[Symbol.iterator] !== 'function') {
    throw new InvalidArgumentError(`named kinds: expected an iterable of entry kinds (integers 0x10–0xFF), got ${describe(kinds)}`);
  }
  for (const kind of kinds) {
    if (!Number.isInteger(kind) || kind < FIRST_PRIMITIVE_KIND || kind > 0xff) {
      const reason = Number.isInteger(kind) && kind >= 0 && kind < FIRST_PRIMITIVE_KIND ? ' (kinds 0x00–0x0F belong to the core and carry no name)' : '';
      throw new InvalidArgumentError(`named kinds: ${describe(kind)} is not an entry kind a primitive owns: expected an integer 0x10–0xFF${reason}`);
    }
    bitmap[kind >>> 3]! |= 1 << (kind & 7);
  }
  return bitmap;
}

/**
 * A copy of a named-kinds bitmap built elsewhere (the registry's): 32 bytes in the layout of
 * `namedKindsBitmap`, with no bit set for kinds 0x00–0x0F. Anything else is InvalidArgumentError.
 */
export function checkNamedKindsBitmap(bitmap: Uint8Array): Uint8Array {
  if (bitmap.length !== NAMED_KINDS_BYTES) {
    throw new InvalidArgumentError(`named kinds: a bitmap must be ${NAMED_KINDS_BYTES} bytes (one bit per kind), got ${bitmap.length}`);
  }
  const core = bitmap[0]! | (bitmap[1]! << 8);
  if (core !== 0) {
    const kind = 31 - Math.clz32(core & -core);
    throw new InvalidArgumentError(`named kinds: the bitmap sets kind ${describe(kind)}, but kinds 0x00–0x0F belong to the core and carry no name`);
  }
  return bitmap.slice();
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? `0x${value.toString(16).padStart(2, '0')}` : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return value === null ? 'null' : typeof value;
}

const BUILTIN_NAMED_KINDS_BITMAP = namedKindsBitmap(BUILTIN_NAMED_KINDS);

export const HEADER_ERRORS = ['', 'too short', 'bad magic', 'checksum mismatch', 'unsupported format version', 'belongs to another store'];

const EMPTY = new Uint8Array(0);

/** A growable region of linear memory. */
class Region {
  pointer = 0;
  capacity = 0;
  constructor(private readonly exports: CoreExports) {}
  /** Ensures room for `bytes`; keeps the first `keep` bytes. Returns the pointer. */
  reserve(bytes: number, keep = 0): number {
    if (bytes <= this.capacity) return this.pointer;
    const capacity = Math.max(bytes, this.capacity * 2, 4096);
    const pointer = this.exports.reel_alloc(capacity);
    if (keep > 0) new Uint8Array(this.exports.memory.buffer).copyWithin(pointer, this.pointer, this.pointer + keep);
    if (this.capacity > 0) this.exports.reel_free(this.pointer, this.capacity);
    this.pointer = pointer;
    this.capacity = capacity;
    return pointer;
  }
}

export class Core {
  private buffer: ArrayBuffer | undefined;
  private u8View!: Uint8Array;
  private u32View!: Uint32Array;
  private f64View!: Float64Array;
  private readonly resultPointer: number;
  private readonly storeRegion: Region;
  private readonly pairsRegion: Region;
  private readonly payloadRegion: Region;
  private readonly outRegion: Region;
  private readonly scanRegion: Region;
  private readonly tableRegion: Region;
  /** Small synchronous work (CRC32C, segment headers): never the scan buffer, which a scan
   * session holds across awaits while other stores use the core. */
  private readonly scratchRegion: Region;
  /** Entry checks of the frame being encoded, and the bytes and table of a verify batch. */
  private readonly checksRegion: Region;
  private readonly verifyRegion: Region;
  /** Names being normalised (never the scan buffer: recovery normalises names mid-scan). */
  private readonly nameRegion: Region;
  private readonly decoder = new TextDecoder();
  private scanLock: Promise<void> = Promise.resolve();
  /** Bytes of frames encoded since `resetOutput`. */
  outputLength = 0;

  readonly exports: CoreExports;

  constructor(exports: CoreExports) {
    this.exports = guardExports(exports);
    const version = this.exports.reel_abi_version();
    if (version !== ABI_VERSION) throw new Error(`reeldb: wasm core ABI ${version}, this build expects ${ABI_VERSION}; reinstall reeldb`);
    this.resultPointer = this.exports.reel_result_ptr();
    this.storeRegion = new Region(this.exports);
    this.pairsRegion = new Region(this.exports);
    this.payloadRegion = new Region(this.exports);
    this.outRegion = new Region(this.exports);
    this.scanRegion = new Region(this.exports);
    this.tableRegion = new Region(this.exports);
    this.scratchRegion = new Region(this.exports);
    this.checksRegion = new Region(this.exports);
    this.verifyRegion = new Region(this.exports);
    this.nameRegion = new Region(this.exports);
    this.storeRegion.reserve(STORE_ID_BYTES);
  }

  /** Current byte view of linear memory (re-created after growth). */
  get u8(): Uint8Array {
    this.refresh();
    return this.u8View;
  }

  private refresh(): void {
    const buffer = this.exports.memory.buffer;
    if (buffer !== this.buffer) {
      this.buffer = buffer;
      this.u8View = new Uint8Array(buffer);
      this.u32View = new Uint32Array(buffer);
      this.f64View = new Float64Array(buffer);
    }
  }

  private result(word: number): number {
    this.refresh();
    return this.u32View[(this.resultPointer >>> 2) + word]!;
  }

  private resultPosition(): number {
    this.refresh();
    return this.f64View[(this.resultPointer >>> 3) + 4]!;
  }

  private message(): string {
    const pointer = this.exports.reel_message_ptr();
    const length = this.exports.reel_message_len();
    return this.decoder.decode(this.u8.subarray(pointer, pointer + length));
  }

  private putStore(storeId: Uint8Array): number {
    this.u8.set(storeId, this.storeRegion.pointer);
    return this.storeRegion.pointer;
  }

  crc32c(bytes: Uint8Array, initial = 0): number {
    const pointer = this.scratchRegion.reserve(bytes.length);
    this.u8.set(bytes, pointer);
    return this.exports.reel_crc32c(pointer, bytes.length, initial) >>> 0;
  }

  /** The entry check of `bytes` (low 32 bits of XXH64, seed `seed`; docs/FORMAT.md §10.1): snapshot sections use seed 0. */
  entryCheck(bytes: Uint8Array, seed = 0): number {
    const pointer = this.scratchRegion.reserve(bytes.length);
    this.u8.set(bytes, pointer);
    return this.exports.reel_entry_check(pointer, bytes.length, seed) >>> 0;
  }

  /** CRC32C of bytes already in the scan buffer (for benchmarks without copying). */
  crc32cInPlace(length: number, initial = 0): number {
    return this.exports.reel_crc32c(this.scanRegion.pointer, length, initial) >>> 0;
  }

  encodeSegmentHeader(storeId: Uint8Array, firstPosition: number): Uint8Array {
    const store = this.putStore(storeId);
    const out = this.scratchRegion.reserve(SEGMENT_HEADER_BYTES);
    this.exports.reel_segment_header_encode(out, store, firstPosition);
    return this.u8.slice(out, out + SEGMENT_HEADER_BYTES);
  }

  /** Decodes a segment header; `code` 0 means valid (see HEADER_ERRORS). */
  decodeSegmentHeader(bytes: Uint8Array, expectedStore?: Uint8Array): { code: number; firstPosition: number; storeId: Uint8Array; version: number } {
    const expected = expectedStore ? this.putStore(expectedStore) : 0;
    const pointer = this.scratchRegion.reserve(bytes.length + STORE_ID_BYTES);
    this.u8.set(bytes, pointer);
    const storeOut = pointer + bytes.length;
    const code = this.exports.reel_segment_header_decode(pointer, bytes.length, expected, storeOut);
    return {
      code,
      firstPosition: code === 0 ? this.resultPosition() : -1,
      storeId: this.u8.slice(storeOut, storeOut + STORE_ID_BYTES),
      version: code === 4 ? this.result(1) : 1,
    };
  }

  frameLength(entryCount: number, payloadBytes: number): number {
    return this.exports.reel_frame_length(entryCount, payloadBytes);
  }

  // ---- frame encoding. Per batch: resetOutput. Per frame: beginFrame; per entry
  // reservePayload (write into `u8` at the returned pointer) then endPayload; finishFrame.

  resetOutput(): void {
    this.outputLength = 0;
  }

  private payloadLength = 0;
  /** Kind and payload length of each entry of the frame being built. */
  readonly frameKinds: number[] = [];
  readonly frameLengths: number[] = [];
  /** Entry checks of the last frame finished (wasm-core/src/verify.rs), copied out. */
  frameChecks: Uint32Array = new Uint32Array(0);

  beginFrame(): void {
    this.payloadLength = 0;
    this.frameKinds.length = 0;
    this.frameLengths.length = 0;
  }

  /** Room for a payload of at most `maxBytes`; returns its pointer into `u8` (views made before this call are stale). */
  reservePayload(maxBytes: number): number {
    return this.payloadRegion.reserve(this.payloadLength + maxBytes, this.payloadLength) + this.payloadLength;
  }

  endPayload(kind: number, length: number): void {
    this.frameKinds.push(kind);
    this.frameLengths.push(length);
    this.payloadLength += length;
  }

  /**
   * Encodes the frame built since beginFrame and appends it to the output; returns its
   * checksum. `unsyncedBefore`: entries before this frame not yet known durable.
   */
  finishFrame(firstPosition: number, previousChecksum: number, storeId: Uint8Array, unsyncedBefore = 0): number {
    const count = this.frameKinds.length;
    const pairs = this.pairsRegion.reserve(count * 8);
    const frameBytes = this.exports.reel_frame_length(count, this.payloadLength);
    const out = this.outRegion.reserve(this.outputLength + frameBytes, this.outputLength) + this.outputLength;
    const store = this.putStore(storeId);
    const checks = this.checksRegion.reserve(Math.max(4, count * 4));
    this.refresh();
    const u32 = this.u32View;
    for (let index = 0; index < count; index++) {
      u32[(pairs >>> 2) + index * 2] = this.frameKinds[index]!;
      u32[(pairs >>> 2) + index * 2 + 1] = this.frameLengths[index]!;
    }
    this.outputLength += this.exports.reel_frame_encode(pairs, count, this.payloadRegion.pointer, firstPosition, Math.min(unsyncedBefore, 0xffffffff), previousChecksum, store, out, checks);
    this.refresh();
    this.frameChecks = this.u32View.slice(checks >>> 2, (checks >>> 2) + count);
    return this.result(6) >>> 0;
  }

  /** Encodes one frame from ready payloads (tests, tools). Returns the frame checksum. */
  encodeFrame(kinds: ArrayLike<number>, payloads: readonly Uint8Array[], firstPosition: number, previousChecksum: number, storeId: Uint8Array, unsyncedBefore = 0): number {
    this.beginFrame();
    for (let index = 0; index < payloads.length; index++) {
      const payload = payloads[index]!;
      const pointer = this.reservePayload(payload.length);
      this.u8.set(payload, pointer);
      this.endPayload(kinds[index]!, payload.length);
    }
    return this.finishFrame(firstPosition, previousChecksum, storeId, unsyncedBefore);
  }

  /** View of the frames encoded since resetOutput; valid until the next core call. */
  output(): Uint8Array {
    return this.u8.subarray(this.outRegion.pointer, this.outRegion.pointer + this.outputLength);
  }

  // ---- entry checks (wasm-core/src/verify.rs)

  /**
   * Verifies entries read from one segment in one core call: `bytes` are the file's bytes
   * from offset `base`; `table` holds `count` payload offsets (file offsets), then `count`
   * lengths, then `count` expected checks, then when `sparse` `count` indexes relative to
   * `firstPosition` (otherwise entry `i` is at `firstPosition + i`). Returns -1 when all
   * verify, else the index of the first that does not, with `lastVerifyFailure` saying why.
   */
  verifyEntries(bytes: Uint8Array, base: number, table: Uint32Array, count: number, firstPosition: number, sparse: boolean): number {
    if (count === 0) return -1;
    const words = count * (sparse ? 4 : 3);
    // One region: the table first (4-byte aligned), then the bytes.
    const pointer = this.verifyRegion.reserve(words * 4 + bytes.length);
    this.refresh();
    const at = pointer >>> 2;
    const u32 = this.u32View;
    if (words <= 32) for (let word = 0; word < words; word++) u32[at + word] = table[word]!;
    else u32.set(table.length === words ? table : table.subarray(0, words), at);
    const data = pointer + words * 4;
    this.u8View.set(bytes, data);
    const index = this.exports.reel_entries_verify(data, bytes.length, base, pointer, count, firstPosition, sparse ? 1 : 0);
    if (index >= count) return -1;
    this.lastVerifyFailure = { reason: this.result(1) === 1 ? 'mismatch' : 'outOfRange', computed: this.result(6) >>> 0 };
    return index;
  }

  /** Why the last `verifyEntries` that failed did so: the bytes differ, or the entry lies outside them. */
  lastVerifyFailure: { reason: 'mismatch' | 'outOfRange'; computed: number } = { reason: 'mismatch', computed: 0 };

  // ---- checkpoint codec (one core call per checkpoint; the results are copies owned by JS)

  /** One zstd frame of `raw`. */
  encodeCheckpointFull(raw: Uint8Array, level = CHECKPOINT_LEVEL_DEFAULT): Uint8Array {
    return this.checkpointCall(EMPTY, raw, (previous, input) => this.exports.reel_checkpoint_encode(previous, 0, input, raw.length, level | 0, CHECKPOINT_FULL));
  }

  /** The delta that takes `previous` to `raw` (decoding it needs exactly `previous`). */
  encodeCheckpointDelta(previous: Uint8Array, raw: Uint8Array, level = CHECKPOINT_LEVEL_DEFAULT): Uint8Array {
    return this.checkpointCall(previous, raw, (previousPointer, input) =>
      this.exports.reel_checkpoint_encode(previousPointer, previous.length, input, raw.length, level | 0, CHECKPOINT_DELTA),
    );
  }

  /**
   * The state stored by encodeCheckpointFull (`previous` undefined) or encodeCheckpointDelta
   * (`previous` the state it was made from). Throws CheckpointCodecError when the bytes do not
   * decode or the state would exceed `rawLengthMax` bytes (checked before allocating it).
   */
  decodeCheckpoint(stored: Uint8Array, previous: Uint8Array | undefined, rawLengthMax: number): Uint8Array {
    const limit = Math.max(0, Math.min(Math.floor(rawLengthMax) || 0, 0xffffffff));
    const mode = previous === undefined ? CHECKPOINT_FULL : CHECKPOINT_DELTA;
    const base = previous ?? EMPTY;
    return this.checkpointCall(base, stored, (previousPointer, input) =>
      this.exports.reel_checkpoint_decode(previousPointer, base.length, input, stored.length, mode, limit),
    );
  }

  /**
   * The state at the end of a chain: `links[0]` stored by encodeCheckpointFull, each later
   * link a delta against the state before it. The core applies the deltas in place (each
   * costs what changed) and returns the state with its CRC32C. A link that does not decode
   * throws CheckpointCodecError with its `link` index.
   */
  decodeCheckpointChain(links: readonly Uint8Array[], rawLengthMax: number): { raw: Uint8Array; checksum: number } {
    const limit = Math.max(0, Math.min(Math.floor(rawLengthMax) || 0, 0xffffffff));
    const total = links.reduce((sum, link) => sum + link.length, 0);
    const lengthsBytes = Math.max(4, links.length * 4);
    const linksPointer = this.exports.reel_alloc(Math.max(1, total));
    let lengthsPointer = 0;
    try {
      lengthsPointer = this.exports.reel_alloc(lengthsBytes);
      const u8 = this.u8; // after both allocations: either may have grown memory
      const lengths = new DataView(u8.buffer, lengthsPointer, lengthsBytes);
      let at = linksPointer;
      links.forEach((link, index) => {
        u8.set(link, at);
        at += link.length;
        lengths.setUint32(index * 4, link.length, true);
      });
      const code = this.exports.reel_checkpoint_decode_chain(linksPointer, lengthsPointer, links.length, limit);
      if (code !== 0) throw new CheckpointCodecError(code, this.message(), this.result(2));
      const pointer = this.result(10);
      return { raw: this.u8.slice(pointer, pointer + this.result(11)), checksum: this.result(6) };
    } finally {
      if (lengthsPointer !== 0) this.exports.reel_free(lengthsPointer, lengthsBytes);
      this.exports.reel_free(linksPointer, Math.max(1, total));
    }
  }

  /** Copies `previous` and `input` into fresh core buffers, runs `call`, copies its output out. */
  private checkpointCall(previous: Uint8Array, input: Uint8Array, call: (previous: number, input: number) => number): Uint8Array {
    const previousPointer = previous.length > 0 ? this.exports.reel_alloc(previous.length) : 0;
    let inputPointer = 0;
    try {
      inputPointer = input.length > 0 ? this.exports.reel_alloc(input.length) : 0;
      const u8 = this.u8; // after both allocations: either may have grown memory
      if (previous.length > 0) u8.set(previous, previousPointer);
      if (input.length > 0) u8.set(input, inputPointer);
      const code = call(previousPointer, inputPointer);
      if (code !== 0) throw new CheckpointCodecError(code, this.message());
      const pointer = this.result(10);
      return this.u8.slice(pointer, pointer + this.result(11));
    } finally {
      if (inputPointer !== 0) this.exports.reel_free(inputPointer, input.length);
      if (previousPointer !== 0) this.exports.reel_free(previousPointer, previous.length);
    }
  }

  // ---- names

  /**
   * The NFC form of a UTF-8 name (wasm-core/src/names.rs). Strict: bytes that are not UTF-8
   * throw NameBytesError. `lossy` (names read from a log): invalid sequences become U+FFFD.
   */
  normalizeName(bytes: Uint8Array, lossy = false): { text: string; bytes: Uint8Array } {
    const pointer = this.nameRegion.reserve(bytes.length);
    this.u8.set(bytes, pointer);
    return this.normalizeAt(pointer, bytes.length, lossy);
  }

  private normalizeAt(pointer: number, length: number, lossy: boolean): { text: string; bytes: Uint8Array } {
    if (this.exports.reel_name_normalize(pointer, length, lossy ? 1 : 0) !== 0) throw new NameBytesError(this.message(), this.result(2));
    const at = this.result(10);
    const bytes = this.u8.slice(at, at + this.result(11));
    return { text: this.decoder.decode(bytes), bytes };
  }

  // ---- scanning

  /**
   * Runs `work` with exclusive use of the scan buffer, the stream-name interner and the scan's
   * set of named kinds (they are shared by every store in this runtime). `namedKinds`: the entry
   * kinds whose payload has the named-entry layout (docs/FORMAT.md §8), installed in the core for
   * this session's scans: their name and version go into the entry table, and a frame holding one
   * that does not parse is bad. Either kind numbers (any iterable but a Uint8Array, e.g. an array
   * or a Set; `namedKindsBitmap` says which are allowed) or, as a Uint8Array, the 32-byte bitmap
   * itself (`checkNamedKindsBitmap`; copied, so later changes to it do not reach this session).
   * Default: BUILTIN_NAMED_KINDS. A bad set rejects with InvalidArgumentError before the session
   * starts.
   */
  async scanSession<T>(work: (session: ScanSession) => Promise<T>, namedKinds?: Iterable<number> | Uint8Array): Promise<T> {
    const bitmap =
      namedKinds === undefined ? BUILTIN_NAMED_KINDS_BITMAP : namedKinds instanceof Uint8Array ? checkNamedKindsBitmap(namedKinds) : namedKindsBitmap(namedKinds);
    const previous = this.scanLock;
    let release!: () => void;
    this.scanLock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      this.exports.reel_interner_clear();
      this.setNamedKinds(bitmap);
      return await work(new ScanSession(this, this.scanRegion, this.tableRegion, bitmap));
    } finally {
      release();
    }
  }

  private setNamedKinds(bitmap: Uint8Array): void {
    const pointer = this.scratchRegion.reserve(NAMED_KINDS_BYTES);
    this.u8.set(bitmap, pointer);
    this.exports.reel_set_named_kinds(pointer);
  }

  /** @internal used by ScanSession */
  runScan(buffer: number, length: number, isFinal: boolean, expectedPosition: number, previousChecksum: number, storeId: Uint8Array, table: number, tableCapacity: number): ScanResult {
    const store = this.putStore(storeId);
    const status = this.exports.reel_scan(buffer, length, isFinal ? 1 : 0, expectedPosition, previousChecksum, store, table, tableCapacity);
    return {
      status,
      errorCode: this.result(1),
      message: status === ScanStatus.Bad ? this.message() : '',
      consumed: this.result(2),
      frames: this.result(3),
      entries: this.result(4),
      needed: this.result(5),
      lastChecksum: this.result(6) >>> 0,
      badEvent: this.result(7) === 1,
      nextPosition: this.resultPosition(),
    };
  }

  /** @internal */
  probeAfter(buffer: number, length: number, start: number, storeId: Uint8Array): Probe {
    const offset = this.exports.reel_find_valid_frame(buffer, length, start, this.putStore(storeId));
    return { offset, frames: this.result(3), durablePosition: this.resultPosition() };
  }

  /**
   * @internal The name of interned stream or thread `number`, in NFC: names written before
   * names were normalised are found under their NFC form (names.rs; ASCII needs no core call).
   */
  internedName(number: number): string {
    if (this.exports.reel_interned_name(number) === 0) throw new Error(`reeldb core: no interned name ${number}`);
    const pointer = this.result(10);
    const length = this.result(11);
    const stored = this.u8.subarray(pointer, pointer + length);
    let ascii = true;
    for (let index = 0; index < length && ascii; index++) ascii = stored[index]! < 0x80;
    return ascii ? this.decoder.decode(stored) : this.normalizeAt(pointer, length, true).text;
  }

  /** @internal */
  tableView(table: number, entries: number): Uint32Array {
    this.refresh();
    return this.u32View.subarray(table >>> 2, (table >>> 2) + entries * ENTRY_RECORD_WORDS);
  }
}

/** Exclusive use of the scan buffer: read file bytes straight into it, then scan in place. */
export class ScanSession {
  constructor(
    private readonly core: Core,
    private readonly buffer: Region,
    private readonly table: Region,
    private readonly namedKinds: Uint8Array,
  ) {}

  /** Whether this session's scans index entries of `kind` by name and version. */
  isNamedKind(kind: number): boolean {
    return Number.isInteger(kind) && kind >= 0 && kind <= 0xff && (this.namedKinds[kind >>> 3]! & (1 << (kind & 7))) !== 0;
  }

  /** A writable view of the scan buffer with at least `bytes` room (keeps `keep` bytes). */
  bufferView(bytes: number, keep = 0): Uint8Array {
    const pointer = this.buffer.reserve(bytes, keep);
    return this.core.u8.subarray(pointer, pointer + this.buffer.capacity);
  }

  /** Scans the first `length` bytes of the buffer; entry records go to `entryTable()`. */
  scan(length: number, isFinal: boolean, expectedPosition: number, previousChecksum: number, storeId: Uint8Array, tableCapacity = 65536): ScanResult {
    const table = this.table.reserve(tableCapacity * ENTRY_RECORD_WORDS * 4);
    this.tableCapacity = tableCapacity;
    return this.core.runScan(this.buffer.pointer, length, isFinal, expectedPosition, previousChecksum, storeId, table, tableCapacity);
  }

  private tableCapacity = 0;

  /** Entry records of the last scan (view; valid until the next core call). */
  entryTable(entries: number): Uint32Array {
    return this.core.tableView(this.table.pointer, Math.min(entries, this.tableCapacity));
  }

  /** Offset of the first valid frame at or after `start` in the buffer, or -1. */
  findValidFrame(length: number, start: number, storeId: Uint8Array): number {
    return this.core.probeAfter(this.buffer.pointer, length, start, storeId).offset;
  }

  /** The valid frames at or after `start`: the first one's offset (-1 if none), their count, and the highest durable position they record. */
  probeAfter(length: number, start: number, storeId: Uint8Array): Probe {
    return this.core.probeAfter(this.buffer.pointer, length, start, storeId);
  }

  streamName(number: number): string {
    return this.core.internedName(number);
  }

  /** A view of `length` bytes of the scan buffer at `offset` (valid until the next core call). */
  bytes(offset: number, length: number): Uint8Array {
    const start = this.buffer.pointer + offset;
    return this.core.u8.subarray(start, start + length);
  }
}
