/**
 * A reeldb store: opens (lock, manifest, recovery), owns the commit pipeline and the
 * primitives, closes. Primitives register with the store and never touch files.
 */
import type { Core } from '../core/core.js';
import { CorruptionError, InvalidArgumentError, NotAStoreError, ReadOnlyStoreError, ReeldbError, StoreClosedError } from '../errors.js';
import { errnoOf, toIOError } from '../host/os-error.js';
import { SegmentLog, SnapshotMismatch, type DurableEnd, type RecoveryReport, type RecoveryVisitor, type Resume } from '../device/segments.js';
import { MemoryFileHost } from '../host/memory.js';
import { joinPath, type FileHost, type HostLock } from '../host/types.js';
import { KIND_CHECKPOINT, KIND_CHECKPOINT_THREAD_DELETED } from '../primitives/checkpoint-codec.js';
import { KIND_EVENT } from '../primitives/event-codec.js';
import { StoreWiring } from './context.js';
import type { PrimitiveInstance, PrimitiveSpec } from './primitive.js';
import { Registry, type UnknownKinds } from './registry.js';
import { CommitPipeline } from './commit.js';
import { FORMAT_VERSION, readManifest, writeManifest, type Manifest } from './manifest.js';
import { COMPACT_SUFFIX, KIND_PRUNED } from '../device/compact.js';
import { checkPruneOptions, runPrune, type PruneOptions, type PruneResult } from './prune.js';
import { decodeSnapshot, listSnapshots, readSnapshotFile, writeSnapshotFile } from './snapshot.js';
import { lockError, parentDirectory, prepareStorePath } from './store-path.js';
import { checkNoOptions, type NoOptions } from '../validate.js';
import { resolveOptions, type Durability, type OpenOptions, type ResolvedOptions } from './options.js';
import { Follower, type FollowStats } from './follower.js';

/** What `db.snapshot()` wrote. */
export interface SnapshotInfo {
  /** File name in the store directory (`snapshot-<position>.snap`). */
  name: string;
  /** Entries below this position are in the snapshot. */
  position: number;
  bytes: number;
}

/** close() writes a snapshot when at least this much was logged since the newest one. */
export const SNAPSHOT_AT_CLOSE_BYTES = 1 << 20;

/**
 * Recovers the log and the primitives: from the newest snapshot that matches the files (then
 * only the log after it is scanned), else by a full scan. A snapshot that is damaged or does
 * not fit the log is skipped with a warning: the log is the truth, snapshots only save time.
 */
