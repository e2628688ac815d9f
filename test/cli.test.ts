/**
 * The `reeldb` CLI, run as a separate Node process (`node js/bin/reeldb.mjs`, from the built
 * js/dist; `npm test` builds first). Spawning `node` works the same under the Node, Deno and
 * Bun runs of this suite. Stores are made in-process with the TypeScript sources.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from '../js/src/index.node.js';
import { asIfCrashed } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'js/bin/reeldb.mjs');
const SEGMENT_HEADER_BYTES = 48;
const FIRST_SEGMENT = '00000000000000000000.seg';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function reeldb(...args: string[]): Run {
  const result = spawnSync('node', [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', REELDB_DEBUG: '' } });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Offsets and lengths of the frames of a segment file (begin record: magic "RLFB", length u32). */
function frames(segmentPath: string): { offset: number; length: number }[] {
  const bytes = fs.readFileSync(segmentPath);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: { offset: number; length: number }[] = [];
  let offset = SEGMENT_HEADER_BYTES;
  while (offset + 32 <= bytes.length && bytes.toString('latin1', offset, offset + 4) === 'RLFB') {
    const length = view.getUint32(offset + 4, true);
    expect(length % 8).toBe(0);
    found.push({ offset, length });
    offset += length;
  }
  expect(offset).toBe(bytes.length);
  return found;
}

