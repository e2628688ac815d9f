/**
 * Hostile files (issue 8, A5): FIFOs, symlinks, directories and sparse multi-GiB files where a
 * store expects its own files. Nothing hangs, nothing escapes as an untyped error: each case is
 * a typed error naming the file, or (snapshots) skipped with a warning. Recovery memory stays
 * bounded whatever the size of a zero-filled tail, and no wasm trap reaches a caller.
 * FIFO cases run in a child process with a timeout (a blocked open would freeze the test's own
 * event loop, where no timer could fire).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Core } from '../js/src/core/core.js';
import { init } from '../js/src/index.node.js';
import { InternalError, ReeldbError } from '../js/src/errors.js';
import { quiet, reeldb, runtime, segmentPaths, storePath, fixtureCommand } from './helpers.js';

const { open } = reeldb;
const root = new URL('..', import.meta.url).pathname;
const GiB = 2 ** 30;

interface Outcome {
  opened: boolean;
  events?: number;
  warnings: string[];
  code?: string;
  name?: string;
  message?: string;
  file?: string;
}

/** Opens the store in a child process of this runtime; a hang fails after 20 s. */
function openInChild(path: string, mode: 'write' | 'read' | 'scan' = 'write'): Outcome {
  const [command, ...args] = fixtureCommand('open-outcome.mjs');
  const result = spawnSync(command!, [...args, path, mode], { encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw new Error(`the child did not finish: ${result.error.message}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Outcome;
}

/** `reeldb verify` (Node CLI) with a timeout. */
function verify(path: string): { code: number | null; stdout: string } {
  const result = spawnSync('node', [join(root, 'js/bin/reeldb.mjs'), 'verify', path], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  if (result.error) throw new Error(`verify did not finish: ${result.error.message}`);
  return { code: result.status, stdout: result.stdout + result.stderr };
}

function mkfifo(path: string): void {
  const result = spawnSync('mkfifo', [path]);
  if (result.status !== 0) throw new Error(`mkfifo failed: ${result.stderr}`);
}

async function build(path: string, events = 20, options = {}): Promise<void> {
  const db = await open(path, { ...quiet(), ...options });
  for (let index = 0; index < events; index++) await db.events.append('s', [{ type: 'step', data: { index, text: 'x'.repeat(100) } }]);
  await db.close();
}

/** Expects a typed reeldb error (never a raw OS error or a RangeError) that names `file`. */
async function expectTypedNaming(promise: Promise<unknown>, file: string): Promise<ReeldbError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the open to fail');
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(ReeldbError);
  expect((error as Error).message).toContain(file);
  return error as ReeldbError;
}

describe(`hostile files on ${runtime}`, () => {
  it('hardening A5: a FIFO in place of a segment is a typed error naming it, for open, read-only open and verify (no hang)', { timeout: 90_000 }, async () => {
    const path = storePath();
    await build(path, 40, { segmentBytes: 2048 });
    const segments = segmentPaths(path);
    for (const victim of [segments[segments.length - 1]!, segments[0]!]) {
      rmSync(victim);
      mkfifo(victim);
      for (const mode of ['write', 'read'] as const) {
        const outcome = openInChild(path, mode);
        expect(outcome.opened, `${mode}: ${JSON.stringify(outcome)}`).toBe(false);
        expect(outcome.code).toBe('IO_ERROR');
        expect(outcome.message).toContain(victim);
        expect(outcome.message).toMatch(/named pipe|not a regular file/);
      }
      const checked = verify(path);
      expect(checked.code).not.toBe(0);
      expect(checked.stdout).toContain(victim);
      rmSync(victim);
      writeFileSync(victim, ''); // put something back for the next victim's run (a headerless leftover or damage)
    }
  });

  it('hardening A5: a FIFO or a directory named like a snapshot is skipped with a warning; verify names it and does not hang', { timeout: 90_000 }, async () => {
    const path = storePath();
    await build(path, 20);
    mkfifo(join(path, `snapshot-${'9'.padStart(20, '0')}.snap`));
    mkdirSync(join(path, `snapshot-${'8'.padStart(20, '0')}.snap`));
    for (const mode of ['write', 'read'] as const) {
      const outcome = openInChild(path, mode);
      expect(outcome.opened, JSON.stringify(outcome)).toBe(true);
      expect(outcome.events).toBe(20);
      expect(outcome.warnings.join('\n')).toMatch(/ignored snapshot snapshot-0+9\.snap: .*named pipe/);
      expect(outcome.warnings.join('\n')).toMatch(/ignored snapshot snapshot-0+8\.snap: .*directory/);
    }
    const checked = verify(path);
    expect(checked.stdout).toMatch(/snapshot-0+9\.snap/);
  });

  it('hardening A5: symlinks to a directory, dangling and looping symlinks, and log/ replaced by a file are typed errors naming the file', { timeout: 60_000 }, async () => {
    const path = storePath();
    await build(path, 40, { segmentBytes: 2048 });
    const segments = segmentPaths(path);
    const last = segments[segments.length - 1]!;
    const original = statSync(last).size;
    expect(original).toBeGreaterThan(0);
    const cases: [string, () => void][] = [
      ['a symlink to a directory', () => symlinkSync(path, last)],
      ['a dangling symlink', () => symlinkSync(join(path, 'nowhere'), last)],
      ['a symlink loop', () => symlinkSync(last, last)],
      ['a directory', () => mkdirSync(last)],
    ];
    for (const [what, make] of cases) {
      rmSync(last, { recursive: true, force: true });
      make();
      for (const readOnly of [false, true]) {
        const error = await expectTypedNaming(open(path, { ...quiet(), readOnly }), last);
        expect(['IO_ERROR', 'CORRUPTION'], `${what}: ${error.message}`).toContain(error.code);
      }
    }
    // log/ itself replaced by a file.
    rmSync(join(path, 'log'), { recursive: true, force: true });
    writeFileSync(join(path, 'log'), 'not a directory');
    for (const readOnly of [false, true]) {
      const error = await expectTypedNaming(open(path, { ...quiet(), readOnly }), join(path, 'log'));
      expect(error.code).not.toBe('INTERNAL');
    }
  });

  it('hardening A5: a sparse multi-GiB MANIFEST is CorruptionError, a sparse multi-GiB snapshot is skipped with a warning', { timeout: 60_000 }, async () => {
    const path = storePath();
    await build(path, 20);
    const db = await open(path, quiet());
    const info = await db.snapshot();
    await db.close();
    truncateSync(join(path, info!.name), 3 * GiB);
    const log = quiet();
    const reopened = await open(path, log);
    expect((await reopened.events.readAll()).length).toBe(20);
    expect(log.warnings.join('\n')).toMatch(/ignored snapshot .*larger than a snapshot can be/);
    await reopened.close();
    truncateSync(join(path, 'MANIFEST'), 3 * GiB);
    for (const readOnly of [false, true]) {
      const error = await expectTypedNaming(open(path, { ...quiet(), readOnly }), join(path, 'MANIFEST'));
      expect(error.code).toBe('CORRUPTION');
    }
  });

  it('hardening A5: a sparse zero-filled tail of over 2 GiB is truncated as a torn tail with bounded memory (no wasm trap)', { timeout: 180_000 }, async () => {
    const path = storePath();
    await build(path, 30);
    const [segment] = segmentPaths(path);
    const size = statSync(segment!).size;
    // Read-only (ignored, left as it is) with 512 MiB, then writable (truncated) with 2 GiB + 64 MiB,
    // where the core trapped. Reading a hole costs time, not disk.
    for (const [readOnly, tail] of [
      [true, 512 << 20],
      [false, 2 * GiB + (64 << 20)],
    ] as const) {
      truncateSync(segment!, size + tail);
      const before = process.memoryUsage();
      const log = quiet();
      const db = await open(path, { ...log, readOnly });
      const after = process.memoryUsage();
      expect((await db.events.readAll()).length).toBe(30);
      await db.close();
      expect(log.warnings.join('\n')).toContain(`torn tail of ${tail} bytes`);
      // Generous bounds: without chunking the whole tail is read into memory at once.
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(128 << 20);
      expect(after.rss - before.rss).toBeLessThan(384 << 20);
    }
    expect(statSync(segment!).size).toBe(size);
  });

  it('hardening A5: valid frames after a zero gap too long to probe at once are still found: damage, not a torn tail', { timeout: 120_000 }, async () => {
    const path = storePath();
    await build(path, 10);
    const [segment] = segmentPaths(path);
    const bytes = readFileSync(segment!);
    // Frame boundaries (begin record: magic "RLFB", then the frame's length).
    const ends: number[] = [];
    for (let offset = 48; offset + 32 <= bytes.length && bytes.toString('latin1', offset, offset + 4) === 'RLFB'; ) {
      offset += bytes.readUInt32LE(offset + 4);
      ends.push(offset);
    }
    expect(ends.length).toBe(10);
    // The first five frames, a 96 MiB hole where the sixth should be, then the last four:
    // each was written after the one before was synced, so the hole is damage to synced data.
    const gap = 96 << 20;
    writeFileSync(segment!, bytes.subarray(0, ends[4]!));
    truncateSync(segment!, ends[4]! + gap);
    const fd = openSync(segment!, 'r+');
    writeSync(fd, bytes.subarray(ends[5]!), 0, bytes.length - ends[5]!, ends[4]! + gap);
    closeSync(fd);
    for (const readOnly of [true, false]) {
      await expect(open(path, { ...quiet(), readOnly })).rejects.toMatchObject({ code: 'CORRUPTION', offset: ends[4], file: segment!.replaceAll('\\', '/') });
    }
    expect(statSync(segment!).size).toBe(ends[4]! + gap + bytes.length - ends[5]!);
  });

  it('hardening A5: a wasm trap in the core is an InternalError, never a RuntimeError', async () => {
    const real = await init();
    const exports = { ...real.exports };
    const core = new Core({
      ...exports,
      reel_crc32c: () => {
        throw new WebAssembly.RuntimeError('unreachable');
      },
    });
    let caught: unknown;
    try {
      core.crc32c(new Uint8Array(8));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InternalError);
    expect(caught).toMatchObject({ code: 'INTERNAL', operation: 'reel_crc32c' });
    expect((caught as Error).cause).toBeInstanceOf(WebAssembly.RuntimeError);
  });
});
