/**
 * A tiny extension primitive for the test kit, written only against the public API the way a
 * user would (no engine file knows it): named tallies. `db.tally.add(name, amount)` records the
 * running total (kind 0xC0: name = the tally, version = the total), `clear(name)` forgets one
 * (kind 0xC1), and `prune({ tally: { below } })` clears every tally whose total is below a bound
 * (writing a 0xC1 record for each, so a crash at any step of the prune recovers either state).
 * Only each tally's newest entry is live.
 */
import { InvalidArgumentError, decodeNamed, encodeNamed, writeNamedEntry, type PrimitiveContext, type PrimitiveInstance, type PrimitiveSpec, type PrunePart, type RecoveredEntry } from '../../js/src/index.node.js';

export const KIND_TALLY_ADD = 0xc0;
export const KIND_TALLY_CLEAR = 0xc1;

const encoder = new TextEncoder();
const ADD = encoder.encode('add');
const CLEAR = encoder.encode('clear');

export interface Tally {
  add(name: string, amount: number): Promise<{ total: number; position: number }>;
  /** Resolves to the total cleared (0, writing nothing, for an unknown tally). */
  clear(name: string): Promise<number>;
  get(name: string): number | undefined;
  /** Every tally and its total, in name order. */
  all(): [string, number][];
}

function checkName(where: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 100 || name !== name.normalize('NFC') || /[\ud800-\udfff]/.test(name)) {
    throw new InvalidArgumentError(`${where}: a tally name is a string of 1 to 100 characters in NFC, got ${typeof name === 'string' ? `${name.length} characters` : typeof name}`);
  }
  return name;
}

class TallyPrimitive implements PrimitiveInstance<Tally> {
  private readonly tallies = new Map<string, { total: number; position: number }>();

  constructor(private readonly context: PrimitiveContext) {}

  readonly api: Tally = {
    add: (name, amount) => {
      try {
        this.context.checkWritable();
        name = checkName('tally.add', name);
        if (!Number.isSafeInteger(amount) || amount < 1 || amount > 1_000_000) throw new InvalidArgumentError(`tally.add: amount must be an integer from 1 to 1,000,000, got ${typeof amount === 'number' ? amount : typeof amount}`);
      } catch (error) {
        return Promise.reject(error);
      }
      const bytes = encoder.encode(name);
      return this.context.submit({
        prepare: (firstPosition, writer) => {
          const total = (this.tallies.get(name)?.total ?? 0) + amount;
          writeNamedEntry(writer, KIND_TALLY_ADD, bytes, { type: ADD, id: '', data: String(amount), binary: false }, total, Date.now());
          return { count: 1, apply: () => void this.tallies.set(name, { total, position: firstPosition }), result: (position) => ({ total, position }) };
        },
      });
    },
    clear: (name) => {
      try {
        this.context.checkWritable();
        name = checkName('tally.clear', name);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.context.submit({
        prepare: (_firstPosition, writer) => {
          const current = this.tallies.get(name);
          if (!current) return { done: 0 };
          writeNamedEntry(writer, KIND_TALLY_CLEAR, encoder.encode(name), { type: CLEAR, id: '', data: '0', binary: false }, 0, Date.now());
          return { count: 1, apply: () => void this.tallies.delete(name), result: () => current.total };
        },
      });
    },
    get: (name) => {
      this.context.checkOpen();
      return this.tallies.get(checkName('tally.get', name))?.total;
    },
    all: () => {
      this.context.checkOpen();
      return [...this.tallies].map(([name, { total }]): [string, number] => [name, total]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    },
  };

  recover(entry: RecoveredEntry): string | undefined {
    // The scan indexes the kinds this spec declares named: name and version come without reading the payload.
    const { name, version } = entry;
    if (name === undefined) return `tally entry at ${entry.position} has no name`;
    if (entry.kind === KIND_TALLY_CLEAR) this.tallies.delete(name);
    else this.tallies.set(name, { total: version, position: entry.position });
    return undefined;
  }

  captureSection(): Uint8Array {
    return encodeNamed([...this.tallies].map(([name, { total, position }]) => ({ name, first: total, positions: [position] })));
  }

  restoreSection(bytes: Uint8Array): void {
    this.tallies.clear();
    if (bytes.length === 0) return;
    for (const { name, first, positions } of decodeNamed(this.context.core, bytes)) {
      if (positions.length !== 1) throw new Error(`tally '${name}' has ${positions.length} positions, expected 1`);
      this.tallies.set(name, { total: first, position: positions[0]! });
    }
  }

  markLive(mark: (position: number) => void): void {
    for (const { position } of this.tallies.values()) mark(position);
  }

  planPrune(policy: unknown): PrunePart {
    const below = (policy as { below: number } | undefined)?.below;
    if (below === undefined) return { positions: [] };
    const planned = [...this.tallies].filter(([, tally]) => tally.total < below);
    return {
      positions: planned.map(([, tally]) => tally.position).sort((a, b) => a - b),
      recordCount: planned.length,
      write: (writer, timestamp) => {
        // Only tallies unchanged since the plan (in commit order).
        const still = planned.filter(([name, tally]) => this.tallies.get(name)?.position === tally.position);
        for (const [name] of still) writeNamedEntry(writer, KIND_TALLY_CLEAR, encoder.encode(name), { type: CLEAR, id: '', data: '0', binary: false }, 0, timestamp);
        return { count: still.length, removed: still.length, apply: () => still.forEach(([name]) => this.tallies.delete(name)) };
      },
    };
  }

  stats(): Record<string, number> {
    return { tallies: this.tallies.size };
  }

  fingerprint(): unknown {
    return this.api.all().map(([name, total]) => [name, total, this.tallies.get(name)!.position]);
  }
}

export const tallyPrimitive: PrimitiveSpec<Tally> = {
  name: 'tally',
  kinds: [KIND_TALLY_ADD, KIND_TALLY_CLEAR],
  namedKinds: [KIND_TALLY_ADD, KIND_TALLY_CLEAR],
  recordKinds: [KIND_TALLY_CLEAR],
  section: 0x101,
  pruneKeys: ['tally'],
  checkPrune(given) {
    const rule = given.tally;
    if (rule === undefined) return undefined;
    const below = (rule as { below?: unknown } | null)?.below;
    if (rule === null || typeof rule !== 'object' || Object.keys(rule).some((key) => key !== 'below') || !Number.isSafeInteger(below) || (below as number) < 1) {
      throw new InvalidArgumentError(`prune: tally must be { below: a positive integer }`);
    }
    return { below };
  },
  create: (context) => new TallyPrimitive(context),
};
