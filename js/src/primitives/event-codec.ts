/**
 * The event entry payload (kind 0x30), byte for byte as in docs/FORMAT.md:
 * timestamp u64 · stream version u64 · data length u32 · metadata length u32 ·
 * stream length u16 · type length u16 · id length u8 · flags u8 · reserved u16 ·
 * stream · type · id · metadata (JSON or binary) · data (JSON or binary).
 */
import { MalformedEntry } from '../device/malformed.js';
import { utf8Decode } from '../host/text.js';

export const KIND_EVENT = 0x30;
export const EVENT_HEADER_BYTES = 32;
export const FLAG_BINARY_DATA = 1;
export const FLAG_HAS_METADATA = 2;
/** With HAS_METADATA: the metadata is raw bytes, not JSON text (an addition: older stores never set it). */
export const FLAG_BINARY_METADATA = 4;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** An event as stored. `T` and `M` type `data` and `metadata` (a promise of the caller's, not checked at run time). */
export interface RecordedEvent<T = unknown, M = unknown> {
  id: string;
  stream: string;
  type: string;
  /** A JSON value, or a Uint8Array when binary data was appended. */
  data: T;
  /** A JSON value, a Uint8Array when binary metadata was appended, or undefined when none was. */
  metadata: M;
  /** 0-based version of this event within its stream. */
  streamVersion: number;
  /** 0-based global position in the log. */
  position: number;
  /** Milliseconds since the Unix epoch, when the event was appended. */
  timestamp: number;
}

/** An event ready to be written: names as bytes, text fields still as strings. */
export interface PendingEvent {
  type: Uint8Array;
  /** The id as given or generated; `idBytes` when it had to be measured (user ids). */
  id: string;
  /** JSON text, or bytes (binary data, or JSON text pre-encoded because it is long). */
  data: string | Uint8Array;
  binary: boolean;
  metadata: string | Uint8Array | undefined;
  /** The metadata is raw bytes (otherwise JSON text, possibly pre-encoded). */
  binaryMetadata?: boolean;
}

const encoder = new TextEncoder();

/** Upper bound of the encoded size (UTF-16 code units take at most 3 UTF-8 bytes). */
export function maxEncodedSize(stream: Uint8Array, event: PendingEvent): number {
  const text = (value: string | Uint8Array | undefined) => (value === undefined ? 0 : typeof value === 'string' ? value.length * 3 : value.length);
  return EVENT_HEADER_BYTES + stream.length + event.type.length + event.id.length * 3 + text(event.metadata) + text(event.data);
}

/** Exact encoded size (encodes strings to measure them: use only near a limit). */
export function exactEncodedSize(stream: Uint8Array, event: PendingEvent): number {
  const text = (value: string | Uint8Array | undefined) => (value === undefined ? 0 : typeof value === 'string' ? encoder.encode(value).length : value.length);
  return EVENT_HEADER_BYTES + stream.length + event.type.length + text(event.id) + text(event.metadata) + text(event.data);
}

function put(target: Uint8Array, at: number, value: string | Uint8Array): number {
  if (typeof value !== 'string') {
    target.set(value, at);
    return value.length;
  }
  return encoder.encodeInto(value, target.subarray(at)).written;
}

/** Little-endian u32 / u64 (a safe integer) at `target[at]`. */
export function putU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value;
  target[at + 1] = value >>> 8;
  target[at + 2] = value >>> 16;
  target[at + 3] = value >>> 24;
}

export function putU64(target: Uint8Array, at: number, value: number): void {
  putU32(target, at, value >>> 0);
  putU32(target, at + 4, Math.floor(value / 2 ** 32));
}

/**
 * Writes an event payload at `target[at]`, which must have room for `maxEncodedSize`.
 * Returns the payload length.
 */
export function writeEvent(target: Uint8Array, at: number, stream: Uint8Array, event: PendingEvent, streamVersion: number, timestamp: number): number {
  putU64(target, at, timestamp);
  putU64(target, at + 8, streamVersion);
  target[at + 24] = stream.length;
  target[at + 25] = stream.length >>> 8;
  target[at + 26] = event.type.length;
  target[at + 27] = event.type.length >>> 8;
  target[at + 29] = (event.binary ? FLAG_BINARY_DATA : 0) | (event.metadata !== undefined ? FLAG_HAS_METADATA | (event.binaryMetadata ? FLAG_BINARY_METADATA : 0) : 0);
  target[at + 30] = 0;
  target[at + 31] = 0;
  let cursor = at + EVENT_HEADER_BYTES;
  target.set(stream, cursor);
  cursor += stream.length;
  target.set(event.type, cursor);
  cursor += event.type.length;
  const idLength = put(target, cursor, event.id);
  target[at + 28] = idLength;
  cursor += idLength;
  const metadataLength = event.metadata === undefined ? 0 : put(target, cursor, event.metadata);
  putU32(target, at + 20, metadataLength);
  cursor += metadataLength;
  const dataLength = put(target, cursor, event.data);
  putU32(target, at + 16, dataLength);
  cursor += dataLength;
  return cursor - at;
}

