/**
 * FileHost for Deno, on Deno's own file API. The lock uses the same LOCK-file protocol as
 * Node and Bun so writers in different runtimes exclude each other.
 */
import { takeLockFile } from './lockfile.js';
import type { FileHandle, FileHost, HostLock, HostWatcher, OpenOptions } from './types.js';

// Only the parts of the Deno namespace this host uses.
interface DenoFile {
  seekSync(offset: number, whence: number): number;
  readSync(into: Uint8Array): number | null;
  writeSync(bytes: Uint8Array): number;
  statSync(): { size: number };
  truncateSync(size?: number): void;
  syncData(): Promise<void>;
  sync(): Promise<void>;
  syncSync(): void;
  close(): void;
}
interface DenoNamespace {
  pid: number;
  version: { deno: string };
  hostname(): string;
  openSync(path: string, options: { read?: boolean; write?: boolean; create?: boolean; createNew?: boolean }): DenoFile;
  readDirSync(path: string): Iterable<{ name: string }>;
  mkdirSync(path: string, options: { recursive: boolean }): void;
  statSync(path: string): unknown;
  removeSync(path: string, options?: { recursive: boolean }): void;
  renameSync(from: string, to: string): void;
  linkSync(from: string, to: string): void;
  readFileSync(path: string): Uint8Array;
  writeFileSync(path: string, data: Uint8Array, options?: { createNew?: boolean }): void;
  errors: { NotFound: new () => Error; AlreadyExists: new () => Error };
  SeekMode: { Start: number };
  watchFs(path: string, options?: { recursive: boolean }): AsyncIterable<unknown> & { close(): void };
}
const Deno = (globalThis as unknown as { Deno: DenoNamespace }).Deno;

class DenoFileHandle implements FileHandle {
  private closed = false;
  constructor(private readonly file: DenoFile, private readonly path: string) {}

  private check(): void {
    if (this.closed) throw new Error(`file handle for '${this.path}' is closed`);
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    this.check();
    this.file.seekSync(position, Deno.SeekMode.Start);
    let done = 0;
    while (done < into.length) {
      const read = this.file.readSync(into.subarray(done));
      if (read === null || read === 0) break;
      done += read;
    }
    return done;
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    this.check();
    this.file.seekSync(position, Deno.SeekMode.Start);
    let done = 0;
    while (done < bytes.length) done += this.file.writeSync(bytes.subarray(done));
  }

  async size(): Promise<number> {
    this.check();
    return this.file.statSync().size;
  }

  async truncate(size: number): Promise<void> {
    this.check();
    this.file.truncateSync(size);
  }

  sync(): Promise<void> {
    this.check();
    return this.file.syncData();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
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
    const file = Deno.openSync(path, { read: true, write: !options.readOnly, create: !!options.create && !options.readOnly });
    return new DenoFileHandle(file, path);
  }

  async list(directory: string): Promise<string[]> {
    try {
      return [...Deno.readDirSync(directory)].map((entry) => entry.name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
  }

  async mkdir(directory: string): Promise<void> {
    Deno.mkdirSync(directory, { recursive: true });
  }

  async exists(path: string): Promise<boolean> {
    try {
      Deno.statSync(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  async remove(path: string): Promise<void> {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  async replace(from: string, to: string): Promise<void> {
    Deno.renameSync(from, to);
  }

  async syncDirectory(directory: string): Promise<void> {
    const file = Deno.openSync(directory, { read: true });
    try {
      await file.sync();
    } finally {
      file.close();
    }
  }

  /** Deno.watchFs; a directory that cannot be watched gives a watcher that never fires (the reader polls). */
  watch(directory: string, onChange: () => void): HostWatcher {
    let watcher: (AsyncIterable<unknown> & { close(): void }) | undefined;
    try {
      watcher = Deno.watchFs(directory, { recursive: false });
    } catch {
      return { close() {} };
    }
    const events = watcher;
    void (async () => {
      try {
        for await (const _event of events) onChange();
      } catch {
        // Closed or failed: polling goes on.
      }
    })();
    return { close: () => events.close() };
  }

  async lock(directory: string): Promise<HostLock> {
    return takeLockFile(directory, {
      runtime: `deno ${Deno.version.deno}`,
      pid: Deno.pid,
      hostname: Deno.hostname(),
      createExclusive(path, content) {
        // Write the holder to a private file, then link it into place: the link is the
        // exclusive create, so a LOCK never exists without its content.
        const temporary = `${path}.${Deno.pid}.${Date.now()}.tmp`;
        const file = Deno.openSync(temporary, { write: true, create: true });
        try {
          let done = 0;
          while (done < content.length) done += file.writeSync(content.subarray(done));
          file.syncSync();
        } finally {
          file.close();
        }
        try {
          Deno.linkSync(temporary, path);
          return true;
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) return false;
          throw error;
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
