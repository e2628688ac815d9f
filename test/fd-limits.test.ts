/**
 * File descriptors (issue 8, A6): open read handles are a bounded cache (`maxOpenSegments`), so a
 * store of any number of segments opens and reads within a small descriptor limit; a prune on
 * every step does not seal a new segment each time; EMFILE is a typed error. Descriptors are
 * counted in /proc/self/fd (Linux); the limit is set with `ulimit -n` in a child process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quiet, reeldb, runtime, segmentPaths, storePath, fixtureCommand } from './helpers.js';

const { open } = reeldb;
const linux = existsSync('/proc/self/fd');

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

async function build(path: string, segments: number): Promise<number> {
  const db = await open(path, { ...quiet(), segmentBytes: 1024, snapshotBytes: 0 });
  let events = 0;
  while (db.stats().segments.length < segments) {
    await db.events.append(`s${events % 5}`, [{ type: 'step', data: { events, text: 'x'.repeat(300) } }]);
    events++;
  }
  await db.close();
  return events;
}

/**
 * Opens the store (read-only) in a child process under `ulimit -n limit`, optionally using up
 * descriptors first until `free` are left; a hang fails after 60 s.
 */
function openUnderLimit(path: string, limit: number, maxOpenSegments?: number, free?: number): { opened: boolean; events?: number; code?: string; errno?: string; message?: string } {
  const command = [...fixtureCommand('open-outcome.mjs'), path, 'read', maxOpenSegments ? String(maxOpenSegments) : '', ...(free !== undefined ? [String(free)] : [])].map((part) => `'${part}'`).join(' ');
  const result = spawnSync('bash', ['-c', `ulimit -n ${limit} && exec ${command}`], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`the child did not finish: ${result.error.message}`);
  const last = result.stdout.trim().split('\n').pop();
  if (!last) throw new Error(`the child printed nothing: ${result.stderr}`);
  return JSON.parse(last);
}

describe.runIf(linux)(`file descriptors on ${runtime}`, () => {
  it('hardening A6: reading a store of many segments keeps open descriptors within maxOpenSegments plus a few', { timeout: 120_000 }, async () => {
    const path = storePath();
    const events = await build(path, 120);
    expect(segmentPaths(path).length).toBeGreaterThanOrEqual(120);
    for (const maxOpenSegments of [8, undefined]) {
      const before = openDescriptors();
      const db = await open(path, { ...quiet(), maxOpenSegments });
      expect(openDescriptors() - before).toBeLessThanOrEqual((maxOpenSegments ?? 64) + 4);
      expect((await db.events.readAll()).filter((event) => event.stream.startsWith('s')).length).toBe(events);
      // Reads all over the log, newest and oldest streams alike.
      for (let stream = 0; stream < 5; stream++) expect((await db.events.readStream(`s${stream}`)).length).toBe(Math.ceil((events - stream) / 5));
      expect(openDescriptors() - before).toBeLessThanOrEqual((maxOpenSegments ?? 64) + 4);
      // Writes go on (the current segment's handle is not part of the cache).
      await db.events.append(`after-${maxOpenSegments}`, [{ type: 'after', data: {} }]);
      await db.close();
      expect(openDescriptors()).toBeLessThanOrEqual(before);
    }
  });

  it('hardening A6: a store of 200 segments opens and reads under ulimit -n 64, with the default cache and a small one', { timeout: 120_000 }, async () => {
    const path = storePath();
    const events = await build(path, 200);
    // The default (64 handles) does not fit beside the runtime's own descriptors: the cache shrinks when the process runs out.
    expect(openUnderLimit(path, 64)).toMatchObject({ opened: true, events });
    expect(openUnderLimit(path, 64, 16)).toMatchObject({ opened: true, events });
  });

  it('hardening A6: running out of descriptors (EMFILE) is a typed IOError; with a few left the store still reads everything', { timeout: 120_000 }, async () => {
    const path = storePath();
    const events = await build(path, 200);
    // One descriptor left (or none, if the runtime takes it): no sealed segment can be opened beside the last one.
    const outcome = openUnderLimit(path, 256, undefined, 1);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ opened: false, code: 'IO_ERROR', errno: 'EMFILE' });
    expect(outcome.message).toMatch(/too many open files/);
    expect(outcome.message).toContain(path);
    // A few left (the runtime may take one or two itself): the cache shrinks to what there is.
    expect(openUnderLimit(path, 256, undefined, 4)).toMatchObject({ opened: true, events });
  });

  it('hardening A6: a read-only store that reopens a segment file the writer rewrote since gets a typed ESTALE error, never other bytes', { timeout: 120_000 }, async () => {
    const path = storePath();
    const events = await build(path, 30);
    const reader = await open(path, { ...quiet(), readOnly: true, maxOpenSegments: 1 });
    const writer = await open(path, quiet());
    const result = await writer.prune({ events: { beforePosition: events } });
    expect(result.segmentsRewritten).toBeGreaterThan(2);
    // The reader holds one sealed file at most: reading from the start reopens rewritten ones.
    const outcome = await reader.events.readAll().then(
      (all) => ({ all }),
      (error: unknown) => ({ error }),
    );
    if ('all' in outcome) expect(outcome.all.length).toBe(events);
    else expect(outcome.error).toMatchObject({ code: 'IO_ERROR', errno: 'ESTALE' });
    expect('error' in outcome).toBe(true);
    await reader.close();
    await writer.close();
  });

  it('hardening A6: a prune on every step does not seal a nearly empty segment each time', { timeout: 120_000 }, async () => {
    const path = storePath();
    const db = await open(path, { ...quiet(), snapshotBytes: 0 });
    for (let step = 0; step < 300; step++) {
      await db.events.append('run', [{ type: 'step', data: { step, text: 'x'.repeat(200) } }]);
      await db.checkpoints.save('agent', { step, notes: Array.from({ length: 20 }, (_, index) => `note ${index} at ${step}`) });
      await db.prune({ checkpoints: { keepLast: 3 } });
    }
    // Each prune used to seal the segment it had started, for one small checkpoint: ~75 segments here.
    expect(db.stats().segments.length).toBeLessThanOrEqual(8);
    // What a prune left beyond the newest 3 waits in the current segment, for a prune once it is worth sealing.
    const current = db.stats().segments.at(-1)!.firstPosition;
    const kept = await db.checkpoints.list('agent', { limit: 1000 });
    expect(kept.slice(3).every((info) => info.position >= current)).toBe(true);
    expect((await db.checkpoints.load('agent'))!.state).toMatchObject({ step: 299 });
    await db.close();
  });
});
