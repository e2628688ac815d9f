// Key-value benchmark (issue 9): db.kv put and get against a plain Map doing the same work, and
// against better-sqlite3 `INSERT OR REPLACE` (WAL; synchronous=NORMAL for buffered, FULL for
// strict), side by side in one process run, in interleaved rounds (order rotated) so a drift
// of the machine hits every contender alike. lmdb-js is measured when it loads (it is not a
// dependency of this repository: `npm i --no-save lmdb` to include it).
//   node --expose-gc bench/kv.mjs [--quick]
// Prints markdown tables (bench/RESULTS.md, section "Key-value") and writes bench/kv.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import { benchDirectory, collectGarbage, latencySummary, loadReeldb, loadSqlite, median, now, pause, removePath, round, runtime, runtimeVersion, tempPath } from './lib.mjs';

const quick = process.argv.includes('--quick');
const MEMORY_OPS = quick ? 20_000 : 100_000;
const DISK_OPS = quick ? 2_000 : 20_000;
const STRICT_OPS = quick ? 300 : 2_000;
const ROUNDS = quick ? 3 : 5;
const KEYS = 10_000;

const reeldb = await loadReeldb();
const sqlite = loadSqlite();
const require = createRequire(import.meta.url);

/** Agent-ish facts: ~80–120 bytes of JSON. */
function value(index) {
  return { fact: `the user prefers ${['metric', 'imperial', 'dark mode', 'short answers'][index % 4]}`, confidence: (index % 100) / 100, step: index, source: `call_${(index >>> 2).toString(36)}` };
}
const keys = Array.from({ length: KEYS }, (_, index) => `user:${index % 97}/fact:${index}`);
const values = Array.from({ length: KEYS }, (_, index) => value(index));

// ---- contenders: each has put(i) and get(i) returning promises (or values), and close()

/** A plain Map: the floor (no copy, no promise). */
function plainMap() {
  const map = new Map();
  return { name: 'Map (set/get, sync)', put: (i) => map.set(keys[i % KEYS], values[i % KEYS]), get: (i) => map.get(keys[i % KEYS]), sync: true, close() {} };
}

/** A Map doing what kv does beyond the map: async, JSON copies in and out, a version per write, the `{ value, version }` result. */
function facadeMap() {
  const map = new Map();
  let position = 0;
  return {
    name: 'Map facade (async, JSON copy, versions)',
    put: async (i) => {
      const version = position++;
      map.set(keys[i % KEYS], { text: JSON.stringify(values[i % KEYS]), version });
      return { version };
    },
    get: async (i) => {
      const entry = map.get(keys[i % KEYS]);
      return entry && { value: JSON.parse(entry.text), version: entry.version };
    },
    close() {},
  };
}

async function reeldbKv(durability, directory) {
  const db = await reeldb.open(directory ? path.join(directory, 'kv.reel') : 'bench-kv', { durability, snapshotBytes: 0 });
  const kv = db.kv;
  return { name: `reeldb kv (${durability})`, put: (i) => kv.put(keys[i % KEYS], values[i % KEYS]), get: (i) => kv.get(keys[i % KEYS]), close: () => db.close(), db };
}

/** The engine's floor for one write: an event append of the same value (one entry, one frame). */
async function reeldbEvents(durability) {
  const db = await reeldb.open('bench-events', { durability, snapshotBytes: 0 });
  const events = db.events;
  const batches = values.map((data) => [{ type: 'fact', data }]);
  return { name: `reeldb events.append (${durability}, same value)`, put: (i) => events.append('facts', batches[i % KEYS]), get: () => undefined, sync: false, close: () => db.close() };
}

