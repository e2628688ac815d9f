/**
 * Loads the wasm core once per runtime. Entry points register how to find the bytes
 * (`setDefaultWasmSource`); `init({ wasm })` accepts bytes, a WebAssembly.Module or a URL for
 * bundlers and edge runtimes, and the `slim` entry loads nothing until `init` is called.
 */
import { checkOptions, type OptionKeys } from '../validate.js';
import { Core, type CoreExports } from './core.js';

export type WasmSource = BufferSource | WebAssembly.Module | URL | string | Response;

let corePromise: Promise<Core> | undefined;
let defaultSource: (() => Promise<WasmSource>) | undefined;

export function setDefaultWasmSource(source: () => Promise<WasmSource>): void {
  defaultSource = source;
}

async function instantiate(source: WasmSource): Promise<WebAssembly.Instance> {
  if (source instanceof WebAssembly.Module) return WebAssembly.instantiate(source, {});
  if (typeof source === 'string' || source instanceof URL) source = await fetch(source);
  if (typeof Response !== 'undefined' && source instanceof Response) {
    const bytes = await source.arrayBuffer();
    return (await WebAssembly.instantiate(bytes, {})).instance;
  }
  return (await WebAssembly.instantiate(source as BufferSource, {})).instance;
}

export interface InitOptions {
  /** The core's bytes, a compiled module, or where to fetch it (default: the entry point's own). */
  wasm?: WasmSource;
}

const INIT_KEYS: OptionKeys<InitOptions> = { wasm: true };

/** Loads the core. Safe to call more than once; later calls return the first core. */
export function init(given?: InitOptions): Promise<Core> {
  let options: InitOptions;
  try {
    options = checkOptions('init', given, INIT_KEYS);
  } catch (error) {
    return Promise.reject(error);
  }
  if (!corePromise) {
    const pending = (async () => {
      const source = options.wasm ?? (await defaultSource?.());
      if (source === undefined) {
        throw new Error("reeldb: the wasm core is not loaded; call init({ wasm }) first (the 'reeldb/slim' entry never loads it by itself)");
      }
      const instance = await instantiate(source);
      return new Core(instance.exports as unknown as CoreExports);
    })();
    corePromise = pending;
    pending.catch(() => {
      if (corePromise === pending) corePromise = undefined;
    });
  }
  return corePromise;
}
