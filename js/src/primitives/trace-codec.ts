/**
 * The trace entry payloads (kinds 0x50–0x52, docs/FORMAT.md §8.4): named entries whose name is
 * the span id, id the run id, metadata a small JSON header (what the in-memory index keeps)
 * and data a value list (input, output, error, attributes: what stays in the log).
 */
import { namedEntryLayout } from './named-entry.js';
import type { EntryWriter } from '../engine/commit.js';
import { MalformedEntry } from '../device/malformed.js';
import { utf8Decode } from '../host/text.js';
import { NAMED_ENTRY_HEADER_BYTES } from './named-entry.js';
import { FLAG_BINARY_DATA, FLAG_HAS_METADATA, putU32, putU64 } from './event-codec.js';

/** A span started (its end comes in a 0x51 entry, or never: the span is incomplete). */
export const KIND_SPAN_START = 0x50;
/** A span ended. */
export const KIND_SPAN_END = 0x51;
/** A span recorded whole (start and end in one entry). */
export const KIND_SPAN_RECORD = 0x52;

export const TRACE_KINDS = [KIND_SPAN_START, KIND_SPAN_END, KIND_SPAN_RECORD] as const;

export type SpanStatus = 'ok' | 'error' | 'incomplete';

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
}

/** The header of a start entry (JSON metadata). */
export interface StartHeader {
  kind: string;
  name: string;
  parentId?: string;
  /** Milliseconds since the Unix epoch (fractional: microsecond precision). */
  startedAt: number;
}

/** The header of an end entry. */
export interface EndHeader {
  endedAt: number;
  status: 'ok' | 'error';
  usage?: Usage;
}

export type RecordHeader = StartHeader & EndHeader;

/**
 * A value of the list: JSON text (a string, encoded as it is written; or its UTF-8 bytes when
 * long, so a large value does not reserve 3 bytes per character), raw bytes, or absent.
 */
export type EncodedValue = { json: string | Uint8Array } | { bytes: Uint8Array } | undefined;

/** The value list of a trace entry, in slot order. */
export interface EncodedValues {
  input?: EncodedValue;
  output?: EncodedValue;
  error?: EncodedValue;
  attributes?: EncodedValue;
}

const SLOTS = ['input', 'output', 'error', 'attributes'] as const;
const TAG_ABSENT = 0;
const TAG_JSON = 1;
const TAG_BYTES = 2;
/** JSON text longer than this is encoded once when checked instead of reserving 3 bytes per character. */
export const LONG_TEXT_CHARS = 64 * 1024;
const encoder = new TextEncoder();
const TYPES: Record<number, Uint8Array> = {
  [KIND_SPAN_START]: encoder.encode('start'),
  [KIND_SPAN_END]: encoder.encode('end'),
  [KIND_SPAN_RECORD]: encoder.encode('record'),
};

/** JSON text as a value of the list (long text encoded now). */
export function jsonValue(text: string): EncodedValue {
  return { json: text.length > LONG_TEXT_CHARS ? encoder.encode(text) : text };
}

function valueBytes(value: EncodedValue): Uint8Array | string | undefined {
  return value === undefined ? undefined : 'json' in value ? value.json : value.bytes;
}

/** Most bytes a value list takes (strings counted at 3 bytes per UTF-16 unit). */
function maxValuesSize(values: EncodedValues): number {
  let size = 0;
  for (const slot of SLOTS) {
    const bytes = valueBytes(values[slot]);
    size += 5 + (bytes === undefined ? 0 : typeof bytes === 'string' ? bytes.length * 3 : bytes.length);
  }
  return size;
}

/** The value list's size in bytes: the upper bound when it is within `limit`, otherwise exact (strings encoded to measure them). */
export function valuesSize(values: EncodedValues, limit: number): number {
  const bound = maxValuesSize(values);
  if (bound <= limit) return bound;
  let size = 0;
  for (const slot of SLOTS) {
    const bytes = valueBytes(values[slot]);
    size += 5 + (bytes === undefined ? 0 : typeof bytes === 'string' ? encoder.encode(bytes).length : bytes.length);
  }
  return size;
}


/** Writes text or bytes at `target[at]`; returns the byte count. */
function put(target: Uint8Array, at: number, value: string | Uint8Array): number {
  if (typeof value !== 'string') {
    target.set(value, at);
    return value.length;
  }
  return encoder.encodeInto(value, target.subarray(at)).written;
}

/** Writes the value list at `target[at]`: per slot, a tag u8 (0 absent, 1 JSON, 2 bytes), a length u32 and the bytes. Returns its length. */
function writeValues(target: Uint8Array, at: number, values: EncodedValues): number {
  let cursor = at;
  for (const slot of SLOTS) {
    const value = values[slot];
    if (value === undefined) {
      target.fill(0, cursor, cursor + 5);
      cursor += 5;
      continue;
    }
    target[cursor] = 'json' in value ? TAG_JSON : TAG_BYTES;
    const length = put(target, cursor + 5, 'json' in value ? value.json : value.bytes);
    putU32(target, cursor + 1, length);
    cursor += 5 + length;
  }
  return cursor - at;
}