function sqliteKv(synchronous, directory) {
  if (sqlite.error) return { error: sqlite.error };
  const db = new sqlite.Database(path.join(directory, `kv-${synchronous}.sqlite`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID');
  const put = db.prepare('INSERT OR REPLACE INTO kv (key, value, version) VALUES (?, ?, ?)');
  const get = db.prepare('SELECT value, version FROM kv WHERE key = ?');
  let version = 0;
  return {
    name: `better-sqlite3 INSERT OR REPLACE (WAL, synchronous=${synchronous})`,
    put: (i) => put.run(keys[i % KEYS], JSON.stringify(values[i % KEYS]), version++),
    get: (i) => {
      const row = get.get(keys[i % KEYS]);
      return row && { value: JSON.parse(row.value), version: row.version };
    },
    sync: true,
    close: () => db.close(),
  };
}

function lmdbKv(directory) {
  let lmdb;
  try {
    lmdb = require('lmdb');
  } catch (error) {
    return { error: `lmdb-js does not load here (${String(error?.message ?? error).split('\n')[0].slice(0, 80)})` };
  }
  const db = lmdb.open({ path: path.join(directory, 'kv.lmdb') });
  return { name: 'lmdb-js putSync/get', put: (i) => db.putSync(keys[i % KEYS], values[i % KEYS]), get: (i) => db.get(keys[i % KEYS]), sync: true, close: () => db.close() };
}

// ---- measurement

const cpuNow = () => {
  const usage = globalThis.process?.cpuUsage?.();
  return usage ? (usage.user + usage.system) / 1000 : NaN;
};

/** Runs `ops` operations of `kind` sequentially (awaiting each unless the contender is synchronous); returns wall ms (and CPU ms of this process in `timed.cpu`). */
async function timed(contender, kind, ops, offset) {
  const call = contender[kind];
  const cpu = cpuNow();
  const start = now();
  if (contender.sync) for (let i = 0; i < ops; i++) call(offset + i);
  else for (let i = 0; i < ops; i++) await call(offset + i);
  const wall = now() - start;
  timed.cpu = cpuNow() - cpu;
  return wall;
}

/** Per-operation latencies of `samples` operations (ms each). */
async function latencies(contender, kind, samples, offset) {
  const call = contender[kind];
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const start = now();
    if (contender.sync) call(offset + i);
    else await call(offset + i);
    out[i] = now() - start;
  }
  return out;
}

/** Interleaved rounds: each round runs every contender once (order rotated); the median round time per contender. */
async function compare(contenders, kind, ops) {
  const times = contenders.map(() => []);
  const cpus = contenders.map(() => []);
  for (let roundIndex = 0; roundIndex < ROUNDS; roundIndex++) {
    for (let turn = 0; turn < contenders.length; turn++) {
      const index = (turn + roundIndex) % contenders.length;
      collectGarbage();
      await pause(10);
      times[index].push(await timed(contenders[index], kind, ops, roundIndex * ops));
      cpus[index].push(timed.cpu);
    }
  }
  return contenders.map((contender, index) => {
    const ms = median(times[index]);
    const cpuMs = median(cpus[index]);
    return { name: contender.name, ops, ms: round(ms, 1), opsPerSecond: Math.round(ops / (ms / 1000)), usPerOp: round((ms * 1000) / ops, 3), cpuUsPerOp: round((cpuMs * 1000) / ops, 3), cpuOpsPerSecond: Math.round(ops / (cpuMs / 1000)) };
  });
}

async function latencyOf(contenders, kind, samples) {
  const results = [];
  for (const contender of contenders) {
    collectGarbage();
    await pause(10);
    const summary = latencySummary(await latencies(contender, kind, samples, 7));
    results.push({ name: contender.name, p50Us: summary.p50Us, p99Us: summary.p99Us, meanUs: summary.meanUs });
  }
  return results;
}

const report = { runtime: runtimeVersion(), date: new Date().toISOString(), quick, sections: {} };
const lines = [];
const say = (line = '') => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};

