// One benchmark scenario alone, for a CPU profiler. Prints nothing but its rate.
//   node --cpu-prof --cpu-prof-dir=bench/tmp/prof bench/profile.mjs buffered
//   node bench/cpuprofile-summary.mjs bench/tmp/prof/*.cpuprofile
// Scenarios: strict, concurrent, buffered, replay, replay-raw, open (open expects a store built
// by `node bench/profile.mjs build-1m` first; it is left in bench/tmp/profile-1m.reel).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadReeldb, makeEvents, now, removePath, round, tmpRoot } from './lib.mjs';

const scenario = process.argv[2] ?? 'buffered';
const count = Number(process.argv[3] ?? 0);
const { open } = await loadReeldb();
const { events } = makeEvents(4096);
const eventAt = (i) => events[i & 4095];
fs.mkdirSync(tmpRoot, { recursive: true });
const storeOf = (name) => path.join(tmpRoot, `profile-${name}.reel`);

async function build(directory, total, streams) {
  removePath(directory);
  const db = await open(directory, { durability: 'buffered' });
  for (let base = 0; base < total; base += 1024) {
    const pending = [];
    for (let i = base; i < Math.min(total, base + 1024); i++) pending.push(db.events.append(`run-${i % streams}`, [eventAt(i)]));
    await Promise.all(pending);
  }
  await db.close();
}

const report = (label, events, ms) => console.log(`${scenario}: ${label} ${Math.round(events / (ms / 1000)).toLocaleString('en-US')} events/s (${round(ms, 1)} ms)`);

if (scenario === 'buffered' || scenario === 'strict' || scenario === 'memory') {
  const total = count || (scenario === 'strict' ? 5000 : 300_000);
  const directory = storeOf(scenario);
  removePath(directory);
  const db = await open(directory, { durability: scenario });
  // strict: split each append's latency at the engine's fdatasync (wrapping its file handle).
  const handle = db.log?.current?.handle;
  let syncStart = 0;
  let syncEnd = 0;
  if (scenario === 'strict' && handle?.sync) {
    const original = handle.sync.bind(handle);
    handle.sync = () => {
      syncStart = now();
      return original().then((value) => {
        syncEnd = now();
        return value;
      });
    };
  }
  const before = [];
  const during = [];
  const after = [];
  const started = now();
  for (let i = 0; i < total; i++) {
    const callStart = now();
    await db.events.append('run-1', [eventAt(i)]);
    const done = now();
    if (syncEnd > callStart) {
      before.push(syncStart - callStart);
      during.push(syncEnd - syncStart);
      after.push(done - syncEnd);
    }
  }
  report('sequential', total, now() - started);
  if (before.length) {
    const p50 = (values) => round(values.sort((a, b) => a - b)[values.length >> 1] * 1000, 1);
    console.log(`strict p50 split: append→fdatasync start ${p50(before)} µs, fdatasync (thread pool, incl. hand-off) ${p50(during)} µs, fdatasync done→append resolved ${p50(after)} µs (${before.length} appends)`);
  }
  await db.close();
  removePath(directory);
} else if (scenario === 'concurrent') {
  const directory = storeOf('concurrent');
  removePath(directory);
  const db = await open(directory, { durability: 'strict' });
  const deadline = now() + (count || 5) * 1000;
  let appended = 0;
  const started = now();
  await Promise.all(
    Array.from({ length: 64 }, async (_, k) => {
      let i = k;
      while (now() < deadline) {
        await db.events.append(`agent-${k}`, [eventAt(i++)]);
        appended++;
      }
    }),
  );
  report('64 appenders', appended, now() - started);
  await db.close();
  removePath(directory);
} else if (scenario === 'replay' || scenario === 'replay-raw') {
  const total = count || 100_000;
  const directory = storeOf('replay');
  await build(directory, total, 100);
  const db = await open(directory);
  const decodeData = scenario === 'replay';
  for (let rep = 0; rep < 20; rep++) {
    const started = now();
    let sink = 0;
    for await (const event of db.events.replay({ decodeData })) sink += decodeData ? event.data.step : event.data.length;
    if (rep % 5 === 4) report(`rep ${rep}`, total, now() - started);
  }
  await db.close();
  removePath(directory);
} else if (scenario === 'build-1m') {
  await build(storeOf('1m'), count || 1_000_000, 5000);
  console.log(`built ${storeOf('1m')}`);
} else if (scenario === 'open') {
  const started = now();
  const db = await open(storeOf('1m'));
  report('open', db.stats().entries, now() - started);
  await db.close();
} else {
  console.error(`unknown scenario '${scenario}'`);
  process.exit(2);
}
