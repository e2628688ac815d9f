/**
 * Events in streams: `db.events`. Appends are one frame each; every stream keeps the
 * positions of its events, so reads go straight to the bytes.
 */
import { EventTooLargeError, InvalidArgumentError, StreamNotFoundError, WrongExpectedVersionError, type ExpectedVersion } from '../errors.js';
import type { ResolvedOptions } from '../engine/options.js';
import { aliasedOption, checkObject, checkBoolean, checkCount, checkDirection, checkKeys, checkLimit, checkNoOptions, checkOptions, describe, jsonText, type NoOptions, type OptionKeys } from '../validate.js';
import { checkName, loneSurrogateAt, normalizeName, type Name } from '../names.js';
import { pruneInteger } from '../engine/prune.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec, PrunePart, RecoveredEntry } from '../engine/primitive.js';
import type { EntryWriter, Prepared } from '../engine/commit.js';
import { KIND_EVENT_STREAM_DELETED, KIND_EVENT_STREAM_PRUNED, writeCutRecord } from './cut-records.js';
import { NamedIndex, namedIndexKinds, NamedIndexPrimitive, type CutPlan, type NamedKinds, type NamedState } from './named-index.js';
import { decodeEvent, decodeEventId, exactEncodedSize, KIND_EVENT, maxEncodedSize, StringCache, writeEvent, type PendingEvent, type RecordedEvent } from './event-codec.js';

export type { RecordedEvent, ExpectedVersion };

/** An event to append. `T` and `M` type `data` and `metadata` (not checked at run time). */
export interface EventInput<T = unknown, M = unknown> {
  type: string;
  /** Any JSON value, or a Uint8Array for binary data (read back as a Uint8Array). A value JSON
   *  would not store as given (NaN, Date, Map…) is InvalidArgumentError naming its path. */
  data: T;
  /** Optional JSON value or Uint8Array stored beside the data, under the same rule. */
  metadata?: M;
  /** Unique id; a random UUID when absent. Reusing ids makes a retried append idempotent. */
  id?: string;
}

export interface AppendOptions {
  /** 'any' (default), 'no_stream', 'stream_exists', or the stream's current last version. */
  expectedVersion?: ExpectedVersion;
}

export interface DeleteStreamOptions {
  /** As for `append`: 'any' (default), 'no_stream', 'stream_exists', or the stream's last version. */
  expectedVersion?: ExpectedVersion;
}

export interface ReadStreamOptions {
  /** First version to read (default 0 forward, the last version backward). */
  fromVersion?: number;
  /** Most events to return (default: all). */
  limit?: number;
  /** @deprecated the older name of `limit`, still accepted (both given and different is InvalidArgumentError). */
  maxCount?: number;
  direction?: 'forward' | 'backward';
}

export interface ReadAllOptions {
  fromPosition?: number;
  /** Most events to return (default: all). */
  limit?: number;
  /** @deprecated the older name of `limit`, still accepted (both given and different is InvalidArgumentError). */
  maxCount?: number;
  direction?: 'forward' | 'backward';
}

export interface ReplayOptions {
  fromPosition?: number;
  /** Stop before this position (default: the head when the replay reaches it). */
  toPosition?: number;
  /** Most events to deliver (default: all). */
  limit?: number;
  /** When false, JSON data stays as UTF-8 bytes (Uint8Array). Default true. */
  decodeData?: boolean;
}

export interface SubscribeOptions {
  fromPosition?: number;
}

export interface Subscription<T = unknown, M = unknown> extends AsyncIterableIterator<RecordedEvent<T, M>> {
  /** Stops the subscription; a pending `next()` resolves as done. */
  close(): void;
}

/** The options each call takes (checked: any other key is InvalidArgumentError). */
const APPEND_KEYS: OptionKeys<AppendOptions> = { expectedVersion: true };
const DELETE_STREAM_KEYS: OptionKeys<DeleteStreamOptions> = { expectedVersion: true };
const READ_STREAM_KEYS: OptionKeys<ReadStreamOptions> = { fromVersion: true, limit: true, maxCount: true, direction: true };
const READ_ALL_KEYS: OptionKeys<ReadAllOptions> = { fromPosition: true, limit: true, maxCount: true, direction: true };
const REPLAY_KEYS: OptionKeys<ReplayOptions> = { fromPosition: true, toPosition: true, limit: true, decodeData: true };
const SUBSCRIBE_KEYS: OptionKeys<SubscribeOptions> = { fromPosition: true };
const EVENT_FIELDS: OptionKeys<EventInput> = { type: true, data: true, metadata: true, id: true };

