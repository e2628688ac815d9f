// Shared helpers of the benchmark suite: runtime detection, loading reeldb and the optional
// better-sqlite3 baseline, realistic agent events, timing and statistics, temp directories.
// Plain ESM using only `node:` modules, so the same files run on Node, Deno and Bun.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const benchDirectory = path.dirname(fileURLToPath(import.meta.url));
export const rootDirectory = path.resolve(benchDirectory, '..');

export const runtime = typeof globalThis.Deno !== 'undefined' ? 'deno' : typeof globalThis.Bun !== 'undefined' ? 'bun' : 'node';

export function runtimeVersion() {
  if (runtime === 'deno') return `deno ${globalThis.Deno.version.deno} (V8 ${globalThis.Deno.version.v8})`;
  if (runtime === 'bun') return `bun ${globalThis.Bun.version} (JavaScriptCore)`;
  return `node ${process.version} (V8 ${process.versions.v8})`;
}

/** The reeldb entry point a user of this runtime gets (package.json "exports" conditions). */
export function loadReeldb() {
  return import(runtime === 'deno' ? '../js/dist/index.deno.js' : '../js/dist/index.node.js');
}

/** better-sqlite3, or `{ error }` when it cannot load here (not built, Deno, Bun…). */
export function loadSqlite() {
  try {
    const require = createRequire(import.meta.url);
    const Database = require('better-sqlite3');
    const probe = new Database(':memory:');
    const version = probe.prepare('select sqlite_version() as version').get().version;
    probe.close();
    return { Database, version };
  } catch (error) {
    return { error: String(error?.message ?? error).split('\n')[0] };
  }
}

// ---- time

export const now = () => performance.now();

/** Smallest step performance.now() shows here, in microseconds (runtimes may coarsen it). */
export function clockResolutionMicroseconds() {
  let smallest = Infinity;
  for (let sample = 0; sample < 200; sample++) {
    const start = performance.now();
    let next = performance.now();
    while (next === start) next = performance.now();
    smallest = Math.min(smallest, next - start);
  }
  return smallest * 1000;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted, fraction) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Latency summary (samples in milliseconds) reported in microseconds. */
