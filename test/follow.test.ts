/**
 * Read-only followers (issue 8, B19): a writer in a child process (test/fixtures/follow-writer.mjs,
 * driven over stdin), a read-only store in this process that follows it: appends, checkpoints,
 * segment rolls, prunes, subscribe, refresh(), stats().follow, and a writer killed in the middle
 * of a frame. Every wait has a deadline, so a reader that stops following fails fast.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asIfCrashed, quiet, reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const root = new URL('..', import.meta.url).pathname;
const fixture = join(root, 'test/fixtures/follow-writer.mjs');
const DEADLINE_MS = 10_000;

interface Writer {
  send(command: Record<string, unknown>): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Starts the writer process on `path` and waits until it has the store open. */
async function startWriter(path: string, segmentBytes = 1 << 20): Promise<Writer> {
  const child = spawn('node', [fixture, path, String(segmentBytes)], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the writer did not answer within ${DEADLINE_MS} ms; stderr: ${stderr}`)), DEADLINE_MS));
    const line = await Promise.race([lines.next(), timeout]);
    if (line.done) throw new Error(`the writer exited; stderr: ${stderr}`);
    const reply = JSON.parse(line.value) as Record<string, unknown>;
    if (reply.ok === false) throw new Error(`the writer failed: ${String(reply.error)}`);
    return reply;
  };
  await next();
  return {
    send: (command) => {
      child.stdin.write(`${JSON.stringify(command)}\n`);
      return next();
    },
    kill: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** Waits until `check` holds, or fails after the deadline saying what was awaited. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > DEADLINE_MS) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A store with one event, so the reader has something to open. */
async function seed(path: string): Promise<void> {
  const db = await reeldb.open(path);
  await db.events.append('seed', [{ type: 'seed', data: 0 }]);
  await db.close();
}

describe(`read-only followers on ${runtime}`, () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'js/dist/index.node.js'))) throw new Error("the writer runs the built package: run 'npm run build' first (npm test does)");
  });

  it('hardening B19: a reader follows appends and checkpoints of a writer in another process, and stats() shows how far', { timeout: 60_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 20, ...quiet() });
    expect(reader.stats().follow).toMatchObject({ position: 1 });
    await writer.send({ op: 'append', stream: 'run', count: 3 });
    await until('the reader to see 3 events of run', () => reader.events.streamVersion('run') === 2);
    expect((await reader.events.readStream('run')).map((event) => (event.data as { index: number }).index)).toEqual([0, 1, 2]);
    await writer.send({ op: 'checkpoint', thread: 'agent', state: { step: 1 } });
    await writer.send({ op: 'checkpoint', thread: 'agent', state: { step: 2, notes: 'n'.repeat(500) } });
    await until('the reader to see two checkpoints', () => reader.checkpoints.count('agent') === 2);
    expect((await reader.checkpoints.load('agent'))?.state).toEqual({ step: 2, notes: 'n'.repeat(500) });
    const follow = reader.stats().follow!;
    expect(follow.position).toBe(6);
    expect(follow.lastRefreshAt).toBeGreaterThan(0);
    expect(follow.refreshes).toBeGreaterThan(0);
    expect(reader.stats().entries).toBe(6);
    await expect(reader.events.append('x', [{ type: 't', data: 1 }])).rejects.toMatchObject({ code: expect.any(String) });
    await writer.send({ op: 'close' });
    await reader.close();
  });

  it('hardening B19 (trial): a stream deleted by the writer leaves the reader\'s readAll and replay too, after the reader had read it', { timeout: 60_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 0, ...quiet() });
    await writer.send({ op: 'append', stream: 'gone', count: 2 });
    await writer.send({ op: 'append', stream: 'kept', count: 1 });
    await reader.refresh();
    // Reads before the delete (they once settled that the log held no dead events).
    expect((await reader.events.readAll()).map((event) => event.stream)).toContain('gone');
    expect((await writer.send({ op: 'deleteStream', stream: 'gone' })).deleted).toBe(2);
    await reader.refresh();
    expect((await reader.events.readAll()).map((event) => event.stream)).not.toContain('gone');
    const replayed: string[] = [];
    for await (const event of reader.events.replay()) replayed.push(event.stream);
    expect(replayed).not.toContain('gone');
    expect(replayed).toContain('kept');
    await writer.send({ op: 'close' });
    await reader.close();
  });

  it('hardening B19: where the host watches files, new commits appear without waiting for the poll', { timeout: 60_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path);
    // A poll every hour: only the file watcher (fs.watch, Deno.watchFs) can bring the commits.
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 3_600_000, ...quiet() });
    expect(reader.stats().follow!.watching).toBe(true);
    await writer.send({ op: 'append', stream: 'watched', count: 2 });
    await until('the watcher to bring the commits', () => reader.events.streamVersion('watched') === 1);
    await writer.send({ op: 'close' });
    await reader.close();
  });

  it('hardening B19: subscribe on a reader delivers commits written by another process', { timeout: 60_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 20, ...quiet() });
    const subscription = reader.events.subscribe({ fromPosition: 1 });
    const seen: string[] = [];
    const consumed = (async () => {
      for await (const event of subscription) {
        seen.push(`${event.stream}:${event.streamVersion}`);
        if (seen.length === 5) break;
      }
    })();
    await writer.send({ op: 'append', stream: 'a', count: 2 });
    await writer.send({ op: 'append', stream: 'b', count: 3 });
    await Promise.race([consumed, new Promise((_, reject) => setTimeout(() => reject(new Error(`subscription saw only ${seen.join(' ')}`)), DEADLINE_MS))]);
    expect(seen).toEqual(['a:0', 'a:1', 'b:0', 'b:1', 'b:2']);
    await writer.send({ op: 'close' });
    await reader.close();
  });

  it('hardening B19: with followIntervalMs 0, new commits appear on await db.refresh()', { timeout: 60_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 0, ...quiet() });
    await writer.send({ op: 'append', stream: 'run', count: 4 });
    // Nothing follows in the background: the reader is where it opened until it refreshes.
    expect(reader.events.streamVersion('run')).toBeUndefined();
    await reader.refresh();
    expect(reader.events.streamVersion('run')).toBe(3);
    expect(reader.stats().follow?.position).toBe(5);
    await writer.send({ op: 'close' });
    await reader.close();
    // On a writer, refresh has nothing to do.
    const db = await reeldb.open(path);
    await db.refresh();
    expect(db.stats().follow).toBeUndefined();
    await db.close();
  });

  it('hardening B19: a reader survives segment rolls and a prune that rewrites segments (removed events disappear)', { timeout: 90_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path, 1024);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 0, ...quiet() });
    for (let round = 0; round < 12; round++) await writer.send({ op: 'append', stream: 'run', count: 3 });
    await reader.refresh();
    expect(reader.stats().segments.length).toBeGreaterThan(3);
    expect(reader.events.streamVersion('run')).toBe(35);
    const before = reader.stats().segments.map((segment) => segment.bytes);
    const { segmentsRewritten } = await writer.send({ op: 'prune', beforePosition: 30 });
    expect(segmentsRewritten).toBeGreaterThan(0);
    await writer.send({ op: 'append', stream: 'run', count: 2 });
    await reader.refresh();
    const events = await reader.events.readStream('run');
    // Positions 1..29 were pruned: run keeps the events from position 30 on (version 29), plus the two new ones.
    expect(events[0]!.position).toBe(30);
    expect(events.map((event) => event.streamVersion)).toEqual(Array.from({ length: 9 }, (_, index) => 29 + index));
    // The prune's cut record takes a position of its own (after 36), so the two new events come after it.
    const positions = events.map((event) => event.position);
    expect(positions.slice(0, 7)).toEqual(Array.from({ length: 7 }, (_, index) => 30 + index));
    expect(positions[7]).toBeGreaterThan(37);
    expect((await reader.events.readAll()).map((event) => event.position)).toEqual([0, ...positions]);
    expect(reader.stats().segments.map((segment) => segment.bytes).slice(0, 2)).not.toEqual(before.slice(0, 2));
    await writer.send({ op: 'close' });
    await reader.close();
  });

  it('hardening B19: while a writer appends, rolls and prunes, every read of the reader is consistent, and it ends equal to a fresh open', { timeout: 120_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path, 1024);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 5, ...quiet() });
    let writing = true;
    const work = (async () => {
      for (let round = 0; round < 40; round++) {
        await writer.send({ op: 'append', stream: `s${round % 3}`, count: 1 + (round % 4) });
        if (round % 13 === 12) await writer.send({ op: 'prune', beforePosition: round * 2 });
      }
      writing = false;
    })();
    let checks = 0;
    while (writing) {
      // A reader's view: per stream, contiguous versions in position order, never past the head.
      const all = await reader.events.readAll();
      const versions = new Map<string, number>();
      for (const event of all) {
        const last = versions.get(event.stream);
        if (last !== undefined && event.streamVersion !== last + 1) throw new Error(`stream ${event.stream} jumps from ${last} to ${event.streamVersion}`);
        versions.set(event.stream, event.streamVersion);
      }
      expect(all.every((event) => event.position <= reader.events.headPosition)).toBe(true);
      checks++;
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await work;
    await writer.send({ op: 'close' });
    await reader.refresh();
    const fresh = await reeldb.open(path, { readOnly: true, followIntervalMs: 0 });
    const summary = async (db: Awaited<ReturnType<typeof reeldb.open>>) => JSON.stringify([(await db.events.readAll()).map((event) => [event.position, event.stream, event.streamVersion, event.id]), db.events.headPosition, db.stats().segments]);
    expect(await summary(reader)).toBe(await summary(fresh));
    expect(checks).toBeGreaterThan(0);
    await fresh.close();
    await reader.close();
  });

  it('hardening B19: a reader that opened between a roll and its seal picks up the seal, then the next segment', { timeout: 60_000 }, async () => {
    // The files as a writer leaves them at each step of a roll, replayed under a reader.
    const path = storePath();
    const db = await reeldb.open(path, { segmentBytes: 1024 });
    while (db.stats().segments.length < 2) {
      await db.events.append('run', [{ type: 'step', data: 'y'.repeat(100) }]);
      await db.sync();
    }
    const head = db.events.streamVersion('run')!;
    await db.events.append('run', [{ type: 'step', data: 'after the roll' }]);
    await db.close();
    await asIfCrashed(path);
    const [old, next] = segmentPaths(path);
    const oldBytes = readFileSync(old!);
    const nextBytes = readFileSync(next!);
    // The next segment exists (empty) and the old one is not sealed yet.
    writeFileSync(old!, oldBytes.subarray(0, oldBytes.length - 40));
    writeFileSync(next!, nextBytes.subarray(0, 48));
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 0, ...quiet() });
    expect(reader.events.streamVersion('run')).toBe(head);
    // The seal arrives, then the first frame of the next segment (chained from the seal).
    writeFileSync(old!, oldBytes);
    await reader.refresh();
    writeFileSync(next!, nextBytes);
    await reader.refresh();
    expect(reader.events.streamVersion('run')).toBe(head + 1);
    expect((await reader.events.readStream('run', { fromVersion: head + 1 }))[0]!.data).toBe('after the roll');
    await reader.close();
  });

  it('hardening B19: a reader also follows a writer that does not seal its segments (an older reeldb)', { timeout: 60_000 }, async () => {
    const path = storePath();
    const db = await reeldb.open(path, { segmentBytes: 1024 });
    // Rolls as a writer before seal frames did: only the next segment is created.
    const log = db.log as unknown as { roll(): Promise<unknown>; createSegment(position: number): Promise<unknown>; nextPosition: number };
    log.roll = () => log.createSegment(log.nextPosition);
    await db.events.append('run', [{ type: 'step', data: 0 }]);
    await db.sync();
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 0, ...quiet() });
    for (let index = 1; index < 40; index++) await db.events.append('run', [{ type: 'step', data: index }]);
    await db.sync();
    expect(db.stats().segments.length).toBeGreaterThan(3);
    await reader.refresh();
    // It moves to the next segment once that one holds a frame (it cannot know a seal is not coming).
    expect(reader.stats().entries).toBe(db.stats().entries);
    expect(reader.stats().segments.length).toBeGreaterThan(3);
    expect((await reader.events.readStream('run')).map((event) => event.data)).toEqual(Array.from({ length: 40 }, (_, index) => index));
    await reader.close();
    await db.close();
  });

  it('hardening B19: a writer killed in the middle of a frame leaves the reader consistent, and it follows the next writer', { timeout: 90_000 }, async () => {
    const path = storePath();
    await seed(path);
    const writer = await startWriter(path);
    const reader = await reeldb.open(path, { readOnly: true, followIntervalMs: 20, ...quiet() });
    await writer.send({ op: 'append', stream: 'run', count: 3 });
    await writer.send({ op: 'tear' });
    await writer.kill();
    await reader.refresh();
    expect(reader.events.streamVersion('run')).toBe(2);
    expect(reader.stats().follow!.pendingBytes).toBeGreaterThan(0);
    expect((await reader.events.readAll()).length).toBe(4);
    // The next writer truncates the torn frame and appends where it was.
    const next = await startWriter(path);
    await next.send({ op: 'append', stream: 'run', count: 2 });
    await until('the reader to see the next writer', () => reader.events.streamVersion('run') === 4);
    expect(reader.stats().follow!.pendingBytes).toBe(0);
    expect((await reader.events.readStream('run')).map((event) => event.streamVersion)).toEqual([0, 1, 2, 3, 4]);
    await next.send({ op: 'close' });
    await reader.close();
  });
});
