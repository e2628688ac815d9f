/**
 * A fault-injecting FileHost for simulation tests, driven by a seed. It keeps what the process
 * sees apart from what was made durable, and can:
 * - crash at I/O operation N: the write in flight is torn (cut at a byte boundary, the rest
 *   left out, zero-filled or garbage), and every later call fails as if the process died;
 * - fail a write (ENOSPC) or a sync (EIO), once or from then on;
 * - fail any counted operation with ENOSPC (`failAt`: a full disk), once or until `freeSpace()`;
 * - after a crash, produce the host a restarted process would find (`afterCrash`): durable
 *   data, plus none, all, a prefix or a random subset (a reordering) of the writes and
 *   truncations that were not synced; file creations, renames and removals whose directory
 *   was not synced are rolled back.
 * Counted operations: file creation, write, truncate, sync, directory sync, replace, remove,
 * mkdir. Reads, listings and locks are not counted. Directories themselves are durable once
 * made (a simplification; the engine syncs the parent of every directory it creates anyway).
 * Failures are typed reeldb I/O errors, as the real hosts throw them; a crash is SimulatedCrash.
 */
import { IOError, StoreLockedError } from '../errors.js';
import { toIOError } from './os-error.js';
import type { FileHandle, FileHost, HostLock, OpenOptions } from './types.js';

export type UnsyncedFate = 'none' | 'all' | 'prefix' | 'random';
export type TearMode = 'cut' | 'zeros' | 'garbage';

export interface FaultPlan {
  /** Seed of every random choice (torn lengths, surviving subsets, garbage bytes). */
  seed?: number;
  /** Crash when operation number `crashAt` (0-based) starts. */
  crashAt?: number;
  /** What unsynced data survives the crash (default: chosen by the seed). */
  unsynced?: UnsyncedFate;
  /** How the write in flight at the crash is torn (default: chosen by the seed). */
  tear?: TearMode;
  /** Fail the sync that is operation number `failSyncAt` with EIO. */
  failSyncAt?: number;
  /** Fail every write from operation `failWriteAt` on with ENOSPC (disk full). */
  failWriteAt?: number;
  /** Fail the operation number `failAt`, whatever it is (create, write, truncate, sync, rename, remove, mkdir), with ENOSPC. */
  failAt?: number;
  /** With failSyncAt / failWriteAt / failAt: keep failing every later sync / write / operation too (failAt: until freeSpace()). */
  persistent?: boolean;
}

export class SimulatedCrash extends Error {
  constructor(operation: number) {
    super(`simulated crash at I/O operation ${operation}`);
    this.name = 'SimulatedCrash';
  }
}

/** xorshift32: small, fast, deterministic. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 2 ** 32;
  }
  integer(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(values: readonly T[]): T {
    return values[this.integer(values.length)]!;
  }
}

type PendingChange = { kind: 'write'; offset: number; bytes: Uint8Array } | { kind: 'truncate'; size: number };

class Inode {
  data = new Uint8Array(0);
  length = 0;
  durable = new Uint8Array(0);
  unsynced: PendingChange[] = [];

  view(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  applyWrite(bytes: Uint8Array, offset: number): void {
    const end = offset + bytes.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2, 256));
      grown.set(this.view());
      this.data = grown;
    }
    if (offset > this.length) this.data.fill(0, this.length, offset);
    this.data.set(bytes, offset);
    this.length = Math.max(this.length, end);
  }

  applyTruncate(size: number): void {
    if (size > this.length) this.applyWrite(new Uint8Array(size - this.length), this.length);
    this.length = size;
  }
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? (cut === 0 ? '/' : '.') : path.slice(0, cut);
}

function normalise(path: string): string {
  return path.length > 1 ? path.replace(/\/+/g, '/').replace(/\/$/, '') : path;
}

/** A typed I/O error as a real host throws it. */
function errno(code: string, message: string, path: string, syscall: string): Error {
  return toIOError(Object.assign(new Error(`${code}: ${message}`), { code }), path, syscall);
}

export class FaultyFileHost implements FileHost {
  readonly name = 'faulty';
  /** Operations counted so far. */
  operations = 0;
  crashed = false;
  /** Syncs and writes that failed on purpose. */
  readonly failures: string[] = [];
  private readonly random: Random;
  private readonly current = new Map<string, Inode>();
  private readonly durable = new Map<string, Inode>();
  private readonly directories = new Set<string>(['.', '/']);
  private readonly locks = new Set<string>();
  /** failAt with persistent: the disk stays full until this is set. */
  private spaceFreed = false;

  constructor(readonly plan: FaultPlan = {}) {
    this.random = new Random(plan.seed ?? 1);
  }

