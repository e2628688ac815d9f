/** Entry for browsers: loads the .wasm by URL. Only the memory durability is available until the OPFS host lands. */
import { setDefaultWasmSource } from './core/load.js';

setDefaultWasmSource(async () => new URL('../wasm/reeldb_core.wasm', import.meta.url));

export * from './api.js';
