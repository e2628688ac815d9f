// The long reliability run, on demand: the same tests npm test runs (crash sweeps, kill -9
// loop, media-damage sweep, model-based and bad-input property tests), with much larger
// counts, on each runtime; prints the figures docs/RELIABILITY.md quotes.
//   node scripts/reliability-long.mjs [--runtime node,deno,bun] [--scale N]
// --scale multiplies every count (default 10: 100,000 crash points (plus 30,000 with
// checkpoints and 20,000 with snapshots), 440 kills, 3,600 damages (plus 600 to snapshots),
// 1,500 model sequences, 4,000 bad-input runs per call, 400 snapshot histories and 30 seeds
// per I/O operation of a prune, on each runtime; the primitive kit per primitive: 400 model
// sequences, 80 snapshot histories, 2,400 crash points, 20 prune seeds, 600 damages, 1,000
// junk calls). Add --fuzz to also run
// scripts/fuzz.sh for 60 s per target afterwards.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : fallback;
};
const runtimes = option('--runtime', 'node,deno,bun');
const scale = Number(option('--scale', '10'));
if (!Number.isFinite(scale) || scale <= 0) {
  console.error('reliability-long: --scale must be a positive number');
  process.exit(2);
}
const counts = {
  REELDB_CRASH_POINTS: String(Math.round(10_000 * scale)),
  REELDB_KILLS: String(Math.round(44 * scale)),
  REELDB_CORRUPTION_CASES: String(Math.round(360 * scale)),
  REELDB_MODEL_RUNS: String(Math.round(150 * scale)),
  REELDB_BAD_INPUT_RUNS: String(Math.round(400 * scale)),
  REELDB_VALUE_RUNS: String(Math.round(300 * scale)),
  REELDB_SNAPSHOT_RUNS: String(Math.round(40 * scale)),
  REELDB_PRUNE_SEEDS: String(Math.round(3 * scale)),
  REELDB_STRESS_ROUNDS: String(Math.round(20 * scale)),
  REELDB_DISK_FULL_SEEDS: String(Math.round(1 * scale)),
  // The primitive kit (test/primitive-kit.test.ts), per primitive.
  REELDB_KIT_MODEL_RUNS: String(Math.round(40 * scale)),
  REELDB_KIT_SNAPSHOT_RUNS: String(Math.round(8 * scale)),
  REELDB_KIT_CRASH_POINTS: String(Math.round(240 * scale)),
  REELDB_KIT_PRUNE_SEEDS: String(Math.round(2 * scale)),
  REELDB_KIT_DAMAGE_CASES: String(Math.round(60 * scale)),
  REELDB_KIT_BAD_INPUT_RUNS: String(Math.round(100 * scale)),
};
const env = { ...process.env, ...counts };
const files = ['test/crash-sweep.test.ts', 'test/kill.test.ts', 'test/corruption-sweep.test.ts', 'test/model.test.ts', 'test/bad-input.test.ts', 'test/snapshot.test.ts', 'test/prune.test.ts', 'test/kill-prune.test.ts', 'test/concurrency.test.ts', 'test/disk-full.test.ts', 'test/values.test.ts', 'test/primitive-kit.test.ts'];
console.log(`reliability-long: scale ${scale} on ${runtimes}: ${Object.entries(counts).map(([name, value]) => `${name}=${value}`).join(' ')}`);
const started = Date.now();
const run = spawnSync(process.execPath, [join(root, 'scripts/test-all.mjs'), '--runtime', runtimes, ...files], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
const output = run.stdout ?? '';
const figures = output.split('\n').filter((line) => /^(crash sweep|kill test|kills during prunes|corruption sweep|model-based|bad input|snapshot property|prune crash sweep|concurrency|primitive kit [a-z ]+) \(/.test(line.trim()));
console.log(output.split('━━━ summary ━━━')[1] ?? output.slice(-4000));
console.log('━━━ figures ━━━');
for (const line of figures) console.log(line.trim());
console.log(`(${((Date.now() - started) / 60_000).toFixed(1)} min)`);
let status = run.status ?? 1;
if (status === 0 && args.includes('--fuzz')) status = spawnSync('bash', [join(root, 'scripts/fuzz.sh'), 'all', '60'], { cwd: root, stdio: 'inherit' }).status ?? 1;
process.exit(status);
