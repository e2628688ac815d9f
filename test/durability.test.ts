/** Fail-stop on I/O errors: a failed sync or write makes the store refuse every later write. */
import { describe, expect, it } from 'vitest';
import type { FileHandle, FileHost } from '../js/src/host/types.js';
import { reeldb, runtime } from './helpers.js';

/** Wraps a host so that syncs, writes or reads start failing on command. */
function failingHost(base: FileHost) {
  const state = { failSync: false, failWrite: false, failRead: false, syncs: 0 };
  const wrap = (handle: FileHandle): FileHandle => ({
    read: (into, position) => (state.failRead ? Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })) : handle.read(into, position)),
    write: (bytes, position) => (state.failWrite ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : handle.write(bytes, position)),
    size: () => handle.size(),
    truncate: (size) => handle.truncate(size),
    sync: () => {
      state.syncs++;
      return state.failSync ? Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) : handle.sync();
    },
    close: () => handle.close(),
  });
  const host: FileHost = {
    name: 'failing',
    open: async (path, options) => wrap(await base.open(path, options)),
    list: (directory) => base.list(directory),
    mkdir: (directory) => base.mkdir(directory),
    exists: (path) => base.exists(path),
    remove: (path) => base.remove(path),
    replace: (from, to) => base.replace(from, to),
    syncDirectory: (directory) => base.syncDirectory(directory),
    lock: (directory) => base.lock(directory),
  };
  return { host, state };
}

describe(`durability on ${runtime}`, () => {
  it('strict: a failed fdatasync rejects the commit and every later write with StoreFailedError', async () => {
    const base = new reeldb.MemoryFileHost();
    const { host, state } = failingHost(base);
    const db = await reeldb.open('/store', { host, durability: 'strict' });
    await db.events.append('s', [{ type: 't', data: 1 }]);
    const syncsBefore = state.syncs;
    await db.events.append('s', [{ type: 't', data: 2 }]);
    expect(state.syncs).toBeGreaterThan(syncsBefore); // strict really syncs per commit
    state.failSync = true;
    const failed = await db.events.append('s', [{ type: 't', data: 3 }]).catch((error) => error);
    expect(failed).toBeInstanceOf(reeldb.StoreFailedError);
    expect(failed.code).toBe('STORE_FAILED');
    expect(failed.message).toMatch(/fdatasync failed.*EIO/);
    state.failSync = false; // even when the device recovers, retrying fsync is unsafe
    await expect(db.events.append('s', [{ type: 't', data: 4 }])).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await db.close();
    // Reopening recovers what was made durable (here, everything written).
    const reopened = await reeldb.open('/store', { host: base });
    expect((await reopened.events.readStream('s')).map((event) => event.data).slice(0, 2)).toEqual([1, 2]);
    await reopened.events.append('s', [{ type: 't', data: 5 }]);
    await reopened.close();
  });

  it('concurrent strict commits waiting on a failed sync all reject', async () => {
    const { host, state } = failingHost(new reeldb.MemoryFileHost());
    const db = await reeldb.open('/store', { host });
    state.failSync = true;
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, index) => db.events.append(`s${index}`, [{ type: 't', data: index }])));
    expect(results.every((result) => result.status === 'rejected' && (result.reason as { code: string }).code === 'STORE_FAILED')).toBe(true);
    await db.close();
  });

  it('buffered: a failed background sync fails the store for later writes', async () => {
    const { host, state } = failingHost(new reeldb.MemoryFileHost());
    const db = await reeldb.open('/store', { host, durability: 'buffered', syncIntervalMs: 1 });
    state.failSync = true;
    await db.events.append('s', [{ type: 't', data: 1 }]); // acknowledged before its sync
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(db.events.append('s', [{ type: 't', data: 2 }])).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(db.sync()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await db.close();
  });

  it('a failed write (disk full) fails the store; reopening recovers the valid prefix', async () => {
    const base = new reeldb.MemoryFileHost();
    const { host, state } = failingHost(base);
    const db = await reeldb.open('/store', { host });
    await db.events.append('s', [{ type: 't', data: 1 }]);
    state.failWrite = true;
    await expect(db.events.append('s', [{ type: 't', data: 2 }])).rejects.toMatchObject({ code: 'STORE_FAILED' });
    state.failWrite = false;
    await expect(db.events.append('s', [{ type: 't', data: 3 }])).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await db.close();
    const reopened = await reeldb.open('/store', { host: base });
    expect((await reopened.events.readStream('s')).map((event) => event.data)).toEqual([1]);
    await reopened.close();
  });
  it('regression: an idempotent retry whose read fails rejects with the read error instead of spinning the commit loop', async () => {
    const base = new reeldb.MemoryFileHost();
    const { host, state } = failingHost(base);
    const db = await reeldb.open('/store', { host, durability: 'strict' });
    const events = [{ type: 't', data: 1, id: 'a' }, { type: 't', data: 2, id: 'b' }];
    await db.events.append('s', events, { expectedVersion: 'no_stream' });
    await db.close();
    // Reopened, the retry check must read the recorded events from the file.
    const reopened = await reeldb.open('/store', { host, durability: 'strict' });
    state.failRead = true;
    const timerFired = new Promise<string>((resolve) => setTimeout(() => resolve('timer'), 1000));
    const retry = reopened.events.append('s', events, { expectedVersion: 'no_stream' }).then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    // Before the fix the retry re-prepared forever on microtasks and even the timer never fired.
    expect(await Promise.race([retry, timerFired])).toMatch(/EIO/);
    state.failRead = false;
    // The store is not failed by a read error: the same retry now finds the recorded events.
    const again = await reopened.events.append('s', events, { expectedVersion: 'no_stream' });
    expect(again.map((event) => event.position)).toEqual([0, 1]);
    expect(reopened.events.headPosition).toBe(1);
    await reopened.close();
  });
});