/** The values decoded: JSON parsed, bytes copied; undefined for an absent slot. */
export interface DecodedValues {
  input: unknown;
  output: unknown;
  error: unknown;
  attributes: Record<string, unknown> | undefined;
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function parseJson(bytes: Uint8Array, from: number, to: number, what: string): unknown {
  try {
    return JSON.parse(utf8Decode(bytes, from, to));
  } catch (error) {
    throw new MalformedEntry(`the span's ${what} is not JSON (${(error as Error).message})`);
  }
}

/** Where the parts of a named entry payload at `bytes[start, start+length)` are (docs/FORMAT.md §8). */
function layout(bytes: Uint8Array, start: number, length: number) {
  const at = namedEntryLayout(bytes, start, length, 'span entry');
  // Written with metadata (flag 2) as JSON and binary data (flag 1).
  if ((at.flags & 7) !== 3) throw new MalformedEntry(`the span entry's flags are ${at.flags}, expected JSON metadata and binary data`);
  return at;
}

/** The span id (name field), run id (id field) and header (metadata JSON) of a trace entry: all recovery reads. */
export function decodeHeader(bytes: Uint8Array, start: number, length: number): { spanId: string; runId: string; header: Record<string, unknown> } {
  const at = layout(bytes, start, length);
  if (at.nameLength === 0) throw new MalformedEntry('the span entry has no span id');
  const header = parseJson(bytes, at.metadata, at.metadata + at.metadataLength, 'header');
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new MalformedEntry('the span header is not a JSON object');
  return { spanId: utf8Decode(bytes, at.name, at.name + at.nameLength), runId: utf8Decode(bytes, at.id, at.id + at.idLength), header: header as Record<string, unknown> };
}

/** The value list of a trace entry. */
export function decodeValues(bytes: Uint8Array, start: number, length: number): DecodedValues {
  const at = layout(bytes, start, length);
  const values: Record<string, unknown> = {};
  let cursor = at.data;
  const end = at.data + at.dataLength;
  for (const slot of SLOTS) {
    if (cursor + 5 > end) throw new MalformedEntry(`the span's value list ends before its ${slot}`);
    const tag = bytes[cursor]!;
    const size = u32(bytes, cursor + 1);
    cursor += 5;
    if (cursor + size > end) throw new MalformedEntry(`the span's ${slot} runs past the entry`);
    if (tag === TAG_JSON) values[slot] = parseJson(bytes, cursor, cursor + size, slot);
    else if (tag === TAG_BYTES) values[slot] = bytes.slice(cursor, cursor + size);
    else if (tag !== TAG_ABSENT || size !== 0) throw new MalformedEntry(`the span's ${slot} has tag ${tag}`);
    cursor += size;
  }
  if (cursor !== end) throw new MalformedEntry('the span entry has bytes after its value list');
  const attributes = values.attributes;
  if (attributes !== undefined && (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes))) throw new MalformedEntry('the span attributes are not a JSON object');
  return { input: values.input, output: values.output, error: values.error, attributes: attributes as Record<string, unknown> | undefined };
}

/**
 * Writes one trace entry into the frame being built, in the named-entry layout (docs/FORMAT.md
 * §8): name = span id, type = 'start' | 'end' | 'record', id = run id (checked: at most 255
 * bytes), metadata = the header as JSON, data = the value list (flags: JSON metadata, binary data).
 */
export function writeTraceEntry(writer: EntryWriter, kind: number, spanId: Uint8Array, runId: Uint8Array, header: StartHeader | EndHeader | RecordHeader, values: EncodedValues, timestamp: number): void {
  const type = TYPES[kind]!;
  const metadata = JSON.stringify(header);
  const time = kind === KIND_SPAN_END ? (header as EndHeader).endedAt : (header as StartHeader).startedAt;
  const at = writer.reservePayload(NAMED_ENTRY_HEADER_BYTES + spanId.length + type.length + runId.length + metadata.length * 3 + maxValuesSize(values));
  const target = writer.u8;
  putU64(target, at, timestamp);
  putU64(target, at + 8, Math.max(0, Math.floor(time)));
  target[at + 24] = spanId.length;
  target[at + 25] = spanId.length >>> 8;
  target[at + 26] = type.length;
  target[at + 27] = type.length >>> 8;
  target[at + 28] = runId.length;
  target[at + 29] = FLAG_BINARY_DATA | FLAG_HAS_METADATA;
  target[at + 30] = 0;
  target[at + 31] = 0;
  let cursor = at + NAMED_ENTRY_HEADER_BYTES;
  target.set(spanId, cursor);
  cursor += spanId.length;
  target.set(type, cursor);
  cursor += type.length;
  target.set(runId, cursor);
  cursor += runId.length;
  const metadataLength = put(target, cursor, metadata);
  putU32(target, at + 20, metadataLength);
  cursor += metadataLength;
  const dataLength = writeValues(target, cursor, values);
  putU32(target, at + 16, dataLength);
  cursor += dataLength;
  writer.endPayload(kind, cursor - at);
}
