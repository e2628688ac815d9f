// Replays one store in a fresh process and prints one JSON line with the median time of a few
// decoded and undecoded replays. GC heuristics settle differently per process (on Node a run
// can fall into frequent old-space collections), so the suite runs a few of these to show the
// spread beside its in-process number.
//   node bench/replay-child.mjs STORE_DIRECTORY [reps]
import { loadReeldb, median, now, runtime } from './lib.mjs';

const [directory, repsArgument] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const reps = Number(repsArgument ?? 5);
const { open } = await loadReeldb();

let majorGcs;
if (runtime === 'node') {
  // Count mark-compact collections (kind 2 = major) during the replays.
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  majorGcs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if ((entry.detail?.kind ?? entry.kind) === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
  }).observe({ entryTypes: ['gc'] });
}

const db = await open(directory);
async function time(decodeData) {
  const times = [];
  let count = 0;
  for (let rep = 0; rep <= reps; rep++) {
    const started = now();
    let sink = 0;
    count = 0;
    for await (const event of db.events.replay({ fromPosition: 0, decodeData })) {
      sink += decodeData ? event.data.step : event.data.length;
      count++;
    }
    if (rep > 0) times.push(now() - started); // rep 0 warms up
  }
  return { ms: Math.round(median(times) * 10) / 10, count };
}
const decoded = await time(true);
const raw = await time(false);
await db.close();
await new Promise((resolve) => setTimeout(resolve, 10)); // let the GC observer report
console.log(JSON.stringify({ decodedMs: decoded.ms, rawMs: raw.ms, events: decoded.count, majorGcs }));
