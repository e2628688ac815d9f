/** Everything every entry point exports; entries differ only in how they load the core and which FileHost is the default. */
import { init } from './core/load.js';
import { Store } from './engine/store.js';
import type { OpenOptions } from './engine/options.js';
import type { FileHost } from './host/types.js';
import { InvalidArgumentError } from './errors.js';
import { BUILTIN_PRIMITIVES } from './primitives/builtins.js';

export * from './errors.js';
export { init, setDefaultWasmSource, type WasmSource, type InitOptions } from './core/load.js';
export { Store, type StoreStats, type KindStats, type SnapshotInfo } from './engine/store.js';
export type { PruneOptions, PruneResult, PrimitivePruneResult, CheckpointRetention, EventRetention, StreamRetention } from './engine/prune.js';
export type { PrimitiveSpec, PrimitiveInstance, PrimitiveContext, PrunePart, RecoveredEntry, RedactWhere, Commit, EntryWriter, Prepared } from './engine/primitive.js';
export { Writer as SectionWriter, Reader as SectionReader, encodeNamed, decodeNamed, type NamedPositions } from './engine/section-codec.js';
export { writeNamedEntry, decodeNamedEntry, namedEntryId, namedEntryMaxBytes, type NamedEntryInput, type DecodedNamedEntry } from './primitives/named-entry.js';
export { BUILTIN_PRIMITIVES } from './primitives/builtins.js';
export type { UnknownKinds } from './engine/registry.js';
export { LIMITS, type OpenOptions, type Durability, type Redactor } from './engine/options.js';
export type { RecoveryReport } from './device/segments.js';
export type { Checkpoints, SaveCheckpointOptions, LoadCheckpointOptions, ListCheckpointsOptions, CheckpointInfo, LoadedCheckpoint, CheckpointVerifyReport, ThreadSummary, CheckpointStorage, CheckpointStorageOptions } from './primitives/checkpoints.js';
export type { Events, EventInput, AppendOptions, DeleteStreamOptions, ReadStreamOptions, ReadAllOptions, ReplayOptions, SubscribeOptions, Subscription, RecordedEvent } from './primitives/events.js';
export type { Kv, KvApi, KvEntry, KvListItem, KvListOptions, KvListPage, KvPutOptions, KvDeleteOptions, KvConflictError } from './primitives/kv.js';
export type { State, StateCells, StateCell, CasResult, TransitionOptions, DeleteCellOptions, ListCellsOptions, MachineDefinition } from './primitives/state.js';
export type { Traces, RunTraces, Span, SpanKind, SpanStartInput, SpanEndInput, SpanRecordInput, SpanDetail, SpanSummary, SpanStatus, Usage, TraceQuery, TracePage, TraceTree, TraceNode, UsageTotal, OtlpTraces, OtlpExportOptions } from './primitives/traces.js';
export type { Runs, Run, RunEvents, RunCheckpoints, ForRun, RunInfo, RunPage, RunQuery, BeginRunOptions, EndRunOptions, SetStatusOptions, DeleteRunOptions, DeletedRuns, RunStatus, EndStatus, RunRetention } from './primitives/runs.js';
export type { FileHost, FileHandle, HostLock } from './host/types.js';
export type { NoOptions } from './validate.js';
export { MemoryFileHost } from './host/memory.js';
export { redactSecrets, redactString, isSecretKey, REDACTED } from './redact.js';

let defaultHost: () => FileHost = () => {
  throw new InvalidArgumentError('open: this runtime has no default file host; pass { host } or { durability: "memory" }');
};

export function setDefaultHost(factory: () => FileHost): void {
  defaultHost = factory;
}

/**
 * Opens (or creates) the store at `path`. With `{ durability: 'memory' }` nothing touches
 * the disk. Resolves once recovery is done; a torn tail is truncated with a warning, and
 * damage followed by valid data rejects with CorruptionError.
 */
export async function open(path: string, options?: OpenOptions): Promise<Store> {
  const core = await init();
  return Store.open(core, path, options, defaultHost, BUILTIN_PRIMITIVES);
}
