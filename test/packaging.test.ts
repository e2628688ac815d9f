/**
 * The package as a user gets it. A copy of the checkout without js/dist (as a fresh clone has
 * it) is packed with `npm pack`, whose `prepare` script builds js/dist with declarations; the
 * tarball is installed offline in a scratch project (reeldb has no runtime dependencies), and
 * so is the folder itself (npm links it and runs its `prepare`). In each, a small TypeScript file
 * that uses the public types is checked with tsc under `module: NodeNext` and under
 * `moduleResolution: Bundler`, and with `deno check`; it is compiled and run with Node (open a
 * store, append, read, save and load a checkpoint) and run with Deno. A file with a type error
 * must fail every check, so a check that sees no types (everything `any`) cannot pass.
 *
 * Node only (npm and tsc are run from this repo's node_modules); skipped on the Deno and Bun runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const runtime = process.env.REELDB_TEST_RUNTIME ?? 'node';
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const deno = join(root, 'node_modules/.bin/deno');
/** npm, an install and a build take a few seconds each; generous for a loaded machine. */
const TIMEOUT_MS = 300_000;
const COMMAND_TIMEOUT_MS = 180_000;

/** What a fresh clone has that the build and the package need (no js/dist, no node_modules). */
const CHECKOUT = ['package.json', 'tsconfig.json', 'README.md', 'docs', 'scripts/build-js.mjs', 'js/src', 'js/bin', 'js/wasm'];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a plain shell: none of the npm_* variables an `npm test` run passes down. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' };
}

function run(command: string, args: string[], cwd: string): Run {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: cleanEnv(), timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(command: string, args: string[], cwd: string): Run {
  const result = run(command, args, cwd);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Uses the public API and its type-only exports; prints what it read back. */
const MAIN_TS = `import { open, ReeldbError, StreamNotFoundError, LIMITS, type Store, type RecordedEvent, type EventInput, type CheckpointInfo, type OpenOptions, type StoreStats } from 'reeldb';
import type { PruneOptions } from 'reeldb';
import { init } from 'reeldb/slim';

interface Step { text: string }
const options: OpenOptions = { durability: 'strict' };
const db: Store = await open('store.reel', options);
const input: EventInput[] = [{ type: 'user_message', data: { text: 'hello' } satisfies Step }];
const appended: RecordedEvent[] = await db.events.append('run-1', input, { expectedVersion: 'no_stream' });
const read: RecordedEvent[] = await db.events.readStream('run-1');
const saved: CheckpointInfo = await db.checkpoints.save('thread-1', { step: 1 });
const loaded = await db.checkpoints.load('thread-1');
const stats: StoreStats = db.stats();
const policy: PruneOptions = { checkpoints: { keepLast: 1 }, dryRun: true };
await db.prune(policy);
let missing = '';
try {
  await db.events.readStream('no-such-stream');
} catch (error) {
  if (error instanceof StreamNotFoundError && error instanceof ReeldbError) missing = error.code;
}
await db.close();
console.log(JSON.stringify({ appended: appended.length, data: read[0]?.data, seq: saved.seq, state: loaded?.state, entries: stats.entries, missing, init: typeof init, limits: typeof LIMITS }));
`;

/** Must not type-check: a number has no toUpperCase, and open wants a string. */
const BAD_TS = `import { open, type RecordedEvent } from 'reeldb';
const db = await open(42);
const event: RecordedEvent = (await db.events.readStream('s'))[0]!;
event.position.toUpperCase();
`;

/** Deno's entry has its own file host. */
const DENO_TS = `import { DenoFileHost, open, type FileHost } from 'reeldb';
const host: FileHost = new DenoFileHost();
const db = await open('deno-store.reel', { host });
await db.events.append('s', [{ type: 't', data: 1 }]);
console.log(JSON.stringify((await db.events.readStream('s')).map((event) => event.data)));
await db.close();
`;

const TSCONFIGS: Record<string, object> = {
  'tsconfig.nodenext.json': { compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noUncheckedIndexedAccess: true, types: [], outDir: 'out' }, files: ['main.ts'] },
  'tsconfig.bundler.json': { compilerOptions: { module: 'ESNext', moduleResolution: 'Bundler', target: 'ES2022', strict: true, types: [], noEmit: true }, files: ['main.ts'] },
};

/** A scratch project with reeldb installed from `spec` (a tarball or a folder). */
function scratchProject(directory: string, spec: string): string {
  fs.mkdirSync(directory, { recursive: true });
  fs.writeFileSync(join(directory, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }, null, 2));
  ok('npm', ['install', '--offline', '--no-audit', '--no-fund', spec], directory);
  fs.writeFileSync(join(directory, 'main.ts'), MAIN_TS);
  fs.writeFileSync(join(directory, 'bad.ts'), BAD_TS);
  fs.writeFileSync(join(directory, 'deno.ts'), DENO_TS);
  for (const [name, config] of Object.entries(TSCONFIGS)) {
    fs.writeFileSync(join(directory, name), JSON.stringify(config, null, 2));
    fs.writeFileSync(join(directory, name.replace('.json', '.bad.json')), JSON.stringify({ ...config, files: ['bad.ts'] }, null, 2));
  }
  return directory;
}

const EXPECTED_OUTPUT = { appended: 1, data: { text: 'hello' }, seq: 0, state: { step: 1 }, entries: 2, missing: 'STREAM_NOT_FOUND', init: 'function', limits: 'object' };

