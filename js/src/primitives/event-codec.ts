/**
 * The event entry payload (kind 0x30), byte for byte as in docs/FORMAT.md:
 * timestamp u64 · stream version u64 · data length u32 · metadata length u32 ·
 * stream length u16 · type length u16 · id length u8 · flags u8 · reserved u16 ·
 * stream · type · id · metadata (JSON) · data (JSON or binary).
 */
import { utf8Decode } from '../host/text.js';

export const KIND_EVENT = 0x30;
export const EVENT_HEADER_BYTES = 32;
export const FLAG_BINARY_DATA = 1;
export const FLAG_HAS_METADATA = 2;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface RecordedEvent {
  id: string;
  stream: string;
  type: string;
  /** A JSON value, or a Uint8Array when binary data was appended. */
  data: unknown;
  metadata: unknown;
  /** 0-based version of this event within its stream. */
  streamVersion: number;
  /** 0-based global position in the log. */
  position: number;
  /** Milliseconds since the Unix epoch, when the event was appended. */
  timestamp: number;
}

/** The parts of an event, already UTF-8 encoded. */
export interface EncodedParts {
  stream: Uint8Array;
  type: Uint8Array;
  id: Uint8Array;
  metadata: Uint8Array | undefined;
  data: Uint8Array;
  binary: boolean;
}

export function encodedSize(parts: EncodedParts): number {
  return EVENT_HEADER_BYTES + parts.stream.length + parts.type.length + parts.id.length + (parts.metadata?.length ?? 0) + parts.data.length;
}

export function encodeEvent(parts: EncodedParts, streamVersion: number, timestamp: number): Uint8Array {
  const payload = new Uint8Array(encodedSize(parts));
  const view = new DataView(payload.buffer);
  view.setUint32(0, timestamp % 2 ** 32, true);
  view.setUint32(4, Math.floor(timestamp / 2 ** 32), true);
  view.setUint32(8, streamVersion % 2 ** 32, true);
  view.setUint32(12, Math.floor(streamVersion / 2 ** 32), true);
  view.setUint32(16, parts.data.length, true);
  view.setUint32(20, parts.metadata?.length ?? 0, true);
  view.setUint16(24, parts.stream.length, true);
  view.setUint16(26, parts.type.length, true);
  payload[28] = parts.id.length;
  payload[29] = (parts.binary ? FLAG_BINARY_DATA : 0) | (parts.metadata ? FLAG_HAS_METADATA : 0);
  let at = EVENT_HEADER_BYTES;
  for (const part of [parts.stream, parts.type, parts.id, parts.metadata, parts.data]) {
    if (!part) continue;
    payload.set(part, at);
    at += part.length;
  }
  return payload;
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

/** Decodes an event payload at `bytes[start, start+length)`. */
export function decodeEvent(bytes: Uint8Array, start: number, length: number, position: number, decodeData = true, cache: StringCache = sharedCache): RecordedEvent {
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, length);
  const timestamp = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  const streamVersion = view.getUint32(8, true) + view.getUint32(12, true) * 2 ** 32;
  const dataLength = view.getUint32(16, true);
  const metadataLength = view.getUint32(20, true);
  const streamLength = view.getUint16(24, true);
  const typeLength = view.getUint16(26, true);
  const idLength = bytes[start + 28]!;
  const flags = bytes[start + 29]!;
  let at = start + EVENT_HEADER_BYTES;
  const stream = cache.get(bytes, at, streamLength);
  at += streamLength;
  const type = cache.get(bytes, at, typeLength);
  at += typeLength;
  const id = utf8Decode(bytes, at, at + idLength);
  at += idLength;
  let metadata: unknown = undefined;
  if (flags & FLAG_HAS_METADATA) metadata = JSON.parse(utf8Decode(bytes, at, at + metadataLength));
  at += metadataLength;
  let data: unknown;
  if (flags & FLAG_BINARY_DATA) data = bytes.slice(at, at + dataLength);
  else if (decodeData) data = JSON.parse(utf8Decode(bytes, at, at + dataLength));
  else data = bytes.subarray(at, at + dataLength);
  return { id, stream, type, data, metadata, streamVersion, position, timestamp };
}

/** Reads only the id of an event payload (idempotency checks). */
export function decodeEventId(bytes: Uint8Array, start: number): string {
  const streamLength = bytes[start + 24]! | (bytes[start + 25]! << 8);
  const typeLength = bytes[start + 26]! | (bytes[start + 27]! << 8);
  const at = start + EVENT_HEADER_BYTES + streamLength + typeLength;
  return utf8Decode(bytes, at, at + bytes[start + 28]!);
}
