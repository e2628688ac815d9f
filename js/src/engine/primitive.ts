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
  /** The kind of the entry at `position`, or undefined beyond the log. */
  kindAt(position: number): number | undefined;
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
   * since it was planned) and returns how many entries it wrote and the apply to run once that
   * commit is durable (forget what was cut). Absent when the plan writes nothing.
   */
  write?(writer: EntryWriter, timestamp: number): { count: number; apply(): void };
  /** Bytes the cut records will take (a dry run reports the log size after). */
  recordBytes?: number;
  /** Figures to report in `PruneResult.primitives[name]`. */
  counts?: Record<string, number>;
}

/** A prune's policy for one primitive: the value of `prune({ [spec.pruneKey]: … })`, checked by `checkPrune`. */
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
  /** Plans this primitive's part of a prune (`policy` is what `checkPrune` returned, or undefined when the prune names nothing of it). */
  planPrune?(policy: unknown, now: number): PrunePart | Promise<PrunePart>;
  /** Stats for `db.stats().primitives[name]`. */
  stats?(): Record<string, number>;
  /** A canonical summary of the state (tests compare it across reopen, snapshot, prune). */
  fingerprint(): unknown | Promise<unknown>;
  /** Verification beyond frame and entry checks (`reeldb verify`): problems found, each a sentence. */
  verify?(onProgress?: (done: number, total: number) => void): Promise<string[]>;
  /** Forget every entry of run `runId` (see PrimitiveContext.dropRun); must not fail. */
  dropRun?(runId: string): void;
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
  /** The key of `prune(options)` this primitive owns, if any, and its check (typed errors; nothing runs on bad input). */
  readonly pruneKey?: string;
  checkPrune?(value: unknown): unknown;
  /** Builds the primitive for one open store. */
  create(context: PrimitiveContext): PrimitiveInstance<API>;
}