/** Every check and run that a user of the package in `directory` would do. */
function checkProject(directory: string): void {
  for (const config of Object.keys(TSCONFIGS)) {
    ok(process.execPath, [tsc, '-p', config], directory);
    const bad = run(process.execPath, [tsc, '-p', config.replace('.json', '.bad.json')], directory);
    expect(bad.status, `${config}: bad.ts must not type-check`).not.toBe(0);
    expect(bad.stdout).toMatch(/TS2345/); // open(42)
    expect(bad.stdout).toMatch(/toUpperCase/);
  }
  const node = ok(process.execPath, ['out/main.js'], directory);
  expect(JSON.parse(node.stdout.trim())).toMatchObject(EXPECTED_OUTPUT);

  ok(deno, ['check', 'main.ts', 'deno.ts'], directory);
  const badDeno = run(deno, ['check', 'bad.ts'], directory);
  expect(badDeno.status, 'deno check bad.ts must fail').not.toBe(0);
  expect(badDeno.stdout + badDeno.stderr).toMatch(/toUpperCase/);
  fs.rmSync(join(directory, 'store.reel'), { recursive: true, force: true });
  const denoMain = ok(deno, ['run', '-A', 'main.ts'], directory);
  expect(JSON.parse(denoMain.stdout.trim())).toMatchObject(EXPECTED_OUTPUT);
  const denoHost = ok(deno, ['run', '-A', 'deno.ts'], directory);
  expect(JSON.parse(denoHost.stdout.trim())).toEqual([1]);
}

describe.skipIf(runtime !== 'node')('packaging', () => {
  let temporary: string;
  let checkout: string;
  let tarball: string;
  /** The paths `npm pack` put in the tarball. */
  let packedFiles: string[];

  beforeAll(() => {
    temporary = fs.mkdtempSync(join(os.tmpdir(), 'reeldb-packaging-'));
    checkout = join(temporary, 'reeldb');
    for (const path of CHECKOUT) fs.cpSync(join(root, path), join(checkout, path), { recursive: true });
    // The build tools, as `npm install` in the checkout would have put them there.
    fs.symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const packed = ok('npm', ['pack', '--json', '--pack-destination', temporary], checkout);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(temporary, info!.filename);
    packedFiles = info!.files.map((file) => file.path);
  }, TIMEOUT_MS);

  afterAll(() => {
    if (temporary) fs.rmSync(temporary, { recursive: true, force: true });
  });

  it(
    'hardening B11: npm pack of a fresh checkout builds js/dist with declarations (prepare) and packs them',
    () => {
      expect(fs.existsSync(tarball)).toBe(true);
      for (const file of ['js/dist/index.node.js', 'js/dist/index.node.d.ts', 'js/dist/index.deno.d.ts', 'js/dist/slim.d.ts', 'js/dist/primitives/events.d.ts', 'js/wasm/reeldb_core.wasm', 'js/bin/reeldb.mjs']) {
        expect(packedFiles, file).toContain(file);
      }
      expect(packedFiles.some((file) => file.startsWith('js/src/'))).toBe(false);
      // Each module names its declarations for Deno.
      expect(fs.readFileSync(join(checkout, 'js/dist/index.node.js'), 'utf8')).toMatch(/^\/\/ @ts-self-types="\.\/index\.node\.d\.ts"\n/);
    },
    TIMEOUT_MS,
  );

  it(
    'hardening B11: the packed tarball installs offline in a scratch project, type-checks (NodeNext, Bundler, deno check) and runs',
    () => {
      const project = scratchProject(join(temporary, 'from-tarball'), tarball);
      expect(fs.lstatSync(join(project, 'node_modules/reeldb')).isSymbolicLink()).toBe(false);
      checkProject(project);
      // The CLI comes with it.
      const cli = ok(process.execPath, [join(project, 'node_modules/.bin/reeldb'), 'inspect', 'store.reel', '--json'], project);
      expect(JSON.parse(cli.stdout)).toMatchObject({ streams: 1 });
    },
    TIMEOUT_MS,
  );

  it(
    'hardening B11: a path install of a checkout (a symlink; npm runs its prepare) type-checks under tsc and deno check, and runs',
    () => {
      fs.rmSync(join(checkout, 'js/dist'), { recursive: true, force: true });
      const project = scratchProject(join(temporary, 'from-path'), checkout);
      expect(fs.lstatSync(join(project, 'node_modules/reeldb')).isSymbolicLink()).toBe(true);
      expect(fs.existsSync(join(checkout, 'js/dist/index.node.d.ts'))).toBe(true); // built by its prepare
      checkProject(project);
    },
    TIMEOUT_MS,
  );

  it(
    'hardening B11: a path install of a checkout without its own npm install says what to do',
    () => {
      const bare = join(temporary, 'bare-checkout');
      for (const path of CHECKOUT) fs.cpSync(join(root, path), join(bare, path), { recursive: true });
      const project = join(temporary, 'from-bare-path');
      fs.mkdirSync(project);
      fs.writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, type: 'module' }));
      const result = run('npm', ['install', '--offline', '--no-audit', '--no-fund', bare], project);
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toContain(`Run 'npm install' in that directory first`);
    },
    TIMEOUT_MS,
  );
});
