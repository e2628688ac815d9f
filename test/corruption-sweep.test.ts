/**
 * Media damage, swept: a pristine store with several sealed segments is copied, one damage is
 * applied (1–3 flipped bits, or 1–64 bytes overwritten with random bytes or zeros) somewhere in
 * a segment (header, frame begin, payload, padding, end record) or the MANIFEST, and the copy
 * is opened. The rule: open rejects with CorruptionError naming the damaged file and an offset
 * between the start of the damaged frame and the first damaged byte — unless the damage lies at
 * the end of the last segment with nothing valid after it, which is a torn tail: open succeeds
 * with a warning and the log is the pristine log minus exactly the commits from the damaged
 * frame on. "Nothing valid after it" is recovery's rule since frames record what was synced
 * when they were written (probeAfter in js/src/device/segments.ts): intact frames after the
 * damaged one count only if one of them was written after the damaged frame was synced. The
 * store ends with a group commit of three frames, so damage in the first or second of them is a
 * torn tail too. Never a silent loss before that, never wrong data. `reeldb verify` (the built
 * CLI) runs on a subset and must agree: exit 1 naming the file, or exit 0 with a torn-tail
 * warning.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quiet, reeldb, runtime, segmentPaths, toHex } from './helpers.js';

const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'js/bin/reeldb.mjs');

const CASES = Number(process.env.REELDB_CORRUPTION_CASES ?? 360);
const VERIFY_EVERY = 10;
const EVENTS_MIN = 200;
const SEGMENT_BYTES = 4096;
const SEGMENT_HEADER_BYTES = 48;
const FRAME_BEGIN_BYTES = 32;
const FRAME_END_BYTES = 8;
const MANIFEST_BYTES = 40;

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Frame {
  /** Index into `segments`. */
  segment: number;
  start: number;
  length: number;
  firstPosition: number;
  entries: number;
  /** End of the last payload: padding runs from here to start + length - 8. */
  payloadEnd: number;
  /**
   * Every position below this was synced when the frame was written (its first position minus
   * the "unsynced before" count at begin offset 12). Recovery trusts a valid frame after a bad
   * one as proof of damage to synced data only if this is above the bad frame's position.
   */
  durablePosition: number;
}

interface Pristine {
  path: string;
  /** Segment file names, in order, and their bytes. */
  segments: { name: string; bytes: Buffer }[];
  manifest: Buffer;
  frames: Frame[];
  /** Each event serialized, by position. */
  log: string[];
}

function serialize(event: { id: string; stream: string; type: string; position: number; streamVersion: number; timestamp: number; data: unknown; metadata?: unknown }): string {
  const data = event.data instanceof Uint8Array ? `bytes:${toHex(event.data)}` : event.data;
  return JSON.stringify([event.position, event.id, event.stream, event.streamVersion, event.type, event.timestamp, event.metadata ?? null, data]);
}

/** Frames of a segment file, parsed from their begin records and entry headers. */
function parseFrames(bytes: Buffer, segment: number): Frame[] {
  const frames: Frame[] = [];
  let offset = SEGMENT_HEADER_BYTES;
  while (offset < bytes.length) {
    expect(bytes.toString('latin1', offset, offset + 4)).toBe('RLFB');
    const length = bytes.readUInt32LE(offset + 4);
    const entries = bytes.readUInt32LE(offset + 8);
    let at = offset + FRAME_BEGIN_BYTES;
    for (let entry = 0; entry < entries; entry++) at += 8 + bytes.readUInt32LE(at + 4);
    expect(length % 8).toBe(0);
    expect(Math.ceil(at / 8) * 8).toBe(offset + length - FRAME_END_BYTES);
    const firstPosition = Number(bytes.readBigUInt64LE(offset + 16));
    frames.push({ segment, start: offset, length, firstPosition, entries, payloadEnd: at, durablePosition: Math.max(0, firstPosition - bytes.readUInt32LE(offset + 12)) });
    offset += length;
  }
  expect(offset).toBe(bytes.length);
  return frames;
}

