/**
 * The FileHost contract: the only way the engine touches storage. Small on purpose so that a
 * host over OPFS sync access handles (in a dedicated worker) can implement it without any
 * change to the engine. Paths are '/'-separated strings; the engine never builds paths with
 * anything but `joinPath`.
 *
 * Edge cases every host must honour (the conformance suite in test/host-conformance checks them):
 * - `read` returns fewer bytes than asked only at end of file, and 0 past it; never throws for range.
 * - `write` at a position past the end extends the file; the gap reads as zeros.
 * - A write is visible to `read` on any handle of the same host at once, before `sync`.
 * - `sync` makes the file's data durable (fdatasync). If it rejects, the host makes no claim
 *   about what reached the medium; the engine treats that as fatal (no retry).
 * - New files and renames are durable only after `syncDirectory` of their directory.
 * - `replace(from, to)` is atomic: a reader sees the old or the new file, never a mix.
 * - `list` of a missing directory returns []; `remove` of a missing path succeeds.
 * - `truncate` to a size larger than the file extends it with zeros.
 * - Calls on a closed handle reject.
 */
import type { LockHolder } from '../errors.js';

export interface FileHandle {
  /** Reads into `into` from `position`; returns the number of bytes read. */
  read(into: Uint8Array, position: number): Promise<number>;
  /** Writes every byte of `bytes` at `position`. */
  write(bytes: Uint8Array, position: number): Promise<void>;
  size(): Promise<number>;
  truncate(size: number): Promise<void>;
  /** Makes written data durable. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Create the file when missing (default false: a missing file rejects). */
  create?: boolean;
  /** Open for reading only. */
  readOnly?: boolean;
}

export interface HostLock {
  release(): Promise<void>;
}

export interface FileHost {
  /** 'node', 'deno', 'memory', … (shown in lock holders and diagnostics). */
  readonly name: string;
  open(path: string, options?: OpenOptions): Promise<FileHandle>;
  /** Names (not paths) of the entries of a directory; [] when it does not exist. */
  list(directory: string): Promise<string[]>;
  /** Creates a directory and its parents; succeeds if it exists. */
  mkdir(directory: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  remove(path: string): Promise<void>;
  /** Atomically replaces `to` with `from`. */
  replace(from: string, to: string): Promise<void>;
  syncDirectory(directory: string): Promise<void>;
  /**
   * Takes the single-writer lock for a store directory, or throws StoreLockedError naming the
   * holder. A lock left by a dead process is taken over.
   */
  lock(directory: string): Promise<HostLock>;
}

export type { LockHolder };

export function joinPath(...parts: string[]): string {
  return parts.join('/').replace(/\/+/g, '/');
}

/**
 * Reads a whole (small) file, or undefined when it does not exist. At most `maxBytes + 1`
 * bytes are read (a huge or sparse file costs no memory; the caller sees it is too long).
 */
export async function readWholeFile(host: FileHost, path: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array | undefined> {
  if (!(await host.exists(path))) return undefined;
  const handle = await host.open(path, { readOnly: true });
  try {
    const bytes = new Uint8Array(Math.min(await handle.size(), maxBytes + 1));
    let done = 0;
    while (done < bytes.length) {
      const read = await handle.read(bytes.subarray(done), done);
      if (read === 0) break;
      done += read;
    }
    return bytes.subarray(0, done);
  } finally {
    await handle.close();
  }
}

/**
 * Writes a file so that a crash leaves either the old or the new contents, durably. When a
 * step before the rename fails (a full disk), the temporary file is removed: nothing
 * half-made stays behind (a writable open removes any that a crash left).
 */
export async function writeFileAtomic(host: FileHost, directory: string, name: string, bytes: Uint8Array): Promise<void> {
  const temporary = joinPath(directory, `${name}.tmp`);
  try {
    const handle = await host.open(temporary, { create: true });
    try {
      await handle.truncate(0);
      await handle.write(bytes, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await host.replace(temporary, joinPath(directory, name));
  } catch (error) {
    await host.remove(temporary).catch(() => undefined);
    throw error;
  }
  await host.syncDirectory(directory);
}
