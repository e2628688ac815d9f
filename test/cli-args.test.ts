/**
 * The CLI's argument handling: strict parsing with suggestions, durations with units, checked
 * numbers, and the names of dump's start options. Runs the built CLI as a separate Node process
 * (like test/cli.test.ts) and the parsing functions in-process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from '../js/src/index.node.js';
import { parseDuration } from '../js/src/cli/duration.js';
import { prunePolicy } from '../js/src/cli/prune.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'js/bin/reeldb.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function reeldb(...args: string[]): Run {
  const result = spawnSync('node', [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1', REELDB_DEBUG: '' } });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const lines = (run: Run) =>
  run.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { stream: string; position: number; streamVersion: number });

let temporary: string;
let storePath: string;

/** Every file of the store with its bytes, to show a refused command changed nothing. */
function snapshotFiles(path: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of fs.readdirSync(path, { recursive: true }) as string[]) {
    const full = join(path, name);
    if (fs.statSync(full).isFile()) files[name] = fs.readFileSync(full).toString('base64');
  }
  return files;
}

beforeAll(async () => {
  if (!fs.existsSync(join(root, 'js/dist/cli/main.js'))) throw new Error("test/cli-args.test.ts runs the built CLI: run 'npm run build' first (npm test does)");
  temporary = fs.mkdtempSync(join(os.tmpdir(), 'reeldb-cli-args-'));
  storePath = join(temporary, 'store');
  const db = await open(storePath);
  // alpha: versions 0..5 at positions 0,2,4,6,8,10; beta: versions 0..5 at 1,3,…,11.
  for (let index = 0; index < 6; index++) {
    await db.events.append('alpha', [{ type: 'step', data: { index } }]);
    await db.events.append('beta', [{ type: 'step', data: { index } }]);
  }
  for (let step = 0; step < 4; step++) await db.checkpoints.save('thread', { step });
  await db.close();
});

afterAll(() => {
  if (temporary) fs.rmSync(temporary, { recursive: true, force: true });
});

describe('reeldb durations', () => {
  it('hardening B10: prune --max-age 7 (a bare number) is a usage error naming the flag, with examples, and changes nothing', () => {
    const before = snapshotFiles(storePath);
    for (const bare of ['7', '7.5', '3600000']) {
      const result = reeldb('prune', storePath, '--max-age', bare);
      expect(result.code, bare).toBe(2);
      expect(result.stderr).toMatch(/^reeldb: prune: --max-age takes a duration with a unit/);
      for (const example of ['7d', '12h', '30m', '45s', '500ms']) expect(result.stderr).toContain(example);
      expect(result.stdout).toBe('');
    }
    expect(reeldb('prune', storePath, '--keep-last', '1', '--max-age', '7', '--dry-run').code).toBe(2);
    expect(snapshotFiles(storePath)).toEqual(before);
  });

  it('hardening B10: durations take a unit (7d, 12h, 30m, 45s, 500ms) or several, largest first (1h30m)', () => {
    expect(parseDuration('prune', '--max-age', '7d')).toBe(7 * 86_400_000);
    expect(parseDuration('prune', '--max-age', '12h')).toBe(12 * 3_600_000);
    expect(parseDuration('prune', '--max-age', '30m')).toBe(30 * 60_000);
    expect(parseDuration('prune', '--max-age', '45s')).toBe(45_000);
    expect(parseDuration('prune', '--max-age', '500ms')).toBe(500);
    expect(parseDuration('prune', '--max-age', '1h30m')).toBe(5_400_000);
    expect(parseDuration('prune', '--max-age', '2d12h30m15s250ms')).toBe(2 * 86_400_000 + 12 * 3_600_000 + 30 * 60_000 + 15_000 + 250);
    expect(parseDuration('prune', '--max-age', '1.5h')).toBe(5_400_000);
    expect(parseDuration('prune', '--max-age', '0')).toBe(0); // the same in every unit
    expect(parseDuration('prune', '--max-age', '0s')).toBe(0);
    for (const bad of ['', '7', 'd', '7 d', '7days', '-1h', '30m1h', '1h1h', '1h 30m', 'soon', '7D', '1e3ms', '99999999999999999d']) {
      expect(() => parseDuration('prune', '--max-age', bad), bad).toThrow(/--max-age takes a duration/);
    }
    // The CLI passes the duration on in milliseconds.
    expect(prunePolicy(['store', '--max-age', '1h30m']).policy.checkpoints).toEqual({ maxAgeMs: 5_400_000 });
    expect(prunePolicy(['store', '--keep-last', '3', '--max-age=7d']).policy.checkpoints).toEqual({ keepLast: 3, maxAgeMs: 7 * 86_400_000 });
    const dry = reeldb('prune', storePath, '--keep-last', '1', '--max-age', '1h30m', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true });
  });
});