function flipByte(path: string, offset: number): void {
  const bytes = fs.readFileSync(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  fs.writeFileSync(path, bytes);
}

let temporary: string;
/** alpha: 8 events (one binary, some with metadata), beta: 4, in 10 appends (one of 3 events). */
let storePath: string;
let storeId: string;
const APPENDS = 10;
const EVENTS = 12;
const BINARY = new Uint8Array([0, 1, 2, 250, 255]);

function copyStore(name: string): string {
  const copy = join(temporary, name);
  fs.cpSync(storePath, copy, { recursive: true });
  return copy;
}

beforeAll(async () => {
  if (!fs.existsSync(join(root, 'js/dist/cli/main.js'))) {
    throw new Error("test/cli.test.ts runs the built CLI: run 'npm run build' first (npm test does)");
  }
  temporary = fs.mkdtempSync(join(os.tmpdir(), 'reeldb-cli-test-'));
  storePath = join(temporary, 'store');
  const db = await open(storePath);
  await db.events.append('alpha', [{ type: 'user_message', data: { text: 'hello' }, metadata: { step: 0 } }], { expectedVersion: 'no_stream' });
  await db.events.append('beta', [{ type: 'tool_call', data: { tool: 'search' } }]);
  await db.events.append('alpha', [
    { type: 'tool_call', data: { tool: 'read_file' } },
    { type: 'tool_result', data: BINARY, metadata: { encoding: 'raw' } },
    { type: 'plan', data: ['a', 'b'] },
  ]);
  for (let index = 0; index < 3; index++) await db.events.append('beta', [{ type: 'tool_result', data: { index } }]);
  for (let index = 0; index < 4; index++) await db.events.append('alpha', [{ type: 'decision', data: index }]);
  storeId = db.stats().storeId;
  expect(db.stats().entries).toBe(EVENTS);
  await db.close();
});

afterAll(() => {
  if (temporary) fs.rmSync(temporary, { recursive: true, force: true });
});

describe('reeldb verify', () => {
  it('exits 0 on a clean store and counts frames, entries, bytes and segments', () => {
    const size = fs.statSync(join(storePath, 'log', FIRST_SEGMENT)).size;
    const result = reeldb('verify', storePath);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(`ok: ${APPENDS} frames, ${EVENTS} entries, ${size} bytes in 1 segment`);
    expect(result.code).toBe(0);
  });

  it('exits 1 naming the segment file and the offset of a damaged middle frame', () => {
    const copy = copyStore('flipped');
    const segment = join(copy, 'log', FIRST_SEGMENT);
    const all = frames(segment);
    expect(all).toHaveLength(APPENDS);
    const middle = all[4]!;
    flipByte(segment, middle.offset + 40); // inside the first entry's payload
    const before = fs.readFileSync(segment);
    const result = reeldb('verify', copy);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(segment);
    expect(result.stdout).toMatch(new RegExp(`offset\\s+${middle.offset}\\b`));
    expect(result.stdout).toContain('checksum mismatch');
    expect(fs.readFileSync(segment).equals(before)).toBe(true);
  });

  it('names the damaged segment when the store has several', async () => {
    const path = join(temporary, 'segments');
    const db = await open(path, { segmentBytes: 1024 });
    for (let index = 0; index < 40; index++) await db.events.append(`s-${index % 3}`, [{ type: 'step', data: { index, text: 'x'.repeat(100) } }]);
    await db.close();
    const names = fs.readdirSync(join(path, 'log')).sort();
    expect(names.length).toBeGreaterThan(3);
    expect(reeldb('verify', path).code).toBe(0);
    const damaged = join(path, 'log', names[1]!);
    const frame = frames(damaged)[1]!;
    flipByte(damaged, frame.offset + frame.length - 12); // the padding/payload just before the end record
    const result = reeldb('verify', path);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(damaged);
    expect(result.stdout).toMatch(new RegExp(`offset\\s+${frame.offset}\\b`));
    for (const other of [names[0]!, names[2]!]) expect(result.stdout).not.toContain(other);
  });

  it('reports a truncated last frame as a torn tail: a warning, exit 0, nothing changed', async () => {
    const copy = copyStore('torn');
    await asIfCrashed(copy); // as a crash leaves it: the MANIFEST records no clean end
    const segment = join(copy, 'log', FIRST_SEGMENT);
    const last = frames(segment).at(-1)!;
    fs.truncateSync(segment, last.offset + Math.floor(last.length / 2));
    const size = fs.statSync(segment).size;
    const result = reeldb('verify', copy);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: .*torn tail/);
    expect(result.stderr).toContain(`offset ${last.offset}`);
    expect(result.stdout).toMatch(new RegExp(`^ok: ${APPENDS - 1} frames, ${EVENTS - 1} entries, ${last.offset} bytes in 1 segment`));
    expect(fs.statSync(segment).size).toBe(size); // read-only: the next writable open truncates
  });

  it('hardening A4: after a clean close, a tail cut at a frame boundary is damage: exit 1 naming what is missing', () => {
    const copy = copyStore('cut');
    const segment = join(copy, 'log', FIRST_SEGMENT);
    const last = frames(segment).at(-1)!;
    fs.truncateSync(segment, last.offset);
    const result = reeldb('verify', copy);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`damaged: ${segment}`);
    expect(result.stdout).toContain(`MANIFEST (written at the last clean close) records that the log reached position ${EVENTS}`);
    expect(fs.statSync(segment).size).toBe(last.offset);
  });

  it('exits 1 when the MANIFEST is damaged', () => {
    const copy = copyStore('manifest');
    flipByte(join(copy, 'MANIFEST'), 20);
    const result = reeldb('verify', copy);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('MANIFEST');
  });
});

