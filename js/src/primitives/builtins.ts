/**
 * The primitives every store registers, in order (a later one may use an earlier one's API),
 * and their types on `Store` (`db.events`, `db.checkpoints`…), by declaration merging: the
 * store defines `db.<name>` for every registered primitive.
 */
import type { PrimitiveSpec } from '../engine/primitive.js';
import { checkpointsPrimitive, type Checkpoints } from './checkpoints.js';
import { eventsPrimitive, type Events } from './events.js';
import { kvPrimitive, type Kv } from './kv.js';
import { statePrimitive, type State } from './state.js';
import { tracesPrimitive, type Traces } from './traces.js';
import { runsPrimitive, type Runs } from './runs.js';

export const BUILTIN_PRIMITIVES: readonly PrimitiveSpec[] = [eventsPrimitive, checkpointsPrimitive, kvPrimitive, statePrimitive, tracesPrimitive, runsPrimitive];

declare module '../engine/store.js' {
  interface Store {
    /** Events in streams. */
    readonly events: Events;
    /** Checkpoints of threads (agent state), stored as zstd deltas. */
    readonly checkpoints: Checkpoints;
    /** Key-value: store-wide keys, and `forRun(runId)` for a run's own. */
    readonly kv: Kv;
    /** State cells: versioned values with compare-and-set, transitions and optional state machines. */
    readonly state: State;
    /** Spans of runs: model and tool calls with input, output, timing and usage. */
    readonly traces: Traces;
    /** Runs: begin, end, status, query; a run's entries in every primitive. */
    readonly runs: Runs;
  }
}
