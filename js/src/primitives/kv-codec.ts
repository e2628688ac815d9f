/**
 * The key-value primitive's bytes (docs/FORMAT.md §8.4): its two entry kinds in the
 * named-entry layout, key order (UTF-8 byte order of the NFC keys), list cursors, and the
 * snapshot section (section 4).
 *
 * - 0x10 put: name = key, version = expiresAt (ms since the epoch, 0 = never), type `put`,
 *   id = the run the key belongs to ('' = store-wide), data = the value (JSON text, or bytes
 *   with BINARY_DATA), no metadata.
 * - 0x11 delete: name = key, version 0, type `del`, id = the run, data empty (binary).
 */
import { namedEntryLayout } from './named-entry.js';
import type { EntryWriter } from '../engine/commit.js';
import { Invalid, Reader, Writer } from '../engine/section-codec.js';
import { InvalidArgumentError } from '../errors.js';
import { MalformedEntry } from '../device/malformed.js';
import { utf8Decode } from '../host/text.js';
import { EVENT_HEADER_BYTES, FLAG_BINARY_DATA, putU32, putU64 } from './event-codec.js';

export const KIND_KV_PUT = 0x10;
export const KIND_KV_DELETE = 0x11;
/** Keys: 1 to 1,024 UTF-8 bytes of the NFC form (names.ts). */
export const MAX_KEY_BYTES = 1024;

const encoder = new TextEncoder();
const TYPE_PUT = encoder.encode('put');
const TYPE_DELETE = encoder.encode('del');


function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** Upper bound of an entry's payload (strings counted at 3 bytes per UTF-16 unit). */
export function maxEntryBytes(keyLength: number, key: Uint8Array | undefined, runIdBytes: Uint8Array, data: string | Uint8Array): number {
  return EVENT_HEADER_BYTES + (key ? key.length : keyLength) + 3 + runIdBytes.length + (typeof data === 'string' ? data.length * 3 : data.length);
}

/** Exact payload size (encodes a string value to measure it: only near the limit). */
export function exactEntryBytes(keyLength: number, key: Uint8Array | undefined, runIdBytes: Uint8Array, data: string | Uint8Array): number {
  return EVENT_HEADER_BYTES + (key ? key.length : keyLength) + 3 + runIdBytes.length + (typeof data === 'string' ? encoder.encode(data).length : data.length);
}

/**
 * Writes a put (data given) or a delete (data undefined) into the frame being built. `key` is
 * the NFC key's UTF-8 bytes, or undefined for an ASCII key written from `keyText`.
 */
export function writeKvEntry(writer: EntryWriter, keyText: string, key: Uint8Array | undefined, runIdBytes: Uint8Array, data: string | Uint8Array | undefined, expiresAt: number, timestamp: number): void {
  const remove = data === undefined;
  const keyLength = key ? key.length : keyText.length;
  const pointer = writer.reservePayload(remove ? EVENT_HEADER_BYTES + keyLength + 3 + runIdBytes.length : maxEntryBytes(keyLength, key, runIdBytes, data));
  const target = writer.u8;
  putU64(target, pointer, timestamp);
  putU64(target, pointer + 8, expiresAt);
  putU32(target, pointer + 20, 0);
  target[pointer + 24] = keyLength;
  target[pointer + 25] = keyLength >>> 8;
  target[pointer + 26] = 3;
  target[pointer + 27] = 0;
  target[pointer + 28] = runIdBytes.length;
  target[pointer + 29] = remove || typeof data !== 'string' ? FLAG_BINARY_DATA : 0;
  target[pointer + 30] = 0;
  target[pointer + 31] = 0;
  let cursor = pointer + EVENT_HEADER_BYTES;
  if (key) target.set(key, cursor);
  else for (let index = 0; index < keyLength; index++) target[cursor + index] = keyText.charCodeAt(index);
  cursor += keyLength;
  target.set(remove ? TYPE_DELETE : TYPE_PUT, cursor);
  cursor += 3;
  target.set(runIdBytes, cursor);
  cursor += runIdBytes.length;
  let dataLength = 0;
  if (typeof data === 'string') dataLength = encoder.encodeInto(data, target.subarray(cursor)).written;
  else if (data !== undefined) {
    target.set(data, cursor);
    dataLength = data.length;
  }
  putU32(target, pointer + 16, dataLength);
  writer.endPayload(remove ? KIND_KV_DELETE : KIND_KV_PUT, cursor + dataLength - pointer);
}

