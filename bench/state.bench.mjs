// State-cell contention benchmark (issue 9): `loops` concurrent `transition` loops on one cell,
// each adding 1 `increments` times, in memory and buffered durability; beside it the same
// number of increments by one loop (no contention) and by `set` (no read, no check). Counts
// every attempt (a transition that lost the race reads again and retries) and checks that the
// final value is exactly the number of increments: every increment counted once.
//   node bench/state.bench.mjs [--quick] [--loops 64] [--increments 100] [--reps 5]
import * as path from 'node:path';
import { loadReeldb, median, now, removePath, round, runtimeVersion, tempPath } from './lib.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const quick = args.includes('--quick');
const LOOPS = flag('--loops', 64);
const INCREMENTS = flag('--increments', quick ? 20 : 100);
const REPS = flag('--reps', quick ? 2 : 5);

const reeldb = await loadReeldb();

async function openStore(durability) {
  if (durability === 'memory') return { db: await reeldb.open(`/bench-state-${Math.random()}.reel`, { durability }), done: () => undefined };
  const directory = tempPath(`state-${durability}`);
  const db = await reeldb.open(path.join(directory, 'bench.reel'), { durability });
  return { db, done: () => removePath(directory) };
}

/** `loops` loops, each `increments` transitions +1 on one cell; returns ms, attempts, final value. */
async function contended(durability, loops, increments) {
  const { db, done } = await openStore(durability);
  await db.state.init('counter', 0);
  let attempts = 0;
  const retries = loops * 2; // enough: each round, one of the pending loops wins
  const start = now();
  await Promise.all(
    Array.from({ length: loops }, async () => {
      for (let index = 0; index < increments; index++) {
        await db.state.transition('counter', (value) => (attempts++, value + 1), { retries });
      }
    }),
  );
  const ms = now() - start;
  const final = (await db.state.get('counter')).value;
  const entries = db.stats().entries;
  await db.close();
  done();
  const expected = loops * increments;
  if (final !== expected || entries !== expected + 1) throw new Error(`lost or doubled increments: final ${final}, entries ${entries}, expected ${expected}`);
  return { ms, attempts, final };
}

/** The same number of writes by `set` from one loop: the cost of a write without a read or a check. */
async function plainSets(durability, count) {
  const { db, done } = await openStore(durability);
  const start = now();
  for (let index = 0; index < count; index++) await db.state.set('counter', index + 1);
  const ms = now() - start;
  const final = (await db.state.get('counter')).value;
  await db.close();
  done();
  if (final !== count) throw new Error(`set: final ${final}, expected ${count}`);
  return { ms, attempts: count, final };
}

const rows = [];
for (const durability of ['memory', 'buffered']) {
  const total = LOOPS * INCREMENTS;
  const cases = [
    { name: `${LOOPS} concurrent transition loops`, run: () => contended(durability, LOOPS, INCREMENTS) },
    { name: '1 transition loop', run: () => contended(durability, 1, total) },
    { name: '1 set loop', run: () => plainSets(durability, total) },
  ];
  for (const { name, run } of cases) {
    await run(); // warm-up
    const results = [];
    for (let rep = 0; rep < REPS; rep++) results.push(await run());
    const ms = median(results.map((result) => result.ms));
    const attempts = median(results.map((result) => result.attempts));
    rows.push({ durability, name, increments: total, ms: round(ms, 1), opsPerSecond: Math.round(total / (ms / 1000)), attemptsPerIncrement: round(attempts / total, 1), everyIncrementOnce: results.every((result) => result.final === total) });
  }
}

console.log(`state cells: ${LOOPS} loops × ${INCREMENTS} increments, median of ${REPS} (${runtimeVersion()})`);
console.log('| durability | workload | increments | ms | increments/s | attempts per increment | every increment counted once |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.durability} | ${row.name} | ${row.increments.toLocaleString('en-US')} | ${row.ms} | ${row.opsPerSecond.toLocaleString('en-US')} | ${row.attemptsPerIncrement} | ${row.everyIncrementOnce ? 'yes' : 'NO'} |`);
