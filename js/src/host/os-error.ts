/**
 * Turns an OS error from any platform (Node/Bun `code`, Deno error classes) into a typed
 * reeldb I/O error naming the path and the operation. Hosts call it at their boundary so no
 * raw OS error reaches the engine or a caller.
 */
import { DiskFullError, IOError, PermissionDeniedError, ReeldbError } from '../errors.js';

const DENO_NAMES: Record<string, string> = {
  NotFound: 'ENOENT',
  PermissionDenied: 'EACCES',
  AlreadyExists: 'EEXIST',
  IsADirectory: 'EISDIR',
  NotADirectory: 'ENOTDIR',
  FilesystemLoop: 'ELOOP',
  StorageFull: 'ENOSPC',
  ReadOnlyFilesystem: 'EROFS',
  TooManyOpenFiles: 'EMFILE',
};

/** The OS error name (`ENOSPC`, …) of an error thrown by a platform file API, if it has one. */
export function errnoOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  const name = (error as { name?: unknown }).name;
  if (typeof name === 'string' && DENO_NAMES[name]) return DENO_NAMES[name];
  const message = (error as { message?: unknown }).message;
  const found = typeof message === 'string' ? /\b(E[A-Z]{3,})\b/.exec(message) : null;
  return found?.[1];
}

const WHAT: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  EMFILE: 'this process has too many open files',
  ENFILE: 'the system has too many open files',
  ENOENT: 'it does not exist',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  ELOOP: 'it is a symbolic link loop',
  EIO: 'the device reported an I/O error',
};

/**
 * `syscall` names the operation (`open`, `write`, `fsync`, …). ReeldbErrors pass through
 * unchanged. Disk full and permission errors get their own classes; the rest is IOError.
 */
export function toIOError(error: unknown, path: string, syscall: string): ReeldbError {
  if (error instanceof ReeldbError) return error;
  const errno = errnoOf(error);
  const details = { path, errno, syscall };
  const what = (errno && WHAT[errno]) ?? ((error as Error)?.message ?? String(error));
  const message = `${syscall} '${path}' failed: ${what}${errno ? ` (${errno})` : ''}`;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return new DiskFullError(`${message}; free some space and retry`, details, { cause: error });
  if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') return new PermissionDeniedError(`${message}; check the permissions of the path and its parent directory`, details, { cause: error });
  if (errno === 'EMFILE' || errno === 'ENFILE') return new IOError(`${message}; raise the open-file limit (ulimit -n) or lower maxOpenSegments`, details, { cause: error });
  return new IOError(message, details, { cause: error });
}
