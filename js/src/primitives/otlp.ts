/**
 * A run's spans as OTLP/JSON (the JSON Protobuf encoding of an OTLP `TracesData` /
 * `ExportTraceServiceRequest`): lowerCamelCase field names, trace and span ids as lowercase
 * hex, times as decimal strings of Unix nanoseconds, enums as integers, attributes as
 * key/value pairs of AnyValue. Ids are derived from the run id and span id, so an export is
 * the same every time. Attribute names follow the OpenTelemetry GenAI semantic conventions
 * (gen_ai.*) where one exists; input and output go in OpenInference's input.value /
 * output.value, which Phoenix and Langfuse read.
 */
import type { Usage } from './trace-codec.js';
import type { SpanSummary } from './trace-index.js';

/** A span with what the log holds of it. */
export interface ExportedSpan extends SpanSummary {
  input: unknown;
  output: unknown;
  error: unknown;
  attributes: Record<string, unknown> | undefined;
}

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values: OtlpAnyValue[] };
  kvlistValue?: { values: OtlpKeyValue[] };
}

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** 1 internal, 3 client. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpKeyValue[];
  events?: { timeUnixNano: string; name: string; attributes: OtlpKeyValue[] }[];
  /** code 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
}

export interface OtlpTraces {
  resourceSpans: {
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: { scope: { name: string; version: string }; spans: OtlpSpan[] }[];
  }[];
}

export interface OtlpExportOptions {
  /** The resource's service.name (default 'reeldb'). */
  serviceName?: string;
  /** Include each span's input and output as input.value / output.value (default true). */
  includeValues?: boolean;
}

export const SCOPE_NAME = 'reeldb';
export const SCOPE_VERSION = '0.1.0';

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

/** gen_ai.operation.name for the span kinds that have one. */
const OPERATIONS: Record<string, string> = { llm_call: 'chat', tool_call: 'execute_tool', agent: 'invoke_agent' };

const encoder = new TextEncoder();

/** 32 bits of FNV-1a over `bytes` from `seed`, then murmur3's finaliser. */
function hash32(bytes: Uint8Array, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let index = 0; index < bytes.length; index++) hash = Math.imul(hash ^ bytes[index]!, 0x01000193);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** `words` × 32 bits of hash of `text` as lowercase hex, never all zeros (an invalid id in OTLP). */
function hexId(text: string, words: number): string {
  const bytes = encoder.encode(text);
  let hex = '';
  for (let word = 0; word < words; word++) hex += hash32(bytes, Math.imul(word + 1, 0x9e3779b9)).toString(16).padStart(8, '0');
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** The OTLP trace id of a run: 16 bytes as 32 hex digits. */
export function otlpTraceId(runId: string): string {
  return hexId(`trace\u0000${runId}`, 4);
}

/** The OTLP span id of a span: 8 bytes as 16 hex digits, from its run and span ids. */
export function otlpSpanId(runId: string, spanId: string): string {
  return hexId(`span\u0000${runId}\u0000${spanId}`, 2);
}

/** Milliseconds since the epoch (microsecond precision) as a decimal string of nanoseconds. */
export function unixNano(ms: number): string {
  const micros = Math.round(ms * 1000);
  return micros <= 0 ? '0' : `${micros}000`;
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let index = 0; index < bytes.length; index += 0x8000) binary += String.fromCharCode(...bytes.subarray(index, index + 0x8000));
  return btoa(binary);
}

/** A JSON value (or bytes) as an OTLP AnyValue. */
export function anyValue(value: unknown): OtlpAnyValue {
  if (value === null || value === undefined) return {};
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (value instanceof Uint8Array) return { bytesValue: base64(value) };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(anyValue) } };
  return { kvlistValue: { values: Object.entries(value as Record<string, unknown>).map(([key, item]) => ({ key, value: anyValue(item) })) } };
}

function usageAttributes(usage: Usage | undefined, into: Map<string, OtlpAnyValue>): void {
  if (!usage) return;
  if (usage.inputTokens !== undefined) into.set('gen_ai.usage.input_tokens', { intValue: String(usage.inputTokens) });
  if (usage.outputTokens !== undefined) into.set('gen_ai.usage.output_tokens', { intValue: String(usage.outputTokens) });
  // Not in the conventions (they define no cost attribute); the name Langfuse reads.
  if (usage.costUsd !== undefined) into.set('gen_ai.usage.cost', { doubleValue: usage.costUsd });
}

