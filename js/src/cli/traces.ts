/**
 * `reeldb traces <path> <runId>`: the span tree of a run, with each span's kind, status,
 * duration and usage and the subtree's usage summed; `--json` prints the tree, `--otlp` the
 * run as OTLP/JSON (to import into Jaeger, Langfuse or Phoenix).
 */
import type { TraceNode, UsageTotal } from '../index.node.js';
import { EXIT_OK, EXIT_USAGE, fields, formatCount, openStore, parseArgs, plural, printWarnings, UsageError, type Cli } from './common.js';
import { printable } from './inspect.js';

export const TRACES_USAGE = `usage: reeldb traces <path> <runId> [--json | --otlp]

The run's spans as a tree: children under their parent by start time, each with its kind,
name, status (ok, error, or incomplete: never ended), duration and usage, and the usage of its
subtree summed; then the run's totals.

  --json   print the tree as JSON
  --otlp   print the run as OTLP/JSON (save it as a .json file, or POST it to a collector's /v1/traces)`;

function duration(ms: number | undefined): string {
  if (ms === undefined) return '…';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10_000) return `${Math.round(ms * 10) / 10} ms`;
  return `${Math.round(ms / 100) / 10} s`;
}

function usage(total: UsageTotal | undefined): string {
  if (!total || (total.inputTokens === 0 && total.outputTokens === 0 && total.costUsd === 0)) return '';
  const parts = [];
  if (total.inputTokens > 0 || total.outputTokens > 0) parts.push(`${formatCount(total.inputTokens)} in / ${formatCount(total.outputTokens)} out tokens`);
  if (total.costUsd > 0) parts.push(`$${total.costUsd.toFixed(total.costUsd < 0.01 ? 6 : 4)}`);
  return parts.join(', ');
}

function own(node: TraceNode): UsageTotal | undefined {
  return node.usage ? { inputTokens: node.usage.inputTokens ?? 0, outputTokens: node.usage.outputTokens ?? 0, costUsd: node.usage.costUsd ?? 0 } : undefined;
}

/** The tree's lines, depth first, without recursion. */
function treeLines(roots: readonly TraceNode[]): string[] {
  const lines: string[] = [];
  const stack: { node: TraceNode; prefix: string; last: boolean; root: boolean }[] = roots.map((node, index) => ({ node, prefix: '', last: index === roots.length - 1, root: true })).reverse();
  while (stack.length > 0) {
    const { node, prefix, last, root } = stack.pop()!;
    const branch = root ? '' : last ? '└─ ' : '├─ ';
    const status = node.status === 'ok' ? '' : ` [${node.status}]`;
    const mine = usage(own(node));
    const subtree = node.descendants > 0 ? usage(node.totalUsage) : '';
    const details = [duration(node.durationMs), mine, subtree && subtree !== mine ? `subtree ${subtree}` : ''].filter(Boolean).join(' · ');
    lines.push(`${prefix}${branch}${printable(node.kind)} ${printable(node.name)}${status}  ${details}`);
    const childPrefix = root ? '' : `${prefix}${last ? '   ' : '│  '}`;
    for (let index = node.children.length - 1; index >= 0; index--) stack.push({ node: node.children[index]!, prefix: childPrefix, last: index === node.children.length - 1, root: false });
  }
  return lines;
}

export async function traces(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('traces', argv, { json: 'boolean', otlp: 'boolean' });
  if (positionals.length === 0) throw new UsageError('traces: missing <path> (the store directory)', 'traces');
  if (positionals.length === 1) throw new UsageError('traces: missing <runId> (the run whose spans to show)', 'traces');
  if (positionals.length > 2) throw new UsageError(`traces: expected <path> <runId>, got ${positionals.length} arguments: ${positionals.join(' ')}`, 'traces');
  if (options.json && options.otlp) throw new UsageError('traces: give --json or --otlp, not both', 'traces');
  const [path, runId] = positionals as [string, string];
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    const tree = await db.traces.tree(runId);
    if (tree.spanCount === 0) {
      cli.stderr.write(`reeldb: run '${printable(runId)}' has no spans in ${path}\n`);
      return EXIT_USAGE;
    }
    if (options.otlp) {
      await cli.stdout.line(JSON.stringify(await db.traces.exportOtlp(runId)));
      return EXIT_OK;
    }
    if (options.json) {
      await cli.stdout.line(JSON.stringify(tree, null, 2));
      return EXIT_OK;
    }
    const lines = fields([
      ['run', printable(runId)],
      ['spans', `${formatCount(tree.spanCount)}${tree.incomplete > 0 ? ` (${plural(tree.incomplete, 'incomplete', 'incomplete')})` : ''}`],
      ['started', tree.startedAt === undefined ? '-' : new Date(tree.startedAt).toISOString()],
      ['duration', duration(tree.durationMs)],
      ['usage', usage(tree.usage) || '-'],
    ]);
    lines.push('', ...treeLines(tree.roots));
    for (const line of lines) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}
