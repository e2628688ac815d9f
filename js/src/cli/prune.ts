/**
 * `reeldb prune <path> …` and `reeldb compact <path>`: apply a retention policy and give the
 * disk space back (the writer's `db.prune` / `db.compact`). These are the only commands that
 * change a store: they take the writer lock, so they fail with STORE_LOCKED while an
 * application has the store open. `--dry-run` only reports, without the lock.
 */
import type { PruneOptions, PruneResult } from '../index.node.js';
import { EXIT_OK, formatBytes, formatCount, onePath, openStore, parseArgs, parseCount, plural, printWarnings, UsageError, type Cli } from './common.js';
import { DURATION_EXAMPLES, parseDuration } from './duration.js';

export const PRUNE_USAGE = `usage: reeldb prune <path> [--before POSITION] [--stream S --max-count N]
                    [--keep-last N] [--max-age DURATION] [--dry-run] [--json]

Removes what the policy says and rewrites the sealed segments that held it, giving the disk
space back. Positions and versions of what stays never change. Deleted streams and the
checkpoints of deleted threads always go. Needs the writer lock (fails while an application
has the store open).

  --before POSITION   remove every event before this log position
  --stream S --max-count N
                      keep only the newest N (at least 1) events of stream S; --before
                      also keeps each stream's newest event
  --keep-last N       keep exactly each thread's newest N checkpoints (the oldest kept is
                      re-stored as a full checkpoint when it was a delta)
  --max-age DURATION  remove checkpoints older than this: a number with a unit, d h m s ms
                      (7d, 12h, 30m, 45s, 500ms, 1h30m; a bare number other than 0 is an
                      error); with --keep-last, only those beyond the newest N; the newest
                      always stays
  --dry-run           report what would be removed, change nothing (no lock needed)
  --json              print the result as JSON`;

export const COMPACT_USAGE = `usage: reeldb compact <path> [--json]

Rewrites the sealed segments that hold deleted streams and checkpoints of deleted threads,
giving their disk space back (a prune without a retention policy). Needs the writer lock.`;

async function report(cli: Cli, result: PruneResult, dryRun: boolean, json: boolean): Promise<void> {
  if (json) {
    await cli.stdout.line(JSON.stringify({ dryRun, ...result }, null, 2));
    return;
  }
  const what = [
    plural(result.events, 'event'),
    plural(result.checkpoints, 'checkpoint'),
    ...(result.erasedEvents > 0 ? [`${formatCount(result.erasedEvents)} events of deleted streams or earlier prunes erased`] : []),
    ...(result.deletedThreadCheckpoints > 0 ? [`${formatCount(result.deletedThreadCheckpoints)} of deleted threads`] : []),
  ].join(', ');
  if (dryRun) {
    await cli.stdout.line(`would remove ${what}: about ${formatBytes(result.bytesReclaimed)} of ${formatBytes(result.bytesBefore)} (dry run, nothing changed)`);
  } else if (result.segmentsRewritten === 0) {
    await cli.stdout.line(`nothing to remove (${formatBytes(result.bytesBefore)} of log)`);
  } else {
    await cli.stdout.line(
      `removed ${what}: ${plural(result.segmentsRewritten, 'segment')} rewritten, ${formatBytes(result.bytesBefore)} → ${formatBytes(result.bytesAfter)} (${formatBytes(result.bytesReclaimed)} reclaimed)`,
    );
  }
}

async function run(cli: Cli, path: string, policy: PruneOptions, json: boolean): Promise<number> {
  const dryRun = policy.dryRun === true;
  const { db, warnings } = await openStore(cli, path, 'scanning', { writable: !dryRun });
  try {
    printWarnings(cli, warnings);
    let shown = false;
    const result = await db.prune({
      ...policy,
      onProgress: (done, total) => {
        if (total < 2 || json) return;
        shown = true;
        cli.stderr.write(`\rreeldb: rewriting segments ${done}/${total}`);
      },
    });
    if (shown) cli.stderr.write('\n');
    await report(cli, result, dryRun, json);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}

const PRUNE_OPTIONS = {
  before: 'string',
  stream: 'string',
  'max-count': 'string',
  'keep-last': 'string',
  'max-age': 'string',
  'dry-run': 'boolean',
  json: 'boolean',
} as const;

/** What `reeldb prune` was asked to do; every value checked, before the store is touched. */
export function prunePolicy(argv: readonly string[]): { path: string; policy: PruneOptions; json: boolean } {
  const { positionals, options } = parseArgs('prune', argv, PRUNE_OPTIONS);
  const path = onePath('prune', positionals);
  const policy: PruneOptions = { dryRun: options['dry-run'] === true };
  const before = parseCount('prune', '--before', options.before);
  if (before !== undefined) policy.events = { beforePosition: before };
  const maxCount = parseCount('prune', '--max-count', options['max-count']);
  if (maxCount === 0) throw new UsageError('prune: --max-count must be at least 1 (every stream keeps its newest event)', 'prune');
  if ((options.stream === undefined) !== (maxCount === undefined)) throw new UsageError('prune: --stream and --max-count go together', 'prune');
  if (typeof options.stream === 'string' && maxCount !== undefined) policy.streams = { [options.stream]: { keepLast: maxCount } };
  const keepLast = parseCount('prune', '--keep-last', options['keep-last']);
  if (keepLast === 0) throw new UsageError('prune: --keep-last must be at least 1 (the newest checkpoint always stays)', 'prune');
  const maxAgeMs = typeof options['max-age'] === 'string' ? parseDuration('prune', '--max-age', options['max-age']) : undefined;
  if (keepLast !== undefined || maxAgeMs !== undefined) policy.checkpoints = { ...(keepLast !== undefined ? { keepLast } : {}), ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) };
  if (!policy.events && !policy.streams && !policy.checkpoints) {
    throw new UsageError(`prune: nothing to prune: give --before, --stream with --max-count, --keep-last or --max-age (a duration: ${DURATION_EXAMPLES}); reeldb compact reclaims deleted threads only`, 'prune');
  }
  return { path, policy, json: options.json === true };
}

export async function prune(cli: Cli, argv: readonly string[]): Promise<number> {
  const { path, policy, json } = prunePolicy(argv);
  return run(cli, path, policy, json);
}

export async function compact(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('compact', argv, { json: 'boolean' });
  const path = onePath('compact', positionals);
  return run(cli, path, {}, options.json === true);
}