function valueAttributes(prefix: 'input' | 'output', value: unknown, into: Map<string, OtlpAnyValue>): void {
  if (value === undefined) return;
  if (value instanceof Uint8Array) {
    into.set(`${prefix}.value`, { bytesValue: base64(value) });
    into.set(`${prefix}.mime_type`, { stringValue: 'application/octet-stream' });
  } else if (typeof value === 'string') {
    into.set(`${prefix}.value`, { stringValue: value });
    into.set(`${prefix}.mime_type`, { stringValue: 'text/plain' });
  } else {
    into.set(`${prefix}.value`, { stringValue: JSON.stringify(value) });
    into.set(`${prefix}.mime_type`, { stringValue: 'application/json' });
  }
}

/** The message and type of a span's error value. */
function describeError(error: unknown): { message: string; type: string | undefined } {
  if (typeof error === 'string') return { message: error, type: undefined };
  if (error && typeof error === 'object' && !Array.isArray(error) && !(error instanceof Uint8Array)) {
    const { message, name } = error as { message?: unknown; name?: unknown };
    if (typeof message === 'string') return { message, type: typeof name === 'string' ? name : undefined };
  }
  return { message: error instanceof Uint8Array ? `${error.length} bytes` : JSON.stringify(error), type: undefined };
}

function toList(attributes: Map<string, OtlpAnyValue>): OtlpKeyValue[] {
  return [...attributes].map(([key, value]) => ({ key, value }));
}

/** One span as OTLP. */
function otlpSpan(span: ExportedSpan, includeValues: boolean): OtlpSpan {
  const attributes = new Map<string, OtlpAnyValue>();
  const operation = OPERATIONS[span.kind];
  if (operation) attributes.set('gen_ai.operation.name', { stringValue: operation });
  if (span.kind === 'tool_call') attributes.set('gen_ai.tool.name', { stringValue: span.name });
  if (span.kind === 'agent') attributes.set('gen_ai.agent.name', { stringValue: span.name });
  usageAttributes(span.usage, attributes);
  if (includeValues) {
    valueAttributes('input', span.input, attributes);
    valueAttributes('output', span.output, attributes);
  }
  attributes.set('reeldb.run.id', { stringValue: span.runId });
  attributes.set('reeldb.span.id', { stringValue: span.id });
  attributes.set('reeldb.span.kind', { stringValue: span.kind });
  attributes.set('reeldb.span.status', { stringValue: span.status });
  // The caller's own attributes win over derived ones of the same name.
  for (const [key, value] of Object.entries(span.attributes ?? {})) attributes.set(key, anyValue(value));
  const start = unixNano(span.startedAt);
  const end = span.endedAt !== undefined ? unixNano(span.endedAt) : start;
  const out: OtlpSpan = {
    traceId: otlpTraceId(span.runId),
    spanId: otlpSpanId(span.runId, span.id),
    name: span.name,
    kind: span.kind === 'llm_call' || span.kind === 'retrieval' ? SPAN_KIND_CLIENT : SPAN_KIND_INTERNAL,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: toList(attributes),
    status: { code: span.status === 'ok' ? STATUS_OK : span.status === 'error' ? STATUS_ERROR : STATUS_UNSET },
  };
  if (span.parentId !== undefined) out.parentSpanId = otlpSpanId(span.runId, span.parentId);
  if (span.status === 'error') {
    const { message, type } = describeError(span.error);
    out.status.message = message;
    const exception = new Map<string, OtlpAnyValue>([['exception.message', { stringValue: message }]]);
    if (type !== undefined) exception.set('exception.type', { stringValue: type });
    out.events = [{ timeUnixNano: end, name: 'exception', attributes: toList(exception) }];
  }
  return out;
}

/** The spans of one run (in start order) as one OTLP/JSON TracesData. */
export function toOtlp(spans: readonly ExportedSpan[], options: { serviceName: string; includeValues: boolean }): OtlpTraces {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: options.serviceName } }] },
        scopeSpans: [{ scope: { name: SCOPE_NAME, version: SCOPE_VERSION }, spans: spans.map((span) => otlpSpan(span, options.includeValues)) }],
      },
    ],
  };
}