export function latencySummary(samplesMs, totalMs) {
  const sorted = Float64Array.from(samplesMs).sort();
  const micro = (value) => round(value * 1000, 1);
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    p50Us: micro(percentile(sorted, 0.5)),
    p90Us: micro(percentile(sorted, 0.9)),
    p99Us: micro(percentile(sorted, 0.99)),
    p999Us: micro(percentile(sorted, 0.999)),
    maxUs: micro(sorted[sorted.length - 1]),
    meanUs: micro(sum / sorted.length),
    eventsPerSecond: Math.round(sorted.length / ((totalMs ?? sum) / 1000)),
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function round(value, digits = 2) {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function ratio(a, b) {
  return a && b ? round(a / b, 2) : null;
}

// ---- realistic agent events (150–300 bytes of JSON data each)

const QUERIES = [
  'how to configure exponential backoff for flaky HTTP calls in the ingestion worker',
  'latest quarterly revenue of the company compared to the previous year',
  'python asyncio cancel task on timeout without leaking the connection',
  'difference between fdatasync and fsync on ext4 with data=ordered',
  'best practices for idempotent webhook handlers and retries',
  'summarise open incidents tagged payments from the last 24 hours',
  'what does error ECONNRESET mean when calling the billing API',
  'find the owner of the checkout service runbook',
];
const TOOLS = ['search', 'fetch_url', 'run_sql', 'read_file', 'python'];
const MODELS = ['gpt-4.1-mini', 'claude-sonnet', 'llama-3.1-70b'];
const SNIPPETS = [
  'I will search the knowledge base first, then verify the answer against the runbook.',
  'The result mentions a retry policy; checking whether the worker already applies it.',
  'Two sources disagree on the number; fetching the primary document to confirm.',
  'The query returned no rows for that date range, widening the window to 7 days.',
];

/** The i-th event of an agent run: tool calls, tool results, model messages, decisions. */
export function agentEvent(i) {
  const call = `call_${(i >>> 2).toString(36).padStart(6, '0')}`;
  const event = agentEventData(i, call);
  event.data.span = `span_${(Math.imul(i + 1, 2654435761) >>> 0).toString(16).padStart(8, '0')}`;
  return event;
}

function agentEventData(i, call) {
  switch (i & 3) {
    case 0:
      return { type: 'tool_call', data: { tool: TOOLS[i % TOOLS.length], call_id: call, args: { q: QUERIES[i % QUERIES.length], top_k: 5, filters: { lang: 'en' } }, step: i } };
    case 1:
      return {
        type: 'tool_result',
        data: { tool: TOOLS[(i - 1) % TOOLS.length], call_id: call, ok: true, elapsed_ms: 40 + (i % 400), hits: [{ url: `https://docs.example.com/kb/${i % 9973}`, score: 0.91 }, { url: `https://wiki.example.com/p/${i % 7919}`, score: 0.77 }], step: i },
      };
    case 2:
      return { type: 'llm_message', data: { role: 'assistant', model: MODELS[i % MODELS.length], content: SNIPPETS[i % SNIPPETS.length], usage: { input_tokens: 1200 + (i % 900), output_tokens: 40 + (i % 200) }, step: i } };
    default:
      return { type: 'decision', data: { action: i % 7 === 0 ? 'finish' : 'continue', reason: SNIPPETS[(i + 1) % SNIPPETS.length].slice(0, 70), confidence: Math.round((0.5 + (i % 50) / 100) * 100) / 100, step: i } };
  }
}

/** Pre-built events (so object creation is not timed), with their JSON data size. */
export function makeEvents(count) {
  const events = new Array(count);
  let bytes = 0;
  let smallest = Infinity;
  let largest = 0;
  for (let i = 0; i < count; i++) {
    events[i] = agentEvent(i);
    const size = JSON.stringify(events[i].data).length;
    bytes += size;
    smallest = Math.min(smallest, size);
    largest = Math.max(largest, size);
  }
  return { events, dataBytes: { mean: Math.round(bytes / count), min: smallest, max: largest } };
}

// ---- temp directories

export const tmpRoot = path.join(benchDirectory, 'tmp');

export function tempPath(name) {
  fs.mkdirSync(tmpRoot, { recursive: true });
  const target = path.join(tmpRoot, `${runtime}-${process.pid}-${name}`);
  fs.rmSync(target, { recursive: true, force: true });
  return target;
}

/** Removes whatever this process left in bench/tmp (after a failed benchmark). */
export function removeOwnTemp() {
  const prefix = `${runtime}-${process.pid}-`;
  for (const name of fs.existsSync(tmpRoot) ? fs.readdirSync(tmpRoot) : []) if (name.startsWith(prefix)) removePath(path.join(tmpRoot, name));
}

export function removePath(target) {
  fs.rmSync(target, { recursive: true, force: true });
}

export function directoryBytes(target) {
  let total = 0;
  for (const entry of fs.readdirSync(target, { withFileTypes: true })) {
    const full = path.join(target, entry.name);
    total += entry.isDirectory() ? directoryBytes(full) : fs.statSync(full).size;
  }
  return total;
}

/** Lets timers, I/O callbacks and GC breathe between measurements. */
export function pause(ms = 50) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects garbage between measurements where the runtime allows it. */
export function collectGarbage() {
  if (typeof globalThis.gc === 'function') globalThis.gc();
  else if (runtime === 'bun') globalThis.Bun.gc(true);
}

/** Command that runs a script of this suite in the current runtime (for child processes). */
export function runtimeCommand(script, args = []) {
  if (runtime === 'deno') return [globalThis.Deno.execPath(), ['run', '-A', '--v8-flags=--expose-gc', script, ...args]];
  if (runtime === 'bun') return [process.execPath, [script, ...args]];
  return [process.execPath, ['--expose-gc', script, ...args]];
}

// ---- other load on the machine (other engineers' builds and tests share these 2 cores)

/** Jiffies of the whole machine from /proc/stat (undefined off Linux). */
function machineJiffies() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function ownCpuMicroseconds() {
  try {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  } catch {
    return undefined;
  }
}

/**
 * Measures the CPU that other processes use while `work` runs: machine busy time minus this
 * process's own, in cores (0 = quiet, 2 = both cores taken by someone else).
 */
export async function measureOtherLoad(work) {
  const cores = os.cpus().length;
  const startJiffies = machineJiffies();
  const startOwn = ownCpuMicroseconds();
  const startTime = performance.now();
  const output = await work();
  const endJiffies = machineJiffies();
  const endOwn = ownCpuMicroseconds();
  const elapsedMs = performance.now() - startTime;
  if (!startJiffies || !endJiffies || startOwn === undefined || endOwn === undefined || elapsedMs <= 0) return { output, otherCores: undefined };
  const totalJiffies = endJiffies.total - startJiffies.total;
  const busyCores = totalJiffies > 0 ? ((endJiffies.busy - startJiffies.busy) / totalJiffies) * cores : 0;
  // Child processes that `work` ran report their CPU time as `output.childCpuMs`.
  const ownCores = (endOwn - startOwn + (output?.childCpuMs ?? 0) * 1000) / 1000 / elapsedMs;
  return { output, otherCores: Math.max(0, Math.round((busyCores - ownCores) * 100) / 100) };
}

/** Waits (up to `maxMs`) until other processes use less than `thresholdCores`; returns what it saw. */
export async function waitForQuiet({ thresholdCores = 0.15, maxMs = 30_000, sampleMs = 500 } = {}) {
  const started = performance.now();
  let load;
  do {
    ({ otherCores: load } = await measureOtherLoad(() => pause(sampleMs)));
    if (load === undefined || load < thresholdCores) break;
  } while (performance.now() - started < maxMs);
  return { otherCores: load, waitedMs: Math.round(performance.now() - started) };
}
