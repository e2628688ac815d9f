/**
 * Traces: `db.traces`. Every span belongs to a run (`db.traces.forRun(runId)`, which a run
 * handle exposes as `run.traces`): `start` writes a start entry and returns a span handle
 * whose `end` writes the end entry; `record` writes a span known whole as one entry. Summaries
 * (kind, name, parent, times, status, usage) live in an in-memory index that recovery rebuilds
 * from the entries' headers and snapshots keep; input, output, error and attributes stay in
 * the log and are read by `get` and `exportOtlp`. A span with a start and no end reads as
 * `incomplete` (still open, or never ended when the process died).
 */
import { InvalidArgumentError } from '../errors.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec, RecoveredEntry } from '../engine/primitive.js';
import { checkCount, checkKeys, checkOptions, describe, jsonText, type OptionKeys } from '../validate.js';
import { checkName } from '../names.js';
import {
  decodeHeader,
  decodeValues,
  jsonValue,
  valuesSize,
  KIND_SPAN_END,
  KIND_SPAN_RECORD,
  KIND_SPAN_START,
  TRACE_KINDS,
  writeTraceEntry,
  type EncodedValue,
  type EncodedValues,
  type EndHeader,
  type RecordHeader,
  type SpanStatus,
  type StartHeader,
  type Usage,
} from './trace-codec.js';
import { TraceIndex, type SpanEntry, type SpanSummary } from './trace-index.js';
import { decodeTraceSection, encodeTraceSection } from './trace-section.js';
import { buildTree, type TraceTree } from './trace-tree.js';
import { toOtlp, type ExportedSpan, type OtlpExportOptions, type OtlpTraces } from './otlp.js';

export type { SpanStatus, Usage, SpanSummary, TraceTree, OtlpTraces, OtlpExportOptions };
export type { TraceNode, UsageTotal } from './trace-tree.js';

/** The well-known span kinds (any other string is accepted too). */
export type SpanKind = 'llm_call' | 'tool_call' | 'retrieval' | 'decision' | 'agent' | (string & {});

export interface SpanStartInput {
  kind: SpanKind;
  name: string;
  /** A JSON value or a Uint8Array (the shared value rule). */
  input?: unknown;
  /** A span of the same run. */
  parentId?: string;
  /** Attribute name → JSON value; OpenTelemetry GenAI names where one exists (`gen_ai.request.model`…). */
  attributes?: Record<string, unknown>;
}

export interface SpanEndInput {
  output?: unknown;
  /** Given (not undefined or null): the span's status is 'error'. A string, an Error (kept as { name, message }), a JSON value or a Uint8Array. */
  error?: unknown;
  usage?: Usage;
  /** Added to the start's attributes (same name: this value wins). */
  attributes?: Record<string, unknown>;
}

export interface SpanRecordInput extends SpanStartInput, SpanEndInput {
  /** Milliseconds since the Unix epoch, or a Date. */
  startedAt: number | Date;
  endedAt: number | Date;
}

/** A started span. */
export interface Span {
  readonly id: string;
  readonly runId: string;
  /** Writes the span's end; a second call is InvalidArgumentError. Resolves to its summary. */
  end(input?: SpanEndInput): Promise<SpanSummary>;
}

/** The traces of one run. */
export interface RunTraces {
  readonly runId: string;
  start(input: SpanStartInput): Promise<Span>;
  record(input: SpanRecordInput): Promise<SpanSummary>;
}

/** A span with what the log holds of it. */
export interface SpanDetail extends SpanSummary {
  input: unknown;
  output: unknown;
  error: unknown;
  attributes: Record<string, unknown>;
}

export interface TraceQuery {
  runId?: string;
  kind?: string;
  name?: string;
  status?: SpanStatus;
  /** Spans started after this time (milliseconds since the epoch, or a Date). */
  startedAfter?: number | Date;
  /** Ended spans that took at least this long. */
  minDurationMs?: number;
  /** Default 100. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

export interface TracePage {
  /** Newest first (in the order the spans were started or recorded). */
  spans: SpanSummary[];
  /** Pass it as `cursor` for the next page; undefined on the last page. */
  cursor: string | undefined;
}