/** The run id of a kv entry (its id field; '' when store-wide). */
export function kvEntryRunId(payload: Uint8Array): string {
  const idLength = payload[28]!;
  if (idLength === 0) return '';
  const at = EVENT_HEADER_BYTES + (payload[24]! | (payload[25]! << 8)) + (payload[26]! | (payload[27]! << 8));
  return utf8Decode(payload, at, at + idLength);
}

/** The value of a put entry at `bytes[start, start+length)`: JSON text, or a copy of the bytes. MalformedEntry when its lengths do not add up. */
export function decodeKvValue(bytes: Uint8Array, start: number, length: number): string | Uint8Array {
  const at = namedEntryLayout(bytes, start, length, 'kv entry');
  if (at.flags & FLAG_BINARY_DATA) return bytes.slice(at.data, at.data + at.dataLength);
  return utf8Decode(bytes, at.data, at.data + at.dataLength);
}

/**
 * Key order: UTF-8 byte order of the NFC keys, which is Unicode code point order. JavaScript's
 * `<` compares UTF-16 code units, which agrees except where a surrogate (a code point above
 * U+FFFF) meets a unit of U+E000–U+FFFF: those are swapped back here.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const length = a.length < b.length ? a.length : b.length;
  let index = 0;
  while (index < length && a.charCodeAt(index) === b.charCodeAt(index)) index++;
  if (index === length) return a.length - b.length;
  let x = a.charCodeAt(index);
  let y = b.charCodeAt(index);
  if (x >= 0xd800 && y >= 0xd800) {
    x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
  }
  return x - y;
}

/** Whether `<` on these keys may disagree with code point order (a unit at or above U+D800). */
export const HIGH_UNITS = /[\ud800-\uffff]/;

/** Index of the first of `keys` (sorted) that is ≥ `key` (`after`: > `key`). */
export function searchKeys(keys: readonly string[], key: string, after: boolean): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const order = compareKeys(keys[middle]!, key);
    if (order < 0 || (after && order === 0)) low = middle + 1;
    else high = middle;
  }
  return low;
}

// ---- list cursors: the direction and the last key returned, base64url of its UTF-8 bytes

const fatal = new TextDecoder('utf-8', { fatal: true });

