// Runs benchmark: `db.runs.query` over a store of 100,000 runs against the same queries over a
// store of 1,000 runs (goal of issue 9: O(limit), the large store within 2× of the small one).
// Both stores are built the same way (memory durability, so the disk plays no part): runs with
// one of 8 names and 2 of 16 tags, a quarter still running, the rest ended; each query is then
// timed many times, interleaved between the two stores so a drift in the machine hits both
// alike. Every query returns whole runs (values read from their records), 20 per page.
// Also reports how long building the index took (runs begun per second) and a reopen of each
// store from a full scan and from a snapshot. Writes the table between the runs markers of
// bench/RESULTS.md.
//   node bench/runs.bench.mjs [--quick]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { benchDirectory, collectGarbage, latencySummary, loadReeldb, now, pause, removePath, round, runtime, runtimeVersion, tempPath, waitForQuiet } from './lib.mjs';

const quick = process.argv.includes('--quick');
const SIZES = quick ? [1_000, 10_000] : [1_000, 100_000];
const ROUNDS = quick ? 50 : 400;
const LIMIT = 20;
const NAMES = ['planner', 'coder', 'reviewer', 'researcher', 'tester', 'writer', 'critic', 'router'];
const TAGS = Array.from({ length: 16 }, (_, index) => `tag-${index}`);

const reeldb = await loadReeldb();

async function build(size) {
  const directory = tempPath(`runs-${size}`);
  const file = path.join(directory, 'store.reel');
  const db = await reeldb.open(file, { durability: 'buffered', snapshotBytes: 0 });
  const started = now();
  const BATCH = 500;
  for (let from = 0; from < size; from += BATCH) {
    const begun = [];
    for (let index = from; index < Math.min(size, from + BATCH); index++) {
      begun.push(db.runs.begin({ name: NAMES[index % NAMES.length], tags: [TAGS[index % 16], TAGS[(index * 7 + 3) % 16]], input: { task: `task ${index}`, budget: index % 100 } }));
    }
    const runs = await Promise.all(begun);
    await Promise.all(runs.map((run, offset) => ((from + offset) % 4 === 0 ? undefined : run.end({ status: (from + offset) % 9 === 0 ? 'failed' : 'succeeded', output: { answer: from + offset } }))));
  }
  const buildMs = now() - started;
  return { db, file, directory, buildMs };
}

/** The queries timed; `cursor` pages are taken three pages deep. */
function queries(middle) {
  return [
    { label: 'newest 20 (no filter)', options: { limit: LIMIT } },
    { label: "status 'running'", options: { status: 'running', limit: LIMIT } },
    { label: "status 'succeeded' + name", options: { status: 'succeeded', name: 'router', limit: LIMIT } },
    { label: 'tag', options: { tag: 'tag-5', limit: LIMIT } },
    { label: 'startedBefore (middle of the store)', options: { startedBefore: middle, limit: LIMIT } },
    { label: 'page 3 (cursor)', pages: 3, options: { limit: LIMIT } },
  ];
}

async function timeQuery(db, query) {
  const started = now();
  let options = query.options;
  let page;
  for (let index = 0; index < (query.pages ?? 1); index++) {
    page = await db.runs.query(options);
    options = { ...query.options, cursor: page.cursor };
  }
  const elapsed = now() - started;
  if (page.runs.length !== LIMIT) throw new Error(`${query.label}: expected ${LIMIT} runs, got ${page.runs.length}`);
  return elapsed / (query.pages ?? 1);
}

async function reopen(file, ignoreSnapshots) {
  const started = now();
  const db = await reeldb.open(file, { durability: 'buffered', ignoreSnapshots });
  const ms = now() - started;
  const count = db.runs.count;
  await db.close();
  return { ms, count };
}

const quiet = await waitForQuiet();
const stores = [];
for (const size of SIZES) stores.push({ size, ...(await build(size)) });
const results = [];
for (const store of stores) {
  // The startedAt of the run in the middle of the store.
  const half = await store.db.runs.query({ limit: Math.floor(store.size / 2) });
  store.middle = half.runs[half.runs.length - 1].startedAt;
}
const querySets = stores.map((store) => queries(store.middle));
for (let index = 0; index < querySets[0].length; index++) {
  const samples = stores.map(() => []);
  // Warm up, then interleave.
  for (let round = 0; round < 20; round++) for (let at = 0; at < stores.length; at++) await timeQuery(stores[at].db, querySets[at][index]);
  collectGarbage();
  await pause(20);
  for (let round = 0; round < ROUNDS; round++) {
    for (let offset = 0; offset < stores.length; offset++) {
      const at = (round + offset) % stores.length;
      samples[at].push(await timeQuery(stores[at].db, querySets[at][index]));
    }
  }
  results.push({ label: querySets[0][index].label, summaries: samples.map((list) => latencySummary(list)) });
}
const opens = [];
for (const store of stores) {
  await store.db.snapshot();
  await store.db.close();
  opens.push({ size: store.size, scan: await reopen(store.file, true), snapshot: await reopen(store.file, false), buildMs: store.buildMs });
  removePath(store.directory);
}

const small = SIZES[0].toLocaleString('en-US');
const large = SIZES[SIZES.length - 1].toLocaleString('en-US');
const us = (value) => `${round(value, 1)} µs`;
const lines = [
  `Measured ${new Date().toISOString().slice(0, 10)} by \`node bench/runs.bench.mjs${quick ? ' --quick' : ''}\` on ${runtimeVersion()}; other processes used ${quiet.otherCores ?? '?'} cores when it started. Each query returns ${LIMIT} whole runs (values read from their records); ${ROUNDS} timed rounds per query, the two stores interleaved. Goal: the ${large}-run store within 2× of the ${small}-run store (O(limit)).`,
  '',
  `| query | ${small} runs p50 | ${small} runs p99 | ${large} runs p50 | ${large} runs p99 | ratio (p50) | goal ≤ 2× |`,
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...results.map(({ label, summaries }) => {
    const [a, b] = [summaries[0], summaries[summaries.length - 1]];
    const ratio = round(b.p50Us / a.p50Us, 2);
    return `| ${label} | ${us(a.p50Us)} | ${us(a.p99Us)} | ${us(b.p50Us)} | ${us(b.p99Us)} | ${ratio}× | ${ratio <= 2 ? '✅' : '❌'} |`;
  }),
  '',
  '| runs | built in (begin + end, batches of 500, buffered) | reopen, full scan | reopen, from a snapshot |',
  '| --- | --- | --- | --- |',
  ...opens.map((open) => `| ${open.size.toLocaleString('en-US')} | ${Math.round(open.buildMs)} ms (${Math.round(open.size / (open.buildMs / 1000)).toLocaleString('en-US')} runs/s) | ${round(open.scan.ms, 1)} ms | ${round(open.snapshot.ms, 1)} ms |`),
];
const table = lines.join('\n');
console.log(table);
if (!quick) {
  const resultsFile = path.join(benchDirectory, 'RESULTS.md');
  const text = fs.readFileSync(resultsFile, 'utf8');
  const begin = '<!-- runs:begin — generated by bench/runs.bench.mjs; edit outside these markers -->';
  const end = '<!-- runs:end -->';
  const block = `${begin}\n\n${table}\n\n${end}`;
  const next = text.includes(begin) ? text.replace(new RegExp(`${begin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n## Runs (${runtime})\n\n${block}\n`;
  fs.writeFileSync(resultsFile, next);
  console.log('\nwrote the runs section of bench/RESULTS.md');
}
