/** Shared test helpers: the runtime's entry point, temp directories, file surgery. */
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const runtime: 'node' | 'deno' | 'bun' = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node';

type Entry = typeof import('../js/src/index.node.js');
/** The entry a user of this runtime imports (Deno gets the Deno host, Node and Bun the Node host). */
export const reeldb: Entry = runtime === 'deno' ? ((await import('../js/src/index.deno.js')) as unknown as Entry) : await import('../js/src/index.node.js');

const made: string[] = [];
afterEach(() => {
  while (made.length) rmSync(made.pop()!, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test. */
export function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), `reeldb-test-${runtime}-`));
  made.push(directory);
  return directory;
}

export function storePath(): string {
  return join(temporaryDirectory(), 'agent.reel');
}

export function segmentPaths(store: string): string[] {
  return readdirSync(join(store, 'log'))
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => join(store, 'log', name));
}

/**
 * Collects warnings instead of printing them; pass it as open options (`open(path, quiet())`).
 * `warnings` is not enumerable, so open does not see it as an (unknown) option.
 */
export function quiet(): { warnings: string[]; onWarning: (message: string) => void } {
  const warnings: string[] = [];
  const log = { onWarning: (message: string) => void warnings.push(message) } as { warnings: string[]; onWarning: (message: string) => void };
  Object.defineProperty(log, 'warnings', { value: warnings, enumerable: false });
  return log;
}

export function fromHex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let index = 0; index < bytes.length; index++) bytes[index] = parseInt(text.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Makes a cleanly closed store look like one whose writer crashed: its MANIFEST records no
 * durable end (docs/FORMAT.md §3), so damage at the tail is judged by the torn-tail rule.
 */
export async function asIfCrashed(store: string): Promise<void> {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const core = await reeldb.init();
  const file = join(store, 'MANIFEST');
  const bytes = readFileSync(file);
  bytes.fill(0, 28, 36);
  bytes.writeUInt32LE(core.crc32c(bytes.subarray(0, 36)), 36);
  writeFileSync(file, bytes);
}

/** The command line that runs the script `fixture` (under test/fixtures) on `on` (default: the runtime under test). */
export function fixtureCommand(fixture: string, on: string = runtime): string[] {
  const root = new URL('..', import.meta.url).pathname;
  const script = `${root}test/fixtures/${fixture}`;
  const commands: Record<string, string[]> = { node: ['node', script], deno: [`${root}node_modules/.bin/deno`, 'run', '-A', script], bun: [`${root}node_modules/.bin/bun`, script] };
  return commands[on]!;
}