async function recoverLog(core: Core, host: FileHost, path: string, storeId: Uint8Array, options: ResolvedOptions, manifestEnd: number, specs: readonly PrimitiveSpec[]) {
  // The log reached durably at least the MANIFEST's end and the position of any snapshot that
  // passes its checks (written only once everything below it was durable): recovery that ends
  // below that is CorruptionError naming what is missing (docs/FORMAT.md §9.3).
  let durableEnd: DurableEnd | undefined = manifestEnd > 0 ? { position: manifestEnd, source: 'MANIFEST (written at the last clean close)' } : undefined;
  const reached = (position: number, source: string) => {
    if (position > (durableEnd?.position ?? 0)) durableEnd = { position, source };
  };
  const extensions = new Set(options.primitives);
  // Checked once, before anything is read: a bad spec is InvalidArgumentError.
  const namedKinds = new Registry(specs, extensions).namedKinds;
  const logOptions = () => ({ host, directory: path, storeId, core, readOnly: options.readOnly, onProgress: options.onProgress, maxOpenSegments: options.maxOpenSegments, durableEnd, namedKinds });
  const warnings: string[] = [];
  const all = await listSnapshots(host, path);
  const names = options.ignoreSnapshots ? [] : all;
  if (options.ignoreSnapshots) {
    // Not used to recover, but still a record of how far the log reached: the newest valid one.
    for (const name of all) {
      const bytes = await readSnapshotFile(host, path, name);
      const decoded = bytes ? decodeSnapshot(core, bytes, storeId) : undefined;
      if (decoded?.ok) {
        reached(decoded.image.position, `snapshot ${name}`);
        break;
      }
    }
  }
  if (!options.readOnly) {
    // Leftovers of a crash: a snapshot or a rewritten segment not yet renamed into place.
    for (const name of await host.list(path)) if (/^snapshot-\d{20}\.snap\.tmp$/.test(name)) await host.remove(joinPath(path, name));
    for (const name of await host.list(joinPath(path, 'log'))) if (name.endsWith(COMPACT_SUFFIX)) await host.remove(joinPath(path, 'log', name));
  }
  for (const name of [...names, undefined]) {
    // Fresh primitives for each attempt: a snapshot that turns out not to fit leaves nothing behind.
    const registry = new Registry(specs, extensions);
    const wiring = new StoreWiring(core, options, registry);
    registry.create((spec) => wiring.contextFor(spec));
    const visit: RecoveryVisitor = registry.recover;
    let resume: Resume | undefined;
    if (name !== undefined) {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await readSnapshotFile(host, path, name);
      } catch (error) {
        // Not a regular file, too large, unreadable: snapshots only save time, the log is the truth.
        if (!(error instanceof ReeldbError)) throw error;
        warnings.push(`ignored snapshot ${name}: ${error.message}; the log is scanned instead`);
        continue;
      }
      const decoded = bytes ? decodeSnapshot(core, bytes, storeId) : { ok: false as const, offset: 0, reason: 'it vanished' };
      if (!decoded.ok) {
        warnings.push(`ignored snapshot ${name}: ${decoded.reason} (offset ${decoded.offset}); the log is scanned instead`);
        continue;
      }
      const segments = decoded.image.log.segments;
      const unusable = registry.restoreSections(decoded.image.sections, (kind) => segments.some((segment) => segment.kinds.includes(kind)));
      if (unusable) {
        warnings.push(`ignored snapshot ${name}: ${unusable}; the log is scanned instead`);
        continue;
      }
      reached(decoded.image.position, `snapshot ${name}`);
      for (const segment of segments) registry.countUnknown(segment.kinds, segment.firstPosition);
      resume = { name, position: decoded.image.position, log: decoded.image.log };
    }
    try {
      const { log, report } = await SegmentLog.open(logOptions(), visit, resume);
      report.warnings.unshift(...warnings);
      return { log, report, registry, wiring };
    } catch (error) {
      if (!(error instanceof SnapshotMismatch)) throw error;
      warnings.push(`ignored snapshot ${name}: ${error.message}; the log is scanned instead`);
    }
  }
  throw new Error('unreachable: the full scan either returns or throws');
}

export interface StoreStats {
  path: string;
  durability: Durability;
  readOnly: boolean;
  storeId: string;
  formatVersion: number;
  segments: { name: string; firstPosition: number; entries: number; bytes: number }[];
  entries: number;
  bytes: number;
  streams: number;
  /** Entries and payload bytes per kind of entry (from the index; nothing is read). */
  /** `pruned`: placeholders of entries a prune removed (8 bytes each on disk). */
  kinds: { events: KindStats; checkpoints: KindStats; checkpointDeletes: KindStats; pruned: KindStats; other: KindStats };
  /** Checkpoints in the store and threads that have one (sizes: `checkpoints.summary()`). */
  checkpoints: number;
  threads: number;
  recovery: RecoveryReport;
  /** A read-only store: how far it has followed the writer (undefined on a writer). */
  follow?: FollowStats;
  /** Each registered primitive's own stats, by name. */
  primitives: Record<string, Record<string, number>>;
  /** Entries of kinds no registered primitive claims, by kind (kept intact). */
  unknownKinds: UnknownKinds;
}

export interface KindStats {
  entries: number;
  /** Payload bytes of those entries (without frame overhead). */
  bytes: number;
}

