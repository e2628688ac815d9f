/**
 * Checks of caller-supplied values shared by the engine and the primitives: each throws
 * InvalidArgumentError naming the argument and describing what it got, never a bare TypeError.
 */
import { InvalidArgumentError } from './errors.js';
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

/** An options argument: undefined becomes {}; anything but a plain object is rejected. */
export function checkOptions<T extends object>(where: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(`${where}: options must be an object, got ${describe(value)}`);
  }
  return value;
}

export function checkCount(name: string, value: unknown, allowZero = true): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new InvalidArgumentError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${describe(value)}`);
  }
  return value;
}

export function checkMaxCount(value: unknown): number {
  if (value === undefined || value === Infinity) return Infinity;
  return checkCount('maxCount', value);
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
