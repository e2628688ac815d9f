/**
 * The single-writer lock shared by every runtime: a file `LOCK` in the store directory,
 * created exclusively (O_EXCL) and holding the holder's pid, host, runtime and start time.
 * Every runtime uses the same file, so a Node writer and a Deno writer exclude each other.
 * A lock whose holder is on this host and no longer alive is stale and is taken over.
 */
import { StoreLockedError, type LockHolder } from '../errors.js';
import { toIOError } from './os-error.js';
import type { HostLock } from './types.js';

export interface LockFilePrimitives {
  runtime: string;
  pid: number;
  hostname: string;
  /** Creates the file exclusively with `content`; false if it exists. */
  createExclusive(path: string, content: Uint8Array): boolean;
  readFile(path: string): Uint8Array | undefined;
  removeFile(path: string): void;
  /** Whether a process with this pid exists on this host. */
  isAlive(pid: number): boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STARTED_AT = new Date().toISOString();

function parseHolder(bytes: Uint8Array | undefined): LockHolder | undefined {
  if (!bytes) return undefined;
  try {
    const value = JSON.parse(decoder.decode(bytes)) as LockHolder;
    return typeof value.pid === 'number' && typeof value.hostname === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock; what fails underneath (a full disk, permissions) is a typed I/O error naming LOCK. */
export function takeLockFile(directory: string, primitives: LockFilePrimitives): HostLock {
  try {
    return takeLock(directory, primitives);
  } catch (error) {
    throw toIOError(error, `${directory}/LOCK`, 'lock');
  }
}

function takeLock(directory: string, primitives: LockFilePrimitives): HostLock {
  const path = `${directory}/LOCK`;
  const holder: LockHolder = { pid: primitives.pid, hostname: primitives.hostname, runtime: primitives.runtime, startedAt: STARTED_AT };
  const content = encoder.encode(JSON.stringify(holder) + '\n');
  for (let attempt = 0; attempt < 3; attempt++) {
    if (primitives.createExclusive(path, content)) {
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          // Remove only our own lock: another process may have judged it stale meanwhile.
          const current = primitives.readFile(path);
          try {
            if (current && decoder.decode(current) === decoder.decode(content)) primitives.removeFile(path);
          } catch (error) {
            throw toIOError(error, path, 'remove');
          }
        },
      };
    }
    const raw = primitives.readFile(path);
    const existing = parseHolder(raw);
    if (raw === undefined) continue; // removed between our create and read: try again
    const stale =
      existing !== undefined &&
      existing.hostname === primitives.hostname &&
      (!primitives.isAlive(existing.pid) || (existing.pid === primitives.pid && existing.startedAt !== STARTED_AT));
    if (!stale) throw new StoreLockedError(directory, existing);
    // Take over only the exact lock we judged stale.
    const again = primitives.readFile(path);
    if (again && raw && decoder.decode(again) === decoder.decode(raw)) primitives.removeFile(path);
  }
  throw new StoreLockedError(directory, parseHolder(primitives.readFile(path)));
}
