/**
 * What JSON stores of a caller's value. reeldb stores values as `JSON.stringify` text and reads
 * them back with `JSON.parse`, so a write must return what a read will: `checkJsonValue` walks
 * the value once and rejects whatever the text would change (NaN and ±Infinity become null, a
 * Date its ISO string, a Map or Set `{}`, a typed array an object of indices, undefined in an
 * array null, a bigint throws…), naming the path inside the value. Two things JSON changes
 * harmlessly are accepted and reported as inexact instead, so the caller returns the parsed
 * text rather than its own object: object properties that are undefined (left out, as
 * `JSON.stringify` does), -0 (stored as 0) and objects without a prototype or from another
 * realm (read back as ordinary objects).
 *
 * The check is a walk of its own before the native `JSON.stringify` (which stays much faster
 * than any serialiser in JS): for the bench's ~200-byte agent events it costs 60–90 ns, about a
 * tenth of the stringify and 1–2% of an append. Only when the fast walk meets something that is
 * not plain data does a second, slower walk track cycles and build the path for the message.
 */

/** The fast walk gives up below this depth (the full walk then looks for a cycle). */
const FAST_DEPTH = 256;

interface Problem {
  reason: string;
  /** Keys and indices from the problem outwards (pushed as the walk unwinds). */
  path: Array<string | number>;
  /** A cycle: the depth of the ancestor it refers back to. */
  cycleTo?: number;
}

let inexact = false;
/** The caller takes a Uint8Array as the whole value (said in the advice for bytes inside it). */
let wholeBytes = false;
/** Objects being walked by the full walk, with their depth. */
let ancestors = new Map<object, number>();

/**
 * Throws `fail(message)` when `value` is not a value JSON stores as given; `what` names it in
 * the message (e.g. `append: events[2].data`). `binaryHint` is what to say of bytes other than
 * a Uint8Array given as the whole value (where the caller accepts a Uint8Array there). Returns
 * whether the stored value is exactly `value` (false: read it back from the text).
 */
export function checkJsonValue(value: unknown, what: string, fail: (message: string) => Error, binaryHint?: string): boolean {
  // The common case, on every append: plain data, walked without allocating.
  inexact = false;
  try {
    if (isPlain(value, 0)) return !inexact;
  } catch {
    // A getter or proxy that throws: the full walk says where.
  }
  // Anything else is walked again, tracking cycles and building the path of what is wrong.
  inexact = false;
  wholeBytes = binaryHint !== undefined;
  let problem: Problem | undefined;
  try {
    problem = check(value, 0);
  } catch (error) {
    // A getter or proxy that throws, or nesting deeper than the stack.
    problem = { reason: error instanceof RangeError ? 'nests too deeply for JSON' : `cannot be read (${(error as Error)?.message})`, path: [] };
  } finally {
    ancestors.clear();
  }
  if (problem === undefined) return !inexact;
  if (problem.path.length === 0 && binaryHint !== undefined && typeof value === 'object' && value !== null && (ArrayBuffer.isView(value) || isBuffer(value))) {
    throw fail(`${what} is ${kindOf(value)}; ${binaryHint}`);
  }
  const path = problem.path.reverse();
  let reason = problem.reason;
  if (problem.cycleTo !== undefined) reason = `refers back to ${what.replace(/^[\w.]+: /, '')}${formatPath(path.slice(0, problem.cycleTo))} (a cycle), which JSON cannot store`;
  throw fail(`${what}${formatPath(path)} ${reason}`);
}

/**
 * Whether `value` is plain JSON data (ordinary objects and arrays, finite numbers, strings,
 * booleans, null; undefined properties and -0 set `inexact`). False for anything else,
 * including what the full walk accepts after a closer look.
 */
function isPlain(value: unknown, depth: number): boolean {
  if (typeof value !== 'object') return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && isPlainNumber(value));
  if (value === null) return true;
  if (depth > FAST_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (typeof item === 'string' || typeof item === 'boolean' || item === null) continue;
      if (typeof item === 'object' ? !isPlain(item, depth + 1) : typeof item !== 'number' || !isPlainNumber(item)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  // for-in also lists enumerable inherited keys, which only a polluted Object.prototype has: then the full walk decides.
  for (const key in value) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item === 'string' || typeof item === 'boolean' || item === null) continue;
    if (typeof item === 'object') {
      if (!isPlain(item, depth + 1)) return false;
    } else if (typeof item === 'number') {
      if (!isPlainNumber(item)) return false;
    } else if (item === undefined) inexact = true;
    else return false;
  }
  return true;
}

function isPlainNumber(value: number): boolean {
  // NaN and ±Infinity are the numbers for which this is not 0.
  if (value - value !== 0) return false;
  if (value === 0 && 1 / value < 0) inexact = true;
  return true;
}

