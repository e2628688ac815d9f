/** `reeldb inspect <path>`: what a store holds, from its index (no pass over the events). */
import { EXIT_OK, fields, formatBytes, formatCount, onePath, openStore, parseArgs, parseCount, plural, printWarnings, table, type Cli } from './common.js';

export const INSPECT_USAGE = `usage: reeldb inspect <path> [--top N] [--json]

Shows the store id, format version, segments (name, first position, entries, bytes), the
number of streams with the largest ones by event count, and the head position.

  --top N    how many streams to list (default 10; 0 lists none)
  --json     print one JSON object instead of text`;

const TOP_STREAMS_DEFAULT = 10;

export async function inspect(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('inspect', argv, { top: 'string', json: 'boolean' });
  const path = onePath('inspect', positionals);
  const top = parseCount('inspect', '--top', options.top) ?? TOP_STREAMS_DEFAULT;
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    const stats = db.stats();
    const streams = db.events.streamNames().map((name) => ({ name, events: (db.events.streamVersion(name) ?? -1) + 1 }));
    const events = streams.reduce((sum, stream) => sum + stream.events, 0);
    // Stable sort: streams with equal counts keep their order of first append.
    const largest = [...streams].sort((a, b) => b.events - a.events).slice(0, top);
    const head = db.events.headPosition;

    if (options.json) {
      await cli.stdout.line(
        JSON.stringify(
          {
            path: stats.path,
            storeId: stats.storeId,
            formatVersion: stats.formatVersion,
            headPosition: head,
            entries: stats.entries,
            events,
            bytes: stats.bytes,
            segments: stats.segments,
            streams: streams.length,
            topStreams: largest,
            warnings,
          },
          null,
          2,
        ),
      );
      return EXIT_OK;
    }

    const lines = fields([
      ['store', stats.path],
      ['store id', stats.storeId],
      ['format', `version ${stats.formatVersion}`],
      ['head', head < 0 ? 'empty log (no entries)' : `position ${formatCount(head)} (${plural(stats.entries, 'entry', 'entries')})`],
      ['events', `${formatCount(events)} in ${plural(streams.length, 'stream')}`],
      ['size', `${formatBytes(stats.bytes)} in ${plural(stats.segments.length, 'segment')}`],
    ]);
    lines.push('', 'segments');
    lines.push(
      ...table(
        [
          ['name', 'first position', 'entries', 'bytes'],
          ...stats.segments.map((segment) => [segment.name, formatCount(segment.firstPosition), formatCount(segment.entries), formatBytes(segment.bytes)]),
        ],
        'lrrr',
      ),
    );
    if (largest.length > 0) {
      lines.push('', largest.length < streams.length ? `top ${largest.length} of ${plural(streams.length, 'stream')} by events` : 'streams by events');
      lines.push(...table([['stream', 'events'], ...largest.map((stream) => [printable(stream.name), formatCount(stream.events)])], 'lr'));
    }
    for (const line of lines) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}

/** Stream names are arbitrary UTF-8: keep control characters from moving the cursor. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text;
}