export interface Traces {
  /** The traces of run `runId` (1 to 255 UTF-8 bytes). */
  forRun(runId: string): RunTraces;
  /** The span with its input, output, error and attributes, or undefined. */
  get(spanId: string): Promise<SpanDetail | undefined>;
  query(query?: TraceQuery): Promise<TracePage>;
  /** The run's spans as a tree, with usage summed up the tree. */
  tree(runId: string): Promise<TraceTree>;
  /** The run's spans as OTLP/JSON (`JSON.stringify` it to a file or POST it to /v1/traces). */
  exportOtlp(runId: string, options?: OtlpExportOptions): Promise<OtlpTraces>;
}

const BINARY_HINT = 'binary values must be a Uint8Array: pass new Uint8Array(buffer)';
const RUN_ID_MAX_BYTES = 255;
const SPAN_ID_MAX_BYTES = 255;
const KIND_MAX_BYTES = 255;
const SPAN_NAME_MAX_BYTES = 1024;
const DEFAULT_LIMIT = 100;
const CURSOR = /^s(\d{1,16})$/;

const START_FIELDS: OptionKeys<SpanStartInput> = { kind: true, name: true, input: true, parentId: true, attributes: true };
const END_FIELDS: OptionKeys<SpanEndInput> = { output: true, error: true, usage: true, attributes: true };
const RECORD_FIELDS: OptionKeys<SpanRecordInput> = { ...START_FIELDS, ...END_FIELDS, startedAt: true, endedAt: true };
const USAGE_FIELDS: OptionKeys<Usage> = { inputTokens: true, outputTokens: true, costUsd: true };
const QUERY_KEYS: OptionKeys<TraceQuery> = { runId: true, kind: true, name: true, status: true, startedAfter: true, minDurationMs: true, limit: true, cursor: true };
const EXPORT_KEYS: OptionKeys<OtlpExportOptions> = { serviceName: true, includeValues: true };
const STATUSES: readonly SpanStatus[] = ['ok', 'error', 'incomplete'];

const encoder = new TextEncoder();

/** Now, in milliseconds since the epoch at microsecond precision (monotonic within the process). */
function now(): number {
  const time = typeof performance !== 'undefined' && typeof performance.timeOrigin === 'number' ? performance.timeOrigin + performance.now() : Date.now();
  return Math.round(time * 1000) / 1000;
}

/** A record's time: milliseconds since the epoch (finite, not negative) or a valid Date. */
function checkTime(what: string, value: unknown): number {
  const time = value instanceof Date ? value.getTime() : value;
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) throw new InvalidArgumentError(`${what} must be milliseconds since the Unix epoch (a non-negative number) or a valid Date, got ${describe(value)}`);
  return Math.round(time * 1000) / 1000;
}

function checkInputObject<T extends object>(where: string, value: T | undefined, fields: object, required: boolean): T {
  if (value === undefined && !required) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new InvalidArgumentError(`${where} takes an object, got ${describe(value)}`);
  checkKeys('field', where, value, fields);
  return value;
}

