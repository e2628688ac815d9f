/**
 * Every error reeldb throws on purpose is a ReeldbError with a stable `code`. Codes never
 * change meaning; messages may be reworded.
 */
/** Every stable code a ReeldbError can carry. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'EVENT_TOO_LARGE'
  | 'WRONG_EXPECTED_VERSION'
  | 'STREAM_NOT_FOUND'
  | 'CORRUPTION'
  | 'INCOMPATIBLE_FORMAT'
  | 'STORE_LOCKED'
  | 'STORE_FAILED'
  | 'STORE_CLOSED'
  | 'CONFLICT'
  | 'DISK_FULL'
  | 'IO_ERROR'
  | 'PERMISSION_DENIED'
  | 'NOT_A_STORE'
  | 'READ_ONLY'
  | 'NAME_CONFLICT'
  | 'INVALID_TRANSITION'
  | 'INTERNAL';

export class ReeldbError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends ReeldbError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

export class EventTooLargeError extends ReeldbError {
  readonly sizeBytes: number;
  readonly limitBytes: number;
  constructor(message: string, sizeBytes: number, limitBytes: number) {
    super('EVENT_TOO_LARGE', message);
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

export class WrongExpectedVersionError extends ReeldbError {
  readonly stream: string;
  readonly expected: ExpectedVersion;
  /** The stream's current last version, or 'no_stream'. */
  readonly actual: number | 'no_stream';
  constructor(stream: string, expected: ExpectedVersion, actual: number | 'no_stream') {
    super(
      'WRONG_EXPECTED_VERSION',
      `stream '${stream}': expected version ${JSON.stringify(expected)} but the stream is at ${JSON.stringify(actual)}; nothing was written`,
    );
    this.stream = stream;
    this.expected = expected;
    this.actual = actual;
  }
}

export class StreamNotFoundError extends ReeldbError {
  readonly stream: string;
  constructor(stream: string) {
    super('STREAM_NOT_FOUND', `stream '${stream}' does not exist`);
    this.stream = stream;
  }
}

export class CorruptionError extends ReeldbError {
  /** The damaged file. */
  readonly file: string;
  /** Byte offset of the damage in `file`. */
  readonly offset: number;
  /** What is wrong there, without the location. */
  readonly reason: string;
  constructor(file: string, offset: number, reason: string) {
    super('CORRUPTION', `${file} is damaged at offset ${offset}: ${reason}. Nothing was truncated or changed; restore the store from a backup, or copy out what reads cleanly`);
    this.file = file;
    this.offset = offset;
    this.reason = reason;
  }
}

export class IncompatibleFormatError extends ReeldbError {
  constructor(message: string) {
    super('INCOMPATIBLE_FORMAT', message);
  }
}

export interface LockHolder {
  pid: number;
  hostname: string;
  runtime: string;
  startedAt: string;
}

export class StoreLockedError extends ReeldbError {
  readonly holder: LockHolder | undefined;
  constructor(path: string, holder: LockHolder | undefined) {
    const who = holder
      ? `process ${holder.pid} on ${holder.hostname} (${holder.runtime}, since ${holder.startedAt})`
      : 'another process (its lock file is unreadable)';
    super('STORE_LOCKED', `store '${path}' is open for writing by ${who}; close it there, or open this one with { readOnly: true }`);
    this.holder = holder;
  }
}

export class StoreFailedError extends ReeldbError {
  constructor(reason: string, cause?: unknown) {
    super('STORE_FAILED', `the store failed and accepts no more writes: ${reason}. Reopen it to recover what was made durable`, { cause });
  }
}

export class StoreClosedError extends ReeldbError {
  constructor() {
    super('STORE_CLOSED', 'the store is closed');
  }
}

export class ConflictError extends ReeldbError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** What the OS said about a failed file operation, on every typed I/O error. */
export interface IOErrorDetails {
  /** The file or directory the operation was about. */
  path: string;
  /** The OS error name (`ENOSPC`, `EACCES`, `EMFILE`, …), or undefined when the platform gave none. */
  errno: string | undefined;
  /** The operation that failed (`open`, `write`, `fsync`, `rename`, `mkdir`, …). */
  syscall: string | undefined;
}

