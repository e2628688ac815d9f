/**
 * Binary-identical stores across runtimes (issue 9 §6): the same workload over every built-in
 * primitive, with the clock and randomness made deterministic, writes the same bytes in every
 * file on Node, Deno and Bun.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fixtureCommand, runtime, temporaryDirectory } from './helpers.js';

function record(on: string): Record<string, string> {
  const store = join(temporaryDirectory(), 'store.reel');
  const [command, ...args] = fixtureCommand('deterministic-store.mjs', on);
  const result = spawnSync(command!, [...args, store], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${on}: exit ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Record<string, string>;
}

describe('stores across runtimes', () => {
  it.runIf(runtime === 'node')('Node, Deno and Bun write byte-identical stores with every primitive', () => {
    const node = record('node');
    expect(Object.keys(node).some((name) => name.endsWith('.seg'))).toBe(true);
    expect(Object.keys(node).some((name) => name.endsWith('.snap'))).toBe(true);
    // The same runtime twice: the workload is deterministic.
    expect(record('node')).toEqual(node);
    expect(record('deno')).toEqual(node);
    expect(record('bun')).toEqual(node);
  }, 120_000);
});
