/**
 * Kills aimed at prunes with long delta chains (issue 8 A2), with real processes: a writer of
 * this pass's runtime (test/fixtures/kill-pruner.mjs) saves checkpoints to two threads and
 * prunes them every few saves over many small segments; it is SIGKILLed at a random moment.
 * After each kill every checkpoint `list()` shows must load to exactly what was saved,
 * `checkpoints.verify()` must find nothing, and the newest acknowledged save must be there.
 * The store is reused across kills.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reeldb, runtime, storePath } from './helpers.js';

const root = new URL('..', import.meta.url).pathname;
const fixture = join(root, 'test/fixtures/kill-pruner.mjs');
const commands: Record<typeof runtime, string[]> = {
  node: ['node', fixture],
  deno: [join(root, 'node_modules/.bin/deno'), 'run', '-A', fixture],
  bun: [join(root, 'node_modules/.bin/bun'), fixture],
};
const KILLS = Math.max(2, Math.ceil(Number(process.env.REELDB_KILLS ?? 44) / 4));
/** A pruner that has not started a prune by then is broken, not slow. */
const FIRST_ACK_TIMEOUT_MS = 30_000;

/** Identical to kill-pruner.mjs. */
function stateOf(thread: string, seq: number) {
  return { thread, seq, items: Array.from({ length: seq % 200 }, (_, index) => `generation ${Math.floor(seq / 40)} item ${index} ${'w'.repeat(20)}`) };
}

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs the pruner until `delay` ms after its first prune starts, then SIGKILLs it; the newest seq acknowledged per thread. */
function runPruner(path: string, delay: number): Promise<{ acked: Map<string, number>; errors: string; inPrune: boolean }> {
  const [command, ...args] = commands[runtime];
  const child = spawn(command!, [...args, path], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const acked = new Map<string, number>();
  let errors = '';
  let inPrune = false;
  let pending = '';
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const firstAckTimer = setTimeout(() => child.kill('SIGKILL'), FIRST_ACK_TIMEOUT_MS);
  child.stderr!.on('data', (chunk) => (errors += chunk));
  child.stdout!.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const message = JSON.parse(line);
      if (message.error) errors += message.error;
      else if (message.prune) inPrune = message.prune === 'start';
      else acked.set(message.thread, message.seq);
      if (!killTimer && message.prune === 'start') {
        clearTimeout(firstAckTimer);
        killTimer = setTimeout(() => child.kill('SIGKILL'), delay);
      }
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => {
      running.delete(child);
      clearTimeout(firstAckTimer);
      clearTimeout(killTimer);
      resolve({ acked, errors, inPrune });
    });
  });
}

describe(`kills during prunes on ${runtime}`, () => {
  it('hardening A2: SIGKILL at random moments of saves and prunes over many segments: every listed checkpoint loads, verify finds nothing', { timeout: 600_000 }, async () => {
    const path = storePath();
    let random = 12345;
    const next = () => ((random = (Math.imul(random, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const newest = new Map<string, number>();
    let loaded = 0;
    let inPrunes = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const { acked, errors, inPrune } = await runPruner(path, Math.floor(next() * 120));
      expect(errors).toBe('');
      if (inPrune) inPrunes++;
      for (const [thread, seq] of acked) newest.set(thread, seq);
      const db = await reeldb.open(path, { onWarning: () => {} });
      for (const [thread, seq] of newest) {
        const infos = await db.checkpoints.list(thread, { limit: 10_000 });
        // The newest acknowledged save is there (a later unacknowledged one may be too).
        expect(infos[0]!.seq, `kill ${kill}: ${thread}`).toBeGreaterThanOrEqual(seq);
        for (const info of infos) {
          const got = await db.checkpoints.load(thread, { id: info.id });
          expect(got?.state, `kill ${kill}: ${thread} seq ${info.seq}`).toEqual(stateOf(thread, info.seq));
          loaded++;
        }
      }
      expect((await db.checkpoints.verify()).problems, `kill ${kill}`).toEqual([]);
      await db.close();
    }
    console.log(`kills during prunes (${runtime}): ${KILLS} kills (${inPrunes} inside a prune), ${loaded} listed checkpoints loaded, every one its saved state`);
  });
});
