/**
 * `reeldb dump <path> [--stream S] [--from-position P | --from-version V] [--limit N]`: events as
 * JSON lines, in log order. Binary data prints as {"$binary": "<base64>"}. Stops quietly when stdout closes.
 */
import { Buffer } from 'node:buffer';
import type { RecordedEvent, Store } from '../index.node.js';
import { aliased, EXIT_OK, onePath, openStore, parseArgs, parseCount, printWarnings, UsageError, type Cli } from './common.js';

export const DUMP_USAGE = `usage: reeldb dump <path> [--stream S] [--from-position P | --from-version V] [--limit N]

Prints events as JSON lines: {"id", "stream", "type", "data", "metadata", "streamVersion",
"position", "timestamp"}. Binary data or metadata prints as {"$binary": "<base64>"}; absent metadata as null.

  --stream S          only the events of stream S (read through the stream's index)
  --from-position P   start at global log position P (the "position" field; with --stream too)
  --from-version V    with --stream: start at version V of that stream (its "streamVersion")
  --from P            the older name of --from-position, kept as an alias
  --limit N           print at most N events`;

/** Events read per readStream call, so a huge stream is dumped in bounded memory. */
const STREAM_PAGE_EVENTS = 1024;

export function eventToJson(event: RecordedEvent): string {
  const binary = (value: unknown) => (value instanceof Uint8Array ? { $binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') } : value);
  const data = binary(event.data);
  return JSON.stringify({
    id: event.id,
    stream: event.stream,
    type: event.type,
    data,
    metadata: event.metadata === undefined ? null : binary(event.metadata),
    streamVersion: event.streamVersion,
    position: event.position,
    timestamp: event.timestamp,
  });
}

export async function dump(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('dump', argv, { stream: 'string', 'from-position': 'string', from: 'string', 'from-version': 'string', limit: 'string' });
  const path = onePath('dump', positionals);
  const fromPosition = parseCount('dump', options['from-position'] !== undefined ? '--from-position' : '--from', aliased('dump', options, 'from-position', 'from'));
  const fromVersion = parseCount('dump', '--from-version', options['from-version']);
  const limit = parseCount('dump', '--limit', options.limit) ?? Infinity;
  const stream = options.stream as string | undefined;
  if (fromVersion !== undefined && stream === undefined) throw new UsageError('dump: --from-version needs --stream (versions count the events of one stream; use --from-position for the whole log)', 'dump');
  if (fromVersion !== undefined && fromPosition !== undefined) throw new UsageError('dump: give --from-position or --from-version, not both', 'dump');
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    let printed = 0;
    const events = stream === undefined ? db.events.replay({ fromPosition: fromPosition ?? 0 }) : streamEvents(db, stream, fromPosition ?? 0, fromVersion);
    if (limit > 0) {
      for await (const event of events) {
        const pending = cli.stdout.line(eventToJson(event));
        if (pending) await pending;
        if (cli.stdout.closed || ++printed >= limit) break;
      }
    } else if (stream !== undefined) {
      // Still report an unknown stream, even when nothing would be printed.
      await db.events.readStream(stream, { limit: 0 });
    }
    await cli.stdout.flush();
    return EXIT_OK;
  } finally {
    await db.close();
  }
}

/** The events of one stream at positions ≥ `from` (or versions ≥ `fromVersion`), in pages. */
async function* streamEvents(db: Store, stream: string, from: number, fromVersion?: number): AsyncGenerator<RecordedEvent> {
  // readStream throws StreamNotFoundError for an unknown stream, which is what the user should see.
  const last = (await db.events.readStream(stream, { direction: 'backward', limit: 1 }))[0]!;
  if (last.position < from) return;
  let version = fromVersion ?? (from > 0 ? await firstVersionAtOrAfter(db, stream, from, last.streamVersion) : 0);
  while (version <= last.streamVersion) {
    const page = await db.events.readStream(stream, { fromVersion: version, limit: STREAM_PAGE_EVENTS });
    if (page.length === 0) return;
    for (const event of page) if (event.position >= from) yield event;
    version = page[page.length - 1]!.streamVersion + 1;
  }
}

/** Versions grow with positions, so a binary search over single-event reads finds where to start. */
async function firstVersionAtOrAfter(db: Store, stream: string, position: number, lastVersion: number): Promise<number> {
  let low = 0;
  let high = lastVersion;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    const [event] = await db.events.readStream(stream, { fromVersion: middle, limit: 1 });
    if (event!.position < position) low = middle + 1;
    else high = middle;
  }
  return low;
}
