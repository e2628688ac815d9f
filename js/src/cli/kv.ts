/**
 * `reeldb kv <path> [--prefix P] [--run R] [--limit N] [--json]`: the keys of a store (or of one
 * run) in key order, with their versions and values; `--json` prints JSON lines.
 */
import { EXIT_OK, formatCount, onePath, openStore, parseArgs, parseCount, plural, printWarnings, table, UsageError, type Cli } from './common.js';
import { printable } from './inspect.js';

export const KV_USAGE = `usage: reeldb kv <path> [--prefix P] [--run R] [--limit N] [--json]

The store's key-value entries in key order (UTF-8 byte order): each key with its version (the
log position of its last write) and its value (JSON, shortened; binary values as their size).
Expired and deleted keys are not shown.

  --prefix P   only keys starting with P
  --run R      the keys of run R instead of the store-wide ones
  --limit N    at most N keys (default 1000)
  --json       one JSON object per line: { key, version, value } (binary values as base64)`;

const VALUE_CHARS = 80;

function shown(value: unknown): string {
  if (value instanceof Uint8Array) return `<${formatCount(value.length)} bytes>`;
  const text = JSON.stringify(value);
  return printable(text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS - 1)}…` : text);
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (let index = 0; index < bytes.length; index++) binary += String.fromCharCode(bytes[index]!);
  return btoa(binary);
}

export async function kv(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals, options } = parseArgs('kv', argv, { prefix: 'string', run: 'string', limit: 'string', json: 'boolean' });
  const path = onePath('kv', positionals);
  const limit = parseCount('kv', 'limit', options.limit) ?? 1000;
  if (options.run === '') throw new UsageError('kv: --run must name a run', 'kv');
  const { db, warnings } = await openStore(cli, path);
  try {
    printWarnings(cli, warnings);
    const api = typeof options.run === 'string' ? db.kv.forRun(options.run) : db.kv;
    const page = await api.list({ prefix: typeof options.prefix === 'string' ? options.prefix : undefined, limit });
    if (options.json) {
      for (const item of page.items) await cli.stdout.line(JSON.stringify(item.value instanceof Uint8Array ? { key: item.key, version: item.version, base64: base64(item.value) } : item));
      return EXIT_OK;
    }
    const rows = page.items.map((item) => [printable(item.key), String(item.version), shown(item.value)]);
    for (const line of table([['key', 'version', 'value'], ...rows], 'lrl')) await cli.stdout.line(line);
    const scope = typeof options.run === 'string' ? ` of run '${printable(options.run)}'` : '';
    await cli.stdout.line(`${plural(page.items.length, 'key')}${scope}${page.cursor ? ` (more: raise --limit)` : ''}`);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}