describe('reeldb dump', () => {
  const lines = (run: Run) => run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);

  it('prints every event as one JSON line in log order, binary data as $binary', () => {
    const result = reeldb('dump', storePath);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const events = lines(result);
    expect(events.map((event) => event.position)).toEqual([...Array(EVENTS).keys()]);
    expect(Object.keys(events[0]!)).toEqual(['id', 'stream', 'type', 'data', 'metadata', 'streamVersion', 'position', 'timestamp']);
    expect(events[0]).toMatchObject({ stream: 'alpha', type: 'user_message', data: { text: 'hello' }, metadata: { step: 0 }, streamVersion: 0 });
    expect(events[1]!.metadata).toBeNull();
    const binary = events.find((event) => event.type === 'tool_result' && event.stream === 'alpha')!;
    expect(binary.data).toEqual({ $binary: Buffer.from(BINARY).toString('base64') });
    expect(binary.metadata).toEqual({ encoding: 'raw' });
  });

  it('filters by --stream, --from and --limit', () => {
    const alpha = lines(reeldb('dump', storePath, '--stream', 'alpha'));
    expect(alpha).toHaveLength(8);
    expect(alpha.every((event) => event.stream === 'alpha')).toBe(true);
    expect(alpha.map((event) => event.streamVersion)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const fromFive = lines(reeldb('dump', storePath, '--from', '5'));
    expect(fromFive.map((event) => event.position)).toEqual([5, 6, 7, 8, 9, 10, 11]);

    expect(lines(reeldb('dump', storePath, '--limit', '3')).map((event) => event.position)).toEqual([0, 1, 2]);
    expect(lines(reeldb('dump', storePath, '--from=2', '--limit=2')).map((event) => event.position)).toEqual([2, 3]);

    const betaFrom = lines(reeldb('dump', storePath, '--stream', 'beta', '--from', '5', '--limit', '2'));
    expect(betaFrom.map((event) => [event.stream, event.position])).toEqual([
      ['beta', 5],
      ['beta', 6],
    ]);
    const alphaLate = lines(reeldb('dump', storePath, '--stream', 'alpha', '--from', '7'));
    expect(alphaLate.map((event) => event.position)).toEqual([8, 9, 10, 11]);

    const none = reeldb('dump', storePath, '--from', '1000');
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(reeldb('dump', storePath, '--limit', '0').stdout).toBe('');
  });

  it('reports an unknown stream and bad option values', () => {
    const missing = reeldb('dump', storePath, '--stream', 'gamma');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^reeldb: .*gamma.*STREAM_NOT_FOUND/);
    const badLimit = reeldb('dump', storePath, '--limit', '-1');
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit');
    expect(reeldb('dump', storePath, '--frobnicate').code).toBe(2);
  });

  it('stops quietly when the reader closes the pipe', async () => {
    const path = join(temporary, 'many');
    const db = await open(path);
    await db.events.append('bulk', Array.from({ length: 5000 }, (_, index) => ({ type: 'step', data: { index, text: 'y'.repeat(80) } })));
    await db.close();
    const result = spawnSync('bash', ['-c', `set -o pipefail; node '${bin}' dump '${path}' | head -n 2`], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(2);
  });
});

describe('reeldb inspect and stats', () => {
  it('inspect shows store id, format, segments, streams and the head position', () => {
    const result = reeldb('inspect', storePath);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(storeId);
    expect(result.stdout).toMatch(/format\s+version 2/);
    expect(result.stdout).toMatch(/head\s+position 11 \(12 entries\)/);
    expect(result.stdout).toMatch(/events\s+12 in 2 streams/);
    expect(result.stdout).toMatch(new RegExp(`${FIRST_SEGMENT}\\s+0\\s+12\\s`));
    // Largest stream first.
    expect(result.stdout).toMatch(/alpha\s+8\n\s+beta\s+4/);

    const json = JSON.parse(reeldb('inspect', storePath, '--json', '--top', '1').stdout);
    expect(json).toMatchObject({ storeId, formatVersion: 2, headPosition: 11, entries: 12, events: 12, streams: 2, topStreams: [{ name: 'alpha', events: 8 }] });
    expect(json.segments).toEqual([{ name: FIRST_SEGMENT, firstPosition: 0, entries: 12, bytes: fs.statSync(join(storePath, 'log', FIRST_SEGMENT)).size }]);
  });

  it('stats counts events per type in a full pass', () => {
    const result = reeldb('stats', storePath);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^events\s+12$/m);
    expect(result.stdout).toMatch(/^streams\s+2$/m);
    expect(result.stdout).toMatch(/^\s+decision\s+4\s+33\.3%/m);
    const json = JSON.parse(reeldb('stats', storePath, '--json').stdout);
    expect(json.events).toBe(12);
    expect(Object.fromEntries(json.types.map((type: { type: string; events: number }) => [type.type, type.events]))).toEqual({
      user_message: 1,
      tool_call: 2,
      tool_result: 4,
      plan: 1,
      decision: 4,
    });
  });
});

