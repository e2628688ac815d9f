/** Key-value in the test kit: puts (unconditional, must-not-exist, right and stale versions, some with a long expiry) and deletes, store-wide and in a run's scope, read back in key order. */
import fc from 'fast-check';
import type { Store } from '../../js/src/index.node.js';
import { compareKeys } from '../../js/src/primitives/kv-codec.js';
import { fails, show, type Workload } from './workload.js';

const SCOPES = ['', 'run-1'] as const;
// ASCII, a prefix of another, NFC-composed, and two whose UTF-8 order differs from UTF-16's.
const KEYS = ['a', 'a/1', 'b', 'caf\u00e9', '\u{1f600}', '\uff5e'] as const;
type Scope = (typeof SCOPES)[number];
type Expected = 'none' | 'absent' | 'current' | 'stale';

type Op = { kind: 'put'; scope: Scope; key: string; value: unknown; expected: Expected; expires: boolean } | { kind: 'delete'; scope: Scope; key: string; expected: 'none' | 'current' | 'stale' };

interface Model {
  next: number;
  /** `${scope}\u0000${key}` → its value and version. */
  keys: Map<string, { value: unknown; version: number }>;
}

const value = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(fc.integer({ min: -100, max: 100 }), fc.string({ maxLength: 10 }), fc.record({ step: fc.nat(50), done: fc.boolean() }), fc.constant(null)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.integer({ min: 300, max: 900 }).map((size) => ({ blob: 'k'.repeat(size) })) },
);
const target = { scope: fc.constantFrom(...SCOPES), key: fc.constantFrom(...KEYS) };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), ...target, value, expected: fc.constantFrom<Expected>('none', 'none', 'absent', 'current', 'stale'), expires: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), ...target, expected: fc.constantFrom('none' as const, 'current' as const, 'stale' as const) }) },
);

const kvOf = (db: Store, scope: Scope) => (scope === '' ? db.kv : db.kv.forRun(scope));
const id = (scope: string, key: string) => `${scope}\u0000${key}`;
/** The version an operation expects, given the key's current one (stale: one past it, or 0 for an absent key). */
const versionFor = (expected: Expected, current: number | undefined): number | null | undefined =>
  expected === 'none' ? undefined : expected === 'absent' ? null : expected === 'current' ? (current ?? null) : (current ?? -1) + 1;

