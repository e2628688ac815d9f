/**
 * Key-value: `db.kv` (store-wide) and `db.kv.forRun(runId)` (one run's keys). Each put or
 * delete is one entry (kinds 0x10, 0x11; docs/FORMAT.md §8.4); the index in memory
 * (kv-index.ts) maps each key to the position of its last write, so a read is a map lookup
 * and, unless the value is cached, one read of its entry. `version` is that position.
 */
import { ConflictError, InvalidArgumentError } from '../errors.js';
import type { EntryWriter, Prepared } from '../engine/commit.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec, PrunePart, RecoveredEntry } from '../engine/primitive.js';
import { checkName, type Name } from '../names.js';
import { decodeNamedEntry } from './named-entry.js';
import { checkBoolean, checkLimit, checkOptions, describe, jsonText, type OptionKeys } from '../validate.js';
import { decodeCursor, decodeKvValue, decodeSection, encodeCursor, encodeSection, exactEntryBytes, KIND_KV_DELETE, KIND_KV_PUT, kvEntryRunId, MAX_KEY_BYTES, maxEntryBytes, searchKeys, compareKeys, writeKvEntry, type SectionScope } from './kv-codec.js';
import { CACHE_BUDGET_BYTES, isExpired, KvScope, ValueCache, type KvRecord } from './kv-index.js';

/** A key's value as read: `version` is the position of the key's last write. */
export interface KvEntry<V = unknown> {
  value: V;
  version: number;
}

export interface KvListItem<V = unknown> extends KvEntry<V> {
  key: string;
}

export interface KvPutOptions {
  /** `null`: the key must not exist; a number: the key's current version (the position of its last write). A mismatch is ConflictError, nothing written. */
  expectedVersion?: number | null;
  /** The key disappears from reads this many milliseconds after the put (and from disk at the next prune). */
  expireInMs?: number;
}

export interface KvDeleteOptions {
  /** As for put: `null` (must not exist) or the key's current version. */
  expectedVersion?: number | null;
}

export interface KvListOptions {
  /** Only keys starting with this (after NFC). */
  prefix?: string;
  /** Keys ≥ this (inclusive). */
  start?: string;
  /** Keys < this (exclusive). */
  end?: string;
  /** At most this many items (default: all). */
  limit?: number;
  /** Descending key order. */
  reverse?: boolean;
  /** Continue after the last item of a previous page (its `cursor`). */
  cursor?: string;
}

export interface KvListPage<V = unknown> {
  items: KvListItem<V>[];
  /** Pass to the next call for the next page; undefined when there are no more items. */
  cursor: string | undefined;
}

/** A ConflictError of a key: what was expected and what is there (null: the key does not exist). */
export type KvConflictError = ConflictError & { key: string; expected: number | null; actual: number | null };

/** The key-value API of one scope. */
export interface KvApi {
  get<V = unknown>(key: string): Promise<KvEntry<V> | undefined>;
  getMany<V = unknown>(keys: readonly string[]): Promise<(KvEntry<V> | undefined)[]>;
  put(key: string, value: unknown, options?: KvPutOptions): Promise<{ version: number }>;
  delete(key: string, options?: KvDeleteOptions): Promise<boolean>;
  list<V = unknown>(options?: KvListOptions): Promise<KvListPage<V>>;
}

/** `db.kv`: the store-wide keys, and `forRun(runId)` for a run's own. */
export interface Kv extends KvApi {
  forRun(runId: string): KvApi;
}

const PUT_KEYS: OptionKeys<KvPutOptions> = { expectedVersion: true, expireInMs: true };
const DELETE_KEYS: OptionKeys<KvDeleteOptions> = { expectedVersion: true };
const LIST_KEYS: OptionKeys<KvListOptions> = { prefix: true, start: true, end: true, limit: true, reverse: true, cursor: true };
const BINARY_HINT = 'binary values must be a Uint8Array: pass new Uint8Array(buffer), or new Uint8Array(view.buffer, view.byteOffset, view.byteLength)';
const VALUE_FIELD = { primitive: 'kv', field: 'value' };
const ASCII = /^[\x00-\x7f]*$/;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
/** 2^48 ms (about 8,900 years): keeps `expiresAt` a safe integer. */
const MAX_EXPIRE_IN_MS = 2 ** 48;
/** Reads that found a value pruned meanwhile start again from the index (which moved on); after this many, give up. */
const READ_ATTEMPTS = 8;

