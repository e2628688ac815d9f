/**
 * `prune({ runs: { endedBefore, status, keepLast } })`: which ended runs a prune deletes (with
 * every entry attributed to them, through the same path as `runs.delete`). Of the ended runs
 * with a status in `status` (all three when absent), newest first by startedAt, the newest
 * `keepLast` are kept and, of the others, those that ended before `endedBefore` (all when
 * absent) are deleted. A run with a child that is not deleted too is kept.
 */
import { InvalidArgumentError } from '../errors.js';
import { pruneInteger } from '../engine/prune.js';
import { checkOptions, type OptionKeys } from '../validate.js';
import { checkStatus, END_STATUSES, isEnded, type EndStatus } from './run-codec.js';
import type { RunIndex, RunState } from './run-index.js';

export interface RunRetention {
  /** Delete only runs that ended before this time (milliseconds since the Unix epoch). */
  endedBefore?: number;
  /** Only runs that ended so (default: every ending status). */
  status?: EndStatus | EndStatus[];
  /** Keep the newest this many ended runs (of `status`) whatever their age. */
  keepLast?: number;
}

export interface RunPrunePolicy {
  endedBefore: number | undefined;
  statuses: readonly EndStatus[];
  keepLast: number;
}

const RETENTION_KEYS: OptionKeys<RunRetention> = { endedBefore: true, status: true, keepLast: true };

/** The checked policy, or undefined when the prune has no `runs` key. */
export function checkRunPrune(given: Readonly<Record<string, unknown>>): RunPrunePolicy | undefined {
  if (given.runs === undefined) return undefined;
  const retention = checkOptions('prune.runs', given.runs as RunRetention, RETENTION_KEYS);
  if (retention.endedBefore === undefined && retention.status === undefined && retention.keepLast === undefined) {
    throw new InvalidArgumentError('prune.runs must say which ended runs to delete: endedBefore (a time in ms), status, keepLast, or several of them');
  }
  const endedBefore = retention.endedBefore === undefined ? undefined : pruneInteger('runs.endedBefore', retention.endedBefore);
  const keepLast = retention.keepLast === undefined ? 0 : pruneInteger('runs.keepLast', retention.keepLast);
  let statuses: readonly EndStatus[] = END_STATUSES;
  if (retention.status !== undefined) {
    const list = Array.isArray(retention.status) ? retention.status : [retention.status];
    if (list.length === 0) throw new InvalidArgumentError('prune.runs.status must name at least one ending status');
    statuses = list.map((status) => checkStatus('prune.runs.status', status, END_STATUSES) as EndStatus);
  }
  return { endedBefore, statuses, keepLast };
}

/** The runs the policy deletes, children before their parents; `visible(run)`: written and so prunable. */
export function selectRuns(index: RunIndex, policy: RunPrunePolicy, visible: (run: RunState) => boolean): RunState[] {
  const candidates: RunState[] = [];
  let kept = 0;
  const items = index.all.items;
  for (let at = items.length - 1; at >= 0; at--) {
    const run = items[at]!;
    if (!isEnded(run.status) || !policy.statuses.includes(run.status) || !visible(run)) continue;
    if (kept < policy.keepLast) {
      kept++;
      continue;
    }
    if (policy.endedBefore !== undefined && run.endedAt! >= policy.endedBefore) continue;
    candidates.push(run);
  }
  // Keep a run that has a child not deleted with it (until nothing changes).
  const selected = new Set(candidates);
  for (let changed = true; changed; ) {
    changed = false;
    for (const run of selected) {
      if (index.children(run.id).some((child) => !selected.has(child))) {
        selected.delete(run);
        changed = true;
      }
    }
  }
  return childrenFirst(index, [...selected]);
}

/** `runs` ordered so that every run comes after its children among them. */
export function childrenFirst(index: RunIndex, runs: readonly RunState[]): RunState[] {
  const among = new Set(runs);
  const ordered: RunState[] = [];
  const done = new Set<RunState>();
  const visit = (run: RunState) => {
    if (done.has(run)) return;
    done.add(run);
    for (const child of index.children(run.id)) if (among.has(child)) visit(child);
    ordered.push(run);
  };
  for (const run of runs) visit(run);
  return ordered;
}

/** The run and all its descendants, children first. */
export function withDescendants(index: RunIndex, run: RunState): RunState[] {
  const all: RunState[] = [];
  const seen = new Set<RunState>();
  const stack = [run];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    all.push(next);
    stack.push(...index.children(next.id));
  }
  return childrenFirst(index, all);
}

declare module '../engine/prune.js' {
  interface PruneOptions {
    /** Delete ended runs with every entry attributed to them (see RunRetention). */
    runs?: RunRetention;
  }
}
