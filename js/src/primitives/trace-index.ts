/**
 * The in-memory index of span summaries: what `traces.query` and `traces.tree` serve from,
 * rebuilt by recovery from each trace entry's header (never its input or output) and kept in
 * snapshots. Spans are held in the order they were started (their first entry's position),
 * store-wide and per run.
 */
import type { SpanStatus, Usage } from './trace-codec.js';

/** One span as the index knows it. */
export interface SpanEntry {
  id: string;
  runId: string;
  kind: string;
  name: string;
  parentId: string | undefined;
  startedAt: number;
  /** Position of the start (or record) entry. */
  start: number;
  /** Set once ended. */
  endedAt: number | undefined;
  status: 'ok' | 'error' | undefined;
  usage: Usage | undefined;
  /** Position of the end entry (the start's for a recorded span), or -1 while none. */
  end: number;
}

/** A span's summary as reads return it (no input, output, error or attributes: those stay in the log). */
export interface SpanSummary {
  id: string;
  runId: string;
  kind: string;
  name: string;
  parentId: string | undefined;
  status: SpanStatus;
  /** Milliseconds since the Unix epoch (fractional: microsecond precision). */
  startedAt: number;
  endedAt: number | undefined;
  /** endedAt − startedAt, or undefined while the span has no end. */
  durationMs: number | undefined;
  usage: Usage | undefined;
}

export interface IndexQuery {
  runId?: string;
  kind?: string;
  name?: string;
  status?: SpanStatus;
  startedAfter?: number;
  minDurationMs?: number;
  limit: number;
  /** Only spans whose start entry is below this position (the cursor). */
  before: number;
}

/** First index in `list` (sorted by `start`) whose start is ≥ `position`. */
function lowerBound(list: readonly SpanEntry[], position: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[middle]!.start < position) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class TraceIndex {
  readonly spans = new Map<string, SpanEntry>();
  /** Every span in start order. */
  private order: SpanEntry[] = [];
  /** Each run's spans in start order. */
  readonly runs = new Map<string, SpanEntry[]>();

  get size(): number {
    return this.spans.size;
  }

  /** Adds a span (its start is above every position the index holds). */
  add(span: SpanEntry): void {
    this.spans.set(span.id, span);
    this.order.push(span);
    let list = this.runs.get(span.runId);
    if (!list) this.runs.set(span.runId, (list = []));
    list.push(span);
  }

  /** Records a span's end. */
  end(span: SpanEntry, endedAt: number, status: 'ok' | 'error', usage: Usage | undefined, position: number): void {
    span.endedAt = endedAt;
    span.status = status;
    span.usage = usage;
    span.end = position;
  }

  /** Forgets every span of a run; returns how many. */
  dropRun(runId: string): number {
    const list = this.runs.get(runId);
    if (!list) return 0;
    this.runs.delete(runId);
    for (const span of list) this.spans.delete(span.id);
    this.order = this.order.filter((span) => span.runId !== runId);
    return list.length;
  }

  clear(): void {
    this.spans.clear();
    this.order = [];
    this.runs.clear();
  }

  /** Every span in start order. */
  all(): readonly SpanEntry[] {
    return this.order;
  }

  /**
   * The summary of a span as readers may see it: only entries below `written` (the log's
   * readable end) count, so a span whose end is still being written reads as not ended.
   */
  summary(span: SpanEntry, written: number): SpanSummary {
    const ended = span.end >= 0 && span.end < written;
    return {
      id: span.id,
      runId: span.runId,
      kind: span.kind,
      name: span.name,
      parentId: span.parentId,
      status: ended ? span.status! : 'incomplete',
      startedAt: span.startedAt,
      endedAt: ended ? span.endedAt : undefined,
      durationMs: ended ? span.endedAt! - span.startedAt : undefined,
      usage: ended && span.usage ? { ...span.usage } : undefined,
    };
  }

  /**
   * Newest first (by start entry), the spans matching `query` from below `query.before`:
   * up to `limit`, and the start position of the last one when more match (the next cursor).
   */
  query(query: IndexQuery, written: number): { spans: SpanSummary[]; next: number | undefined } {
    const list = query.runId !== undefined ? (this.runs.get(query.runId) ?? []) : this.order;
    const spans: SpanSummary[] = [];
    let last = -1;
    let next: number | undefined;
    for (let index = lowerBound(list, Math.min(query.before, written)) - 1; index >= 0; index--) {
      const span = list[index]!;
      if (query.kind !== undefined && span.kind !== query.kind) continue;
      if (query.name !== undefined && span.name !== query.name) continue;
      if (query.startedAfter !== undefined && !(span.startedAt > query.startedAfter)) continue;
      const summary = this.summary(span, written);
      if (query.status !== undefined && summary.status !== query.status) continue;
      if (query.minDurationMs !== undefined && !(summary.durationMs !== undefined && summary.durationMs >= query.minDurationMs)) continue;
      if (spans.length === query.limit) {
        // One more matches: the page ends at the last span returned.
        next = last;
        break;
      }
      spans.push(summary);
      last = span.start;
    }
    return { spans, next };
  }

  /** A run's spans readers may see, in start order. */
  ofRun(runId: string, written: number): SpanEntry[] {
    const list = this.runs.get(runId) ?? [];
    return list.filter((span) => span.start < written);
  }
}
