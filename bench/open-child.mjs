// Opens one store in a fresh process and prints one JSON line: how long the wasm core took to
// load, how long `open` took, and how much the process grew (RSS, JS heap, wasm memory).
//   node bench/open-child.mjs [--full-scan] STORE_DIRECTORY   (bench/suite.mjs runs it per runtime)
// --full-scan opens with ignoreSnapshots: every segment is scanned (otherwise the newest
// snapshot is read and only the log after it is scanned).
import { collectGarbage, loadReeldb, now } from './lib.mjs';

const directory = process.argv[process.argv.length - 1];
const MiB = 1048576;
const { open, init } = await loadReeldb();
const initStarted = now();
const core = await init();
const initMs = now() - initStarted;
collectGarbage();
const before = process.memoryUsage();
const wasmBefore = core.exports.memory.buffer.byteLength;
const started = now();
const db = await open(directory, { ignoreSnapshots: process.argv.includes('--full-scan') });
const openMs = now() - started;
const after = process.memoryUsage();
const stats = db.stats();
await db.close();
const cpu = process.cpuUsage();
console.log(
  JSON.stringify({
    initMs: Math.round(initMs * 10) / 10,
    openMs: Math.round(openMs * 10) / 10,
    entries: stats.entries,
    fromSnapshot: stats.recovery.snapshot !== undefined,
    streams: stats.streams,
    rssBeforeMiB: Math.round((before.rss / MiB) * 10) / 10,
    rssAfterMiB: Math.round((after.rss / MiB) * 10) / 10,
    rssDeltaMiB: Math.round(((after.rss - before.rss) / MiB) * 10) / 10,
    heapDeltaMiB: Math.round(((after.heapUsed - before.heapUsed) / MiB) * 10) / 10,
    wasmMemoryMiB: Math.round((core.exports.memory.buffer.byteLength / MiB) * 10) / 10,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    wasmGrowthMiB: Math.round(((core.exports.memory.buffer.byteLength - wasmBefore) / MiB) * 10) / 10,
  }),
);
