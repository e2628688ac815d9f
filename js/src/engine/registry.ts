/**
 * The primitive registry: the kind → primitive table, the set of named kinds the core's scan
 * indexes, and the loops the store runs over every primitive (recovery, snapshot sections,
 * prune, stats, close). Entries of a kind no registered primitive claims (a newer reeldb's, an
 * extension not loaded now) are counted, kept through prune and compaction, and named once in
 * a warning (`verify` lists them).
 */
import { InvalidArgumentError } from '../errors.js';
import type { RecoveredEntry } from '../device/entry.js';
import { KIND_PRUNED } from '../device/compact.js';
import { describe } from '../validate.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec } from './primitive.js';

/** Snapshot section 1 is the log's (snapshot.ts). */
export const SECTION_LOG = 1;
/** Kinds below this are the core's (0x01 placeholders); no primitive may claim them. */
const FIRST_PRIMITIVE_KIND = 0x10;
/** User extensions live here (DESIGN.md). */
export const EXTENSION_KINDS: readonly [number, number] = [0xc0, 0xff];

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

export interface Registered {
  readonly spec: PrimitiveSpec;
  readonly instance: PrimitiveInstance;
}

/** Entries of kinds no primitive claims, per kind: how many, first position. */
export interface UnknownKinds {
  [kind: number]: { entries: number; firstPosition: number };
}

function kindHex(kind: number): string {
  return `0x${kind.toString(16).padStart(2, '0')}`;
}

