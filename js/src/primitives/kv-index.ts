/**
 * The key-value index kept in memory: per scope (store-wide, or one run's), key → the position
 * of its last write, its expiry and, for small values, the value itself (a cache bounded by
 * bytes); and the keys in order for `list`, kept sorted lazily (a new key is appended to a
 * short unsorted list and merged in at the next `list`, so a put stays O(1)).
 */
import { compareKeys, HIGH_UNITS, searchKeys } from './kv-codec.js';

export interface KvRecord {
  readonly key: string;
  /** Position of the key's last write (its version). */
  readonly position: number;
  /** Milliseconds since the epoch; 0: never. */
  readonly expiresAt: number;
  /** A delete applied but not yet written (readers wait for it, then the record goes). */
  readonly deleted: boolean;
  /** The value when cached: JSON text or bytes. */
  cached: string | Uint8Array | undefined;
  /** Bytes the cache counts for it (0 when not cached). */
  cost: number;
}

export function isExpired(record: KvRecord, now: number): boolean {
  return record.expiresAt !== 0 && record.expiresAt <= now;
}

/** Values up to this many bytes (JSON text: UTF-16 units) are cached. */
export const CACHED_VALUE_MAX_BYTES = 16 << 10;
/** The cache's budget across all scopes. */
export const CACHE_BUDGET_BYTES = 64 << 20;
/** What a cached value costs beyond its bytes (the record's share of the queue, headers). */
const CACHE_OVERHEAD_BYTES = 48;

/**
 * Which records hold a cached value, oldest first: once over budget the oldest values are
 * dropped (first in, first out: nothing to update on a read).
 */
export class ValueCache {
  bytes = 0;
  values = 0;
  private queue: KvRecord[] = [];
  private head = 0;

  constructor(private readonly budget: number) {}

  add(record: KvRecord, value: string | Uint8Array): void {
    const cost = (typeof value === 'string' ? value.length : value.length) + CACHE_OVERHEAD_BYTES;
    if (cost > CACHED_VALUE_MAX_BYTES + CACHE_OVERHEAD_BYTES) return;
    if (record.cached !== undefined) this.drop(record);
    record.cached = value;
    record.cost = cost;
    this.bytes += cost;
    this.values++;
    this.queue.push(record);
    while (this.bytes > this.budget && this.head < this.queue.length) this.drop(this.queue[this.head++]!);
    // Records dropped or replaced stay in the queue until passed: compact when they dominate.
    if (this.head > 1024 && this.head * 2 > this.queue.length) this.compact();
    else if (this.queue.length - this.head > 4 * this.values + 4096) this.compact();
  }

  drop(record: KvRecord): void {
    if (record.cached === undefined) return;
    this.bytes -= record.cost;
    this.values--;
    record.cached = undefined;
    record.cost = 0;
  }

  private compact(): void {
    const live: KvRecord[] = [];
    for (let index = this.head; index < this.queue.length; index++) {
      const record = this.queue[index]!;
      // A record appears once per add; keep its last appearance only when still cached.
      if (record.cached !== undefined) live.push(record);
    }
    this.queue = [...new Set(live)];
    this.head = 0;
  }

  clear(): void {
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    this.values = 0;
  }
}

/** One scope's keys: store-wide (`runId` '') or one run's. */
export class KvScope {
  readonly records = new Map<string, KvRecord>();
  /** Keys in order; may hold keys no longer in `records` (skipped, dropped at the next merge). */
  private sorted: string[] = [];
  /** Keys added since the last merge, in no order (may repeat, may be in `sorted`). */
  private unsorted: string[] = [];
  /** Keys of `sorted` no longer in `records`. */
  private stale = 0;
  /** Some key has a UTF-16 unit ≥ U+D800 (then `<` is not key order). */
  private high = false;

  constructor(readonly runId: string, readonly runIdBytes: Uint8Array, private readonly cache: ValueCache) {}

  /** Replaces the key's record (a put, or a delete not yet written); `value` is cached when small. */
  set(key: string, position: number, expiresAt: number, deleted: boolean, value: string | Uint8Array | undefined): KvRecord {
    const old = this.records.get(key);
    if (old) this.cache.drop(old);
    else this.added(key);
    const record: KvRecord = { key, position, expiresAt, deleted, cached: undefined, cost: 0 };
    this.records.set(key, record);
    if (value !== undefined) this.cache.add(record, value);
    return record;
  }

  /** Forgets the key (a delete written, an expired key read, a recovered delete). */
  remove(key: string): void {
    const old = this.records.get(key);
    if (!old) return;
    this.cache.drop(old);
    this.records.delete(key);
    this.stale++;
  }

  /** Forgets every key (the scope's run was deleted). */
  clear(): void {
    for (const record of this.records.values()) this.cache.drop(record);
    this.records.clear();
    this.sorted = [];
    this.unsorted = [];
    this.stale = 0;
  }

  private added(key: string): void {
    this.unsorted.push(key);
    if (!this.high && HIGH_UNITS.test(key)) this.high = true;
  }

  /** The keys in order (every key of `records`, and maybe stale ones: check `records`). */
  keys(): readonly string[] {
    if (this.unsorted.length > 0) this.merge();
    if (this.stale > 64 && this.stale * 4 > this.sorted.length) {
      this.sorted = this.sorted.filter((key) => this.records.has(key));
      this.stale = 0;
    }
    return this.sorted;
  }

  private merge(): void {
    const added = this.unsorted;
    this.unsorted = [];
    const sorted = this.sorted;
    if (added.length * 32 < sorted.length) {
      // A few new keys: insert each where it belongs.
      for (const key of added) {
        const at = searchKeys(sorted, key, false);
        if (sorted[at] !== key) sorted.splice(at, 0, key);
      }
      return;
    }
    if (this.high) added.sort(compareKeys);
    else added.sort();
    const merged: string[] = [];
    let left = 0;
    let right = 0;
    let last: string | undefined;
    const records = this.records;
    while (left < sorted.length || right < added.length) {
      let key: string;
      if (right >= added.length || (left < sorted.length && compareKeys(sorted[left]!, added[right]!) <= 0)) key = sorted[left++]!;
      else key = added[right++]!;
      if (key === last || !records.has(key)) continue;
      merged.push(key);
      last = key;
    }
    this.sorted = merged;
    this.stale = 0;
  }

  /** Empties the scope and returns where a snapshot's keys go, `count` of them, in key order. */
  restore(count: number): (key: string, position: number, expiresAt: number, high: boolean) => void {
    this.clear();
    const keys: string[] = new Array(count);
    let at = 0;
    this.sorted = keys;
    return (key, position, expiresAt, high) => {
      this.records.set(key, { key, position, expiresAt, deleted: false, cached: undefined, cost: 0 });
      keys[at++] = key;
      if (high) this.high = true;
    };
  }
}