describe('reeldb checkpoints and checkpoint stats', () => {
  it('lists threads with raw against stored bytes, one thread newest first, and stats per kind', async () => {
    const path = join(temporary, 'with-checkpoints');
    const db = await open(path);
    await db.events.append('run', [{ type: 'step', data: 1 }]);
    const messages: string[] = [];
    for (let step = 0; step < 12; step++) {
      messages.push(`message ${step} ${'x'.repeat(400)}`);
      await db.checkpoints.save('thread-a', { messages }, { metadata: { step } });
    }
    await db.checkpoints.save('thread-b', new Uint8Array(300).fill(7));
    const summaries = await db.checkpoints.summary();
    await db.close();
    const a = summaries.find((summary) => summary.threadId === 'thread-a')!;

    const listing = reeldb('checkpoints', path);
    expect(listing.code).toBe(0);
    expect(listing.stdout).toMatch(/^threads\s+2$/m);
    expect(listing.stdout).toMatch(/^checkpoints\s+13$/m);
    expect(listing.stdout).toMatch(/^\s+thread-a\s+12\s+1\s+11\s/m);
    const json = JSON.parse(reeldb('checkpoints', path, '--json').stdout);
    expect(json).toMatchObject({ threads: 2, checkpoints: 13 });
    expect(json.list[0]).toMatchObject({ threadId: 'thread-a', checkpoints: 12, full: 1, delta: 11, rawBytes: a.rawBytes, storedBytes: a.storedBytes });
    expect(a.rawBytes).toBeGreaterThan(a.storedBytes * 5);

    const thread = reeldb('checkpoints', path, '--thread', 'thread-a', '--limit', '3');
    expect(thread.code).toBe(0);
    const rows = thread.stdout.split('\n').filter((line) => /^\s+\S{22}\s/.test(line));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/\s11\s+delta\s.*\{"step":11\}/);
    const threadJson = JSON.parse(reeldb('checkpoints', path, '--thread', 'thread-a', '--json').stdout);
    expect(threadJson.listed.map((info: { seq: number }) => info.seq)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);

    const missing = reeldb('checkpoints', path, '--thread', 'nope');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("thread 'nope' has no checkpoints");

    const stats = JSON.parse(reeldb('stats', path, '--json').stdout);
    expect(stats.kinds.events.entries).toBe(1);
    expect(stats.kinds.checkpoints.entries).toBe(13);
    expect(stats.checkpoints).toMatchObject({ threads: 2, checkpoints: 13, full: 2, delta: 11 });
    expect(stats.checkpoints.compressionRatio).toBeGreaterThan(3);
    expect(reeldb('stats', path).stdout).toMatch(/^checkpoints\s+13 in 2 threads \(2 full, 11 delta\)$/m);
  });
});

describe('reeldb verify and snapshots', () => {
  it('checks every snapshot file and names a damaged one (exit 1); the log itself stays readable', async () => {
    const path = join(temporary, 'with-snapshot');
    const db = await open(path, { snapshotBytes: 0 });
    for (let index = 0; index < 20; index++) await db.events.append(`s${index % 3}`, [{ type: 't', data: index }]);
    await db.checkpoints.save('thread', { step: 1 });
    const info = (await db.snapshot())!;
    await db.events.append('s0', [{ type: 't', data: 'after' }]);
    await db.close();
    const clean = reeldb('verify', path);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain(`snapshots: 1 checked, the newest (${info.name}) recovers the same index as a full scan`);
    expect(clean.stdout).toMatch(/^ok: \d+ frames, 22 entries/m);

    const file = join(path, info.name);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 5] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const damaged = reeldb('verify', path);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toContain(`damaged: ${file}`);
    expect(damaged.stdout).toMatch(/reason\s+section \d checksum mismatch/);
    // dump still works: open skips the snapshot with a warning and scans the log.
    const dump = reeldb('dump', path);
    expect(dump.code).toBe(0);
    expect(dump.stdout.trim().split('\n')).toHaveLength(21);
    expect(dump.stderr).toContain(`ignored snapshot ${info.name}`);
  });
});