function checkUsage(where: string, value: unknown): Usage | undefined {
  if (value === undefined) return undefined;
  const usage = checkOptions(`${where}: usage`, value as Usage, USAGE_FIELDS);
  const out: Usage = {};
  if (usage.inputTokens !== undefined) out.inputTokens = checkCount(`${where}: usage.inputTokens`, usage.inputTokens);
  if (usage.outputTokens !== undefined) out.outputTokens = checkCount(`${where}: usage.outputTokens`, usage.outputTokens);
  if (usage.costUsd !== undefined) {
    if (typeof usage.costUsd !== 'number' || !Number.isFinite(usage.costUsd) || usage.costUsd < 0) throw new InvalidArgumentError(`${where}: usage.costUsd must be a non-negative number, got ${describe(usage.costUsd)}`);
    out.costUsd = usage.costUsd;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Checks a header read back from the log; returns a description of what is wrong, or undefined. */
function badStart(header: Record<string, unknown>): string | undefined {
  if (typeof header.kind !== 'string' || typeof header.name !== 'string') return 'its header has no kind or name';
  if (header.parentId !== undefined && typeof header.parentId !== 'string') return 'its parentId is not a string';
  if (typeof header.startedAt !== 'number' || !Number.isFinite(header.startedAt)) return 'its startedAt is not a number';
  return undefined;
}

function badEnd(header: Record<string, unknown>): string | undefined {
  if (typeof header.endedAt !== 'number' || !Number.isFinite(header.endedAt)) return 'its endedAt is not a number';
  if (header.status !== 'ok' && header.status !== 'error') return `its status is ${JSON.stringify(header.status)}`;
  const usage = header.usage;
  if (usage !== undefined) {
    if (usage === null || typeof usage !== 'object' || Array.isArray(usage)) return 'its usage is not an object';
    for (const [field, value] of Object.entries(usage)) {
      if (!Object.hasOwn(USAGE_FIELDS, field) || typeof value !== 'number' || !Number.isFinite(value)) return `its usage has ${field}: ${JSON.stringify(value)}`;
    }
  }
  return undefined;
}

class TracesPrimitive implements PrimitiveInstance<Traces> {
  readonly index = new TraceIndex();
  readonly api: Traces;

  constructor(private readonly context: PrimitiveContext) {
    this.api = {
      forRun: (runId) => this.forRun(runId),
      get: (spanId) => this.get(spanId),
      query: (query) => this.query(query),
      tree: (runId) => this.tree(runId),
      exportOtlp: (runId, options) => this.exportOtlp(runId, options),
    };
  }

  private get written(): number {
    return this.context.writtenPosition;
  }

  // ——— values ———

  /** A user value for the log: redacted, then JSON text or bytes (undefined: absent). */
  private value(where: string, field: 'input' | 'output' | 'error', value: unknown): EncodedValue {
    if (value === undefined || (field === 'error' && value === null)) return undefined;
    if (field === 'error' && value instanceof Error) value = { name: value.name, message: value.message };
    value = this.context.redact(value, { primitive: 'traces', field });
    if (value === undefined || (field === 'error' && value === null)) return undefined;
    // Copied now: the caller may reuse the buffer before the entry is written.
    if (value instanceof Uint8Array) return { bytes: value.slice() };
    return jsonValue(jsonText(value, `${where}: ${field}`, BINARY_HINT).text);
  }

  private attributes(where: string, value: unknown): EncodedValue {
    if (value === undefined) return undefined;
    value = this.context.redact(value, { primitive: 'traces', field: 'attributes' });
    if (value === undefined) return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
      throw new InvalidArgumentError(`${where}: attributes must be an object of attribute name → JSON value, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) if (key.length === 0) throw new InvalidArgumentError(`${where}: attributes has an empty name`);
    return jsonValue(jsonText(value, `${where}: attributes`).text);
  }

  /** The values of one entry must fit `maxEventBytes` (the limit of one entry of the log). */
  private checkSize(where: string, values: EncodedValues): EncodedValues {
    const limit = this.context.options.maxEventBytes;
    const size = valuesSize(values, limit);
    if (size > limit) throw new InvalidArgumentError(`${where}: the span's input, output, error and attributes are ${size} bytes encoded, over the limit of ${limit} (maxEventBytes); store large blobs elsewhere and record a reference`);
    return values;
  }

  private runId(where: string, runId: unknown) {
    return checkName(this.context.core, `${where}: runId`, runId, RUN_ID_MAX_BYTES);
  }

  private startHeader(where: string, input: SpanStartInput): StartHeader {
    const kind = checkName(this.context.core, `${where}: kind`, input.kind, KIND_MAX_BYTES).text;
    const name = checkName(this.context.core, `${where}: name`, input.name, SPAN_NAME_MAX_BYTES).text;
    const header: StartHeader = { kind, name, startedAt: 0 };
    if (input.parentId !== undefined) header.parentId = checkName(this.context.core, `${where}: parentId`, input.parentId, SPAN_ID_MAX_BYTES).text;
    return header;
  }

  /** The parent must be a span of the same run (checked in commit order: nothing is written otherwise). */
  private checkParent(where: string, runId: string, parentId: string | undefined): void {
    if (parentId === undefined) return;
    const parent = this.index.spans.get(parentId);
    if (!parent) throw new InvalidArgumentError(`${where}: parentId '${parentId}' is not a span of this store; pass the id of a span of run '${runId}'`);
    if (parent.runId !== runId) throw new InvalidArgumentError(`${where}: parentId '${parentId}' is a span of run '${parent.runId}', not of run '${runId}'; a span's parent must belong to the same run`);
  }

  // ——— writes ———

  private forRun(runIdValue: string): RunTraces {
    this.context.checkOpen();
    const { text: runId, bytes: runIdBytes } = this.runId('traces.forRun', runIdValue);
    return {
      runId,
      start: (input) => this.start(runId, runIdBytes, input),
      record: (input) => this.record(runId, runIdBytes, input),
    };
  }

  private start(runId: string, runIdBytes: Uint8Array, input: SpanStartInput): Promise<Span> {
    const where = 'traces.start';
    let header: StartHeader;
    let values: EncodedValues;
    try {
      this.context.checkWritable();
      input = checkInputObject(where, input, START_FIELDS, true);
      header = this.startHeader(where, input);
      values = this.checkSize(where, { input: this.value(where, 'input', input.input), attributes: this.attributes(where, input.attributes) });
    } catch (error) {
      return Promise.reject(error);
    }
    const id = crypto.randomUUID();
    const idBytes = encoder.encode(id);
    return this.context.submit<Span>({
      prepare: (firstPosition, writer) => {
        this.checkParent(where, runId, header.parentId);
        header.startedAt = now();
        writeTraceEntry(writer, KIND_SPAN_START, idBytes, runIdBytes, header, values, Date.now());
        const span: SpanEntry = { id, runId, kind: header.kind, name: header.name, parentId: header.parentId, startedAt: header.startedAt, start: firstPosition, endedAt: undefined, status: undefined, usage: undefined, end: -1 };
        return {
          count: 1,
          apply: () => {
            this.index.add(span);
            this.context.attribute(runId, firstPosition);
          },
          result: () => this.handle(id, idBytes, runId, runIdBytes),
        };
      },
    });
  }

  private handle(id: string, idBytes: Uint8Array, runId: string, runIdBytes: Uint8Array): Span {
    let ended = false;
    return {
      id,
      runId,
      end: (input) => {
        const where = 'span.end';
        let header: EndHeader;
        let values: EncodedValues;
        try {
          this.context.checkWritable();
          if (ended) throw new InvalidArgumentError(`${where}: span '${id}' is already ended; end a span once`);
          input = checkInputObject(where, input, END_FIELDS, false);
          const error = this.value(where, 'error', input.error);
          header = { endedAt: 0, status: error !== undefined ? 'error' : 'ok' };
          const usage = checkUsage(where, input.usage);
          if (usage) header.usage = usage;
          values = this.checkSize(where, { output: this.value(where, 'output', input.output), error, attributes: this.attributes(where, input.attributes) });
          ended = true;
        } catch (error) {
          return Promise.reject(error);
        }
        return this.context.submit<SpanSummary>({
          prepare: (firstPosition, writer) => {
            const span = this.index.spans.get(id);
            if (!span) throw new InvalidArgumentError(`${where}: span '${id}' is gone: its run '${runId}' was deleted`);
            if (span.end >= 0) throw new InvalidArgumentError(`${where}: span '${id}' is already ended; end a span once`);
            header.endedAt = Math.max(now(), span.startedAt);
            writeTraceEntry(writer, KIND_SPAN_END, idBytes, runIdBytes, header, values, Date.now());
            return {
              count: 1,
              apply: () => {
                this.index.end(span, header.endedAt, header.status, header.usage, firstPosition);
                this.context.attribute(runId, firstPosition);
              },
              result: () => this.index.summary(span, Infinity),
            };
          },
        });
      },
    };
  }

  private record(runId: string, runIdBytes: Uint8Array, input: SpanRecordInput): Promise<SpanSummary> {
    const where = 'traces.record';
    let header: RecordHeader;
    let values: EncodedValues;
    try {
      this.context.checkWritable();
      input = checkInputObject(where, input, RECORD_FIELDS, true);
      const start = this.startHeader(where, input);
      const startedAt = checkTime(`${where}: startedAt`, input.startedAt);
      const endedAt = checkTime(`${where}: endedAt`, input.endedAt);
      if (endedAt < startedAt) throw new InvalidArgumentError(`${where}: endedAt (${endedAt}) is before startedAt (${startedAt})`);
      const error = this.value(where, 'error', input.error);
      header = { ...start, startedAt, endedAt, status: error !== undefined ? 'error' : 'ok' };
      const usage = checkUsage(where, input.usage);
      if (usage) header.usage = usage;
      values = this.checkSize(where, { input: this.value(where, 'input', input.input), output: this.value(where, 'output', input.output), error, attributes: this.attributes(where, input.attributes) });
    } catch (error) {
      return Promise.reject(error);
    }
    const id = crypto.randomUUID();
    const idBytes = encoder.encode(id);
    return this.context.submit<SpanSummary>({
      prepare: (firstPosition, writer) => {
        this.checkParent(where, runId, header.parentId);
        writeTraceEntry(writer, KIND_SPAN_RECORD, idBytes, runIdBytes, header, values, Date.now());
        const span: SpanEntry = { id, runId, kind: header.kind, name: header.name, parentId: header.parentId, startedAt: header.startedAt, start: firstPosition, endedAt: header.endedAt, status: header.status, usage: header.usage, end: firstPosition };
        return {
          count: 1,
          apply: () => {
            this.index.add(span);
            this.context.attribute(runId, firstPosition);
          },
          result: () => this.index.summary(span, Infinity),
        };
      },
    });
  }

  // ——— reads ———

  /** A span readers may see (its start entry is written), or undefined. */
  private visible(spanId: string): SpanEntry | undefined {
    const span = this.index.spans.get(spanId);
    return span && span.start < this.written ? span : undefined;
  }

  /** The full spans of `spans` (input, output, error, attributes read from the log), in the same order. */
  private async details(spans: readonly SpanEntry[]): Promise<SpanDetail[]> {
    const written = this.written;
    const summaries = spans.map((span) => this.index.summary(span, written));
    const positions: number[] = [];
    for (const [index, span] of spans.entries()) {
      positions.push(span.start);
      if (summaries[index]!.endedAt !== undefined && span.end !== span.start) positions.push(span.end);
    }
    const values = new Map<number, ReturnType<typeof decodeValues>>();
    await this.context.readPositions(positions, (position, bytes, start, length) => void values.set(position, decodeValues(bytes, start, length)));
    return spans.map((span, index) => {
      const summary = summaries[index]!;
      const first = values.get(span.start)!;
      const last = summary.endedAt !== undefined ? values.get(span.end)! : undefined;
      return {
        ...summary,
        input: first.input,
        output: last?.output,
        error: last?.error,
        attributes: { ...first.attributes, ...(last && last !== first ? last.attributes : {}) },
      };
    });
  }

  private async get(spanId: string): Promise<SpanDetail | undefined> {
    this.context.checkOpen();
    const id = checkName(this.context.core, 'traces.get: spanId', spanId, SPAN_ID_MAX_BYTES).text;
    const span = this.visible(id);
    if (!span) return undefined;
    return (await this.details([span]))[0];
  }

  private async query(query?: TraceQuery): Promise<TracePage> {
    this.context.checkOpen();
    const where = 'traces.query';
    const options = checkOptions(where, query, QUERY_KEYS);
    const text = (field: 'kind' | 'name', max: number) => (options[field] === undefined ? undefined : checkName(this.context.core, `${where}: ${field}`, options[field], max).text);
    let before = Infinity;
    if (options.cursor !== undefined) {
      const match = typeof options.cursor === 'string' ? CURSOR.exec(options.cursor) : null;
      if (!match || !Number.isSafeInteger(Number(match[1]))) throw new InvalidArgumentError(`${where}: cursor must be the cursor of a previous page, got ${describe(options.cursor)}`);
      before = Number(match[1]);
    }
    if (options.status !== undefined && !STATUSES.includes(options.status)) throw new InvalidArgumentError(`${where}: status must be 'ok', 'error' or 'incomplete', got ${describe(options.status)}`);
    let minDurationMs: number | undefined;
    if (options.minDurationMs !== undefined) {
      if (typeof options.minDurationMs !== 'number' || !Number.isFinite(options.minDurationMs) || options.minDurationMs < 0) throw new InvalidArgumentError(`${where}: minDurationMs must be a non-negative number, got ${describe(options.minDurationMs)}`);
      minDurationMs = options.minDurationMs;
    }
    const page = this.index.query(
      {
        runId: options.runId === undefined ? undefined : this.runId(where, options.runId).text,
        kind: text('kind', KIND_MAX_BYTES),
        name: text('name', SPAN_NAME_MAX_BYTES),
        status: options.status,
        startedAfter: options.startedAfter === undefined ? undefined : checkTime(`${where}: startedAfter`, options.startedAfter),
        minDurationMs,
        limit: options.limit === undefined ? DEFAULT_LIMIT : checkCount(`${where}: limit`, options.limit, false),
        before,
      },
      this.written,
    );
    return { spans: page.spans, cursor: page.next === undefined ? undefined : `s${page.next}` };
  }

  private async tree(runIdValue: string): Promise<TraceTree> {
    this.context.checkOpen();
    const runId = this.runId('traces.tree', runIdValue).text;
    const written = this.written;
    return buildTree(runId, this.index.ofRun(runId, written).map((span) => this.index.summary(span, written)));
  }

  private async exportOtlp(runIdValue: string, options?: OtlpExportOptions): Promise<OtlpTraces> {
    this.context.checkOpen();
    const where = 'traces.exportOtlp';
    const runId = this.runId(where, runIdValue).text;
    const checked = checkOptions(where, options, EXPORT_KEYS);
    if (checked.serviceName !== undefined && (typeof checked.serviceName !== 'string' || checked.serviceName.length === 0)) throw new InvalidArgumentError(`${where}: serviceName must be a non-empty string, got ${describe(checked.serviceName)}`);
    if (checked.includeValues !== undefined && typeof checked.includeValues !== 'boolean') throw new InvalidArgumentError(`${where}: includeValues must be true or false, got ${describe(checked.includeValues)}`);
    const spans: ExportedSpan[] = await this.details(this.index.ofRun(runId, this.written));
    return toOtlp(spans, { serviceName: checked.serviceName ?? 'reeldb', includeValues: checked.includeValues ?? true });
  }

  // ——— the primitive contract ———

  recover(entry: RecoveredEntry): string | undefined {
    const kind = entry.kind;
    // Kinds of the range this version does not write (a newer reeldb's) are left alone.
    if (kind !== KIND_SPAN_START && kind !== KIND_SPAN_END && kind !== KIND_SPAN_RECORD) return undefined;
    const at = `the span entry at position ${entry.position}`;
    const payload = entry.payload();
    let spanId: string;
    let runId: string;
    let header: Record<string, unknown>;
    try {
      // The span id is the entry's name (written in NFC, as the scan reports it).
      ({ spanId, runId, header } = decodeHeader(payload, 0, payload.length));
    } catch (error) {
      return `${at}: ${(error as Error).message}`;
    }
    if (kind === KIND_SPAN_END) {
      const span = this.index.spans.get(spanId);
      // The span's run was deleted (its spans dropped): nothing to end.
      if (!span) return undefined;
      if (span.runId !== runId) return `${at} ends span '${spanId}' of run '${span.runId}' as run '${runId}'`;
      if (span.end >= 0) return `${at} ends span '${spanId}' again (it ended at position ${span.end})`;
      const bad = badEnd(header);
      if (bad) return `${at}: ${bad}`;
      this.index.end(span, header.endedAt as number, header.status as 'ok' | 'error', header.usage as Usage | undefined, entry.position);
      this.context.attribute(runId, entry.position);
      return undefined;
    }
    const existing = this.index.spans.get(spanId);
    if (existing) return `${at} starts span '${spanId}' again (it started at position ${existing.start})`;
    const bad = badStart(header) ?? (kind === KIND_SPAN_RECORD ? badEnd(header) : undefined);
    if (bad) return `${at}: ${bad}`;
    const record = kind === KIND_SPAN_RECORD;
    this.index.add({
      id: spanId,
      runId,
      kind: header.kind as string,
      name: header.name as string,
      parentId: header.parentId as string | undefined,
      startedAt: header.startedAt as number,
      start: entry.position,
      endedAt: record ? (header.endedAt as number) : undefined,
      status: record ? (header.status as 'ok' | 'error') : undefined,
      usage: record ? (header.usage as Usage | undefined) : undefined,
      end: record ? entry.position : -1,
    });
    this.context.attribute(runId, entry.position);
    return undefined;
  }

  captureSection(): Uint8Array {
    return encodeTraceSection(this.index.all());
  }

  restoreSection(bytes: Uint8Array): void {
    const spans = decodeTraceSection(bytes);
    this.index.clear();
    for (const span of spans) {
      if (this.index.spans.has(span.id)) throw new Error(`the traces section holds span '${span.id}' twice`);
      this.index.add(span);
    }
  }

  markLive(mark: (position: number) => void): void {
    for (const span of this.index.all()) {
      mark(span.start);
      if (span.end >= 0 && span.end !== span.start) mark(span.end);
    }
  }

  stats(): Record<string, number> {
    let incomplete = 0;
    for (const span of this.index.all()) if (span.end < 0) incomplete++;
    return { spans: this.index.size, runs: this.index.runs.size, incomplete };
  }

  fingerprint(): unknown {
    return this.index.all().map((span) => ({
      id: span.id,
      runId: span.runId,
      kind: span.kind,
      name: span.name,
      parentId: span.parentId ?? null,
      startedAt: span.startedAt,
      endedAt: span.endedAt ?? null,
      status: span.status ?? null,
      usage: span.usage ?? null,
      start: span.start,
      end: span.end,
    }));
  }

  dropRun(runId: string): void {
    this.index.dropRun(runId);
  }

  /** A follower found segments the writer's prune rewrote: spans whose start is gone are forgotten. */
  forgetRemoved(removed: (position: number) => boolean): void {
    const gone = new Set<string>();
    for (const span of this.index.all()) if (removed(span.start)) gone.add(span.runId);
    // Spans go only with their run (dropRun), so a removed start means the whole run went.
    for (const runId of gone) this.index.dropRun(runId);
  }

  /** `reeldb verify`: every span's entries decode (values included) and every parent is a span of the same run. */
  async audit(onProgress?: (done: number, total: number) => void): Promise<{ checked: Record<string, number>; problems: string[] }> {
    const problems: string[] = [];
    const spans = this.index.all().filter((span) => span.start < this.written);
    const BATCH = 512;
    for (let from = 0; from < spans.length; from += BATCH) {
      const batch = spans.slice(from, from + BATCH);
      const positions: number[] = [];
      for (const span of batch) {
        positions.push(span.start);
        if (span.end >= 0 && span.end !== span.start && span.end < this.written) positions.push(span.end);
      }
      await this.context.readPositions(positions, (position, bytes, start, length) => {
        try {
          decodeValues(bytes, start, length);
        } catch (error) {
          problems.push(`the span entry at position ${position}: ${(error as Error).message}`);
        }
      });
      for (const span of batch) {
        if (span.parentId === undefined) continue;
        const parent = this.index.spans.get(span.parentId);
        if (!parent) problems.push(`span '${span.id}' (position ${span.start}) has parent '${span.parentId}', which is not a span of the store`);
        else if (parent.runId !== span.runId) problems.push(`span '${span.id}' of run '${span.runId}' has parent '${span.parentId}' of run '${parent.runId}'`);
      }
      onProgress?.(Math.min(from + BATCH, spans.length), spans.length);
    }
    return { checked: { spans: spans.length }, problems };
  }
}

export const tracesPrimitive: PrimitiveSpec<Traces> = {
  name: 'traces',
  kinds: [0x50, 0x5f],
  namedKinds: TRACE_KINDS,
  section: 6,
  create: (context) => new TracesPrimitive(context),
};