/** A stream's events, its delete and its cuts. */
const STREAM_KINDS: NamedKinds = { append: KIND_EVENT, deleted: KIND_EVENT_STREAM_DELETED, pruned: KIND_EVENT_STREAM_PRUNED };

/** Positions of events that a prune removes: per stream, how many of its oldest go. */
export type EventPrunePlan = CutPlan;

const encoder = new TextEncoder();
/**
 * Events per replay batch. Decoded batches stay small: 4,096 decoded events outlived V8's
 * young generation and caused old-space GC storms on Node (replay of 100k: 135–180 ms instead
 * of ~100 ms); 256 did not.
 */
const REPLAY_BATCH_DECODED = 256;
const REPLAY_BATCH_RAW = 2048;
const BINARY_HINT = 'binary values must be a Uint8Array: pass new Uint8Array(buffer), or new Uint8Array(view.buffer, view.byteOffset, view.byteLength)';

/** A Uint8Array subclass (Node's Buffer) as a plain Uint8Array over the same bytes, which is what reads return. */
function asUint8Array(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** JSON text longer than this is encoded once at validation instead of reserving 3 bytes per character. */
const LONG_TEXT_CHARS = 64 * 1024;

/** Text stored as UTF-8 must be well-formed: a lone surrogate would be written as U+FFFD and read back changed. */
function wellFormed(what: string, text: string): void {
  const at = loneSurrogateAt(text);
  if (at >= 0) throw new InvalidArgumentError(`${what} has a lone surrogate U+${text.charCodeAt(at).toString(16).toUpperCase()} at index ${at}, which UTF-8 cannot store; pass well-formed Unicode`);
}

export class Events extends NamedIndexPrimitive implements PrimitiveInstance<Events> {
  /** The streams: per name, the positions of its events (and names an old store holds more than once). */
  private readonly streams: NamedIndex;
  private readonly subscriptions = new Set<LiveSubscription>();
  private readonly cache = new StringCache();
  private readonly options: ResolvedOptions;

  /** @internal built by the registry (eventsPrimitive). */
  constructor(private readonly context: PrimitiveContext) {
    const streams = new NamedIndex(context, {
      kinds: STREAM_KINDS,
      what: 'stream',
      remedy: 'its events are still delivered by readAll and replay; events.deleteStream removes them all and frees the name',
      outOfOrder: (stream, version, expected, position) => `the event at position ${position} has version ${version} in stream '${stream}', expected ${expected}`,
    });
    super(streams);
    this.streams = streams;
    this.options = context.options;
    context.onAcknowledged(() => {
      for (const subscription of this.subscriptions) subscription.wake();
    });
    // Subscribers caught up on a failed store are told (no commit will come).
    context.onFailed(() => {
      for (const subscription of this.subscriptions) subscription.wake();
    });
  }

  /** @internal the primitive instance is this object; its API too. */
  get api(): Events {
    return this;
  }

  /** @internal acknowledged to their callers. */
  get acknowledgedPosition(): number {
    return this.context.acknowledgedPosition;
  }

  /** @internal what a subscription may deliver: acknowledged and readable (on a failed store, durable). */
  get deliverablePosition(): number {
    return Math.min(this.acknowledgedPosition, this.written);
  }

  /** @internal the store's failure, if it failed. */
  get failure(): Error | undefined {
    return this.context.failure;
  }

  /** @internal one entry found by recovery. */
  override recover(entry: RecoveredEntry): string | undefined {
    // A follower applies delete and cut records after reads began: log-order reads must check again.
    if (entry.name !== undefined && (entry.kind === KIND_EVENT_STREAM_DELETED || entry.kind === KIND_EVENT_STREAM_PRUNED) && this.mayHoldDead === false) this.mayHoldDead = true;
    return super.recover(entry);
  }

  /**
   * @internal What `prune` would remove: events before `beforePosition`, and the oldest of
   * each stream in `maxCounts` beyond its count. Only written events; a suffix of each
   * stream stays, never shorter than its newest event (so a stream's versions go on once the
   * cut records are compacted away). Nothing changes until the cuts are written and applied.
   */
  planCuts(beforePosition: number, maxCounts: ReadonlyMap<string, number>): EventPrunePlan {
    const streams = this.streams;
    const plan = streams.newPlan();
    const core = this.context.core;
    maxCounts = new Map([...maxCounts].map(([stream, maxCount]) => [normalizeName(core, `prune: streams['${stream}']`, stream).text, maxCount]));
    for (const state of streams.values()) {
      // A name an old store holds more than once keeps every event (none can be told apart).
      if (streams.conflicted(state.name)) continue;
      const count = streams.visibleCount(state);
      let cut = streams.countBelow(state, beforePosition, count);
      const maxCount = maxCounts.get(state.name);
      if (maxCount !== undefined) cut = Math.max(cut, count - maxCount);
      streams.addCut(plan, state, Math.min(cut, count - 1));
    }
    return streams.finishPlan(plan);
  }

  /** @internal this primitive's part of a prune (the policy from `eventsPrimitive.checkPrune`): 0x32 records, applied once durable. */
  planPrune(policy: unknown): PrunePart {
    const { beforePosition, maxCounts } = policy as EventPrunePolicy;
    // A stream deleted since is left alone (its delete came later); once cut, log-order reads check each event.
    return this.streams.prunePart(this.planCuts(beforePosition, maxCounts), { applied: () => (this.mayHoldDead = true) });
  }

  /** @internal */
  stats(): Record<string, number> {
    return { streams: this.streamCount };
  }

  /** @internal a run's events are its stream `run:<id>` (runs.ts): deleting the run deletes them. */
  dropRun(runId: string): void {
    if (this.streams.delete(runStreamName(runId))) this.mayHoldDead = true;
  }

  /** @internal */
  close(): void {
    this.closeSubscriptions();
  }

  /**
   * Whether the log may hold event entries the index no longer shows (deleted or cut, not yet
   * compacted): only then do log-order reads check each event against the index.
   */
  private mayHoldDead: boolean | undefined;

  /** After open, whether the log holds more event entries than the index shows (counted once, from the index). */
  private countDead(): boolean {
    const written = this.written;
    const entries = this.context.countKind(KIND_EVENT, written);
    let shown = 0;
    for (const state of this.streams.values()) shown += this.streams.visibleCount(state) + this.streams.conflictCount(state.name);
    return entries !== shown;
  }

  /** Whether a decoded event is one the index still shows (not deleted or pruned). */
  private isLive(event: RecordedEvent): boolean {
    this.mayHoldDead ??= this.countDead();
    if (!this.mayHoldDead) return true;
    // An old store's event may carry its name in another normal form than the index's (names.ts).
    let name = event.stream;
    if (!this.streams.has(name)) {
      try {
        name = normalizeName(this.context.core, 'stream', name).text;
      } catch {
        return true;
      }
    }
    if (this.streams.conflicted(name)) return true;
    const state = this.streams.get(name);
    return state !== undefined && state.positions[event.streamVersion - state.first] === event.position;
  }

  /** @internal */
  get streamCount(): number {
    return this.streams.size;
  }

  /** @internal */
  closeSubscriptions(): void {
    for (const subscription of this.subscriptions) subscription.close();
  }

  private get written(): number {
    return this.context.writtenPosition;
  }

  /** The last version of a stream, or undefined if it has no events. */
  streamVersion(stream: string, options?: NoOptions): number | undefined {
    this.context.checkOpen();
    checkNoOptions('streamVersion', options);
    const state = this.streams.get(this.lookup(stream));
    const count = state ? this.streams.visibleCount(state) : 0;
    return count > 0 ? state!.first + count - 1 : undefined;
  }

  /** Position of the last entry in the log, or -1 when the log is empty. */
  get headPosition(): number {
    this.context.checkOpen();
    return this.written - 1;
  }

  /** Names of all streams, in order of first append. */
  streamNames(): string[] {
    this.context.checkOpen();
    return [...this.streams.values()].filter((state) => this.streams.visibleCount(state) > 0).map((state) => state.name);
  }

  /**
   * Appends `events` to `stream` as one all-or-nothing frame. `T` and `M` type the data and
   * metadata of what is returned (not checked at run time).
   */
  append<T = unknown, M = unknown>(stream: string, events: readonly EventInput<T, M>[], options?: AppendOptions): Promise<RecordedEvent<T, M>[]> {
    return this.appendEvents(stream, events, options) as Promise<RecordedEvent<T, M>[]>;
  }

  private appendEvents(stream: string, events: readonly EventInput[], options: AppendOptions | undefined): Promise<RecordedEvent[]> {
    let pending: PendingEvent[];
    let streamBytes: Uint8Array;
    let expected: ExpectedVersion;
    const returned: unknown[] = [];
    try {
      this.context.checkWritable();
      ({ text: stream, bytes: streamBytes } = this.checkStream(stream));
      expected = this.checkExpected(checkOptions('append', options, APPEND_KEYS));
      pending = this.encodeInputs(streamBytes, events, returned);
    } catch (error) {
      return Promise.reject(error);
    }
    const idsGiven = (events as EventInput[]).every((event) => event.id !== undefined);
    let retryChecked: RecordedEvent[] | null | undefined;
    return this.context.submit<RecordedEvent[]>({
      prepare: (firstPosition, writer) => {
        const state = this.streams.get(stream);
        const current = this.streams.nextVersion(state) - 1;
        const ok = expected === 'any' || (expected === 'no_stream' ? current === -1 : expected === 'stream_exists' ? current >= 0 : current === expected);
        if (idsGiven && state && (!ok || expected === 'any' || expected === 'stream_exists')) {
          // An append whose ids are already the events right after its expected version (or,
          // for 'any'/'stream_exists', the stream's last events) is a retry of a success.
          if (retryChecked === undefined) {
            const from = typeof expected === 'number' ? expected + 1 : expected === 'no_stream' ? 0 : current - pending.length + 1;
            return { wait: this.findRetry(state, from, events).then((found) => void (retryChecked = found ?? null)) };
          }
          if (retryChecked) return { done: retryChecked };
        }
        if (!ok) throw new WrongExpectedVersionError(stream, expected, current < 0 ? 'no_stream' : current);
        return this.writeAppend(state ?? this.streams.fresh(stream, streamBytes), pending, events, returned, current, firstPosition, writer);
      },
    });
  }

  /**
   * Deletes every event of `stream` (an erasure). Its events leave every read at once (the
   * stream is then unknown: readStream throws StreamNotFoundError, streamVersion is
   * undefined); the next `prune` or `compact` removes their bytes from disk. The name may be
   * used again and starts over at version 0. `expectedVersion` is checked as for `append`.
   * Resolves to the number of events deleted (0, writing nothing, when the stream has none).
   */
  deleteStream(stream: string, options: DeleteStreamOptions = {}): Promise<number> {
    let streamBytes: Uint8Array;
    let expected: ExpectedVersion;
    try {
      this.context.checkWritable();
      // A name an old store holds more than once can be deleted (all of it): that is the way out.
      ({ text: stream, bytes: streamBytes } = checkName(this.context.core, 'stream', stream, this.options.maxStreamBytes, (text) => this.streams.nameBytes(text)));
      expected = this.checkExpected(checkOptions('deleteStream', options, DELETE_STREAM_KEYS));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.context.submit<number>({
      prepare: (_firstPosition, writer) => {
        const state = this.streams.get(stream);
        const current = this.streams.nextVersion(state) - 1;
        const conflicted = this.streams.conflicted(stream);
        const ok = expected === 'any' || (!conflicted && (expected === 'no_stream' ? current === -1 : expected === 'stream_exists' ? current >= 0 : current === expected));
        if (!ok) throw conflicted ? new InvalidArgumentError(`stream '${stream}' is held more than once by this store: delete it with expectedVersion 'any'`) : new WrongExpectedVersionError(stream, expected, current < 0 ? 'no_stream' : current);
        if (!state) return { done: 0 };
        writeCutRecord(writer, KIND_EVENT_STREAM_DELETED, streamBytes, current + 1, Date.now());
        const count = state.positions.length + this.streams.conflictCount(stream);
        return {
          count: 1,
          // In commit order, as appends stage theirs: a later append starts the name at version 0.
          apply: () => {
            this.streams.erase(state);
            this.mayHoldDead = true;
          },
          result: () => count,
        };
      },
    });
  }

  /** Writes the events as entries of the frame being built; `apply` stages them in the stream's state. */
  private writeAppend(state: NamedState, pending: PendingEvent[], inputs: readonly EventInput[], returned: unknown[], current: number, firstPosition: number, writer: EntryWriter): Prepared<RecordedEvent[]> {
    const timestamp = Date.now();
    const { name: stream, nameBytes: streamBytes } = state;
    for (let index = 0; index < pending.length; index++) {
      const event = pending[index]!;
      const pointer = writer.reservePayload(maxEncodedSize(streamBytes, event));
      writer.endPayload(KIND_EVENT, writeEvent(writer.u8, pointer, streamBytes, event, current + 1 + index, timestamp));
    }
    return {
      count: pending.length,
      apply: () => this.streams.stage(state, firstPosition, pending.length),
      result: (position) => {
        const recorded: RecordedEvent[] = new Array(pending.length);
        for (let index = 0; index < pending.length; index++) {
          const input = inputs[index]!;
          recorded[index] = { id: pending[index]!.id, stream, type: input.type, data: returned[2 * index], metadata: returned[2 * index + 1], streamVersion: current + 1 + index, position: position + index, timestamp };
        }
        return recorded;
      },
    };
  }

  /** A stream id to write to, in NFC (names.ts). */
  private checkStream(stream: unknown): Name {
    const name = checkName(this.context.core, 'stream', stream, this.options.maxStreamBytes, (text) => this.streams.nameBytes(text));
    this.streams.checkConflict(name.text);
    return name;
  }

  /** A stream id to look up: its NFC form (any length: a name too long was never written). */
  private lookup(stream: unknown): string {
    const text = typeof stream === 'string' && this.streams.has(stream) ? stream : normalizeName(this.context.core, 'stream', stream).text;
    this.streams.checkConflict(text);
    return text;
  }

  private checkExpected(options: AppendOptions): ExpectedVersion {
    const expected = options.expectedVersion === undefined ? 'any' : options.expectedVersion;
    if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected;
    if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return expected;
    throw new InvalidArgumentError(`expectedVersion must be 'any', 'no_stream', 'stream_exists' or a non-negative integer, got ${describe(expected)}`);
  }

  private readonly typeCache = new Map<string, Uint8Array>();

  /** Checks and encodes the events; `returned` gets each one's data and metadata as reads will return them. */
  private encodeInputs(streamBytes: Uint8Array, events: readonly EventInput[], returned: unknown[]): PendingEvent[] {
    if (!Array.isArray(events)) throw new InvalidArgumentError(`events must be an array of { type, data }, got ${describe(events)}`);
    if (events.length === 0) throw new InvalidArgumentError('events must not be empty');
    if (events.length > this.options.maxBatchEvents) throw new InvalidArgumentError(`at most ${this.options.maxBatchEvents} events per append, got ${events.length}`);
    const { maxTypeBytes, maxIdBytes, maxEventBytes, maxBatchBytes } = this.options;
    const pending: PendingEvent[] = new Array(events.length);
    let total = 0;
    const seenIds = events.length > 1 ? new Set<string>() : undefined;
    const redact = this.options.redact !== undefined;
    for (let index = 0; index < events.length; index++) {
      const event = events[index];
      const where = `events[${index}]`;
      if (event === null || typeof event !== 'object') throw new InvalidArgumentError(`${where} must be an object { type, data }, got ${describe(event)}`);
      checkKeys('field', where, event, EVENT_FIELDS); // a misspelt id or metadata must not be dropped silently
      if (typeof event.type !== 'string') throw new InvalidArgumentError(`${where}.type must be a string, got ${describe(event.type)}`);
      let type = this.typeCache.get(event.type);
      if (!type) {
        wellFormed(`${where}.type`, event.type);
        type = encoder.encode(event.type);
        if (type.length < 1 || type.length > maxTypeBytes) throw new InvalidArgumentError(`${where}.type must be 1 to ${maxTypeBytes} UTF-8 bytes, got ${type.length}`);
        if (this.typeCache.size < 4096) this.typeCache.set(event.type, type);
      }
      let id: string;
      if (event.id === undefined) id = crypto.randomUUID();
      else {
        if (typeof event.id !== 'string') throw new InvalidArgumentError(`${where}.id must be a string, got ${describe(event.id)}`);
        id = event.id;
        wellFormed(`${where}.id`, id);
        const idBytes = id.length * 3 <= maxIdBytes && id.length > 0 ? id.length : encoder.encode(id).length;
        if (idBytes < 1 || idBytes > maxIdBytes) throw new InvalidArgumentError(`${where}.id must be 1 to ${maxIdBytes} UTF-8 bytes, got ${idBytes}`);
        if (seenIds?.has(id)) throw new InvalidArgumentError(`${where}.id '${id}' appears twice in one append`);
        seenIds?.add(id);
      }
      // The `redact` option sees each value before anything is encoded (what it returns is stored and returned).
      const eventData = redact ? this.context.redact(event.data, { primitive: 'events', field: 'data' }) : event.data;
      const eventMetadata = redact && event.metadata !== undefined ? this.context.redact(event.metadata, { primitive: 'events', field: 'metadata' }) : event.metadata;
      // What append returns is what reads will: the given value when JSON stores it exactly.
      const binary = eventData instanceof Uint8Array;
      let data: string | Uint8Array;
      let returnedData: unknown;
      if (binary) {
        data = eventData as Uint8Array;
        returnedData = asUint8Array(data);
      } else {
        const json = jsonText(eventData, `append: ${where}.data`, BINARY_HINT);
        data = json.text;
        returnedData = json.exact ? eventData : JSON.parse(data);
        if (data.length > LONG_TEXT_CHARS) data = encoder.encode(data);
      }
      const binaryMetadata = eventMetadata instanceof Uint8Array;
      let metadata: string | Uint8Array | undefined;
      let returnedMetadata: unknown;
      if (binaryMetadata) {
        metadata = eventMetadata as Uint8Array;
        returnedMetadata = asUint8Array(metadata);
      } else if (eventMetadata !== undefined) {
        const json = jsonText(eventMetadata, `append: ${where}.metadata`, BINARY_HINT);
        metadata = json.text;
        returnedMetadata = json.exact ? eventMetadata : JSON.parse(metadata);
        if (metadata.length > LONG_TEXT_CHARS) metadata = encoder.encode(metadata);
      }
      // Two per event, always pushed: a packed array (reading a hole or past the end is slow in V8).
      returned.push(returnedData, returnedMetadata);
      const entry: PendingEvent = { type, id, data, binary, metadata, binaryMetadata };
      let size = maxEncodedSize(streamBytes, entry);
      if (size > maxEventBytes) {
        size = exactEncodedSize(streamBytes, entry);
        if (size > maxEventBytes) {
          throw new EventTooLargeError(`${where} is ${size} bytes encoded, over the limit of ${maxEventBytes} (maxEventBytes); store large blobs elsewhere and record a reference`, size, maxEventBytes);
        }
      }
      total += size;
      pending[index] = entry;
    }
    if (total > maxBatchBytes) {
      total = pending.reduce((sum, entry) => sum + exactEncodedSize(streamBytes, entry), 0);
      if (total > maxBatchBytes) throw new EventTooLargeError(`the append is ${total} bytes encoded, over the limit of ${maxBatchBytes} (maxBatchBytes); split it`, total, maxBatchBytes);
    }
    return pending;
  }


  private async findRetry(state: NamedState, fromVersion: number, inputs: readonly EventInput[]): Promise<RecordedEvent[] | undefined> {
    // Versions before `first` were pruned: a retry of them can no longer be recognised.
    const from = fromVersion - state.first;
    if (from < 0 || from + inputs.length > state.positions.length) return undefined;
    const positions = state.positions.slice(from, from + inputs.length);
    if (positions[positions.length - 1]! >= this.written) return undefined;
    const found: RecordedEvent[] = [];
    let same = true;
    await this.context.readPositions(positions, (position, bytes, start, length) => {
      if (!same) return;
      if (decodeEventId(bytes, start) !== inputs[found.length]!.id) same = false;
      else found.push(decodeEvent(bytes, start, length, position, true, this.cache));
    });
    return same && found.length === inputs.length ? found : undefined;
  }

  /** Reads events of one stream. Unknown stream: StreamNotFoundError; past the end: []. */
  async readStream<T = unknown, M = unknown>(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent<T, M>[]> {
    this.context.checkOpen();
    options = checkOptions('readStream', options, READ_STREAM_KEYS);
    stream = this.lookup(stream);
    const maxCount = checkLimit('readStream', options);
    const direction = checkDirection(options.direction);
    const state = this.streams.get(stream);
    const count = state ? this.streams.visibleCount(state) : 0;
    if (!state || count === 0) throw new StreamNotFoundError(stream);
    // Indexes into positions, which start at version `first` (older versions were pruned).
    let positions: number[];
    if (direction === 'forward') {
      const from = options.fromVersion === undefined ? 0 : Math.max(0, checkCount('fromVersion', options.fromVersion) - state.first);
      positions = state.positions.slice(from, Math.min(count, from + maxCount));
    } else {
      const version = options.fromVersion === undefined ? Infinity : checkCount('fromVersion', options.fromVersion);
      const from = Math.min(version - state.first, count - 1);
      positions = from < 0 ? [] : state.positions.slice(Math.max(0, from - maxCount + 1), from + 1);
    }
    const events = (await this.readPositions(positions)) as RecordedEvent<T, M>[];
    return direction === 'forward' ? events : events.reverse();
  }

  private async readPositions(positions: number[]): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    if (positions.length === 0 || maxOf(positions) < 0) return events;
    await this.context.readPositions(positions, (position, bytes, start, length) => {
      events.push(decodeEvent(bytes, start, length, position, true, this.cache));
    });
    return events;
  }

  /** Reads events across all streams in log order. Never throws for range. */
  async readAll<T = unknown, M = unknown>(options?: ReadAllOptions): Promise<RecordedEvent<T, M>[]> {
    this.context.checkOpen();
    options = checkOptions('readAll', options, READ_ALL_KEYS);
    const maxCount = checkLimit('readAll', options);
    const direction = checkDirection(options.direction);
    const written = this.written;
    const events: RecordedEvent<T, M>[] = [];
    if (maxCount === 0 || written === 0) return events;
    // Other primitives' entries (checkpoints) share the positions: read on until maxCount
    // events are found or the log ends.
    if (direction === 'forward') {
      let from = options.fromPosition === undefined ? 0 : checkCount('fromPosition', options.fromPosition);
      while (events.length < maxCount && from < written) {
        const to = Math.min(written, from + Math.max(maxCount - events.length, 256));
        await this.context.readRange(from, to, (kind, position, bytes, start, length) => {
          if (kind !== KIND_EVENT || events.length >= maxCount) return;
          const event = decodeEvent(bytes, start, length, position, true, this.cache);
          if (this.isLive(event)) events.push(event as RecordedEvent<T, M>);
        });
        from = to;
      }
      return events;
    }
    let cursor = options.fromPosition === undefined ? written - 1 : Math.min(checkCount('fromPosition', options.fromPosition), written - 1);
    while (events.length < maxCount && cursor >= 0) {
      const low = Math.max(0, cursor - Math.max(maxCount - events.length, 256) + 1);
      const found: RecordedEvent<T, M>[] = [];
      await this.context.readRange(low, cursor + 1, (kind, position, bytes, start, length) => {
        if (kind !== KIND_EVENT) return;
        const event = decodeEvent(bytes, start, length, position, true, this.cache);
        if (this.isLive(event)) found.push(event as RecordedEvent<T, M>);
      });
      for (let index = found.length - 1; index >= 0 && events.length < maxCount; index--) events.push(found[index]!);
      cursor = low - 1;
    }
    return events;
  }

  /** Streams the log from `fromPosition` with large sequential reads, in bounded memory. */
  replay<T = unknown, M = unknown>(options?: ReplayOptions): AsyncIterableIterator<RecordedEvent<T, M>> {
    this.context.checkOpen();
    options = checkOptions('replay', options, REPLAY_KEYS);
    const from = options.fromPosition === undefined ? 0 : checkCount('fromPosition', options.fromPosition);
    const stop = options.toPosition === undefined ? Infinity : checkCount('toPosition', options.toPosition);
    const decodeData = checkBoolean('decodeData', options.decodeData, true);
    let remaining = checkLimit('replay', options);
    // A hand-written iterator: an async generator costs a promise chain per event.
    return new BatchIterator<RecordedEvent<T, M>>(async (position) => {
      this.context.checkOpen();
      if (remaining <= 0) return { batch: [], next: position, done: true };
      const to = Math.min(stop, this.written, position + (decodeData ? REPLAY_BATCH_DECODED : REPLAY_BATCH_RAW));
      let batch: RecordedEvent<T, M>[] = [];
      if (position < to) {
        await this.context.readRange(position, to, (kind, at, bytes, start, length) => {
          if (kind !== KIND_EVENT) return;
          const event = decodeEvent(bytes, start, length, at, decodeData, this.cache);
          if (this.isLive(event)) batch.push(event as RecordedEvent<T, M>);
        });
      }
      if (batch.length >= remaining) batch = batch.slice(0, remaining);
      remaining -= batch.length;
      return { batch, next: Math.max(position, to), done: position >= to || remaining <= 0 };
    }, from);
  }

  /** Delivers events from `fromPosition` (default: from the start), then follows new commits as they are acknowledged. */
  subscribe<T = unknown, M = unknown>(options?: SubscribeOptions): Subscription<T, M> {
    this.context.checkOpen();
    options = checkOptions('subscribe', options, SUBSCRIBE_KEYS);
    const from = options.fromPosition === undefined ? 0 : checkCount('fromPosition', options.fromPosition);
    const subscription = new LiveSubscription(this, from, (events: LiveSubscription) => this.subscriptions.delete(events));
    this.subscriptions.add(subscription);
    return subscription as unknown as Subscription<T, M>;
  }

  /** @internal reads acknowledged events [from, to) for a subscription. */
  async readAcknowledged(from: number, limit: number): Promise<{ events: RecordedEvent[]; next: number }> {
    const to = Math.min(this.deliverablePosition, from + limit);
    const events: RecordedEvent[] = [];
    if (from < to) {
      await this.context.readRange(from, to, (kind, position, bytes, start, length) => {
        if (kind !== KIND_EVENT) return;
        const event = decodeEvent(bytes, start, length, position, true, this.cache);
        if (this.isLive(event)) events.push(event);
      });
    }
    return { events, next: Math.max(from, to) };
  }
}

/** Async iteration over batches loaded on demand, with one resolved promise per event. */
class BatchIterator<E> implements AsyncIterableIterator<E> {
  private batch: E[] = [];
  private index = 0;
  private finished = false;

  constructor(private readonly load: (position: number) => Promise<{ batch: E[]; next: number; done: boolean }>, private position: number) {}

  next(): Promise<IteratorResult<E>> {
    if (this.index < this.batch.length) return Promise.resolve({ done: false, value: this.batch[this.index++]! });
    return this.refill();
  }

  private async refill(): Promise<IteratorResult<E>> {
    while (!this.finished) {
      const { batch, next, done } = await this.load(this.position);
      this.position = next;
      this.finished = done;
      this.batch = batch;
      this.index = 0;
      if (batch.length > 0) return { done: false, value: this.batch[this.index++]! };
    }
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<E>> {
    this.finished = true;
    this.batch = [];
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function maxOf(values: number[]): number {
  return values.length ? values[values.length - 1]! : -1;
}

class LiveSubscription implements Subscription {
  private buffer: RecordedEvent[] = [];
  private index = 0;
  private waiting: (() => void) | undefined;
  private closed = false;

  constructor(private readonly events: Events, private cursor: number, private readonly onClose: (subscription: LiveSubscription) => void) {}

  wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    this.wake();
  }

  async next(): Promise<IteratorResult<RecordedEvent>> {
    while (this.index >= this.buffer.length) {
      if (this.closed) return { done: true, value: undefined };
      if (this.cursor < this.events.deliverablePosition) {
        const { events, next } = await this.events.readAcknowledged(this.cursor, 4096);
        this.cursor = next;
        this.buffer = events;
        this.index = 0;
        continue;
      }
      // Caught up with what the failed store acknowledged: nothing more will come.
      const failure = this.events.failure;
      if (failure) {
        this.close();
        throw failure;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    return { done: false, value: this.buffer[this.index++]! };
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    this.close();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The stream of run `runId`'s own events (`run.events`). */
export function runStreamName(runId: string): string {
  return `run:${runId}`;
}

/** What `prune({ events, streams })` asks of the events primitive. */
interface EventPrunePolicy {
  beforePosition: number;
  maxCounts: Map<string, number>;
}

const EVENT_RETENTION_KEYS: OptionKeys<EventRetention> = { beforePosition: true };
const STREAM_RETENTION_KEYS: OptionKeys<StreamRetention> = { keepLast: true, maxCount: true };

export interface EventRetention {
  beforePosition?: number;
}

/** One of `keepLast` or its older name `maxCount` (both given and different is InvalidArgumentError). */
export interface StreamRetention {
  /** Keep the newest this many (at least 1) events of the stream. */
  keepLast?: number;
  /** @deprecated the older name of `keepLast`, still accepted. */
  maxCount?: number;
}

function checkEventPrune(given: Readonly<Record<string, unknown>>): EventPrunePolicy {
  const events = checkOptions('prune.events', given.events as EventRetention | undefined, EVENT_RETENTION_KEYS);
  const beforePosition = events.beforePosition === undefined ? 0 : pruneInteger('events.beforePosition', events.beforePosition);
  const maxCounts = new Map<string, number>();
  const streams = checkObject('prune.streams', given.streams as object | undefined) as Record<string, unknown>;
  for (const [stream, rule] of Object.entries(streams)) {
    const where = `prune.streams['${stream}']`;
    const retention = checkOptions(where, rule as StreamRetention | undefined, STREAM_RETENTION_KEYS);
    const keepLast = aliasedOption(where, retention, 'keepLast', 'maxCount');
    maxCounts.set(stream, pruneInteger(`streams['${stream}'].${retention.keepLast === undefined && retention.maxCount !== undefined ? 'maxCount' : 'keepLast'}`, keepLast, 1));
  }
  return { beforePosition, maxCounts };
}

/** Events in streams (docs/FORMAT.md §8): kinds 0x30 event, 0x31 stream deleted, 0x32 stream pruned. */
export const eventsPrimitive: PrimitiveSpec<Events> = {
  name: 'events',
  kinds: [0x30, 0x3f],
  ...namedIndexKinds(STREAM_KINDS),
  section: 2,
  pruneKeys: ['events', 'streams'],
  checkPrune: checkEventPrune,
  create: (context) => new Events(context),
};
