/**
 * The primitive contract: what a primitive (events, checkpoints, runs, kv, state cells,
 * traces, or a user's extension in 0xC0–0xFF) declares and implements, and the small context
 * through which it reaches the log. The engine knows primitives only through this file and the
 * registry (registry.ts): adding one changes no engine file, no frame format, no recovery and
 * no replay code (docs/EXTENDING.md).
 */
import type { Core } from '../core/core.js';
import type { ResolvedOptions } from './options.js';
import type { Commit } from './commit.js';
import type { EntryWriter } from './commit.js';

export type { Commit, EntryWriter, Prepared } from './commit.js';
export type { RecoveredEntry } from '../device/entry.js';
import type { RecoveredEntry } from '../device/entry.js';

/** What a primitive may do with the log: submit commits and read entries, never touch files. */
export interface PrimitiveContext {
  readonly core: Core;
  readonly options: ResolvedOptions;
  /** Queues a commit: `prepare` runs in commit order, writes entries, returns `apply` (cannot fail). */
  submit<T>(commit: Commit<T>): Promise<T>;
  /** Reads the entries at `positions` (any order; delivered in position order, checked). */
  readPositions(positions: readonly number[], visit: (position: number, bytes: Uint8Array, start: number, length: number) => void): Promise<void>;
  /** Reads every entry in [from, to) in order, every kind (checked). */
  readRange(from: number, to: number, visit: (kind: number, position: number, bytes: Uint8Array, start: number, length: number) => void): Promise<void>;
  /** The kind of the entry at `position`, or -1 beyond the log. */
  kindAt(position: number): number;
  /** The segment file and payload offset of an entry (for CorruptionError messages). */
  locate(position: number): { file: string; offset: number };
  /** How many entries of `kind` lie below `end` (from the in-memory index; nothing is read). */
  countKind(kind: number, end: number): number;
  /** Entries below this are readable (written to the OS; on a failed store, durable). */
  readonly writtenPosition: number;
  /** Entries below this are acknowledged to their callers. */
  readonly acknowledgedPosition: number;
  /** Position the next entry will get. */
  readonly nextPosition: number;
  /** The store's failure, once it failed (every later commit rejects with it). */
  readonly failure: Error | undefined;
  /** StoreClosedError after close. */
  checkOpen(): void;
  /** StoreClosedError after close, ReadOnlyStoreError on a read-only store. */
  checkWritable(): void;
  /** Called after each acknowledgement with the position acknowledged up to; returns an unsubscribe function. */
  onAcknowledged(listener: (position: number) => void): () => void;
  /** Called once when the store fails. */
  onFailed(listener: (failure: Error) => void): () => void;
  /** A warning for the user (open's `onWarning`). */
  warn(message: string): void;
  /**
   * Says that the entry at `position` belongs to run `runId`: during recovery for entries
   * recovered, and in `apply` for entries committed. The runs primitive listens (its run index
   * lists each run's entries); other primitives only report.
   */
  attribute(runId: string, position: number): void;
  /** Listens to `attribute` (the runs primitive). */
  onAttribute(listener: (runId: string, position: number) => void): void;
  /**
   * A run was deleted (its record recovered, or its delete applied): every primitive's
   * `dropRun` forgets the run's entries (they leave reads at once; a prune erases their bytes).
   * Called by the runs primitive in the same place it applies its own record, so the whole
   * deletion is one entry in one frame.
   */
  dropRun(runId: string): void;
  /** The name of the registered primitive that owns `kind`, or undefined (an unknown kind). */
  ownerOf(kind: number): string | undefined;
  /** Another registered primitive's API by name (a run handle composes kv, state, events…). */
  primitive<T = unknown>(name: string): T | undefined;
  /** Applies the store's `redact` option to a value about to be written (identity when none is set). */
  redact<V>(value: V, where: RedactWhere): V;
}

/** What the value given to `redact` is. */
export interface RedactWhere {
  /** The primitive writing it ('events', 'kv', 'state', 'traces', 'runs', 'checkpoints'…). */
  primitive: string;
  /** Which field: 'data', 'metadata', 'value', 'input', 'output', 'error', 'attributes', 'state'… */
  field: string;
}