function conflict(runId: string, key: string, expected: number | null, actual: number | null): KvConflictError {
  const shown = (version: number | null) => (version === null ? 'null (no such key)' : `version ${version}`);
  const where = runId === '' ? `kv key '${key}'` : `kv key '${key}' of run '${runId}'`;
  const error = new ConflictError(`${where}: expected ${shown(expected)} but it is at ${shown(actual)}; nothing was written`) as KvConflictError;
  error.key = key;
  error.expected = expected;
  error.actual = actual;
  return error;
}

function checkExpected(where: string, value: unknown): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new InvalidArgumentError(`${where}: expectedVersion must be null (the key must not exist) or a version (a non-negative integer), got ${describe(value)}`);
}

/** The value as a read returns it: parsed JSON, or a copy of the bytes. */
function valueOf(stored: string | Uint8Array): unknown {
  return typeof stored === 'string' ? JSON.parse(stored) : new Uint8Array(stored);
}

/** A key checked for a write or lookup: the NFC text, and its bytes unless it is ASCII (then its length is its byte count). */
interface Key {
  text: string;
  bytes: Uint8Array | undefined;
}

/** Thrown by a read that found an entry pruned meanwhile: the read starts again. */
class PrunedMeanwhile extends Error {}

export class KvStore implements PrimitiveInstance<Kv> {
  readonly cache = new ValueCache(CACHE_BUDGET_BYTES);
  readonly root: KvScope;
  private readonly scopes = new Map<string, KvScope>();
  /** Positions of entries of kinds 0x12–0x1F (a newer reeldb's): kept intact. */
  private kept: number[] = [];
  /** Deletes applied but not yet written: their records go once they are. */
  private pendingDeletes: { scope: KvScope; record: KvRecord }[] = [];
  /** Reads waiting for a write they must not run ahead of. */
  private waiters: { position: number; resolve(): void; reject(error: unknown): void }[] = [];
  readonly api: Kv;
  private readonly maxEventBytes: number;

  constructor(readonly context: PrimitiveContext) {
    this.root = new KvScope('', EMPTY, this.cache);
    this.scopes.set('', this.root);
    this.maxEventBytes = context.options.maxEventBytes;
    this.api = new StoreKv(this);
    context.onAcknowledged(() => {
      if (this.pendingDeletes.length > 0) this.sweepDeletes();
      if (this.waiters.length > 0) this.wake();
    });
    context.onFailed((failure) => {
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter.reject(failure);
    });
  }

  // ---- scopes and keys

  scope(runId: string): KvScope | undefined {
    return runId === '' ? this.root : this.scopes.get(runId);
  }

  private scopeFor(runId: string, runIdBytes: Uint8Array): KvScope {
    let scope = this.scopes.get(runId);
    if (!scope) {
      scope = new KvScope(runId, runIdBytes, this.cache);
      this.scopes.set(runId, scope);
    }
    return scope;
  }

  /** A key for a write or a lookup (the name policy: NFC, no lone surrogate, 1 to 1,024 UTF-8 bytes). */
  checkKey(where: string, key: unknown): Key {
    if (typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_BYTES && ASCII.test(key)) return { text: key, bytes: undefined };
    const name: Name = checkName(this.context.core, `${where}: key`, key, MAX_KEY_BYTES);
    return { text: name.text, bytes: name.bytes.length === name.text.length && ASCII.test(name.text) ? undefined : name.bytes };
  }

  // ---- reads

  private get written(): number {
    return this.context.writtenPosition;
  }

