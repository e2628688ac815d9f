/**
 * The context each primitive gets (PrimitiveContext): the store's log and commit pipeline
 * seen through a few methods. Built before recovery (a primitive only recovers then) and bound
 * to the log and pipeline once the store is open.
 */
import type { Core } from '../core/core.js';
import type { SegmentLog } from '../device/segments.js';
import type { Commit } from './commit.js';
import type { CommitPipeline } from './commit.js';
import type { ResolvedOptions } from './options.js';
import type { PrimitiveContext, PrimitiveSpec, RedactWhere } from './primitive.js';
import type { Registry } from './registry.js';

/** What all primitives of one store share: listeners and the late-bound log. */
export class StoreWiring {
  log!: SegmentLog;
  pipeline!: CommitPipeline;
  checkOpen: () => void = () => {};
  checkWritable: () => void = () => {};
  acknowledgedPosition = 0;
  readonly acknowledged = new Set<(position: number) => void>();
  readonly failed = new Set<(failure: Error) => void>();
  readonly attributed: ((runId: string, position: number) => void)[] = [];

  constructor(readonly core: Core, readonly options: ResolvedOptions, readonly registry: Registry) {}

  /** Wires the pipeline's hooks to every listener (a list, not one slot). */
  bind(log: SegmentLog, pipeline: CommitPipeline): void {
    this.log = log;
    this.pipeline = pipeline;
    this.acknowledgedPosition = log.nextPosition;
    pipeline.onAcknowledged = (position) => {
      if (position > this.acknowledgedPosition) this.acknowledgedPosition = position;
      for (const listener of this.acknowledged) listener(position);
    };
    pipeline.onFailed = (failure) => {
      for (const listener of this.failed) listener(failure);
    };
  }

  attribute(runId: string, position: number): void {
    for (const listener of this.attributed) listener(runId, position);
  }

  contextFor(spec: PrimitiveSpec): PrimitiveContext {
    return new Context(this, spec);
  }
}

class Context implements PrimitiveContext {
  constructor(private readonly wiring: StoreWiring, private readonly spec: PrimitiveSpec) {}

  get core(): Core {
    return this.wiring.core;
  }
  get options(): ResolvedOptions {
    return this.wiring.options;
  }
  submit<T>(commit: Commit<T>): Promise<T> {
    return this.wiring.pipeline.submit(commit);
  }
  readPositions(positions: readonly number[], visit: (position: number, bytes: Uint8Array, start: number, length: number) => void): Promise<void> {
    // The log reads positions in ascending order: sort a copy when they are not.
    let sorted = true;
    for (let index = 1; index < positions.length && sorted; index++) sorted = positions[index - 1]! <= positions[index]!;
    return this.wiring.log.readPositions(sorted ? (positions as number[]) : [...positions].sort((a, b) => a - b), visit);
  }
  readRange(from: number, to: number, visit: (kind: number, position: number, bytes: Uint8Array, start: number, length: number) => void): Promise<void> {
    return this.wiring.log.readRange(from, to, visit);
  }
  kindAt(position: number): number {
    return this.wiring.log.kindAt(position);
  }
  locate(position: number): { file: string; offset: number } {
    return this.wiring.log.locate(position);
  }
  countKind(kind: number, end: number): number {
    let entries = 0;
    for (const segment of this.wiring.log.segments) {
      if (segment.firstPosition >= end) break;
      const kinds = segment.kinds.values;
      const stop = Math.min(segment.kinds.length, end - segment.firstPosition);
      for (let index = 0; index < stop; index++) if (kinds[index] === kind) entries++;
    }
    return entries;
  }
  get writtenPosition(): number {
    return this.wiring.pipeline.writtenPosition;
  }
  get acknowledgedPosition(): number {
    return this.wiring.acknowledgedPosition;
  }
  get nextPosition(): number {
    return this.wiring.log.nextPosition;
  }
  get failure(): Error | undefined {
    return this.wiring.pipeline?.failure;
  }
  checkOpen(): void {
    this.wiring.checkOpen();
  }
  checkWritable(): void {
    this.wiring.checkWritable();
  }
  onAcknowledged(listener: (position: number) => void): () => void {
    this.wiring.acknowledged.add(listener);
    return () => this.wiring.acknowledged.delete(listener);
  }
  onFailed(listener: (failure: Error) => void): () => void {
    this.wiring.failed.add(listener);
    return () => this.wiring.failed.delete(listener);
  }
  warn(message: string): void {
    this.wiring.options.onWarning(message);
  }
  attribute(runId: string, position: number): void {
    this.wiring.attribute(runId, position);
  }
  onAttribute(listener: (runId: string, position: number) => void): void {
    this.wiring.attributed.push(listener);
  }
  dropRun(runId: string): void {
    this.wiring.registry.dropRun(runId);
  }
  ownerOf(kind: number): string | undefined {
    return this.wiring.registry.ownerOf(kind)?.spec.name;
  }
  primitive<T = unknown>(name: string): T | undefined {
    return this.wiring.registry.get(name)?.instance.api as T | undefined;
  }
  redact<V>(value: V, where: RedactWhere): V {
    const redact = this.wiring.options.redact;
    return redact ? (redact(value, { primitive: where.primitive ?? this.spec.name, field: where.field }) as V) : value;
  }
}
