/**
 * What every command shares: argument parsing (args.ts), opening a store read-only (with progress and
 * warnings collected), stdout that survives a closed pipe, number formatting.
 */
import * as fs from 'node:fs';
import { open, type Store } from '../index.node.js';

export { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './errors.js';
export { aliased, onePath, parseArgs, parseCount, type OptionKind, type ParsedArgs } from './args.js';
import { CliError, EXIT_USAGE } from './errors.js';

/** Process streams a command writes to. */
export interface Cli {
  stdout: Output;
  stderr: NodeJS.WriteStream;
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * Buffered stdout that stops quietly when the reader goes away (`reeldb dump … | head`):
 * after EPIPE `closed` turns true and writes are dropped, so loops can end early.
 */
export class Output {
  closed = false;
  private pending: string[] = [];
  private pendingBytes = 0;
  private failure: Error | undefined;
  private static readonly FLUSH_BYTES = 64 << 10;

  constructor(private readonly stream: NodeJS.WriteStream) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.closed = true;
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') this.failure = error;
    });
  }

  /** Queues text; resolves after a flush when enough is queued (await it for backpressure). */
  write(text: string): Promise<void> | void {
    if (this.closed) return;
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= Output.FLUSH_BYTES) return this.flush();
  }

  line(text = ''): Promise<void> | void {
    return this.write(`${text}\n`);
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return this.check();
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.closed) return this.check();
    if (!this.stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.stream.off('drain', done);
          this.stream.off('error', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('error', done);
        this.stream.on('close', done);
      });
    }
    // An EPIPE is reported asynchronously; give it a turn so `closed` is current.
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.check();
  }

  private check(): void {
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined;
      throw failure;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Progress

/** Scans above this size show progress even when stderr is not a terminal. */
export const PROGRESS_LARGE_BYTES = 64 << 20;
/** On a terminal, progress appears only for scans that take longer than this. */
const PROGRESS_DELAY_MS = 250;
const PROGRESS_REFRESH_MS = 100;

/**
 * One progress line on stderr. On a terminal it updates in place and is erased when done;
 * otherwise (only for scans over PROGRESS_LARGE_BYTES) it prints "label size: 10% 20% … 100%"
 * on one line, so logs get a single line too.
 */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private shown = false;
  private decile = -1;
  private readonly tty: boolean;

  constructor(
    private readonly stderr: NodeJS.WriteStream,
    private readonly label: string,
    /** Bytes the whole job covers (decides whether a non-terminal sees progress at all). */
    private readonly sizeBytes: () => number,
    /** 'bytes', or what is counted ('events', 'checkpoints'). */
    private readonly unit: string = 'bytes',
  ) {
    this.tty = !!stderr.isTTY;
  }

  update(done: number, total: number): void {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const now = Date.now();
    if (this.tty) {
      if (!this.shown && now - this.started < PROGRESS_DELAY_MS && this.sizeBytes() <= PROGRESS_LARGE_BYTES) return;
      if (this.shown && now - this.lastDraw < PROGRESS_REFRESH_MS) return;
      this.lastDraw = now;
      this.shown = true;
      const amount = this.unit === 'bytes' ? `${formatBytes(done)} of ${formatBytes(total)}` : `${formatCount(done)} of ${formatCount(total)} ${this.unit}`;
      this.stderr.write(`\r\x1b[K${this.label} ${(fraction * 100).toFixed(0).padStart(3)}%  ${amount}`);
      return;
    }
    if (this.sizeBytes() <= PROGRESS_LARGE_BYTES) return;
    if (!this.shown) {
      this.shown = true;
      this.stderr.write(`reeldb: ${this.label} ${formatBytes(this.sizeBytes())}:`);
    }
    const decile = Math.floor(fraction * 10);
    if (decile > this.decile && decile > 0) {
      this.decile = decile;
      this.stderr.write(` ${decile * 10}%`);
    }
  }

  /**
   * Erases the line (terminal) or ends it (log), with "100%" when the job `completed`.
   * Call before printing anything else to stderr.
   */
  done(completed = false): void {
    if (!this.shown) return;
    this.shown = false;
    if (this.tty) this.stderr.write('\r\x1b[K');
    else this.stderr.write(completed && this.decile < 10 ? ' 100%\n' : '\n');
  }
}

// ---------------------------------------------------------------------------------------------
// Opening a store

export interface OpenedStore {
  db: Store;
  /** Warnings from recovery (a torn tail left by a crash…), not printed yet. */
  warnings: string[];
}

/** Total size of the segment files (for the progress threshold), without opening the store. */
function logBytes(path: string): number {
  let total = 0;
  try {
    for (const name of fs.readdirSync(`${path}/log`)) {
      if (name.endsWith('.seg')) total += fs.statSync(`${path}/log/${name}`).size;
    }
  } catch {
    // No log directory yet: nothing to scan.
  }
  return total;
}

/** Codes of `open` errors that mean the path is not a store this reeldb can use: usage errors (exit 2). */
const USAGE_CODES = new Set(['INVALID_ARGUMENT', 'INCOMPATIBLE_FORMAT', 'NOT_A_STORE']);

/**
 * Opens `path` read-only: the CLI never changes a store (a torn tail is reported, not
 * truncated) and can run beside the process that writes it. With `create: false`, open
 * creates nothing and rejects a path that is not a store with NotAStoreError (NOT_A_STORE):
 * a usage error (exit 2), like a store of another format.
 */
export async function openStore(cli: Cli, path: string, label = 'scanning', extra: { ignoreSnapshots?: boolean; writable?: boolean } = {}): Promise<OpenedStore> {
  const sizeBytes = logBytes(path);
  const progress = new Progress(cli.stderr, label, () => sizeBytes);
  const warnings: string[] = [];
  try {
    const db = await open(path, {
      readOnly: !extra.writable,
      create: false,
      ignoreSnapshots: extra.ignoreSnapshots,
      onWarning: (message) => warnings.push(message),
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.done(true);
    return { db, warnings };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && USAGE_CODES.has(code)) throw new CliError((error as Error).message, EXIT_USAGE, code);
    throw error;
  } finally {
    progress.done();
  }
}

export function printWarnings(cli: Cli, warnings: readonly string[]): void {
  for (const warning of warnings) cli.stderr.write(`reeldb: warning: ${warning}\n`);
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** 1234567 → "1,234,567" (fixed locale so output is the same everywhere). */
export function formatCount(value: number): string {
  return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${formatCount(count)} ${count === 1 ? singular : pluralForm}`;
}

/** Lays rows out in columns; `align` says, per column, 'l' or 'r'. */
export function table(rows: readonly (readonly string[])[], align: string, indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, column) => {
          const last = column === row.length - 1;
          if (align[column] === 'r') return cell.padStart(widths[column]!);
          return last ? cell : cell.padEnd(widths[column]!);
        })
        .join('   ')
        .trimEnd(),
  );
}

/** "label   value" lines with the values lined up. */
export function fields(pairs: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${label.padEnd(width)}   ${value}`);
}
