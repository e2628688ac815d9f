/**
 * State-cell entries (docs/FORMAT.md §8.5), in the named-entry layout:
 * - 0x40 cell written: name = the cell, id = the run it belongs to ('' store-wide), type = the
 *   operation (`init`, `set`, `cas`, `transition`), data = the value (JSON text, or raw bytes
 *   with BINARY_DATA), version = the version the write replaced plus one (0 when it created the cell);
 * - 0x41 cell deleted: name, id as above, type `delete`, no data, version = the version deleted plus one.
 * A cell's version, as the API reports it, is the position of its last write.
 */
import { namedEntryLayout } from './named-entry.js';
import type { EntryWriter } from '../engine/commit.js';
import { MalformedEntry } from '../device/malformed.js';
import { utf8Decode } from '../host/text.js';
import { EVENT_HEADER_BYTES, FLAG_BINARY_DATA, maxEncodedSize, writeEvent, type PendingEvent } from './event-codec.js';

export const KIND_STATE_WRITTEN = 0x40;
export const KIND_STATE_DELETED = 0x41;

export type StateOperation = 'init' | 'set' | 'cas' | 'transition' | 'delete';

const encoder = new TextEncoder();
const TYPES: Record<StateOperation, Uint8Array> = {
  init: encoder.encode('init'),
  set: encoder.encode('set'),
  cas: encoder.encode('cas'),
  transition: encoder.encode('transition'),
  delete: encoder.encode('delete'),
};
const NO_DATA = new Uint8Array(0);

/** A cell's value as stored: JSON text, or raw bytes. */
export type StoredValue = { text: string; bytes?: undefined } | { text?: undefined; bytes: Uint8Array };

/** Memory the value takes in a cache (a string: 2 bytes per UTF-16 unit). */
export function storedSize(value: StoredValue): number {
  return value.bytes ? value.bytes.length : value.text.length * 2;
}

function pending(operation: StateOperation, runId: string, value: StoredValue | undefined): PendingEvent {
  if (!value) return { type: TYPES[operation], id: runId, data: NO_DATA, binary: false, metadata: undefined };
  return { type: TYPES[operation], id: runId, data: value.bytes ?? value.text, binary: value.bytes !== undefined, metadata: undefined };
}

/** Upper bound of a write entry's payload size. */
export function stateEntryMaxBytes(name: Uint8Array, runId: string, value: StoredValue | undefined): number {
  return maxEncodedSize(name, pending('set', runId, value)) + 16;
}

/** Exact payload size of a write entry (encodes text to measure it: use only near a limit). */
export function stateEntryExactBytes(name: Uint8Array, runId: string, value: StoredValue): number {
  return EVENT_HEADER_BYTES + name.length + TYPES.transition.length + encoder.encode(runId).length + (value.bytes ? value.bytes.length : encoder.encode(value.text).length);
}

/** Writes a 0x40 (value given) or 0x41 (delete) entry into the frame being built. */
export function writeStateEntry(writer: EntryWriter, name: Uint8Array, runId: string, operation: StateOperation, value: StoredValue | undefined, version: number, timestamp: number): void {
  const entry = pending(operation, runId, value);
  const pointer = writer.reservePayload(maxEncodedSize(name, entry));
  writer.endPayload(value ? KIND_STATE_WRITTEN : KIND_STATE_DELETED, writeEvent(writer.u8, pointer, name, entry, version, timestamp));
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** A 0x40 entry's header fields: name, run id and where its value lies (checked lengths). */
export interface StateEntry {
  name: string;
  runId: string;
  type: string;
  value: StoredValue;
}

/** Decodes a 0x40 payload at `bytes[start, start+length)` (MalformedEntry when its lengths do not add up). */
export function decodeStateEntry(bytes: Uint8Array, start: number, length: number): StateEntry {
  const at = namedEntryLayout(bytes, start, length, 'state entry');
  const name = utf8Decode(bytes, at.name, at.name + at.nameLength);
  const type = utf8Decode(bytes, at.type, at.type + at.typeLength);
  const runId = utf8Decode(bytes, at.id, at.id + at.idLength);
  const value: StoredValue = at.flags & FLAG_BINARY_DATA ? { bytes: bytes.slice(at.data, at.data + at.dataLength) } : { text: utf8Decode(bytes, at.data, at.data + at.dataLength) };
  return { name, runId, type, value };
}

/** The value a read returns: a fresh copy (callers may change it). MalformedEntry when the JSON does not parse. */
export function readValue(value: StoredValue): unknown {
  if (value.bytes) return value.bytes.slice();
  try {
    return JSON.parse(value.text);
  } catch (error) {
    throw new MalformedEntry(`the state cell's value is not JSON (${(error as Error).message})`);
  }
}