const workload: Workload<Op, Model> = {
  name: 'kv',
  op,
  init: () => ({ next: 0, keys: new Map() }),

  async apply(db, op) {
    const kv = kvOf(db, op.scope);
    const current = (await kv.get(op.key))?.version;
    const expectedVersion = versionFor(op.expected, current);
    if (op.kind === 'put') {
      const options = { ...(expectedVersion === undefined ? {} : { expectedVersion }), ...(op.expires ? { expireInMs: 3_600_000 } : {}) };
      return kv.put(op.key, op.value, options);
    }
    return kv.delete(op.key, expectedVersion === undefined ? undefined : { expectedVersion });
  },

  step(model, op) {
    const key = id(op.scope, op.key);
    const current = model.keys.get(key);
    const expected = versionFor(op.expected, current?.version);
    if (expected !== undefined && expected !== (current?.version ?? null)) return fails('CONFLICT');
    if (op.kind === 'put') {
      const version = model.next++;
      model.keys.set(key, { value: op.value instanceof Uint8Array ? new Uint8Array(op.value) : op.value, version });
      return { version };
    }
    if (!current) return false;
    model.keys.delete(key);
    model.next++;
    return true;
  },

  async read(db) {
    const out = [];
    for (const scope of SCOPES) {
      const kv = kvOf(db, scope);
      const { items } = await kv.list();
      // getMany of every key agrees with list.
      const many = await kv.getMany(KEYS);
      for (const item of items) out.push([scope, item.key, item.version, item.value, many[KEYS.indexOf(item.key as (typeof KEYS)[number])]?.version]);
      // Listed backwards in pages of two: the same keys, reversed.
      const backwards: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await kv.list({ reverse: true, limit: 2, cursor });
        backwards.push(...page.items.map((item) => item.key));
        cursor = page.cursor;
      } while (cursor);
      out.push([scope, 'backwards', backwards]);
    }
    return out;
  },

  expected(model) {
    const out = [];
    for (const scope of SCOPES) {
      const keys = [...model.keys]
        .filter(([key]) => key.startsWith(`${scope}\u0000`))
        .map(([key, entry]) => ({ key: key.slice(scope.length + 1), ...entry }))
        .sort((a, b) => compareKeys(a.key, b.key));
      for (const { key, value, version } of keys) out.push([scope, key, version, value, version]);
      out.push([scope, 'backwards', keys.map(({ key }) => key).reverse()]);
    }
    return out;
  },

  badCalls: [
    { what: "put('')", call: (db) => db.kv.put('', 1), code: 'INVALID_ARGUMENT' },
    { what: 'put of a 1,025-byte key', call: (db) => db.kv.put('k'.repeat(1025), 1), code: 'INVALID_ARGUMENT' },
    { what: 'put of a key holding a lone surrogate', call: (db) => db.kv.put('a\ud800', 1), code: 'INVALID_ARGUMENT' },
    { what: 'put of a function', call: (db) => db.kv.put('a', () => 1), code: 'INVALID_ARGUMENT' },
    { what: 'put of NaN', call: (db) => db.kv.put('a', { n: NaN }), code: 'INVALID_ARGUMENT' },
    { what: 'put of undefined', call: (db) => db.kv.put('a', undefined), code: 'INVALID_ARGUMENT' },
    { what: 'put with expectedVersion -1', call: (db) => db.kv.put('a', 1, { expectedVersion: -1 }), code: 'INVALID_ARGUMENT' },
    { what: 'put with expireInMs 0', call: (db) => db.kv.put('a', 1, { expireInMs: 0 }), code: 'INVALID_ARGUMENT' },
    { what: 'put with an unknown option', call: (db) => db.kv.put('a', 1, { ttl: 5 } as never), code: 'INVALID_ARGUMENT' },
    { what: 'put with a wrong expected version', call: (db) => db.kv.put('a', 1, { expectedVersion: 1_000_000 }), code: 'CONFLICT' },
    { what: 'delete with a wrong expected version', call: (db) => db.kv.delete('a', { expectedVersion: 1_000_000 }), code: 'CONFLICT' },
    { what: 'delete with an unknown option', call: (db) => db.kv.delete('a', { version: 1 } as never), code: 'INVALID_ARGUMENT' },
    { what: 'list with a forged cursor', call: (db) => db.kv.list({ cursor: 'x' }), code: 'INVALID_ARGUMENT' },
    { what: "forRun('')", call: (db) => db.kv.forRun('').put('a', 1), code: 'INVALID_ARGUMENT' },
  ],

  junkCalls: (junk) =>
    fc.oneof(
      fc.tuple(fc.oneof(fc.constant('a'), junk), fc.oneof(fc.constant({ ok: 1 }), junk)).map(([key, value]) => ({ what: `put(${show(key)}, ${show(value)})`, call: (db: Store) => db.kv.put(key as string, value) })),
      junk.map((options) => ({ what: `put('a', 1, ${show(options)})`, call: (db: Store) => db.kv.put('a', 1, options as never) })),
      fc.tuple(fc.oneof(fc.constant('b'), junk), junk).map(([key, options]) => ({ what: `delete(${show(key)}, ${show(options)})`, call: (db: Store) => db.kv.delete(key as string, options as never) })),
      junk.map((key) => ({ what: `get(${show(key)})`, call: (db: Store) => db.kv.get(key as string) })),
      junk.map((keys) => ({ what: `getMany(${show(keys)})`, call: (db: Store) => db.kv.getMany(keys as string[]) })),
      junk.map((options) => ({ what: `list(${show(options)})`, call: (db: Store) => db.kv.list(options as never) })),
      junk.map((run) => ({ what: `forRun(${show(run)})`, call: (db: Store) => db.kv.forRun(run as string).put('a', 1) })),
    ),
};

export default workload;