describe('reeldb verify and checkpoint chains', () => {
  it('hardening A2: verify decodes every checkpoint chain and reports one that does not load (exit 1), though every frame is intact', async () => {
    const path = join(temporary, 'broken-chain');
    const db = await open(path, { segmentBytes: 512, snapshotBytes: 0 });
    for (let step = 1; step <= 6; step++) await db.checkpoints.save('thread', { step, items: Array.from({ length: step }, (_, index) => `item ${index}`) });
    const infos = (await db.checkpoints.list('thread')).reverse();
    expect(infos.map((info) => info.encoding)).toEqual(['full', 'delta', 'delta', 'delta', 'delta', 'delta']);
    await db.close();
    expect(reeldb('verify', path).stdout).toContain('checkpoints: 6 checkpoints in 1 thread, each decoded to the state that was saved');
    // What an old prune interrupted by a crash left: the full checkpoint gone, its deltas listed.
    const { compactSegment } = await import('../js/src/device/compact.js');
    const writer = await open(path, { snapshotBytes: 0 });
    const log = (writer as unknown as { log: { segmentOf(position: number): never } }).log;
    await compactSegment(log as never, log.segmentOf(infos[0]!.position), { removed: new Set([infos[0]!.position]), replaced: new Map() });
    await writer.close();
    const broken = await open(path, { readOnly: true, ignoreSnapshots: true });
    expect((await broken.checkpoints.list('thread')).length).toBe(5);
    const report = await broken.checkpoints.verify();
    expect(report.problems.map((problem) => problem.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(report.problems[0]!.reason).toMatch(/delta base .* is not the thread's previous checkpoint/);
    await broken.close();
    const result = reeldb('verify', path);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^damaged: checkpoint seq 1 of thread 'thread' \(position \d+, in \d{20}\.seg\)$/m);
    expect(result.stdout).toContain('5 of 5 checkpoints do not load.');
  });
});

describe('reeldb prune --keep-last', () => {
  it('hardening B17: --keep-last 20 on 300 saves keeps exactly 20, and the dry run reports the bytes the prune then reclaims', async () => {
    const path = join(temporary, 'keep-last');
    const db = await open(path, { segmentBytes: 16 * 1024, snapshotBytes: 0 });
    for (let step = 1; step <= 300; step++) await db.checkpoints.save('thread', { step, items: Array.from({ length: step % 100 }, (_, index) => `item ${index}`) });
    await db.close();
    const dry = JSON.parse(reeldb('prune', path, '--keep-last', '20', '--dry-run', '--json').stdout);
    const done = JSON.parse(reeldb('prune', path, '--keep-last', '20', '--json').stdout);
    expect(done).toMatchObject({ checkpoints: 280, bytesReclaimed: dry.bytesReclaimed, bytesAfter: dry.bytesAfter });
    expect(dry.checkpoints).toBe(280);
    const after = await open(path, { readOnly: true });
    const kept = await after.checkpoints.list('thread', { limit: 1000 });
    expect(kept.map((info) => info.seq)).toEqual(Array.from({ length: 20 }, (_, index) => 299 - index));
    for (const info of kept) expect((await after.checkpoints.load('thread', { id: info.id }))!.state).toMatchObject({ step: info.seq + 1 });
    await after.close();
    expect(reeldb('verify', path).code).toBe(0);
  });
});

describe('reeldb prune and compact', () => {
  it('prunes by policy with a dry run first, reclaims deleted threads, and refuses while a writer holds the store', async () => {
    const path = join(temporary, 'to-prune');
    const db = await open(path, { segmentBytes: 8 * 1024, snapshotBytes: 0 });
    for (let index = 0; index < 120; index++) await db.events.append(`s${index % 2}`, [{ type: 't', data: 'x'.repeat(200) }]);
    for (let step = 0; step < 30; step++) await db.checkpoints.save('gone', { step, text: 'y'.repeat(300 + step) });
    await db.checkpoints.delete('gone');
    await db.close();

    const dry = reeldb('prune', path, '--before', '100', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^would remove 100 events, 0 checkpoints, 30 of deleted threads: about .* \(dry run, nothing changed\)$/m);
    const json = JSON.parse(reeldb('prune', path, '--before', '100', '--dry-run', '--json').stdout);
    expect(json).toMatchObject({ dryRun: true, events: 100, checkpoints: 0, deletedThreadCheckpoints: 30 });
    expect(json.segmentsRewritten).toBeGreaterThan(0); // what the prune will rewrite (checked equal below)

    const pruned = reeldb('prune', path, '--before', '100', '--json');
    expect(pruned.code).toBe(0);
    const result = JSON.parse(pruned.stdout);
    expect(result).toMatchObject({ dryRun: false, events: 100, deletedThreadCheckpoints: 30, segmentsRewritten: json.segmentsRewritten });
    expect(result.bytesReclaimed).toBeGreaterThan(20_000);
    const lines = reeldb('dump', path).stdout.trim().split('\n');
    expect(lines).toHaveLength(20);
    expect(JSON.parse(lines[0]!).position).toBe(100);
    expect(reeldb('compact', path).stdout).toMatch(/^nothing to remove/);
    expect(reeldb('verify', path).code).toBe(0);

    const writer = await open(path);
    const locked = reeldb('prune', path, '--keep-last', '1');
    expect(locked.code).toBe(1);
    expect(locked.stderr).toContain('STORE_LOCKED');
    await writer.close();

    expect(reeldb('prune', path).code).toBe(2);
    expect(reeldb('prune', path, '--stream', 's0').code).toBe(2);
    expect(reeldb('prune', path, '--max-age', 'soon').stderr).toContain('--max-age takes a duration');
    expect(reeldb('prune', path, '--keep-last', '0').code).toBe(2);
  });
});

describe('usage and bad paths', () => {
  it('exits 2 for a path that is not a store, and leaves it alone', () => {
    const missing = reeldb('inspect', join(temporary, 'does-not-exist'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^reeldb: no store at .*does-not-exist/);
    expect(fs.existsSync(join(temporary, 'does-not-exist'))).toBe(false);

    const plain = join(temporary, 'plain');
    fs.mkdirSync(plain);
    fs.writeFileSync(join(plain, 'notes.txt'), 'hi');
    const notStore = reeldb('verify', plain);
    expect(notStore.code).toBe(2);
    expect(notStore.stderr).toContain('not a reeldb store');
    expect(fs.readdirSync(plain)).toEqual(['notes.txt']);

    const file = reeldb('dump', join(plain, 'notes.txt'));
    expect(file.code).toBe(2);
    expect(file.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('exits 2 with usage for no command, an unknown command or a missing path', () => {
    for (const args of [[], ['frobnicate'], ['verify'], ['inspect', 'a', 'b']]) {
      const result = reeldb(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('usage: reeldb');
      expect(result.stdout).toBe('');
    }
  });

  it('prints help and the version', () => {
    const version = JSON.parse(fs.readFileSync(join(root, 'package.json'), 'utf8')).version as string;
    expect(reeldb('--version')).toMatchObject({ code: 0, stdout: `reeldb ${version}\n` });
    const help = reeldb('--help');
    expect(help.code).toBe(0);
    for (const command of ['inspect', 'verify', 'dump', 'stats']) expect(help.stdout).toContain(command);
    expect(reeldb('dump', '--help').stdout).toContain('--stream');
  });
});

describe('examples/agent-demo', () => {
  const demo = join(root, 'examples/agent-demo/main.mjs');
  const runDemo = (...args: string[]) => spawnSync('node', [demo, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

  it('records, replays and checks a run, and removes its temporary store', () => {
    const result = runDemo();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('every replayed event equals the recorded one');
    expect(result.stdout).toContain('WRONG_EXPECTED_VERSION');
    const removed = /removed\s+(\S+)/.exec(result.stdout)?.[1];
    expect(removed).toBeDefined();
    expect(fs.existsSync(removed!)).toBe(false);
    expect(result.stdout.trim().split('\n').length).toBeLessThanOrEqual(30);
  });

  it('records the same run for the same seed (only timestamps differ)', () => {
    const runs = ['demo-a', 'demo-b'].map((name) => {
      const path = join(temporary, name);
      expect(runDemo(path, '--seed', '7', '--keep').status).toBe(0);
      expect(reeldb('verify', path).code).toBe(0);
      return reeldb('dump', path)
        .stdout.split('\n')
        .filter(Boolean)
        .map((line) => ({ ...JSON.parse(line), timestamp: 0 }));
    });
    expect(runs[0]!.length).toBeGreaterThanOrEqual(22);
    expect(runs[0]).toEqual(runs[1]);
    const types = new Set(runs[0]!.map((event) => event.type));
    for (const type of ['user_message', 'plan', 'tool_call', 'tool_result', 'decision', 'final_answer', 'run_started', 'run_finished']) expect(types).toContain(type);
  });
});
