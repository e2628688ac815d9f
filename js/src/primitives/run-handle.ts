/**
 * A run handle (`db.runs.begin` returns one, `db.runs.handle(id)` gives one for a run that
 * exists): the other primitives' APIs scoped to the run. Its events are the stream
 * `run:<id>`, its checkpoints the thread `run:<id>`; `kv`, `state` and `traces` are those
 * primitives' `forRun(id)` views, whose entries they attribute to the run.
 */
import { StreamNotFoundError } from '../errors.js';
import type { Store } from '../engine/store.js';
import type { AppendOptions, EventInput, ReadStreamOptions, RecordedEvent } from './events.js';
import { runStreamName } from './events.js';
import type { CheckpointInfo, ListCheckpointsOptions, LoadCheckpointOptions, LoadedCheckpoint, SaveCheckpointOptions } from './checkpoints.js';
import type { EndRunOptions, RunInfo, Runs, SetStatusOptions } from './runs.js';
import type { RunStatus } from './run-codec.js';

/** What `forRun(id)` of primitive `K` returns (unknown while `K` is not a registered built-in). */
export type ForRun<K extends string> = K extends keyof Store ? (Store[K] extends { forRun(runId: string): infer R } ? R : never) : unknown;

/** The run's own event stream (`run:<id>` in db.events). */
export class RunEvents {
  /** The stream's name in db.events. */
  readonly stream: string;
  constructor(private readonly runs: Runs, private readonly runId: string) {
    this.stream = runStreamName(runId);
  }

  /** Appends to the run's stream (as `db.events.append(stream, events, options)`). */
  append<T = unknown, M = unknown>(events: readonly EventInput<T, M>[], options?: AppendOptions): Promise<RecordedEvent<T, M>[]> {
    try {
      this.runs.requireRun('run.events.append', this.runId);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.runs.eventsApi.append(this.stream, events, options);
  }

  /** Reads the run's stream (as `db.events.readStream`); [] when the run has no events yet. */
  async read<T = unknown, M = unknown>(options?: ReadStreamOptions): Promise<RecordedEvent<T, M>[]> {
    try {
      return await this.runs.eventsApi.readStream<T, M>(this.stream, options);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }
}

/** The run's own checkpoint thread (`run:<id>` in db.checkpoints). */
export class RunCheckpoints {
  /** The thread's id in db.checkpoints. */
  readonly thread: string;
  constructor(private readonly runs: Runs, private readonly runId: string) {
    this.thread = runStreamName(runId);
  }

  save<S = unknown>(state: S, options?: SaveCheckpointOptions): Promise<CheckpointInfo> {
    try {
      this.runs.requireRun('run.checkpoints.save', this.runId);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.runs.checkpointsApi.save(this.thread, state, options);
  }

  load<S = unknown>(options?: LoadCheckpointOptions): Promise<LoadedCheckpoint<S> | undefined> {
    return this.runs.checkpointsApi.load<S>(this.thread, options);
  }

  list(options?: ListCheckpointsOptions): Promise<CheckpointInfo[]> {
    return this.runs.checkpointsApi.list(this.thread, options);
  }
}

export class Run {
  readonly events: RunEvents;
  readonly checkpoints: RunCheckpoints;
  private readonly scoped = new Map<string, unknown>();

  /** @internal made by db.runs. */
  constructor(private readonly runs: Runs, readonly id: string) {
    this.events = new RunEvents(runs, id);
    this.checkpoints = new RunCheckpoints(runs, id);
  }

  /** Key-value entries of this run (`db.kv.forRun(id)`). */
  get kv(): ForRun<'kv'> {
    return this.scope('kv') as ForRun<'kv'>;
  }

  /** State cells of this run (`db.state.forRun(id)`). */
  get state(): ForRun<'state'> {
    return this.scope('state') as ForRun<'state'>;
  }

  /** Spans of this run (`db.traces.forRun(id)`). */
  get traces(): ForRun<'traces'> {
    return this.scope('traces') as ForRun<'traces'>;
  }

  /** The primitive's view of this run; InvalidArgumentError once the run is deleted (its entries would belong to no run). */
  private scope(primitive: string): unknown {
    this.runs.requireRun(`run.${primitive}`, this.id);
    let view = this.scoped.get(primitive);
    if (view === undefined) {
      view = this.runs.forRun(primitive, this.id);
      this.scoped.set(primitive, view);
    }
    return view;
  }

  /** Ends the run (`db.runs.end(id, options)`). */
  end(options: EndRunOptions): Promise<void> {
    return this.runs.end(this.id, options);
  }

  /** `db.runs.setStatus(id, status, options)`. */
  setStatus(status: RunStatus, options?: SetStatusOptions): Promise<void> {
    return this.runs.setStatus(this.id, status, options);
  }

  /** `db.runs.get(id)`. */
  info(): Promise<RunInfo | undefined> {
    return this.runs.get(this.id);
  }
}