/** A file operation failed for a reason that is not one of the more specific errors below. */
export class IOError extends ReeldbError {
  readonly path: string;
  readonly errno: string | undefined;
  readonly syscall: string | undefined;
  constructor(message: string, details: IOErrorDetails, options?: { cause?: unknown; code?: 'IO_ERROR' | 'DISK_FULL' | 'PERMISSION_DENIED' }) {
    super(options?.code ?? 'IO_ERROR', message, { cause: options?.cause });
    this.path = details.path;
    this.errno = details.errno;
    this.syscall = details.syscall;
  }
}

/** The disk (or quota) is full (ENOSPC, EDQUOT). Nothing half-made is left behind; free space and retry. */
export class DiskFullError extends IOError {
  constructor(message: string, details: IOErrorDetails, options?: { cause?: unknown }) {
    super(message, details, { cause: options?.cause, code: 'DISK_FULL' });
  }
}

/** The OS refused access (EACCES, EPERM, EROFS). */
export class PermissionDeniedError extends IOError {
  constructor(message: string, details: IOErrorDetails, options?: { cause?: unknown }) {
    super(message, details, { cause: options?.cause, code: 'PERMISSION_DENIED' });
  }
}

/** The path exists but is not a reeldb store (or `create: false` and there is none). */
export class NotAStoreError extends ReeldbError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('NOT_A_STORE', message);
    this.path = path;
  }
}

/**
 * The wasm core stopped (a trap: an internal limit or a bug) in `operation`. A last resort so
 * that no WebAssembly.RuntimeError reaches a caller; the call did not complete.
 */
export class InternalError extends ReeldbError {
  readonly operation: string;
  constructor(operation: string, cause: unknown) {
    super('INTERNAL', `reeldb's core stopped in ${operation} (${(cause as Error)?.message ?? String(cause)}); the call did not complete. Reopen the store; if it happens again, please report it`, { cause });
    this.operation = operation;
  }
}

/** A write was attempted on a store opened with `{ readOnly: true }`. */
export class ReadOnlyStoreError extends ReeldbError {
  constructor(message = 'this store was opened read-only; writes are not allowed (open it without readOnly to write)') {
    super('READ_ONLY', message);
  }
}

/**
 * A store written before names were normalised holds two or more streams (or threads) that
 * are one name now (the same text in Unicode NFC, or two lone-surrogate names both stored as
 * U+FFFD). The store opens; this name cannot be read or written until the conflict is gone.
 */
export class NameConflictError extends ReeldbError {
  readonly nameText: string;
  readonly count: number;
  constructor(what: string, name: string, count: number, remedy: string) {
    super(
      'NAME_CONFLICT',
      `${what} ${JSON.stringify(name)} holds ${count} ${what}s of a store written before names were normalised (names that are the same in Unicode NFC, or lone surrogates stored as U+FFFD); they cannot be told apart, so it is not read or written: ${remedy}`,
    );
    this.nameText = name;
    this.count = count;
  }
}

/**
 * A write to a state cell that has a state machine (`state.defineMachine`) would move it to a
 * state its machine does not allow from the current one. Nothing was written.
 */
export class InvalidTransitionError extends ReeldbError {
  /** The cell's name. */
  readonly cell: string;
  /** The run the cell belongs to, or undefined for a store-wide cell. */
  readonly runId: string | undefined;
  /** The cell's current state, or undefined when the cell does not exist. */
  readonly from: string | undefined;
  /** The state the write asked for. */
  readonly to: string;
  /** The states the machine allows from `from`. */
  readonly allowed: readonly string[];
  constructor(cell: string, runId: string | undefined, from: string | undefined, to: string, allowed: readonly string[], reason?: string) {
    const where = runId === undefined ? `state cell '${cell}'` : `state cell '${cell}' of run '${runId}'`;
    const start = from === undefined ? 'it does not exist' : `it is in state ${JSON.stringify(from)}`;
    const options = allowed.length === 0 ? 'no state is allowed from there' : `allowed: ${allowed.map((state) => JSON.stringify(state)).join(', ')}`;
    super('INVALID_TRANSITION', `${where}: cannot move to ${JSON.stringify(to)}: ${reason ?? start} (${options}); nothing was written`);
    this.cell = cell;
    this.runId = runId;
    this.from = from;
    this.to = to;
    this.allowed = allowed;
  }
}