function table(title, rows, baseline) {
  say(`#### ${title}`);
  say();
  say(`| contender | ops | wall ms | ops/s | µs/op | CPU µs/op | ops per CPU-second | time per op vs ${baseline} (wall; CPU) |`);
  say('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const base = rows.find((row) => row.name === baseline);
  for (const row of rows) {
    const versus = base ? `${round(row.usPerOp / base.usPerOp, 2)}×; ${round(row.cpuUsPerOp / base.cpuUsPerOp, 2)}×` : '';
    say(`| ${row.name} | ${row.ops.toLocaleString('en-US')} | ${row.ms} | ${row.opsPerSecond.toLocaleString('en-US')} | ${row.usPerOp} | ${row.cpuUsPerOp} | ${row.cpuOpsPerSecond.toLocaleString('en-US')} | ${versus} |`);
  }
  say();
}

say(`Load average at the start: ${os.loadavg().map((load) => load.toFixed(2)).join(', ')} on ${os.cpus().length} cores.`);
say();
say(`Key-value benchmark, ${runtimeVersion()}, ${new Date().toISOString()}${quick ? ' (quick)' : ''}. Values: agent facts of ${Math.min(...values.map((v) => JSON.stringify(v).length))}–${Math.max(...values.map((v) => JSON.stringify(v).length))} bytes of JSON; ${KEYS.toLocaleString('en-US')} keys of 20–25 bytes, written round-robin; median of ${ROUNDS} interleaved rounds.`);
say();

// 1. memory mode against Maps
{
  const contenders = [plainMap(), facadeMap(), await reeldbKv('memory')];
  const events = await reeldbEvents('memory');
  // Warm up (JIT) and fill every key.
  for (const contender of [...contenders, events]) await timed(contender, 'put', KEYS * 2, 0);
  const puts = await compare([...contenders, events], 'put', MEMORY_OPS);
  await events.close();
  const gets = await compare(contenders, 'get', MEMORY_OPS);
  table('memory mode: put (sequential awaits)', puts, 'Map facade (async, JSON copy, versions)');
  table('memory mode: get, cached value (sequential awaits)', gets, 'Map facade (async, JSON copy, versions)');
  const getLatency = await latencyOf(contenders, 'get', quick ? 5_000 : 50_000);
  const putLatency = await latencyOf(contenders, 'put', quick ? 5_000 : 50_000);
  say('#### memory mode: latency per operation (one `performance.now()` pair each, which adds ~0.05–0.1 µs)');
  say();
  say('| contender | get p50 µs | get p99 µs | put p50 µs | put p99 µs |');
  say('| --- | --- | --- | --- | --- |');
  for (let index = 0; index < contenders.length; index++) say(`| ${contenders[index].name} | ${getLatency[index].p50Us} | ${getLatency[index].p99Us} | ${putLatency[index].p50Us} | ${putLatency[index].p99Us} |`);
  say();
  // Concurrent puts: 64 in flight share frames' batches.
  const kv = contenders[2];
  const start = now();
  for (let i = 0; i < MEMORY_OPS; i += 64) {
    const batch = [];
    for (let j = 0; j < 64; j++) batch.push(kv.put(i + j));
    await Promise.all(batch);
  }
  const concurrentMs = now() - start;
  say(`memory mode, 64 puts in flight at a time: ${Math.round(MEMORY_OPS / (concurrentMs / 1000)).toLocaleString('en-US')} puts/s.`);
  say();
  report.sections.memory = { puts, gets, getLatency, putLatency, concurrentPutsPerSecond: Math.round(MEMORY_OPS / (concurrentMs / 1000)) };
  for (const contender of contenders) await contender.close();
}

// 2. cold gets: a reopened store (values read from the log, then cached)
{
  const directory = tempPath('kv-cold');
  fs.mkdirSync(directory, { recursive: true });
  const writer = await reeldbKv('buffered', directory);
  for (let i = 0; i < KEYS; i++) await writer.put(i);
  await writer.close();
  const reader = await reeldbKv('buffered', directory);
  const cold = await timed(reader, 'get', KEYS, 0);
  const warm = await timed(reader, 'get', KEYS, 0);
  say(`Reopened store (buffered, on disk): first get of each of ${KEYS.toLocaleString('en-US')} keys (one log read each) ${round((cold * 1000) / KEYS, 2)} µs/op; the same gets again (cached) ${round((warm * 1000) / KEYS, 2)} µs/op.`);
  say();
  report.sections.cold = { coldUsPerOp: round((cold * 1000) / KEYS, 2), warmUsPerOp: round((warm * 1000) / KEYS, 2) };
  await reader.close();
  removePath(directory);
}

// 3. on disk: buffered vs sqlite NORMAL, strict vs sqlite FULL (and lmdb when it loads)
for (const [durability, synchronous, ops] of [
  ['buffered', 'NORMAL', DISK_OPS],
  ['strict', 'FULL', STRICT_OPS],
]) {
  const directory = tempPath(`kv-${durability}`);
  fs.mkdirSync(directory, { recursive: true });
  const contenders = [await reeldbKv(durability, directory)];
  const sqliteContender = sqliteKv(synchronous, directory);
  if (sqliteContender.error) say(`better-sqlite3 does not load here: ${sqliteContender.error}`);
  else contenders.push(sqliteContender);
  if (durability === 'buffered') {
    const lmdb = lmdbKv(directory);
    if (lmdb.error) say(`${lmdb.error}; no lmdb baseline.`);
    else contenders.push(lmdb);
  }
  for (const contender of contenders) await timed(contender, 'put', Math.min(ops, 1000), 0);
  const puts = await compare(contenders, 'put', ops);
  table(`on disk, ${durability}: put (sequential awaits)`, puts, contenders[1]?.name ?? contenders[0].name);
  report.sections[durability] = { puts };
  for (const contender of contenders) await contender.close();
  removePath(directory);
}

say(`Load average of the machine (${os.cpus().length} cores) at the end: ${os.loadavg().map((load) => load.toFixed(2)).join(', ')} (1, 5, 15 min).`);
fs.writeFileSync(path.join(benchDirectory, 'kv.json'), `${JSON.stringify(report, null, 2)}\n`);
fs.writeFileSync(path.join(benchDirectory, 'tmp', `kv-${runtime}.md`), `${lines.join('\n')}\n`);
