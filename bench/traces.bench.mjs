// Traces: span start+end throughput in memory and buffered mode, one at a time and with many
// in flight, `record` (one entry per span), the same work as event appends (the baseline: two
// appends of the same payloads), and `traces.query` latency over many spans.
//
//   node bench/traces.bench.mjs [--spans N]      (after `npm run build`)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { benchDirectory, loadReeldb, percentile, runtimeVersion } from './lib.mjs';

const { open } = await loadReeldb();
const argument = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const SPANS = argument('--spans', 20_000);
const IN_FLIGHT = 64;
const QUERY_SPANS = argument('--query-spans', 100_000);

const temporary = path.join(benchDirectory, 'tmp');
fs.mkdirSync(temporary, { recursive: true });
let storeCount = 0;
function freshPath() {
  return path.join(temporary, `traces-${process.pid}-${storeCount++}.reel`);
}

/** A model call's input and output, about 200 bytes of JSON each. */
function input(index) {
  return { messages: [{ role: 'system', content: 'You are a support agent.' }, { role: 'user', content: `Where is order ${index}? It was due on Monday and has not arrived.` }] };
}
function output(index) {
  return { role: 'assistant', content: `Order ${index} left the warehouse yesterday; it should arrive tomorrow.`, finish: 'stop' };
}
const usage = { inputTokens: 120, outputTokens: 30, costUsd: 0.0021 };
const attributes = { 'gen_ai.request.model': 'model-a' };

async function withStore(durability, work) {
  const file = freshPath();
  const db = await open(file, { durability });
  try {
    return await work(db);
  } finally {
    await db.close();
    fs.rmSync(file, { recursive: true, force: true });
  }
}

/** Spans per second for `count` spans done by `lanes` concurrent loops of `one(index)`. */
async function throughput(count, lanes, one) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < count) await one(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return Math.round(count / seconds);
}

const results = {};
for (const durability of ['memory', 'buffered']) {
  for (const lanes of [1, IN_FLIGHT]) {
    const label = `${durability}, ${lanes === 1 ? 'one at a time' : `${lanes} in flight`}`;
    results[`start+end ${label}`] = await withStore(durability, async (db) => {
      const traces = db.traces.forRun('bench-run');
      const one = async (index) => {
        const span = await traces.start({ kind: 'llm_call', name: 'chat', input: input(index), attributes });
        await span.end({ output: output(index), usage });
      };
      await throughput(2000, lanes, one);
      return throughput(SPANS, lanes, one);
    });
    results[`record ${label}`] = await withStore(durability, async (db) => {
      const traces = db.traces.forRun('bench-run');
      const one = (index) => traces.record({ kind: 'llm_call', name: 'chat', input: input(index), output: output(index), usage, attributes, startedAt: index, endedAt: index + 5 });
      await throughput(2000, lanes, one);
      return throughput(SPANS, lanes, one);
    });
    results[`2 event appends ${label}`] = await withStore(durability, async (db) => {
      const one = async (index) => {
        await db.events.append('bench-run', [{ type: 'llm_call.start', data: { name: 'chat', input: input(index), attributes } }]);
        await db.events.append('bench-run', [{ type: 'llm_call.end', data: { output: output(index), usage } }]);
      };
      await throughput(2000, lanes, one);
      return throughput(SPANS, lanes, one);
    });
  }
}

// Query latency over many spans (memory mode): newest page, a run's page, a selective filter.
const queries = await withStore('memory', async (db) => {
  const runs = Array.from({ length: 100 }, (_, index) => db.traces.forRun(`run-${index}`));
  const pending = [];
  for (let index = 0; index < QUERY_SPANS; index++) {
    pending.push(runs[index % runs.length].record({ kind: index % 10 === 0 ? 'tool_call' : 'llm_call', name: 'chat', startedAt: index, endedAt: index + (index % 1000), usage }));
    if (pending.length === 1000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const measure = async (query) => {
    const samples = [];
    for (let round = 0; round < 300; round++) {
      const started = performance.now();
      await db.traces.query(query);
      samples.push((performance.now() - started) * 1000);
    }
    samples.sort((a, b) => a - b);
    return { p50: Math.round(percentile(samples, 0.5)), p99: Math.round(percentile(samples, 0.99)) };
  };
  const treeStarted = performance.now();
  const tree = await db.traces.tree('run-7');
  const treeMs = performance.now() - treeStarted;
  return {
    'newest 20': await measure({ limit: 20 }),
    'one run, 20': await measure({ runId: 'run-42', limit: 20 }),
    'kind tool_call, minDurationMs 900, 20': await measure({ kind: 'tool_call', minDurationMs: 900, limit: 20 }),
    [`tree of one run (${tree.spanCount} spans), ms`]: Math.round(treeMs * 10) / 10,
  };
});

console.log(`traces bench on ${runtimeVersion()}: ${SPANS} spans per figure (after 2,000 warm-up), query over ${QUERY_SPANS} spans`);
console.log('| workload | spans/s |');
console.log('|---|---:|');
for (const [name, value] of Object.entries(results)) console.log(`| ${name} | ${value.toLocaleString('en-US')} |`);
console.log('');
console.log('| query | p50 µs | p99 µs |');
console.log('|---|---:|---:|');
for (const [name, value] of Object.entries(queries)) {
  if (typeof value === 'number') console.log(`| ${name} | ${value} | |`);
  else console.log(`| ${name} | ${value.p50} | ${value.p99} |`);
}
