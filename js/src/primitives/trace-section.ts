/**
 * The traces snapshot section (section 6): the span summaries of the index, little-endian.
 * u32 version (1) · u32 count · per span in start order: f64 start position · f64 end
 * position (−1: none) · f64 startedAt · f64 endedAt (NaN: none) · u8 status (0 none, 1 ok,
 * 2 error) · u8 usage bits (1 inputTokens, 2 outputTokens, 4 costUsd) · f64 per usage bit
 * set · u8 has parent · strings id, runId, kind, name[, parentId] (u32 length · UTF-8).
 */
import { Reader, Writer } from '../engine/section-codec.js';
import type { SpanEntry } from './trace-index.js';
import type { Usage } from './trace-codec.js';

const VERSION = 1;
const USAGE_FIELDS = ['inputTokens', 'outputTokens', 'costUsd'] as const;

function position(reader: Reader, what: string, allowNone: boolean): number {
  const value = reader.float();
  if (allowNone && value === -1) return -1;
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`the traces section has a bad ${what} position ${value}`);
  return value;
}

function time(reader: Reader, what: string): number {
  const value = reader.float();
  if (!Number.isFinite(value)) throw new Error(`the traces section has a bad ${what} ${value}`);
  return value;
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
    const start = position(reader, 'start', false);
    if (start <= previous) throw new Error(`the traces section's spans are out of order at ${index}`);
    previous = start;
    const end = position(reader, 'end', true);
    const startedAt = time(reader, 'start time');
    const endedAtRaw = reader.float();
    const statusCode = reader.u8();
    if (statusCode > 2) throw new Error(`the traces section has a bad status ${statusCode}`);
    const ended = statusCode !== 0;
    if (ended !== (end >= 0) || ended !== Number.isFinite(endedAtRaw) || (!ended && !Number.isNaN(endedAtRaw))) throw new Error(`the traces section's span ${index} has an inconsistent end`);
    const bits = reader.u8();
    if (bits > 7 || (bits !== 0 && !ended)) throw new Error(`the traces section has bad usage bits ${bits}`);
    let usage: Usage | undefined;
    USAGE_FIELDS.forEach((field, bit) => {
      if (bits & (1 << bit)) (usage ??= {})[field] = time(reader, field);
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
