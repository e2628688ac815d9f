/**
 * Runs: `db.runs`. A run is begun, may pause and resume, and ends once (succeeded, failed or
 * cancelled: final). Its records are kinds 0x60–0x62 (run-codec.ts); the run index
 * (run-index.ts) keeps every run in memory and in snapshot section 7, with the positions of
 * its records and of every entry other primitives attribute to it, so that a run's entries
 * are found in O(run size) and `query` never scans the log. Deleting a run (or pruning it)
 * writes one record; applying it, or recovering it, drops the run from every primitive.
 */
import { ConflictError, InvalidArgumentError } from '../errors.js';
import type { PrimitiveContext, PrimitiveInstance, PrimitiveSpec, PrunePart, RecoveredEntry } from '../engine/primitive.js';
import { KIND_PRUNED } from '../device/segments.js';
import { MalformedEntry } from '../device/malformed.js';
import { checkName } from '../names.js';
import { checkBoolean, checkCount, checkOptions, describe, type OptionKeys } from '../validate.js';
import type { Checkpoints } from './checkpoints.js';
import { runStreamName, type Events } from './events.js';
import {
  beginRecord,
  checkStatus,
  decodeRecord,
  decodeRecordValues,
  deletedRecord,
  encodeValues,
  END_STATUSES,
  errorValue,
  isEnded,
  KIND_RUN_BEGUN,
  KIND_RUN_DELETED,
  KIND_RUN_STATUS,
  recordBytes,
  RUN_STATUSES,
  statusRecord,
  writeRecord,
  type EndStatus,
  type RunHeader,
  type RunStatus,
} from './run-codec.js';
import { Run } from './run-handle.js';
import { checkRunId, RunIds } from './run-ids.js';
import { RunIndex, type RunFilter, type RunState } from './run-index.js';
import { checkRunPrune, selectRuns, withDescendants, type RunPrunePolicy } from './run-prune.js';

export { Run, RunCheckpoints, RunEvents, type ForRun } from './run-handle.js';
export type { RunStatus, EndStatus } from './run-codec.js';
export type { RunRetention } from './run-prune.js';

export interface BeginRunOptions {
  /** 1 to 128 UTF-8 bytes, no control characters; default `run_` and 26 time-sortable characters. */
  id?: string;
  /** What the run is (an agent's name, a task kind): 1 to 1,024 UTF-8 bytes. */
  name: string;
  /** A run of this store that this run is part of (`children(parentRunId)` lists it). */
  parentRunId?: string;
  /** Up to 64 distinct strings of 1 to 256 UTF-8 bytes (`query({ tag })`). */
  tags?: string[];
  /** Any JSON value or a Uint8Array. */
  metadata?: unknown;
  /** Any JSON value or a Uint8Array. */
  input?: unknown;
}

export interface EndRunOptions {
  status: EndStatus;
  /** Any JSON value or a Uint8Array. */
  output?: unknown;
  /** Any JSON value or a Uint8Array; an Error is stored as { name, message, code? }. */
  error?: unknown;
}

export interface SetStatusOptions {
  /** Write only when the run has this status now (ConflictError otherwise). */
  expectedStatus?: RunStatus;
}

export interface RunQuery {
  status?: RunStatus | RunStatus[];
  name?: string;
  tag?: string;
  parentRunId?: string;
  /** Only runs started after this time (ms since the Unix epoch, exclusive). */
  startedAfter?: number;
  /** Only runs started before this time (exclusive). */
  startedBefore?: number;
  /** At most this many runs (default 100). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

export interface RunPage {
  /** Newest first (by startedAt, then id). */
  runs: RunInfo[];
  /** Pass to the same query for the next page; undefined when no run follows this page. */
  cursor: string | undefined;
}

export interface DeleteRunOptions {
  /** Delete the run's child runs (and theirs) too; without it a run with children is not deleted (ConflictError). */
  recursive?: boolean;
}

export interface DeletedRuns {
  /** Runs deleted (0 when there was none with the id). */
  runs: number;
  /** Entries of every primitive that left reads with them (their bytes go at the next prune or compact). */
  entries: number;
}