/** Checks one spec's declaration (typed errors naming what is wrong). */
function checkSpec(spec: PrimitiveSpec, extension: boolean): void {
  const where = `primitive ${typeof spec?.name === 'string' ? `'${spec.name}'` : describe(spec?.name)}`;
  if (spec === null || typeof spec !== 'object') throw new InvalidArgumentError(`a primitive must be an object (a PrimitiveSpec), got ${describe(spec)}`);
  if (typeof spec.name !== 'string' || !NAME.test(spec.name)) throw new InvalidArgumentError(`${where}: name must be 1–32 lowercase letters, digits or '-', starting with a letter`);
  if (typeof spec.create !== 'function') throw new InvalidArgumentError(`${where}: create must be a function (context) => instance`);
  const kinds = spec.kinds;
  if (!Array.isArray(kinds) || kinds.length !== 2 || !kinds.every((kind) => Number.isInteger(kind)) || kinds[0] > kinds[1]) {
    throw new InvalidArgumentError(`${where}: kinds must be [first, last], integers with first ≤ last, got ${describe(kinds)}`);
  }
  const [low, high] = extension ? EXTENSION_KINDS : [FIRST_PRIMITIVE_KIND, 0xff];
  if (kinds[0] < low || kinds[1] > high) {
    throw new InvalidArgumentError(`${where}: kinds ${kindHex(kinds[0])}–${kindHex(kinds[1])} are outside ${extension ? 'the extension range' : 'the primitive range'} ${kindHex(low)}–${kindHex(high)}`);
  }
  for (const field of ['namedKinds', 'recordKinds', 'erasureKinds'] as const) {
    const list = spec[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new InvalidArgumentError(`${where}: ${field} must be an array of kinds, got ${describe(list)}`);
    for (const kind of list) {
      if (!Number.isInteger(kind) || kind < kinds[0] || kind > kinds[1]) throw new InvalidArgumentError(`${where}: ${field} holds ${describe(kind)}, not one of its kinds ${kindHex(kinds[0])}–${kindHex(kinds[1])}`);
    }
  }
  if (!Number.isInteger(spec.section) || spec.section <= SECTION_LOG || spec.section > 0xffff) {
    throw new InvalidArgumentError(`${where}: section must be an integer from 2 to 65535 (1 is the log's), got ${describe(spec.section)}`);
  }
  if (spec.pruneKeys !== undefined && (!Array.isArray(spec.pruneKeys) || spec.pruneKeys.some((key) => typeof key !== 'string' || key === 'dryRun' || key === 'onProgress'))) {
    throw new InvalidArgumentError(`${where}: pruneKeys must be an array of strings other than dryRun and onProgress, got ${describe(spec.pruneKeys)}`);
  }
}

export class Registry {
  private readonly owners: (Registered | undefined)[] = new Array(256).fill(undefined);
  readonly registered: Registered[] = [];
  private readonly byName = new Map<string, Registered>();
  /** 32 bytes: bit k set when kind k has the named-entry layout (what the core's scan indexes). */
  readonly namedKinds = new Uint8Array(32);
  readonly unknown: UnknownKinds = {};
  private warnedUnknown = false;

  /** Checks every spec and that none overlaps another (in kinds, name, section or prune key). */
  constructor(readonly specs: readonly PrimitiveSpec[], extensions: ReadonlySet<PrimitiveSpec>) {
    const sections = new Map<number, string>();
    const pruneKeys = new Map<string, string>();
    const names = new Set<string>();
    const claimed: (string | undefined)[] = new Array(256).fill(undefined);
    for (const spec of specs) {
      checkSpec(spec, extensions.has(spec));
      if (names.has(spec.name)) throw new InvalidArgumentError(`primitive '${spec.name}' is registered twice`);
      names.add(spec.name);
      for (let kind = spec.kinds[0]; kind <= spec.kinds[1]; kind++) {
        const other = claimed[kind];
        if (other) throw new InvalidArgumentError(`primitive '${spec.name}' claims kind ${kindHex(kind)}, which '${other}' owns`);
        claimed[kind] = spec.name;
      }
      const section = sections.get(spec.section);
      if (section) throw new InvalidArgumentError(`primitive '${spec.name}' uses snapshot section ${spec.section}, which '${section}' uses`);
      sections.set(spec.section, spec.name);
      for (const key of spec.pruneKeys ?? []) {
        const owner = pruneKeys.get(key);
        if (owner) throw new InvalidArgumentError(`primitive '${spec.name}' uses prune key '${key}', which '${owner}' uses`);
        pruneKeys.set(key, spec.name);
      }
      for (const kind of spec.namedKinds ?? []) this.namedKinds[kind >> 3]! |= 1 << (kind & 7);
    }
  }

  /** Builds every primitive for one store (in registration order: a later one may look up an earlier one's API). */
  create(context: (spec: PrimitiveSpec) => PrimitiveContext): void {
    for (const spec of this.specs) {
      const instance = spec.create(context(spec));
      if (instance === null || typeof instance !== 'object' || typeof instance.recover !== 'function') {
        throw new InvalidArgumentError(`primitive '${spec.name}': create must return an instance with recover, captureSection, restoreSection, markLive and fingerprint`);
      }
      const registered = { spec, instance };
      this.registered.push(registered);
      this.byName.set(spec.name, registered);
      for (let kind = spec.kinds[0]; kind <= spec.kinds[1]; kind++) this.owners[kind] = registered;
    }
  }

  /** Adds a primitive to an open store's registry (`db.registerPrimitive`), once its entries are recovered. */
  add(spec: PrimitiveSpec, instance: PrimitiveInstance): void {
    const registered = { spec, instance };
    (this.specs as PrimitiveSpec[]).push(spec);
    this.registered.push(registered);
    this.byName.set(spec.name, registered);
    for (let kind = spec.kinds[0]; kind <= spec.kinds[1]; kind++) {
      this.owners[kind] = registered;
      delete this.unknown[kind];
    }
    for (const kind of spec.namedKinds ?? []) this.namedKinds[kind >> 3]! |= 1 << (kind & 7);
  }

  get(name: string): Registered | undefined {
    return this.byName.get(name);
  }

  ownerOf(kind: number): Registered | undefined {
    return this.owners[kind];
  }

  /** Whether a kind belongs to a primitive (placeholders and core kinds do not). */
  isClaimed(kind: number): boolean {
    return this.owners[kind] !== undefined;
  }

  /** Routes one recovered entry to its primitive; counts entries of unknown kinds. */
  readonly recover = (entry: RecoveredEntry): string | undefined => {
    const owner = this.owners[entry.kind];
    if (owner) return owner.instance.recover(entry);
    if (entry.kind !== KIND_PRUNED) {
      const seen = this.unknown[entry.kind];
      if (seen) seen.entries++;
      else this.unknown[entry.kind] = { entries: 1, firstPosition: entry.position };
    }
    return undefined;
  };

  /** Adds the unknown kinds found in a snapshot's log image (its entries are not visited). */
  countUnknown(kinds: Uint8Array, firstPosition: number): void {
    for (let index = 0; index < kinds.length; index++) {
      const kind = kinds[index]!;
      if (kind === KIND_PRUNED || this.owners[kind]) continue;
      const seen = this.unknown[kind];
      if (seen) seen.entries++;
      else this.unknown[kind] = { entries: 1, firstPosition: firstPosition + index };
    }
  }

  /** After recovery: the primitives finish, and entries of unknown kinds are named once. */
  recovered(warn: (message: string) => void): void {
    for (const { instance } of this.registered) instance.recovered?.();
    const kinds = Object.keys(this.unknown).map(Number);
    if (kinds.length === 0 || this.warnedUnknown) return;
    this.warnedUnknown = true;
    const list = kinds.map((kind) => `${kindHex(kind)} (${this.unknown[kind]!.entries} entries from position ${this.unknown[kind]!.firstPosition})`).join(', ');
    warn(`the store holds entries of kinds no loaded primitive claims: ${list}; they are kept intact (written by a newer reeldb or an extension not loaded now: open with that primitive to read them)`);
  }

  /** Every primitive's snapshot section, by section id. */
  captureSections(): Map<number, Uint8Array> {
    const sections = new Map<number, Uint8Array>();
    for (const { spec, instance } of this.registered) sections.set(spec.section, instance.captureSection());
    return sections;
  }

  /**
   * Restores each primitive from its section. A primitive with no section in the snapshot (it
   * was not registered when the snapshot was written) can use the snapshot only when the log
   * it covers holds none of its kinds: otherwise returns why the snapshot cannot be used.
   */
  restoreSections(sections: ReadonlyMap<number, Uint8Array>, coveredKinds: (kind: number) => boolean): string | undefined {
    for (const { spec, instance } of this.registered) {
      const bytes = sections.get(spec.section);
      if (bytes) {
        try {
          instance.restoreSection(bytes);
        } catch (error) {
          return `section ${spec.section} (${spec.name}): ${(error as Error)?.message ?? String(error)}`;
        }
        continue;
      }
      for (let kind = spec.kinds[0]; kind <= spec.kinds[1]; kind++) {
        if (coveredKinds(kind)) return `it has no section for primitive '${spec.name}', whose entries it covers`;
      }
      instance.restoreSection(new Uint8Array(0));
    }
    return undefined;
  }

  /** Marks every entry some primitive still needs (entries of unknown kinds are never removed: see prune.ts). */
  markLive(mark: (position: number) => void): void {
    for (const { instance } of this.registered) instance.markLive(mark);
  }

  /** Kinds that alone never make a prune rewrite a segment / that make it seal the current one. */
  isRecordKind(kind: number): boolean {
    return this.owners[kind]?.spec.recordKinds?.includes(kind) ?? false;
  }

  isErasureKind(kind: number): boolean {
    return this.owners[kind]?.spec.erasureKinds?.includes(kind) ?? false;
  }

  stats(): Record<string, Record<string, number>> {
    const stats: Record<string, Record<string, number>> = {};
    for (const { spec, instance } of this.registered) stats[spec.name] = instance.stats?.() ?? {};
    return stats;
  }

  async fingerprint(): Promise<Record<string, unknown>> {
    const prints: Record<string, unknown> = {};
    for (const { spec, instance } of this.registered) prints[spec.name] = await instance.fingerprint();
    return prints;
  }

  dropRun(runId: string): void {
    for (const { instance } of this.registered) instance.dropRun?.(runId);
  }

  forgetRemoved(removed: (position: number) => boolean): void {
    for (const { instance } of this.registered) instance.forgetRemoved?.(removed);
  }

  close(): void {
    for (const { instance } of this.registered) instance.close?.();
  }
}
