/**
 * The name policy, one for every kind of name (stream ids, checkpoint thread ids, and the
 * names of the primitives to come): a name is a string of well-formed Unicode (no lone
 * surrogate), compared and stored in Normalization Form C, and between 1 and a limit of
 * UTF-8 bytes counted after normalisation. The wasm core normalises (names.rs), so every host
 * names a thing alike; this module checks what only a UTF-16 host can see (lone surrogates,
 * which UTF-8 cannot carry) and keeps ASCII names, which are NFC already, off the core.
 */
import type { Core } from './core/core.js';
import { InvalidArgumentError } from './errors.js';
import { describe } from './validate.js';

/** A name in NFC, as text and as the UTF-8 bytes that the log stores. */
export interface Name {
  text: string;
  bytes: Uint8Array;
}

/** Non-ASCII names remembered with their NFC form, so a name in use costs one core call. */
const CACHE_NAMES_MAX = 1024;
const cache = new Map<string, Name>();
const encoder = new TextEncoder();
const ASCII = /^[\x00-\x7f]*$/;

type WellFormed = { isWellFormed?: () => boolean };
const hasIsWellFormed = typeof (String.prototype as WellFormed).isWellFormed === 'function';

/** Index of the first lone surrogate code unit in `text`, or -1 when it is well-formed. */
export function loneSurrogateAt(text: string): number {
  return hasIsWellFormed && (text as WellFormed).isWellFormed!() ? -1 : firstLoneSurrogate(text);
}

/** The same without `String.prototype.isWellFormed` (runtimes before ES2024), which also finds the position. */
export function firstLoneSurrogate(text: string): number {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = index + 1 < text.length ? text.charCodeAt(index + 1) : 0;
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) index++;
    else return index;
  }
  return -1;
}

/**
 * `value` as a name in NFC, or InvalidArgumentError when it is not a string of well-formed
 * Unicode. `what` names the argument in errors. No length check (see `checkName`).
 */
export function normalizeName(core: Core, what: string, value: unknown): Name {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${what} must be a string, got ${describe(value)}`);
  if (ASCII.test(value)) return { text: value, bytes: encoder.encode(value) };
  const cached = cache.get(value);
  if (cached) return cached;
  const at = loneSurrogateAt(value);
  if (at >= 0) {
    const unit = value.charCodeAt(at).toString(16).toUpperCase();
    throw new InvalidArgumentError(`${what} must be well-formed Unicode: it has a lone surrogate U+${unit} at index ${at} (UTF-16 code unit), which UTF-8 cannot store`);
  }
  const bytes = core.normalizeName(encoder.encode(value));
  const name = { text: bytes.text, bytes: bytes.bytes };
  if (cache.size >= CACHE_NAMES_MAX) cache.delete(cache.keys().next().value!);
  cache.set(value, name);
  return name;
}

/**
 * A name given by a caller for something it writes or looks up: `normalizeName`, then 1 to
 * `maxBytes` UTF-8 bytes of its NFC form. `known(text)` returns a name already in use under
 * exactly that text (the usual case on the append path: no encoding, no core call).
 */
export function checkName(core: Core, what: string, value: unknown, maxBytes: number, known?: (text: string) => Uint8Array | undefined): Name {
  if (typeof value === 'string' && known) {
    const bytes = known(value);
    if (bytes) return { text: value, bytes };
  }
  const name = normalizeName(core, what, value);
  if (name.bytes.length < 1 || name.bytes.length > maxBytes) {
    throw new InvalidArgumentError(`${what} must be 1 to ${maxBytes} UTF-8 bytes (counted in Unicode NFC), got ${name.bytes.length}`);
  }
  return name;
}
