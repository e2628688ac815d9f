// Checkpoint benchmark: a growing agent state (one ~500-byte message added per step) saved
// after every step and loaded back, side by side in one process run, by
//   - reeldb checkpoints (strict durability: fdatasync before save resolves), with JSON states
//     and with states the caller packs with msgpackr and saves as bytes,
//   - @langchain/langgraph-checkpoint-sqlite (SqliteSaver: better-sqlite3, WAL, one row per checkpoint),
//   - a msgpack full-file baseline (msgpackr pack, write temp + fsync + rename, per thread).
// Reports disk bytes, save p50/p99, cold load p50/p99 (newest checkpoint, in a freshly opened
// store, so no cache helps), and the wasm core's zstd speed. Writes bench/checkpoints.json and
// the tables between the checkpoints markers of bench/RESULTS.md.
//   node bench/checkpoints.mjs [--quick] [--steps 300,1000]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { benchDirectory, collectGarbage, directoryBytes, latencySummary, loadReeldb, median, now, pause, removePath, round, runtime, runtimeVersion, tempPath } from './lib.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const stepsFlag = args.indexOf('--steps');
const STEP_COUNTS = stepsFlag >= 0 ? args[stepsFlag + 1].split(',').map(Number) : quick ? [50] : [300, 1000];
const COLD_LOADS = quick ? 5 : 25;
const MESSAGE_BYTES = 500;

const reeldb = await loadReeldb();
const require = createRequire(import.meta.url);

/** Deterministic text of about `bytes` bytes that compresses like prose, not like zeros. */
function message(step) {
  const words = ['the', 'agent', 'called', 'search', 'with', 'query', 'results', 'ranked', 'tool', 'error', 'retry', 'plan', 'step', 'answer', 'context', 'window', 'token', 'budget'];
  let text = `step ${step}:`;
  let seed = step * 2654435761;
  while (text.length < MESSAGE_BYTES - 60) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    text += ` ${words[seed % words.length]}${seed % 7 === 0 ? ` ${seed % 10007}` : ''}`;
  }
  return { role: step % 2 ? 'assistant' : 'user', content: text, id: `msg-${step}`, tokens: 100 + (step % 50) };
}

function stateAt(messages, step) {
  return { messages, step, scratchpad: { lastTool: step % 3 ? 'search' : 'read_file', attempts: step % 4 } };
}

async function reeldbContender(directory) {
  const store = await reeldb.open(path.join(directory, 'agent.reel'), { durability: 'strict' });
  let db = store;
  const infos = [];
  return {
    name: 'reeldb (strict)',
    save: async (state, step) => infos.push(await db.checkpoints.save('thread-1', state, { metadata: { step } })),
    reopen: async () => {
      await db.close();
      db = await reeldb.open(path.join(directory, 'agent.reel'), { durability: 'strict' });
    },
    load: async () => (await db.checkpoints.load('thread-1')).state,
    close: () => db.close(),
    bytes: () => directoryBytes(directory),
    extra: () => ({ full: infos.filter((info) => info.encoding === 'full').length, delta: infos.filter((info) => info.encoding === 'delta').length }),
  };
}

/** reeldb with the state serialised by msgpackr and saved as bytes (the caller's choice of serialiser). */
async function reeldbMsgpackContender(directory) {
  const msgpackr = loadMsgpackr();
  if (msgpackr.error) return msgpackr;
  const { pack, unpack } = msgpackr;
  const contender = await reeldbContender(directory);
  return {
    ...contender,
    name: 'reeldb (strict, msgpackr bytes)',
    save: (state, step) => contender.save(pack(state), step),
    load: async () => unpack(await contender.load()),
  };
}

