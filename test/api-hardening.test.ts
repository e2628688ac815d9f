/**
 * Issue 8's API items: typos in options (B9), what open does with paths that are not a store
 * (B13) and with OS errors on the way (B16), one name for the read count and typed data (B20),
 * and reads on a store that failed (A7).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toIOError } from '../js/src/host/os-error.js';
import type { FileHandle, FileHost } from '../js/src/host/types.js';
import { reeldb, runtime, storePath, temporaryDirectory } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The error a call throws or rejects with. */
async function failure(call: () => unknown): Promise<Error & { code?: string; errno?: string; path?: string }> {
  try {
    await call();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to fail');
}

/** Every file under `directory` with its bytes. */
function snapshotFiles(directory: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name !== 'LOCK') out[path] = readFileSync(path).toString('base64');
    }
  };
  walk(directory);
  return out;
}

/** A host whose syncs, writes, mkdir or lock fail on command. */
function failingHost(base: FileHost, typed = false) {
  const state = { failSync: false, failWrite: false, mkdirError: undefined as string | undefined, lockError: undefined as string | undefined, openError: undefined as { suffix: string; code: string } | undefined };
  // Raw platform errors, or (typed) the typed I/O errors a host makes of them.
  const osError = (code: string, syscall: string) => {
    const raw = Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, syscall });
    return typed ? toIOError(raw, '/somewhere', syscall) : raw;
  };
  const wrap = (handle: FileHandle): FileHandle => ({
    read: (into, position) => handle.read(into, position),
    write: (bytes, position) => (state.failWrite ? Promise.reject(osError('ENOSPC', 'write')) : handle.write(bytes, position)),
    size: () => handle.size(),
    truncate: (size) => handle.truncate(size),
    sync: () => (state.failSync ? Promise.reject(osError('EIO', 'fdatasync')) : handle.sync()),
    close: () => handle.close(),
  });
  const host: FileHost = {
    name: 'failing',
    open: async (path, options) => {
      if (state.openError && path.endsWith(state.openError.suffix)) throw osError(state.openError.code, 'open');
      return wrap(await base.open(path, options));
    },
    list: (directory) => base.list(directory),
    mkdir: (directory) => (state.mkdirError ? Promise.reject(osError(state.mkdirError, 'mkdir')) : base.mkdir(directory)),
    exists: (path) => base.exists(path),
    remove: (path) => base.remove(path),
    replace: (from, to) => base.replace(from, to),
    syncDirectory: (directory) => base.syncDirectory(directory),
    lock: (directory) => (state.lockError ? Promise.reject(osError(state.lockError, 'open')) : base.lock(directory)),
  };
  return { host, state };
}

