/** The checkpoint codec through the wasm core: zstd full frames and prefix/suffix-trimmed deltas. */
import { describe, expect, it } from 'vitest';
import { CheckpointCodecError, CODEC_ERROR_CORRUPT, CODEC_ERROR_TOO_LARGE } from '../js/src/core/core.js';
import { reeldb, runtime } from './helpers.js';

const core = await reeldb.init();
const encoder = new TextEncoder();

/** Byte equality (vitest's toEqual walks a typed array element by element: seconds for a few MB). */
function same(actual: Uint8Array, expected: Uint8Array): boolean {
  if (actual.length !== expected.length) return false;
  for (let index = 0; index < actual.length; index++) if (actual[index] !== expected[index]) return false;
  return true;
}

/** Deterministic pseudo-random bytes. */
function noise(seed: number, length: number): Uint8Array {
  let state = (seed * 2654435761) >>> 0 || 1;
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state;
  }
  return bytes;
}

const WORDS = ['search', 'the', 'weather', 'tool', 'result', 'agent', 'user', 'paris', 'berlin', 'degrees', 'answer', 'call', 'because', 'token'];

/** An agent's JSON state after `steps` messages of about 500 bytes each. */
function agentState(steps: number): Uint8Array {
  const messages = [];
  for (let index = 0; index < steps; index++) {
    const words = Array.from(noise(index + 1, 70), (byte) => WORDS[byte % WORDS.length]);
    messages.push({ role: index % 2 ? 'assistant' : 'user', id: `msg-${index}`, content: words.join(' '), tokens: words.length * 3 });
  }
  return encoder.encode(JSON.stringify({ thread: 'demo', messages, model: 'gpt-x' }));
}