export class Store {
  private closing: Promise<void> | undefined;
  /** @internal the MANIFEST as read at open (or written since). */
  manifest!: Manifest;
  /** @internal a read-only store follows the writer. */
  follower: Follower | undefined;

  /**
   * Read-only store: makes every commit the writer has finished writing visible now (reads,
   * `subscribe`, stats), including its segment rolls and prunes. It also happens in the
   * background every `followIntervalMs` and when the files change. On a writer: nothing to do.
   */
  async refresh(): Promise<void> {
    this.checkOpen();
    await this.follower?.refresh();
  }

  private constructor(
    readonly path: string,
    readonly options: ResolvedOptions,
    readonly storeId: Uint8Array,
    private readonly host: FileHost,
    private readonly lock: HostLock | undefined,
    /** @internal */ readonly log: SegmentLog,
    /** @internal */ readonly pipeline: CommitPipeline,
    /** @internal the registered primitives. */ readonly registry: Registry,
    private readonly wiring: StoreWiring,
    private readonly recovery: RecoveryReport,
    /** @internal */ readonly core: Core,
  ) {
    for (const registered of registry.registered) this.expose(registered.spec.name);
  }

  /** `db.<name>` for a registered primitive: its API. */
  private expose(name: string): void {
    if (name in this) throw new InvalidArgumentError(`primitive '${name}': the name is taken by the store's own ${typeof (this as Record<string, unknown>)[name] === 'function' ? 'method' : 'property'} db.${name}; choose another`);
    Object.defineProperty(this, name, { get: () => this.registry.get(name)!.instance.api, enumerable: true });
  }

  /** A registered primitive's API by name (the same object as `db.<name>`), or undefined. */
  primitive<T = unknown>(name: string): T | undefined {
    this.checkOpen();
    return this.registry.get(name)?.instance.api as T | undefined;
  }

  /**
   * Registers a primitive on an open store (as `open(path, { primitives })` does): its entries
   * already in the log (kept intact while no primitive claimed them) are recovered first, with
   * commits held, then `db.<name>` is its API. Kinds must be in the extension range 0xC0–0xFF.
   */
  async registerPrimitive(spec: PrimitiveSpec): Promise<void> {
    this.checkOpen();
    // Checked against every registered primitive: typed errors, nothing changes.
    new Registry([...this.registry.specs, spec], new Set([...this.options.primitives, spec]));
    checkFreeName(spec.name);
    if (this.registry.get(spec.name)) throw new InvalidArgumentError(`primitive '${spec.name}' is registered twice`);
    await this.pipeline.exclusive(async () => {
      if (this.registry.get(spec.name)) throw new InvalidArgumentError(`primitive '${spec.name}' is registered twice`);
      const instance = spec.create(this.wiring.contextFor(spec));
      await recoverRegistered(this.core, this.log, this.pipeline.writtenPosition, spec, instance);
      instance.recovered?.();
      this.registry.add(spec, instance);
    });
    this.expose(spec.name);
  }

  /** @internal every primitive's fingerprint (tests compare them across reopen, snapshot and prune). */
  fingerprint(): Promise<Record<string, unknown>> {
    return this.registry.fingerprint();
  }

  /** Entries of kinds no registered primitive claims (kept intact; `verify` lists them). */
  get unknownKinds(): UnknownKinds {
    return this.registry.unknown;
  }

  get durability(): Durability {
    return this.options.durability;
  }

  get closed(): boolean {
    return this.pipeline.closed;
  }

