/** One conformance suite that every FileHost passes (the contract is in js/src/host/types.ts). */
import { describe, expect, it } from 'vitest';
import { IOError } from '../js/src/errors.js';
import { FaultyFileHost } from '../js/src/host/faulty.js';
import type { FileHost } from '../js/src/host/types.js';
import { reeldb, runtime, temporaryDirectory } from './helpers.js';

const hosts: [string, () => { host: FileHost; root: string }][] = [
  ['memory', () => ({ host: new reeldb.MemoryFileHost(), root: '/conformance' })],
  ['faulty', () => ({ host: new FaultyFileHost(), root: '/conformance' })],
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
