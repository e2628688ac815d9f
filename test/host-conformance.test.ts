/** One conformance suite that every FileHost passes (the contract is in js/src/host/types.ts). */
import { describe, expect, it } from 'vitest';
import { IOError } from '../js/src/errors.js';
import { FaultyFileHost, SimulatedCrash } from '../js/src/host/faulty.js';
import type { FileHost } from '../js/src/host/types.js';
import { reeldb, runtime, temporaryDirectory } from './helpers.js';

const hosts: [string, () => { host: FileHost; root: string }][] = [
  ['memory', () => ({ host: new reeldb.MemoryFileHost(), root: '/conformance' })],
  ['faulty', () => ({ host: new FaultyFileHost(), root: '/conformance' })],
  // With every fault armed beyond what the suite does: counting operations must not change behaviour.
  ['faulty (faults armed, not reached)', () => ({ host: new FaultyFileHost({ seed: 7, crashAt: 1e9, failSyncAt: 1e9, failWriteAt: 1e9, failAt: 1e9, persistent: true }), root: '/conformance' })],
  // The host a restarted process finds after a crash (what every crash test recovers on) is a full host too.
  ['faulty (after a crash)', () => ({ host: new FaultyFileHost({ seed: 7 }).afterCrash(), root: '/conformance' })],
];
if (runtime === 'deno') {
  const { DenoFileHost } = await import('../js/src/host/deno.js');
  hosts.push(['deno', () => ({ host: new DenoFileHost(), root: temporaryDirectory() })]);
} else {
  const { NodeFileHost } = await import('../js/src/host/node.js');
  hosts.push([runtime, () => ({ host: new NodeFileHost(), root: temporaryDirectory() })]);
}

const bytes = (...values: number[]) => new Uint8Array(values);

