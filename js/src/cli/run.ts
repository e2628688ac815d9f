/**
 * `reeldb run <path> <id>`: one run's summary (status, times, values, entries per primitive)
 * and its timeline: its events, spans (with durations and usage) and checkpoints in time
 * order, each at its offset from the run's start. Reads the run's stream in batches, with
 * progress on stderr for long runs; `--json` prints the summary and the timeline as JSON.
 */
import type { RecordedEvent, RunInfo, TraceNode } from '../index.node.js';
import { EXIT_OK, EXIT_USAGE, fields, formatCount, openStore, parseArgs, printWarnings, Progress, UsageError, type Cli } from './common.js';
import { printable } from './inspect.js';

export const RUN_USAGE = `usage: reeldb run <path> <id> [--json]

The run's summary (name, status, parent, tags, start, end, duration, input, output, error,
its entries per primitive), then its timeline: the events of its stream, its spans (kind,
name, status, duration, usage) and its checkpoints, in time order, each with its offset from
the start of the run.

  --json   print { run, timeline } as JSON`;

/** Events read per batch (the progress line moves between batches). */
const BATCH = 4096;
const PREVIEW_CHARS = 120;

interface TimelineItem {
  at: number;
  what: 'event' | 'span' | 'checkpoint';
  position?: number;
  text: string;
  detail: Record<string, unknown>;
}

function preview(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text = value instanceof Uint8Array ? `<${formatCount(value.length)} bytes>` : JSON.stringify(value);
  return printable(text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text);
}

function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '…';
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10_000) return `${Math.round(ms * 10) / 10} ms`;
  return `${Math.round(ms / 100) / 10} s`;
}

function offset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  return `${sign}${duration(Math.abs(ms))}`;
}

async function readEvents(cli: Cli, db: import('../index.node.js').Store, stream: string, total: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  if (total === 0) return events;
  const progress = new Progress(cli.stderr, 'reading the run', () => total * 256, 'events');
  try {
    let fromVersion = 0;
    for (;;) {
      const batch = await db.events.readStream(stream, { fromVersion, limit: BATCH });
      events.push(...batch);
      progress.update(events.length, total);
      if (batch.length < BATCH) break;
      fromVersion = batch[batch.length - 1]!.streamVersion + 1;
    }
  } finally {
    progress.done(true);
  }
  return events;
}

function spanItems(roots: readonly TraceNode[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  const stack = roots.map((node) => ({ node, depth: 0 })).reverse();
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    const usage = node.usage ? [node.usage.inputTokens !== undefined || node.usage.outputTokens !== undefined ? `${formatCount(node.usage.inputTokens ?? 0)} in / ${formatCount(node.usage.outputTokens ?? 0)} out tokens` : '', node.usage.costUsd ? `$${node.usage.costUsd}` : ''].filter(Boolean).join(', ') : '';
    const status = node.status === 'ok' ? '' : ` [${node.status}]`;
    items.push({
      at: node.startedAt,
      what: 'span',
      text: `${'  '.repeat(depth)}${printable(node.kind)} ${printable(node.name)}${status}  ${[duration(node.durationMs), usage].filter(Boolean).join(' · ')}`,
      detail: { id: node.id, kind: node.kind, name: node.name, parentId: node.parentId, status: node.status, startedAt: node.startedAt, endedAt: node.endedAt, durationMs: node.durationMs, usage: node.usage },
    });
    for (let index = node.children.length - 1; index >= 0; index--) stack.push({ node: node.children[index]!, depth: depth + 1 });
  }
  return items;
}

export async function run(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('run', argv, { json: 'boolean' });
  if (positionals.length === 0) throw new UsageError('run: missing <path> (the store directory)', 'run');
  if (positionals.length === 1) throw new UsageError('run: missing <id> (the run to show: `reeldb runs <path>` lists them)', 'run');
  if (positionals.length > 2) throw new UsageError(`run: expected <path> <id>, got ${positionals.length} arguments: ${positionals.join(' ')}`, 'run');
  const [path, id] = positionals as [string, string];
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    const info: RunInfo | undefined = await db.runs.get(id);
    if (!info) {
      cli.stderr.write(`reeldb: no run '${printable(id)}' in ${path} (\`reeldb runs ${path}\` lists the runs)\n`);
      return EXIT_USAGE;
    }
    const thread = `run:${info.id}`;
    const events = await readEvents(cli, db, thread, info.counts.events ?? 0);
    const checkpoints = (info.counts.checkpoints ?? 0) > 0 ? await db.checkpoints.list(thread, { limit: info.counts.checkpoints }) : [];
    const tree = db.primitive('traces') ? await db.traces.tree(info.id) : undefined;
    const timeline: TimelineItem[] = [
      ...events.map((event) => ({ at: event.timestamp, what: 'event' as const, position: event.position, text: `${printable(event.type)}  ${preview(event.data)}`, detail: { type: event.type, data: event.data, position: event.position, streamVersion: event.streamVersion } })),
      ...checkpoints.map((checkpoint) => ({ at: checkpoint.timestamp, what: 'checkpoint' as const, position: checkpoint.position, text: `seq ${checkpoint.seq} (${checkpoint.encoding}, ${formatCount(checkpoint.storedBytes)} of ${formatCount(checkpoint.rawBytes)} bytes)`, detail: { ...checkpoint } })),
      ...(tree ? spanItems(tree.roots) : []),
    ];
    // Time order; ties in log order (spans, with no position, after the entries of their millisecond).
    timeline.sort((a, b) => a.at - b.at || (a.position ?? Infinity) - (b.position ?? Infinity));
    if (options.json) {
      const json = JSON.stringify({ run: info, timeline: timeline.map(({ at, what, detail }) => ({ at, what, ...detail })) }, (_key, value) => (value instanceof Uint8Array ? { $binary: btoa(String.fromCharCode(...value)) } : value));
      await cli.stdout.line(json);
      return EXIT_OK;
    }
    const lines = fields([
      ['run', printable(info.id)],
      ['name', printable(info.name)],
      ['status', info.status],
      ['parent', info.parentRunId === null ? '-' : printable(info.parentRunId)],
      ['tags', info.tags.length ? info.tags.map(printable).join(', ') : '-'],
      ['started', new Date(info.startedAt).toISOString()],
      ['ended', info.endedAt === null ? '-' : new Date(info.endedAt).toISOString()],
      ['duration', info.durationMs === null ? `${duration(Date.now() - info.startedAt)} so far` : duration(info.durationMs)],
      ['entries', Object.entries(info.counts).map(([primitive, count]) => `${primitive} ${formatCount(count)}`).join(', ')],
      ['input', preview(info.input)],
      ['output', preview(info.output)],
      ['error', preview(info.error)],
    ]);
    lines.push('');
    for (const item of timeline) lines.push(`${offset(item.at - info.startedAt).padStart(10)}  ${item.what.padEnd(10)}  ${item.text}`);
    if (info.endedAt !== null) lines.push(`${offset(info.endedAt - info.startedAt).padStart(10)}  ${'end'.padEnd(10)}  ${info.status}`);
    for (const line of lines) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}
