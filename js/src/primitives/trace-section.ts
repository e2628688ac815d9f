/**
 * The traces snapshot section (section 6): the span summaries of the index, little-endian.
 * u32 version (1) · u32 count · per span in start order: f64 start position · f64 end
 * position (−1: none) · f64 startedAt · f64 endedAt (NaN: none) · u8 status (0 none, 1 ok,
 * 2 error) · u8 usage bits (1 inputTokens, 2 outputTokens, 4 costUsd) · f64 per usage bit
 * set · u8 has parent · strings id, runId, kind, name[, parentId] (u32 length · UTF-8).
 */
import { utf8Decode } from '../host/text.js';
import type { SpanEntry } from './trace-index.js';
import type { Usage } from './trace-codec.js';

const VERSION = 1;
const encoder = new TextEncoder();
const USAGE_FIELDS = ['inputTokens', 'outputTokens', 'costUsd'] as const;

class Writer {
  private bytes = new Uint8Array(1 << 12);
  private view = new DataView(this.bytes.buffer);
  private length = 0;
  private room(count: number): void {
    if (this.length + count <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + count) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(value: number): void {
    this.room(1);
    this.bytes[this.length++] = value;
  }
  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }
  f64(value: number): void {
    this.room(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }
  text(value: string): void {
    const bytes = encoder.encode(value);
    this.u32(bytes.length);
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }
  done(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

class Reader {
  private readonly view: DataView;
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(count: number): void {
    if (this.at + count > this.bytes.length) throw new Error(`the traces section ends early (needs ${count} bytes at ${this.at} of ${this.bytes.length})`);
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }
  f64(): number {
    this.need(8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    return value;
  }
  position(what: string, allowNone: boolean): number {
    const value = this.f64();
    if (allowNone && value === -1) return -1;
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`the traces section has a bad ${what} position ${value}`);
    return value;
  }
  time(what: string): number {
    const value = this.f64();
    if (!Number.isFinite(value)) throw new Error(`the traces section has a bad ${what} ${value}`);
    return value;
  }
  text(): string {
    const length = this.u32();
    this.need(length);
    const value = utf8Decode(this.bytes, this.at, this.at + length);
    this.at += length;
    return value;
  }
  get finished(): boolean {
    return this.at === this.bytes.length;
  }
}

export function encodeTraceSection(spans: readonly SpanEntry[]): Uint8Array {
  const writer = new Writer();
  writer.u32(VERSION);
  writer.u32(spans.length);
  for (const span of spans) {
    writer.f64(span.start);
    writer.f64(span.end);
    writer.f64(span.startedAt);
    writer.f64(span.endedAt ?? NaN);
    writer.u8(span.status === 'ok' ? 1 : span.status === 'error' ? 2 : 0);
    let bits = 0;
    USAGE_FIELDS.forEach((field, bit) => {
      if (span.usage?.[field] !== undefined) bits |= 1 << bit;
    });
    writer.u8(bits);
    for (const field of USAGE_FIELDS) if (span.usage?.[field] !== undefined) writer.f64(span.usage[field]!);
    writer.u8(span.parentId !== undefined ? 1 : 0);
    writer.text(span.id);
    writer.text(span.runId);
    writer.text(span.kind);
    writer.text(span.name);
    if (span.parentId !== undefined) writer.text(span.parentId);
  }
  return writer.done();
}

/** The spans of a section, in start order; throws on anything that does not decode. */
export function decodeTraceSection(bytes: Uint8Array): SpanEntry[] {
  const reader = new Reader(bytes);
  const version = reader.u32();
  if (version !== VERSION) throw new Error(`the traces section has version ${version}, expected ${VERSION}`);
  const count = reader.u32();
  const spans: SpanEntry[] = [];
  let previous = -1;
  for (let index = 0; index < count; index++) {
    const start = reader.position('start', false);
    if (start <= previous) throw new Error(`the traces section's spans are out of order at ${index}`);
    previous = start;
    const end = reader.position('end', true);
    const startedAt = reader.time('start time');
    const endedAtRaw = reader.f64();
    const statusCode = reader.u8();
    if (statusCode > 2) throw new Error(`the traces section has a bad status ${statusCode}`);
    const ended = statusCode !== 0;
    if (ended !== (end >= 0) || ended !== Number.isFinite(endedAtRaw) || (!ended && !Number.isNaN(endedAtRaw))) throw new Error(`the traces section's span ${index} has an inconsistent end`);
    const bits = reader.u8();
    if (bits > 7 || (bits !== 0 && !ended)) throw new Error(`the traces section has bad usage bits ${bits}`);
    let usage: Usage | undefined;
    USAGE_FIELDS.forEach((field, bit) => {
      if (bits & (1 << bit)) (usage ??= {})[field] = reader.time(field);
    });
    const hasParent = reader.u8();
    if (hasParent > 1) throw new Error(`the traces section has a bad parent flag ${hasParent}`);
    const id = reader.text();
    const runId = reader.text();
    const kind = reader.text();
    const name = reader.text();
    const parentId = hasParent ? reader.text() : undefined;
    spans.push({ id, runId, kind, name, parentId, startedAt, start, endedAt: ended ? endedAtRaw : undefined, status: statusCode === 1 ? 'ok' : statusCode === 2 ? 'error' : undefined, usage, end });
  }
  if (!reader.finished) throw new Error('the traces section has bytes after its spans');
  return spans;
}