async function sqliteContender(directory) {
  let SqliteSaver;
  let uuid6;
  try {
    ({ SqliteSaver } = await import('@langchain/langgraph-checkpoint-sqlite'));
    ({ uuid6 } = await import('@langchain/langgraph-checkpoint'));
  } catch (error) {
    return { error: String(error?.message ?? error).split('\n')[0] };
  }
  const file = path.join(directory, 'checkpoints.sqlite');
  fs.mkdirSync(directory, { recursive: true });
  let saver = SqliteSaver.fromConnString(file);
  let parent;
  const config = () => ({ configurable: { thread_id: 'thread-1', checkpoint_ns: '', ...(parent ? { checkpoint_id: parent } : {}) } });
  return {
    name: 'LangGraph SqliteSaver',
    save: async (state, step) => {
      const checkpoint = { v: 4, id: uuid6(step), ts: new Date().toISOString(), channel_values: state, channel_versions: { messages: step }, versions_seen: {} };
      const next = await saver.put(config(), checkpoint, { source: 'loop', step, parents: {} }, {});
      parent = next.configurable.checkpoint_id;
    },
    reopen: async () => {
      saver.db.close();
      saver = SqliteSaver.fromConnString(file);
    },
    load: async () => (await saver.getTuple({ configurable: { thread_id: 'thread-1', checkpoint_ns: '' } })).checkpoint.channel_values,
    close: async () => saver.db.close(),
    bytes: () => directoryBytes(directory),
    extra: () => ({}),
  };
}

/** msgpackr's pack/unpack, or { error } when it does not load here. */
function loadMsgpackr() {
  try {
    return require('msgpackr');
  } catch (error) {
    return { error: String(error?.message ?? error).split('\n')[0] };
  }
}

function msgpackContender(directory) {
  const msgpackr = loadMsgpackr();
  if (msgpackr.error) return msgpackr;
  const { pack, unpack } = msgpackr;
  fs.mkdirSync(directory, { recursive: true });
  const file = path.join(directory, 'thread-1.msgpack');
  return {
    name: 'msgpack full file',
    save: async (state) => {
      const temporary = `${file}.tmp`;
      const handle = fs.openSync(temporary, 'w');
      fs.writeSync(handle, pack(state));
      fs.fdatasyncSync(handle);
      fs.closeSync(handle);
      fs.renameSync(temporary, file);
    },
    reopen: async () => {},
    load: async () => unpack(fs.readFileSync(file)),
    close: async () => {},
    bytes: () => directoryBytes(directory),
    extra: () => ({}),
  };
}

async function runSteps(makeContender, steps) {
  const directory = tempPath(`checkpoints-${steps}-${Math.random().toString(36).slice(2, 8)}`);
  fs.mkdirSync(directory, { recursive: true });
  const contender = await makeContender(directory);
  if (contender.error) return { error: contender.error };
  const messages = [];
  const saveMs = [];
  let finalState;
  const started = now();
  for (let step = 0; step < steps; step++) {
    messages.push(message(step));
    finalState = stateAt(messages, step);
    const before = now();
    await contender.save(finalState, step);
    saveMs.push(now() - before);
  }
  const saveTotalMs = now() - started;
  const rawBytes = Buffer.byteLength(JSON.stringify(finalState));
  const loadMs = [];
  for (let round = 0; round < COLD_LOADS; round++) {
    await contender.reopen();
    collectGarbage();
    const before = now();
    const loaded = await contender.load();
    loadMs.push(now() - before);
    if (round === 0 && JSON.stringify(loaded) !== JSON.stringify(finalState)) throw new Error(`${contender.name}: the loaded state differs from the saved one`);
  }
  await contender.close();
  const diskBytes = contender.bytes();
  const result = { name: contender.name, steps, finalStateBytes: rawBytes, diskBytes, save: latencySummary(saveMs, saveTotalMs), load: latencySummary(loadMs, loadMs.reduce((sum, value) => sum + value, 0)), ...contender.extra() };
  removePath(directory);
  return result;
}

async function codecSpeed() {
  const core = await reeldb.init();
  const messages = Array.from({ length: 1000 }, (_, step) => message(step));
  const raw = new TextEncoder().encode(JSON.stringify(stateAt(messages, 999)));
  const time = (reps, work) => {
    work();
    const samples = [];
    for (let rep = 0; rep < reps; rep++) {
      const before = now();
      work();
      samples.push(now() - before);
    }
    return median(samples);
  };
  const full = core.encodeCheckpointFull(raw);
  const compressMs = time(20, () => core.encodeCheckpointFull(raw));
  const decompressMs = time(20, () => core.decodeCheckpoint(full, undefined, raw.length));
  const previous = new TextEncoder().encode(JSON.stringify(stateAt(messages.slice(0, 999), 998)));
  const delta = core.encodeCheckpointDelta(previous, raw);
  const deltaEncodeMs = time(50, () => core.encodeCheckpointDelta(previous, raw));
  const deltaDecodeMs = time(50, () => core.decodeCheckpoint(delta, previous, raw.length));
  const mbps = (bytes, ms) => round(bytes / 1e6 / (ms / 1000), 0);
  return {
    stateBytes: raw.length,
    fullBytes: full.length,
    compressMBps: mbps(raw.length, compressMs),
    decompressMBps: mbps(raw.length, decompressMs),
    deltaBytes: delta.length,
    deltaEncodeMs: round(deltaEncodeMs, 3),
    deltaDecodeMs: round(deltaDecodeMs, 3),
  };
}