for (const [name, make] of hosts) {
  describe(`FileHost conformance: ${name} host on ${runtime}`, () => {
    it('opens: a missing file rejects without create, is created with it', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      await expect(host.open(`${root}/missing`)).rejects.toThrow();
      const handle = await host.open(`${root}/file`, { create: true });
      expect(await handle.size()).toBe(0);
      await handle.close();
      expect(await host.exists(`${root}/file`)).toBe(true);
    });

    it('hardening B19: watch, where a host has it, reports a change to a file in the directory, and stops once closed', { timeout: 20_000 }, async () => {
      const { host, root } = make();
      if (!host.watch) return; // optional: a host without it is polled
      await host.mkdir(root);
      const handle = await host.open(`${root}/file`, { create: true });
      let changes = 0;
      const watcher = host.watch(root, () => changes++);
      try {
        for (let attempt = 0; changes === 0 && attempt < 1000; attempt++) {
          await handle.write(bytes(attempt & 255), attempt);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(changes).toBeGreaterThan(0);
      } finally {
        watcher.close();
        await handle.close();
      }
    });

    it('reads short only at the end and 0 past it; writes past the end leave a zero gap', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      const handle = await host.open(`${root}/file`, { create: true });
      await handle.write(bytes(1, 2, 3), 0);
      await handle.write(bytes(9), 6);
      expect(await handle.size()).toBe(7);
      const into = new Uint8Array(10);
      expect(await handle.read(into, 0)).toBe(7);
      expect([...into.subarray(0, 7)]).toEqual([1, 2, 3, 0, 0, 0, 9]);
      expect(await handle.read(into, 7)).toBe(0);
      expect(await handle.read(into, 1000)).toBe(0);
      await handle.write(bytes(7, 7), 1);
      expect(await handle.read(into.subarray(0, 4), 0)).toBe(4);
      expect([...into.subarray(0, 4)]).toEqual([1, 7, 7, 0]);
      await handle.close();
    });

    it('makes writes visible to other handles before sync', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      const writer = await host.open(`${root}/file`, { create: true });
      const reader = await host.open(`${root}/file`, { readOnly: true });
      await writer.write(bytes(5, 6), 0);
      const into = new Uint8Array(2);
      expect(await reader.read(into, 0)).toBe(2);
      expect([...into]).toEqual([5, 6]);
      await writer.sync();
      await writer.close();
      await reader.close();
    });

    it('truncates down and extends with zeros', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      const handle = await host.open(`${root}/file`, { create: true });
      await handle.write(bytes(1, 2, 3, 4), 0);
      await handle.truncate(2);
      expect(await handle.size()).toBe(2);
      await handle.truncate(5);
      const into = new Uint8Array(5);
      await handle.read(into, 0);
      expect([...into]).toEqual([1, 2, 0, 0, 0]);
      await handle.close();
    });

    it('lists, makes, removes directories; missing ones list as empty and remove fine', async () => {
      const { host, root } = make();
      expect(await host.list(`${root}/nope`)).toEqual([]);
      await host.mkdir(`${root}/a/b`);
      await host.mkdir(`${root}/a/b`);
      await (await host.open(`${root}/a/f1`, { create: true })).close();
      expect((await host.list(`${root}/a`)).sort()).toEqual(['b', 'f1']);
      await host.remove(`${root}/a/f1`);
      await host.remove(`${root}/a/f1`);
      expect(await host.list(`${root}/a`)).toEqual(['b']);
      await host.remove(`${root}/a`);
      expect(await host.exists(`${root}/a`)).toBe(false);
      await host.syncDirectory(root);
    });

    it('replaces a file atomically by rename', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      for (const [file, value] of [['old', 1], ['new', 2]] as const) {
        const handle = await host.open(`${root}/${file}`, { create: true });
        await handle.write(bytes(value), 0);
        await handle.close();
      }
      await host.replace(`${root}/new`, `${root}/old`);
      expect(await host.exists(`${root}/new`)).toBe(false);
      const handle = await host.open(`${root}/old`);
      const into = new Uint8Array(1);
      await handle.read(into, 0);
      expect(into[0]).toBe(2);
      await handle.close();
    });

    it('rejects calls on a closed handle', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      const handle = await host.open(`${root}/file`, { create: true });
      await handle.close();
      await expect(handle.write(bytes(1), 0)).rejects.toThrow();
      await expect(handle.read(new Uint8Array(1), 0)).rejects.toThrow();
    });

    it('hardening A1: every failure is a typed I/O error naming the path and the operation', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      const expectIO = async (promise: Promise<unknown>, path: string, errno: string) => {
        const error = await promise.then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(error, path).toBeInstanceOf(IOError);
        expect(error).toMatchObject({ code: 'IO_ERROR', path, errno });
        expect(typeof (error as IOError).syscall).toBe('string');
      };
      await expectIO(host.open(`${root}/missing`), `${root}/missing`, 'ENOENT');
      await expectIO(host.open(`${root}/missing`, { readOnly: true }), `${root}/missing`, 'ENOENT');
      await expectIO(host.open(root, { readOnly: true }), root, 'EISDIR');
      await expectIO(host.replace(`${root}/missing`, `${root}/other`), `${root}/missing`, 'ENOENT');
      const handle = await host.open(`${root}/file`, { create: true });
      await handle.close();
      await expectIO(handle.read(new Uint8Array(1), 0), `${root}/file`, 'EBADF');
      const reader = await host.open(`${root}/file`, { readOnly: true });
      await expect(reader.write(bytes(1), 0)).rejects.toBeInstanceOf(IOError);
      await reader.close();
    });

    it('gives one writer lock per directory until released', async () => {
      const { host, root } = make();
      await host.mkdir(root);
      const lock = await host.lock(root);
      await expect(host.lock(root)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
      await lock.release();
      const again = await host.lock(root);
      await again.release();
    });
  });
}

/**
 * What the faulty host promises beyond the FileHost contract: the crash model every crash
 * sweep relies on (js/src/host/faulty.ts). If these did not hold, the sweeps would test less
 * than they say.
 */