  /** @internal */
  static async open(core: Core, path: string, rawOptions: OpenOptions | undefined, defaultHost: () => FileHost, builtins: readonly PrimitiveSpec[]): Promise<Store> {
    if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('open: path must be a non-empty string');
    const options = resolveOptions(rawOptions);
    const specs = [...builtins, ...options.primitives];
    // Bad specs are InvalidArgumentError before anything is created or locked.
    new Registry(specs, new Set(options.primitives));
    for (const spec of specs) checkFreeName(spec.name);
    const host = options.host ?? (options.durability === 'memory' ? new MemoryFileHost() : defaultHost());
    // Checked before anything is created or locked: NotAStoreError for what is not a store.
    const found = await prepareStorePath(host, path, options);
    let lock: HostLock | undefined;
    try {
      lock = options.readOnly ? undefined : await host.lock(path);
    } catch (error) {
      throw lockError(error, path);
    }
    try {
      const manifestPath = joinPath(path, 'MANIFEST');
      let manifest = await readManifest(core, host, path).catch((error: unknown) => {
        throw toIOError(error, manifestPath, 'read');
      });
      if (!manifest) {
        // Another process may have made the directory a store, or filled it, meanwhile: check again under the lock.
        if (found === 'store' || (await prepareStorePath(host, path, options)) !== 'new') throw new NotAStoreError(path, `'${path}' has no MANIFEST; it is not a reeldb store`);
        const storeId = new Uint8Array(16);
        crypto.getRandomValues(storeId);
        manifest = { formatVersion: FORMAT_VERSION, storeId, durableEnd: 0 };
        await writeManifest(core, host, path, manifest).catch((error: unknown) => {
          throw toIOError(error, manifestPath, 'write');
        });
        // Make the new directories themselves durable: the store's entry in its parent and
        // log/ in the store (segment files are synced into log/ as they are created).
        const log = joinPath(path, 'log');
        await host.mkdir(log).catch((error: unknown) => {
          throw toIOError(error, log, 'mkdir');
        });
        for (const directory of [path, parentDirectory(path)]) {
          await host.syncDirectory(directory).catch((error: unknown) => {
            throw toIOError(error, directory, 'fsync');
          });
        }
      }
      const { log, report, registry, wiring } = await recoverLog(core, host, path, manifest.storeId, options, manifest.durableEnd, specs);
      for (const warning of report.warnings) options.onWarning(warning);
      registry.recovered(options.onWarning);
      if (!options.readOnly && options.durability !== 'memory' && manifest.formatVersion < FORMAT_VERSION) {
        // Before this version writes anything (cut records, seal frames), the MANIFEST says so:
        // an older reeldb then refuses the store instead of misreading what it cannot know.
        manifest = { ...manifest, formatVersion: FORMAT_VERSION };
        const upgraded = manifest;
        await writeManifest(core, host, path, upgraded).catch((error: unknown) => {
          throw toIOError(error, manifestPath, 'write');
        });
      }
      const pipeline = new CommitPipeline(core, log, manifest.storeId, options);
      wiring.bind(log, pipeline);
      const store = new Store(path, options, manifest.storeId, host, lock, log, pipeline, registry, wiring, report, core);
      store.manifest = manifest;
      wiring.checkOpen = () => store.checkOpen();
      wiring.checkWritable = () => store.checkWritable();
      wiring.acknowledged.add(() => store.maybeSnapshot());
      if (options.readOnly) {
        store.follower = new Follower({ core, host, directory: path, storeId: manifest.storeId, log, pipeline, registry, intervalMs: options.followIntervalMs, onWarning: options.onWarning });
        store.follower.start();
      }
      return store;
    } catch (error) {
      await lock?.release().catch(() => undefined);
      // An OS error that no layer below typed: name the store and the OS's reason.
      throw errnoOf(error) !== undefined ? toIOError(error, path, 'open') : error;
    }
  }

  /** Log bytes that the newest snapshot does not cover (what the next open would scan). */
  private get unsnapshottedBytes(): number {
    return this.recovery.bytesScanned + this.log.appendedBytes - this.snapshotBaseline;
  }

  private snapshotBaseline = 0;
  /** When the last snapshot was written (or the store opened). */
  private snapshotAt = Date.now();
  private snapshotting: Promise<SnapshotInfo | undefined> | undefined;

