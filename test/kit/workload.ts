/**
 * What a primitive supplies to join the test kit (test/kit/kit.ts): its operations as a
 * fast-check arbitrary, how to run one against a store, a plain model of what the operation
 * promises, a read-back of the state through the public API, bad calls, and optionally a prune
 * policy with its effect on the model. One file per primitive: test/kit/<name>.workload.ts,
 * whose default export is a `Workload` (or a promise of one, or undefined to skip with a reason
 * in `skipped`). test/primitive-kit.test.ts finds every such file and runs the whole kit on it.
 */
import type fc from 'fast-check';
import type { ErrorCode, OpenOptions, PruneOptions, Store } from '../../js/src/index.node.js';

/** What the model says an operation must do when it must fail: reject with this code, writing nothing. */
export class Fails {
  constructor(readonly code: ErrorCode) {}
}

export const fails = (code: ErrorCode): Fails => new Fails(code);

/** A short description of any value (junk included: no toString is called). */
export function show(value: unknown): string {
  try {
    const text = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : typeof value === 'symbol' || typeof value === 'function' ? typeof value : JSON.stringify(value) ?? String(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export interface BadCall {
  /** Shown when the call does not reject as it must. */
  what: string;
  call(db: Store): unknown;
  /** The ReeldbError code it must reject (or throw) with. */
  code: ErrorCode;
}

export interface JunkCall {
  what: string;
  call(db: Store): unknown;
}

export interface Workload<Op = unknown, Model = unknown> {
  /** The primitive's name: `db.fingerprint()[name]`. */
  name: string;
  /** Extra open options on every open (`primitives: [spec]` for an extension). */
  open?: Omit<OpenOptions, 'host' | 'durability' | 'readOnly' | 'ignoreSnapshots' | 'onWarning'>;
  /**
   * One operation. Each operation is at most one commit (the crash sweep checks that the state
   * after a crash is the state after some prefix of the operations).
   */
  op: fc.Arbitrary<Op>;
  /** Operations per sequence (default 40); the damage and prune sweeps use twice as many. */
  length?: number;
  /** A fresh model (an empty store). */
  init(): Model;
  /** Runs the operation; returns a JSON-able outcome (no timestamps or random ids). Typed errors are the kit's to catch. */
  apply(db: Store, op: Op): Promise<unknown>;
  /** The model: updates it in place and returns the outcome `apply` must give, or `fails(code)`. */
  step(model: Model, op: Op): unknown;
  /** The whole state through the public API, JSON-able and deterministic. */
  read(db: Store): Promise<unknown>;
  /** What `read` must give for this model. */
  expected(model: Model): unknown;
  /** Calls that must reject with a typed error and write nothing. */
  badCalls: BadCall[];
  /** Calls with junk arguments (`junk` is the kit's arbitrary of odd values): each may succeed or reject with a typed error; a rejection writes nothing. */
  junkCalls?(junk: fc.Arbitrary<unknown>): fc.Arbitrary<JunkCall>;
  /** Whether operations leave dead entries (overwrites, deletes) that `compact` must erase; default true (the prune sweep then requires rewritten segments). */
  deadEntries?: boolean;
  /** The primitive's retention policy: what to pass to `prune`, and what it removes from the model. */
  prune?: {
    options(model: Model): PruneOptions;
    step(model: Model, options: PruneOptions): void;
  };
}