async function build(path: string): Promise<Pristine> {
  const random = prng(0x5eed);
  const db = await reeldb.open(path, { segmentBytes: SEGMENT_BYTES });
  const streams = ['agent-run', 'tools', 'planner'];
  /** Segment sizes the engine reported after each step (a frame end, or a group's last frame end). */
  const ends = new Map<string, number[]>();
  let events = 0;
  const makeBatch = (stream: string) =>
    Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
      const n = events++;
      const roll = random();
      const data =
        roll < 0.3
          ? Uint8Array.from({ length: 1 + Math.floor(random() * 90) }, (_, byte) => (n * 7 + byte * 13) & 255)
          : { n, text: 'step '.repeat(Math.floor(random() * 12)), ok: roll < 0.8 };
      return { id: `event-${n}`, type: roll < 0.3 ? 'blob' : 'step', data, ...(roll > 0.6 ? { metadata: { n, by: stream } } : {}) };
    });
  /** One append, or a group of appends made at once: one write, one sync (group commit). */
  const step = async (appends: number) => {
    const before = new Map(db.stats().segments.map((segment) => [segment.name, segment.bytes]));
    const batches = Array.from({ length: appends }, (_, index) => {
      const stream = streams[(Math.floor(random() * streams.length) + index) % streams.length]!;
      return [stream, makeBatch(stream)] as const;
    });
    await Promise.all(batches.map(([stream, batch]) => db.events.append(stream, batch)));
    // Settles a segment roll that the append started (it runs after the acknowledgement).
    await db.sync();
    const segments = db.stats().segments;
    const grown = segments.filter((segment) => before.has(segment.name) && segment.bytes !== before.get(segment.name));
    expect(grown.length).toBe(1);
    ends.set(grown[0]!.name, [...(ends.get(grown[0]!.name) ?? []), grown[0]!.bytes]);
    return segments[segments.length - 1]!.name === grown[0]!.name;
  };
  while (events < EVENTS_MIN) await step(random() < 0.15 ? 2 + Math.floor(random() * 2) : 1);
  // End with a group of three appends in the last segment, after at least one other frame:
  // damage in the group leaves only frames written before it was synced after it.
  while (!(await step(3)) || (ends.get(db.stats().segments.at(-1)!.name)?.length ?? 0) < 2);
  await db.close();
  const files = segmentPaths(path);
  const segments = files.map((file) => ({ name: file.slice(file.lastIndexOf('/') + 1), bytes: readFileSync(file) }));
  const frames = segments.flatMap((segment, index) => parseFrames(segment.bytes, index));
  // The parsed frame boundaries include every one the engine reported while appending.
  for (const [index, segment] of segments.entries()) {
    const parsed = frames.filter((frame) => frame.segment === index).map((frame) => frame.start + frame.length);
    expect(ends.get(segment.name)?.every((end) => parsed.includes(end)) ?? parsed.length === 0).toBe(true);
  }
  const reader = await reeldb.open(path, { readOnly: true });
  const log = (await reader.events.readAll()).map(serialize);
  await reader.close();
  expect(log.length).toBe(events);
  return { path, segments, manifest: readFileSync(join(path, 'MANIFEST')), frames, log };
}

