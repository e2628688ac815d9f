/**
 * Key-value (db.kv, db.kv.forRun): reads and writes, expectedVersion, expiry, list order and
 * cursors, run scopes, bad input writing nothing, the same state after a full scan and after a
 * snapshot, prune giving back the bytes of dead values, and a store on disk reopened.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quiet, reeldb, runtime, storePath } from './helpers.js';
import { FaultyFileHost, SimulatedCrash } from '../js/src/host/faulty.js';
import { compareKeys, decodeSection, encodeSection } from '../js/src/primitives/kv-codec.js';

const { open, ConflictError, InvalidArgumentError } = reeldb;
type Db = Awaited<ReturnType<typeof open>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function logBytes(path: string): number {
  return readdirSync(join(path, 'log')).reduce((sum, name) => sum + statSync(join(path, 'log', name)).size, 0);
}

/** Every key and value of a scope, through the API. */
async function everything(api: Db['kv'] | ReturnType<Db['kv']['forRun']>) {
  return (await api.list()).items;
}

describe(`kv on ${runtime}`, () => {
  it('put, get, getMany, delete; version is the position of the last write', async () => {
    const db = await open('kv-basic', { durability: 'memory' });
    const first = await db.kv.put('user:1', { name: 'Ada', tags: ['a', 'b'] });
    expect(first.version).toBe(0);
    await db.events.append('s', [{ type: 't', data: 1 }]); // positions are shared with other primitives
    const second = await db.kv.put('bytes', new Uint8Array([1, 2, 3]));
    expect(second.version).toBe(2);
    expect(await db.kv.get('user:1')).toEqual({ value: { name: 'Ada', tags: ['a', 'b'] }, version: 0 });
    const bytes = await db.kv.get('bytes');
    expect(bytes!.value).toBeInstanceOf(Uint8Array);
    expect([...(bytes!.value as Uint8Array)]).toEqual([1, 2, 3]);
    expect(await db.kv.get('missing')).toBeUndefined();
    expect(await db.kv.getMany(['bytes', 'missing', 'user:1'])).toEqual([{ value: new Uint8Array([1, 2, 3]), version: 2 }, undefined, { value: { name: 'Ada', tags: ['a', 'b'] }, version: 0 }]);
    // A read returns a copy: changing it changes nothing stored.
    const read = (await db.kv.get<{ name: string }>('user:1'))!;
    read.value.name = 'changed';
    (bytes!.value as Uint8Array)[0] = 99;
    expect((await db.kv.get<{ name: string }>('user:1'))!.value.name).toBe('Ada');
    expect([...((await db.kv.get('bytes'))!.value as Uint8Array)]).toEqual([1, 2, 3]);
    // So does a write: the caller's array may be reused.
    const reused = new Uint8Array([7, 7]);
    await db.kv.put('reused', reused);
    reused[0] = 0;
    expect([...((await db.kv.get('reused'))!.value as Uint8Array)]).toEqual([7, 7]);
    const overwritten = await db.kv.put('user:1', 'second');
    expect(await db.kv.get('user:1')).toEqual({ value: 'second', version: overwritten.version });
    expect(await db.kv.delete('user:1')).toBe(true);
    expect(await db.kv.get('user:1')).toBeUndefined();
    const entries = db.stats().entries;
    expect(await db.kv.delete('user:1')).toBe(false); // nothing to delete: nothing written
    expect(db.stats().entries).toBe(entries);
    // NFC: both forms are one key.
    await db.kv.put('caf\u00e9', 1);
    expect((await db.kv.get('cafe\u0301'))!.value).toBe(1);
    expect(db.stats().primitives.kv).toMatchObject({ keys: 3 });
    await db.close();
  });

  it('expectedVersion: null means must not exist, a number the last write; a mismatch is ConflictError and writes nothing', async () => {
    const db = await open('kv-expected', { durability: 'memory' });
    const { version } = await db.kv.put('cell', 1, { expectedVersion: null });
    const entries = db.stats().entries;
    const error = await db.kv.put('cell', 2, { expectedVersion: null }).catch((caught) => caught);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'CONFLICT', key: 'cell', expected: null, actual: version });
    expect(error.message).toContain("'cell'");
    const stale = await db.kv.put('cell', 2, { expectedVersion: version + 5 }).catch((caught) => caught);
    expect(stale).toMatchObject({ code: 'CONFLICT', expected: version + 5, actual: version });
    const absent = await db.kv.put('nothing', 2, { expectedVersion: 3 }).catch((caught) => caught);
    expect(absent).toMatchObject({ code: 'CONFLICT', expected: 3, actual: null });
    const deleteConflict = await db.kv.delete('cell', { expectedVersion: version + 1 }).catch((caught) => caught);
    expect(deleteConflict).toMatchObject({ code: 'CONFLICT', actual: version });
    expect(db.stats().entries).toBe(entries);
    expect((await db.kv.get('cell'))!.value).toBe(1);
    const next = await db.kv.put('cell', 2, { expectedVersion: version });
    expect(next.version).toBe(entries);
    // Of two writers expecting the same version, exactly one wins.
    const results = await Promise.allSettled([db.kv.put('cell', 'a', { expectedVersion: next.version }), db.kv.put('cell', 'b', { expectedVersion: next.version })]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await db.kv.delete('cell', { expectedVersion: (await db.kv.get('cell'))!.version })).toBe(true);
    // Deleted: must-not-exist holds again.
    await db.kv.put('cell', 3, { expectedVersion: null });
    await db.close();
  });

  it('bad input is InvalidArgumentError and writes nothing', async () => {
    const db = await open('kv-bad', { durability: 'memory' });
    await db.kv.put('ok', 1);
    const entries = db.stats().entries;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: [string, () => Promise<unknown>][] = [
      ['key not a string', () => db.kv.put(42 as unknown as string, 1)],
      ['empty key', () => db.kv.put('', 1)],
      ['key over 1,024 bytes', () => db.kv.put('k'.repeat(1025), 1)],
      ['key over 1,024 bytes in UTF-8', () => db.kv.put('é'.repeat(513), 1)],
      ['lone surrogate in key', () => db.kv.put('a\ud800', 1)],
      ['NaN value', () => db.kv.put('v', NaN)],
      ['Date value', () => db.kv.put('v', new Date())],
      ['Map value', () => db.kv.put('v', new Map())],
      ['undefined value', () => db.kv.put('v', undefined)],
      ['cyclic value', () => db.kv.put('v', cyclic)],
      ['bigint value', () => db.kv.put('v', 1n)],
      ['function value', () => db.kv.put('v', () => 1)],
      ['ArrayBuffer value', () => db.kv.put('v', new ArrayBuffer(4))],
      ['unknown put option', () => db.kv.put('v', 1, { expectVersion: 1 } as never)],
      ['options not an object', () => db.kv.put('v', 1, 'strict' as never)],
      ['bad expectedVersion', () => db.kv.put('v', 1, { expectedVersion: -1 })],
      ['string expectedVersion', () => db.kv.put('v', 1, { expectedVersion: '3' as never })],
      ['zero expireInMs', () => db.kv.put('v', 1, { expireInMs: 0 })],
      ['fractional expireInMs', () => db.kv.put('v', 1, { expireInMs: 1.5 })],
      ['endless expireInMs', () => db.kv.put('v', 1, { expireInMs: Number.MAX_SAFE_INTEGER })],
      ['unknown delete option', () => db.kv.delete('ok', { force: true } as never)],
      ['bad delete key', () => db.kv.delete(null as unknown as string)],
      ['get of a non-string', () => db.kv.get({} as unknown as string)],
      ['get of a lone surrogate', () => db.kv.get('\udc00x')],
      ['getMany of a non-array', () => db.kv.getMany('ok' as never)],
      ['getMany with a bad key', () => db.kv.getMany(['ok', 7 as never])],
      ['unknown list option', () => db.kv.list({ prefx: 'a' } as never)],
      ['bad list limit', () => db.kv.list({ limit: -1 })],
      ['bad list prefix', () => db.kv.list({ prefix: 3 as never })],
      ['bad list reverse', () => db.kv.list({ reverse: 'yes' as never })],
      ['forged cursor', () => db.kv.list({ cursor: 'not a cursor' })],
      ['cursor of the other direction', async () => db.kv.list({ cursor: (await db.kv.list({ limit: 0 })).cursor ?? 'fb2s', reverse: true })],
      ['bad run id', async () => db.kv.forRun('')],
      ['lone surrogate run id', async () => db.kv.forRun('\ud800')],
    ];
    for (const [what, call] of bad) {
      const error = await call().then(
        () => undefined,
        (caught) => caught,
      );
      expect(error, what).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message.length, what).toBeGreaterThan(10);
    }
    const tooLarge = await open('kv-bad-size', { durability: 'memory', maxEventBytes: 1024 });
    const error = await tooLarge.kv.put('big', 'x'.repeat(2000)).catch((caught) => caught);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain('maxEventBytes');
    expect(await tooLarge.kv.put('small', 'x'.repeat(900))).toEqual({ version: 0 });
    expect(tooLarge.stats().entries).toBe(1);
    await tooLarge.close();
    expect(db.stats().entries).toBe(entries);
    expect(await everything(db.kv)).toEqual([{ key: 'ok', value: 1, version: 0 }]);
    // A lookup of a key that cannot exist says so rather than answering undefined.
    await expect(db.kv.get('k'.repeat(1025))).rejects.toBeInstanceOf(InvalidArgumentError);
    await db.close();
    await expect(db.kv.get('ok')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(db.kv.put('ok', 2)).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  it('expired keys disappear from reads at once and from disk at the next prune', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered', snapshotBytes: 0, segmentBytes: 4096 });
    await db.kv.put('short', { text: 'x'.repeat(500) }, { expireInMs: 40 });
    await db.kv.put('long', 'stays', { expireInMs: 3_600_000 });
    await db.kv.put('forever', 'stays');
    expect((await db.kv.get('short'))!.value).toEqual({ text: 'x'.repeat(500) });
    await sleep(60);
    expect(await db.kv.get('short')).toBeUndefined();
    expect((await db.kv.list()).items.map((item) => item.key)).toEqual(['forever', 'long']);
    expect(await db.kv.getMany(['short', 'long'])).toEqual([undefined, { value: 'stays', version: 1 }]);
    // Expired: it does not exist for expectedVersion either.
    await db.kv.put('short2', 1, { expireInMs: 20 });
    await sleep(40);
    const entries = db.stats().entries;
    expect(await db.kv.delete('short2')).toBe(false);
    expect(db.stats().entries).toBe(entries);
    const again = await db.kv.put('short2', 2, { expectedVersion: null });
    expect((await db.kv.get('short2'))!).toEqual({ value: 2, version: again.version });
    // Padding so the expired puts lie in a sealed segment.
    for (let index = 0; index < 20; index++) await db.kv.put(`pad-${index % 2}`, 'y'.repeat(400));
    const before = logBytes(path);
    const result = await db.prune();
    expect(result.primitives.kv!.removed + result.primitives.kv!.erased).toBeGreaterThanOrEqual(20);
    expect(logBytes(path)).toBeLessThan(before - 500);
    expect((await db.kv.list()).items.map((item) => item.key)).toEqual(['forever', 'long', 'pad-0', 'pad-1', 'short2']);
    await db.close();
    // Reopened (full scan and snapshot), the expired key stays gone and the others read back.
    for (const ignoreSnapshots of [true, false]) {
      const reopened = await open(path, { ignoreSnapshots });
      expect(await reopened.kv.get('short')).toBeUndefined();
      expect((await reopened.kv.get('long'))!.value).toBe('stays');
      expect((await reopened.kv.get('pad-1'))!.value).toBe('y'.repeat(400));
      await reopened.close();
    }
  });

  it('a key put with expiry that expires before a reopen is gone after it; one that has not is kept with its expiry', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0 });
    await db.kv.put('soon', 1, { expireInMs: 30 });
    await db.kv.put('later', 2, { expireInMs: 3_600_000 });
    await db.close();
    await sleep(50);
    const reopened = await open(path);
    expect(await reopened.kv.get('soon')).toBeUndefined();
    expect((await reopened.kv.get('later'))!.value).toBe(2);
    const print = (await reopened.fingerprint()).kv as { scopes: { keys: [string, number, number][] }[] };
    const [, , expiresAt] = print.scopes[0]!.keys.find(([key]) => key === 'later')!;
    expect(expiresAt).toBeGreaterThan(Date.now() + 3_500_000);
    await reopened.close();
  });

  it('list: key order (UTF-8 byte order of NFC), prefix, start/end, limit, reverse', async () => {
    const db = await open('kv-list', { durability: 'memory' });
    // U+FF5E sorts before U+1F600 in UTF-8 (and code points), after it in UTF-16 units.
    const keys = ['b', 'a', 'a/2', 'a/10', 'a/1', 'ab', '\uff5e', '\u{1f600}', 'é', 'z', 'A'];
    for (const key of keys) await db.kv.put(key, key.length);
    const encoded = (key: string) => new TextEncoder().encode(key);
    const byteOrder = (x: string, y: string) => {
      const [a, b] = [encoded(x), encoded(y)];
      for (let index = 0; index < Math.min(a.length, b.length); index++) if (a[index] !== b[index]) return a[index]! - b[index]!;
      return a.length - b.length;
    };
    const utf8 = [...keys].sort(byteOrder);
    const listed = (await db.kv.list()).items.map((item) => item.key);
    expect(listed).toEqual(utf8);
    expect(listed.indexOf('\uff5e')).toBeLessThan(listed.indexOf('\u{1f600}'));
    expect(compareKeys('\uff5e', '\u{1f600}')).toBeLessThan(0);
    expect((await db.kv.list({ reverse: true })).items.map((item) => item.key)).toEqual([...utf8].reverse());
    expect((await db.kv.list({ prefix: 'a/' })).items.map((item) => item.key)).toEqual(['a/1', 'a/10', 'a/2']);
    expect((await db.kv.list({ prefix: 'a/', reverse: true, limit: 2 })).items.map((item) => item.key)).toEqual(['a/2', 'a/10']);
    expect((await db.kv.list({ start: 'a/10', end: 'b' })).items.map((item) => item.key)).toEqual(['a/10', 'a/2', 'ab']);
    expect((await db.kv.list({ prefix: 'a', start: 'a/2' })).items.map((item) => item.key)).toEqual(['a/2', 'ab']);
    expect((await db.kv.list({ prefix: 'nothing' })).items).toEqual([]);
    expect((await db.kv.list({ prefix: 'e\u0301' })).items.map((item) => item.key)).toEqual(['é']); // the prefix is normalised too
    const page = await db.kv.list({ limit: 3 });
    expect(page.items).toHaveLength(3);
    expect(page.cursor).toBeTypeOf('string');
    const all = await db.kv.list({ limit: keys.length });
    expect(all.cursor).toBeUndefined(); // nothing after it
    expect(all.items.map((item) => item.value)).toEqual(utf8.map((key) => key.length));
    await db.close();
  });

  it('list cursors stay valid while keys are added and removed', async () => {
    const db = await open('kv-cursor', { durability: 'memory' });
    for (let index = 0; index < 100; index += 2) await db.kv.put(`k${String(index).padStart(3, '0')}`, index);
    for (const reverse of [false, true]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let round = 0;
      do {
        const page = await db.kv.list({ prefix: 'k', limit: 7, reverse, cursor });
        seen.push(...page.items.map((item) => item.key));
        cursor = page.cursor;
        // Meanwhile: odd keys come in everywhere, and some keys not yet listed go.
        for (let add = 0; add < 5; add++) await db.kv.put(`k${String(((round * 37 + add * 13) % 50) * 2 + 1).padStart(3, '0')}`, 'new');
        const last = seen[seen.length - 1]!;
        const ahead = reverse ? `k${String(Number(last.slice(1)) - 4).padStart(3, '0')}` : `k${String(Number(last.slice(1)) + 4).padStart(3, '0')}`;
        await db.kv.delete(ahead);
        round++;
      } while (cursor);
      // Strictly in order, no key twice, and every even key that was never deleted is there.
      const ordered = reverse ? [...seen].reverse() : seen;
      for (let index = 1; index < ordered.length; index++) expect(compareKeys(ordered[index - 1]!, ordered[index]!)).toBeLessThan(0);
      const present = new Set((await db.kv.list({ prefix: 'k' })).items.map((item) => item.key));
      for (let index = 0; index < 100; index += 2) {
        const key = `k${String(index).padStart(3, '0')}`;
        if (present.has(key)) expect(seen, key).toContain(key);
      }
      // Put back what was deleted for the other direction.
      for (let index = 0; index < 100; index += 2) await db.kv.put(`k${String(index).padStart(3, '0')}`, index);
    }
    await db.close();
  });

  it('run scopes: forRun keys are apart from store-wide keys and from other runs', async () => {
    const attributed: [string, number][] = [];
    const db = await open('kv-runs', { durability: 'memory' });
    // What the runs primitive will see: every kv entry of a run attributed to it.
    (db as unknown as { wiring: { attributed: ((runId: string, position: number) => void)[] } }).wiring.attributed.push((runId, position) => attributed.push([runId, position]));
    const run = db.kv.forRun('run-1');
    const other = db.kv.forRun('run-2');
    await db.kv.put('shared', 'store-wide');
    const put = await run.put('shared', 'run 1');
    await other.put('only-2', 'run 2');
    expect((await db.kv.get('shared'))!.value).toBe('store-wide');
    expect((await run.get('shared'))!.value).toBe('run 1');
    expect(await other.get('shared')).toBeUndefined();
    expect(await db.kv.get('only-2')).toBeUndefined();
    expect((await everything(db.kv)).map((item) => item.key)).toEqual(['shared']);
    expect((await everything(run)).map((item) => item.key)).toEqual(['shared']);
    expect((await everything(other)).map((item) => item.key)).toEqual(['only-2']);
    // expectedVersion is per scope.
    await expect(run.put('only-2', 1, { expectedVersion: null })).resolves.toBeDefined();
    const deleted = await run.delete('shared');
    expect(deleted).toBe(true);
    expect((await db.kv.get('shared'))!.value).toBe('store-wide');
    expect(attributed.map(([runId]) => runId)).toEqual(['run-1', 'run-2', 'run-1', 'run-1']);
    expect(attributed[0]![1]).toBe(put.version);
    // Deleting a run forgets its keys at once.
    (db as unknown as { registry: { dropRun(runId: string): void } }).registry.dropRun('run-1');
    expect(await everything(run)).toEqual([]);
    expect((await everything(other)).map((item) => item.key)).toEqual(['only-2']);
    expect(db.stats().primitives.kv).toMatchObject({ keys: 2, runs: 1 });
    await db.close();
  });

  it('a full scan and a snapshot + tail give the same state (fingerprint and values)', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0, durability: 'buffered' });
    const write = async (from: number, to: number) => {
      for (let index = from; index < to; index++) {
        const key = `key-${index % 37}`;
        if (index % 11 === 5) await db.kv.delete(key);
        else await db.kv.put(key, { index, text: 'v'.repeat(index % 50) }, index % 13 === 0 ? { expireInMs: 3_600_000 } : undefined);
        if (index % 7 === 0) await db.kv.forRun(`run-${index % 3}`).put(`r-${index % 5}`, index);
        if (index % 17 === 0) await db.kv.put(`bin-${index % 4}`, new Uint8Array([index & 255, 1, 2]));
      }
    };
    await write(0, 300);
    await db.snapshot();
    await write(300, 450); // the tail after the snapshot
    const expected = await db.fingerprint();
    const values = async (store: Db) => ({ root: await everything(store.kv), runs: await Promise.all([0, 1, 2].map((run) => everything(store.kv.forRun(`run-${run}`)))) });
    const expectedValues = await values(db);
    await db.close();
    const log = quiet();
    const scanned = await open(path, { ignoreSnapshots: true, readOnly: true, onWarning: log.onWarning });
    expect(await scanned.fingerprint()).toEqual(expected);
    expect(await values(scanned)).toEqual(expectedValues);
    await scanned.close();
    const fromSnapshot = await open(path, { readOnly: true, onWarning: log.onWarning });
    expect(fromSnapshot.stats().recovery.snapshot).toBeTruthy();
    expect(await fromSnapshot.fingerprint()).toEqual(expected);
    expect(await values(fromSnapshot)).toEqual(expectedValues);
    await fromSnapshot.close();
    expect(log.warnings).toEqual([]);
  });

  it('prune removes overwritten, deleted and expired values and keeps the current ones', async () => {
    const path = storePath();
    const db = await open(path, { snapshotBytes: 0, segmentBytes: 16 * 1024, durability: 'buffered' });
    const big = (index: number) => ({ index, text: 'z'.repeat(700) });
    for (let index = 0; index < 200; index++) await db.kv.put(`k${index % 10}`, big(index));
    for (let index = 0; index < 5; index++) await db.kv.put(`gone-${index}`, big(index));
    for (let index = 0; index < 5; index++) await db.kv.delete(`gone-${index}`);
    await db.kv.put('expiring', big(-1), { expireInMs: 30 });
    await db.kv.forRun('run-x').put('k0', big(-2));
    await sleep(50);
    const fingerprint = await db.fingerprint();
    const before = logBytes(path);
    const dry = await db.prune({ dryRun: true });
    const result = await db.prune();
    expect(result.bytesAfter).toBe(dry.bytesAfter);
    expect(result.primitives.kv!.erased).toBeGreaterThanOrEqual(190);
    const after = logBytes(path);
    // 200 + 5 + 1 values of ~730 bytes went; 11 current ones stay.
    expect(after).toBeLessThan(before - 190 * 700);
    expect(after).toBeGreaterThan(11 * 700);
    for (let index = 0; index < 10; index++) expect((await db.kv.get(`k${index}`))!.value).toEqual(big(190 + index));
    expect((await db.kv.forRun('run-x').get('k0'))!.value).toEqual(big(-2));
    expect(await db.kv.get('gone-0')).toBeUndefined();
    expect(await db.kv.get('expiring')).toBeUndefined();
    expect(await db.fingerprint()).toEqual(fingerprint);
    await db.close();
    for (const ignoreSnapshots of [true, false]) {
      const reopened = await open(path, { ignoreSnapshots, readOnly: true });
      expect(await reopened.fingerprint()).toEqual(fingerprint);
      expect((await reopened.kv.get('k3'))!.value).toEqual(big(193));
      expect(await reopened.kv.get('gone-3')).toBeUndefined();
      await reopened.close();
    }
  });

  it('a store on disk keeps its keys across reopen; values bigger than the cache read from the log', async () => {
    const path = storePath();
    let db = await open(path);
    const large = { blob: 'L'.repeat(40_000) };
    await db.kv.put('large', large);
    await db.kv.put('small', [1, 2, 3]);
    await db.kv.forRun('r').put('x', true);
    await db.kv.put('temp', 1);
    await db.kv.delete('temp');
    await db.close();
    db = await open(path);
    expect((await db.kv.get('large'))!.value).toEqual(large);
    expect(await db.kv.getMany(['small', 'temp'])).toEqual([{ value: [1, 2, 3], version: 1 }, undefined]);
    expect((await db.kv.forRun('r').get('x'))!.value).toBe(true);
    expect(db.stats().primitives.kv).toMatchObject({ keys: 3, runs: 1 });
    // Written after the reopen, read back.
    await db.kv.put('small', 'again', { expectedVersion: 1 });
    await db.close();
    db = await open(path, { ignoreSnapshots: true });
    expect((await db.kv.get('small'))!.value).toBe('again');
    await db.close();
  });

  it('a read of a key whose write is in flight waits until the write is in the log (never reads past it)', async () => {
    const db = await open(storePath(), { snapshotBytes: 0 });
    await db.kv.put('k', 1);
    const cases: [() => Promise<unknown>, string[]][] = [
      [() => db.kv.put('k', 2), ['getMany 2', 'list 1', 'read 2']],
      [() => db.kv.delete('k'), ['getMany undefined', 'list 0', 'read undefined']],
    ];
    for (const [write, expected] of cases) {
      const order: string[] = [];
      const before = db.stats().entries;
      const writing = write().then(() => order.push('write acknowledged'));
      // The entry is in the log's write buffer, not yet written nor synced.
      while (db.stats().entries === before) await Promise.resolve();
      const reading = db.kv.get('k').then((entry) => order.push(`read ${JSON.stringify(entry?.value)}`));
      const many = db.kv.getMany(['k']).then(([entry]) => order.push(`getMany ${JSON.stringify(entry?.value)}`));
      const listing = db.kv.list().then((page) => order.push(`list ${page.items.length}`));
      await Promise.all([writing, reading, many, listing]);
      expect(order[0]).toBe('write acknowledged');
      expect(order.slice(1).sort()).toEqual(expected);
    }
    await db.close();
  });

  it('the redact option sees every value before it is written (kv, value)', async () => {
    const seen: { primitive: string; field: string }[] = [];
    const db = await open('kv-redact', { durability: 'memory', redact: (value, where) => (seen.push(where), typeof value === 'object' && value !== null && 'apiKey' in value ? { ...value, apiKey: '[redacted]' } : value) });
    await db.kv.put('config', { apiKey: 'sk-secret', model: 'm' });
    await db.kv.forRun('r').put('config', 'plain');
    expect(seen).toEqual([{ primitive: 'kv', field: 'value' }, { primitive: 'kv', field: 'value' }]);
    expect((await db.kv.get('config'))!.value).toEqual({ apiKey: '[redacted]', model: 'm' });
    // A redactor that returns what JSON cannot store: rejected, nothing written.
    const bad = await open('kv-redact-bad', { durability: 'memory', redact: () => new Date() });
    await expect(bad.kv.put('k', 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(bad.stats().entries).toBe(0);
    await bad.close();
    await db.close();
  });

  it('a read-only store follows the writer’s puts and deletes, and refuses writes', async () => {
    const path = storePath();
    const writer = await open(path, { durability: 'buffered', snapshotBytes: 0 });
    await writer.kv.put('a', 1);
    await writer.sync();
    const reader = await open(path, { readOnly: true, followIntervalMs: 0 });
    expect((await reader.kv.get('a'))!.value).toBe(1);
    await writer.kv.put('a', 2);
    await writer.kv.put('b', 3);
    await writer.kv.delete('b');
    await writer.sync();
    await reader.refresh();
    expect((await reader.kv.get('a'))!.value).toBe(2);
    expect(await reader.kv.get('b')).toBeUndefined();
    await expect(reader.kv.put('c', 1)).rejects.toMatchObject({ code: 'READ_ONLY' });
    await reader.close();
    await writer.close();
  });

  it('a crash at every I/O operation of a prune leaves exactly the keys and values there were (deletes never outlive the puts they removed)', { timeout: 120_000 }, async () => {
    const STORE = '/kv/store.reel';
    const options = { durability: 'strict' as const, segmentBytes: 2048, snapshotBytes: 0, onWarning: () => {} };
    const text = (index: number) => `${index}:${'v'.repeat(150)}`;
    async function setup(host: FaultyFileHost) {
      const db = await open(STORE, { host, ...options });
      // Puts in the first segments; their deletes, overwrites and expiries segments later.
      for (let index = 0; index < 12; index++) await db.kv.put(`key-${index}`, text(index));
      await db.kv.put('expires', text(-1), { expireInMs: 1 });
      for (let index = 0; index < 12; index++) await db.kv.put(`pad-${index % 3}`, text(100 + index));
      for (let index = 0; index < 12; index += 3) await db.kv.delete(`key-${index}`);
      for (let index = 1; index < 12; index += 3) await db.kv.put(`key-${index}`, text(1000 + index));
      await db.kv.forRun('run').put('key-2', text(2000));
      await db.kv.put('key-5', text(5000), { expireInMs: 1 }); // an overwrite that then expires: the key is gone
      await new Promise((resolve) => setTimeout(resolve, 5));
      return db;
    }
    const observe = async (db: Db) => ({ root: await everything(db.kv), run: await everything(db.kv.forRun('run')) });
    const reference = new FaultyFileHost({ seed: 1 });
    const referenceDb = await setup(reference);
    const setupOperations = reference.operations;
    const expected = await observe(referenceDb);
    expect(expected.root.map((item) => item.key)).not.toContain('key-0');
    expect(expected.root.map((item) => item.key)).not.toContain('key-5');
    const result = await referenceDb.prune();
    expect(result.segmentsRewritten).toBeGreaterThan(2);
    expect(await observe(referenceDb)).toEqual(expected);
    const pruneOperations = reference.operations - setupOperations;
    await referenceDb.close();
    let partial = 0;
    const seeds = Number(process.env.REELDB_PRUNE_SEEDS ?? 1);
    for (let point = 0; point < pruneOperations * seeds; point++) {
      const crashAt = setupOperations + (point % pruneOperations);
      const host = new FaultyFileHost({ seed: point + 1, crashAt });
      const db = await setup(host);
      await db.prune().then(
        () => undefined,
        (error: unknown) => {
          const crash = error instanceof SimulatedCrash || (error as { cause?: unknown }).cause instanceof SimulatedCrash;
          if (!crash && (error as { code?: string }).code !== 'STORE_FAILED') throw error;
        },
      );
      await db.close().catch(() => undefined);
      expect(host.crashed).toBe(true);
      const recovered = await open(STORE, { host: host.afterCrash(), ...options });
      expect(await observe(recovered), `crash at operation ${crashAt}`).toEqual(expected);
      const fingerprint = await recovered.fingerprint();
      const again = await recovered.prune();
      if (again.segmentsRewritten > 0) partial++;
      expect(await observe(recovered), `crash at operation ${crashAt}, pruned again`).toEqual(expected);
      expect(await recovered.fingerprint()).toEqual(fingerprint);
      await recovered.close();
    }
    expect(partial).toBeGreaterThan(0); // some crashes did land between the rewrites
  });

  it('reeldb kv <path> lists keys in order with versions and values; --prefix, --run, --limit, --json', async () => {
    const path = storePath();
    const db = await open(path);
    await db.kv.put('user:2/name', 'Grace');
    await db.kv.put('user:1/name', 'Ada');
    await db.kv.put('user:1/blob', new Uint8Array([1, 2, 3]));
    await db.kv.put('other', { long: 'x'.repeat(200) });
    await db.kv.forRun('run-7').put('user:1/name', 'scratch');
    await db.close();
    const bin = new URL('../js/bin/reeldb.mjs', import.meta.url).pathname;
    const cli = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const text = cli('kv', path, '--prefix', 'user:');
    expect(text.stderr).toBe('');
    expect(text.status).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ {2}key +version +value$/);
    expect(lines.slice(1, 4).map((line) => line.trim().split(/\s{3,}/))).toEqual([
      ['user:1/blob', '2', '<3 bytes>'],
      ['user:1/name', '1', '"Ada"'],
      ['user:2/name', '0', '"Grace"'],
    ]);
    expect(lines[4]).toBe('3 keys');
    expect(cli('kv', path).stdout).toContain('…'); // a long value is shortened
    expect(cli('kv', path, '--limit', '1').stdout).toContain('1 key (more: raise --limit)');
    const run = cli('kv', path, '--run', 'run-7', '--json');
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([{ key: 'user:1/name', value: 'scratch', version: 4 }]);
    expect(JSON.parse(cli('kv', path, '--prefix', 'user:1/b', '--json').stdout)).toEqual({ key: 'user:1/blob', version: 2, base64: 'AQID' });
    const verify = cli('verify', path);
    expect(verify.status).toBe(0);
    expect(verify.stdout).toContain('kv: 5 keys checked');
    expect(cli('kv', path, '--limit', 'ten').status).toBe(2);
    expect(cli('kv').status).toBe(2);
    expect(cli('kv', path, '--colour').status).toBe(2);
  });

  it('random operations agree with a model, across reopens by full scan and from snapshots', async () => {
    const path = storePath();
    let seed = 12345;
    const random = (below: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % below;
    const model = new Map<string, { value: unknown; version: number }>();
    const scopes = ['', 'run-a', 'run-b'];
    const keyNames = ['a', 'b', 'a/1', 'a/2', 'é', '\u{1f600}', '\uff5e', 'z'];
    let db = await open(path, { durability: 'buffered', snapshotBytes: 0, segmentBytes: 8192 });
    const api = (scope: string) => (scope === '' ? db.kv : db.kv.forRun(scope));
    for (let step = 0; step < 400; step++) {
      const scope = scopes[random(scopes.length)]!;
      const key = keyNames[random(keyNames.length)]!;
      const id = `${scope}\u0000${key}`;
      const current = model.get(id);
      const operation = random(10);
      if (operation < 5) {
        const value = random(4) === 0 ? new Uint8Array([step & 255, 7]) : { step, text: 'x'.repeat(random(300)) };
        const expectation = random(3);
        const expectedVersion = expectation === 0 ? undefined : expectation === 1 ? null : (current?.version ?? 0) + random(2);
        const conflicts = expectedVersion !== undefined && expectedVersion !== (current?.version ?? null);
        const result = await api(scope)
          .put(key, value, expectedVersion === undefined ? undefined : { expectedVersion })
          .catch((error: unknown) => error);
        if (conflicts) expect(result, `step ${step}`).toBeInstanceOf(ConflictError);
        else model.set(id, { value, version: (result as { version: number }).version });
      } else if (operation < 7) {
        expect(await api(scope).delete(key), `step ${step}`).toBe(current !== undefined);
        model.delete(id);
      } else if (operation < 9) {
        expect(await api(scope).get(key), `step ${step}`).toEqual(current);
      } else {
        const expected = [...model]
          .filter(([entry]) => entry.startsWith(`${scope}\u0000`))
          .map(([entry, { value, version }]) => ({ key: entry.slice(scope.length + 1), value, version }))
          .sort((x, y) => compareKeys(x.key, y.key));
        expect((await api(scope).list()).items, `step ${step}`).toEqual(expected);
      }
      if (step % 80 === 79) {
        if (random(2) === 0) await db.snapshot();
        if (random(2) === 0) await db.prune();
        const fingerprint = await db.fingerprint();
        await db.close();
        db = await open(path, { durability: 'buffered', snapshotBytes: 0, segmentBytes: 8192, ignoreSnapshots: random(2) === 0 });
        expect(await db.fingerprint(), `reopened at step ${step}`).toEqual(fingerprint);
      }
    }
    await db.close();
  });

  it('audit (reeldb verify) reads every current key and reports an index that does not match its entries', async () => {
    const db = await open('kv-audit', { durability: 'memory' });
    await db.kv.put('a', { x: 1 });
    const b = await db.kv.put('b', 'two');
    await db.kv.forRun('r').put('a', 3);
    const instance = (db as unknown as { registry: { get(name: string): { instance: { audit(): Promise<{ checked: Record<string, number>; problems: string[] }>; root: { records: Map<string, { position: number }> } } } } }).registry.get('kv').instance;
    expect(await instance.audit()).toEqual({ checked: { keys: 3 }, problems: [] });
    // An index pointing key 'a' at key 'b''s entry: found.
    (instance.root.records.get('a') as { position: number }).position = b.version;
    const report = await instance.audit();
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toContain("key 'a' (position 1): its entry is of key 'b'");
    await db.close();
  });

  it('the snapshot section round-trips and refuses what does not decode', () => {
    const scopes = [
      { runId: '', records: [{ key: 'a', position: 3, expiresAt: 0 }, { key: 'é', position: 9, expiresAt: 1_700_000_000_000 }] },
      { runId: 'run-1', records: [{ key: 'a', position: 5, expiresAt: 0 }] },
    ];
    const decode = (bytes: Uint8Array) => {
      const found: { runId: string; records: { key: string; position: number; expiresAt: number }[] }[] = [];
      const kept = decodeSection(bytes, (runId) => {
        const records: { key: string; position: number; expiresAt: number }[] = [];
        found.push({ runId, records });
        return (key, position, expiresAt) => records.push({ key, position, expiresAt });
      });
      return { scopes: found, kept };
    };
    const bytes = encodeSection(scopes, [42]);
    expect(decode(bytes)).toEqual({ scopes, kept: [42] });
    expect(() => decode(bytes.subarray(0, bytes.length - 3))).toThrow();
    const swapped = encodeSection([{ runId: '', records: [scopes[0]!.records[1]!, scopes[0]!.records[0]!] }], []);
    expect(() => decode(swapped)).toThrow(/order/);
    const badVersion = bytes.slice();
    badVersion[0] = 9;
    expect(() => decode(badVersion)).toThrow(/version/);
    // A key that is not UTF-8.
    const notUtf8 = encodeSection([{ runId: '', records: [{ key: 'ab', position: 1, expiresAt: 0 }] }], []);
    notUtf8[notUtf8.indexOf(0x61)] = 0xff;
    expect(() => decode(notUtf8)).toThrow(/UTF-8/);
  });
});
