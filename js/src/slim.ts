/**
 * The slim entry: the same API, but nothing loads the wasm or picks a file host by itself.
 * Call `init({ wasm })` with bytes, a WebAssembly.Module or a URL, and pass `{ host }` (or
 * use `{ durability: 'memory' }`) to `open`. For bundlers and edge runtimes.
 */
export * from './api.js';
