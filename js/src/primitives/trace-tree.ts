/**
 * A run's spans as a tree: children under their parent sorted by start, each node with the
 * usage of its whole subtree summed up, and the run's totals.
 */
import type { Usage } from './trace-codec.js';
import type { SpanSummary } from './trace-index.js';

/** Usage summed: every field present, 0 when no span reported it. */
export interface UsageTotal {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface TraceNode extends SpanSummary {
  /** Child spans, by start time (then by the order they were started). */
  children: TraceNode[];
  /** This span's usage plus that of every span below it. */
  totalUsage: UsageTotal;
  /** Spans below this one. */
  descendants: number;
}

export interface TraceTree {
  runId: string;
  /** Spans in the run. */
  spanCount: number;
  /** Spans with no parent. */
  roots: TraceNode[];
  /** Every span's usage summed. */
  usage: UsageTotal;
  /** Earliest start, latest end of the run's spans (undefined when it has none or none ended). */
  startedAt: number | undefined;
  endedAt: number | undefined;
  durationMs: number | undefined;
  /** Spans with no end (still open, or never ended when the process died). */
  incomplete: number;
}

function zero(): UsageTotal {
  return { inputTokens: 0, outputTokens: 0, costUsd: 0 };
}

function add(total: UsageTotal, usage: Usage | UsageTotal | undefined): void {
  if (!usage) return;
  total.inputTokens += usage.inputTokens ?? 0;
  total.outputTokens += usage.outputTokens ?? 0;
  total.costUsd += usage.costUsd ?? 0;
}

/** Builds the tree of `spans` (one run's, in start order). A span whose parent is not among them is a root. */
export function buildTree(runId: string, spans: readonly SpanSummary[]): TraceTree {
  const nodes = new Map<string, TraceNode>();
  const order = new Map<string, number>();
  spans.forEach((span, index) => {
    nodes.set(span.id, { ...span, children: [], totalUsage: zero(), descendants: 0 });
    order.set(span.id, index);
  });
  const roots: TraceNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.parentId !== undefined ? nodes.get(node.parentId) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const byStart = (a: TraceNode, b: TraceNode) => a.startedAt - b.startedAt || order.get(a.id)! - order.get(b.id)!;
  const usage = zero();
  // Post-order without recursion (deep trees must not overflow the stack).
  const stack: { node: TraceNode; visited: boolean }[] = roots.map((node) => ({ node, visited: false }));
  while (stack.length > 0) {
    const top = stack.pop()!;
    const node = top.node;
    if (!top.visited) {
      node.children.sort(byStart);
      stack.push({ node, visited: true });
      for (const child of node.children) stack.push({ node: child, visited: false });
      continue;
    }
    add(node.totalUsage, node.usage);
    for (const child of node.children) {
      add(node.totalUsage, child.totalUsage);
      node.descendants += 1 + child.descendants;
    }
  }
  roots.sort(byStart);
  let startedAt: number | undefined;
  let endedAt: number | undefined;
  let incomplete = 0;
  for (const span of spans) {
    add(usage, span.usage);
    if (startedAt === undefined || span.startedAt < startedAt) startedAt = span.startedAt;
    if (span.endedAt === undefined) incomplete++;
    else if (endedAt === undefined || span.endedAt > endedAt) endedAt = span.endedAt;
  }
  const durationMs = startedAt !== undefined && endedAt !== undefined ? endedAt - startedAt : undefined;
  return { runId, spanCount: spans.length, roots, usage, startedAt, endedAt, durationMs, incomplete };
}