export interface RunInfo {
  id: string;
  name: string;
  status: RunStatus;
  parentRunId: string | null;
  tags: string[];
  /** As given (JSON value or Uint8Array), null when none was. */
  metadata: unknown;
  input: unknown;
  output: unknown;
  error: unknown;
  startedAt: number;
  /** When it ended, null while running or paused. */
  endedAt: number | null;
  durationMs: number | null;
  /** The run's entries per primitive (`runs`: its own records; `events`: its stream; …). */
  counts: Record<string, number>;
  /** The first and last positions of the run's entries (its begin record is the first). */
  firstPosition: number;
  lastPosition: number;
}

const BEGIN_KEYS: OptionKeys<BeginRunOptions> = { id: true, name: true, parentRunId: true, tags: true, metadata: true, input: true };
const END_KEYS: OptionKeys<EndRunOptions> = { status: true, output: true, error: true };
const STATUS_KEYS: OptionKeys<SetStatusOptions> = { expectedStatus: true };
const QUERY_KEYS: OptionKeys<RunQuery> = { status: true, name: true, tag: true, parentRunId: true, startedAfter: true, startedBefore: true, limit: true, cursor: true };
const DELETE_KEYS: OptionKeys<DeleteRunOptions> = { recursive: true };

const MAX_NAME_BYTES = 1024;
const MAX_TAG_BYTES = 256;
const MAX_TAGS = 64;
const DEFAULT_LIMIT = 100;
/** Runs whose records `audit` reads at once. */
const AUDIT_BATCH = 2048;
const BEGIN_FIELDS = ['input', 'metadata'] as const;
const END_FIELDS = ['output', 'error'] as const;
const encoder = new TextEncoder();

export class Runs implements PrimitiveInstance<Runs> {
  private readonly index = new RunIndex();
  private readonly ids = new RunIds();

  /** @internal built by the registry (runsPrimitive). */
  constructor(private readonly context: PrimitiveContext) {
    context.onAttribute((runId, position) => this.index.attribute(runId, position));
  }

  /** @internal */
  get api(): Runs {
    return this;
  }

  /** @internal the events primitive (a run's stream). */
  get eventsApi(): Events {
    return this.context.primitive<Events>('events')!;
  }

  /** @internal the checkpoints primitive (a run's thread). */
  get checkpointsApi(): Checkpoints {
    return this.context.primitive<Checkpoints>('checkpoints')!;
  }

  /** @internal `forRun(id)` of another primitive (run.kv, run.state, run.traces). */
  forRun(primitive: string, runId: string): unknown {
    const api = this.context.primitive<{ forRun?: (runId: string) => unknown }>(primitive);
    if (!api || typeof api.forRun !== 'function') {
      throw new InvalidArgumentError(`run.${primitive}: this store has no '${primitive}' primitive with forRun registered, so a run has no ${primitive} view`);
    }
    return api.forRun(runId);
  }

  // ---------------------------------------------------------------- writes