  /** Ends a full disk (`failAt` with `persistent`): later operations succeed again. */
  freeSpace(): void {
    this.spaceFreed = true;
  }

  /** Counts an operation; crashes or fails it according to the plan. */
  private operation(kind: 'write' | 'sync' | 'other', path: string, syscall: string): number {
    if (this.crashed) throw new SimulatedCrash(this.operations);
    const number = this.operations++;
    if (this.plan.crashAt === number && kind !== 'write') {
      this.crashed = true;
      throw new SimulatedCrash(number);
    }
    if (kind === 'sync' && this.plan.failSyncAt !== undefined && (number === this.plan.failSyncAt || (this.plan.persistent && number > this.plan.failSyncAt))) {
      this.failures.push(`sync ${number}`);
      throw errno('EIO', 'i/o error, fdatasync', path, syscall);
    }
    if (kind === 'write' && this.plan.failWriteAt !== undefined && (number === this.plan.failWriteAt || (this.plan.persistent && number > this.plan.failWriteAt))) {
      this.failures.push(`write ${number}`);
      throw errno('ENOSPC', 'no space left on device, write', path, syscall);
    }
    const failAt = this.plan.failAt;
    if (failAt !== undefined && (number === failAt || (this.plan.persistent && number > failAt && !this.spaceFreed))) {
      this.failures.push(`${syscall} ${number}`);
      throw errno('ENOSPC', `no space left on device, ${syscall}`, path, syscall);
    }
    return number;
  }

  /** @internal */
  write(inode: Inode, bytes: Uint8Array, offset: number, path: string): void {
    const number = this.operation('write', path, 'write');
    if (this.plan.crashAt === number) {
      // The process dies mid-write: a torn prefix of it may reach the file.
      this.crashed = true;
      const cut = this.random.integer(bytes.length + 1);
      const tear = this.plan.tear ?? this.random.pick<TearMode>(['cut', 'zeros', 'garbage']);
      let torn = bytes.slice(0, cut);
      if (tear !== 'cut') {
        torn = new Uint8Array(bytes.length);
        torn.set(bytes.subarray(0, cut));
        if (tear === 'garbage') for (let index = cut; index < torn.length; index++) torn[index] = this.random.integer(256);
      }
      if (torn.length > 0) {
        inode.unsynced.push({ kind: 'write', offset, bytes: torn });
        inode.applyWrite(torn, offset);
      }
      throw new SimulatedCrash(number);
    }
    const copy = bytes.slice();
    inode.unsynced.push({ kind: 'write', offset, bytes: copy });
    inode.applyWrite(copy, offset);
  }

  /** @internal */
  truncate(inode: Inode, size: number, path: string): void {
    this.operation('other', path, 'ftruncate');
    inode.unsynced.push({ kind: 'truncate', size });
    inode.applyTruncate(size);
  }

  /** @internal */
  sync(inode: Inode, path: string): void {
    try {
      this.operation('sync', path, 'fdatasync');
    } catch (error) {
      // A failed fsync may drop the dirty pages it could not write (Linux marks them clean):
      // those changes stay visible now but are no longer promised to survive a crash.
      if (error instanceof IOError) inode.unsynced = [];
      throw error;
    }
    inode.durable = inode.view().slice();
    inode.unsynced = [];
  }

  /** @internal */
  checkAlive(): void {
    if (this.crashed) throw new SimulatedCrash(this.operations);
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    this.checkAlive();
    path = normalise(path);
    let inode = this.current.get(path);
    if (!inode) {
      if (this.directories.has(path)) throw errno('EISDIR', `is a directory, open '${path}'`, path, 'open');
      if (!options.create || options.readOnly) throw errno('ENOENT', `no such file, open '${path}'`, path, 'open');
      if (!this.directories.has(parentOf(path))) throw errno('ENOENT', `no such directory '${parentOf(path)}'`, path, 'open');
      this.operation('other', path, 'open');
      inode = new Inode();
      this.current.set(path, inode);
    }
    return new FaultyFileHandle(this, inode, !!options.readOnly, path);
  }

  async list(directory: string): Promise<string[]> {
    this.checkAlive();
    directory = normalise(directory);
    const names = new Set<string>();
    for (const path of [...this.current.keys(), ...this.directories]) {
      if (path !== directory && parentOf(path) === directory) names.add(path.slice(directory.length + 1));
    }
    return [...names].sort();
  }

  async mkdir(directory: string): Promise<void> {
    this.checkAlive();
    directory = normalise(directory);
    if (this.current.has(directory)) throw errno('EEXIST', `file already exists, mkdir '${directory}'`, directory, 'mkdir');
    if (this.directories.has(directory)) return;
    this.operation('other', directory, 'mkdir');
    while (!this.directories.has(directory)) {
      this.directories.add(directory);
      directory = parentOf(directory);
    }
  }

