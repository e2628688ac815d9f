/** Entry for Deno: loads the .wasm by URL, uses the Deno file host. */
import { setDefaultWasmSource } from './core/load.js';
import { DenoFileHost } from './host/deno.js';
import { setDefaultHost } from './api.js';

setDefaultWasmSource(async () => {
  const url = new URL('../wasm/reeldb_core.wasm', import.meta.url);
  // Deno's fetch reads file: URLs; so does Deno.readFile, which needs no --allow-net.
  const deno = (globalThis as unknown as { Deno: { readFile(url: URL): Promise<Uint8Array> } }).Deno;
  return url.protocol === 'file:' ? deno.readFile(url) : url;
});
setDefaultHost(() => new DenoFileHost());

export * from './api.js';
export { DenoFileHost };
