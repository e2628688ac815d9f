/**
 * FileHost for Deno, on Deno's own file API. The lock uses the same LOCK-file protocol as
 * Node and Bun so writers in different runtimes exclude each other. Every failure is a typed
 * reeldb I/O error (os-error.ts) naming the path and the operation.
 */
import { IOError } from '../errors.js';
import { takeLockFile } from './lockfile.js';
import { toIOError } from './os-error.js';
import type { FileHandle, FileHost, HostLock, OpenOptions } from './types.js';

// Only the parts of the Deno namespace this host uses.
interface DenoFile {
  seekSync(offset: number, whence: number): number;
  readSync(into: Uint8Array): number | null;
  writeSync(bytes: Uint8Array): number;
  statSync(): DenoFileInfo;
  truncateSync(size?: number): void;
  syncData(): Promise<void>;
  sync(): Promise<void>;
  syncSync(): void;
  close(): void;
}
interface DenoFileInfo {
  size: number;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
  isFifo?: boolean | null;
  isSocket?: boolean | null;
}
interface DenoNamespace {
  pid: number;
  version: { deno: string };
  hostname(): string;
  openSync(path: string, options: { read?: boolean; write?: boolean; create?: boolean; createNew?: boolean }): DenoFile;
  readDirSync(path: string): Iterable<{ name: string }>;
  mkdirSync(path: string, options: { recursive: boolean }): void;
  statSync(path: string): DenoFileInfo;
  removeSync(path: string, options?: { recursive: boolean }): void;
  renameSync(from: string, to: string): void;
  linkSync(from: string, to: string): void;
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array, options?: { createNew?: boolean }): void;
  errors: { NotFound: new () => Error; AlreadyExists: new () => Error };
  SeekMode: { Start: number };
}
const Deno = (globalThis as unknown as { Deno: DenoNamespace }).Deno;

/** Runs a file operation, turning what it throws into a typed error. */
function io<T>(path: string, syscall: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw toIOError(error, path, syscall);
  }
}

async function ioAsync<T>(path: string, syscall: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toIOError(error, path, syscall);
  }
}

function kindOf(info: DenoFileInfo): string {
  if (info.isDirectory) return 'a directory';
  if (info.isFifo) return 'a named pipe (FIFO)';
  if (info.isSocket) return 'a socket';
  return 'not a regular file';
}

/** Only regular files are store files: anything else (a FIFO would block the open or a read forever) is refused. */
function notRegular(path: string, info: DenoFileInfo): IOError {
  const kind = kindOf(info);
  return new IOError(`open '${path}' refused: it is ${kind}, not a regular file`, { path, errno: kind === 'a directory' ? 'EISDIR' : 'EINVAL', syscall: 'open' });
}

class DenoFileHandle implements FileHandle {
  private closed = false;
  constructor(private readonly file: DenoFile, private readonly path: string) {}

  private check(syscall: string): void {
    if (this.closed) throw new IOError(`${syscall} '${this.path}' failed: the file handle is closed`, { path: this.path, errno: 'EBADF', syscall });
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check('read');
    return io(this.path, 'read', () => {
      this.file.seekSync(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < into.length) {
        const read = this.file.readSync(into.subarray(done));
        if (read === null || read === 0) break;
        done += read;
      }
      return done;
    });
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check('write');
    io(this.path, 'write', () => {
      this.file.seekSync(position, Deno.SeekMode.Start);
      let done = 0;
      while (done < bytes.length) done += this.file.writeSync(bytes.subarray(done));
    });
  }

  async size(): Promise<number> {
    this.check('fstat');
    return io(this.path, 'fstat', () => this.file.statSync().size);
  }

  async truncate(size: number): Promise<void> {
    this.check('ftruncate');
    io(this.path, 'ftruncate', () => this.file.truncateSync(size));
  }

  sync(): Promise<void> {
    this.check('fdatasync');
    return ioAsync(this.path, 'fdatasync', () => this.file.syncData());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    io(this.path, 'close', () => this.file.close());
  }
}

function isAlive(pid: number): boolean {
  // Deno.kill cannot send signal 0; /proc tells on Linux, and elsewhere we assume alive
  // (never take over a lock we cannot prove stale).
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return true;
    try {
      Deno.statSync('/proc/self');
      return false;
    } catch {
      return true;
    }
  }
}

export class DenoFileHost implements FileHost {
  readonly name = 'deno';

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    // Checked before the open (a FIFO opened for reading blocks until a writer comes), and
    // again on the open file (the path may have changed in between).
    let before: DenoFileInfo | undefined;
    try {
      before = Deno.statSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw toIOError(error, path, 'stat');
    }
    if (before && !before.isFile) throw notRegular(path, before);
    const file = io(path, 'open', () => Deno.openSync(path, { read: true, write: !options.readOnly, create: !!options.create && !options.readOnly }));
    const after = io(path, 'fstat', () => file.statSync());
    if (!after.isFile) {
      file.close();
      throw notRegular(path, after);
    }
    return new DenoFileHandle(file, path);
  }

  async list(directory: string): Promise<string[]> {
    try {
      return [...Deno.readDirSync(directory)].map((entry) => entry.name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw toIOError(error, directory, 'readdir');
    }
  }

  async mkdir(directory: string): Promise<void> {
    io(directory, 'mkdir', () => Deno.mkdirSync(directory, { recursive: true }));
  }

  async exists(path: string): Promise<boolean> {
    try {
      Deno.statSync(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      // A symlink loop or an unreadable parent: the path is there in some form.
      if ((error as { name?: string }).name === 'FilesystemLoop') return true;
      throw toIOError(error, path, 'stat');
    }
  }

  async remove(path: string): Promise<void> {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw toIOError(error, path, 'remove');
    }
  }

  async replace(from: string, to: string): Promise<void> {
    io(from, 'rename', () => Deno.renameSync(from, to));
  }

  async syncDirectory(directory: string): Promise<void> {
    const file = io(directory, 'open', () => Deno.openSync(directory, { read: true }));
    try {
      await ioAsync(directory, 'fsync', () => file.sync());
    } finally {
      file.close();
    }
  }

  async lock(directory: string): Promise<HostLock> {
    return takeLockFile(directory, {
      runtime: `deno ${Deno.version.deno}`,
      pid: Deno.pid,
      hostname: Deno.hostname(),
      createExclusive(path, content) {
        // Write the holder to a private file, then link it into place: the link is the
        // exclusive create, so a LOCK never exists without its content.
        // The private file goes whatever happens (a full disk must not leave it behind).
        const temporary = `${path}.${Deno.pid}.${Date.now()}.tmp`;
        try {
          const file = io(temporary, 'open', () => Deno.openSync(temporary, { write: true, create: true }));
          try {
            io(temporary, 'write', () => {
              let done = 0;
              while (done < content.length) done += file.writeSync(content.subarray(done));
              file.syncSync();
            });
          } finally {
            file.close();
          }
          try {
            Deno.linkSync(temporary, path);
            return true;
          } catch (error) {
            if (error instanceof Deno.errors.AlreadyExists) return false;
            throw toIOError(error, path, 'link');
          }
        } finally {
          try {
            Deno.removeSync(temporary);
          } catch {
            // already gone
          }
        }
      },
      readFile(path) {
        try {
          return Deno.readFileSync(path);
        } catch {
          return undefined;
        }
      },
      removeFile(path) {
        try {
          Deno.removeSync(path);
        } catch {
          // already gone
        }
      },
      isAlive,
    });
  }
}
