/**
 * What `open` finds at a store path, checked before anything is created or locked: a store
 * (it has a MANIFEST), or nothing / an empty directory where one may be made (`create` and not
 * `readOnly`), or else NotAStoreError saying what is there. The OS errors of these checks
 * become typed errors that say what to do (a file in the way, a directory this user may not
 * write), never a raw ENOTDIR or EACCES.
 */
import { IOError, NotAStoreError, PermissionDeniedError, ReeldbError } from '../errors.js';
import { errnoOf as platformErrno, toIOError } from '../host/os-error.js';
import { joinPath, type FileHost } from '../host/types.js';

export function parentDirectory(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const cut = trimmed.lastIndexOf('/');
  return cut > 0 ? trimmed.slice(0, cut) : cut === 0 ? '/' : '.';
}

const PERMISSION = new Set(['EACCES', 'EPERM', 'EROFS']);

/** The OS error name of a platform error, or of a typed I/O error a host already made of it. */
function errnoOf(error: unknown): string | undefined {
  return error instanceof IOError ? error.errno : platformErrno(error);
}

/** Whether `path` exists; a path below a file (ENOTDIR on some platforms) does not. */
async function exists(host: FileHost, path: string): Promise<boolean> {
  try {
    return await host.exists(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR') return false;
    throw toIOError(error, path, 'stat');
  }
}

/** The entries of a directory, or 'file' when `path` is not a directory. */
async function entries(host: FileHost, path: string): Promise<string[] | 'file'> {
  try {
    return await host.list(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR') return 'file';
    if (PERMISSION.has(errnoOf(error) ?? '')) {
      throw new PermissionDeniedError(`cannot read the directory '${path}': permission denied (${errnoOf(error)}); give this user read access to it`, { path, errno: errnoOf(error), syscall: 'readdir' }, { cause: error });
    }
    throw toIOError(error, path, 'readdir');
  }
}

/** The nearest of `path` and its ancestors that exists, and whether it is a file. */
async function nearestExisting(host: FileHost, path: string): Promise<{ path: string; file: boolean }> {
  let at = path;
  for (;;) {
    if (await exists(host, at)) return { path: at, file: (await entries(host, at)) === 'file' };
    const parent = parentDirectory(at);
    if (parent === at) return { path: at, file: false };
    at = parent;
  }
}

/** Names in a store directory that a store never lacks or that a crash while creating one leaves. */
function isCreationLeftover(name: string): boolean {
  return name === 'LOCK' || name === 'log' || name.endsWith('.tmp');
}

/**
 * Checks the path and, when a store is to be made there, creates its directory. Resolves to
 * 'store' when there is one, 'new' when one is to be created (the directory exists and is empty).
 */
export async function prepareStorePath(host: FileHost, path: string, options: { create: boolean; readOnly: boolean }): Promise<'store' | 'new'> {
  const canCreate = options.create && !options.readOnly;
  if (!(await exists(host, path))) {
    if (!canCreate) {
      const found = await nearestExisting(host, parentDirectory(path));
      const why = found.file ? `it does not exist ('${found.path}' is a file)` : 'it does not exist';
      throw new NotAStoreError(path, `no store at '${path}': ${why}${options.readOnly ? '' : '; open it without create: false to make one'}`);
    }
    await makeDirectory(host, path);
    return 'new';
  }
  const names = await entries(host, path);
  if (names === 'file') throw new NotAStoreError(path, `'${path}' is a file, not a reeldb store (a store is a directory)`);
  if (names.includes('MANIFEST')) return 'store';
  const log = names.includes('log') ? await entries(host, joinPath(path, 'log')) : [];
  const others = names.filter((name) => !isCreationLeftover(name));
  if (log === 'file' || log.length > 0 || others.length > 0) {
    const shown = [...others, ...(log === 'file' ? ['log (a file)'] : log.length > 0 ? ['log/…'] : [])].slice(0, 3).join(', ');
    throw new NotAStoreError(path, `'${path}' is not a reeldb store: it has no MANIFEST and is not empty (${shown}); give open a new or empty directory to create a store`);
  }
  if (!canCreate) {
    const hint = options.readOnly ? 'there is nothing to open read-only' : 'open it without create: false to make a store there';
    throw new NotAStoreError(path, `'${path}' is an empty directory, not a reeldb store; ${hint}`);
  }
  return 'new';
}

async function makeDirectory(host: FileHost, path: string): Promise<void> {
  try {
    await host.mkdir(path);
  } catch (error) {
    throw await mkdirError(host, path, error);
  }
}

async function mkdirError(host: FileHost, path: string, error: unknown): Promise<ReeldbError> {
  const errno = errnoOf(error);
  const found = await nearestExisting(host, path).catch(() => undefined);
  if (found?.path === path && found.file) return new NotAStoreError(path, `'${path}' is a file, not a reeldb store (a store is a directory)`);
  if (found?.file) {
    return new IOError(`cannot create the store directory '${path}': '${found.path}' is a file, not a directory`, { path: found.path, errno: errno ?? 'ENOTDIR', syscall: 'mkdir' }, { cause: error });
  }
  if (PERMISSION.has(errno ?? '')) {
    const where = found?.path ?? parentDirectory(path);
    return new PermissionDeniedError(`cannot create the store directory '${path}': permission denied (${errno}); this user may not create entries in '${where}'`, { path, errno, syscall: 'mkdir' }, { cause: error });
  }
  return toIOError(error, path, 'mkdir');
}

/** The writer lock's OS errors, typed: a store in a directory this user may not write can still be read. */
export function lockError(error: unknown, path: string): ReeldbError {
  if (error instanceof ReeldbError && !(error instanceof PermissionDeniedError)) return error;
  const errno = errnoOf(error);
  if (PERMISSION.has(errno ?? '')) {
    return new PermissionDeniedError(
      `cannot take the writer lock in '${path}': permission denied (${errno}); open it with { readOnly: true } to read it, or give this user write access to the directory`,
      { path: joinPath(path, 'LOCK'), errno, syscall: 'open' },
      { cause: error },
    );
  }
  return toIOError(error, joinPath(path, 'LOCK'), 'lock');
}