/** Encodes one event payload into a new array (tests and tools; the engine writes into wasm memory). */
export function encodeEvent(stream: Uint8Array, event: PendingEvent, streamVersion: number, timestamp: number): Uint8Array {
  const target = new Uint8Array(maxEncodedSize(stream, event));
  return target.slice(0, writeEvent(target, 0, stream, event, streamVersion, timestamp));
}

/** Caches decoded strings that repeat (stream names, types) by their bytes. */
export class StringCache {
  private readonly entries = new Map<number, { bytes: Uint8Array; text: string }>();

  get(bytes: Uint8Array, start: number, length: number): string {
    // FNV-1a over the bytes; verified byte for byte, so a collision only costs a decode.
    let hash = 0x811c9dc5 ^ length;
    for (let index = start; index < start + length; index++) hash = Math.imul(hash ^ bytes[index]!, 0x01000193);
    const cached = this.entries.get(hash);
    if (cached && cached.bytes.length === length) {
      let same = true;
      for (let index = 0; index < length; index++) {
        if (cached.bytes[index] !== bytes[start + index]) {
          same = false;
          break;
        }
      }
      if (same) return cached.text;
    }
    const text = utf8Decode(bytes, start, start + length);
    if (this.entries.size < 4096) this.entries.set(hash, { bytes: bytes.slice(start, start + length), text });
    return text;
  }
}

const sharedCache = new StringCache();

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Decodes an event payload at `bytes[start, start+length)`. */
export function decodeEvent(bytes: Uint8Array, start: number, length: number, position: number, decodeData = true, cache: StringCache = sharedCache): RecordedEvent {
  const timestamp = u32(bytes, start) + u32(bytes, start + 4) * 2 ** 32;
  const streamVersion = u32(bytes, start + 8) + u32(bytes, start + 12) * 2 ** 32;
  const dataLength = u32(bytes, start + 16);
  const metadataLength = u32(bytes, start + 20);
  const streamLength = bytes[start + 24]! | (bytes[start + 25]! << 8);
  const typeLength = bytes[start + 26]! | (bytes[start + 27]! << 8);
  const idLength = bytes[start + 28]!;
  const flags = bytes[start + 29]!;
  // Reads verify the bytes against their entry check, so this holds for whatever a writer
  // wrote; a payload that breaks it is corruption, not a RangeError or a wrong event.
  if (length < EVENT_HEADER_BYTES || EVENT_HEADER_BYTES + streamLength + typeLength + idLength + metadataLength + dataLength !== length) {
    throw new MalformedEntry(`the event's lengths (stream ${streamLength}, type ${typeLength}, id ${idLength}, metadata ${metadataLength}, data ${dataLength}) do not add up to its ${length} bytes`);
  }
  let at = start + EVENT_HEADER_BYTES;
  const stream = cache.get(bytes, at, streamLength);
  at += streamLength;
  const type = cache.get(bytes, at, typeLength);
  at += typeLength;
  const id = utf8Decode(bytes, at, at + idLength);
  at += idLength;
  let metadata: unknown = undefined;
  if (flags & FLAG_HAS_METADATA) metadata = flags & FLAG_BINARY_METADATA ? bytes.slice(at, at + metadataLength) : parseJson(bytes, at, at + metadataLength, 'metadata');
  at += metadataLength;
  let data: unknown;
  if (flags & FLAG_BINARY_DATA) data = bytes.slice(at, at + dataLength);
  else if (decodeData) data = parseJson(bytes, at, at + dataLength, 'data');
  else data = bytes.subarray(at, at + dataLength);
  return { id, stream, type, data, metadata, streamVersion, position, timestamp };
}

function parseJson(bytes: Uint8Array, from: number, to: number, what: string): unknown {
  try {
    return JSON.parse(utf8Decode(bytes, from, to));
  } catch (error) {
    throw new MalformedEntry(`the event's ${what} is not JSON (${(error as Error).message})`);
  }
}

/** Reads only the id of an event payload (idempotency checks). */
export function decodeEventId(bytes: Uint8Array, start: number): string {
  const streamLength = bytes[start + 24]! | (bytes[start + 25]! << 8);
  const typeLength = bytes[start + 26]! | (bytes[start + 27]! << 8);
  const at = start + EVENT_HEADER_BYTES + streamLength + typeLength;
  return utf8Decode(bytes, at, at + bytes[start + 28]!);
}
