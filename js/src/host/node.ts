/**
 * FileHost for Node.js, also used by Bun. Reads and writes use synchronous positional
 * syscalls (a small pwrite costs a few microseconds; a trip through the libuv thread pool
 * costs tens), while `sync` runs fdatasync on the thread pool so the event loop keeps
 * accepting commits that the next group sync will cover.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { takeLockFile } from './lockfile.js';
import type { FileHandle, FileHost, HostLock, HostWatcher, OpenOptions } from './types.js';

class NodeFileHandle implements FileHandle {
  private closed = false;
  constructor(private readonly fd: number, private readonly path: string) {}

  private check(): void {
    if (this.closed) throw new Error(`file handle for '${this.path}' is closed`);
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check();
    let done = 0;
    while (done < into.length) {
      const read = fs.readSync(this.fd, into, done, into.length - done, position + done);
      if (read === 0) break;
      done += read;
    }
    return done;
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check();
    let done = 0;
    while (done < bytes.length) {
      done += fs.writeSync(this.fd, bytes, done, bytes.length - done, position + done);
    }
  }

  async size(): Promise<number> {
    this.check();
    return fs.fstatSync(this.fd).size;
  }

  async truncate(size: number): Promise<void> {
    this.check();
    fs.ftruncateSync(this.fd, size);
  }

  sync(): Promise<void> {
    this.check();
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
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

export class NodeFileHost implements FileHost {
  readonly name: string = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined' ? 'bun' : 'node';

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const flags = options.readOnly ? 'r' : options.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : 'r+';
    return new NodeFileHandle(fs.openSync(path, flags, 0o644), path);
  }

  async list(directory: string): Promise<string[]> {
    try {
      return fs.readdirSync(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async mkdir(directory: string): Promise<void> {
    fs.mkdirSync(directory, { recursive: true });
  }

  async exists(path: string): Promise<boolean> {
    return fs.existsSync(path);
  }

  async remove(path: string): Promise<void> {
    fs.rmSync(path, { force: true, recursive: true });
  }

  async replace(from: string, to: string): Promise<void> {
    fs.renameSync(from, to);
  }

  syncDirectory(directory: string): Promise<void> {
    const fd = fs.openSync(directory, 'r');
    return new Promise<void>((resolve, reject) =>
      fs.fsync(fd, (error) => {
        fs.closeSync(fd);
        error ? reject(error) : resolve();
      }),
    );
  }

  /** fs.watch (inotify, FSEvents, …); a directory that cannot be watched gives a watcher that never fires (the reader polls). */
  watch(directory: string, onChange: () => void): HostWatcher {
    try {
      const watcher = fs.watch(directory, { persistent: false }, () => onChange());
      watcher.on('error', () => watcher.close());
      return { close: () => watcher.close() };
    } catch {
      return { close() {} };
    }
  }

  async lock(directory: string): Promise<HostLock> {
    return takeLockFile(directory, {
      runtime: `${this.name} ${typeof (globalThis as { Bun?: { version: string } }).Bun !== 'undefined' ? (globalThis as unknown as { Bun: { version: string } }).Bun.version : process.version}`,
      pid: process.pid,
      hostname: os.hostname(),
      createExclusive(path, content) {
        // Write the holder to a private file, then link it into place: the link is the
        // exclusive create, so a LOCK never exists without its content.
        const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
        fs.writeFileSync(temporary, content, { mode: 0o644 });
        const fd = fs.openSync(temporary, 'r');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        try {
          fs.linkSync(temporary, path);
          return true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw error;
        } finally {
          fs.rmSync(temporary, { force: true });
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
        fs.rmSync(path, { force: true });
      },
      isAlive,
    });
  }
}
