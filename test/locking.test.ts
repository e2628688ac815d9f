/** One writer per store, across processes and runtimes; stale locks are taken over. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reeldb, runtime, storePath, fixtureCommand } from './helpers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function hold(other: string, path: string): Promise<ChildProcess> {
  const [command, ...args] = fixtureCommand('lock-holder.mjs', other);
  const child = spawn(command!, [...args, 'hold', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('ready')) resolve(child);
      else if (output.includes('"opened":false')) reject(new Error(output));
    });
    child.on('exit', (code) => reject(new Error(`holder exited with ${code}: ${output}`)));
  });
}

function tryOpen(other: string, path: string): { opened: boolean; code?: string; holder?: { pid: number; runtime: string } } {
  const [command, ...args] = fixtureCommand('lock-holder.mjs', other);
  const result = spawnSync(command!, [...args, 'try', path], { encoding: 'utf8' });
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe(`locking on ${runtime}`, () => {
  it('a second writer in the same process gets StoreLockedError naming the holder', async () => {
    const path = storePath();
    const db = await reeldb.open(path);
    const error = await reeldb.open(path).catch((caught) => caught);
    expect(error).toBeInstanceOf(reeldb.StoreLockedError);
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.holder).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(error.message).toContain(`process ${process.pid}`);
    const reader = await reeldb.open(path, { readOnly: true });
    await reader.close();
    await db.close();
    expect(existsSync(join(path, 'LOCK'))).toBe(false);
    await (await reeldb.open(path)).close();
  });

  for (const other of ['node', 'deno', 'bun']) {
    it(`excludes a writer in ${other}, and takes over its lock after it is killed`, async () => {
      const path = storePath();
      const child = await hold(other, path);
      const error = await reeldb.open(path).catch((caught) => caught);
      expect(error).toBeInstanceOf(reeldb.StoreLockedError);
      expect(error.holder.pid).toBe(child.pid);
      expect(error.holder.runtime).toContain(other);
      await killed(child);
      const db = await reeldb.open(path);
      expect((await db.events.readStream('holder'))[0]!.data).toEqual({ pid: child.pid });
      // Now this process holds it: the other runtime is refused, naming us.
      const refused = tryOpen(other, path);
      expect(refused).toMatchObject({ opened: false, code: 'STORE_LOCKED', holder: { pid: process.pid } });
      await db.close();
      expect(tryOpen(other, path)).toMatchObject({ opened: true });
    });
  }

  it('takes over a lock whose holder is gone, but not one held by a live process', async () => {
    const path = storePath();
    mkdirSync(path, { recursive: true });
    const gone = spawnSync('node', ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout.trim());
    writeFileSync(join(path, 'LOCK'), JSON.stringify({ pid: deadPid, hostname: hostname(), runtime: 'node', startedAt: 'earlier' }));
    const db = await reeldb.open(path);
    expect(JSON.parse(readFileSync(join(path, 'LOCK'), 'utf8')).pid).toBe(process.pid);
    await db.close();
    const live = spawn('node', ['-e', 'setInterval(() => {}, 1000)']);
    children.push(live);
    writeFileSync(join(path, 'LOCK'), JSON.stringify({ pid: live.pid, hostname: hostname(), runtime: 'node', startedAt: 'now' }));
    await expect(reeldb.open(path)).rejects.toMatchObject({ code: 'STORE_LOCKED', holder: { pid: live.pid } });
    writeFileSync(join(path, 'LOCK'), JSON.stringify({ pid: deadPid, hostname: 'another-machine', runtime: 'node', startedAt: 'now' }));
    await expect(reeldb.open(path)).rejects.toThrow(/on another-machine/);
  });
});
