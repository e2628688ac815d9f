/**
 * The checkpoint entry payloads (kinds 0x80 and 0x81), byte for byte as in docs/FORMAT.md.
 * They reuse the named-entry layout of events (so the core's scan indexes them by thread and
 * sequence number without the host reading them at open):
 * timestamp u64 · seq u64 · stored length u32 · metadata length u32 · thread length u16 ·
 * descriptor length u16 (24) · id length u8 · flags u8 · reserved u16 ·
 * thread · descriptor · id · metadata (JSON) · stored bytes (zstd, full or delta).
 * The descriptor: encoding u8 (0 full, 1 delta, 2 thread deleted) · value kind u8 (0 JSON,
 * 1 binary) · chain length u16 (deltas since the full checkpoint) · raw length u32 ·
 * raw CRC32C u32 · reserved u32 · base position u64 (delta: the checkpoint it applies to).
 */
import { utf8Decode } from '../host/text.js';
import { EVENT_HEADER_BYTES, FLAG_BINARY_DATA, FLAG_HAS_METADATA, type PendingEvent } from './event-codec.js';

export const KIND_CHECKPOINT = 0x80;
export const KIND_CHECKPOINT_THREAD_DELETED = 0x81;
export const DESCRIPTOR_BYTES = 24;

export const ENCODING_FULL = 0;
export const ENCODING_DELTA = 1;
export const ENCODING_DELETED = 2;
export const VALUE_JSON = 0;
export const VALUE_BINARY = 1;

export interface Descriptor {
  encoding: number;
  valueKind: number;
  chainLength: number;
  rawBytes: number;
  rawChecksum: number;
  basePosition: number;
}

export interface CheckpointInfo {
  /** Sorts by time (and by save order within a thread). */
  id: string;
  threadId: string;
  /** Counts from 0 per thread. */
  seq: number;
  /** Global position of the checkpoint's entry in the log. */
  position: number;
  encoding: 'full' | 'delta';
  /** Size of the serialised state. */
  rawBytes: number;
  /** Size stored in the log (compressed). */
  storedBytes: number;
  /** Milliseconds since the Unix epoch, when it was saved. */
  timestamp: number;
  metadata: unknown;
}

/** A checkpoint entry read back from the log. */
export interface CheckpointEntry {
  info: CheckpointInfo;
  descriptor: Descriptor;
  /** The stored (compressed) bytes: a view into the read buffer. */
  stored: Uint8Array;
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function putU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value;
  target[at + 1] = value >>> 8;
  target[at + 2] = value >>> 16;
  target[at + 3] = value >>> 24;
}

export function encodeDescriptor(descriptor: Descriptor): Uint8Array {
  const bytes = new Uint8Array(DESCRIPTOR_BYTES);
  bytes[0] = descriptor.encoding;
  bytes[1] = descriptor.valueKind;
  bytes[2] = descriptor.chainLength;
  bytes[3] = descriptor.chainLength >>> 8;
  putU32(bytes, 4, descriptor.rawBytes);
  putU32(bytes, 8, descriptor.rawChecksum);
  putU32(bytes, 16, descriptor.basePosition >>> 0);
  putU32(bytes, 20, Math.floor(descriptor.basePosition / 2 ** 32));
  return bytes;
}

/** The entry to write, in the event writer's terms (descriptor as the type, stored bytes as binary data). */
export function pendingEntry(descriptor: Descriptor, id: string, metadata: string | Uint8Array | undefined, stored: Uint8Array): PendingEvent {
  return { type: encodeDescriptor(descriptor), id, data: stored, binary: true, metadata, binaryMetadata: false };
}

/** Decodes a checkpoint entry payload at `bytes[start, start+length)`; undefined when its layout does not add up. */
export function decodeCheckpointEntry(bytes: Uint8Array, start: number, length: number, position: number): CheckpointEntry | undefined {
  if (length < EVENT_HEADER_BYTES) return undefined;
  const timestamp = u32(bytes, start) + u32(bytes, start + 4) * 2 ** 32;
  const seq = u32(bytes, start + 8) + u32(bytes, start + 12) * 2 ** 32;
  const storedLength = u32(bytes, start + 16);
  const metadataLength = u32(bytes, start + 20);
  const threadLength = bytes[start + 24]! | (bytes[start + 25]! << 8);
  const descriptorLength = bytes[start + 26]! | (bytes[start + 27]! << 8);
  const idLength = bytes[start + 28]!;
  const flags = bytes[start + 29]!;
  if (descriptorLength !== DESCRIPTOR_BYTES || !(flags & FLAG_BINARY_DATA)) return undefined;
  if (EVENT_HEADER_BYTES + threadLength + descriptorLength + idLength + metadataLength + storedLength !== length) return undefined;
  let at = start + EVENT_HEADER_BYTES;
  const threadId = utf8Decode(bytes, at, at + threadLength);
  at += threadLength;
  const d = at;
  const descriptor: Descriptor = {
    encoding: bytes[d]!,
    valueKind: bytes[d + 1]!,
    chainLength: bytes[d + 2]! | (bytes[d + 3]! << 8),
    rawBytes: u32(bytes, d + 4),
    rawChecksum: u32(bytes, d + 8),
    basePosition: u32(bytes, d + 16) + u32(bytes, d + 20) * 2 ** 32,
  };
  if (descriptor.encoding > ENCODING_DELETED || descriptor.valueKind > VALUE_BINARY) return undefined;
  at += descriptorLength;
  const id = utf8Decode(bytes, at, at + idLength);
  at += idLength;
  let metadata: unknown = undefined;
  if (flags & FLAG_HAS_METADATA) {
    try {
      metadata = JSON.parse(utf8Decode(bytes, at, at + metadataLength));
    } catch {
      return undefined;
    }
  }
  at += metadataLength;
  return {
    info: {
      id,
      threadId,
      seq,
      position,
      encoding: descriptor.encoding === ENCODING_DELTA ? 'delta' : 'full',
      rawBytes: descriptor.rawBytes,
      storedBytes: storedLength,
      timestamp,
      metadata,
    },
    descriptor,
    stored: bytes.subarray(at, at + storedLength),
  };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Time-sortable ids: 10 characters of milliseconds and 4 of a counter (both Crockford base32,
 * so they sort as strings), then 8 random ones. Monotonic within a process even when the
 * clock steps back.
 */
export class CheckpointIds {
  private lastTime = 0;
  private counter = 0;

  next(now: number): string {
    if (now > this.lastTime) {
      this.lastTime = now;
      this.counter = 0;
    } else if (++this.counter >= 32 ** 4) {
      this.lastTime++;
      this.counter = 0;
    }
    let text = '';
    let time = this.lastTime;
    for (let index = 0; index < 10; index++) {
      text = CROCKFORD[time % 32]! + text;
      time = Math.floor(time / 32);
    }
    let counter = this.counter;
    let tail = '';
    for (let index = 0; index < 4; index++) {
      tail = CROCKFORD[counter % 32]! + tail;
      counter = Math.floor(counter / 32);
    }
    const random = new Uint8Array(8);
    crypto.getRandomValues(random);
    let suffix = '';
    for (const byte of random) suffix += CROCKFORD[byte & 31];
    return text + tail + suffix;
  }
}
