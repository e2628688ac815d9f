/**
 * `reeldb stats <path>`: counts from a full pass over the log (replay without decoding data,
 * so even a large store is read at disk speed): events, streams, segments, bytes, bytes per
 * event, and events per type.
 */
import { EXIT_OK, fields, formatBytes, formatCount, onePath, openStore, parseArgs, plural, printWarnings, Progress, table, type Cli } from './common.js';
import { readSummaries } from './checkpoints.js';
import { printable } from './inspect.js';

export const STATS_USAGE = `usage: reeldb stats <path> [--json]

Reads every event once (data is not decoded) and prints counts: events, streams, segments,
bytes, bytes per event, the time span, and events per type with their data bytes; then the
log's entries and bytes per kind, and the checkpoints: threads, full and delta counts, bytes
of the states as saved against the bytes stored (the compression ratio).

  --json     print one JSON object instead of text`;

/** Progress is updated once per this many events (cheap enough not to show in a profile). */
const PROGRESS_EVERY_EVENTS = 4096;

interface TypeCount {
  type: string;
  events: number;
  dataBytes: number;
}

export async function stats(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('stats', argv, { json: 'boolean' });
  const path = onePath('stats', positionals);
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    const store = db.stats();
    const byType = new Map<string, TypeCount>();
    let events = 0;
    let dataBytes = 0;
    let firstTimestamp = Infinity;
    let lastTimestamp = -Infinity;
    const progress = new Progress(cli.stderr, 'reading events', () => store.bytes, 'events');
    try {
      for await (const event of db.events.replay({ decodeData: false })) {
        // With decodeData: false, JSON data stays as its UTF-8 bytes, so both kinds are byte arrays.
        const size = (event.data as Uint8Array).byteLength;
        let count = byType.get(event.type);
        if (!count) byType.set(event.type, (count = { type: event.type, events: 0, dataBytes: 0 }));
        count.events++;
        count.dataBytes += size;
        events++;
        dataBytes += size;
        if (event.timestamp < firstTimestamp) firstTimestamp = event.timestamp;
        if (event.timestamp > lastTimestamp) lastTimestamp = event.timestamp;
        if (events % PROGRESS_EVERY_EVENTS === 0) progress.update(event.position + 1, store.entries);
      }
      progress.done(true);
    } finally {
      progress.done();
    }
    const threads = await readSummaries(cli, db);
    const checkpointTotals = {
      threads: threads.length,
      checkpoints: store.checkpoints,
      full: threads.reduce((sum, thread) => sum + thread.full, 0),
      delta: threads.reduce((sum, thread) => sum + thread.delta, 0),
      rawBytes: threads.reduce((sum, thread) => sum + thread.rawBytes, 0),
      storedBytes: threads.reduce((sum, thread) => sum + thread.storedBytes, 0),
    };
    const types = [...byType.values()].sort((a, b) => b.events - a.events || (a.type < b.type ? -1 : 1));
    const bytesPerEvent = events > 0 ? store.bytes / events : 0;

    if (options.json) {
      await cli.stdout.line(
        JSON.stringify(
          {
            events,
            streams: store.streams,
            segments: store.segments.length,
            entries: store.entries,
            bytes: store.bytes,
            bytesPerEvent,
            dataBytes,
            firstTimestamp: events > 0 ? firstTimestamp : null,
            lastTimestamp: events > 0 ? lastTimestamp : null,
            types,
            kinds: store.kinds,
            checkpoints: { ...checkpointTotals, compressionRatio: checkpointTotals.storedBytes > 0 ? checkpointTotals.rawBytes / checkpointTotals.storedBytes : null },
            warnings,
          },
          null,
          2,
        ),
      );
      return EXIT_OK;
    }

    const pairs: [string, string][] = [
      ['events', formatCount(events)],
      ['streams', formatCount(store.streams)],
      ['segments', formatCount(store.segments.length)],
      ['bytes', `${formatBytes(store.bytes)} (${formatCount(store.bytes)} bytes of log)`],
      ['bytes per event', events > 0 ? bytesPerEvent.toFixed(1) : '-'],
      ['data bytes', events > 0 ? `${formatBytes(dataBytes)} (${(dataBytes / events).toFixed(1)} per event)` : '-'],
    ];
    if (events > 0) {
      const span = lastTimestamp - firstTimestamp;
      pairs.push(['time span', `${new Date(firstTimestamp).toISOString()} to ${new Date(lastTimestamp).toISOString()} (${formatDuration(span)})`]);
    }
    const lines = fields(pairs);
    if (types.length > 0) {
      lines.push('', `events per type (${plural(types.length, 'type')})`);
      lines.push(
        ...table(
          [
            ['type', 'events', 'share', 'data bytes', 'per event'],
            ...types.map((type) => [
              printable(type.type),
              formatCount(type.events),
              `${((type.events / events) * 100).toFixed(1)}%`,
              formatBytes(type.dataBytes),
              (type.dataBytes / type.events).toFixed(1),
            ]),
          ],
          'lrrrr',
        ),
      );
    }
    lines.push('', 'entries per kind');
    lines.push(
      ...table(
        [
          ['kind', 'entries', 'payload bytes'],
          ...(
            [
              ['event', store.kinds.events],
              ['checkpoint', store.kinds.checkpoints],
              ['checkpoint thread deleted', store.kinds.checkpointDeletes],
              ['other', store.kinds.other],
            ] as const
          )
            .filter(([, kind]) => kind.entries > 0)
            .map(([name, kind]) => [name, formatCount(kind.entries), formatBytes(kind.bytes)]),
        ],
        'lrr',
      ),
    );
    if (checkpointTotals.checkpoints > 0) {
      const { rawBytes, storedBytes } = checkpointTotals;
      lines.push(
        '',
        ...fields([
          ['checkpoints', `${formatCount(checkpointTotals.checkpoints)} in ${plural(checkpointTotals.threads, 'thread')} (${formatCount(checkpointTotals.full)} full, ${formatCount(checkpointTotals.delta)} delta)`],
          ['checkpoint states', `${formatBytes(rawBytes)} as saved → ${formatBytes(storedBytes)} stored (${storedBytes > 0 ? (rawBytes / storedBytes).toFixed(1) : '-'}× smaller)`],
        ]),
      );
    }
    for (const line of lines) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}

export function formatDuration(milliseconds: number): string {
  if (milliseconds < 1000) return `${milliseconds} ms`;
  const seconds = milliseconds / 1000;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  const minutes = seconds / 60;
  if (minutes < 120) return `${minutes.toFixed(1)} min`;
  const hours = minutes / 60;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${(hours / 24).toFixed(1)} days`;
}