  /**
   * Writes a snapshot of the store as it is once every commit before this call is durable:
   * the next open reads it and scans only the log after it. Snapshots are also written
   * automatically (`snapshotBytes`). Resolves to what was written, or to the newest snapshot
   * when nothing was logged since it; undefined for a 'memory' store, which has no files.
   */
  async snapshot(options?: NoOptions): Promise<SnapshotInfo | undefined> {
    checkNoOptions('snapshot', options);
    this.checkWritable();
    if (this.durability === 'memory') return undefined;
    const run = this.maintain(() => this.writeSnapshot());
    this.snapshotting = run;
    try {
      return await run;
    } finally {
      if (this.snapshotting === run) this.snapshotting = undefined;
    }
  }

  /** Snapshots and prunes run one at a time. */
  private maintenance: Promise<unknown> = Promise.resolve();
  private maintain<T>(work: () => Promise<T>): Promise<T> {
    const run = this.maintenance.then(work, work);
    this.maintenance = run.catch(() => undefined);
    return run;
  }

  /**
   * Removes what the policy says and gives the disk space back: `events.beforePosition`
   * removes every event before a position, `streams[name].keepLast` keeps a stream's newest
   * events, `checkpoints.keepLast` / `maxAgeMs` keep exactly each thread's newest checkpoints
   * (never fewer than one; the oldest kept is re-based as a full checkpoint when it is a delta).
   * Entries of deleted streams and threads always go. The cuts are written as one durable
   * commit before reads stop showing what they remove; then the sealed segments that hold
   * dead entries are rewritten (the current one is sealed first when it holds any), each
   * atomically, and a snapshot is written (the only one kept). Positions and versions of what
   * stays never change.
   */
  async prune(options?: PruneOptions): Promise<PruneResult> {
    this.checkOpen();
    const policy = checkPruneOptions(options, this.registry);
    // A dry run changes nothing, so a read-only store can answer it.
    const check = () => (policy.dryRun ? this.checkOpen() : this.checkWritable());
    check();
    return this.maintain(async () => {
      check();
      const result = await runPrune({ log: this.log, pipeline: this.pipeline, registry: this.registry }, policy);
      if (result.segmentsRewritten > 0 && this.durability !== 'memory') {
        // Snapshots from before the rewrite no longer match the segments: write one even at the same position.
        this.lastSnapshot = undefined;
        await this.writeSnapshot(1);
      }
      return result;
    });
  }