type Region = 'manifest' | 'header' | 'begin' | 'payload' | 'padding' | 'end' | 'last frames';
interface Damage {
  region: Region;
  /** Segment index, or -1 for MANIFEST. */
  segment: number;
  offset: number;
  how: string;
  bytes: Buffer;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function between(random: () => number, from: number, to: number): number {
  return from + Math.floor(random() * (to - from));
}

function makeDamage(random: () => number, pristine: Pristine): Damage {
  const roll = random();
  const lastSegment = pristine.segments.length - 1;
  const withPadding = pristine.frames.filter((frame) => frame.start + frame.length - FRAME_END_BYTES > frame.payloadEnd);
  let region: Region;
  let segment: number;
  let offset: number;
  if (roll < 0.05) {
    region = 'manifest';
    segment = -1;
    offset = between(random, 0, MANIFEST_BYTES);
  } else if (roll < 0.2) {
    region = 'header';
    segment = between(random, 0, pristine.segments.length);
    offset = between(random, 0, SEGMENT_HEADER_BYTES);
  } else if (roll < 0.75) {
    const frame = roll >= 0.35 && roll < 0.45 && withPadding.length > 0 ? pick(random, withPadding) : pick(random, pristine.frames);
    segment = frame.segment;
    if (roll < 0.35) {
      region = 'begin';
      offset = frame.start + between(random, 0, FRAME_BEGIN_BYTES);
    } else if (roll < 0.45 && withPadding.length > 0) {
      region = 'padding';
      offset = between(random, frame.payloadEnd, frame.start + frame.length - FRAME_END_BYTES);
    } else if (roll < 0.6) {
      region = 'end';
      offset = frame.start + frame.length - FRAME_END_BYTES + between(random, 0, FRAME_END_BYTES);
    } else {
      region = 'payload';
      offset = between(random, frame.start + FRAME_BEGIN_BYTES, frame.payloadEnd);
    }
  } else if (roll < 0.88) {
    // The group of three that ends the log, the last frame most often.
    region = 'last frames';
    const frame = pristine.frames[pristine.frames.length - 1 - (random() < 0.5 ? 0 : 1 + Math.floor(random() * 2))]!;
    segment = lastSegment;
    offset = between(random, frame.start, frame.start + frame.length);
  } else {
    region = 'payload';
    const frame = pick(random, pristine.frames);
    segment = frame.segment;
    offset = between(random, frame.start + FRAME_BEGIN_BYTES, frame.payloadEnd);
  }
  const bytes = Buffer.from(segment < 0 ? pristine.manifest : pristine.segments[segment]!.bytes);
  const kind = random();
  let how: string;
  if (kind < 0.4) {
    const flips = 1 + Math.floor(random() * 3);
    const at: string[] = [];
    for (let flip = 0; flip < flips; flip++) {
      // The first flip is at the chosen offset; the others within the next 8 bytes.
      const byte = flip === 0 ? offset : Math.min(bytes.length - 1, offset + Math.floor(random() * 8));
      const bit = Math.floor(random() * 8);
      bytes[byte]! ^= 1 << bit;
      at.push(`${byte}.${bit}`);
    }
    how = `flip bits ${at.join(' ')}`;
  } else {
    const length = Math.min(1 + Math.floor(random() * 64), bytes.length - offset);
    const zeros = kind < 0.7;
    for (let index = 0; index < length; index++) bytes[offset + index] = zeros ? 0 : Math.floor(random() * 256);
    how = `overwrite ${length} bytes at ${offset} with ${zeros ? 'zeros' : 'random bytes'}`;
  }
  return { region, segment, offset, how, bytes };
}

function changedWithin(before: Buffer, after: Buffer, from: number, to: number): boolean {
  for (let index = from; index < to; index++) if (before[index] !== after[index]) return true;
  return false;
}

/** First and last byte that differ, or undefined when the damage changed nothing. */
function changedRange(before: Buffer, after: Buffer): [number, number] | undefined {
  let first = -1;
  let last = -1;
  for (let index = 0; index < before.length; index++) {
    if (before[index] !== after[index]) {
      if (first < 0) first = index;
      last = index;
    }
  }
  return first < 0 ? undefined : [first, last];
}

function verify(path: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('node', [cli, 'verify', path], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', REELDB_DEBUG: '' } });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const normalize = (path: string) => path.replaceAll('\\', '/');

describe(`corruption sweep on ${runtime}`, () => {
  let pristine: Pristine;
  /** Lives for the whole file (helpers' temporary directories go after each test). */
  let work: string;
  beforeAll(async () => {
    if (!existsSync(join(root, 'js/dist/cli/main.js'))) throw new Error("the sweep runs the built CLI: run 'npm run build' first (npm test does)");
    work = mkdtempSync(join(tmpdir(), `reeldb-sweep-${runtime}-`));
    pristine = await build(join(work, 'pristine.reel'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds a store with several sealed segments', () => {
    expect(pristine.segments.length).toBeGreaterThanOrEqual(4);
    expect(pristine.frames.filter((frame) => frame.segment === pristine.segments.length - 1).length).toBeGreaterThanOrEqual(2);
    expect(pristine.frames.some((frame) => frame.start + frame.length - FRAME_END_BYTES > frame.payloadEnd)).toBe(true);
    // The last three frames were written together: the second and third record that the
    // first was not yet synced. Earlier frames of single appends record everything synced.
    const [first, second, third] = pristine.frames.slice(-3);
    expect([second!.durablePosition, third!.durablePosition]).toEqual([first!.firstPosition, first!.firstPosition]);
    expect(pristine.frames.filter((frame) => frame.durablePosition === frame.firstPosition).length).toBeGreaterThan(pristine.frames.length / 2);
  });

  it('reports a flipped bit in a sealed segment header\'s version field as CorruptionError, not IncompatibleFormatError', async () => {
    // The MANIFEST (checksummed) says version 1, so a segment header claiming another version
    // whose header checksum fails is damage, not a newer format.
    const copy = join(work, 'version-bit');
    cpSync(pristine.path, copy, { recursive: true });
    const file = join(copy, 'log', pristine.segments[1]!.name);
    const bytes = Buffer.from(pristine.segments[1]!.bytes);
    bytes[10]! ^= 1 << 3; // version 1 → 524289
    writeFileSync(file, bytes);
    const result = verify(copy);
    const error = await reeldb.open(copy, quiet()).then(
      async (db) => {
        await db.close();
        return undefined;
      },
      (caught: unknown) => caught as { name: string; code: string; file: string; offset: number; message: string },
    );
    rmSync(copy, { recursive: true, force: true });
    expect({ name: error?.name, code: error?.code, file: normalize(error?.file ?? ''), offset: error?.offset }, error?.message).toEqual({ name: 'CorruptionError', code: 'CORRUPTION', file: normalize(file), offset: 0 });
    expect(result.status, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toContain(`damaged: ${normalize(file)}`);
  });

  it(`${CASES} seeded damages: CorruptionError at the damaged frame, or a torn tail that drops exactly the commits from the damaged one on`, async () => {
    const random = prng({ node: 0xc0ffee, deno: 0xdecaf, bun: 0xb0b }[runtime]);
    /** What happened, by kind: CorruptionError, torn tail, clean (the damage changed no byte), silent loss, wrong data, other error. */
    const outcomes = new Map<string, number>();
    const count = (kind: string) => outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    const byRegion = new Map<string, number>();
    /** Cases that broke the rule, each with what was expected and what happened. */
    const violations: string[] = [];
    let verified = 0;
    let tornSeveral = 0;
    const started = performance.now();
    for (let index = 0; index < CASES; index++) {
      const damage = makeDamage(random, pristine);
      const copy = join(work, `case-${index}`);
      cpSync(pristine.path, copy, { recursive: true });
      const original = damage.segment < 0 ? pristine.manifest : pristine.segments[damage.segment]!.bytes;
      const fileName = damage.segment < 0 ? 'MANIFEST' : pristine.segments[damage.segment]!.name;
      const file = damage.segment < 0 ? join(copy, 'MANIFEST') : join(copy, 'log', fileName);
      writeFileSync(file, damage.bytes);
      byRegion.set(damage.region, (byRegion.get(damage.region) ?? 0) + 1);
      const problems: string[] = [];
      const fail = (problem: string) => problems.push(problem);

      // What must happen.
      const changed = changedRange(original, damage.bytes);
      let expected: { kind: 'clean' } | { kind: 'corruption'; offsetMin: number; offsetMax: number } | { kind: 'torn'; frame: Frame; commits: number };
      if (!changed) expected = { kind: 'clean' };
      else if (damage.segment < 0) expected = { kind: 'corruption', offsetMin: 0, offsetMax: MANIFEST_BYTES };
      else if (changed[0] < SEGMENT_HEADER_BYTES) expected = { kind: 'corruption', offsetMin: 0, offsetMax: 0 };
      else {
        const frames = pristine.frames.filter((frame) => frame.segment === damage.segment);
        const hit = frames.find((frame) => frame.start <= changed[0] && changed[0] < frame.start + frame.length)!;
        // In the last segment, the frames after the damaged one decide: one left intact that
        // was written after the damaged frame was synced proves damage to synced data; if
        // there is none (the damage is in the last frame, runs into the frames after it, or
        // they were all written in the same unsynced window), it is a torn tail.
        const intactAfter = frames.filter((frame) => frame.start > hit.start && !changedWithin(original, damage.bytes, frame.start, frame.start + frame.length));
        const tail = damage.segment === pristine.segments.length - 1 && !intactAfter.some((frame) => frame.durablePosition > hit.firstPosition);
        expected = tail ? { kind: 'torn', frame: hit, commits: frames.filter((frame) => frame.start >= hit.start).length } : { kind: 'corruption', offsetMin: hit.start, offsetMax: changed[0] };
      }
      const label = `case ${index}: ${damage.region} of ${fileName}, ${damage.how}; expected ${
        expected.kind === 'corruption' ? `CorruptionError at ${expected.offsetMin}..${expected.offsetMax}` : expected.kind === 'torn' ? `a torn tail at ${expected.frame.start}` : 'a clean open'
      }`;

      if (index % VERIFY_EVERY === 0) {
        // The CLI first: it opens read-only and must change nothing.
        const result = verify(copy);
        const got = `verify exit ${result.status}: ${(result.stdout + result.stderr).trim().replaceAll('\n', ' | ')}`;
        if (expected.kind === 'corruption') {
          if (result.status !== 1 || !result.stdout.includes(`damaged: ${normalize(file)}`)) fail(got);
        } else if (result.status !== 0 || !/^ok: /.test(result.stdout) || (expected.kind === 'torn' ? !/torn tail/.test(result.stderr) : result.stderr !== '')) fail(got);
        if (!readFileSync(file).equals(damage.bytes)) fail('verify changed the file');
        verified++;
      }

      const log = quiet();
      let db: Awaited<ReturnType<typeof reeldb.open>> | undefined;
      let error: { name?: string; code?: string; file?: string; offset?: number; message?: string } | undefined;
      try {
        db = await reeldb.open(copy, log);
      } catch (caught) {
        error = caught as typeof error;
      }
      if (error) {
        if (error instanceof reeldb.CorruptionError && error.code === 'CORRUPTION') {
          count('CorruptionError');
          const got = `CorruptionError in ${error.file} at ${error.offset} (${error.message})`;
          if (expected.kind !== 'corruption') fail(got);
          else if (normalize(error.file!) !== normalize(file) || error.offset! < expected.offsetMin || error.offset! > expected.offsetMax) fail(got);
        } else {
          count('other error');
          fail(`${error.name} ${error.code}: ${error.message}`);
        }
        // A failed open changes nothing and releases the lock.
        if (!readFileSync(file).equals(damage.bytes)) fail('the failed open changed the damaged file');
        const names = readdirSync(join(copy, 'log')).sort();
        if (names.join() !== pristine.segments.map((segment) => segment.name).join()) fail(`the failed open changed log/: ${names.join(' ')}`);
        if (existsSync(join(copy, 'LOCK'))) fail('the failed open left LOCK behind');
      } else {
        const events = (await db!.events.readAll()).map(serialize);
        const head = db!.events.headPosition;
        await db!.close();
        let intact = 0;
        while (intact < events.length && events[intact] === pristine.log[intact]) intact++;
        const missing = pristine.log.length - intact;
        const got = `an open store with ${events.length} events (${missing} of the pristine log missing), warnings: ${log.warnings.join('; ') || 'none'}`;
        if (intact < events.length) {
          count('wrong data');
          fail(`${got}; position ${intact} reads ${events[intact]}, pristine ${pristine.log[intact]}`);
        } else if (head !== events.length - 1) {
          count('wrong data');
          fail(`${got}; headPosition ${head}`);
        } else if (missing === 0) {
          count('clean');
          if (expected.kind !== 'clean' || log.warnings.length > 0) fail(got);
        } else if (expected.kind !== 'torn') {
          count('silent loss');
          fail(got);
        } else {
          count('torn tail');
          if (expected.commits > 1) tornSeveral++;
          const warning = `truncated a torn tail of ${damage.bytes.length - expected.frame.start} bytes at offset ${expected.frame.start} of ${fileName}`;
          if (events.length !== expected.frame.firstPosition || log.warnings.length !== 1 || !log.warnings[0]!.includes(warning)) fail(`${got}; expected ${expected.frame.firstPosition} events and the warning '${warning}'`);
          if (statSync(file).size !== expected.frame.start) fail(`truncated to ${statSync(file).size} bytes`);
          // Truncated for good: the next open is clean and the store takes new commits.
          const again = await reeldb.open(copy, quiet());
          if (again.stats().recovery.warnings.length > 0) fail(`the next open warns: ${again.stats().recovery.warnings.join('; ')}`);
          await again.events.append('after', [{ type: 'after', data: index }]);
          if (again.events.headPosition !== events.length) fail(`after one more append the head is ${again.events.headPosition}`);
          await again.close();
        }
      }
      if (problems.length > 0) violations.push(`${label}; got ${problems.join('; ')}`);
      rmSync(copy, { recursive: true, force: true });
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const tally = (kind: string) => outcomes.get(kind) ?? 0;
    console.log(
      `corruption sweep (${runtime}): ${CASES} damages, ${tally('CorruptionError')} CorruptionError, ${tally('torn tail')} torn tail (${tornSeveral} of them dropping more than the last commit), ` +
        `${tally('clean')} clean (the damage changed no byte), ${tally('silent loss')} silent, ${tally('wrong data')} wrong data, ${tally('other error')} other errors; ` +
        `${violations.length} broke the rule; verify run on ${verified}; damaged ${[...byRegion].map(([region, number]) => `${region} ${number}`).join(', ')}; ` +
        `${pristine.segments.length} segments, ${pristine.frames.length} frames, ${pristine.log.length} events; ${seconds}s`,
    );
    expect(violations, `${violations.length} of ${CASES} damages broke the rule:\n${violations.slice(0, 25).join('\n')}`).toEqual([]);
    expect(tally('CorruptionError')).toBeGreaterThan(CASES / 2);
    expect(tally('torn tail')).toBeGreaterThan(CASES / 36);
  }, Math.max(120_000, CASES * 1_000));
  const COVERED_CASES = Math.max(24, Math.round(CASES / 3));
  it(`hardening A3: ${COVERED_CASES} seeded damages to segments a snapshot covers, read through the API: every read is CorruptionError at the damaged entry or exactly the pristine data`, async () => {
    const random = prng({ node: 0xa3a3, deno: 0xa3b3, bun: 0xa3c3 }[runtime]);
    const base = join(work, 'covered');
    cpSync(pristine.path, base, { recursive: true });
    const writer = await reeldb.open(base, quiet());
    await writer.snapshot();
    await writer.close();
    // Every entry's payload location, position and stream, from the pristine bytes.
    const payloads = pristine.frames.flatMap((frame) => {
      const bytes = pristine.segments[frame.segment]!.bytes;
      const found: { segment: number; offset: number; length: number; position: number; stream: string }[] = [];
      let at = frame.start + FRAME_BEGIN_BYTES;
      for (let entry = 0; entry < frame.entries; entry++) {
        const length = bytes.readUInt32LE(at + 4);
        const position = frame.firstPosition + entry;
        found.push({ segment: frame.segment, offset: at + 8, length, position, stream: JSON.parse(pristine.log[position]!)[2] });
        at += 8 + length;
      }
      return found;
    });
    const streams = [...new Set(payloads.map((payload) => payload.stream))];
    const violations: string[] = [];
    const outcomes = { corruption: 0, intact: 0 };
    for (let index = 0; index < COVERED_CASES; index++) {
      let damage: Damage;
      do damage = makeDamage(random, pristine);
      while (damage.segment < 0 || damage.segment >= pristine.segments.length - 1);
      const copy = join(work, `covered-case-${index}`);
      cpSync(base, copy, { recursive: true });
      const name = pristine.segments[damage.segment]!.name;
      const file = join(copy, 'log', name);
      writeFileSync(file, damage.bytes);
      const original = pristine.segments[damage.segment]!.bytes;
      const damaged = payloads.filter((payload) => payload.segment === damage.segment && changedWithin(original, damage.bytes, payload.offset, payload.offset + payload.length));
      const problems: string[] = [];
      /** A read must fail at `expected` (the first damaged entry it meets) or, when it meets none, return the pristine events. */
      const judge = async (what: string, read: () => Promise<string[]>, pristineEvents: string[], expected: (typeof payloads)[number] | undefined) => {
        try {
          const events = await read();
          if (expected) problems.push(`${what} returned ${events.length} events although position ${expected.position} is damaged`);
          else if (events.join('\n') !== pristineEvents.join('\n')) problems.push(`${what} returned data that differs from the pristine log`);
          else outcomes.intact++;
        } catch (caught) {
          const error = caught as { name?: string; code?: string; file?: string; offset?: number; message?: string };
          const got = `${error.name} ${error.code} in ${error.file} at ${error.offset}: ${error.message}`;
          if (!expected || !(error instanceof reeldb.CorruptionError) || normalize(error.file!) !== normalize(file) || error.offset !== expected.offset) problems.push(`${what}: ${got}${expected ? `; expected CorruptionError at ${expected.offset}` : ''}`);
          else outcomes.corruption++;
        }
      };
      try {
        const db = await reeldb.open(copy, quiet());
        try {
          if (!db.stats().recovery.snapshot) problems.push('open did not use the snapshot');
          await judge('readAll', async () => (await db.events.readAll()).map(serialize), pristine.log, damaged[0]);
          await judge(
            'replay (decodeData: false)',
            async () => {
              const seen: string[] = [];
              for await (const event of db.events.replay({ decodeData: false })) seen.push(String(event.position));
              return seen;
            },
            pristine.log.map((_, position) => String(position)),
            damaged[0],
          );
          for (const stream of streams) {
            const expected = pristine.log.filter((line) => JSON.parse(line)[2] === stream);
            await judge(`readStream(${stream})`, async () => (await db.events.readStream(stream)).map(serialize), expected, damaged.find((payload) => payload.stream === stream));
          }
        } finally {
          await db.close();
        }
      } catch (error) {
        problems.push(`open or close failed: ${(error as Error).message}`);
      }
      if (problems.length > 0) violations.push(`case ${index}: ${damage.region} of ${name}, ${damage.how}: ${problems.join('; ')}`);
      rmSync(copy, { recursive: true, force: true });
    }
    console.log(`corruption sweep (${runtime}): ${COVERED_CASES} damages to covered segments read through the API: ${outcomes.corruption} reads CorruptionError at the damaged entry, ${outcomes.intact} reads exactly the pristine data; ${violations.length} broke the rule`);
    expect(violations, violations.slice(0, 25).join('\n')).toEqual([]);
    expect(outcomes.corruption).toBeGreaterThan(COVERED_CASES / 2);
  }, Math.max(60_000, CASES * 500));
  const SNAPSHOT_CASES = Math.max(12, Math.round(CASES / 6));
  it(`${SNAPSHOT_CASES} seeded damages to a snapshot file: open skips it with a warning and recovers the pristine log; verify names it`, async () => {
    const random = prng({ node: 0x5a5a, deno: 0x6b6b, bun: 0x7c7c }[runtime]);
    const base = join(work, 'with-snapshot');
    cpSync(pristine.path, base, { recursive: true });
    const writer = await reeldb.open(base, quiet());
    const info = (await writer.snapshot())!;
    await writer.close();
    const original = readFileSync(join(base, info.name));
    const violations: string[] = [];
    let verified = 0;
    for (let index = 0; index < SNAPSHOT_CASES; index++) {
      const copy = join(work, `snapshot-case-${index}`);
      cpSync(base, copy, { recursive: true });
      const bytes = Buffer.from(original);
      const offset = Math.floor(random() * bytes.length);
      let how: string;
      if (random() < 0.5) {
        const bit = Math.floor(random() * 8);
        bytes[offset]! ^= 1 << bit;
        how = `flip bit ${offset}.${bit}`;
      } else {
        const length = Math.min(1 + Math.floor(random() * 64), bytes.length - offset);
        for (let at = 0; at < length; at++) bytes[offset + at] = Math.floor(random() * 256);
        how = `overwrite ${length} bytes at ${offset}`;
      }
      const file = join(copy, info.name);
      writeFileSync(file, bytes);
      const changed = !bytes.equals(original);
      const problems: string[] = [];
      const log = quiet();
      try {
        const db = await reeldb.open(copy, { ...log, readOnly: true });
        const events = (await db.events.readAll()).map(serialize);
        const used = db.stats().recovery.snapshot;
        await db.close();
        if (events.join('\n') !== pristine.log.join('\n')) problems.push(`the log read back differs from the pristine one (${events.length} events)`);
        if (changed && used) problems.push(`it opened from the damaged snapshot`);
        if (changed && !log.warnings.some((warning) => warning.startsWith(`ignored snapshot ${info.name}`))) problems.push(`no warning: ${log.warnings.join('; ')}`);
      } catch (error) {
        problems.push(`open failed: ${(error as Error).message}`);
      }
      if (index % 4 === 0) {
        const result = verify(copy);
        if (changed ? result.status !== 1 || !result.stdout.includes(`damaged: ${normalize(file)}`) : result.status !== 0) problems.push(`verify exit ${result.status}: ${result.stdout.trim()}`);
        verified++;
      }
      if (problems.length > 0) violations.push(`case ${index}: ${how}: ${problems.join('; ')}`);
      rmSync(copy, { recursive: true, force: true });
    }
    console.log(`corruption sweep (${runtime}): ${SNAPSHOT_CASES} damaged snapshots, each skipped with a warning and the pristine log recovered by a scan; verify run on ${verified}, naming the file each time; ${violations.length} broke the rule`);
    expect(violations).toEqual([]);
  }, Math.max(60_000, CASES * 300));
});
