// The benchmark suite for one runtime: every reeldb benchmark with its baselines measured in
// this same process (bare write+fdatasync, better-sqlite3 where it loads). Prints as it goes and
// writes JSON. Runs on Node, Deno and Bun:
//   node bench/suite.mjs [--quick] [--out FILE] [--only name,name]
//   npx deno run -A bench/suite.mjs …        npx bun bench/suite.mjs …
// `bench/run.mjs` runs it on every runtime and writes bench/RESULTS.md. Numbers only; no goal
// is asserted here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  benchDirectory, clockResolutionMicroseconds, collectGarbage, directoryBytes, latencySummary, loadReeldb, loadSqlite, makeEvents, median, now, pause,
  measureOtherLoad, ratio, removeOwnTemp, removePath, round, runtime, runtimeCommand, runtimeVersion, tempPath, waitForQuiet,
} from './lib.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name) => (argv.indexOf(name) >= 0 ? argv[argv.indexOf(name) + 1] : undefined);
const quick = flag('--quick');
const outFile = option('--out');
const only = option('--only')?.split(',');

// Sizes; --quick is a smoke run of the whole suite in a few seconds.
const SIZE = quick
  ? { strictRounds: 2, strictPerRound: 100, concurrentSeconds: 0.5, bufferedRounds: 2, bufferedPerRound: 5000, sqliteNormalPerRound: 2000, replayEvents: 20000, replayReps: 3, replayChildren: 1, openEvents: 100000, openStreams: 500, openChildren: 2, microMs: 100 }
  : { strictRounds: 3, strictPerRound: 1000, concurrentSeconds: 3, bufferedRounds: 3, bufferedPerRound: 100000, sqliteNormalPerRound: 30000, replayEvents: 100000, replayReps: 9, replayChildren: 3, openEvents: 1000000, openStreams: 5000, openChildren: 5, microMs: 600 };

const { open, init } = await loadReeldb();
const sqlite = loadSqlite();
const { events, dataBytes } = makeEvents(4096);
const eventAt = (i) => events[i & 4095];