/** The part of a prune one primitive plans. */
export interface PrunePart {
  /** Positions this plan cuts (counted as removed at once: reads stop showing them when applied). */
  positions: number[];
  /** Entries to rewrite in place before the cuts (re-based checkpoints): position → new payload. */
  replaced?: Map<number, Uint8Array>;
  /**
   * Writes the plan's cut records into the prune's commit (in commit order; skip what changed
   * since it was planned) and returns how many entries it wrote, how many entries those cut,
   * and the apply to run once that commit is durable (forget what was cut). `notReplaced`: the
   * positions of `replaced` whose rewrite could not be made (their cuts must not be written).
   * Absent when the plan writes nothing.
   */
  write?(writer: EntryWriter, timestamp: number, notReplaced: ReadonlySet<number>): { count: number; removed: number; apply(): void };
  /** Payload bytes of the cut records `write` will write, and how many (a dry run reports the log size after). */
  recordBytes?: number;
  recordCount?: number;
}

export interface PrimitiveInstance<API = unknown> {
  /** What users call: `db.<name>` for built-ins, `db.primitive(name)` for any. */
  readonly api: API;
  /** One recovered entry of a kind this primitive claims; returns a description when it breaks an invariant (CorruptionError). */
  recover(entry: RecoveredEntry): string | undefined;
  /** Called once when recovery (or a follower's refresh) has visited every entry. */
  recovered?(): void;
  /** The snapshot section: this primitive's state at the barrier (synchronous, consistent). */
  captureSection(): Uint8Array;
  /** Restores the state from a snapshot section (throw any Error for a section that does not decode: the snapshot is skipped). */
  restoreSection(bytes: Uint8Array): void;
  /** Calls `mark` with the position of every entry of its kinds still needed; the others below a prune's horizon are removed. */
  markLive(mark: (position: number) => void): void;
  /** Plans this primitive's part of a prune (`policy` is what `checkPrune` returned; every prune calls it, so expiry can act on its own). */
  planPrune?(policy: unknown, now: number): PrunePart | Promise<PrunePart>;
  /** Stats for `db.stats().primitives[name]`. */
  stats?(): Record<string, number>;
  /** A canonical summary of the state (tests compare it across reopen, snapshot, prune). */
  fingerprint(): unknown | Promise<unknown>;
  /** Checks beyond frame and entry checks (`reeldb verify`): what was checked, and the problems found (each a sentence). */
  audit?(onProgress?: (done: number, total: number) => void): Promise<{ checked: Record<string, number>; problems: string[] }>;
  /** Forget every entry of run `runId` (see PrimitiveContext.dropRun); must not fail. */
  dropRun?(runId: string): void;
  /**
   * A read-only store found segments the writer's prune rewrote: entries for which `removed`
   * is true are placeholders now; forget them (positions never move).
   */
  forgetRemoved?(removed: (position: number) => boolean): void;
  /** The store closes: end subscriptions, refuse further calls. */
  close?(): void;
}

export interface PrimitiveSpec<API = unknown> {
  /** Identifier: lowercase letters, digits and '-' (also the `stats()` key). */
  readonly name: string;
  /** The entry kinds it owns, inclusive (DESIGN.md's allocation; 0xC0–0xFF for extensions). */
  readonly kinds: readonly [first: number, last: number];
  /** Kinds whose payload has the named-entry layout (docs/FORMAT.md §8): the scan reports their name and version. */
  readonly namedKinds?: readonly number[];
  /** Kinds of small bookkeeping records (cut records, tombstones): dead ones alone never make a prune rewrite a segment. */
  readonly recordKinds?: readonly number[];
  /** Kinds that erase (a stream or thread deleted): a prune seals the current segment to remove what they cut. */
  readonly erasureKinds?: readonly number[];
  /** Snapshot section id (docs/EXTENDING.md allocation; 1 is the log's). */
  readonly section: number;
  /** The keys of `prune(options)` this primitive owns (e.g. `['events', 'streams']`). */
  readonly pruneKeys?: readonly string[];
  /**
   * Checks this primitive's part of a prune (the values of its keys, undefined when not given)
   * and returns the policy `planPrune` gets; throws a typed error on bad input (nothing runs).
   */
  checkPrune?(given: Readonly<Record<string, unknown>>): unknown;
  /** Builds the primitive for one open store. */
  create(context: PrimitiveContext): PrimitiveInstance<API>;
}
