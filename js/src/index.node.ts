/** Entry for Node.js and Bun: reads the .wasm with fs, uses the Node file host. */
import { readFile } from 'node:fs/promises';
import { setDefaultWasmSource } from './core/load.js';
import { NodeFileHost } from './host/node.js';
import { setDefaultHost } from './api.js';

setDefaultWasmSource(async () => readFile(new URL('../wasm/reeldb_core.wasm', import.meta.url)));
setDefaultHost(() => new NodeFileHost());

export * from './api.js';
export { NodeFileHost };
