/**
 * The runs primitive's records (docs/FORMAT.md §8.4), in the named-entry layout: name = the
 * run id, id = the run id, type = what happened, version = the record's number within the run.
 * - 0x60 run begun: metadata = JSON {name, parentRunId, tags} (what the run index needs; read
 *   by recovery), data = JSON {input?, metadata?, binary?}; timestamp = startedAt.
 * - 0x61 run status: type = the new status; data = JSON {output?, error?, binary?} when it
 *   ends the run, {} otherwise; timestamp = when (endedAt for an ending status).
 * - 0x62 run deleted: data = null; the run and every entry attributed to it are dead.
 * A value given as a Uint8Array is stored as base64 text and its field listed in `binary`.
 */
import { namedEntryLayout } from './named-entry.js';
import { EventTooLargeError, InvalidArgumentError } from '../errors.js';
import type { EntryWriter } from '../engine/commit.js';
import { jsonText } from '../validate.js';
import { decodeNamedEntry, namedEntryMaxBytes, writeNamedEntry, type NamedEntryInput } from './named-entry.js';
import { EVENT_HEADER_BYTES } from './event-codec.js';
import { MalformedEntry } from '../device/malformed.js';
import { utf8Decode } from '../host/text.js';

export const KIND_RUN_BEGUN = 0x60;
export const KIND_RUN_STATUS = 0x61;
export const KIND_RUN_DELETED = 0x62;

