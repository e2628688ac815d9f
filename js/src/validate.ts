/**
 * Checks of caller-supplied values shared by the engine and the primitives: each throws
 * InvalidArgumentError naming the argument and describing what it got, never a bare TypeError.
 */
import { InvalidArgumentError } from './errors.js';
import { nearest } from './nearest.js';
import { checkJsonValue } from './json-value.js';

/** A short, safe description of any value for an error message (never throws). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (value instanceof Uint8Array) return 'a Uint8Array';
  return typeof value;
}

/**
 * The option names a call accepts, as an object with every key of `T` set to true: the
 * compiler then checks that the list is exactly the options interface (none missing, none extra).
 */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/**
 * An options argument: undefined becomes {}; anything but a plain object is rejected, and so
 * is any key the call does not take (a typo must not silently turn a check off), naming the
 * key and the nearest valid one. `where` names the call in messages (`append`, `prune.events`).
 */
export function checkOptions<T extends object>(where: string, value: T | undefined, keys: OptionKeys<T>): T {
  value = checkObject(where, value);
  checkKeys('option', where, value, keys);
  return value;
}

/**
 * Throws InvalidArgumentError for a key of `value` that `keys` does not have, naming it and the
 * nearest valid one: `kind` 'option' for an options argument, 'field' for an input record (an
 * event), `where` names the call or the record.
 */
export function checkKeys(kind: 'option' | 'field', where: string, value: object, keys: object): void {
  // for-in with own-key checks: the same keys as Object.keys, without an array per call (it runs per event).
  for (const key in value) {
    if (!Object.hasOwn(keys, key) && Object.hasOwn(value, key)) throw new InvalidArgumentError(unknownKey(kind, where, key, Object.keys(keys)));
  }
}

/** The options argument of a call that takes none: only undefined or {} (a key is unknown, so it is not silently ignored). */
export type NoOptions = Record<string, never>;

export function checkNoOptions(where: string, value: unknown): void {
  checkKeys('option', where, checkObject(where, value as object | undefined), {});
}

/** An object argument whose keys are names (prune's `streams`): undefined becomes {}; anything but a plain object is rejected. */
export function checkObject<T extends object>(where: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${describe(value)}`);
  }
  return value;
}

function unknownKey(kind: 'option' | 'field', where: string, key: string, valid: readonly string[]): string {
  const shown = key.length > 60 ? `${key.slice(0, 60)}…` : key;
  const near = nearest(key, valid);
  const head = kind === 'option' ? `unknown option '${shown}' for ${where}` : `unknown field '${shown}' in ${where}`;
  if (near !== undefined) return `${head}; did you mean '${near}'?`;
  if (valid.length === 0) return `${head}; it takes no ${kind}s`;
  return `${head}; its ${kind}s are ${valid.map((name) => `'${name}'`).join(', ')}`;
}

/**
 * An option that has an older name kept as an alias: the value under either name; both given
 * and different is InvalidArgumentError.
 */
export function aliasedOption(where: string, options: object, name: string, alias: string): unknown {
  const value = (options as Record<string, unknown>)[name];
  const old = (options as Record<string, unknown>)[alias];
  if (old === undefined) return value;
  if (value !== undefined && !Object.is(value, old)) {
    throw new InvalidArgumentError(`${where}: ${name} and ${alias} (its older name) are both given and differ (${describe(value)} and ${describe(old)}); give only ${name}`);
  }
  return value ?? old;
}

export function checkCount(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new InvalidArgumentError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${describe(value)}`);
  }
  return value;
}

/** `limit` (or its older name `maxCount`) of a read: at most this many, Infinity when absent. */
export function checkLimit(where: string, options: { limit?: unknown; maxCount?: unknown }): number {
  const value = aliasedOption(where, options, 'limit', 'maxCount');
  if (value === undefined || value === Infinity) return Infinity;
  return checkCount(options.limit === undefined ? 'maxCount' : 'limit', value);
}

export function checkDirection(value: unknown): 'forward' | 'backward' {
  if (value === undefined) return 'forward';
  if (value !== 'forward' && value !== 'backward') throw new InvalidArgumentError(`direction must be 'forward' or 'backward', got ${describe(value)}`);
  return value;
}

export function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${name} must be true or false, got ${describe(value)}`);
  return value;
}

export function checkFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidArgumentError(`${name} must be a function, got ${describe(value)}`);
  return value as F;
}

/** JSON text of a caller's value, and whether reads return exactly that value. */
export interface JsonText {
  text: string;
  /** false: JSON changes the value harmlessly (undefined properties, -0…); reads return JSON.parse(text). */
  exact: boolean;
}

const invalid = (message: string) => new InvalidArgumentError(message);

/**
 * `JSON.stringify(value)`, or InvalidArgumentError naming the path inside `what` of anything
 * JSON would not store as given (json-value.ts). `binaryHint`: the advice for bytes other than
 * a Uint8Array as the whole value, where the caller takes a Uint8Array.
 */
export function jsonText(value: unknown, what: string, binaryHint?: string): JsonText {
  const exact = checkJsonValue(value, what, invalid, binaryHint);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(`${what} is not serialisable as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new InvalidArgumentError(`${what} must be a JSON value, got ${describe(value)}`);
  return { text, exact };
}
