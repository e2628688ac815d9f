// Runs the one vitest suite on Node, Deno and Bun, one after another, each with its own host.
// Prints which runtime each run used; any failure fails the whole run.
//   node scripts/test-all.mjs [--runtime node,deno,bun] [vitest args…]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules/.bin', name);
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const runtimes = {
  node: [process.execPath, [vitest, 'run']],
  deno: [bin('deno'), ['run', '-A', vitest, 'run']],
  bun: [bin('bun'), ['--bun', vitest, 'run']],
};

const args = process.argv.slice(2);
let selected = Object.keys(runtimes);
const flag = args.indexOf('--runtime');
if (flag >= 0) {
  selected = args[flag + 1].split(',');
  args.splice(flag, 2);
}

const results = [];
for (const name of selected) {
  const [command, base] = runtimes[name];
  if (!existsSync(command)) {
    console.error(`test-all: ${name} is not installed (${command}); run npm install`);
    process.exit(1);
  }
  console.log(`\n━━━ ${name}: ${[command, ...base].join(' ')} ━━━`);
  const started = Date.now();
  const run = spawnSync(command, [...base, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, REELDB_TEST_RUNTIME: name, NO_COLOR: '1', FORCE_COLOR: '0' }, encoding: 'utf8', maxBuffer: 256 << 20 });
  process.stdout.write(run.stdout ?? '');
  const tests = /Tests\s+(?:(\d+) failed \| )?(\d+) passed(?: \| (\d+) skipped)?/.exec(run.stdout ?? '');
  results.push({
    name,
    ok: run.status === 0,
    failed: Number(tests?.[1] ?? (run.status === 0 ? 0 : 1)),
    passed: Number(tests?.[2] ?? 0),
    skipped: Number(tests?.[3] ?? 0),
    seconds: ((Date.now() - started) / 1000).toFixed(1),
  });
}

console.log('\n━━━ summary ━━━');
for (const result of results) {
  console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.name.padEnd(5)} ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped (${result.seconds}s)`);
}
const passed = results.reduce((sum, result) => sum + result.passed, 0);
const failed = results.reduce((sum, result) => sum + result.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((result) => result.ok) ? 0 : 1);
