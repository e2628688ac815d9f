/**
 * Run ids: the rule for ids a caller gives, and the default id, `run_` and 26 characters that
 * sort by creation time (a ULID: 48 bits of milliseconds and 80 random bits in Crockford's
 * base 32; ids made in the same millisecond by one store count up, so they sort too).
 */
import type { Core } from '../core/core.js';
import { InvalidArgumentError } from '../errors.js';
import { checkName, type Name } from '../names.js';

/** Run ids are at most this many UTF-8 bytes (NFC): the other primitives store the run id in the named entry's 255-byte id field. */
export const MAX_RUN_ID_BYTES = 128;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A run id given by a caller: a string of 1 to 128 UTF-8 bytes in NFC, without control characters. */
export function checkRunId(core: Core, what: string, value: unknown): Name {
  const name = checkName(core, what, value, MAX_RUN_ID_BYTES);
  const at = name.text.search(CONTROL);
  if (at >= 0) throw new InvalidArgumentError(`${what} must not hold control characters: it has U+${name.text.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')} at index ${at}`);
  return name;
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Makes default run ids: time-sortable, counting up within a millisecond. */
export class RunIds {
  private lastTime = -1;
  private readonly random = new Uint8Array(10);

  next(now = Date.now()): string {
    if (now > this.lastTime) {
      this.lastTime = now;
      crypto.getRandomValues(this.random);
      // Leave room to count up within the millisecond.
      this.random[0]! &= 0x7f;
    } else {
      // Same (or an earlier) millisecond: the previous id plus one, so ids keep sorting.
      for (let index = this.random.length - 1; index >= 0; index--) {
        this.random[index] = (this.random[index]! + 1) & 0xff;
        if (this.random[index] !== 0) break;
      }
    }
    let text = 'run_';
    let time = this.lastTime;
    const timeChars: string[] = new Array(10);
    for (let index = 9; index >= 0; index--) {
      timeChars[index] = ALPHABET[time % 32]!;
      time = Math.floor(time / 32);
    }
    text += timeChars.join('');
    // 80 random bits as 16 characters of 5 bits.
    let bits = 0;
    let value = 0;
    for (const byte of this.random) {
      value = (value << 8) | byte;
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        text += ALPHABET[(value >>> bits) & 31]!;
      }
      value &= (1 << bits) - 1;
    }
    return text;
  }
}
