// Read checksums, before and after, in the same run: replay of 100,000 events (decoded and
// not), readStream of every stream, readAll, and open of 1,000,000 events from a snapshot and
// by a full scan (fresh processes), for this checkout and for another build of reeldb
// (`--against REF`: `git archive REF` built into bench/tmp/, or `--old DIR`: a checkout with
// js/dist built). Every measurement runs in a fresh process of one build, alternating the
// builds, so a drift in the machine hits both alike; CPU time is reported beside wall time
// (much less disturbed on a shared machine); each build writes and reads its own stores.
//   node bench/read-checksums.mjs --against main [--quick] [--reps N] [--processes N] [--only NAME]
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchDirectory, collectGarbage, makeEvents, measureOtherLoad, median, now, removePath, rootDirectory, round, runtime, runtimeCommand, tempPath, waitForQuiet } from './lib.mjs';

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
/** CPU time of this process (all its threads), in ms: much less disturbed than wall time on a shared machine. */
const cpuNow = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

const STREAMS = Number(option('--streams') ?? 100);
const COUNT = Number(option('--count') ?? 100000);
const workloads = {
  'replay decoded': async (db) => {
    let sink = 0;
    for await (const event of db.events.replay({ decodeData: true })) sink += event.data.step;
    return sink;
  },
  'replay decodeData:false': async (db) => {
    let sink = 0;
    for await (const event of db.events.replay({ decodeData: false })) sink += event.data.length;
    return sink;
  },
  [`readStream × ${STREAMS} (whole streams)`]: async (db) => {
    let sink = 0;
    for (let stream = 0; stream < STREAMS; stream++) sink += (await db.events.readStream(`run-${stream}`)).length;
    return sink;
  },
  'readAll (whole log)': async (db) => (await db.events.readAll({ maxCount: COUNT })).length,
};


if (args[0] === '--child-reads') {
  // One workload in this fresh process: `--child-reads ROOT STORE NAME REPS`; prints each rep's wall and CPU ms.
  const reeldb = await import(pathToFileURL(path.join(args[1], runtime === 'deno' ? 'js/dist/index.deno.js' : 'js/dist/index.node.js')).href);
  const db = await reeldb.open(args[2]);
  const run = workloads[args[3]];
  const result = { wall: [], cpu: [] };
  await run(db); // warm-up
  for (let rep = 0; rep < Number(args[4]); rep++) {
    collectGarbage();
    const cpu = cpuNow();
    const started = now();
    await run(db);
    result.wall.push(now() - started);
    result.cpu.push(cpuNow() - cpu);
  }
  await db.close();
  console.log(JSON.stringify(result));
  process.exit(0);
}

if (args[0] === '--child') {
  // One open in this fresh process: `--child ROOT STORE [--full-scan]`; prints wall and CPU ms.
  const reeldb = await import(pathToFileURL(path.join(args[1], runtime === 'deno' ? 'js/dist/index.deno.js' : 'js/dist/index.node.js')).href);
  await reeldb.init();
  collectGarbage();
  const cpu = cpuNow();
  const started = now();
  const db = await reeldb.open(args[2], { ignoreSnapshots: args.includes('--full-scan') });
  const result = { wallMs: now() - started, cpuMs: cpuNow() - cpu, fromSnapshot: db.stats().recovery.snapshot !== undefined };
  await db.close();
  console.log(JSON.stringify(result));
  process.exit(0);
}
const quick = args.includes('--quick');
const reps = Number(option('--reps') ?? (quick ? 3 : 9));
const only = option('--only'); // a substring of the workload names
const SIZE = quick ? { replay: 20000, replayStreams: 100, open: 100000, openStreams: 500, openChildren: 2 } : { replay: 100000, replayStreams: 100, open: 1000000, openStreams: 5000, openChildren: 7 };

