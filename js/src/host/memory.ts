/**
 * FileHost kept entirely in memory: for the `memory` durability mode and for tests. Sync is
 * a no-op because nothing outlives the process anyway.
 */
import { IOError, StoreLockedError } from '../errors.js';
import { toIOError } from './os-error.js';
import type { FileHandle, FileHost, HostLock, OpenOptions } from './types.js';

class MemoryFile {
  bytes = new Uint8Array(0);
  length = 0;

  ensure(capacity: number): void {
    if (capacity <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(capacity, this.bytes.length * 2, 256));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

class MemoryFileHandle implements FileHandle {
  private closed = false;
  constructor(private readonly file: MemoryFile, private readonly readOnly: boolean, private readonly path: string) {}

  private check(writing = false): void {
    if (this.closed) throw new IOError(`'${this.path}' failed: the file handle is closed`, { path: this.path, errno: 'EBADF', syscall: writing ? 'write' : 'read' });
    if (writing && this.readOnly) throw new IOError(`write '${this.path}' failed: it is open read-only`, { path: this.path, errno: 'EBADF', syscall: 'write' });
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check();
    const available = Math.max(0, Math.min(into.length, this.file.length - position));
    into.set(this.file.bytes.subarray(position, position + available));
    return available;
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check(true);
    const end = position + bytes.length;
    this.file.ensure(end);
    if (position > this.file.length) this.file.bytes.fill(0, this.file.length, position);
    this.file.bytes.set(bytes, position);
    this.file.length = Math.max(this.file.length, end);
  }

  async size(): Promise<number> {
    this.check();
    return this.file.length;
  }

  async truncate(size: number): Promise<void> {
    this.check(true);
    if (size > this.file.length) {
      this.file.ensure(size);
      this.file.bytes.fill(0, this.file.length, size);
    }
    this.file.length = size;
  }

  async sync(): Promise<void> {
    this.check();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? (cut === 0 ? '/' : '.') : path.slice(0, cut);
}

export class MemoryFileHost implements FileHost {
  readonly name = 'memory';
  private readonly files = new Map<string, MemoryFile>();
  private readonly directories = new Set<string>(['.', '/']);
  private readonly locks = new Set<string>();

  private normalise(path: string): string {
    return path.length > 1 ? path.replace(/\/+$/, '') : path;
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    path = this.normalise(path);
    if (this.directories.has(path)) throw toIOError({ code: 'EISDIR' }, path, 'open');
    let file = this.files.get(path);
    if (!file) {
      if (!options.create || options.readOnly) throw toIOError({ code: 'ENOENT' }, path, 'open');
      if (!this.directories.has(parentOf(path))) throw toIOError({ code: 'ENOENT' }, parentOf(path), 'open');
      file = new MemoryFile();
      this.files.set(path, file);
    }
    return new MemoryFileHandle(file, !!options.readOnly, path);
  }

  async list(directory: string): Promise<string[]> {
    directory = this.normalise(directory);
    if (this.files.has(directory)) throw Object.assign(new Error(`not a directory: '${directory}'`), { code: 'ENOTDIR' });
    const names = new Set<string>();
    for (const path of [...this.files.keys(), ...this.directories]) {
      if (path !== directory && parentOf(path) === directory) names.add(path.slice(directory.length + 1));
    }
    return [...names].sort();
  }

  async mkdir(directory: string): Promise<void> {
    directory = this.normalise(directory);
    // Like the OS: a file at the path or above it is in the way.
    for (let at = directory; !this.directories.has(at); at = parentOf(at)) {
      if (this.files.has(at)) throw Object.assign(new Error(`${at === directory ? 'file exists' : 'not a directory'}: '${at}'`), { code: at === directory ? 'EEXIST' : 'ENOTDIR' });
    }
    while (!this.directories.has(directory)) {
      this.directories.add(directory);
      directory = parentOf(directory);
    }
  }

  async exists(path: string): Promise<boolean> {
    path = this.normalise(path);
    return this.files.has(path) || this.directories.has(path);
  }

  async remove(path: string): Promise<void> {
    path = this.normalise(path);
    this.files.delete(path);
    for (const key of [...this.files.keys()]) if (key.startsWith(path + '/')) this.files.delete(key);
    for (const key of [...this.directories]) if (key === path || key.startsWith(path + '/')) this.directories.delete(key);
  }

  async replace(from: string, to: string): Promise<void> {
    const file = this.files.get(this.normalise(from));
    if (!file) throw toIOError({ code: 'ENOENT' }, from, 'rename');
    this.files.delete(this.normalise(from));
    this.files.set(this.normalise(to), file);
  }

  async syncDirectory(): Promise<void> {}

  async lock(directory: string): Promise<HostLock> {
    directory = this.normalise(directory);
    if (this.locks.has(directory)) {
      throw new StoreLockedError(directory, { pid: 0, hostname: 'this process', runtime: 'memory host', startedAt: '' });
    }
    this.locks.add(directory);
    return { release: async () => void this.locks.delete(directory) };
  }
}
