/**
 * The named-entry layout (docs/FORMAT.md §8) for any primitive: events use it, and so do
 * checkpoints, cut records, runs, kv, state cells and traces. The core's scan reports the name
 * and version of the kinds a primitive declares named (`PrimitiveSpec.namedKinds`), so recovery
 * rebuilds indexes without reading payloads; the other fields are the primitive's to use:
 * - name: what the entry is about (stream, thread, key, cell, run id, span id), 1 to 65,535 UTF-8 bytes in NFC;
 * - version: u64 (stream version, seq, or whatever the primitive needs recovery to see unread);
 * - type: 1 to 65,535 bytes (the entry's operation, e.g. `put`);
 * - id: 0 to 255 bytes (events: the event id; kv, state, traces: the run the entry belongs to);
 * - metadata and data: JSON text or raw bytes.
 */
import type { EntryWriter } from '../engine/commit.js';
import { MalformedEntry } from '../device/malformed.js';
import { decodeEvent, decodeEventId, EVENT_HEADER_BYTES as NAMED_HEADER, maxEncodedSize, writeEvent, type PendingEvent, type RecordedEvent } from './event-codec.js';

export { EVENT_HEADER_BYTES as NAMED_ENTRY_HEADER_BYTES } from './event-codec.js';

export interface NamedEntryInput {
  /** 1 or more bytes. */
  type: Uint8Array;
  /** 0 to 255 UTF-8 bytes (checked by the caller). */
  id: string;
  /** JSON text (a string) or raw bytes (`binary: true`). */
  data: string | Uint8Array;
  binary: boolean;
  metadata?: string | Uint8Array;
  binaryMetadata?: boolean;
}

/** Upper bound of the payload size (strings counted at 3 bytes per UTF-16 unit). */
export function namedEntryMaxBytes(name: Uint8Array, input: NamedEntryInput): number {
  return maxEncodedSize(name, input as PendingEvent);
}

/** Writes one named entry of `kind` into the frame being built. */
export function writeNamedEntry(writer: EntryWriter, kind: number, name: Uint8Array, input: NamedEntryInput, version: number, timestamp: number): void {
  const pointer = writer.reservePayload(maxEncodedSize(name, input as PendingEvent));
  writer.endPayload(kind, writeEvent(writer.u8, pointer, name, input as PendingEvent, version, timestamp));
}

/** A named entry decoded: `stream` is the name, `streamVersion` the version; `data` is parsed JSON (or bytes when binary, or raw JSON bytes with `decodeData` false). */
export type DecodedNamedEntry = RecordedEvent;

/** Decodes a named entry at `bytes[start, start+length)`; MalformedEntry when its lengths do not add up or its JSON does not parse. */
export function decodeNamedEntry(bytes: Uint8Array, start: number, length: number, position: number, decodeData = true): DecodedNamedEntry {
  return decodeEvent(bytes, start, length, position, decodeData);
}

/** Only the id field (cheap: no JSON parsed). */
export function namedEntryId(bytes: Uint8Array, start: number): string {
  return decodeEventId(bytes, start);
}

/** Where the fields of a named-entry payload lie (offsets into the bytes given) and its header numbers. */
export interface NamedEntryLayout {
  timestamp: number;
  version: number;
  flags: number;
  name: number;
  nameLength: number;
  type: number;
  typeLength: number;
  id: number;
  idLength: number;
  metadata: number;
  metadataLength: number;
  data: number;
  dataLength: number;
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/**
 * The layout of the named entry at `bytes[start, start+length)`, checked: MalformedEntry (a
 * CorruptionError at the entry for the reader) when it is shorter than its header or its
 * lengths do not add up. `what` names the entry in the message ('kv entry', 'run record'…).
 */
export function namedEntryLayout(bytes: Uint8Array, start: number, length: number, what: string): NamedEntryLayout {
  if (length < NAMED_HEADER) throw new MalformedEntry(`the ${what} is ${length} bytes, shorter than its ${NAMED_HEADER}-byte header`);
  const dataLength = u32(bytes, start + 16);
  const metadataLength = u32(bytes, start + 20);
  const nameLength = bytes[start + 24]! | (bytes[start + 25]! << 8);
  const typeLength = bytes[start + 26]! | (bytes[start + 27]! << 8);
  const idLength = bytes[start + 28]!;
  if (NAMED_HEADER + nameLength + typeLength + idLength + metadataLength + dataLength !== length) {
    throw new MalformedEntry(`the ${what}'s lengths (name ${nameLength}, type ${typeLength}, id ${idLength}, metadata ${metadataLength}, data ${dataLength}) do not add up to its ${length} bytes`);
  }
  const name = start + NAMED_HEADER;
  const type = name + nameLength;
  const id = type + typeLength;
  const metadata = id + idLength;
  const data = metadata + metadataLength;
  return {
    timestamp: u32(bytes, start) + u32(bytes, start + 4) * 2 ** 32,
    version: u32(bytes, start + 8) + u32(bytes, start + 12) * 2 ** 32,
    flags: bytes[start + 29]!,
    name,
    nameLength,
    type,
    typeLength,
    id,
    idLength,
    metadata,
    metadataLength,
    data,
    dataLength,
  };
}