export function encodeCursor(key: string, reverse: boolean): string {
  const bytes = encoder.encode(key);
  let binary = '';
  for (let index = 0; index < bytes.length; index++) binary += String.fromCharCode(bytes[index]!);
  return (reverse ? 'r' : 'f') + btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The key a cursor continues after; InvalidArgumentError for anything `list` did not return, or a cursor of the other direction. */
export function decodeCursor(cursor: unknown, reverse: boolean): string {
  const bad = (why: string) => new InvalidArgumentError(`kv.list: cursor must be a cursor a list call returned (${why})`);
  if (typeof cursor !== 'string') throw bad(`got ${cursor === null ? 'null' : typeof cursor}`);
  const direction = cursor[0];
  if (direction !== 'f' && direction !== 'r') throw bad('it does not start with a direction');
  if ((direction === 'r') !== reverse) throw bad(`it continues a ${direction === 'r' ? 'reverse' : 'forward'} list; pass reverse: ${direction === 'r'}`);
  const body = cursor.slice(1);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw bad('it is not base64url');
  let binary: string;
  try {
    binary = atob(body.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    throw bad('it is not base64url');
  }
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  if (bytes.length < 1 || bytes.length > MAX_KEY_BYTES) throw bad('its key has the wrong length');
  try {
    return fatal.decode(bytes);
  } catch {
    throw bad('its key is not UTF-8');
  }
}

// ---- the snapshot section (section 4)

/** One key of a scope as a snapshot keeps it. */
export interface SectionRecord {
  key: string;
  position: number;
  expiresAt: number;
}

export interface SectionScope {
  runId: string;
  /** In key order. */
  records: SectionRecord[];
}

const SECTION_VERSION = 1;

/**
 * Layout (little-endian): u32 version 1 · u32 scope count · per scope: u32 run id length ·
 * run id (UTF-8) · pad to 4 · u32 key count · per key: u32 key length · key (UTF-8, NFC) ·
 * pad to 8 · f64 position · f64 expiresAt — then u32 count and, aligned to 8, f64 positions
 * of entries of kinds 0x12–0x1F this version does not know (kept intact).
 */
export function encodeSection(scopes: readonly SectionScope[], kept: readonly number[]): Uint8Array {
  const writer = new Writer();
  writer.u32(SECTION_VERSION);
  writer.u32(scopes.length);
  for (const scope of scopes) {
    const runId = encoder.encode(scope.runId);
    writer.u32(runId.length);
    writer.raw(runId);
    writer.align(4);
    writer.u32(scope.records.length);
    for (const record of scope.records) {
      const key = encoder.encode(record.key);
      writer.u32(key.length);
      writer.raw(key);
      writer.align(8);
      writer.f64(record.position);
      writer.f64(record.expiresAt);
    }
  }
  writer.u32(kept.length);
  writer.align(8);
  for (const position of kept) writer.f64(position);
  return writer.done();
}

/** Receives one scope's keys as a section is decoded (in key order); `high`: the key has a UTF-16 unit ≥ U+D800. */
export type SectionSink = (key: string, position: number, expiresAt: number, high: boolean) => void;

/**
 * Decodes a section: `scope(runId, count)` returns where that scope's keys go; returns the
 * kept positions. Invalid (the snapshot is ignored) for anything that does not decode.
 */
export function decodeSection(bytes: Uint8Array, scope: (runId: string, count: number) => SectionSink): number[] {
  const reader = new Reader(bytes);
  const version = reader.u32();
  if (version !== SECTION_VERSION) throw new Invalid(`kv section version ${version} is not known (expected ${SECTION_VERSION})`);
  const runIds = new Set<string>();
  for (let count = reader.u32(), index = 0; index < count; index++) {
    const runId = sectionText(reader.raw(reader.u32()), 'run id');
    if (runIds.has(runId)) throw new Invalid(`kv scope '${runId}' appears twice`);
    runIds.add(runId);
    reader.align(4);
    const keys = reader.u32();
    const sink = scope(runId, keys);
    let previous: string | undefined;
    for (let at = 0; at < keys; at++) {
      const length = reader.u32();
      if (length < 1 || length > MAX_KEY_BYTES) throw new Invalid(`a kv key of ${length} bytes`);
      const start = reader.at;
      if (start + length > bytes.length) throw new Invalid(`the kv section ends inside a key (${length} bytes at ${start} of ${bytes.length})`);
      reader.at += length;
      // ASCII keys (the usual ones) decode without a validating decoder.
      let top = 0;
      for (let byte = start; byte < start + length; byte++) if (bytes[byte]! > top) top = bytes[byte]!;
      const key = top < 0x80 ? utf8Decode(bytes, start, start + length) : sectionText(bytes.subarray(start, start + length), 'key');
      if (previous !== undefined && compareKeys(previous, key) >= 0) throw new Invalid(`kv keys out of order in scope '${runId}'`);
      previous = key;
      reader.align(8);
      // A UTF-8 lead byte of 0xED or above encodes U+D000 or above (0xF0–0xF4: a surrogate pair in UTF-16).
      sink(key, reader.f64(), reader.f64(), top >= 0xed);
    }
  }
  const kept: number[] = [];
  const keptCount = reader.u32();
  reader.align(8);
  for (let index = 0; index < keptCount; index++) kept.push(reader.f64());
  reader.end();
  return kept;
}

function sectionText(raw: Uint8Array, what: string): string {
  try {
    return fatal.decode(raw);
  } catch {
    throw new Invalid(`a kv ${what} is not UTF-8`);
  }
}
