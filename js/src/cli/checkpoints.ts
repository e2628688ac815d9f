/**
 * `reeldb checkpoints <path> [--thread T]`: the checkpoint threads of a store with their sizes
 * (raw against stored bytes), or the checkpoints of one thread, newest first.
 */
import type { CheckpointInfo, Store, ThreadSummary } from '../index.node.js';
import { EXIT_OK, EXIT_USAGE, fields, formatBytes, formatCount, onePath, openStore, parseArgs, parseCount, plural, printWarnings, Progress, table, type Cli } from './common.js';
import { printable } from './inspect.js';

export const CHECKPOINTS_USAGE = `usage: reeldb checkpoints <path> [--thread T] [--limit N] [--json]

Without --thread: every thread with checkpoints, its count (full and delta), the bytes of its
states against the bytes stored, and its newest checkpoint (reads every checkpoint entry).
With --thread: that thread's checkpoints, newest first (id, seq, encoding, sizes, time,
metadata).

  --thread T   list the checkpoints of thread T
  --limit N    at most N rows (default 50 with --thread; every thread without)
  --json       print JSON instead of text`;

const LIMIT_THREAD_DEFAULT = 50;

function ratio(raw: number, stored: number): string {
  return stored > 0 ? `${(raw / stored).toFixed(1)}×` : '-';
}

/** Every thread's sizes (`checkpoints.summary()`), with progress on long reads. */
export async function readSummaries(cli: Cli, db: Store): Promise<ThreadSummary[]> {
  const bytes = db.stats().kinds.checkpoints.bytes;
  const progress = new Progress(cli.stderr, 'reading checkpoints', () => bytes, 'checkpoints');
  try {
    const summaries = await db.checkpoints.summary(undefined, (done, total) => progress.update(done, total));
    progress.done(true);
    return summaries;
  } finally {
    progress.done();
  }
}

export async function checkpoints(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('checkpoints', argv, { thread: 'string', limit: 'string', json: 'boolean' });
  const path = onePath('checkpoints', positionals);
  const limit = parseCount('checkpoints', '--limit', options.limit);
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    if (typeof options.thread === 'string') {
      const threadId = options.thread;
      if (db.checkpoints.count(threadId) === 0) {
        cli.stderr.write(`reeldb: thread '${printable(threadId)}' has no checkpoints in ${path} (reeldb checkpoints ${path} lists the threads)\n`);
        return EXIT_USAGE;
      }
      const list = await db.checkpoints.list(threadId, { limit: limit ?? LIMIT_THREAD_DEFAULT });
      if (options.json) {
        await cli.stdout.line(JSON.stringify({ threadId, checkpoints: db.checkpoints.count(threadId), listed: list }, null, 2));
        return EXIT_OK;
      }
      await cli.stdout.line(`thread '${printable(threadId)}': ${plural(db.checkpoints.count(threadId), 'checkpoint')}, newest first`);
      const rows = list.map((info: CheckpointInfo) => [
        info.id,
        String(info.seq),
        info.encoding,
        formatBytes(info.rawBytes),
        formatBytes(info.storedBytes),
        new Date(info.timestamp).toISOString(),
        info.metadata === undefined ? '' : printable(JSON.stringify(info.metadata)).slice(0, 60),
      ]);
      for (const line of table([['id', 'seq', 'encoding', 'state', 'stored', 'saved', 'metadata'], ...rows], 'lrlrrll')) await cli.stdout.line(line);
      return EXIT_OK;
    }

    const stats = db.stats();
    const summaries = await readSummaries(cli, db);
    summaries.sort((a, b) => b.storedBytes - a.storedBytes || (a.threadId < b.threadId ? -1 : 1));
    const shown = limit === undefined ? summaries : summaries.slice(0, limit);
    const raw = summaries.reduce((sum, thread) => sum + thread.rawBytes, 0);
    const stored = summaries.reduce((sum, thread) => sum + thread.storedBytes, 0);
    if (options.json) {
      await cli.stdout.line(JSON.stringify({ threads: summaries.length, checkpoints: stats.checkpoints, rawBytes: raw, storedBytes: stored, list: shown }, null, 2));
      return EXIT_OK;
    }
    const lines = fields([
      ['threads', formatCount(summaries.length)],
      ['checkpoints', formatCount(stats.checkpoints)],
      ['states', `${formatBytes(raw)} as saved → ${formatBytes(stored)} stored (${ratio(raw, stored)} smaller)`],
    ]);
    if (shown.length > 0) {
      lines.push('', shown.length < summaries.length ? `largest ${shown.length} of ${plural(summaries.length, 'thread')}` : plural(summaries.length, 'thread'));
      lines.push(
        ...table(
          [
            ['thread', 'checkpoints', 'full', 'delta', 'states', 'stored', 'ratio', 'newest'],
            ...shown.map((thread) => [
              printable(thread.threadId),
              formatCount(thread.checkpoints),
              formatCount(thread.full),
              formatCount(thread.delta),
              formatBytes(thread.rawBytes),
              formatBytes(thread.storedBytes),
              ratio(thread.rawBytes, thread.storedBytes),
              new Date(thread.newest.timestamp).toISOString(),
            ]),
          ],
          'lrrrrrrl',
        ),
      );
    }
    for (const line of lines) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}
