// Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and
// the most inclusive time, as a share of all samples.
//   node bench/cpuprofile-summary.mjs FILE.cpuprofile [top=25]
import * as fs from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile-summary.mjs FILE.cpuprofile [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const label = (node) => {
  const frame = node.callFrame;
  const where = frame.url ? `${frame.url.replace(/^.*\/(js\/dist|bench|node_modules)\//, '$1/')}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'} ${where}`.trim();
};

// Time per sample from the timeDeltas; count samples per node.
const selfTime = new Map();
let total = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas?.[index] ?? 1;
  selfTime.set(id, (selfTime.get(id) ?? 0) + delta);
  total += delta;
});

const selfByLabel = new Map();
const inclusiveByLabel = new Map();
for (const [id, time] of selfTime) {
  const node = nodes.get(id);
  selfByLabel.set(label(node), (selfByLabel.get(label(node)) ?? 0) + time);
  // Inclusive: credit every distinct function on the stack once.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const name = label(nodes.get(at));
    if (seen.has(name)) continue;
    seen.add(name);
    inclusiveByLabel.set(name, (inclusiveByLabel.get(name) ?? 0) + time);
  }
}

const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((time / total) * 100).toFixed(1).padStart(6)}%  ${(time / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  }
};
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time', selfByLabel);
print('inclusive time', inclusiveByLabel);