describe(`API hardening on ${runtime}`, () => {
  it('hardening B9: a typo in an option is InvalidArgumentError with a suggestion', async () => {
    const directory = temporaryDirectory();
    // open: the typo would have made a strict store on disk.
    const typo = await failure(() => reeldb.open(join(directory, 'a.reel'), { durabilty: 'memory' } as never));
    expect(typo).toBeInstanceOf(reeldb.InvalidArgumentError);
    expect(typo.message).toBe("unknown option 'durabilty' for open; did you mean 'durability'?");
    expect(readdirSync(directory)).toEqual([]);

    const path = join(directory, 'store.reel');
    const db = await reeldb.open(path);
    await db.events.append('s', [{ type: 't', data: 1 }, { type: 't', data: 2 }]);
    await db.checkpoints.save('thread', { step: 1 });
    const before = snapshotFiles(path);
    const head = db.events.headPosition;

    const cases: [() => unknown, string][] = [
      [() => db.events.append('s', [{ type: 't', data: 3 }], { expectedVersoin: 99 } as never), "unknown option 'expectedVersoin' for append; did you mean 'expectedVersion'?"],
      [() => db.events.readStream('s', { limt: 1 } as never), "unknown option 'limt' for readStream; did you mean 'limit'?"],
      [() => db.events.readStream('s', { fromVerison: 1 } as never), "did you mean 'fromVersion'?"],
      [() => db.events.readAll({ direciton: 'backward' } as never), "unknown option 'direciton' for readAll; did you mean 'direction'?"],
      [() => db.events.replay({ fromPositon: 1 } as never), "unknown option 'fromPositon' for replay; did you mean 'fromPosition'?"],
      [() => db.events.replay({ decodedata: false } as never), "did you mean 'decodeData'?"],
      [() => db.events.subscribe({ from: 0 } as never), "unknown option 'from' for subscribe; did you mean 'fromPosition'?"],
      [() => db.checkpoints.save('thread', { step: 2 }, { metdata: { a: 1 } } as never), "unknown option 'metdata' for checkpoints.save; did you mean 'metadata'?"],
      [() => db.checkpoints.load('thread', { Id: 'x' } as never), "unknown option 'Id' for checkpoints.load; did you mean 'id'?"],
      [() => db.checkpoints.list('thread', { limits: 1 } as never), "unknown option 'limits' for checkpoints.list; did you mean 'limit'?"],
      [() => db.checkpoints.storage({ prefx: 'a/' } as never), "unknown option 'prefx' for checkpoints.storage; did you mean 'prefix'?"],
      [() => db.prune({ dryrun: true } as never), "unknown option 'dryrun' for prune; did you mean 'dryRun'?"],
      [() => db.prune({ events: { beforePositon: 1 } } as never), "unknown option 'beforePositon' for prune.events; did you mean 'beforePosition'?"],
      [() => db.prune({ streams: { s: { keeplast: 1 } } } as never), "unknown option 'keeplast' for prune.streams['s']; did you mean 'keepLast'?"],
      [() => db.prune({ checkpoints: { keep_last: 1 } } as never), "unknown option 'keep_last' for prune.checkpoints; did you mean 'keepLast'?"],
      [() => reeldb.init({ wasn: undefined } as never), "unknown option 'wasn' for init; did you mean 'wasm'?"],
      // Calls that take no options say so rather than ignore them.
      [() => db.snapshot({ force: true } as never), "unknown option 'force' for snapshot; it takes no options"],
      [() => db.compact({ dryRun: true } as never), "unknown option 'dryRun' for compact; it takes no options"],
      [() => db.checkpoints.delete('thread', { expectedVersion: 0 } as never), "unknown option 'expectedVersion' for checkpoints.delete; it takes no options"],
      [() => db.events.streamVersion('s', { x: 1 } as never), "unknown option 'x' for streamVersion; it takes no options"],
      [() => db.checkpoints.summary(undefined, { onProgress: () => {} } as never), 'checkpoints.summary: onProgress must be a function'],
      // Not an option but the same mistake: a misspelt event field (the metadata or the id of a retry would be lost).
      [() => db.events.append('s', [{ type: 't', data: 3, metdata: { a: 1 } } as never]), "unknown field 'metdata' in events[0]; did you mean 'metadata'?"],
      [() => db.events.append('s', [{ type: 't', data: 3 }, { type: 't', data: 4, ID: 'x' } as never]), "unknown field 'ID' in events[1]; did you mean 'id'?"],
      // Nothing near: the message lists what the call takes.
      [() => db.events.append('s', [{ type: 't', data: 3 }], { zzz: 1 } as never), "unknown option 'zzz' for append; its options are 'expectedVersion'"],
    ];
    for (const [call, message] of cases) {
      const error = await failure(call);
      expect(error, message).toBeInstanceOf(reeldb.InvalidArgumentError);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain(message);
    }
    // Rejected before anything was written.
    expect(db.events.headPosition).toBe(head);
    expect(snapshotFiles(path)).toEqual(before);
    // The right spelling still works, and the check that the typo skipped now runs.
    await expect(db.events.append('s', [{ type: 't', data: 3 }], { expectedVersion: 99 })).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION' });
    await db.close();
  });

  it('hardening B13: create: false on an empty directory is NotAStoreError and creates nothing', async () => {
    const directory = temporaryDirectory();
    const empty = join(directory, 'empty');
    mkdirSync(empty);
    for (const options of [{ create: false }, { readOnly: true }]) {
      const error = await failure(() => reeldb.open(empty, options));
      expect(error).toBeInstanceOf(reeldb.NotAStoreError);
      expect(error.code).toBe('NOT_A_STORE');
      expect(error.message).toMatch(/is an empty directory, not a reeldb store/);
      expect(error.path).toBe(empty);
      expect(readdirSync(empty)).toEqual([]); // no MANIFEST, no log/, no LOCK left behind
    }
    // A directory with other things and no MANIFEST is not a store, whatever the options.
    const other = join(directory, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'hi');
    for (const options of [{}, { create: false }, { readOnly: true }]) {
      const error = await failure(() => reeldb.open(other, options));
      expect(error).toBeInstanceOf(reeldb.NotAStoreError);
      expect(error.message).toMatch(/has no MANIFEST and is not empty \(notes\.txt\)/);
      expect(readdirSync(other)).toEqual(['notes.txt']);
    }
    // A missing path with create: false or readOnly: the same error, and nothing is made.
    for (const options of [{ create: false }, { readOnly: true }]) {
      const error = await failure(() => reeldb.open(join(directory, 'missing'), options));
      expect(error).toMatchObject({ code: 'NOT_A_STORE', message: expect.stringMatching(/^no store at .*missing': it does not exist/) });
    }
    expect(readdirSync(directory).sort()).toEqual(['empty', 'other']);
    // The empty directory still becomes a store when creating is allowed.
    const db = await reeldb.open(empty);
    await db.events.append('s', [{ type: 't', data: 1 }]);
    await db.close();
    // The CLI reports the same code for the same cases (exit 2, a usage error).
    mkdirSync(join(directory, 'empty2'));
    for (const target of ['empty2', 'other', 'missing']) {
      const result = spawnSync('node', [join(root, 'js/bin/reeldb.mjs'), 'inspect', join(directory, target)], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', REELDB_DEBUG: '' } });
      expect(result.status, target).toBe(2);
      expect(result.stderr, target).toMatch(/\(NOT_A_STORE\)\n$/);
    }
    expect(readdirSync(join(directory, 'empty2'))).toEqual([]);
  });

  it('hardening B16: a file as the store path is NotAStoreError, read-only or not, never a raw ENOTDIR', async () => {
    const file = join(temporaryDirectory(), 'plain-file');
    writeFileSync(file, 'hello');
    for (const options of [{}, { readOnly: true }, { create: false }]) {
      const error = await failure(() => reeldb.open(file, options));
      expect(error).toBeInstanceOf(reeldb.NotAStoreError);
      expect(error.message).toBe(`'${file}' is a file, not a reeldb store (a store is a directory)`);
    }
    expect(readFileSync(file, 'utf8')).toBe('hello');
  });

  it('hardening B16: a path below a file names the file in the way instead of saying the path exists', async () => {
    const file = join(temporaryDirectory(), 'plain-file');
    writeFileSync(file, 'hello');
    const below = join(file, 'store.reel');
    const created = await failure(() => reeldb.open(below));
    expect(created).toBeInstanceOf(reeldb.IOError);
    expect(created).toMatchObject({ code: 'IO_ERROR', errno: 'ENOTDIR', path: file });
    expect(created.message).toBe(`cannot create the store directory '${below}': '${file}' is a file, not a directory`);
    for (const options of [{ readOnly: true }, { create: false }]) {
      const error = await failure(() => reeldb.open(below, options));
      expect(error).toBeInstanceOf(reeldb.NotAStoreError);
      expect(error.message).toMatch(new RegExp(`^no store at '${below}': it does not exist \\('${file}' is a file\\)`));
    }
    // The memory host behaves like the OS here.
    const memory = new reeldb.MemoryFileHost();
    await (await memory.open('/plain', { create: true })).close();
    await expect(reeldb.open('/plain/store', { host: memory })).rejects.toMatchObject({ code: 'IO_ERROR', path: '/plain' });
    await expect(reeldb.open('/plain', { host: memory })).rejects.toMatchObject({ code: 'NOT_A_STORE' });
  });

  it.each([false, true])('hardening B16: EACCES from mkdir and from the writer lock is PermissionDeniedError saying what to do (host errors typed: %s)', async (typed) => {
    const { host, state } = failingHost(new reeldb.MemoryFileHost(), typed);
    state.mkdirError = 'EACCES';
    const denied = await failure(() => reeldb.open('/parent/store', { host }));
    expect(denied).toBeInstanceOf(reeldb.PermissionDeniedError);
    expect(denied).toMatchObject({ code: 'PERMISSION_DENIED', errno: 'EACCES', path: '/parent/store' });
    expect(denied.message).toBe("cannot create the store directory '/parent/store': permission denied (EACCES); this user may not create entries in '/'");
    state.mkdirError = undefined;
    await (await reeldb.open('/parent/store', { host })).close();
    state.lockError = 'EACCES';
    const locked = await failure(() => reeldb.open('/parent/store', { host }));
    expect(locked).toBeInstanceOf(reeldb.PermissionDeniedError);
    expect(locked.message).toMatch(/^cannot take the writer lock in '\/parent\/store': permission denied \(EACCES\); open it with \{ readOnly: true \} to read it/);
    const reader = await reeldb.open('/parent/store', { host, readOnly: true });
    await reader.close();
    // A MANIFEST this user may not read: named, typed.
    state.openError = { suffix: '/MANIFEST', code: 'EACCES' };
    const manifest = await failure(() => reeldb.open('/parent/store', { host, readOnly: true }));
    expect(manifest).toBeInstanceOf(reeldb.PermissionDeniedError);
    if (!typed) expect(manifest).toMatchObject({ path: '/parent/store/MANIFEST', errno: 'EACCES', syscall: 'read' });
  });

  it('hardening B16: real permissions: a read-only parent and a read-only store directory are PermissionDeniedError (as a non-root user)', async (context) => {
    // Root ignores directory permissions, so when the suite runs as root the check runs in a
    // child process as 'nobody' (setpriv); without setpriv it cannot be provoked and is skipped.
    const directory = temporaryDirectory();
    chmodSync(directory, 0o755);
    const readOnlyParent = join(directory, 'read-only');
    mkdirSync(readOnlyParent, { mode: 0o555 });
    chmodSync(readOnlyParent, 0o555);
    const store = join(directory, 'store.reel');
    await (await reeldb.open(store)).close();
    chmodSync(store, 0o555);
    const unreadable = join(directory, 'unreadable.reel');
    await (await reeldb.open(unreadable)).close();
    chmodSync(unreadable, 0o311);
    const entry = join(root, runtime === 'deno' ? 'js/dist/index.deno.js' : 'js/dist/index.node.js');
    const script = `
      const { open } = await import(${JSON.stringify(pathToFileURL(entry).href)});
      const out = [];
      for (const [path, options] of [[${JSON.stringify(join(readOnlyParent, 'store.reel'))}, {}], [${JSON.stringify(store)}, {}], [${JSON.stringify(store)}, { readOnly: true }], [${JSON.stringify(unreadable)}, { readOnly: true }]]) {
        try { const db = await open(path, options); out.push({ opened: true }); await db.close(); }
        catch (error) { out.push({ name: error.name, code: error.code, errno: error.errno, message: error.message }); }
      }
      console.log(JSON.stringify(out));`;
    // The runtime under test, run on the built entry (`npm test` builds first).
    const evaluate = runtime === 'deno' ? [process.execPath, 'eval', script] : runtime === 'bun' ? [process.execPath, '-e', script] : [process.execPath, '--input-type=module', '-e', script];
    let command: string[];
    if (!isRoot) command = evaluate;
    else if (spawnSync('setpriv', ['--version']).status === 0) command = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...evaluate];
    else return context.skip('running as root without setpriv: EACCES cannot be provoked with permissions (the injected test above covers the mapping)');
    // A cache directory the unprivileged user may write (Deno wants one).
    const cache = join(directory, 'cache');
    mkdirSync(cache, { mode: 0o777 });
    chmodSync(cache, 0o777);
    const env = { ...process.env, DENO_DIR: cache, HOME: cache, NO_COLOR: '1' };
    const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', timeout: 30_000, env });
    chmodSync(store, 0o755);
    chmodSync(readOnlyParent, 0o755);
    chmodSync(unreadable, 0o755);
    expect(result.stderr).toBe('');
    const [parent, lock, reader, unlisted] = JSON.parse(result.stdout);
    expect(parent).toMatchObject({ name: 'PermissionDeniedError', code: 'PERMISSION_DENIED', errno: 'EACCES' });
    expect(parent.message).toContain(`this user may not create entries in '${readOnlyParent}'`);
    expect(lock).toMatchObject({ name: 'PermissionDeniedError', code: 'PERMISSION_DENIED' });
    expect(lock.message).toContain('open it with { readOnly: true } to read it');
    expect(reader).toEqual({ opened: true });
    expect(unlisted).toMatchObject({ name: 'PermissionDeniedError', code: 'PERMISSION_DENIED', errno: 'EACCES' });
    expect(unlisted.message).toBe(`cannot read the directory '${unreadable}': permission denied (EACCES); give this user read access to it`);
  });

  it('hardening B16: a write to a read-only store is ReadOnlyStoreError (READ_ONLY)', async () => {
    const path = storePath();
    const writer = await reeldb.open(path);
    await writer.events.append('s', [{ type: 't', data: 1 }]);
    await writer.checkpoints.save('thread', { step: 1 });
    await writer.close();
    const db = await reeldb.open(path, { readOnly: true });
    const writes: (() => unknown)[] = [
      () => db.events.append('s', [{ type: 't', data: 2 }]),
      () => db.checkpoints.save('thread', { step: 2 }),
      () => db.checkpoints.delete('thread'),
      () => db.checkpoints.storage().save('k', new Uint8Array([1])),
      () => db.snapshot(),
      () => db.prune({ events: { beforePosition: 1 } }),
      () => db.compact(),
    ];
    for (const write of writes) {
      const error = await failure(write);
      expect(error).toBeInstanceOf(reeldb.ReadOnlyStoreError);
      expect(error.code).toBe('READ_ONLY');
      expect(error.message).toMatch(/opened read-only/);
    }
    // Reads, and a dry run (which changes nothing), work.
    expect((await db.events.readStream('s')).map((event) => event.data)).toEqual([1]);
    expect((await db.prune({ checkpoints: { keepLast: 1 }, dryRun: true })).checkpoints).toBe(0);
    await db.close();
  });

  it('hardening B20: limit is the read count everywhere, maxCount an alias; both given and different is InvalidArgumentError', async () => {
    const db = await reeldb.open('/store', { durability: 'memory' });
    await db.events.append('s', [1, 2, 3, 4, 5].map((data) => ({ type: 't', data })));
    const data = (events: { data: unknown }[]) => events.map((event) => event.data);
    expect(data(await db.events.readStream('s', { limit: 2 }))).toEqual([1, 2]);
    expect(data(await db.events.readStream('s', { maxCount: 2 }))).toEqual([1, 2]);
    expect(data(await db.events.readStream('s', { limit: 2, maxCount: 2 }))).toEqual([1, 2]);
    expect(data(await db.events.readStream('s', { direction: 'backward', limit: 1 }))).toEqual([5]);
    expect(data(await db.events.readAll({ limit: 3 }))).toEqual([1, 2, 3]);
    expect(data(await db.events.readAll({ maxCount: 3, direction: 'backward' }))).toEqual([5, 4, 3]);
    const replayed: unknown[] = [];
    for await (const event of db.events.replay({ fromPosition: 1, limit: 2 })) replayed.push(event.data);
    expect(replayed).toEqual([2, 3]);
    for await (const event of db.events.replay({ limit: 0 })) throw new Error(`limit 0 delivered ${String(event.data)}`);
    for (const call of [() => db.events.readStream('s', { limit: 1, maxCount: 2 }), () => db.events.readAll({ limit: 1, maxCount: 2 })]) {
      const error = await failure(call);
      expect(error).toBeInstanceOf(reeldb.InvalidArgumentError);
      expect(error.message).toMatch(/limit and maxCount \(its older name\) are both given and differ/);
    }
    await expect(db.events.readStream('s', { limit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^limit must be/) });
    // checkpoints.list already said limit.
    for (let step = 0; step < 3; step++) await db.checkpoints.save('thread', { step });
    expect((await db.checkpoints.list('thread', { limit: 2 })).map((info) => info.seq)).toEqual([2, 1]);
    // prune: a stream keeps its newest keepLast events, like checkpoints.keepLast (maxCount is the older name).
    expect((await db.prune({ streams: { s: { keepLast: 4 } } })).events).toBe(1);
    expect((await db.prune({ streams: { s: { maxCount: 3 } } })).events).toBe(1);
    await expect(db.prune({ streams: { s: { keepLast: 2, maxCount: 1 } } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(db.prune({ streams: { s: {} } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/keepLast must be an integer of at least 1/) });
    expect(data(await db.events.readStream('s'))).toEqual([3, 4, 5]);
    await db.close();
  });

  it.runIf(runtime === 'node')('hardening B20: the read/append/save/load calls take a type parameter for the data, with a default, and code is the ErrorCode union', { timeout: 60_000 }, () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const flags = ['--ignoreConfig', '--noEmit', '--strict', '--noUncheckedIndexedAccess', '--target', 'ES2022', '--module', 'ESNext', '--moduleResolution', 'Bundler', '--lib', 'ES2022,DOM', '--types', 'node', '--skipLibCheck'];
    const result = spawnSync('node', [tsc, ...flags, join(root, 'test/fixtures/typed-api.ts')], { cwd: root, encoding: 'utf8', timeout: 55_000 });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('hardening A7: after a failed fsync, reads of what was acknowledged go on and show nothing else; writes reject', { timeout: 10_000 }, async () => {
    const base = new reeldb.MemoryFileHost();
    const { host, state } = failingHost(base);
    const db = await reeldb.open('/store', { host, durability: 'strict' });
    await db.events.append('s', [{ type: 't', data: 1 }, { type: 't', data: 2 }]);
    await db.checkpoints.save('thread', { step: 1 });
    const live = db.events.subscribe();
    state.failSync = true;
    await expect(db.events.append('s', [{ type: 't', data: 3 }])).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(db.checkpoints.save('thread', { step: 2 })).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(db.checkpoints.save('other', { step: 0 })).rejects.toMatchObject({ code: 'STORE_FAILED' });
    // Reads resolve, with exactly what was acknowledged (the rejected append's bytes were
    // written but never made durable, so they are not shown).
    expect((await db.events.readStream('s')).map((event) => event.data)).toEqual([1, 2]);
    expect(db.events.streamVersion('s')).toBe(1);
    expect((await db.events.readAll()).map((event) => event.data)).toEqual([1, 2]);
    const replayed: unknown[] = [];
    for await (const event of db.events.replay()) replayed.push(event.data);
    expect(replayed).toEqual([1, 2]);
    expect((await db.checkpoints.load('thread'))?.state).toEqual({ step: 1 });
    expect((await db.checkpoints.list('thread')).map((info) => info.seq)).toEqual([0]);
    expect(db.checkpoints.threadIds()).toEqual(['thread']);
    expect(db.checkpoints.count('thread')).toBe(1);
    expect(db.stats().entries).toBeGreaterThan(0);
    // A subscription delivers what was acknowledged, then says the store failed instead of waiting forever.
    const delivered: unknown[] = [];
    const ended = await (async () => {
      try {
        for await (const event of live) delivered.push(event.data);
        return 'done';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    })();
    expect(delivered).toEqual([1, 2]);
    expect(ended).toBe('STORE_FAILED');
    await expect(db.sync()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await db.close();
  });

  it('hardening A7: after a failed write, reads go on up to what was made durable', { timeout: 10_000 }, async () => {
    const base = new reeldb.MemoryFileHost();
    const { host, state } = failingHost(base);
    const db = await reeldb.open('/store', { host, durability: 'buffered', syncIntervalMs: 1 });
    await db.events.append('s', [{ type: 't', data: 1 }]);
    await db.sync();
    state.failWrite = true;
    // Acknowledged once in the write buffer (buffered); the write to the OS then fails.
    await db.events.append('s', [{ type: 't', data: 2 }]);
    const read = await db.events.readStream('s'); // flushes the buffer, which fails the store
    expect(read.map((event) => event.data)).toEqual([1]);
    await expect(db.events.append('s', [{ type: 't', data: 3 }])).rejects.toMatchObject({ code: 'STORE_FAILED' });
    expect((await db.events.readAll()).map((event) => event.data)).toEqual([1]);
    expect(db.events.headPosition).toBe(0);
    await db.close();
    // What reads showed is what a reopen recovers.
    state.failWrite = false;
    const reopened = await reeldb.open('/store', { host: base });
    expect((await reopened.events.readStream('s')).map((event) => event.data)).toEqual([1]);
    await reopened.close();
  });
});