describe('reeldb argument parsing', () => {
  it('hardening B10: an unknown option is a usage error with a did-you-mean suggestion', () => {
    const cases: [string[], string][] = [
      [['prune', storePath, '--max-agee', '7d'], "prune: unknown option '--max-agee' (did you mean --max-age?)"],
      [['prune', storePath, '--keeplast', '3'], 'did you mean --keep-last?'],
      [['prune', storePath, '--dryrun', '--keep-last', '1'], 'did you mean --dry-run?'],
      [['prune', storePath, '--max', '1'], 'did you mean --max-count or --max-age?'],
      [['dump', storePath, '--limt', '3'], "dump: unknown option '--limt' (did you mean --limit?)"],
      [['dump', storePath, '--strem', 'alpha'], 'did you mean --stream?'],
      [['checkpoints', storePath, '--thraed', 'thread'], 'did you mean --thread?'],
      [['inspect', storePath, '--frobnicate'], 'inspect takes --top, --json'],
      [['verify', storePath, '--json'], 'verify takes no options'],
      [['stats', storePath, '-x'], "stats: unknown option '-x'"],
    ];
    for (const [args, message] of cases) {
      const result = reeldb(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stderr).toContain(`usage: reeldb ${args[0]}`);
      expect(result.stdout).toBe('');
    }
    const command = reeldb('dupm', storePath);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^reeldb: unknown command 'dupm' \(did you mean dump\?\)/);
  });

  it('hardening B10: a missing value, a value given to a switch and a bad number are usage errors naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [['dump', storePath, '--limit'], /dump: --limit needs a value/],
      [['dump', storePath, '--stream', '--limit', '2'], /dump: --stream needs a value, got '--limit'/],
      [['dump', storePath, '--limit', '-1'], /--limit/],
      [['dump', storePath, '--limit=-1'], /dump: --limit must be a non-negative integer, got '-1'/],
      [['dump', storePath, '--limit', '1.5'], /dump: --limit must be a non-negative integer, got '1.5'/],
      [['dump', storePath, '--limit', '1e3'], /--limit must be a non-negative integer/],
      [['dump', storePath, '--limit', ''], /--limit must be a non-negative integer/],
      [['dump', storePath, '--from-position', 'x'], /dump: --from-position must be a non-negative integer, got 'x'/],
      [['inspect', storePath, '--top', '99999999999999999999'], /--top must be a non-negative integer/],
      [['stats', storePath, '--json=yes'], /stats: --json is a switch and takes no value/],
      [['prune', storePath, '--before', 'ten'], /prune: --before must be a non-negative integer, got 'ten'/],
      [['prune', storePath, '--keep-last', '0'], /prune: --keep-last must be at least 1/],
      [['prune', storePath, '--stream', 'alpha', '--max-count', '0'], /prune: --max-count must be at least 1/],
      [['prune', storePath, '--max-age'], /prune: --max-age needs a value/],
    ];
    for (const [args, message] of cases) {
      const result = reeldb(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    // A value that starts with '-' is given with '='; after '--' everything is a positional.
    expect(reeldb('dump', storePath, '--stream=-odd').stderr).toMatch(/-odd.*STREAM_NOT_FOUND/);
    expect(reeldb('dump', '--', storePath).code).toBe(0);
  });

  it('hardening B10: every command answers --help, -h and `reeldb help <command>` with its own usage', () => {
    for (const command of ['inspect', 'verify', 'dump', 'stats', 'checkpoints', 'prune', 'compact']) {
      for (const args of [[command, '--help'], [command, storePath, '-h'], ['help', command]]) {
        const result = reeldb(...args);
        expect(result.code, args.join(' ')).toBe(0);
        expect(result.stdout, args.join(' ')).toMatch(new RegExp(`^usage: reeldb ${command} `));
      }
    }
    expect(reeldb('prune', '--help').stdout).toContain('1h30m');
    expect(reeldb('help', 'frobnicate').code).toBe(2);
  });
});

describe('reeldb dump start options', () => {
  it('hardening B20: dump --from-position takes a log position, --stream S --from-version V a stream version; --from stays an alias', () => {
    const all = lines(reeldb('dump', storePath, '--from-position', '5'));
    expect(all.map((event) => event.position)).toEqual([5, 6, 7, 8, 9, 10, 11]);
    expect(lines(reeldb('dump', storePath, '--from', '5'))).toEqual(all);
    expect(lines(reeldb('dump', storePath, '--from=5'))).toEqual(all);

    // alpha's version 3 is at position 6: the two names start at different places.
    const byVersion = lines(reeldb('dump', storePath, '--stream', 'alpha', '--from-version', '3'));
    expect(byVersion.map((event) => [event.streamVersion, event.position])).toEqual([
      [3, 6],
      [4, 8],
      [5, 10],
    ]);
    const byPosition = lines(reeldb('dump', storePath, '--stream', 'alpha', '--from-position', '3'));
    expect(byPosition.map((event) => [event.streamVersion, event.position])).toEqual([
      [2, 4],
      [3, 6],
      [4, 8],
      [5, 10],
    ]);
    expect(lines(reeldb('dump', storePath, '--stream', 'alpha', '--from', '3'))).toEqual(byPosition);
    expect(lines(reeldb('dump', storePath, '--stream', 'beta', '--from-version', '4', '--limit', '1')).map((event) => event.position)).toEqual([9]);
    expect(reeldb('dump', storePath, '--stream', 'beta', '--from-version', '6')).toMatchObject({ code: 0, stdout: '' });

    const noStream = reeldb('dump', storePath, '--from-version', '3');
    expect(noStream.code).toBe(2);
    expect(noStream.stderr).toContain('--from-version needs --stream');
    const both = reeldb('dump', storePath, '--stream', 'alpha', '--from-version', '1', '--from-position', '1');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('not both');
    const twice = reeldb('dump', storePath, '--from', '1', '--from-position', '2');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('--from is another name for --from-position');

    const help = reeldb('dump', '--help').stdout;
    expect(help).toContain('--from-position P');
    expect(help).toContain('--from-version V');
    expect(help).toMatch(/--from P\s+the older name of --from-position/);
  });
});