describe(`faulty host crash model on ${runtime}`, () => {
  const write = async (host: FileHost, path: string, data: Uint8Array, sync: boolean) => {
    const handle = await host.open(path, { create: true });
    await handle.write(data, 0);
    if (sync) await handle.sync();
    await handle.close();
  };
  const read = async (host: FileHost, path: string) => {
    if (!(await host.exists(path))) return undefined;
    const handle = await host.open(path, { readOnly: true });
    const into = new Uint8Array(await handle.size());
    await handle.read(into, 0);
    await handle.close();
    return [...into];
  };

  it('synced data and directory entries survive a restart; unsynced writes survive as the plan says; entries never synced into their directory vanish', async () => {
    for (const unsynced of ['none', 'all'] as const) {
      const host = new FaultyFileHost({ seed: 1, unsynced });
      await host.mkdir('/d');
      await write(host, '/d/kept', bytes(1, 2), true);
      await host.syncDirectory('/d');
      await write(host, '/d/lost', bytes(3), true); // its data synced, its directory entry not
      const handle = await host.open('/d/kept');
      await handle.write(bytes(9, 9, 9), 2); // not synced
      await handle.close();
      const after = host.afterCrash();
      expect(await read(after, '/d/kept'), unsynced).toEqual(unsynced === 'none' ? [1, 2] : [1, 2, 9, 9, 9]);
      expect(await read(after, '/d/lost'), unsynced).toBeUndefined();
    }
  });

  it('a rename whose directory was not synced is rolled back by a crash; once synced it stays', async () => {
    const host = new FaultyFileHost({ seed: 2, unsynced: 'none' });
    await host.mkdir('/d');
    await write(host, '/d/old', bytes(1), true);
    await write(host, '/d/new', bytes(2), true);
    await host.syncDirectory('/d');
    await host.replace('/d/new', '/d/old');
    const rolledBack = host.afterCrash();
    expect(await read(rolledBack, '/d/old')).toEqual([1]);
    expect(await read(rolledBack, '/d/new')).toEqual([2]);
    await host.syncDirectory('/d');
    const kept = host.afterCrash();
    expect(await read(kept, '/d/old')).toEqual([2]);
    expect(await read(kept, '/d/new')).toBeUndefined();
  });

  it('a crash at operation N: that operation and every later call fail, a write in flight is torn to a prefix', async () => {
    const prepare = async (host: FaultyFileHost) => {
      await host.mkdir('/d');
      const file = await host.open('/d/f', { create: true });
      await host.syncDirectory('/d');
      return file;
    };
    const probe = new FaultyFileHost();
    await prepare(probe);
    const crashAt = probe.operations; // the write below
    for (let seed = 1; seed <= 20; seed++) {
      const host = new FaultyFileHost({ seed, crashAt, tear: 'cut', unsynced: 'all' });
      const file = await prepare(host);
      await expect(file.write(new Uint8Array(100).fill(7), 0)).rejects.toBeInstanceOf(SimulatedCrash);
      expect(host.crashed).toBe(true);
      await expect(host.list('/d')).rejects.toBeInstanceOf(SimulatedCrash);
      await expect(file.sync()).rejects.toBeInstanceOf(SimulatedCrash);
      const torn = (await read(host.afterCrash(), '/d/f'))!;
      expect(torn.length).toBeLessThanOrEqual(100);
      expect(torn.every((byte) => byte === 7)).toBe(true);
    }
  });

  it('failed syncs and writes are typed errors (EIO, DISK_FULL), once or from then on', async () => {
    const host = new FaultyFileHost({ failSyncAt: 2 });
    await host.mkdir('/d'); // operation 0
    const handle = await host.open('/d/f', { create: true }); // 1
    await expect(handle.sync()).rejects.toMatchObject({ code: 'IO_ERROR', errno: 'EIO' }); // 2
    await handle.sync(); // 3: only the one failed
    expect(host.failures).toEqual(['sync 2']);
    const full = new FaultyFileHost({ failWriteAt: 2, persistent: true });
    await full.mkdir('/d');
    const file = await full.open('/d/f', { create: true });
    await expect(file.write(bytes(1), 0)).rejects.toMatchObject({ code: 'DISK_FULL', errno: 'ENOSPC' });
    await expect(file.write(bytes(1), 0)).rejects.toMatchObject({ code: 'DISK_FULL' });
    await file.sync();
  });
});
