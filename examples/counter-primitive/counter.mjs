// A worked extension primitive for reeldb: named counters (docs/EXTENDING.md).
//
//   import { open } from 'reeldb';
//   import { counterPrimitive } from './counter.mjs';
//   const db = await open('./agent.reel', { primitives: [counterPrimitive] });
//   await db.counters.add('tool_calls', 1);        // → { name, total, position }
//   db.counters.get('tool_calls');                 // → 1
//
// It lives outside the engine and uses only the public API: kinds 0xC0–0xC1 from the
// extension range, snapshot section 0x100, the named-entry layout (the scan reports each entry's
// counter name and its running total, so recovery never reads a payload), cut-free retention
// (only each counter's newest entry is live: a prune or compact erases the older ones), and a
// fingerprint for the test kit. No engine file knows it exists.
import { InvalidArgumentError, decodeNamed, encodeNamed, writeNamedEntry } from '../../js/dist/index.node.js';

/** One `add`: name = the counter, version = its total after the add, data = the amount (JSON). */
export const KIND_COUNTER_ADD = 0xc0;
/** A counter reset to 0 (version 0). */
export const KIND_COUNTER_RESET = 0xc1;

const encoder = new TextEncoder();
const TYPE_ADD = encoder.encode('add');
const TYPE_RESET = encoder.encode('reset');

class Counters {
  /** name → { total, position of the newest entry } */
  #counters = new Map();
  #context;

  constructor(context) {
    this.#context = context;
  }

  // ---- the API (db.counters)

  /** The counter's total (0 when it was never added to). */
  get(name) {
    this.#context.checkOpen();
    return this.#counters.get(checkCounterName(name))?.total ?? 0;
  }

  /** Every counter and its total, by name. */
  all() {
    this.#context.checkOpen();
    return Object.fromEntries([...this.#counters].map(([name, { total }]) => [name, total]));
  }

  /** Adds `amount` (a safe integer, default 1) as one durable entry; resolves to the new total. */
  add(name, amount = 1) {
    try {
      this.#context.checkWritable();
      name = checkCounterName(name);
      if (!Number.isSafeInteger(amount)) throw new InvalidArgumentError(`counters.add: amount must be a safe integer, got ${typeof amount === "number" ? amount : typeof amount}`);
    } catch (error) {
      return Promise.reject(error);
    }
    const nameBytes = encoder.encode(name);
    return this.#context.submit({
      prepare: (firstPosition, writer) => {
        // In commit order: the total seen here includes every add committed before this one.
        const total = (this.#counters.get(name)?.total ?? 0) + amount;
        if (total < 0 || !Number.isSafeInteger(total)) throw new InvalidArgumentError(`counters.add: '${name}' would become ${total}; totals are 0 to 2^53-1`);
        writeNamedEntry(writer, KIND_COUNTER_ADD, nameBytes, { type: TYPE_ADD, id: '', data: JSON.stringify(amount), binary: false }, total, Date.now());
        return {
          count: 1,
          apply: () => this.#counters.set(name, { total, position: firstPosition }),
          result: (position) => ({ name, total, position }),
        };
      },
    });
  }

  /** Sets the counter back to 0. */
  reset(name) {
    try {
      this.#context.checkWritable();
      name = checkCounterName(name);
    } catch (error) {
      return Promise.reject(error);
    }
    const nameBytes = encoder.encode(name);
    return this.#context.submit({
      prepare: (firstPosition, writer) => {
        if (!this.#counters.has(name)) return { done: 0 };
        writeNamedEntry(writer, KIND_COUNTER_RESET, nameBytes, { type: TYPE_RESET, id: '', data: '0', binary: false }, 0, Date.now());
        return { count: 1, apply: () => this.#counters.set(name, { total: 0, position: firstPosition }), result: () => 0 };
      },
    });
  }

  // ---- the primitive's hooks (PrimitiveInstance)

  get api() {
    return this;
  }

  recover(entry) {
    if (entry.name === undefined) return `counter entry at position ${entry.position} has no name`;
    this.#counters.set(entry.name, { total: entry.version, position: entry.position });
    return undefined;
  }

  captureSection() {
    // The named-positions layout: first = the total, positions = [the newest entry].
    return encodeNamed([...this.#counters].map(([name, { total, position }]) => ({ name, first: total, positions: [position] })));
  }

  restoreSection(bytes) {
    this.#counters.clear();
    if (bytes.length === 0) return;
    for (const { name, first, positions } of decodeNamed(this.#context.core, bytes)) {
      if (positions.length !== 1) throw new Error(`counter '${name}' has ${positions.length} positions in the snapshot, expected 1`);
      this.#counters.set(name, { total: first, position: positions[0] });
    }
  }

  /** Only each counter's newest entry is needed: a prune erases the others. */
  markLive(mark) {
    for (const { position } of this.#counters.values()) mark(position);
  }

  stats() {
    return { counters: this.#counters.size };
  }

  fingerprint() {
    return Object.fromEntries([...this.#counters].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, { total }]) => [name, total]));
  }
}

function checkCounterName(name) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new InvalidArgumentError(`counter names must be strings of 1 to 200 characters, got ${typeof name === 'string' ? `${name.length} characters` : typeof name}`);
  if (name !== name.normalize('NFC')) throw new InvalidArgumentError(`counter name '${name}' must be in Unicode NFC (pass name.normalize('NFC'))`);
  // A lone surrogate has no UTF-8 form: stored, it would come back as U+FFFD, another name.
  if (/\p{Cs}/u.test(name)) throw new InvalidArgumentError('counter names must be well-formed Unicode (this one holds a lone surrogate)');
  return name;
}

/** The spec to pass to `open(path, { primitives: [counterPrimitive] })` or `db.registerPrimitive`. */
export const counterPrimitive = {
  name: 'counters',
  kinds: [0xc0, 0xc1],
  namedKinds: [KIND_COUNTER_ADD, KIND_COUNTER_RESET],
  section: 0x100,
  create: (context) => new Counters(context),
};