describe(`checkpoint codec in the wasm core on ${runtime}`, () => {
  it('round-trips full checkpoints', () => {
    for (const raw of [new Uint8Array(0), encoder.encode('x'), agentState(20), noise(1, 100_000), new Uint8Array(1 << 20)]) {
      const stored = core.encodeCheckpointFull(raw);
      expect(same(core.decodeCheckpoint(stored, undefined, raw.length), raw)).toBe(true);
      expect(same(core.decodeCheckpoint(core.encodeCheckpointFull(raw, 1), undefined, raw.length), raw)).toBe(true);
    }
    const json = agentState(300);
    expect(core.encodeCheckpointFull(json).length).toBeLessThan(json.length / 3);
  });

  it('round-trips deltas, including empty, identical and unrelated states', () => {
    const json = agentState(30);
    const cases: [Uint8Array, Uint8Array][] = [
      [new Uint8Array(0), new Uint8Array(0)],
      [new Uint8Array(0), json],
      [json, new Uint8Array(0)],
      [json, json],
      [json, noise(2, 40_000)],
      [noise(3, 40_000), noise(4, 50_000)],
      [encoder.encode('aaaa'), encoder.encode('aa')],
    ];
    for (const [previous, next] of cases) {
      const stored = core.encodeCheckpointDelta(previous, next);
      expect(same(core.decodeCheckpoint(stored, previous, next.length), next)).toBe(true);
    }
  });

  it('stores each step of a growing 300-step JSON state as a small delta', () => {
    let previous = agentState(0);
    let full = core.encodeCheckpointFull(previous);
    for (let step = 1; step <= 300; step++) {
      const next = agentState(step);
      const delta = core.encodeCheckpointDelta(previous, next);
      expect(same(core.decodeCheckpoint(delta, previous, next.length), next)).toBe(true);
      if (step > 30) expect(delta.length, `step ${step}`).toBeLessThan(next.length / 20);
      if (step > 100) expect(delta.length, `step ${step}`).toBeLessThan(600);
      if (step === 300) full = core.encodeCheckpointFull(next);
      previous = next;
    }
    expect(previous.length).toBeGreaterThan(140_000);
    expect(full.length).toBeLessThan(previous.length / 3);
  });

  it('returns copies owned by JS', () => {
    const raw = agentState(5);
    const first = core.encodeCheckpointFull(raw);
    const copy = first.slice();
    core.encodeCheckpointFull(noise(5, 10_000));
    expect(first).toEqual(copy);
    expect(first.buffer).not.toBe(core.u8.buffer);
  });

  it('throws CheckpointCodecError for damaged or oversized stored bytes', () => {
    const previous = agentState(40);
    const next = agentState(41);
    const delta = core.encodeCheckpointDelta(previous, next);
    const full = core.encodeCheckpointFull(next);
    const failure = (work: () => unknown): CheckpointCodecError => {
      try {
        work();
      } catch (error) {
        expect(error).toBeInstanceOf(CheckpointCodecError);
        return error as CheckpointCodecError;
      }
      throw new Error('expected a CheckpointCodecError');
    };
    // A lying header, a cut frame, trailing bytes, a delta against the wrong state.
    const lying = delta.slice();
    lying[8] = 0xff;
    lying[9] = 0xff;
    expect(failure(() => core.decodeCheckpoint(lying, previous, next.length + 0xffff)).errorCode).toBe(CODEC_ERROR_CORRUPT);
    expect(failure(() => core.decodeCheckpoint(delta.subarray(0, delta.length - 3), previous, next.length)).errorCode).toBe(CODEC_ERROR_CORRUPT);
    expect(failure(() => core.decodeCheckpoint(new Uint8Array([...delta, 0]), previous, next.length)).errorCode).toBe(CODEC_ERROR_CORRUPT);
    expect(failure(() => core.decodeCheckpoint(delta.subarray(0, 7), previous, next.length)).message).toMatch(/header/);
    expect(failure(() => core.decodeCheckpoint(delta, previous.subarray(0, 100), next.length)).message).toMatch(/previous state/);
    expect(failure(() => core.decodeCheckpoint(full.subarray(0, full.length - 1), undefined, next.length)).errorCode).toBe(CODEC_ERROR_CORRUPT);
    expect(failure(() => core.decodeCheckpoint(delta, undefined, next.length)).errorCode).toBe(CODEC_ERROR_CORRUPT);
    // Longer than allowed: refused before the state is allocated.
    expect(failure(() => core.decodeCheckpoint(delta, previous, next.length - 1)).errorCode).toBe(CODEC_ERROR_TOO_LARGE);
    expect(failure(() => core.decodeCheckpoint(full, undefined, next.length - 1)).errorCode).toBe(CODEC_ERROR_TOO_LARGE);
    // Every bit flip of the delta: an error or a state of the declared length (the caller's
    // CRC32C catches the rest), never a trap.
    for (let bit = 0; bit < delta.length * 8; bit++) {
      const damaged = delta.slice();
      damaged[bit >>> 3]! ^= 1 << (bit & 7);
      try {
        expect(core.decodeCheckpoint(damaged, previous, next.length).length).toBeLessThanOrEqual(next.length);
      } catch (error) {
        expect(error).toBeInstanceOf(CheckpointCodecError);
      }
    }
    // The core still works afterwards.
    expect(same(core.decodeCheckpoint(delta, previous, next.length), next)).toBe(true);
  });
  it('decodes a whole chain in one call, in place, with the CRC32C of the result; a bad link names its index', () => {
    const states = [agentState(4)];
    for (let steps = 5; steps < 70; steps++) states.push(agentState(steps));
    states.push(noise(3, 2000), new Uint8Array(0), agentState(2));
    const links = [core.encodeCheckpointFull(states[0]!)];
    for (let index = 1; index < states.length; index++) links.push(core.encodeCheckpointDelta(states[index - 1]!, states[index]!));
    for (const end of [1, 2, 30, 66, states.length]) {
      const { raw, checksum } = core.decodeCheckpointChain(links.slice(0, end), 1 << 20);
      expect(same(raw, states[end - 1]!)).toBe(true);
      expect(checksum).toBe(core.crc32c(states[end - 1]!));
    }
    const damaged = links.slice(0, 40);
    damaged[25] = damaged[25]!.slice(0, damaged[25]!.length - 3);
    const error = (() => {
      try {
        core.decodeCheckpointChain(damaged, 1 << 20);
      } catch (caught) {
        return caught as CheckpointCodecError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CheckpointCodecError);
    expect(error!.link).toBe(25);
    expect(error!.errorCode).toBe(CODEC_ERROR_CORRUPT);
    expect(() => core.decodeCheckpointChain(links.slice(0, 10), 10)).toThrow(CheckpointCodecError);
  });
});
