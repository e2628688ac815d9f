// reeldb agent demo: a simulated "triage" agent records one run into a store, the store is
// closed and reopened, the run is replayed, and the replay is checked against what was
// recorded. Deterministic: a seeded PRNG drives the agent (no network, no clock-based
// randomness); only the measured timings and the event timestamps differ between runs.
//
//   node examples/agent-demo/main.mjs [store-path] [--keep] [--seed N]
//
// Without a path the store goes to a temporary directory, removed at the end unless --keep.
// A path that did not exist is removed too unless --keep; an existing store is never removed
// (each demo run adds a new stream run-<n> to it).
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isDeepStrictEqual } from 'node:util';
import { open, WrongExpectedVersionError } from '../../js/dist/index.node.js';

// ---------------------------------------------------------------------------------------------
// Arguments

const argv = process.argv.slice(2);
const keep = argv.includes('--keep');
const seedFlag = argv.indexOf('--seed');
const seed = seedFlag >= 0 ? Number(argv[seedFlag + 1]) : 42;
const pathArgument = argv.find((argument, index) => !argument.startsWith('--') && argv[index - 1] !== '--seed');
if (!Number.isSafeInteger(seed) || argv.some((argument) => argument.startsWith('--') && !['--keep', '--seed'].includes(argument))) {
  process.stderr.write('usage: node examples/agent-demo/main.mjs [store-path] [--keep] [--seed N]\n');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Terminal styling (only on a terminal, and never with NO_COLOR)

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const style = (code) => (text) => (color ? `\x1b[${code}m${text}\x1b[0m` : String(text));
const bold = style('1');
const dim = style('2');
const green = style('32');
const red = style('31');
const cyan = style('36');
// `… | head` closes stdout early: stop printing, but still finish and clean up.
let stdoutOpen = true;
process.stdout.on('error', () => (stdoutOpen = false));
const say = (line = '') => stdoutOpen && process.stdout.write(`${line}\n`);
const row = (label, value) => say(`  ${dim(label.padEnd(10))} ${value}`);

// ---------------------------------------------------------------------------------------------
// A deterministic PRNG (mulberry32) and the simulated agent

function prng(seedValue) {
  let state = seedValue >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (low, high) => low + Math.floor(next() * (high - low + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (probability) => next() < probability,
  };
}

const TASK = 'CI is red: test_parse_dates fails intermittently since the timezone change';
const PLAN = ['reproduce', 'locate the cause', 'fix', 're-run the tests', 'report'];
const QUERIES = ['parseDate', 'timezone', 'TZ=', 'new Date(', 'toISOString', 'getTimezoneOffset'];
const FILES = ['src/dates.ts', 'src/config.ts', 'src/tz.ts', 'test/dates.test.ts', 'docs/CHANGELOG.md', 'src/format.ts'];
/** Simulated tool latency ranges, in milliseconds. */
const LATENCY_MS = { search: [180, 900], read_file: [15, 120], run_tests: [3200, 9400], edit_file: [40, 220] };

/**
 * Runs the simulated agent. `emit(type, data)` records one step; the agent only sees what a
 * real one would: its task, the tool results and a simulated clock.
 */
async function runAgent(random, emit) {
  let clockMs = 0;
  let callNumber = 0;
  const think = (low, high) => (clockMs += random.int(low, high));
  const tool = async (name, args, result) => {
    const callId = `call_${String(++callNumber).padStart(2, '0')}`;
    await emit('tool_call', { callId, tool: name, args }, clockMs);
    const durationMs = random.int(...LATENCY_MS[name]);
    clockMs += durationMs;
    // Tools fail now and then (a timeout); the agent retries the same call once.
    if (name !== 'run_tests' && random.chance(0.12)) {
      await emit('tool_result', { callId, tool: name, ok: false, durationMs, error: 'timeout' }, clockMs);
      return tool(name, args, result);
    }
    const output = result();
    await emit('tool_result', { callId, tool: name, ok: true, durationMs, ...output }, clockMs);
    return output;
  };

  await emit('user_message', { text: TASK }, clockMs);
  think(600, 1800);
  await emit('plan', { steps: PLAN }, clockMs);

  think(200, 600);
  const tests = () => random.int(38, 46);
  const total = tests();
  await tool('run_tests', { filter: 'dates' }, () => ({ passed: total - 1, failed: 1, failures: ['test_parse_dates'] }));

  // Investigate: search and read until the cause is found (4–7 looks).
  const looks = random.int(4, 7);
  let suspect = 'src/dates.ts';
  for (let look = 0; look < looks; look++) {
    think(300, 1200);
    if (look % 2 === 0) {
      const query = random.pick(QUERIES);
      await tool('search', { query }, () => ({ hits: [random.pick(FILES), random.pick(FILES)].filter((file, index, all) => all.indexOf(file) === index) }));
    } else {
      const path = look === looks - 1 ? suspect : random.pick(FILES);
      await tool('read_file', { path }, () => ({ lines: random.int(40, 400), excerpt: path === suspect ? 'return new Date(year, month - 1, day)' : '…' }));
    }
  }
  think(900, 2400);
  const confidence = Math.round((0.72 + random.next() * 0.22) * 100) / 100;
  await emit('decision', { kind: 'root_cause', file: suspect, summary: 'parseDate builds dates in local time; CI runs in UTC+2', confidence }, clockMs);

  think(400, 1200);
  const patch = '--- a/src/dates.ts\n+++ b/src/dates.ts\n-  return new Date(year, month - 1, day);\n+  return new Date(Date.UTC(year, month - 1, day));\n';
  const edit = await tool('edit_file', { path: suspect }, () => ({ linesChanged: 2 }));
  // The patch itself is kept as binary data (read back as a Uint8Array).
  await emit('artifact', new TextEncoder().encode(patch), clockMs);

  // Re-run the tests until they pass three times in a row (a flaky test deserves that).
  let greenRuns = 0;
  let attempts = 0;
  while (greenRuns < 3 && attempts < 6) {
    attempts++;
    think(100, 400);
    const flaked = attempts === 1 && random.chance(0.5);
    await tool('run_tests', { filter: 'dates', attempt: attempts }, () => (flaked ? { passed: total - 1, failed: 1, failures: ['test_parse_dates_dst'] } : { passed: total, failed: 0 }));
    greenRuns = flaked ? 0 : greenRuns + 1;
  }
  think(500, 1500);
  await emit('decision', { kind: 'action', action: 'open_pull_request', confidence: Math.min(0.99, confidence + 0.08) }, clockMs);
  think(300, 900);
  await emit('final_answer', { text: `Fixed parseDate to build dates in UTC (${edit.linesChanged} lines in ${suspect}); test_parse_dates passed ${greenRuns} runs in a row. PR ready for review.` }, clockMs);
}

// ---------------------------------------------------------------------------------------------
// Record, reopen, replay, compare

const createdTemporary = !pathArgument;
const storePath = pathArgument ? resolve(pathArgument) : join(mkdtempSync(join(tmpdir(), 'reeldb-demo-')), 'agent.reel');
const existedBefore = !!pathArgument && existsSync(storePath);
const removable = createdTemporary ? join(storePath, '..') : existedBefore ? undefined : storePath;

function directoryBytes(path) {
  let total = 0;
  for (const name of readdirSync(path)) {
    const entry = join(path, name);
    const stats = statSync(entry);
    total += stats.isDirectory() ? directoryBytes(entry) : stats.size;
  }
  return total;
}

function formatBytes(bytes) {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

const seconds = (milliseconds) => (milliseconds < 1000 ? `${milliseconds} ms` : `${(milliseconds / 1000).toFixed(1)} s`);
const elapsed = (since) => `${(performance.now() - since).toFixed(1)} ms`;

async function main() {
  say(`${bold('reeldb agent demo')}: a simulated "triage" agent ${dim(`(seed ${seed}, deterministic, no network)`)}`);
  say();

  // --- record ---------------------------------------------------------------------------------
  let db = await open(storePath); // durability 'strict': every append is fsynced before it returns
  const runNumber = 1 + Math.max(0, ...db.events.streamNames().map((name) => Number(/^run-(\d+)$/.exec(name)?.[1] ?? 0)));
  const run = `run-${runNumber}`;
  say(`recording ${cyan(run)} into ${storePath}`);

  const recorded = []; // every event this demo wrote, in log order
  const logVersion = () => db.events.streamVersion('agent-log') ?? 'no_stream';
  const logEvent = async (type, data) => recorded.push(...(await db.events.append('agent-log', [{ id: `${run}/${type}`, type, data }], { expectedVersion: logVersion() })));

  const recordStarted = performance.now();
  let appends = 0;
  await logEvent('run_started', { run, agent: 'triage', seed, task: TASK });
  appends++;
  let version = 'no_stream'; // the run's last version as this writer knows it
  let step = 0;
  // What the agent knows, checkpointed after every step (as an agent framework would).
  const agentState = { run, task: TASK, step: 0, transcript: [] };
  const checkpointTotals = { saves: 0, rawBytes: 0, storedBytes: 0, full: 0, delta: 0 };
  await runAgent(prng(seed), async (type, data, clockMs) => {
    const id = `${run}/${String(step).padStart(3, '0')}`;
    const [event] = await db.events.append(run, [{ id, type, data, metadata: { agent: 'triage', step: step++, clockMs } }], { expectedVersion: version });
    version = event.streamVersion;
    recorded.push(event);
    appends++;
    agentState.step = step;
    agentState.transcript.push({ type, data: data instanceof Uint8Array ? { binaryBytes: data.length } : data });
    const info = await db.checkpoints.save(run, agentState, { metadata: { step } });
    checkpointTotals.saves++;
    checkpointTotals.rawBytes += info.rawBytes;
    checkpointTotals.storedBytes += info.storedBytes;
    checkpointTotals[info.encoding]++;
  });
  await logEvent('run_finished', { run, steps: step, outcome: 'pull_request' });
  appends++;
  const recordTime = elapsed(recordStarted);

  // A second writer that read the run earlier appends with a stale expected version: rejected.
  const staleVersion = version - 5;
  let conflict;
  try {
    await db.events.append(run, [{ type: 'note', data: { text: 'late note from a stale worker' } }], { expectedVersion: staleVersion });
  } catch (error) {
    if (!(error instanceof WrongExpectedVersionError)) throw error;
    conflict = error;
  }
  await db.close();

  // --- reopen and replay ------------------------------------------------------------------------
  const reopenStarted = performance.now();
  db = await open(storePath);
  const reopenTime = elapsed(reopenStarted);
  const stats = db.stats();

  const replayStarted = performance.now();
  const replayed = [];
  for await (const event of db.events.replay({ fromPosition: recorded[0].position })) replayed.push(event);
  const replayTime = elapsed(replayStarted);
  const loadStarted = performance.now();
  const checkpoint = await db.checkpoints.load(run);
  const loadTime = elapsed(loadStarted);
  const runEvents = await db.events.readStream(run);
  const logEvents = await db.events.readStream('agent-log');
  await db.close();

  const mismatches = [];
  const compare = (label, expected, actual) => {
    if (expected.length !== actual.length) mismatches.push(`${label}: ${expected.length} events recorded, ${actual.length} read back`);
    expected.forEach((event, index) => {
      if (!isDeepStrictEqual(event, actual[index])) mismatches.push(`${label}[${index}]: recorded ${JSON.stringify(event)}, read back ${JSON.stringify(actual[index])}`);
    });
  };
  compare('replay()', recorded, replayed);
  compare(`readStream('${run}')`, recorded.filter((event) => event.stream === run), runEvents);
  if (!isDeepStrictEqual(checkpoint?.state, agentState)) mismatches.push(`checkpoints.load('${run}') does not equal the agent's last state`);
  if (!conflict) mismatches.push('the stale append was not rejected with WrongExpectedVersionError');

  // --- summary, from what was read back --------------------------------------------------------
  const types = new Map();
  const tools = new Map();
  let failedCalls = 0;
  for (const event of runEvents) {
    types.set(event.type, (types.get(event.type) ?? 0) + 1);
    if (event.type !== 'tool_result') continue;
    const entry = tools.get(event.data.tool) ?? { calls: 0, ms: 0 };
    entry.calls++;
    entry.ms += event.data.durationMs;
    tools.set(event.data.tool, entry);
    if (!event.data.ok) failedCalls++;
  }
  const of = (type) => runEvents.filter((event) => event.type === type);
  const rootCause = of('decision').find((event) => event.data.kind === 'root_cause').data;
  const simulatedMs = runEvents[runEvents.length - 1].metadata.clockMs;
  const patchBytes = of('artifact')[0].data;

  row('task', TASK);
  row('plan', of('plan')[0].data.steps.join(' → '));
  row('steps', `${runEvents.length} events: ${[...types].map(([type, count]) => `${count} ${type}`).join(', ')}`);
  row('tools', `${[...tools].map(([name, entry]) => `${name} ×${entry.calls}`).join(' · ')}${failedCalls ? `  (${failedCalls} timed out, retried)` : ''}`);
  row('tool time', `${[...tools].map(([name, entry]) => `${name} ${seconds(entry.ms)}`).join(' · ')}  ${dim(`(simulated; whole run ${seconds(simulatedMs)})`)}`);
  row('decision', `${rootCause.summary} ${dim(`(confidence ${rootCause.confidence})`)}`);
  row('artifact', `a ${patchBytes.length}-byte patch, stored as binary data`);
  row('answer', of('final_answer')[0].data.text);
  row('recorded', `${appends} appends in ${recordTime}, each fsynced before it returned (strict durability)`);
  row(
    'checkpoints',
    `${checkpointTotals.saves} saved, one per step (${checkpointTotals.full} full, ${checkpointTotals.delta} delta): ${formatBytes(checkpointTotals.rawBytes)} of state → ${formatBytes(checkpointTotals.storedBytes)} stored ` +
      `(${(checkpointTotals.rawBytes / checkpointTotals.storedBytes).toFixed(0)}× smaller than saving each state whole)`,
  );
  row('conflict', conflict ? `a stale writer (expectedVersion ${staleVersion}, stream at ${conflict.actual}) got ${conflict.code}; nothing written ${green('✓')}` : red('✗ not detected'));
  say();
  row('reopened', `in ${reopenTime}: recovered ${stats.entries} entries from ${stats.segments.length} segment${stats.segments.length === 1 ? '' : 's'}`);
  row('replayed', `replay(): ${replayed.length} events in ${replayTime} · readStream('${run}'): ${runEvents.length} · agent-log: ${logEvents.length}`);
  row('resumed', checkpoint ? `checkpoints.load('${run}') in ${loadTime}: step ${checkpoint.state.step}, ${formatBytes(checkpoint.info.rawBytes)} of state (${checkpoint.info.encoding}, ${formatBytes(checkpoint.info.storedBytes)} stored)` : red('✗ no checkpoint'));
  if (mismatches.length === 0) row('check', `every replayed event equals the recorded one (id, type, data, metadata, version, position, time), and the loaded checkpoint equals the agent's last state ${green('✓')}`);
  else for (const mismatch of mismatches.slice(0, 5)) row('check', red(`✗ ${mismatch.length > 300 ? `${mismatch.slice(0, 300)}…` : mismatch}`));
  const diskBytes = directoryBytes(storePath);
  row('store', `${storePath}: ${formatBytes(diskBytes)} on disk, ${Math.round(stats.bytes / stats.entries)} B of log per event`);
  const cli = relative(process.cwd(), new URL('../../js/bin/reeldb.mjs', import.meta.url).pathname) || 'js/bin/reeldb.mjs';
  const kept = keep || !removable || mismatches.length > 0;
  if (kept) row('look', `node ${cli} inspect ${storePath}   ${dim(`(also: verify, dump --stream ${run}, stats)`)}`);
  else {
    rmSync(removable, { recursive: true, force: true });
    row('removed', `${removable} ${dim('(pass --keep to keep it and look with: reeldb inspect, dump, stats)')}`);
  }
  return mismatches.length === 0 ? 0 : 1;
}

main().then(
  (code) => (process.exitCode = code),
  (error) => {
    process.stderr.write(`agent demo failed: ${error?.message ?? error}${error?.code ? ` (${error.code})` : ''}\n`);
    process.exitCode = 1;
  },
);