function isBuffer(value: object): boolean {
  return value instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer);
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `.key`, `["odd key"]` and `[index]` segments; the middle of a very deep path is left out. */
function formatPath(path: ReadonlyArray<string | number>): string {
  const segment = (key: string | number) => (typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
  if (path.length > 24) return path.slice(0, 12).map(segment).join('') + `…(${path.length - 20} more)…` + path.slice(-8).map(segment).join('');
  return path.map(segment).join('');
}

function problem(reason: string): Problem {
  return { reason, path: [] };
}

function check(value: unknown, depth: number): Problem | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return checkNumber(value);
    case 'object':
      return value === null ? undefined : checkObject(value, depth);
    case 'undefined':
      return problem('is undefined, which JSON cannot store; pass null');
    case 'bigint':
      return problem('is a bigint, which JSON cannot store; pass a string (value.toString()) or a number');
    case 'function':
      return problem('is a function, which JSON cannot store');
    default:
      return problem(`is a ${typeof value}, which JSON cannot store`);
  }
}

function checkNumber(value: number): Problem | undefined {
  return isPlainNumber(value) ? undefined : problem(`is ${value}, which JSON cannot store (it would read back as null)`);
}

function checkObject(value: object, depth: number): Problem | undefined {
  const seen = ancestors.get(value);
  if (seen !== undefined) return { reason: '', path: [], cycleTo: seen };
  ancestors.set(value, depth);
  const found = Array.isArray(value) ? checkArray(value, depth) : checkPlain(value as Record<string, unknown>, depth);
  ancestors.delete(value);
  return found;
}

function checkArray(value: unknown[], depth: number): Problem | undefined {
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Array.prototype) {
    if (isOtherRealm(prototype, 'Array')) inexact = true;
    else return problem(`is ${kindOf(value)}, which JSON stores as a plain array; pass Array.from(it)`);
  }
  for (let index = 0; index < value.length; index++) {
    const item = value[index];
    let found: Problem | undefined;
    if (typeof item === 'object') {
      if (item === null) continue;
      found = checkObject(item, depth + 1);
    } else if (typeof item === 'string' || typeof item === 'boolean') continue;
    else if (typeof item === 'number') found = checkNumber(item);
    else if (item === undefined) found = problem(index in value ? 'is undefined, which JSON stores as null in an array; pass null' : 'is a hole of a sparse array, which JSON stores as null; pass null');
    else found = check(item, depth + 1);
    if (found) {
      found.path.push(index);
      return found;
    }
  }
  return undefined;
}

function checkPlain(value: Record<string, unknown>, depth: number): Problem | undefined {
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype) {
    if (prototype === null || isOtherRealm(prototype, 'Object')) inexact = true;
    else return problem(describeInstance(value));
  }
  for (const key in value) {
    // for-in also lists enumerable inherited keys (only a polluted Object.prototype has any); JSON skips them.
    const item = value[key];
    let found: Problem | undefined;
    if (typeof item === 'object') {
      if (item === null) continue;
      found = checkObject(item, depth + 1);
    } else if (typeof item === 'string' || typeof item === 'boolean') continue;
    else if (typeof item === 'number') found = checkNumber(item);
    else if (item === undefined) {
      inexact = true;
      continue;
    } else if (typeof item === 'function') {
      found = problem(key === 'toJSON' ? 'is a toJSON method: JSON would store what it returns instead of the object; pass that' : 'is a function, which JSON cannot store (it would be left out)');
    } else found = check(item, depth + 1);
    if (found) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      found.path.push(key);
      return found;
    }
  }
  return undefined;
}

/** An Object.prototype or Array.prototype of another realm (a vm context, an iframe). */
function isOtherRealm(prototype: object | null, name: 'Object' | 'Array'): boolean {
  if (prototype === null) return false;
  const constructor = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value as { name?: unknown } | undefined;
  if (typeof constructor !== 'function' || constructor.name !== name) return false;
  return name === 'Object' ? Object.getPrototypeOf(prototype) === null : isOtherRealm(Object.getPrototypeOf(prototype), 'Object');
}

function kindOf(value: object): string {
  let name: unknown;
  try {
    name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  } catch {
    name = undefined;
  }
  if (typeof name !== 'string' || name === '') return 'an object of a class';
  return `${/^([AEIO]|U(?!int))/.test(name) ? 'an' : 'a'} ${name}`;
}

function describeInstance(value: object): string {
  if (value instanceof Date) return 'is a Date, which JSON cannot store; pass date.toISOString()';
  if (value instanceof Map) return 'is a Map, which JSON cannot store (it would read back as {}); pass Object.fromEntries(map) or [...map]';
  if (value instanceof Set) return 'is a Set, which JSON cannot store (it would read back as {}); pass [...set]';
  if (value instanceof RegExp) return 'is a RegExp, which JSON cannot store; pass regexp.source';
  const bytesAdvice = wholeBytes ? 'encode the bytes (base64), or pass a Uint8Array as the whole value' : 'encode the bytes (base64)';
  if (isBuffer(value)) return `is ${kindOf(value)}, which JSON cannot store; ${bytesAdvice}`;
  if (ArrayBuffer.isView(value)) return `is ${kindOf(value)}, which JSON cannot store (it would read back as an object of indices); ${bytesAdvice}`;
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return `is ${kindOf(value)} object, which JSON stores as its primitive; pass the primitive`;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return `is ${kindOf(value)} with a toJSON method, which JSON cannot store as it is; pass what toJSON() returns`;
  return `is ${kindOf(value)}, which JSON cannot store as it is (it would read back as a plain object); pass a plain object`;
}