  /** Begins a run (status `running`); resolves to its handle once the begin record is acknowledged. */
  begin(options: BeginRunOptions): Promise<Run> {
    let id: string;
    let record: ReturnType<typeof beginRecord>;
    let header: RunHeader;
    try {
      this.context.checkWritable();
      if (options === undefined) throw new InvalidArgumentError('runs.begin needs options { name, … }');
      const given = checkOptions('runs.begin', options, BEGIN_KEYS);
      const core = this.context.core;
      const idName = given.id === undefined ? undefined : checkRunId(core, 'runs.begin: id', given.id);
      const name = checkName(core, 'runs.begin: name', given.name, MAX_NAME_BYTES).text;
      const parentRunId = given.parentRunId === undefined ? null : checkRunId(core, 'runs.begin: parentRunId', given.parentRunId).text;
      header = { name, parentRunId, tags: this.checkTags(given.tags) };
      const values = encodeValues('runs.begin', {
        input: this.redact(given.input, 'input'),
        metadata: this.redact(given.metadata, 'metadata'),
      });
      id = idName?.text ?? this.ids.next();
      record = beginRecord(idName?.bytes ?? encoder.encode(id), id, header, values, this.context.options.maxEventBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.context.submit<Run>({
      prepare: (firstPosition, writer) => {
        const existing = this.index.get(id);
        if (existing) throw new ConflictError(`runs.begin: run '${id}' exists (${existing.status}); nothing was written. Choose another id, or omit id for a new one`);
        if (header.parentRunId !== null && !this.index.get(header.parentRunId)) {
          throw new InvalidArgumentError(`runs.begin: parentRunId '${header.parentRunId}' is not a run of this store; nothing was written`);
        }
        const timestamp = Date.now();
        writeRecord(writer, record, timestamp);
        return { count: 1, apply: () => void this.index.begin(id, header, timestamp, firstPosition), result: () => new Run(this, id) };
      },
    });
  }

  /** Ends a running or paused run: its status is final from then on. */
  end(id: string, options: EndRunOptions): Promise<void> {
    let runId: { text: string; bytes: Uint8Array };
    let status: EndStatus;
    let values: string;
    try {
      this.context.checkWritable();
      runId = checkRunId(this.context.core, 'runs.end: id', id);
      if (options === undefined) throw new InvalidArgumentError("runs.end needs options { status: 'succeeded' | 'failed' | 'cancelled', output?, error? }");
      const given = checkOptions('runs.end', options, END_KEYS);
      status = checkStatus('runs.end: status', given.status, END_STATUSES) as EndStatus;
      values = encodeValues('runs.end', {
        output: this.redact(given.output, 'output'),
        error: this.redact(errorValue(given.error), 'error'),
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.writeStatus('runs.end', runId, status, values, undefined);
  }

  /**
   * Sets a run's status: running and paused go back and forth; an ending status ends it (as
   * `end` without output). With `expectedStatus`, only when the run has that status now
   * (ConflictError otherwise). An ended run's status is final (ConflictError, whatever the
   * status asked). Setting the status a running or paused run has writes nothing.
   */
  setStatus(id: string, status: RunStatus, options?: SetStatusOptions): Promise<void> {
    let runId: { text: string; bytes: Uint8Array };
    let expected: RunStatus | undefined;
    try {
      this.context.checkWritable();
      runId = checkRunId(this.context.core, 'runs.setStatus: id', id);
      status = checkStatus('runs.setStatus: status', status);
      const given = checkOptions('runs.setStatus', options, STATUS_KEYS);
      expected = given.expectedStatus === undefined ? undefined : checkStatus('runs.setStatus: expectedStatus', given.expectedStatus);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.writeStatus('runs.setStatus', runId, status, '{}', expected);
  }

  private writeStatus(where: string, runId: { text: string; bytes: Uint8Array }, status: RunStatus, values: string, expected: RunStatus | undefined): Promise<void> {
    const id = runId.text;
    let record: ReturnType<typeof statusRecord>;
    try {
      record = statusRecord(runId.bytes, id, status, values, 0, this.context.options.maxEventBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.context.submit<void>({
      prepare: (firstPosition, writer) => {
        const run = this.index.get(id);
        if (!run) throw new InvalidArgumentError(`${where}: run '${id}' does not exist; nothing was written`);
        if (expected !== undefined && run.status !== expected) {
          throw new ConflictError(`${where}: run '${id}' is ${run.status}, not ${expected} (expectedStatus); nothing was written`);
        }
        if (isEnded(run.status)) throw new ConflictError(`${where}: run '${id}' has ended (${run.status}) and an ended run's status is final; nothing was written`);
        if (run.status === status) return { done: undefined };
        const timestamp = Date.now();
        record.version = run.records.length;
        writeRecord(writer, record, timestamp);
        return { count: 1, apply: () => this.index.setStatus(run, status, timestamp, firstPosition), result: () => undefined };
      },
    });
  }

  /**
   * Deletes a run and every entry attributed to it (its stream and thread, its kv entries,
   * state cells and spans): one record; they leave reads at once and their bytes go at the next
   * prune or compact. A run with child runs is deleted only with `{ recursive: true }` (then
   * with all its descendants, one record each in the same frame). An unknown id writes nothing.
   */
  delete(id: string, options?: DeleteRunOptions): Promise<DeletedRuns> {
    let runId: string;
    let recursive: boolean;
    try {
      this.context.checkWritable();
      runId = checkRunId(this.context.core, 'runs.delete: id', id).text;
      recursive = checkBoolean('runs.delete: recursive', checkOptions('runs.delete', options, DELETE_KEYS).recursive, false);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.context.submit<DeletedRuns>({
      prepare: (_firstPosition, writer) => {
        const run = this.index.get(runId);
        if (!run) return { done: { runs: 0, entries: 0 } };
        const doomed = withDescendants(this.index, run);
        if (doomed.length > 1 && !recursive) {
          const children = this.index.children(runId);
          throw new ConflictError(`runs.delete: run '${runId}' has ${children.length} child run(s) (${children.slice(0, 3).map((child) => `'${child.id}'`).join(', ')}${children.length > 3 ? ', …' : ''}); delete them first, or pass { recursive: true }; nothing was written`);
        }
        let entries = 0;
        for (const doomedRun of doomed) entries += this.positionsOf(doomedRun.id, Infinity).length;
        const timestamp = Date.now();
        for (const doomedRun of doomed) writeRecord(writer, deletedRecord(encoder.encode(doomedRun.id), doomedRun.id), timestamp);
        return {
          count: doomed.length,
          apply: () => {
            for (const doomedRun of doomed) this.context.dropRun(doomedRun.id);
          },
          result: () => ({ runs: doomed.length, entries }),
        };
      },
    });
  }

  // ---------------------------------------------------------------- reads

  /** A handle for a run of this store (a supervisor resuming it); InvalidArgumentError when there is none. */
  handle(id: string): Run {
    this.context.checkOpen();
    return new Run(this, this.requireRun('runs.handle', id).id);
  }

  /** @internal the run, or InvalidArgumentError naming `where`. */
  requireRun(where: string, id: string): RunState {
    const text = checkRunId(this.context.core, `${where}: id`, id).text;
    const run = this.index.get(text);
    if (!run || !this.visible(run)) throw new InvalidArgumentError(`${where}: run '${text}' does not exist (it was never begun in this store, or it was deleted)`);
    return run;
  }

  /** The run, with its values read from its records; undefined when there is none. */
  async get(id: string): Promise<RunInfo | undefined> {
    this.context.checkOpen();
    const run = this.index.get(checkRunId(this.context.core, 'runs.get: id', id).text);
    if (!run || !this.visible(run)) return undefined;
    return (await this.infos([run]))[0];
  }

  /** Runs matching every filter given, newest first (by startedAt, then id), a page at a time; served from memory. */
  async query(options?: RunQuery): Promise<RunPage> {
    this.context.checkOpen();
    const given = checkOptions('runs.query', options, QUERY_KEYS);
    const core = this.context.core;
    const filter: RunFilter = { writtenBefore: this.context.writtenPosition };
    if (given.status !== undefined) {
      const list = Array.isArray(given.status) ? given.status : [given.status];
      if (list.length === 0) throw new InvalidArgumentError('runs.query: status must name at least one status');
      filter.statuses = list.map((status) => checkStatus('runs.query: status', status));
    }
    if (given.name !== undefined) filter.name = checkName(core, 'runs.query: name', given.name, MAX_NAME_BYTES).text;
    if (given.tag !== undefined) filter.tag = checkName(core, 'runs.query: tag', given.tag, MAX_TAG_BYTES).text;
    if (given.parentRunId !== undefined) filter.parentRunId = checkRunId(core, 'runs.query: parentRunId', given.parentRunId).text;
    if (given.startedAfter !== undefined) filter.startedAfter = checkCount('runs.query: startedAfter', given.startedAfter);
    if (given.startedBefore !== undefined) filter.startedBefore = checkCount('runs.query: startedBefore', given.startedBefore);
    if (given.cursor !== undefined) filter.after = decodeCursor(given.cursor);
    const limit = given.limit === undefined ? DEFAULT_LIMIT : checkCount('runs.query: limit', given.limit);
    // One more than the page: whether another page follows.
    const found = this.index.query(filter, limit + 1);
    const more = found.length > limit;
    if (more) found.length = limit;
    return { runs: await this.infos(found), cursor: more && limit > 0 ? encodeCursor(found[limit - 1]!) : undefined };
  }

  /** The run's child runs, newest first. */
  async children(id: string): Promise<RunInfo[]> {
    this.context.checkOpen();
    const runId = checkRunId(this.context.core, 'runs.children: id', id).text;
    return this.infos(this.index.children(runId).filter((run) => this.visible(run)));
  }

  /**
   * The positions of every entry of the run, in log order: its own records, its stream's
   * events, its thread's checkpoints and what other primitives attributed to it (kv, state
   * cells, spans). O(run size), from memory; [] for an unknown run.
   */
  positions(id: string): number[] {
    this.context.checkOpen();
    return this.positionsOf(checkRunId(this.context.core, 'runs.positions: id', id).text, this.context.writtenPosition);
  }

  /** Number of runs in the store. */
  get count(): number {
    this.context.checkOpen();
    return this.index.runs.size;
  }

  private positionsOf(runId: string, written: number): number[] {
    const name = runStreamName(runId);
    const lists: readonly (readonly number[])[] = [
      this.index.get(runId)?.records ?? [],
      this.index.attributed.get(runId) ?? [],
      this.context.primitive<Events>('events')?.streamPositions(name) ?? [],
      this.context.primitive<Checkpoints>('checkpoints')?.threadPositions(name) ?? [],
    ];
    const all: number[] = [];
    for (const list of lists) for (const position of list) if (position < written && this.onDisk(position)) all.push(position);
    // Each list is sorted: the merge sort's runs make this about linear.
    return all.sort((a, b) => a - b);
  }

  /** Whether the entry at `position` is still in the log (not a placeholder a prune left). */
  private onDisk(position: number): boolean {
    const kind = this.context.kindAt(position);
    return kind !== KIND_PRUNED && kind >= 0;
  }

  private visible(run: RunState): boolean {
    return run.records[0]! < this.context.writtenPosition;
  }

  /** The runs as RunInfo, reading their begin and end records (one read for all). */
  private async infos(runs: readonly RunState[]): Promise<RunInfo[]> {
    if (runs.length === 0) return [];
    const fields = new Map<number, readonly string[]>();
    let newest = -1;
    for (const run of runs) {
      fields.set(run.records[0]!, BEGIN_FIELDS);
      if (run.endPosition >= 0) fields.set(run.endPosition, END_FIELDS);
      newest = Math.max(newest, run.records[0]!, run.endPosition);
    }
    // A status applied but not yet written: wait until the commits before now are written.
    if (newest >= this.context.writtenPosition) await this.context.submit<void>({ prepare: () => ({ done: undefined }) });
    const values = new Map<number, Record<string, unknown>>();
    await this.context.readPositions([...fields.keys()].sort((a, b) => a - b), (position, bytes, start, length) => {
      values.set(position, decodeRecordValues(bytes, start, length, position, fields.get(position)!));
    });
    const written = this.context.writtenPosition;
    return runs.map((run) => {
      const begun = values.get(run.records[0]!) ?? {};
      const ended = run.endPosition >= 0 ? (values.get(run.endPosition) ?? {}) : {};
      const positions = this.positionsOf(run.id, written);
      const counts: Record<string, number> = {};
      for (const position of positions) {
        const owner = this.context.ownerOf(this.context.kindAt(position)) ?? 'unknown';
        counts[owner] = (counts[owner] ?? 0) + 1;
      }
      return {
        id: run.id,
        name: run.name,
        status: run.status,
        parentRunId: run.parentRunId,
        tags: run.tags.slice(),
        metadata: begun.metadata ?? null,
        input: begun.input ?? null,
        output: ended.output ?? null,
        error: ended.error ?? null,
        startedAt: run.startedAt,
        endedAt: run.endedAt,
        durationMs: run.endedAt === null ? null : run.endedAt - run.startedAt,
        counts,
        firstPosition: positions[0] ?? run.records[0]!,
        lastPosition: positions[positions.length - 1] ?? run.records[0]!,
      };
    });
  }

  private checkTags(tags: unknown): string[] {
    if (tags === undefined) return [];
    if (!Array.isArray(tags)) throw new InvalidArgumentError(`runs.begin: tags must be an array of strings, got ${describe(tags)}`);
    if (tags.length > MAX_TAGS) throw new InvalidArgumentError(`runs.begin: at most ${MAX_TAGS} tags, got ${tags.length}`);
    const seen = new Set<string>();
    for (let index = 0; index < tags.length; index++) {
      const tag = checkName(this.context.core, `runs.begin: tags[${index}]`, tags[index], MAX_TAG_BYTES).text;
      if (seen.has(tag)) throw new InvalidArgumentError(`runs.begin: tags[${index}] '${tag}' appears twice`);
      seen.add(tag);
    }
    return [...seen];
  }

  private redact(value: unknown, field: string): unknown {
    return value === undefined ? undefined : this.context.redact(value, { primitive: 'runs', field });
  }

  // ---------------------------------------------------------------- the primitive contract

  /** @internal */
  recover(entry: RecoveredEntry): string | undefined {
    if (entry.kind !== KIND_RUN_BEGUN && entry.kind !== KIND_RUN_STATUS && entry.kind !== KIND_RUN_DELETED) return undefined;
    let decoded: ReturnType<typeof decodeRecord>;
    try {
      const payload = entry.payload();
      decoded = decodeRecord(entry.kind, payload, 0, payload.length, entry.position, entry.name);
    } catch (error) {
      if (error instanceof MalformedEntry) return error.message;
      throw error;
    }
    // The scan's name when it indexes these kinds; else the payload's (written in NFC).
    const id = entry.name ?? decoded.name;
    if (entry.kind === KIND_RUN_DELETED) {
      this.context.dropRun(id);
      return undefined;
    }
    if (entry.kind === KIND_RUN_BEGUN) {
      if (this.index.get(id)) return `run '${id}' is begun a second time at position ${entry.position} without being deleted`;
      this.index.begin(id, decoded.header!, decoded.timestamp, entry.position);
      return undefined;
    }
    const run = this.index.get(id);
    if (!run) return undefined; // a status of a run deleted before it cannot be written; nothing to apply
    if (!(RUN_STATUSES as readonly string[]).includes(decoded.type)) return `run '${id}' has a status record with the unknown status '${decoded.type}'`;
    if (isEnded(run.status)) return `run '${id}' has a status record (${decoded.type}) after it ended (${run.status})`;
    this.index.setStatus(run, decoded.type as RunStatus, decoded.timestamp, entry.position);
    return undefined;
  }

  /** @internal the run index (only entries still on disk). */
  captureSection(): Uint8Array {
    return this.index.encode((position) => this.onDisk(position));
  }

  /** @internal */
  restoreSection(bytes: Uint8Array): void {
    this.index.decode(bytes);
  }

  /** @internal every record of a run that exists (the other primitives mark the entries they keep). */
  markLive(mark: (position: number) => void): void {
    for (const run of this.index.runs.values()) for (const position of run.records) mark(position);
  }

  /** @internal `prune({ runs })`: run-deleted records for the ended runs the policy selects. */
  planPrune(policy: unknown): PrunePart {
    if (policy === undefined) return { positions: [] };
    const written = this.context.writtenPosition;
    const selected = selectRuns(this.index, policy as RunPrunePolicy, (run) => run.endPosition >= 0 && run.endPosition < written);
    const planned = new Map(selected.map((run) => [run, this.positionsOf(run.id, written)]));
    const records = selected.map((run) => deletedRecord(encoder.encode(run.id), run.id));
    if (selected.length === 0) return { positions: [] };
    return {
      positions: [...planned.values()].flat(),
      recordCount: records.length,
      recordBytes: records.reduce((sum, record) => sum + recordBytes(record), 0),
      write: (writer, timestamp) => {
        // In commit order: skip a run deleted meanwhile, or one that gained a child not deleted with it.
        const deleting = new Set<string>();
        let removed = 0;
        selected.forEach((run, index) => {
          if (this.index.get(run.id) !== run) return;
          if (this.index.children(run.id).some((child) => !deleting.has(child.id))) return;
          writeRecord(writer, records[index]!, timestamp);
          deleting.add(run.id);
          removed += planned.get(run)!.length;
        });
        return {
          count: deleting.size,
          removed,
          apply: () => {
            for (const runId of deleting) this.context.dropRun(runId);
          },
        };
      },
    };
  }

  /**
   * @internal `reeldb verify`: every record of every run decodes (header and values), each run
   * starts with its begin record and is followed by status records only, its ending record is
   * its last, and its parent exists.
   */
  async audit(onProgress?: (done: number, total: number) => void): Promise<{ checked: Record<string, number>; problems: string[] }> {
    const problems: string[] = [];
    const runs = [...this.index.runs.values()];
    const total = runs.reduce((sum, run) => sum + run.records.length, 0);
    let done = 0;
    for (let from = 0; from < runs.length; from += AUDIT_BATCH) {
      const batch = runs.slice(from, from + AUDIT_BATCH);
      const owner = new Map<number, RunState>();
      for (const run of batch) {
        for (const [index, position] of run.records.entries()) {
          const kind = this.context.kindAt(position);
          const expected = index === 0 ? KIND_RUN_BEGUN : KIND_RUN_STATUS;
          if (kind !== expected) problems.push(`run '${run.id}': its record at position ${position} is of kind 0x${kind.toString(16)}, not 0x${expected.toString(16)}`);
          else owner.set(position, run);
        }
        if (run.endPosition >= 0 && run.records[run.records.length - 1] !== run.endPosition) problems.push(`run '${run.id}': its ending record (position ${run.endPosition}) is not its last`);
        if (run.parentRunId !== null && !this.index.get(run.parentRunId)) problems.push(`run '${run.id}': its parent run '${run.parentRunId}' does not exist`);
      }
      await this.context.readPositions([...owner.keys()].sort((a, b) => a - b), (position, bytes, start, length) => {
        const run = owner.get(position)!;
        const kind = position === run.records[0] ? KIND_RUN_BEGUN : KIND_RUN_STATUS;
        try {
          const decoded = decodeRecord(kind, bytes, start, length, position);
          if (decoded.name !== run.id) problems.push(`run '${run.id}': its record at position ${position} names run '${decoded.name}'`);
          decodeRecordValues(bytes, start, length, position, kind === KIND_RUN_BEGUN ? BEGIN_FIELDS : END_FIELDS);
        } catch (error) {
          problems.push(`run '${run.id}': its record at position ${position} does not decode: ${(error as Error).message}`);
        }
      });
      done += batch.reduce((sum, run) => sum + run.records.length, 0);
      onProgress?.(done, total);
    }
    return { checked: { runs: runs.length, records: total }, problems };
  }

  /** @internal a run was deleted: forget it (context.dropRun calls every primitive's). */
  dropRun(runId: string): void {
    this.index.drop(runId);
  }

  /** @internal a follower found segments the writer's prune rewrote. */
  forgetRemoved(removed: (position: number) => boolean): void {
    for (const run of this.index.runs.values()) run.records = run.records.filter((position) => !removed(position));
    for (const [runId, positions] of this.index.attributed) this.index.attributed.set(runId, positions.filter((position) => !removed(position)));
  }

  /** @internal */
  stats(): Record<string, number> {
    const stats: Record<string, number> = { runs: this.index.runs.size };
    for (const status of RUN_STATUSES) stats[status] = this.index.countStatus(status);
    return stats;
  }

  /** @internal every run as the index holds it, oldest first, and entries attributed to run ids with no run. */
  fingerprint(): unknown {
    const keep = (position: number) => this.onDisk(position);
    return {
      runs: this.index.all.items.map((run) => ({
        id: run.id,
        name: run.name,
        status: run.status,
        parentRunId: run.parentRunId,
        tags: run.tags,
        startedAt: run.startedAt,
        endedAt: run.endedAt,
        records: run.records.filter(keep),
        entries: (this.index.attributed.get(run.id) ?? []).filter(keep),
      })),
      unclaimed: [...this.index.attributed]
        .filter(([runId]) => !this.index.runs.has(runId))
        .map(([runId, positions]) => ({ runId, positions: positions.filter(keep) }))
        .filter((item) => item.positions.length > 0)
        .sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0)),
    };
  }
}

/** A cursor: the last run of a page, as base64url of JSON [startedAt, id]. */
function encodeCursor(run: RunState): string {
  const bytes = encoder.encode(JSON.stringify([run.startedAt, run.id]));
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function decodeCursor(cursor: unknown): { startedAt: number; id: string } {
  const bad = () => new InvalidArgumentError(`runs.query: cursor must be the cursor of a page runs.query returned, got ${describe(cursor)}`);
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 1024) throw bad();
  try {
    const binary = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && value[0] >= 0 && typeof value[1] === 'string') {
      return { startedAt: value[0] as number, id: value[1] as string };
    }
  } catch {
    // Falls through to the typed error.
  }
  throw bad();
}

/** Runs (docs/FORMAT.md §8.4): kinds 0x60 run begun, 0x61 run status, 0x62 run deleted. */
export const runsPrimitive: PrimitiveSpec<Runs> = {
  name: 'runs',
  kinds: [0x60, 0x6f],
  namedKinds: [KIND_RUN_BEGUN, KIND_RUN_STATUS, KIND_RUN_DELETED],
  erasureKinds: [KIND_RUN_DELETED],
  section: 7,
  pruneKeys: ['runs'],
  checkPrune: checkRunPrune,
  create: (context) => new Runs(context),
};