export type RunStatus = 'running' | 'paused' | 'succeeded' | 'failed' | 'cancelled';
export type EndStatus = 'succeeded' | 'failed' | 'cancelled';
export const RUN_STATUSES: readonly RunStatus[] = ['running', 'paused', 'succeeded', 'failed', 'cancelled'];
export const END_STATUSES: readonly EndStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isEnded(status: RunStatus): status is EndStatus {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

const encoder = new TextEncoder();
const TYPE_BEGIN = encoder.encode('begin');
const TYPE_DELETED = encoder.encode('deleted');
const TYPE_STATUS: Record<RunStatus, Uint8Array> = Object.fromEntries(RUN_STATUSES.map((status) => [status, encoder.encode(status)])) as Record<RunStatus, Uint8Array>;

export const BINARY_HINT = 'binary values must be a Uint8Array: pass new Uint8Array(buffer)';

/** What the run index keeps of a begin record. */
export interface RunHeader {
  name: string;
  parentRunId: string | null;
  tags: string[];
}

function base64(bytes: Uint8Array): string {
  let text = '';
  for (let index = 0; index < bytes.length; index += 0x8000) text += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

/**
 * User values (input, output, error, metadata) as the JSON text of one object: each given value
 * under its field, bytes as base64 with the field named in `binary`. InvalidArgumentError
 * naming the path of anything JSON would not store as given.
 */
export function encodeValues(where: string, values: Record<string, unknown>): string {
  const parts: string[] = [];
  const binary: string[] = [];
  for (const [field, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (value instanceof Uint8Array) {
      parts.push(`${JSON.stringify(field)}:${JSON.stringify(base64(value))}`);
      binary.push(field);
    } else {
      parts.push(`${JSON.stringify(field)}:${jsonText(value, `${where}: ${field}`, BINARY_HINT).text}`);
    }
  }
  if (binary.length > 0) parts.push(`"binary":${JSON.stringify(binary)}`);
  return `{${parts.join(',')}}`;
}

/** The values of `encodeValues`' object, bytes back as Uint8Array; a field not given is null. */
export function decodeValues(data: unknown, fields: readonly string[]): Record<string, unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new MalformedEntry('the run record\'s data is not a JSON object');
  const object = data as Record<string, unknown>;
  const binary = Array.isArray(object.binary) ? (object.binary as unknown[]) : [];
  const values: Record<string, unknown> = {};
  for (const field of fields) {
    const value = object[field];
    if (value === undefined) values[field] = null;
    else if (binary.includes(field)) {
      if (typeof value !== 'string') throw new MalformedEntry(`the run record's ${field} is marked binary but is not base64 text`);
      values[field] = fromBase64(value);
    } else values[field] = value;
  }
  return values;
}

/** A record ready to be written. */
export interface PendingRecord {
  kind: number;
  name: Uint8Array;
  input: NamedEntryInput;
  version: number;
}

function pending(kind: number, runId: Uint8Array, runIdText: string, type: Uint8Array, data: string, metadata: string | undefined, version: number, maxBytes: number): PendingRecord {
  const input: NamedEntryInput = { type, id: runIdText, data, binary: false, metadata, binaryMetadata: false };
  const record = { kind, name: runId, input, version };
  if (namedEntryMaxBytes(runId, input) > maxBytes) {
    const size = recordBytes(record);
    if (size > maxBytes) throw new EventTooLargeError(`the run record of '${runIdText}' is ${size} bytes encoded, over the limit of ${maxBytes} (maxEventBytes); store large inputs and outputs elsewhere and record a reference`, size, maxBytes);
  }
  return record;
}

export function beginRecord(runId: Uint8Array, runIdText: string, header: RunHeader, values: string, maxBytes: number): PendingRecord {
  return pending(KIND_RUN_BEGUN, runId, runIdText, TYPE_BEGIN, values, JSON.stringify(header), 0, maxBytes);
}

export function statusRecord(runId: Uint8Array, runIdText: string, status: RunStatus, values: string, version: number, maxBytes: number): PendingRecord {
  return pending(KIND_RUN_STATUS, runId, runIdText, TYPE_STATUS[status], values, undefined, version, maxBytes);
}

export function deletedRecord(runId: Uint8Array, runIdText: string): PendingRecord {
  return pending(KIND_RUN_DELETED, runId, runIdText, TYPE_DELETED, 'null', undefined, 0, Infinity);
}

/** Exact payload bytes of a record (a dry run reports the log size after). */
export function recordBytes(record: PendingRecord): number {
  const text = (value: string | Uint8Array | undefined) => (value === undefined ? 0 : typeof value === 'string' ? encoder.encode(value).length : value.length);
  return EVENT_HEADER_BYTES + record.name.length + record.input.type.length + text(record.input.id) + text(record.input.metadata) + text(record.input.data);
}

export function writeRecord(writer: EntryWriter, record: PendingRecord, timestamp: number): void {
  writeNamedEntry(writer, record.kind, record.name, record.input, record.version, timestamp);
}

/** A begin or status record as recovery reads it (data left undecoded). */
export interface DecodedRecord {
  /** The run id (the entry's name). */
  name: string;
  type: string;
  version: number;
  timestamp: number;
  header: RunHeader | undefined;
}

function checkHeader(value: unknown): RunHeader {
  const header = value as RunHeader;
  if (
    header === null ||
    typeof header !== 'object' ||
    typeof header.name !== 'string' ||
    (header.parentRunId !== null && typeof header.parentRunId !== 'string') ||
    !Array.isArray(header.tags) ||
    header.tags.some((tag) => typeof tag !== 'string')
  ) {
    throw new MalformedEntry('the run begin record\'s metadata is not {name, parentRunId, tags}');
  }
  return { name: header.name, parentRunId: header.parentRunId, tags: header.tags };
}

/**
 * What recovery needs of a record, read straight from the named-entry header (§8): no data
 * decoded, the name decoded only when the scan did not give it (`name`), the type only for a
 * status record, the metadata only for a begin record. MalformedEntry when the lengths do not
 * add up or the metadata is not JSON.
 */
export function decodeRecord(kind: number, bytes: Uint8Array, start: number, length: number, position: number, name?: string): DecodedRecord {
  const layout = namedEntryLayout(bytes, start, length, `run record at position ${position}`);
  const { timestamp, version, metadataLength } = layout;
  const runId = name ?? utf8Decode(bytes, layout.name, layout.name + layout.nameLength);
  const type = kind === KIND_RUN_STATUS ? statusOf(bytes, layout.type, layout.typeLength) : '';
  const at = layout.metadata;
  let header: RunHeader | undefined;
  if (kind === KIND_RUN_BEGUN) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8Decode(bytes, at, at + metadataLength));
    } catch (error) {
      throw new MalformedEntry(`the run begin record's metadata is not JSON (${(error as Error).message})`);
    }
    header = checkHeader(parsed);
  }
  return { name: runId, type, version, timestamp, header };
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** The status a status record's type names (its ASCII text; unknown text comes back as it is, for the caller to reject). */
function statusOf(bytes: Uint8Array, at: number, length: number): string {
  for (const status of RUN_STATUSES) {
    const expected = TYPE_STATUS[status];
    if (expected.length !== length) continue;
    let same = true;
    for (let index = 0; index < length && same; index++) same = bytes[at + index] === expected[index];
    if (same) return status;
  }
  return utf8Decode(bytes, at, at + length);
}

/** The user values of a begin or status record. */
export function decodeRecordValues(bytes: Uint8Array, start: number, length: number, position: number, fields: readonly string[]): Record<string, unknown> {
  return decodeValues(decodeNamedEntry(bytes, start, length, position, true).data, fields);
}

/** An error value as stored: an Error becomes { name, message } (JSON would drop both). */
export function errorValue(error: unknown): unknown {
  if (error instanceof Error) {
    const value: Record<string, unknown> = { name: error.name, message: error.message };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') value.code = code;
    return value;
  }
  return error;
}

export function checkStatus(where: string, value: unknown, allowed: readonly string[] = RUN_STATUSES): RunStatus {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidArgumentError(`${where} must be one of ${allowed.map((status) => `'${status}'`).join(', ')}, got ${typeof value === 'string' ? `'${value}'` : typeof value}`);
  }
  return value as RunStatus;
}