const results = { date: new Date().toISOString(), runtime: runtimeVersion(), quick, runs: [] };
for (const steps of STEP_COUNTS) {
  // Interleaved by contender, one after another on the same disk, in one process.
  for (const make of [reeldbContender, reeldbMsgpackContender, sqliteContender, msgpackContender]) {
    const result = await runSteps(make, steps);
    if (result.error) console.log(`  ${make.name}: skipped (${result.error})`);
    else {
      results.runs.push(result);
      console.log(`  ${steps} steps · ${result.name}: disk ${(result.diskBytes / 1024).toFixed(0)} KiB, save p50 ${result.save.p50Us} µs p99 ${result.save.p99Us} µs, cold load p50 ${result.load.p50Us} µs p99 ${result.load.p99Us} µs`);
    }
    await pause(200);
  }
}
results.codec = await codecSpeed();
console.log(`  zstd in wasm: ${JSON.stringify(results.codec)}`);

// ---- report
const fmtKiB = (bytes) => `${(bytes / 1024).toLocaleString('en-US', { maximumFractionDigits: 1 })} KiB`;
const fmtUs = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${Math.round(us)} µs`);
const lines = [];
lines.push(`Measured ${results.date.slice(0, 10)} by \`node bench/checkpoints.mjs\` on ${results.runtime}${quick ? ' (--quick)' : ''}. One thread; each step adds one ~${MESSAGE_BYTES}-byte message to the state and saves the whole state; every contender runs in the same process, one after another, on the same disk. Cold load = the newest checkpoint, read from a store/connection opened just before (no cache), ${COLD_LOADS} times.`);
lines.push('');
lines.push('| steps | final state | contender | disk | disk vs SQLite | save p50 | save p99 | cold load p50 | cold load p99 | notes |');
lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const steps of STEP_COUNTS) {
  const runs = results.runs.filter((run) => run.steps === steps);
  const sqlite = runs.find((run) => run.name.startsWith('LangGraph'));
  for (const run of runs) {
    const notes = run.full !== undefined ? `${run.full} full + ${run.delta} delta` : '';
    lines.push(`| ${steps} | ${fmtKiB(run.finalStateBytes)} | ${run.name} | ${fmtKiB(run.diskBytes)} | ${sqlite ? `1/${round(sqlite.diskBytes / run.diskBytes, 1)}` : 'n/a'} | ${fmtUs(run.save.p50Us)} | ${fmtUs(run.save.p99Us)} | ${fmtUs(run.load.p50Us)} | ${fmtUs(run.load.p99Us)} | ${notes} |`);
  }
}
const codec = results.codec;
lines.push('');
lines.push(`zstd in the wasm core (${fmtKiB(codec.stateBytes)} JSON state): full compress ${codec.compressMBps} MB/s (to ${fmtKiB(codec.fullBytes)}), decompress ${codec.decompressMBps} MB/s; delta of one added message: ${codec.deltaBytes} bytes, encoded in ${codec.deltaEncodeMs} ms and applied in ${codec.deltaDecodeMs} ms.`);
const table = lines.join('\n');
console.log(`\n${table}`);
if (!quick) {
  fs.writeFileSync(path.join(benchDirectory, 'checkpoints.json'), `${JSON.stringify(results, null, 2)}\n`);
  const resultsFile = path.join(benchDirectory, 'RESULTS.md');
  const text = fs.readFileSync(resultsFile, 'utf8');
  const begin = '<!-- checkpoints:begin — generated by bench/checkpoints.mjs; edit outside these markers -->';
  const end = '<!-- checkpoints:end -->';
  const block = `${begin}\n\n${table}\n\n${end}`;
  const next = text.includes(begin) ? text.replace(new RegExp(`${begin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n## Checkpoints (${runtime})\n\n${block}\n`;
  fs.writeFileSync(resultsFile, next);
  console.log('\nwrote bench/checkpoints.json and the checkpoints section of bench/RESULTS.md');
}