function oldCheckout() {
  if (option('--old')) return path.resolve(option('--old'));
  const ref = option('--against') ?? 'main';
  const directory = tempPath(`against-${ref.replace(/[^\w.-]/g, '_')}`);
  removePath(directory);
  fs.mkdirSync(directory, { recursive: true });
  const archive = execFileSync('git', ['archive', ref], { cwd: rootDirectory, maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', directory], { input: archive });
  fs.symlinkSync(path.join(rootDirectory, 'node_modules'), path.join(directory, 'node_modules'));
  execFileSync('node', ['scripts/build-js.mjs'], { cwd: directory, stdio: 'inherit' });
  return directory;
}

const entry = runtime === 'deno' ? 'js/dist/index.deno.js' : 'js/dist/index.node.js';
const versions = [
  { name: 'before', root: oldCheckout() },
  { name: 'after', root: rootDirectory },
];
for (const version of versions) version.reeldb = await import(pathToFileURL(path.join(version.root, entry)).href);

const { events } = makeEvents(4096);
async function buildStore(reeldb, directory, count, streams) {
  removePath(directory);
  const db = await reeldb.open(directory, { durability: 'buffered' });
  for (let base = 0; base < count; base += 1024) {
    const pending = [];
    for (let i = base; i < Math.min(count, base + 1024); i++) pending.push(db.events.append(`run-${i % streams}`, [events[i & 4095]]));
    await Promise.all(pending);
  }
  await db.sync();
  await db.snapshot();
  await db.close();
}

const log = (line) => process.stderr.write(`${line}\n`);
const OPENS = ['open from a snapshot', 'open by a full scan'];
for (const version of versions) {
  version.replayStore = tempPath(`rc-${version.name}-replay.reel`);
  version.openStore = tempPath(`rc-${version.name}-open.reel`);
  log(`${version.name}: building ${SIZE.replay.toLocaleString()} and ${SIZE.open.toLocaleString()} event stores…`);
  await buildStore(version.reeldb, version.replayStore, SIZE.replay, SIZE.replayStreams);
  if (OPENS.some((name) => !only || name.includes(only))) await buildStore(version.reeldb, version.openStore, SIZE.open, SIZE.openStreams);
}

const times = new Map(); // workload -> version -> ms[]
const cpuTimes = new Map(); // workload -> version -> CPU ms[]
const load = new Map(); // workload -> other processes' CPU (cores) while it ran
// Reads in fresh processes, one build each (two builds in one process disturb each other's
// JIT and GC), alternating the builds process by process; each process runs `reps` reps.
const processes = Number(option('--processes') ?? (quick ? 2 : 6));
for (const name of Object.keys(workloads)) {
  if (only && !name.includes(only)) continue;
  const byVersion = new Map(versions.map((version) => [version.name, []]));
  const cpuByVersion = new Map(versions.map((version) => [version.name, []]));
  await waitForQuiet();
  const { otherCores } = await measureOtherLoad(async () => {
    for (let child = 0; child < processes; child++) {
      const order = child % 2 === 0 ? versions : [...versions].reverse();
      for (const version of order) {
        const [command, commandArgs] = runtimeCommand(path.join(benchDirectory, 'read-checksums.mjs'), ['--child-reads', version.root, version.replayStore, name, String(reps), '--streams', String(SIZE.replayStreams), '--count', String(SIZE.replay)]);
        const run = spawnSync(command, commandArgs, { encoding: 'utf8', maxBuffer: 1 << 26 });
        const line = run.stdout.trim().split('\n').pop();
        if (run.status !== 0 || !line?.startsWith('{')) throw new Error(`read child failed (${run.status}): ${run.stderr || run.stdout}`);
        const result = JSON.parse(line);
        byVersion.get(version.name).push(median(result.wall));
        cpuByVersion.get(version.name).push(median(result.cpu));
      }
    }
    // The children's CPU is this benchmark's own, not other processes'.
    return { childCpuMs: [...cpuByVersion.values()].flat().reduce((sum, ms) => sum + ms * (reps + 1), 0) };
  });
  load.set(name, otherCores);
  times.set(name, byVersion);
  cpuTimes.set(name, cpuByVersion);
  log(`${name}: ${versions.map((version) => `${version.name} ${round(median(byVersion.get(version.name)), 1)} ms`).join(', ')}`);
}

// Open in fresh processes, alternating the builds.
for (const [name, flags] of OPENS.map((name, index) => [name, index === 0 ? [] : ['--full-scan']])) {
  if (only && !name.includes(only)) continue;
  const byVersion = new Map(versions.map((version) => [version.name, []]));
  const cpuByVersion = new Map(versions.map((version) => [version.name, []]));
  await waitForQuiet();
  for (let child = 0; child < SIZE.openChildren; child++) {
    const order = child % 2 === 0 ? versions : [...versions].reverse();
    for (const version of order) {
      // This script's own child mode, loading the version's build: the same measurement for both.
      const [command, commandArgs] = runtimeCommand(path.join(benchDirectory, 'read-checksums.mjs'), ['--child', version.root, version.openStore, ...flags]);
      const run = spawnSync(command, commandArgs, { encoding: 'utf8', maxBuffer: 1 << 26 });
      const line = run.stdout.trim().split('\n').pop();
      if (run.status !== 0 || !line?.startsWith('{')) throw new Error(`open child failed (${run.status}): ${run.stderr || run.stdout}`);
      const result = JSON.parse(line);
      if (result.fromSnapshot !== (flags.length === 0)) throw new Error(`${version.name}: open ${flags.length ? 'scanned' : 'did not use the snapshot'} unexpectedly`);
      byVersion.get(version.name).push(result.wallMs);
      cpuByVersion.get(version.name).push(result.cpuMs);
    }
  }
  times.set(name, byVersion);
  cpuTimes.set(name, cpuByVersion);
  log(`${name}: ${versions.map((version) => `${version.name} ${round(median(byVersion.get(version.name)), 1)} ms`).join(', ')}`);
}
for (const version of versions) {
  removePath(version.replayStore);
  removePath(version.openStore);
}
if (!option('--old')) removePath(versions[0].root);

const rows = [...times].map(([name, byVersion]) => {
  const before = median(byVersion.get('before'));
  const after = median(byVersion.get('after'));
  // Each rep ran both builds back to back: the median of those pairs' ratios resists drift.
  const pairs = byVersion.get('after').map((ms, index) => ms / byVersion.get('before')[index]);
  const cpu = cpuTimes.get(name);
  const cpuBefore = median(cpu.get('before'));
  const cpuAfter = median(cpu.get('after'));
  return { name, beforeMs: round(before, 1), afterMs: round(after, 1), ratio: round(after / before, 3), pairRatio: round(median(pairs), 3), cpuBeforeMs: round(cpuBefore, 1), cpuAfterMs: round(cpuAfter, 1), cpuRatio: round(cpuAfter / cpuBefore, 3), runs: pairs.length, otherCores: load.get(name) };
});
const lines = [
  `${runtime}; reads: ${processes} fresh processes per build, alternating, each the median of ${reps} reps; open: ${SIZE.openChildren} fresh processes per build, alternating; medians of those; replay store ${SIZE.replay.toLocaleString()} events over ${SIZE.replayStreams} streams, open store ${SIZE.open.toLocaleString()} events over ${SIZE.openStreams.toLocaleString()} streams`,
  '',
  '| workload | before ms | after ms | after / before | paired ratios (median) | CPU ms before | CPU ms after | CPU after / before | other load (cores) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((row) => `| ${row.name} | ${row.beforeMs} | ${row.afterMs} | ${row.ratio.toFixed(3)} | ${row.pairRatio.toFixed(3)} | ${row.cpuBeforeMs} | ${row.cpuAfterMs} | **${row.cpuRatio.toFixed(3)}** | ${row.otherCores ?? 'n/a'} |`),
];
console.log(lines.join('\n'));
fs.writeFileSync(path.join(benchDirectory, 'tmp', `read-checksums-${runtime}.json`), JSON.stringify({ runtime, reps, size: SIZE, rows }, null, 2));
