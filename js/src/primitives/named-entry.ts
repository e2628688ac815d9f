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
import { decodeEvent, decodeEventId, maxEncodedSize, writeEvent, type PendingEvent, type RecordedEvent } from './event-codec.js';

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