  /** Gives back the space of deleted streams and threads (a prune without a retention policy). */
  compact(options?: NoOptions): Promise<PruneResult> {
    try {
      checkNoOptions('compact', options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.prune({});
  }

  private async writeSnapshot(keep?: number): Promise<SnapshotInfo | undefined> {
    const image = await this.pipeline.barrier(() => ({
      storeId: this.storeId,
      position: this.log.nextPosition,
      log: this.log.captureImage(),
      sections: this.registry.captureSections(),
      baseline: this.recovery.bytesScanned + this.log.appendedBytes,
    }));
    if (image.position === this.lastSnapshot?.position) return this.lastSnapshot;
    const written = await writeSnapshotFile(this.core, this.host, this.path, image, keep);
    this.snapshotBaseline = image.baseline;
    this.snapshotAt = Date.now();
    this.lastSnapshot = { name: written.name, position: image.position, bytes: written.bytes };
    return this.lastSnapshot;
  }

  private lastSnapshot: SnapshotInfo | undefined;

  /** @internal after each acknowledgement: starts a snapshot in the background once enough was logged. */
  maybeSnapshot(): void {
    const every = this.options.snapshotBytes;
    const interval = this.options.snapshotIntervalMs;
    if ((every === 0 && interval === 0) || this.snapshotting || this.options.readOnly || this.durability === 'memory' || this.pipeline.closed || this.pipeline.failure) return;
    const pending = this.unsnapshottedBytes;
    const bySize = every > 0 && pending >= every;
    const byTime = interval > 0 && pending > 0 && Date.now() - this.snapshotAt >= interval;
    if (!bySize && !byTime) return;
    this.snapshot().catch((error: unknown) => {
      if (!this.pipeline.failure && !this.pipeline.closed) this.options.onWarning(`a snapshot could not be written (open will scan more of the log): ${(error as Error)?.message ?? String(error)}`);
    });
  }

  /** @internal throws StoreClosedError after close. */
  checkOpen(): void {
    if (this.pipeline.closed) throw new StoreClosedError();
  }

  /** @internal throws for writes on a read-only store. */
  checkWritable(): void {
    this.checkOpen();
    if (this.options.readOnly) throw new ReadOnlyStoreError();
  }

  /** Makes every acknowledged write durable now (useful in 'buffered' mode). */
  async sync(): Promise<void> {
    this.checkOpen();
    await this.pipeline.drain();
  }

  stats(): StoreStats {
    this.checkOpen();
    const segments = this.log.segments.map((segment) => ({ name: segment.name, firstPosition: segment.firstPosition, entries: segment.offsets.length, bytes: segment.size }));
    const primitives = this.registry.stats();
    return {
      path: this.path,
      durability: this.durability,
      readOnly: this.options.readOnly,
      storeId: [...this.storeId].map((byte) => byte.toString(16).padStart(2, '0')).join(''),
      formatVersion: this.manifest.formatVersion,
      segments,
      entries: this.log.nextPosition,
      bytes: segments.reduce((sum, segment) => sum + segment.bytes, 0),
      streams: primitives.events?.streams ?? 0,
      kinds: this.kindStats(),
      checkpoints: primitives.checkpoints?.checkpoints ?? 0,
      threads: primitives.checkpoints?.threads ?? 0,
      primitives,
      unknownKinds: this.registry.unknown,
      recovery: this.recovery,
      ...(this.follower ? { follow: this.follower.stats() } : {}),
    };
  }

  private kindStats(): StoreStats['kinds'] {
    const kinds = { events: { entries: 0, bytes: 0 }, checkpoints: { entries: 0, bytes: 0 }, checkpointDeletes: { entries: 0, bytes: 0 }, pruned: { entries: 0, bytes: 0 }, other: { entries: 0, bytes: 0 } };
    for (const segment of this.log.segments) {
      const codes = segment.kinds.values;
      const lengths = segment.lengths.values;
      for (let index = 0; index < segment.kinds.length; index++) {
        const code = codes[index]!;
        const bucket =
          code === KIND_EVENT ? kinds.events : code === KIND_CHECKPOINT ? kinds.checkpoints : code === KIND_CHECKPOINT_THREAD_DELETED ? kinds.checkpointDeletes : code === KIND_PRUNED ? kinds.pruned : kinds.other;
        bucket.entries++;
        bucket.bytes += lengths[index]!;
      }
    }
    return kinds;
  }

  /**
   * A clean close records in the MANIFEST how far the log durably reached, so that a later
   * open tells a lost tail (CorruptionError) from a torn one (docs/FORMAT.md §3, §9.3). Not in
   * 'memory' mode (nothing is synced) nor after a failure; a failed write is a warning: the
   * data is durable, only the record of its end is older.
   */
  private async recordEnd(): Promise<void> {
    if (this.options.readOnly || this.durability === 'memory' || this.pipeline.failure) return;
    const durableEnd = Math.min(this.pipeline.syncedPosition, this.log.nextPosition);
    if (durableEnd <= this.manifest.durableEnd && this.manifest.formatVersion === FORMAT_VERSION) return;
    const manifest = { formatVersion: FORMAT_VERSION, storeId: this.storeId, durableEnd: Math.max(durableEnd, this.manifest.durableEnd) };
    try {
      await writeManifest(this.core, this.host, this.path, manifest);
      this.manifest = manifest;
    } catch (error) {
      this.options.onWarning(`the end of the log could not be recorded in the MANIFEST (the next open cannot tell a lost tail from a torn one): ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** Waits for queued commits, syncs, releases the lock. Later calls reject with StoreClosedError. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        // A last snapshot when enough was logged since the newest, so the next open is quick.
        try {
          await this.maintenance;
          if (!this.options.readOnly && this.durability !== 'memory' && !this.pipeline.failure && this.unsnapshottedBytes >= Math.min(SNAPSHOT_AT_CLOSE_BYTES, this.options.snapshotBytes || Infinity)) {
            await this.snapshot();
          }
        } catch (error) {
          if (!this.pipeline.failure) this.options.onWarning(`no snapshot at close (the next open scans more of the log): ${(error as Error)?.message ?? String(error)}`);
        }
        this.pipeline.closed = true;
        this.follower?.stop();
        await this.follower?.idle();
        try {
          await this.pipeline.drain().catch(() => undefined);
          await this.recordEnd();
        } finally {
          this.registry.close();
          await this.log.close();
          await this.lock?.release();
        }
      })();
    }
    return this.closing;
  }
}

/** Feeds a primitive registered on an open store every entry of its kinds below `end`, as recovery would. */
async function recoverRegistered(core: Core, log: SegmentLog, end: number, spec: PrimitiveSpec, instance: PrimitiveInstance): Promise<void> {
  const named = new Set(spec.namedKinds ?? []);
  const positions: number[] = [];
  for (const segment of log.segments) {
    const kinds = segment.kinds.values;
    const stop = Math.min(segment.kinds.length, end - segment.firstPosition);
    for (let index = 0; index < stop; index++) if (kinds[index]! >= spec.kinds[0] && kinds[index]! <= spec.kinds[1]) positions.push(segment.firstPosition + index);
  }
  let problem: { position: number; message: string } | undefined;
  await log.readPositions(positions, (position, bytes, start, length) => {
    if (problem) return;
    const kind = log.kindAt(position);
    const payload = bytes.subarray(start, start + length);
    let name: string | undefined;
    let version = 0;
    if (named.has(kind)) {
      const layout = namedLayout(core, payload);
      if (!layout) {
        problem = { position, message: `the entry of kind 0x${kind.toString(16)} at position ${position} does not have the named-entry layout its primitive '${spec.name}' declares` };
        return;
      }
      ({ name, version } = layout);
    }
    const message = instance.recover({ kind, position, name, version, payload: () => payload });
    if (message) problem = { position, message };
  });
  if (problem) {
    const { file, offset } = log.locate(problem.position);
    throw new CorruptionError(file, offset, problem.message);
  }
}

/** The name (NFC) and version of a named-entry payload, as the core's scan reports them; undefined when its lengths do not add up. */
function namedLayout(core: Core, payload: Uint8Array): { name: string; version: number } | undefined {
  if (payload.length < 32) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const nameLength = view.getUint16(24, true);
  const total = 32 + nameLength + view.getUint16(26, true) + payload[28]! + view.getUint32(20, true) + view.getUint32(16, true);
  if (nameLength === 0 || view.getUint16(26, true) === 0 || total !== payload.length) return undefined;
  return { name: core.normalizeName(payload.subarray(32, 32 + nameLength), true).text, version: view.getUint32(8, true) + view.getUint32(12, true) * 2 ** 32 };
}

/** The store's own instance fields (methods and getters are on its prototype). */
const STORE_FIELDS = ['path', 'options', 'storeId', 'host', 'lock', 'log', 'pipeline', 'registry', 'wiring', 'recovery', 'core', 'manifest', 'follower', 'closing', 'maintenance', 'snapshotBaseline', 'snapshotAt', 'snapshotting', 'lastSnapshot'];

/** A primitive's name becomes `db.<name>`: it must not be one of the store's own members. */
function checkFreeName(name: string): void {
  if (name in Store.prototype || STORE_FIELDS.includes(name)) {
    throw new InvalidArgumentError(`primitive '${name}': the name is taken by the store's own db.${name}; choose another`);
  }
}