  /** Resolves once the entry at `position` is readable (a read never runs ahead of the log). */
  private waitWritten(position: number): Promise<void> {
    const failure = this.context.failure;
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => this.waiters.push({ position, resolve, reject }));
  }

  private wake(): void {
    const written = this.written;
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (waiter.position < written) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }

  private sweepDeletes(): void {
    const written = this.written;
    const pending = this.pendingDeletes;
    this.pendingDeletes = [];
    for (const item of pending) {
      if (item.record.position >= written) this.pendingDeletes.push(item);
      else if (item.scope.records.get(item.record.key) === item.record) item.scope.remove(item.record.key);
    }
  }

  /**
   * The visible record of a key: undefined when absent, deleted or expired (an expired or
   * written-deleted record is forgotten here); `pending` when its last write is not readable yet.
   * `now`: the clock for expiry, or 0 to read it only when the key has an expiry.
   */
  private visible(scope: KvScope, key: string, now: number): KvRecord | undefined | 'pending' {
    const record = scope.records.get(key);
    if (record === undefined) return undefined;
    if (record.position >= this.written) return 'pending';
    if (record.deleted || (record.expiresAt !== 0 && record.expiresAt <= (now || Date.now()))) {
      scope.remove(key);
      return undefined;
    }
    return record;
  }

  async get(runId: string, keyGiven: unknown): Promise<KvEntry | undefined> {
    this.context.checkOpen();
    const key = typeof keyGiven === 'string' && this.root.records.has(keyGiven) ? keyGiven : this.checkKey('kv.get', keyGiven).text;
    for (let attempt = 0; ; attempt++) {
      const scope = this.scope(runId);
      if (!scope) return undefined;
      const record = this.visible(scope, key, 0);
      if (record === undefined) return undefined;
      if (record === 'pending') {
        await this.waitWritten(scope.records.get(key)!.position);
        continue;
      }
      if (record.cached !== undefined) return { value: valueOf(record.cached), version: record.position };
      try {
        const [stored] = await this.readValues(scope, [record]);
        return { value: valueOf(stored!), version: record.position };
      } catch (error) {
        if (!(error instanceof PrunedMeanwhile) || attempt >= READ_ATTEMPTS) throw error;
      }
    }
  }

  async getMany(runId: string, keysGiven: unknown): Promise<(KvEntry | undefined)[]> {
    this.context.checkOpen();
    if (!Array.isArray(keysGiven)) throw new InvalidArgumentError(`kv.getMany: keys must be an array of strings, got ${describe(keysGiven)}`);
    const keys = keysGiven.map((key, index) => this.checkKey(`kv.getMany: keys[${index}]`, key).text);
    for (let attempt = 0; ; attempt++) {
      // Every record taken from the index at one moment (entries never change once written).
      const scope = this.scope(runId);
      if (!scope) return keys.map(() => undefined);
      const now = Date.now();
      const records: (KvRecord | undefined)[] = new Array(keys.length);
      let pending = -1;
      for (let index = 0; index < keys.length; index++) {
        const record = this.visible(scope, keys[index]!, now);
        if (record === 'pending') pending = Math.max(pending, scope.records.get(keys[index]!)!.position);
        else records[index] = record;
      }
      if (pending >= 0) {
        await this.waitWritten(pending);
        continue;
      }
      try {
        const stored = await this.readValues(scope, records);
        return records.map((record, index) => (record ? { value: valueOf(stored[index]!), version: record.position } : undefined));
      } catch (error) {
        if (!(error instanceof PrunedMeanwhile) || attempt >= READ_ATTEMPTS) throw error;
      }
    }
  }

  async list(runId: string, options: KvListOptions | undefined): Promise<KvListPage> {
    this.context.checkOpen();
    options = checkOptions('kv.list', options, LIST_KEYS);
    const bound = (name: 'prefix' | 'start' | 'end') => {
      const value = options![name];
      if (value === undefined) return undefined;
      if (typeof value !== 'string') throw new InvalidArgumentError(`kv.list: ${name} must be a string, got ${describe(value)}`);
      return value === '' ? '' : checkName(this.context.core, `kv.list: ${name}`, value, Infinity).text;
    };
    const prefix = bound('prefix') ?? '';
    const start = bound('start');
    const end = bound('end');
    const limit = checkLimit('kv.list', options);
    const reverse = checkBoolean('kv.list: reverse', options.reverse, false);
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor, reverse);
    for (let attempt = 0; ; attempt++) {
      const scope = this.scope(runId);
      if (!scope || limit === 0) return { items: [], cursor: undefined };
      const keys = scope.keys();
      // The index range [low, high) of the keys asked for.
      const from = start !== undefined && compareKeys(start, prefix) > 0 ? start : prefix;
      let low = searchKeys(keys, from, false);
      let high = end === undefined ? keys.length : searchKeys(keys, end, false);
      if (prefix !== '') high = Math.min(high, prefixEnd(keys, prefix, low));
      if (after !== undefined) {
        if (reverse) high = Math.min(high, searchKeys(keys, after, false));
        else low = Math.max(low, searchKeys(keys, after, true));
      }
      const now = Date.now();
      const records: KvRecord[] = [];
      let pending = -1;
      let more = false;
      for (let step = 0, index = reverse ? high - 1 : low; reverse ? index >= low : index < high; index += reverse ? -1 : 1, step++) {
        const key = keys[index]!;
        const record = scope.records.get(key);
        if (record === undefined) continue;
        if (record.position >= this.written) {
          pending = Math.max(pending, record.position);
          continue;
        }
        if (record.deleted || isExpired(record, now)) continue;
        if (records.length === limit) {
          more = true;
          break;
        }
        records.push(record);
      }
      if (pending >= 0) {
        await this.waitWritten(pending);
        continue;
      }
      try {
        const stored = await this.readValues(scope, records);
        const items = records.map((record, index) => ({ key: record.key, value: valueOf(stored[index]!), version: record.position }));
        return { items, cursor: more && items.length > 0 ? encodeCursor(items[items.length - 1]!.key, reverse) : undefined };
      } catch (error) {
        if (!(error instanceof PrunedMeanwhile) || attempt >= READ_ATTEMPTS) throw error;
      }
    }
  }

  /** The stored values of `records` (cached ones without a read); PrunedMeanwhile when an entry is gone. */
  private async readValues(scope: KvScope, records: readonly (KvRecord | undefined)[]): Promise<(string | Uint8Array | undefined)[]> {
    const values: (string | Uint8Array | undefined)[] = new Array(records.length);
    let positions: number[] | undefined;
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      if (!record) continue;
      if (record.cached !== undefined) values[index] = record.cached;
      else (positions ??= []).push(record.position);
    }
    if (!positions) return values;
    positions.sort((a, b) => a - b);
    const found = new Map<number, string | Uint8Array>();
    await this.context.readPositions(positions, (position, bytes, start, length) => {
      if (length > 0 && this.context.kindAt(position) === KIND_KV_PUT) found.set(position, decodeKvValue(bytes, start, length));
    });
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      if (!record || values[index] !== undefined) continue;
      const stored = found.get(record.position);
      if (stored === undefined) {
        if (this.context.failure) throw this.context.failure;
        throw new PrunedMeanwhile();
      }
      values[index] = stored;
      // Cached only while the record is still the key's (a write since replaced it).
      if (record.cached === undefined && scope.records.get(record.key) === record) this.cache.add(record, stored);
    }
    return values;
  }

  // ---- writes

  put(runId: string, runIdBytes: Uint8Array, keyGiven: unknown, value: unknown, options: KvPutOptions | undefined): Promise<{ version: number }> {
    let commit: PutCommit;
    try {
      this.context.checkWritable();
      const key = this.checkKey('kv.put', keyGiven);
      let expected: number | null | undefined;
      let expireInMs = 0;
      if (options !== undefined) {
        checkOptions('kv.put', options, PUT_KEYS);
        expected = checkExpected('kv.put', options.expectedVersion);
        if (options.expireInMs !== undefined) {
          expireInMs = options.expireInMs;
          if (typeof expireInMs !== 'number' || !Number.isSafeInteger(expireInMs) || expireInMs < 1 || expireInMs > MAX_EXPIRE_IN_MS) {
            throw new InvalidArgumentError(`kv.put: expireInMs must be an integer from 1 to ${MAX_EXPIRE_IN_MS} (milliseconds), got ${describe(options.expireInMs)}`);
          }
        }
      }
      value = this.context.redact(value, VALUE_FIELD);
      let data: string | Uint8Array;
      if (value instanceof Uint8Array) data = new Uint8Array(value); // a copy: the caller may reuse its array
      else data = jsonText(value, 'kv.put: value', BINARY_HINT).text;
      const keyLength = key.bytes ? key.bytes.length : key.text.length;
      if (maxEntryBytes(keyLength, key.bytes, runIdBytes, data) > this.maxEventBytes) {
        const size = exactEntryBytes(keyLength, key.bytes, runIdBytes, data);
        if (size > this.maxEventBytes) throw new InvalidArgumentError(`kv.put: key '${key.text.slice(0, 60)}' with its value is ${size} bytes encoded, over the limit of ${this.maxEventBytes} (maxEventBytes); store large blobs elsewhere and keep a reference`);
      }
      commit = new PutCommit(this, runId, runIdBytes, key, data, expected, expireInMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.context.submit(commit);
  }

  delete(runId: string, runIdBytes: Uint8Array, keyGiven: unknown, options: KvDeleteOptions | undefined): Promise<boolean> {
    let commit: DeleteCommit;
    try {
      this.context.checkWritable();
      const key = this.checkKey('kv.delete', keyGiven);
      let expected: number | null | undefined;
      if (options !== undefined) {
        checkOptions('kv.delete', options, DELETE_KEYS);
        expected = checkExpected('kv.delete', options.expectedVersion);
      }
      commit = new DeleteCommit(this, runId, runIdBytes, key, expected);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.context.submit(commit);
  }

  /** The version of a key as a write checks it: its last write's position, null when absent, deleted or expired (in commit order, so staged writes count). */
  currentVersion(runId: string, key: string, now: number): number | null {
    const record = this.scope(runId)?.records.get(key);
    if (!record || record.deleted || isExpired(record, now)) return null;
    return record.position;
  }

  /** In `apply`: the put is in the frame at `position`. */
  applyPut(runId: string, runIdBytes: Uint8Array, key: string, position: number, expiresAt: number, data: string | Uint8Array): void {
    const scope = runId === '' ? this.root : this.scopeFor(runId, runIdBytes);
    scope.set(key, position, expiresAt, false, data);
    if (runId !== '') this.context.attribute(runId, position);
  }

  applyDelete(runId: string, key: string, position: number): void {
    const scope = this.scope(runId)!;
    const record = scope.set(key, position, 0, true, undefined);
    this.pendingDeletes.push({ scope, record });
    if (runId !== '') this.context.attribute(runId, position);
  }

  // ---- the primitive's hooks

  recover(entry: RecoveredEntry): string | undefined {
    const kind = entry.kind;
    if (kind !== KIND_KV_PUT && kind !== KIND_KV_DELETE) {
      // A kind of kv's range this version does not know: kept intact (never pruned).
      this.kept.push(entry.position);
      return undefined;
    }
    const key = entry.name;
    if (key === undefined) return `the kv entry at position ${entry.position} has no key`;
    const payload = entry.payload();
    if (payload.length < 32) return `the kv entry at position ${entry.position} is ${payload.length} bytes, shorter than its header`;
    const runId = kvEntryRunId(payload);
    if (runId !== '') this.context.attribute(runId, entry.position);
    const scope = runId === '' ? this.root : (this.scopes.get(runId) ?? this.scopeFor(runId, encoder.encode(runId)));
    // An expired put is as good as a delete: the key is gone (its bytes go at the next prune).
    if (kind === KIND_KV_DELETE || (entry.version !== 0 && entry.version <= Date.now())) scope.remove(key);
    else scope.set(key, entry.position, entry.version, false, undefined);
    return undefined;
  }

  private sectionScopes(): SectionScope[] {
    const now = Date.now();
    const scopes: SectionScope[] = [];
    for (const scope of this.scopes.values()) {
      const records = [];
      for (const key of scope.keys()) {
        const record = scope.records.get(key);
        if (record && !record.deleted && !isExpired(record, now)) records.push({ key, position: record.position, expiresAt: record.expiresAt });
      }
      if (records.length > 0 || scope.runId === '') scopes.push({ runId: scope.runId, records });
    }
    return scopes;
  }

  captureSection(): Uint8Array {
    return encodeSection(this.sectionScopes(), this.kept);
  }

  restoreSection(bytes: Uint8Array): void {
    for (const scope of this.scopes.values()) scope.clear();
    this.scopes.clear();
    this.scopes.set('', this.root);
    this.kept = [];
    this.cache.clear();
    if (bytes.length === 0) return;
    this.kept = decodeSection(bytes, (runId, count) => this.scopeFor(runId, encoder.encode(runId)).restore(count));
  }

  /** The current value of every key that has not expired (expired, overwritten and deleted ones go at a prune; so do delete entries, in the same pass as the puts they killed). */
  markLive(mark: (position: number) => void): void {
    const now = Date.now();
    for (const scope of this.scopes.values()) {
      for (const record of scope.records.values()) if (!record.deleted && !isExpired(record, now)) mark(record.position);
    }
    for (const position of this.kept) mark(position);
  }

  /** Every prune: keys expired by `now` are what this part removes (they left reads already). */
  planPrune(_policy: unknown, now: number): PrunePart {
    const positions: number[] = [];
    const written = this.written;
    for (const scope of this.scopes.values()) {
      for (const record of scope.records.values()) if (!record.deleted && isExpired(record, now) && record.position < written) positions.push(record.position);
    }
    positions.sort((a, b) => a - b);
    return { positions };
  }

  fingerprint(): unknown {
    const scopes = this.sectionScopes()
      .filter((scope) => scope.records.length > 0)
      .sort((a, b) => compareKeys(a.runId, b.runId));
    return { scopes: scopes.map((scope) => ({ runId: scope.runId, keys: scope.records.map((record) => [record.key, record.position, record.expiresAt]) })), kept: this.kept.slice() };
  }

  stats(): Record<string, number> {
    const now = Date.now();
    let keys = 0;
    let runs = 0;
    for (const scope of this.scopes.values()) {
      let count = 0;
      for (const record of scope.records.values()) if (!record.deleted && !isExpired(record, now)) count++;
      keys += count;
      if (scope.runId !== '' && count > 0) runs++;
    }
    return { keys, runs, cachedValues: this.cache.values, cachedBytes: this.cache.bytes };
  }

  /** `reeldb verify`: every current key's entry is a put of that key in that scope, and its value decodes. */
  async audit(onProgress?: (done: number, total: number) => void): Promise<{ checked: Record<string, number>; problems: string[] }> {
    const problems: string[] = [];
    const written = this.written;
    const now = Date.now();
    const records: { scope: KvScope; record: KvRecord }[] = [];
    for (const scope of this.scopes.values()) {
      for (const record of scope.records.values()) if (!record.deleted && !isExpired(record, now) && record.position < written) records.push({ scope, record });
    }
    const BATCH = 512;
    for (let from = 0; from < records.length; from += BATCH) {
      const batch = records.slice(from, from + BATCH);
      // Position → the keys the index places there (more than one is itself a problem, found below).
      const expected = new Map<number, { scope: KvScope; record: KvRecord }[]>();
      for (const item of batch) {
        const list = expected.get(item.record.position);
        if (list) list.push(item);
        else expected.set(item.record.position, [item]);
      }
      const seen = new Set<number>();
      await this.context.readPositions(
        [...expected.keys()].sort((a, b) => a - b),
        (position, bytes, start, length) => {
          seen.add(position);
          for (const item of expected.get(position)!) {
            const where = `key '${item.record.key}'${item.scope.runId === '' ? '' : ` of run '${item.scope.runId}'`} (position ${position})`;
            try {
              if (this.context.kindAt(position) !== KIND_KV_PUT) throw new Error(`its entry is of kind 0x${this.context.kindAt(position).toString(16)}, not a put`);
              const entry = decodeNamedEntry(bytes, start, length, position, false);
              if (entry.stream !== item.record.key) throw new Error(`its entry is of key '${entry.stream}'`);
              if (entry.id !== item.scope.runId) throw new Error(`its entry belongs to ${entry.id === '' ? 'the store-wide keys' : `run '${entry.id}'`}`);
              const stored = decodeKvValue(bytes, start, length);
              if (typeof stored === 'string') JSON.parse(stored);
            } catch (error) {
              problems.push(`${where}: ${(error as Error).message}`);
            }
          }
        },
      );
      for (const item of batch) if (!seen.has(item.record.position)) problems.push(`key '${item.record.key}' (position ${item.record.position}): its entry could not be read`);
      onProgress?.(Math.min(from + BATCH, records.length), records.length);
    }
    return { checked: { keys: records.length }, problems };
  }

  dropRun(runId: string): void {
    const scope = this.scopes.get(runId);
    if (!scope || runId === '') return;
    scope.clear();
    this.scopes.delete(runId);
  }

  forgetRemoved(removed: (position: number) => boolean): void {
    for (const scope of this.scopes.values()) {
      for (const record of [...scope.records.values()]) if (removed(record.position)) scope.remove(record.key);
    }
    this.kept = this.kept.filter((position) => !removed(position));
  }

  close(): void {
    this.cache.clear();
  }
}

/** The end of the keys starting with `prefix` from `low` on (they are contiguous in key order). */
function prefixEnd(keys: readonly string[], prefix: string, low: number): number {
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]!.startsWith(prefix)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** One put: the commit, and what it prepared (one object, no closures: the put path is hot). */
class PutCommit {
  count = 1;
  private position = 0;
  private expiresAt = 0;

  constructor(
    private readonly kv: KvStore,
    private readonly runId: string,
    private readonly runIdBytes: Uint8Array,
    private readonly key: Key,
    private readonly data: string | Uint8Array,
    private readonly expected: number | null | undefined,
    private readonly expireInMs: number,
  ) {}

  prepare(firstPosition: number, writer: EntryWriter): Prepared<{ version: number }> {
    const now = Date.now();
    if (this.expected !== undefined) {
      const actual = this.kv.currentVersion(this.runId, this.key.text, now);
      if (actual !== this.expected) throw conflict(this.runId, this.key.text, this.expected, actual);
    }
    this.position = firstPosition;
    this.expiresAt = this.expireInMs === 0 ? 0 : now + this.expireInMs;
    writeKvEntry(writer, this.key.text, this.key.bytes, this.runIdBytes, this.data, this.expiresAt, now);
    return this;
  }

  apply(): void {
    this.kv.applyPut(this.runId, this.runIdBytes, this.key.text, this.position, this.expiresAt, this.data);
  }

  result(position: number): { version: number } {
    return { version: position };
  }
}

class DeleteCommit {
  count = 1;
  private position = 0;

  constructor(
    private readonly kv: KvStore,
    private readonly runId: string,
    private readonly runIdBytes: Uint8Array,
    private readonly key: Key,
    private readonly expected: number | null | undefined,
  ) {}

  prepare(firstPosition: number, writer: EntryWriter): Prepared<boolean> {
    const now = Date.now();
    const actual = this.kv.currentVersion(this.runId, this.key.text, now);
    if (this.expected !== undefined && actual !== this.expected) throw conflict(this.runId, this.key.text, this.expected, actual);
    if (actual === null) return { done: false };
    this.position = firstPosition;
    writeKvEntry(writer, this.key.text, this.key.bytes, this.runIdBytes, undefined, 0, now);
    return this;
  }

  apply(): void {
    this.kv.applyDelete(this.runId, this.key.text, this.position);
  }

  result(): boolean {
    return true;
  }
}

/** The API of one scope. */
class ScopedKv implements KvApi {
  constructor(
    protected readonly kv: KvStore,
    private readonly runId: string,
    private readonly runIdBytes: Uint8Array,
  ) {}

  /** The key's value and version, or undefined when it does not exist (never written, deleted or expired). */
  get<V = unknown>(key: string): Promise<KvEntry<V> | undefined> {
    return this.kv.get(this.runId, key) as Promise<KvEntry<V> | undefined>;
  }

  /** Several keys read from one state of the store, in the order given. */
  getMany<V = unknown>(keys: readonly string[]): Promise<(KvEntry<V> | undefined)[]> {
    return this.kv.getMany(this.runId, keys) as Promise<(KvEntry<V> | undefined)[]>;
  }

  /** Writes the key's value as one entry; resolves to its new version (the entry's position). */
  put(key: string, value: unknown, options?: KvPutOptions): Promise<{ version: number }> {
    return this.kv.put(this.runId, this.runIdBytes, key, value, options);
  }

  /** Deletes the key; resolves to whether it existed (false: nothing written). */
  delete(key: string, options?: KvDeleteOptions): Promise<boolean> {
    return this.kv.delete(this.runId, this.runIdBytes, key, options);
  }

  /** Keys in order (UTF-8 byte order of their NFC form) with their values, a page at a time. */
  list<V = unknown>(options?: KvListOptions): Promise<KvListPage<V>> {
    try {
      return this.kv.list(this.runId, options) as Promise<KvListPage<V>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

class StoreKv extends ScopedKv implements Kv {
  constructor(kv: KvStore) {
    super(kv, '', EMPTY);
  }

  /** The same API over the keys of run `runId` (kept apart from the store-wide keys and other runs'). */
  forRun(runId: string): KvApi {
    this.kv.context.checkOpen();
    const name = checkName(this.kv.context.core, 'kv.forRun: runId', runId, 255);
    return new ScopedKv(this.kv, name.text, name.bytes);
  }
}

/** Key-value (docs/FORMAT.md §8.4): kinds 0x10 put, 0x11 delete; 0x12–0x1F reserved (kept intact). */
export const kvPrimitive: PrimitiveSpec<Kv> = {
  name: 'kv',
  kinds: [0x10, 0x1f],
  namedKinds: [KIND_KV_PUT, KIND_KV_DELETE],
  recordKinds: [KIND_KV_DELETE],
  section: 4,
  create: (context) => new KvStore(context),
};
