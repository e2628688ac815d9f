// The cost the primitive registry adds to event appends and to open (issue 9: goal ≤ 5 %).
// Runs the same workloads, interleaved, against this checkout's build and a baseline build of
// the same code before the registry (a git worktree's js/dist, REELDB_BASELINE=<path of its
// root>), in one process each round, and reports medians and ratios.
//
//   node bench/registry-cost.mjs            (REELDB_BASELINE defaults to /work/wt/baseline)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { rootDirectory } from './lib.mjs';

const baselineRoot = process.env.REELDB_BASELINE ?? '/work/wt/baseline';
const rounds = Number(process.env.REELDB_ROUNDS ?? 7);
const appends = Number(process.env.REELDB_APPENDS ?? 20000);
const openEvents = Number(process.env.REELDB_OPEN_EVENTS ?? 200000);

const builds = {
  registry: await import(pathToFileURL(path.join(rootDirectory, 'js/dist/index.node.js')).href),
  baseline: await import(pathToFileURL(path.join(baselineRoot, 'js/dist/index.node.js')).href),
};
const data = { tool: 'search', query: 'x'.repeat(200), step: 1, tags: ['a', 'b'] };

async function appendLoop(reeldb, durability, dir) {
  const db = await reeldb.open(durability === 'memory' ? 'mem' : path.join(dir, `a-${durability}`), { durability, onWarning() {} });
  const start = performance.now();
  for (let index = 0; index < appends; index++) await db.events.append('run', [{ type: 'step', data }]);
  const elapsed = performance.now() - start;
  await db.close();
  return (elapsed * 1000) / appends; // µs per append
}

async function prepareStore(reeldb, dir) {
  const db = await reeldb.open(dir, { durability: 'buffered', snapshotBytes: 0, onWarning() {} });
  const batch = Array.from({ length: 1000 }, () => ({ type: 'step', data }));
  for (let index = 0; index < openEvents / 1000; index++) await db.events.append(`s${index % 50}`, batch);
  await db.close();
}

async function openOnce(reeldb, dir, ignoreSnapshots) {
  const start = performance.now();
  const db = await reeldb.open(dir, { ignoreSnapshots, readOnly: true, onWarning() {} });
  const elapsed = performance.now() - start;
  await db.close();
  return elapsed;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'reeldb-registry-cost-'));
try {
  // One store per build, written by that build (the format is the same).
  const stores = {};
  for (const [name, reeldb] of Object.entries(builds)) {
    stores[name] = path.join(root, `open-${name}`);
    await prepareStore(reeldb, stores[name]);
  }
  const samples = {};
  const take = (key, value) => (samples[key] ??= []).push(value);
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 ? ['registry', 'baseline'] : ['baseline', 'registry']) {
      const reeldb = builds[name];
      const dir = fs.mkdtempSync(path.join(root, 'round-'));
      take(`${name} append memory µs`, await appendLoop(reeldb, 'memory', dir));
      take(`${name} append buffered µs`, await appendLoop(reeldb, 'buffered', dir));
      take(`${name} open full scan ms`, await openOnce(reeldb, stores[name], true));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const rows = [];
  for (const measure of ['append memory µs', 'append buffered µs', 'open full scan ms']) {
    const base = median(samples[`baseline ${measure}`]);
    const now = median(samples[`registry ${measure}`]);
    rows.push({ measure, baseline: +base.toFixed(2), registry: +now.toFixed(2), ratio: +(now / base).toFixed(3) });
  }
  console.log(`registry cost, ${rounds} interleaved rounds, ${appends} single-event appends, open of ${openEvents} events (${process.version})`);
  console.table(rows);
  console.log(JSON.stringify(rows));
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
