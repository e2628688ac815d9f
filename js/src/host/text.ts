/**
 * UTF-8 decoding of small slices, the hot spot of replay. Node and Bun's Buffer decodes short
 * slices several times faster than TextDecoder; elsewhere TextDecoder is used.
 */
type BufferLike = { prototype: { utf8Slice?: (start: number, end: number) => string } };
const NodeBuffer = (globalThis as unknown as { Buffer?: BufferLike }).Buffer;
const utf8Slice = NodeBuffer?.prototype.utf8Slice;
const decoder = new TextDecoder();

export const utf8Decode: (bytes: Uint8Array, start: number, end: number) => string = utf8Slice
  ? (bytes, start, end) => utf8Slice.call(bytes, start, end)
  : (bytes, start, end) => decoder.decode(bytes.subarray(start, end));
