/**
 * Byte codecs for snapshot sections (docs/FORMAT.md §16): a little-endian writer that grows,
 * a reader that throws `Invalid` on anything that does not fit (the snapshot is then ignored),
 * and the section layout of names with positions (events, checkpoints and other named indexes).
 * Every primitive encodes its section with these.
 */
import type { Core } from '../core/core.js';

/** A primitive's state as names with the positions of their entries, in order; `first` is the version (seq) of the first position (older ones were pruned). */
export type NamedPositions = { name: string; first: number; positions: number[] }[];

/** A little-endian byte writer that grows. */
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class Writer {
  bytes = new Uint8Array(1 << 16);
  view = new DataView(this.bytes.buffer);
  length = 0;
  private room(count: number): void {
    if (this.length + count <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.length + count) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(value: number): void {
    this.room(1);
    this.bytes[this.length++] = value;
  }
  /** A string: u32 byte length, then its UTF-8. */
  text(value: string): void {
    const bytes = encoder.encode(value);
    this.u32(bytes.length);
    this.raw(bytes);
  }
  u32(value: number): void {
    this.room(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }
  f64(value: number): void {
    this.room(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }
  raw(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }
  u32s(values: Uint32Array): void {
    this.room(values.length * 4);
    if (LITTLE_ENDIAN && this.length % 4 === 0) new Uint32Array(this.bytes.buffer, this.length, values.length).set(values);
    else for (let index = 0; index < values.length; index++) this.view.setUint32(this.length + index * 4, values[index]!, true);
    this.length += values.length * 4;
  }
  align(to: number): void {
    const padding = (to - (this.length % to)) % to;
    this.room(padding);
    this.bytes.fill(0, this.length, this.length + padding);
    this.length += padding;
  }
  done(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** The format is little-endian; on a little-endian host (all of today's) u32 arrays are copied whole. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Thrown inside decoding; the caller turns it into "ignored snapshot: …". */
export class Invalid extends Error {}

export class Reader {
  private readonly view: DataView;
  at = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(count: number): void {
    if (count < 0 || this.at + count > this.bytes.length) throw new Invalid(`section ends early (needs ${count} bytes at ${this.at} of ${this.bytes.length})`);
  }
  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }
  f64(): number {
    this.need(8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!Number.isSafeInteger(value) || value < 0) throw new Invalid(`bad position ${value}`);
    return value;
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  /** Any f64 (NaN, −1…); `f64` is for positions. */
  float(): number {
    this.need(8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    return value;
  }
  /** A string written by `Writer.text` (UTF-8, checked). */
  text(): string {
    const bytes = this.raw(this.u32());
    try {
      return decoder.decode(bytes);
    } catch {
      throw new Invalid('a string is not UTF-8');
    }
  }
  get finished(): boolean {
    return this.at === this.bytes.length;
  }
  raw(count: number): Uint8Array {
    this.need(count);
    const value = this.bytes.subarray(this.at, this.at + count);
    this.at += count;
    return value;
  }
  u32s(count: number): Uint32Array {
    this.need(count * 4);
    let values: Uint32Array;
    // One copy when the words are aligned (they are: the log section lays them out so).
    const offset = this.bytes.byteOffset + this.at;
    if (LITTLE_ENDIAN && offset % 4 === 0) values = new Uint32Array(this.bytes.buffer, offset, count).slice();
    else {
      values = new Uint32Array(count);
      for (let index = 0; index < count; index++) values[index] = this.view.getUint32(this.at + index * 4, true);
    }
    this.at += count * 4;
    return values;
  }
  align(to: number): void {
    this.at += (to - (this.at % to)) % to;
  }
  end(): void {
    if (this.at !== this.bytes.length) throw new Invalid(`${this.bytes.length - this.at} unexpected bytes at the end of a section`);
  }
}

export function encodeNamed(items: NamedPositions): Uint8Array {
  const writer = new Writer();
  writer.u32(items.length);
  for (const item of items) {
    const name = encoder.encode(item.name);
    writer.u32(name.length);
    writer.raw(name);
    writer.align(4);
    writer.u32(item.positions.length);
    writer.align(8);
    writer.f64(item.first);
    for (const position of item.positions) writer.f64(position);
  }
  return writer.done();
}

/** Names come back in NFC (names.ts): a snapshot written before names were normalised may hold other forms. */
export function decodeNamed(core: Core, bytes: Uint8Array): NamedPositions {
  const reader = new Reader(bytes);
  const count = reader.u32();
  const items: NamedPositions = [];
  for (let index = 0; index < count; index++) {
    let name: string;
    const nameBytes = reader.raw(reader.u32());
    try {
      name = decoder.decode(nameBytes);
    } catch {
      throw new Invalid('a name is not UTF-8');
    }
    if (!/^[\x00-\x7f]*$/.test(name)) name = core.normalizeName(nameBytes, true).text;
    reader.align(4);
    const positionCount = reader.u32();
    reader.align(8);
    const first = reader.f64();
    const positions = new Array<number>(positionCount);
    for (let at = 0; at < positionCount; at++) positions[at] = reader.f64();
    items.push({ name, first, positions });
  }
  reader.end();
  return items;
}

