/**
 * FileHost for Node.js, also used by Bun. Reads and writes use synchronous positional
 * syscalls (a small pwrite costs a few microseconds; a trip through the libuv thread pool
 * costs tens), while `sync` runs fdatasync on the thread pool so the event loop keeps
 * accepting commits that the next group sync will cover. Every failure is a typed reeldb
 * I/O error (os-error.ts) naming the path and the operation.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { IOError } from '../errors.js';
import { takeLockFile } from './lockfile.js';
import { toIOError } from './os-error.js';
import type { FileHandle, FileHost, HostLock, OpenOptions } from './types.js';

/** Runs a synchronous file operation, turning what it throws into a typed error. */
function io<T>(path: string, syscall: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw toIOError(error, path, syscall);
  }
}

/** What kind of non-regular file `stats` describes, for messages. */
function fileKind(stats: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Only regular files are store files: anything else (a FIFO would block the open or a read forever) is refused. */
function notRegular(path: string, kind: string): IOError {
  return new IOError(`open '${path}' refused: it is ${kind}, not a regular file`, { path, errno: kind === 'a directory' ? 'EISDIR' : 'EINVAL', syscall: 'open' });
}

class NodeFileHandle implements FileHandle {
  private closed = false;
  constructor(private readonly fd: number, private readonly path: string) {}

  private check(syscall: string): void {
    if (this.closed) throw new IOError(`${syscall} '${this.path}' failed: the file handle is closed`, { path: this.path, errno: 'EBADF', syscall });
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check('read');
    return io(this.path, 'read', () => {
      let done = 0;
      while (done < into.length) {
        const read = fs.readSync(this.fd, into, done, into.length - done, position + done);
        if (read === 0) break;
        done += read;
      }
      return done;
    });
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check('write');
    io(this.path, 'write', () => {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, position + done);
    });
  }

  async size(): Promise<number> {
    this.check('fstat');
    return io(this.path, 'fstat', () => fs.fstatSync(this.fd).size);
  }

  async truncate(size: number): Promise<void> {
    this.check('ftruncate');
    io(this.path, 'ftruncate', () => fs.ftruncateSync(this.fd, size));
  }

  sync(): Promise<void> {
    this.check('fdatasync');
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (error) => (error ? reject(toIOError(error, this.path, 'fdatasync')) : resolve())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    io(this.path, 'close', () => fs.closeSync(this.fd));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// O_NONBLOCK: should a FIFO appear between the check and the open, the open does not block.
// It changes nothing for regular files. (Absent on Windows.)
const NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

export class NodeFileHost implements FileHost {
  readonly name: string = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const { O_RDONLY, O_RDWR, O_CREAT } = fs.constants;
    const flags = (options.readOnly ? O_RDONLY : options.create ? O_RDWR | O_CREAT : O_RDWR) | NONBLOCK;
    // Checked before the open (a FIFO opened for reading blocks until a writer comes), and
    // again on the descriptor (the path may have changed in between).
    const before = io(path, 'stat', () => fs.statSync(path, { throwIfNoEntry: false }));
    if (before && !before.isFile()) throw notRegular(path, fileKind(before));
    const fd = io(path, 'open', () => fs.openSync(path, flags, 0o644));
    const after = fs.fstatSync(fd);
    if (!after.isFile()) {
      fs.closeSync(fd);
      throw notRegular(path, fileKind(after));
    }
    return new NodeFileHandle(fd, path);
  }

  async list(directory: string): Promise<string[]> {
    try {
      return fs.readdirSync(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toIOError(error, directory, 'readdir');
    }
  }

  async mkdir(directory: string): Promise<void> {
    io(directory, 'mkdir', () => fs.mkdirSync(directory, { recursive: true }));
  }

  async exists(path: string): Promise<boolean> {
    return fs.existsSync(path);
  }

  async remove(path: string): Promise<void> {
    io(path, 'remove', () => fs.rmSync(path, { force: true, recursive: true }));
  }

  async replace(from: string, to: string): Promise<void> {
    io(from, 'rename', () => fs.renameSync(from, to));
  }

  syncDirectory(directory: string): Promise<void> {
    const fd = io(directory, 'open', () => fs.openSync(directory, 'r'));
    return new Promise<void>((resolve, reject) =>
      fs.fsync(fd, (error) => {
        fs.closeSync(fd);
        error ? reject(toIOError(error, directory, 'fsync')) : resolve();
      }),
    );
  }

  async lock(directory: string): Promise<HostLock> {
    return takeLockFile(directory, {
      runtime: `${this.name} ${typeof (globalThis as { Bun?: { version: string } }).Bun !== 'undefined' ? (globalThis as unknown as { Bun: { version: string } }).Bun.version : process.version}`,
      pid: process.pid,
      hostname: os.hostname(),
      createExclusive(path, content) {
        // Write the holder to a private file, then link it into place: the link is the
        // exclusive create, so a LOCK never exists without its content. The private file
        // goes whatever happens (a full disk must not leave it behind).
        const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
        try {
          io(temporary, 'write', () => fs.writeFileSync(temporary, content, { mode: 0o644 }));
          const fd = io(temporary, 'open', () => fs.openSync(temporary, 'r'));
          try {
            io(temporary, 'fsync', () => fs.fsyncSync(fd));
          } finally {
            fs.closeSync(fd);
          }
          try {
            fs.linkSync(temporary, path);
            return true;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
            throw toIOError(error, path, 'link');
          }
        } finally {
          try {
            fs.rmSync(temporary, { force: true });
          } catch {
            // nothing more can be done here (a crash at this point can leave it too; it is harmless)
          }
        }
      },
      readFile(path) {
        try {
          return fs.readFileSync(path);
        } catch {
          return undefined;
        }
      },
      removeFile(path) {
        io(path, 'remove', () => fs.rmSync(path, { force: true }));
      },
      isAlive,
    });
  }
}