  async exists(path: string): Promise<boolean> {
    this.checkAlive();
    path = normalise(path);
    return this.current.has(path) || this.directories.has(path);
  }

  async remove(path: string): Promise<void> {
    this.checkAlive();
    path = normalise(path);
    this.operation('other', path, 'remove');
    for (const key of [...this.current.keys()]) if (key === path || key.startsWith(path + '/')) this.current.delete(key);
    for (const key of [...this.directories]) if (key === path || key.startsWith(path + '/')) this.directories.delete(key);
  }

  async replace(from: string, to: string): Promise<void> {
    this.checkAlive();
    from = normalise(from);
    to = normalise(to);
    const inode = this.current.get(from);
    if (!inode) throw errno('ENOENT', `no such file, rename '${from}'`, from, 'rename');
    this.operation('other', from, 'rename');
    this.current.delete(from);
    this.current.set(to, inode);
  }

  async syncDirectory(directory: string): Promise<void> {
    this.checkAlive();
    directory = normalise(directory);
    this.operation('sync', directory, 'fsync');
    for (const path of [...this.durable.keys()]) if (parentOf(path) === directory && this.current.get(path) !== this.durable.get(path)) this.durable.delete(path);
    for (const [path, inode] of this.current) if (parentOf(path) === directory) this.durable.set(path, inode);
  }

  async lock(directory: string): Promise<HostLock> {
    this.checkAlive();
    directory = normalise(directory);
    if (this.locks.has(directory)) throw new StoreLockedError(directory, { pid: 0, hostname: 'this process', runtime: 'faulty host', startedAt: '' });
    this.locks.add(directory);
    return { release: async () => void this.locks.delete(directory) };
  }

  /**
   * The files a restarted process finds: durable contents plus the fate of unsynced changes;
   * creations, renames and removals not made durable by a directory sync are rolled back.
   * Files present but never created durably vanish. Works whether or not a crash happened
   * (a failed sync followed by a restart is modelled the same way).
   */
  afterCrash(plan: FaultPlan = {}): FaultyFileHost {
    const fate = this.plan.unsynced ?? this.random.pick<UnsyncedFate>(['none', 'all', 'prefix', 'random']);
    const next = new FaultyFileHost(plan);
    for (const directory of this.directories) next.directories.add(directory);
    const rebuilt = new Map<Inode, Inode>();
    for (const [path, inode] of this.durable) {
      let copy = rebuilt.get(inode);
      if (!copy) {
        copy = new Inode();
        copy.applyWrite(inode.durable, 0);
        const changes = inode.unsynced;
        const keep =
          fate === 'all' ? changes : fate === 'none' ? [] : fate === 'prefix' ? changes.slice(0, this.random.integer(changes.length + 1)) : changes.filter(() => this.random.next() < 0.5);
        for (const change of keep) {
          if (change.kind === 'write') copy.applyWrite(change.bytes, change.offset);
          else copy.applyTruncate(change.size);
        }
        copy.durable = copy.view().slice();
        rebuilt.set(inode, copy);
      }
      next.current.set(path, copy);
      next.durable.set(path, copy);
    }
    return next;
  }

  /** A copy of a file as the process sees it now (for tests). */
  fileBytes(path: string): Uint8Array | undefined {
    return this.current.get(normalise(path))?.view().slice();
  }
}

class FaultyFileHandle implements FileHandle {
  private closed = false;
  constructor(private readonly host: FaultyFileHost, private readonly inode: Inode, private readonly readOnly: boolean, private readonly path: string) {}

  private check(writing = false): void {
    this.host.checkAlive();
    if (this.closed) throw new IOError(`'${this.path}' failed: the file handle is closed`, { path: this.path, errno: 'EBADF', syscall: writing ? 'write' : 'read' });
    if (writing && this.readOnly) throw new IOError(`write '${this.path}' failed: it is open read-only`, { path: this.path, errno: 'EBADF', syscall: 'write' });
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check();
    const available = Math.max(0, Math.min(into.length, this.inode.length - position));
    into.set(this.inode.data.subarray(position, position + available));
    return available;
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check(true);
    this.host.write(this.inode, bytes, position, this.path);
  }

  async size(): Promise<number> {
    this.check();
    return this.inode.length;
  }

  async truncate(size: number): Promise<void> {
    this.check(true);
    this.host.truncate(this.inode, size, this.path);
  }

  async sync(): Promise<void> {
    this.check();
    this.host.sync(this.inode, this.path);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