const report = {
  runtime,
  runtimeVersion: runtimeVersion(),
  quick,
  startedAt: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}` },
  clockResolutionUs: round(clockResolutionMicroseconds(), 3),
  eventDataBytes: dataBytes,
  sqlite: sqlite.error ? { error: sqlite.error } : { version: sqlite.version },
  results: {},
  errors: {},
  notes: [],
};
if (sqlite.error) report.notes.push(`better-sqlite3 baselines skipped on ${runtime}: ${sqlite.error}`);

function save() {
  if (outFile) fs.writeFileSync(outFile, JSON.stringify(report, null, 2));
}

function log(...parts) {
  console.log(`[${runtime}]`, ...parts);
}

/** Runs one benchmark after waiting for the machine to be quiet, and records how busy it was. */
async function bench(name, run) {
  if (only && !only.includes(name)) return;
  const quiet = await waitForQuiet({ maxMs: quick ? 1000 : 30_000 });
  log(`── ${name}${quiet.otherCores !== undefined ? ` (other processes: ${quiet.otherCores} cores${quiet.waitedMs > 600 ? ` after waiting ${round(quiet.waitedMs / 1000, 1)} s` : ''})` : ''}`);
  const started = now();
  try {
    const { output, otherCores } = await measureOtherLoad(run);
    report.results[name] = output;
    output.benchSeconds = round((now() - started) / 1000, 1);
    // CPU used by other processes during the run, in cores (child processes of the benchmark
    // itself excluded): above ~0.2 the numbers are disturbed.
    output.otherLoadCores = otherCores;
    output.otherLoadCoresBefore = quiet.otherCores;
    if (otherCores > 0.2) log(`note: other processes used ${otherCores} cores during ${name}; its numbers are disturbed`);
  } catch (error) {
    report.errors[name] = String(error?.stack ?? error);
    log(`${name} FAILED: ${error?.stack ?? error}`);
  }
  save();
  collectGarbage();
  await pause();
}

const fmt = (value) => (typeof value === 'number' ? value.toLocaleString('en-US') : String(value));
const show = (label, summary) => log(`${label.padEnd(34)} p50 ${fmt(summary.p50Us)} µs  p99 ${fmt(summary.p99Us)} µs  ${fmt(summary.eventsPerSecond)} events/s`);

// ---- better-sqlite3 baseline: an event table as an event store on SQLite would have it

class SqliteLog {
  constructor(file, synchronous) {
    this.db = new sqlite.Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    this.synchronous = this.db.pragma('synchronous', { simple: true });
    this.db.exec(`CREATE TABLE IF NOT EXISTS events (
      position INTEGER PRIMARY KEY, stream TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL,
      type TEXT NOT NULL, ts INTEGER NOT NULL, data TEXT NOT NULL, metadata TEXT);
      CREATE UNIQUE INDEX IF NOT EXISTS events_stream_version ON events (stream, version);`);
    this.insert = this.db.prepare('INSERT INTO events (stream, version, id, type, ts, data) VALUES (?, ?, ?, ?, ?, ?)');
    // Versions kept in JS (no SELECT per append): generous to the baseline.
    this.versions = new Map();
  }

  append(stream, event) {
    const version = (this.versions.get(stream) ?? -1) + 1;
    this.insert.run(stream, version, crypto.randomUUID(), event.type, Date.now(), JSON.stringify(event.data));
    this.versions.set(stream, version);
  }

  close() {
    this.db.close();
  }
}

// ---- 1. durable single-event append, strict

await bench('strictSingle', async () => {
  const directory = tempPath('strict.reel');
  const db = await open(directory, { durability: 'strict' });
  const stream = 'run-strict';
  let sequence = 0;
  const before = db.stats().bytes;
  for (let i = 0; i < 200; i++) await db.events.append(stream, [eventAt(sequence++)]);
  const bytesPerAppend = Math.round((db.stats().bytes - before) / 200);
  // The same bytes for the bare baseline: the first frames of the segment just written.
  const segmentFile = path.join(directory, 'log', db.stats().segments[0].name);
  const frameBytes = fs.readFileSync(segmentFile).subarray(48, 48 + bytesPerAppend);

  const bareFile = tempPath('bare-fdatasync.bin');
  const bareFd = fs.openSync(bareFile, 'w');
  let bareOffset = 0;
  // The same, overwriting a file that was zero-filled and synced beforehand: fdatasync then has
  // no file-size change to journal (what SQLite's reused WAL file gets).
  const preallocFile = tempPath('bare-prealloc.bin');
  const preallocFd = fs.openSync(preallocFile, 'w');
  const preallocBytes = (SIZE.strictRounds * SIZE.strictPerRound + 400) * frameBytes.length;
  const zeros = new Uint8Array(1 << 20);
  for (let at = 0; at < preallocBytes; at += zeros.length) fs.writeSync(preallocFd, zeros, 0, zeros.length, at);
  fs.fsyncSync(preallocFd);
  let preallocOffset = 0;
  const fdatasyncAsync = (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
  const sqliteFile = tempPath('strict.sqlite');
  const sqliteLog = sqlite.error ? undefined : new SqliteLog(sqliteFile, 'FULL');
  if (sqliteLog) for (let i = 0; i < 200; i++) sqliteLog.append(stream, eventAt(i));
  for (let i = 0; i < 200; i++) {
    fs.writeSync(bareFd, frameBytes, 0, frameBytes.length, bareOffset);
    bareOffset += frameBytes.length;
    fs.fdatasyncSync(bareFd);
    fs.writeSync(preallocFd, frameBytes, 0, frameBytes.length, preallocOffset);
    preallocOffset += frameBytes.length;
    fs.fdatasyncSync(preallocFd);
  }

  const contenders = {
    reeldb: async (samples, count) => {
      for (let i = 0; i < count; i++) {
        const started = now();
        await db.events.append(stream, [eventAt(sequence++)]);
        samples.push(now() - started);
      }
    },
    bareSync: async (samples, count) => {
      for (let i = 0; i < count; i++) {
        const started = now();
        fs.writeSync(bareFd, frameBytes, 0, frameBytes.length, bareOffset);
        fs.fdatasyncSync(bareFd);
        samples.push(now() - started);
        bareOffset += frameBytes.length;
      }
    },
    bareAsync: async (samples, count) => {
      for (let i = 0; i < count; i++) {
        const started = now();
        fs.writeSync(bareFd, frameBytes, 0, frameBytes.length, bareOffset);
        await fdatasyncAsync(bareFd);
        samples.push(now() - started);
        bareOffset += frameBytes.length;
      }
    },
    barePrealloc: async (samples, count) => {
      for (let i = 0; i < count; i++) {
        const started = now();
        fs.writeSync(preallocFd, frameBytes, 0, frameBytes.length, preallocOffset);
        fs.fdatasyncSync(preallocFd);
        samples.push(now() - started);
        preallocOffset += frameBytes.length;
      }
    },
  };
  if (sqliteLog) {
    let sqliteSequence = 0;
    contenders.sqliteFull = async (samples, count) => {
      for (let i = 0; i < count; i++) {
        const started = now();
        sqliteLog.append(stream, eventAt(sqliteSequence++));
        samples.push(now() - started);
      }
    };
  }
  // Interleaved rounds, rotating the order, so disk drift hits every contender alike.
  const names = Object.keys(contenders);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < SIZE.strictRounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length];
      await contenders[name](samples[name], SIZE.strictPerRound);
      await pause(20);
    }
  }
  await db.close();
  fs.closeSync(bareFd);
  fs.closeSync(preallocFd);
  sqliteLog?.close();
  removePath(directory);
  removePath(bareFile);
  removePath(preallocFile);
  for (const suffix of ['', '-wal', '-shm']) removePath(sqliteFile + suffix);

  const result = { bytesPerAppend, sqliteSynchronous: sqliteLog?.synchronous };
  for (const name of names) {
    result[name] = latencySummary(samples[name]);
    show(name, result[name]);
  }
  result.ratios = {
    p50VsBareSync: ratio(result.reeldb.p50Us, result.bareSync.p50Us),
    p99VsBareSync: ratio(result.reeldb.p99Us, result.bareSync.p99Us),
    p50VsBareAsync: ratio(result.reeldb.p50Us, result.bareAsync.p50Us),
    p50VsBarePrealloc: ratio(result.reeldb.p50Us, result.barePrealloc.p50Us),
    eventsPerSecondVsSqliteFull: result.sqliteFull ? ratio(result.reeldb.eventsPerSecond, result.sqliteFull.eventsPerSecond) : null,
  };
  log('ratios', JSON.stringify(result.ratios));
  return result;
});

// ---- 2. 64 concurrent appenders, strict

await bench('strictConcurrent64', async () => {
  const directory = tempPath('concurrent.reel');
  const db = await open(directory, { durability: 'strict' });
  // Diagnostic only: count fdatasync calls by wrapping the engine's file-handle class (an
  // internal detail; the segment rolls to new handles during the run, hence the prototype).
  let syncs = 0;
  const handleClass = db.log?.current?.handle ? Object.getPrototypeOf(db.log.current.handle) : undefined;
  const originalSync = handleClass && Object.prototype.hasOwnProperty.call(handleClass, 'sync') ? handleClass.sync : undefined;
  if (originalSync) {
    handleClass.sync = function sync() {
      syncs++;
      return originalSync.call(this);
    };
  }
  const appenders = 64;
  const runFor = async (seconds, samples) => {
    const deadline = now() + seconds * 1000;
    let appended = 0;
    const loop = async (k) => {
      const stream = `agent-${k}`;
      let i = k * 7;
      while (now() < deadline) {
        const started = now();
        await db.events.append(stream, [eventAt(i++)]);
        samples?.push(now() - started);
        appended++;
      }
    };
    const started = now();
    await Promise.all(Array.from({ length: appenders }, (_, k) => loop(k)));
    return { appended, elapsedMs: now() - started };
  };
  await runFor(Math.min(0.5, SIZE.concurrentSeconds));
  const samples = [];
  const syncsBefore = syncs;
  const { appended, elapsedMs } = await runFor(SIZE.concurrentSeconds, samples);
  const syncCount = syncs - syncsBefore;
  await db.close();
  if (originalSync) handleClass.sync = originalSync;
  removePath(directory);
  const latency = latencySummary(samples);
  const result = {
    appenders,
    events: appended,
    seconds: round(elapsedMs / 1000, 2),
    eventsPerSecond: Math.round(appended / (elapsedMs / 1000)),
    latency,
    fdatasyncs: syncCount || null,
    eventsPerFdatasync: syncCount ? round(appended / syncCount, 1) : null,
  };
  log(`64 appenders: ${fmt(result.eventsPerSecond)} events/s, p50 ${fmt(latency.p50Us)} µs, p99 ${fmt(latency.p99Us)} µs, ${fmt(result.eventsPerFdatasync)} events per fdatasync`);
  return result;
});

// ---- 3. buffered single-event appends, sequential awaits

await bench('bufferedSingle', async () => {
  const directory = tempPath('buffered.reel');
  const db = await open(directory, { durability: 'buffered' });
  const memory = await open(tempPath('memory.reel'), { durability: 'memory' });
  const sqliteFile = tempPath('normal.sqlite');
  const sqliteLog = sqlite.error ? undefined : new SqliteLog(sqliteFile, 'NORMAL');
  const stream = 'run-buffered';
  let sequence = 0;
  let memorySequence = 0;
  let sqliteSequence = 0;
  for (let i = 0; i < 10000; i++) await db.events.append(stream, [eventAt(sequence++)]);
  for (let i = 0; i < 10000; i++) await memory.events.append(stream, [eventAt(memorySequence++)]);
  if (sqliteLog) for (let i = 0; i < 2000; i++) sqliteLog.append(stream, eventAt(sqliteSequence++));

  const contenders = {
    reeldb: async (count) => {
      for (let i = 0; i < count; i++) await db.events.append(stream, [eventAt(sequence++)]);
    },
    reeldbMemory: async (count) => {
      for (let i = 0; i < count; i++) await memory.events.append(stream, [eventAt(memorySequence++)]);
    },
  };
  const counts = { reeldb: SIZE.bufferedPerRound, reeldbMemory: SIZE.bufferedPerRound, sqliteNormal: SIZE.sqliteNormalPerRound };
  if (sqliteLog) {
    contenders.sqliteNormal = async (count) => {
      for (let i = 0; i < count; i++) sqliteLog.append(stream, eventAt(sqliteSequence++));
    };
  }
  const names = Object.keys(contenders);
  const rates = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < SIZE.bufferedRounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length];
      collectGarbage();
      const started = now();
      await contenders[name](counts[name]);
      rates[name].push(counts[name] / ((now() - started) / 1000));
      await pause(20);
    }
  }
  await db.close();
  await memory.close();
  sqliteLog?.close();
  removePath(directory);
  for (const suffix of ['', '-wal', '-shm']) removePath(sqliteFile + suffix);

  const result = { sqliteSynchronous: sqliteLog?.synchronous };
  for (const name of names) {
    result[name] = { eventsPerSecond: Math.round(median(rates[name])), rounds: rates[name].map(Math.round), eventsPerRound: counts[name] };
    log(`${name.padEnd(14)} ${fmt(result[name].eventsPerSecond)} events/s (median of ${rates[name].length} rounds: ${result[name].rounds.map(fmt).join(', ')})`);
  }
  result.ratios = { vsSqliteNormal: result.sqliteNormal ? ratio(result.reeldb.eventsPerSecond, result.sqliteNormal.eventsPerSecond) : null };
  return result;
});

// ---- helpers to build stores quickly: many single-event appends in flight (one frame each)

async function buildStore(directory, count, streams, durability = 'buffered') {
  const db = await open(directory, { durability });
  const started = now();
  const inFlight = 1024;
  for (let base = 0; base < count; base += inFlight) {
    const pending = [];
    for (let i = base; i < Math.min(count, base + inFlight); i++) pending.push(db.events.append(`run-${i % streams}`, [eventAt(i)]));
    await Promise.all(pending);
  }
  await db.sync();
  const elapsedMs = now() - started;
  const storeId = db.storeId;
  await db.close();
  return { eventsPerSecond: Math.round(count / (elapsedMs / 1000)), storeId, bytes: directoryBytes(directory) };
}

async function timeReps(reps, run) {
  await run(); // warm-up
  const times = [];
  let output;
  for (let rep = 0; rep < reps; rep++) {
    const started = now();
    output = await run();
    times.push(now() - started);
  }
  return { medianMs: round(median(times), 2), minMs: round(Math.min(...times), 2), reps, output };
}

// ---- 4. replay of 100,000 events (+ the wasm scan micro-benchmark on the same segment)

let replaySegment; // { bytes, storeId, frames } for the scan micro-benchmark

await bench('replay100k', async () => {
  const count = SIZE.replayEvents;
  const directory = tempPath('replay.reel');
  const built = await buildStore(directory, count, 100);
  const db = await open(directory);
  const decoded = await timeReps(SIZE.replayReps, async () => {
    let n = 0;
    let sink = 0;
    for await (const event of db.events.replay({ fromPosition: 0, decodeData: true })) {
      sink += event.data.step;
      n++;
    }
    return { n, sink };
  });
  const raw = await timeReps(SIZE.replayReps * 2, async () => {
    let n = 0;
    let sink = 0;
    for await (const event of db.events.replay({ fromPosition: 0, decodeData: false })) {
      sink += event.data.length;
      n++;
    }
    return { n, sink };
  });
  await db.close();
  // The same replays in fresh processes, to show the spread between processes.
  const children = [];
  for (let child = 0; child < SIZE.replayChildren; child++) {
    const [command, args] = runtimeCommand(path.join(benchDirectory, 'replay-child.mjs'), [directory, String(quick ? 2 : 5)]);
    const started = now();
    const run = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 });
    const line = run.stdout.trim().split('\n').pop();
    if (run.status !== 0 || !line?.startsWith('{')) throw new Error(`replay child failed (${run.status}): ${run.stderr || run.stdout}`);
    // Its CPU is not measured; count its wall time as its own so the load figure stays honest.
    children.push({ ...JSON.parse(line), wallMs: now() - started });
  }
  // Keep the segment for the scan micro-benchmark, read only now: a large live buffer in the
  // process slows replay measurably (more old-space GCs), so none is held while timing.
  const segments = fs.readdirSync(path.join(directory, 'log'));
  if (segments.length === 1) replaySegment = { path: path.join(directory, 'log', segments[0]), storeId: built.storeId, frames: count };
  else removePath(directory);
  if (decoded.output.n !== count || raw.output.n !== count) throw new Error(`replay saw ${decoded.output.n}/${raw.output.n} events, expected ${count}`);

  const result = {
    events: count,
    storeBytes: built.bytes,
    buildEventsPerSecond: built.eventsPerSecond,
    decoded: { medianMs: decoded.medianMs, minMs: decoded.minMs, reps: decoded.reps, eventsPerSecond: Math.round(count / (decoded.medianMs / 1000)) },
    raw: { medianMs: raw.medianMs, minMs: raw.minMs, reps: raw.reps, eventsPerSecond: Math.round(count / (raw.medianMs / 1000)) },
  };
  if (children.length > 0) {
    result.processes = children.map(({ decodedMs, rawMs, majorGcs }) => ({ decodedMs, rawMs, majorGcs }));
    result.childCpuMs = Math.round(children.reduce((sum, child) => sum + child.wallMs, 0));
    log(`fresh processes: decoded ${children.map((child) => child.decodedMs).join(', ')} ms; decodeData:false ${children.map((child) => child.rawMs).join(', ')} ms${runtime === 'node' ? `; major GCs ${children.map((child) => child.majorGcs).join(', ')}` : ''}`);
  }
  log(`reeldb decoded      ${result.decoded.medianMs} ms (min ${result.decoded.minMs}) ${fmt(result.decoded.eventsPerSecond)} events/s`);
  log(`reeldb decodeData:false ${result.raw.medianMs} ms (min ${result.raw.minMs}) ${fmt(result.raw.eventsPerSecond)} events/s`);

  if (!sqlite.error) {
    const file = tempPath('replay.sqlite');
    const baseline = new SqliteLog(file, 'NORMAL');
    baseline.db.transaction(() => {
      for (let i = 0; i < count; i++) baseline.append(`run-${i % 100}`, eventAt(i));
    })();
    baseline.db.pragma('wal_checkpoint(TRUNCATE)');
    const select = baseline.db.prepare('SELECT position, stream, version, id, type, ts, data FROM events ORDER BY position');
    const toEvent = (row, data) => ({ id: row.id, stream: row.stream, type: row.type, data, metadata: undefined, streamVersion: row.version, position: row.position - 1, timestamp: row.ts });
    const iterateParsed = await timeReps(SIZE.replayReps, async () => {
      let sink = 0;
      for (const row of select.iterate()) sink += toEvent(row, JSON.parse(row.data)).data.step;
      return sink;
    });
    const allParsed = await timeReps(SIZE.replayReps, async () => {
      let sink = 0;
      for (const row of select.all()) sink += toEvent(row, JSON.parse(row.data)).data.step;
      return sink;
    });
    const iterateRaw = await timeReps(SIZE.replayReps, async () => {
      let sink = 0;
      for (const row of select.iterate()) sink += toEvent(row, row.data).data.length;
      return sink;
    });
    baseline.close();
    for (const suffix of ['', '-wal', '-shm']) removePath(file + suffix);
    const entry = (timing) => ({ medianMs: timing.medianMs, minMs: timing.minMs, eventsPerSecond: Math.round(count / (timing.medianMs / 1000)) });
    result.sqliteIterateParsed = entry(iterateParsed);
    result.sqliteAllParsed = entry(allParsed);
    result.sqliteIterateRaw = entry(iterateRaw);
    const bestParsed = Math.min(iterateParsed.medianMs, allParsed.medianMs);
    result.ratios = {
      decodedSpeedupVsSqliteIterate: ratio(iterateParsed.medianMs, result.decoded.medianMs),
      decodedSpeedupVsBestSqlite: ratio(bestParsed, result.decoded.medianMs),
      rawSpeedupVsSqliteRaw: ratio(iterateRaw.medianMs, result.raw.medianMs),
    };
    log(`sqlite iterate+JSON.parse ${iterateParsed.medianMs} ms; all()+JSON.parse ${allParsed.medianMs} ms; iterate, no parse ${iterateRaw.medianMs} ms`);
    log('ratios', JSON.stringify(result.ratios));
  }
  return result;
});

// ---- 5. open of a store with 1,000,000 events, in fresh child processes (time and RSS)

await bench('open1m', async () => {
  const count = SIZE.openEvents;
  const directory = tempPath('open1m.reel');
  log(`building a store of ${fmt(count)} single-event appends over ${fmt(SIZE.openStreams)} streams…`);
  const built = await buildStore(directory, count, SIZE.openStreams);
  log(`built in ${round(count / built.eventsPerSecond, 1)} s (${fmt(built.eventsPerSecond)} events/s pipelined, buffered), ${fmt(built.bytes)} bytes`);
  // Opens in fresh processes: from the snapshot the store's close wrote, and by a full scan.
  const openIn = (flags) => {
    const runs = [];
    for (let child = 0; child < SIZE.openChildren; child++) {
      const [command, args] = runtimeCommand(path.join(benchDirectory, 'open-child.mjs'), [...flags, directory]);
      const run = spawnSync(command, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 << 20 });
      const line = run.stdout.trim().split('\n').pop();
      if (run.status !== 0 || !line?.startsWith('{')) throw new Error(`open child failed (${run.status}): ${run.stderr || run.stdout}`);
      runs.push(JSON.parse(line));
    }
    return runs;
  };
  const children = openIn([]);
  const fullScans = openIn(['--full-scan']);
  const childCpuMs = [...children, ...fullScans].reduce((sum, child) => sum + child.cpuMs, 0);
  // In this process too: replay of the whole store without decoding.
  const db = await open(directory);
  const raw = await timeReps(3, async () => {
    let n = 0;
    for await (const event of db.events.replay({ decodeData: false })) n += event.data.length > 0 ? 1 : 0;
    return n;
  });
  await db.close();
  removePath(directory);
  const pick = (key) => round(median(children.map((child) => child[key])), 1);
  const result = {
    events: count,
    streams: SIZE.openStreams,
    storeBytes: built.bytes,
    buildEventsPerSecond: built.eventsPerSecond,
    openMs: pick('openMs'),
    openMsRuns: children.map((child) => child.openMs),
    fromSnapshot: children.every((child) => child.fromSnapshot),
    fullScanOpenMs: round(median(fullScans.map((child) => child.openMs)), 1),
    fullScanOpenMsRuns: fullScans.map((child) => child.openMs),
    fullScanRssDeltaMiB: round(median(fullScans.map((child) => child.rssDeltaMiB)), 1),
    initMs: pick('initMs'),
    rssDeltaMiB: pick('rssDeltaMiB'),
    heapDeltaMiB: pick('heapDeltaMiB'),
    wasmMemoryMiB: pick('wasmMemoryMiB'),
    rssAfterOpenMiB: pick('rssAfterMiB'),
    bytesPerEventRss: Math.round((median(children.map((child) => child.rssDeltaMiB)) * 1048576) / count),
    replayRawMs: raw.medianMs,
    replayRawEventsPerSecond: Math.round(count / (raw.medianMs / 1000)),
    childCpuMs,
  };
  log(`open ${fmt(result.openMs)} ms${result.fromSnapshot ? ' from a snapshot' : ''} (runs ${result.openMsRuns.join(', ')}), RSS +${result.rssDeltaMiB} MiB, heap +${result.heapDeltaMiB} MiB, wasm memory ${result.wasmMemoryMiB} MiB; init ${result.initMs} ms`);
  log(`open by a full scan ${fmt(result.fullScanOpenMs)} ms (runs ${result.fullScanOpenMsRuns.join(', ')}), RSS +${result.fullScanRssDeltaMiB} MiB`);
  log(`replay of ${fmt(count)} events, decodeData:false: ${raw.medianMs} ms (${fmt(result.replayRawEventsPerSecond)} events/s)`);
  return result;
});

// ---- 6. wasm micro-benchmarks

function crc32cTable() {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
const CRC_TABLE = crc32cTable();
function crc32cJs(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function rate(budgetMs, batch, work) {
  work(); // warm-up
  let iterations = 0;
  const started = now();
  let elapsed = 0;
  while ((elapsed = now() - started) < budgetMs) {
    for (let i = 0; i < batch; i++) work();
    iterations += batch;
  }
  return iterations / (elapsed / 1000);
}

await bench('wasm', async () => {
  const core = await init();
  const check = new TextEncoder().encode('123456789');
  const known = 0xe3069283;
  if (core.crc32c(check) !== known || crc32cJs(check) !== known) throw new Error('CRC32C check value mismatch');
  const result = {};
  const big = new Uint8Array(1 << 20);
  let seed = 12345;
  for (let i = 0; i < big.length; i++) big[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  const expected = crc32cJs(big);
  if (core.crc32c(big) !== expected) throw new Error('CRC32C of 1 MiB mismatch');
  // crc32c() copied the bytes into the scan buffer; crc32cInPlace hashes them there.
  const gigabytes = (callsPerSecond, bytes) => round((callsPerSecond * bytes) / 1e9, 2);
  result.crc32cInPlace1MiBGBps = gigabytes(rate(SIZE.microMs, 4, () => core.crc32cInPlace(big.length)), big.length);
  result.crc32cInPlace256BMillionPerSecond = round(rate(SIZE.microMs, 4096, () => core.crc32cInPlace(256)) / 1e6, 2);
  result.crc32cCopy1MiBGBps = gigabytes(rate(SIZE.microMs, 2, () => core.crc32c(big)), big.length);
  result.crc32cJsTable1MiBGBps = gigabytes(rate(SIZE.microMs, 1, () => crc32cJs(big)), big.length);
  log(`CRC32C wasm in place: ${result.crc32cInPlace1MiBGBps} GB/s (1 MiB), ${result.crc32cInPlace256BMillionPerSecond} M calls/s (256 B); with copy in: ${result.crc32cCopy1MiBGBps} GB/s; JS table baseline: ${result.crc32cJsTable1MiBGBps} GB/s`);
  // Node's native zlib crc32 (a different polynomial) as a reference point; on Deno and Bun the
  // compatibility layer's crc32 is not the same code, so it is left out there.
  const zlib = runtime === 'node' ? await import('node:zlib').catch(() => undefined) : undefined;
  if (typeof zlib?.crc32 === 'function') {
    result.zlibCrc32Ieee1MiBGBps = gigabytes(rate(SIZE.microMs, 4, () => zlib.crc32(big)), big.length);
    log(`node:zlib crc32 (IEEE polynomial, native, reference only): ${result.zlibCrc32Ieee1MiBGBps} GB/s`);
  }

  if (!replaySegment) {
    // Run alone (--only wasm): build a store of single-event frames for the scan.
    const directory = tempPath('scan.reel');
    const built = await buildStore(directory, SIZE.replayEvents, 100);
    const segments = fs.readdirSync(path.join(directory, 'log'));
    if (segments.length === 1) replaySegment = { path: path.join(directory, 'log', segments[0]), storeId: built.storeId, frames: SIZE.replayEvents };
  }
  if (replaySegment) {
    const { storeId, frames } = replaySegment;
    const bytes = fs.readFileSync(replaySegment.path);
    removePath(path.dirname(path.dirname(replaySegment.path)));
    replaySegment = undefined;
    const body = bytes.subarray(48);
    const tableCapacity = 1 << 18;
    await core.scanSession(async (session) => {
      session.bufferView(body.length).set(body);
      const first = session.scan(body.length, true, 0, 0, storeId, tableCapacity);
      if (first.status !== 0 || first.frames !== frames) throw new Error(`scan of the replay segment: status ${first.status}, ${first.frames} frames (${first.message})`);
      const scansPerSecond = rate(SIZE.microMs * 2, 1, () => session.scan(body.length, true, 0, 0, storeId, tableCapacity));
      result.scanFramesPerSecond = Math.round(scansPerSecond * frames);
      result.scanGBps = round((scansPerSecond * body.length) / 1e9, 2);
      result.scanSegmentBytes = body.length;
      result.scanFrames = frames;
    });
    log(`scan: ${fmt(result.scanFramesPerSecond)} frames/s, ${result.scanGBps} GB/s (${fmt(frames)} single-event frames, ${fmt(body.length)} bytes, in wasm memory)`);
  } else {
    report.notes.push('scan micro-benchmark skipped: the replay store did not fit in one segment');
  }
  return result;
});

report.finishedAt = new Date().toISOString();
save();
removeOwnTemp();
log('done');
