/**
 * `reeldb runs <path>`: the store's runs, newest first, with their status, start, duration and
 * entries per primitive; filters as `db.runs.query` takes them; `--json` prints the runs.
 */
import type { RunInfo, RunQuery, RunStatus } from '../index.node.js';
import { EXIT_OK, onePath, openStore, parseArgs, parseCount, plural, printWarnings, table, UsageError, type Cli } from './common.js';
import { printable } from './inspect.js';

export const RUNS_USAGE = `usage: reeldb runs <path> [--status S] [--tag T] [--name N] [--parent ID] [--limit N] [--json]

The store's runs, newest first: id, name, status, when it started, how long it took (or has
been running), its entries per primitive, and its tags.

  --status S   only runs with this status (running, paused, succeeded, failed, cancelled;
               several as a comma-separated list)
  --tag T      only runs with this tag
  --name N     only runs with this name
  --parent ID  only the child runs of run ID
  --limit N    at most N runs (default 20)
  --json       print the runs as JSON, one per line`;

function duration(run: RunInfo, now: number): string {
  const ms = run.durationMs ?? now - run.startedAt;
  const text = ms < 10_000 ? `${Math.round(ms)} ms` : ms < 600_000 ? `${Math.round(ms / 100) / 10} s` : `${Math.round(ms / 6_000) / 10} min`;
  return run.durationMs === null ? `${text}…` : text;
}

function counts(run: RunInfo): string {
  return Object.entries(run.counts)
    .filter(([primitive]) => primitive !== 'runs')
    .map(([primitive, count]) => `${primitive} ${count}`)
    .join(', ');
}

export async function runs(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('runs', argv, { status: 'string', tag: 'string', name: 'string', parent: 'string', limit: 'string', json: 'boolean' });
  const path = onePath('runs', positionals);
  const query: RunQuery = { limit: parseCount('runs', '--limit', options.limit) ?? 20 };
  if (typeof options.status === 'string') query.status = options.status.split(',').map((status) => status.trim()) as RunStatus[];
  if (typeof options.tag === 'string') query.tag = options.tag;
  if (typeof options.name === 'string') query.name = options.name;
  if (typeof options.parent === 'string') query.parentRunId = options.parent;
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    let page;
    try {
      page = await db.runs.query(query);
    } catch (error) {
      if ((error as { code?: string }).code === 'INVALID_ARGUMENT') throw new UsageError(`runs: ${(error as Error).message.replace(/^runs\.query: /, '')}`, 'runs');
      throw error;
    }
    if (options.json) {
      for (const run of page.runs) {
        await cli.stdout.line(JSON.stringify(run, (_key, value) => (value instanceof Uint8Array ? { $binary: btoa(String.fromCharCode(...value)) } : value)));
      }
      return EXIT_OK;
    }
    const now = Date.now();
    const rows = [['id', 'name', 'status', 'started', 'duration', 'entries', 'tags']];
    for (const run of page.runs) {
      rows.push([printable(run.id), printable(run.name), run.status, new Date(run.startedAt).toISOString(), duration(run, now), counts(run) || '-', run.tags.map(printable).join(', ')]);
    }
    const total = db.runs.count;
    await cli.stdout.line(`${plural(page.runs.length, 'run')} shown of ${plural(total, 'run')} in the store${page.cursor ? ' (more match: raise --limit)' : ''}`);
    if (page.runs.length > 0) for (const line of table(rows, 'lllllll', '')) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}
