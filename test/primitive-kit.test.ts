/**
 * The primitive test kit (test/kit/kit.ts) on every workload under test/kit/*.workload.ts:
 * model, snapshot + tail, crash, prune, damage and bad input for each primitive, built-in or
 * extension, on the runtime running the suite. Every built-in primitive must have a workload.
 * REELDB_KIT_ONLY=<name>[,<name>] runs only those workloads.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PRIMITIVES } from '../js/src/index.node.js';
import { definePrimitiveKit } from './kit/kit.js';
import type { Workload } from './kit/workload.js';

const directory = new URL('./kit/', import.meta.url);
const files = readdirSync(directory)
  .filter((name) => name.endsWith('.workload.ts'))
  .sort();
const workloads: Workload[] = [];
const skipped: string[] = [];
for (const file of files) {
  const module = (await import(new URL(file, directory).href)) as { default?: Workload | Promise<Workload | undefined>; skipped?: string };
  const workload = await module.default;
  if (workload) workloads.push(workload as Workload);
  else skipped.push(`${file}: ${module.skipped ?? 'no workload'}`);
}

describe('primitive kit', () => {
  it('every built-in primitive has a workload (add test/kit/<name>.workload.ts to join the kit)', () => {
    const covered = new Set(workloads.map((workload) => workload.name));
    expect(BUILTIN_PRIMITIVES.map((spec) => spec.name).filter((name) => !covered.has(name))).toEqual([]);
    expect(workloads.some((workload) => workload.open?.primitives?.length)).toBe(true);
    if (skipped.length) console.log(`primitive kit: skipped ${skipped.join('; ')}`);
  });
});

const only = process.env.REELDB_KIT_ONLY?.split(',');
for (const workload of workloads) if (!only || only.includes(workload.name)) definePrimitiveKit(workload);
