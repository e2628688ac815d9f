/** The wasm core against the golden vectors that `cargo test` checks too. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeEvent, decodeEvent, KIND_EVENT } from '../js/src/primitives/event-codec.js';
import { ENTRY_RECORD_WORDS, ScanStatus } from '../js/src/core/core.js';
import { fromHex, reeldb, runtime, toHex } from './helpers.js';

interface Vectors {
  crc32c: { input: string; crc: number }[];
  storeId: string;
  segmentHeader: { firstPosition: number; bytes: string };
  events: { stream: string; type: string; id: string; metadata: string; data: string; flags: number; streamVersion: number; timestamp: number; payload: string }[];
  frames: { firstPosition: number; unsyncedBefore: number; previousChecksum: number; checksum: number; entries: { kind: number; payload: string }[]; bytes: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('./vectors/format-v1.json', import.meta.url), 'utf8')) as Vectors;
const core = await reeldb.init();
const storeId = fromHex(vectors.storeId);

describe(`wasm core on ${runtime}`, () => {
  it('computes CRC32C like the vectors (and the iSCSI check value)', () => {
    for (const vector of vectors.crc32c) expect(core.crc32c(fromHex(vector.input))).toBe(vector.crc);
    expect(core.crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('encodes and decodes the segment header byte for byte', () => {
    const header = core.encodeSegmentHeader(storeId, vectors.segmentHeader.firstPosition);
    expect(toHex(header)).toBe(vectors.segmentHeader.bytes);
    expect(core.decodeSegmentHeader(header, storeId)).toMatchObject({ code: 0, firstPosition: 0 });
    const damaged = header.slice();
    damaged[20]! ^= 1;
    expect(core.decodeSegmentHeader(damaged, storeId).code).toBe(3);
    expect(core.decodeSegmentHeader(header, new Uint8Array(16)).code).toBe(5);
  });

  it('encodes event payloads like the Rust side, and decodes them back', () => {
    const encoder = new TextEncoder();
    for (const [index, event] of vectors.events.entries()) {
      const binary = (event.flags & 1) === 1;
      const data = binary ? fromHex(event.data) : new TextDecoder().decode(fromHex(event.data));
      const payload = encodeEvent(encoder.encode(event.stream), { type: encoder.encode(event.type), id: event.id, metadata: event.metadata || undefined, data, binary }, event.streamVersion, event.timestamp);
      expect(toHex(payload)).toBe(event.payload);
      const decoded = decodeEvent(payload, 0, payload.length, index);
      expect(decoded).toMatchObject({ stream: event.stream, type: event.type, id: event.id, streamVersion: event.streamVersion, timestamp: event.timestamp });
      if (binary) expect(decoded.data).toEqual(fromHex(event.data));
      else expect(decoded.data).toEqual(JSON.parse(new TextDecoder().decode(fromHex(event.data))));
    }
  });

  it('encodes frames byte for byte and chains their checksums', () => {
    core.resetOutput();
    for (const frame of vectors.frames) {
      const before = core.outputLength;
      const checksum = core.encodeFrame(frame.entries.map((entry) => entry.kind), frame.entries.map((entry) => fromHex(entry.payload)), frame.firstPosition, frame.previousChecksum, storeId, frame.unsyncedBefore);
      expect(checksum).toBe(frame.checksum);
      expect(toHex(core.output().subarray(before))).toBe(frame.bytes);
    }
  });

  it('scans the vector frames into the entry table and reports a torn tail and damage', async () => {
    const log = fromHex(vectors.frames.map((frame) => frame.bytes).join(''));
    await core.scanSession(async (session) => {
      session.bufferView(log.length).set(log);
      const result = session.scan(log.length, true, 0, 0, storeId);
      expect(result).toMatchObject({ status: ScanStatus.End, frames: 2, entries: 3, nextPosition: 3, consumed: log.length, lastChecksum: vectors.frames[1]!.checksum });
      const table = session.entryTable(3);
      expect([0, 1, 2].map((entry) => table[entry * ENTRY_RECORD_WORDS + 2])).toEqual([KIND_EVENT, KIND_EVENT, KIND_EVENT]);
      expect([0, 1, 2].map((entry) => session.streamName(table[entry * ENTRY_RECORD_WORDS + 3]!))).toEqual(['run-42', 'run-42', 'run-43']);
      expect([0, 1, 2].map((entry) => table[entry * ENTRY_RECORD_WORDS + 4])).toEqual([0, 1, 0]);

      const firstLength = vectors.frames[0]!.bytes.length / 2;
      const torn = session.scan(log.length - 5, true, 0, 0, storeId);
      expect(torn).toMatchObject({ status: ScanStatus.Bad, consumed: firstLength, errorCode: 1 });
      expect(session.findValidFrame(log.length - 5, firstLength + 8, storeId)).toBe(-1);
      const partial = session.scan(log.length - 5, false, 0, 0, storeId);
      expect(partial).toMatchObject({ status: ScanStatus.NeedMore, consumed: firstLength });

      const view = session.bufferView(log.length);
      view[40]! ^= 0x40;
      const damaged = session.scan(log.length, true, 0, 0, storeId);
      expect(damaged.status).toBe(ScanStatus.Bad);
      expect(damaged.consumed).toBe(0);
      expect(damaged.message).toMatch(/checksum mismatch/);
      expect(session.findValidFrame(log.length, 8, storeId)).toBe(firstLength);
    });
  });
});
