/**
 * A minimal key → bytes checkpoint store over `db.checkpoints`, shaped like the file stores
 * (one msgpack file per id) that agent runtimes use, so it can replace one without changing
 * the caller: `save(id, bytes)` writes the new bytes of `id`, `load(id)` returns the newest.
 * Each id is a checkpoint thread, so saving the same id again stores a zstd delta against its
 * previous bytes, and every save is as durable as the store's mode says.
 */
import { InvalidArgumentError } from '../errors.js';
import { checkOptions, describe, type OptionKeys } from '../validate.js';
import type { Checkpoints } from './checkpoints.js';

export interface CheckpointStorage {
  /** Stores `bytes` as the newest value of `id`. */
  save(id: string, bytes: Uint8Array): Promise<void>;
  /** The newest bytes saved for `id`, or undefined. */
  load(id: string): Promise<Uint8Array | undefined>;
  /** Forgets `id`; resolves to whether it had any bytes. */
  delete(id: string): Promise<boolean>;
  /** Every id with bytes, sorted. */
  list(): Promise<string[]>;
}

export interface CheckpointStorageOptions {
  /** Prefixed to every id to form the thread id, so several storages can share a store (default ''). */
  prefix?: string;
}

const STORAGE_KEYS: OptionKeys<CheckpointStorageOptions> = { prefix: true };

export function checkpointStorage(checkpoints: Checkpoints, options?: CheckpointStorageOptions): CheckpointStorage {
  const given = checkOptions('checkpoints.storage', options, STORAGE_KEYS);
  const prefix = given.prefix ?? '';
  if (typeof prefix !== 'string') throw new InvalidArgumentError(`prefix must be a string, got ${describe(prefix)}`);
  const thread = (id: unknown): string => {
    if (typeof id !== 'string' || id.length === 0) throw new InvalidArgumentError(`checkpoint storage id must be a non-empty string, got ${describe(id)}`);
    return prefix + id;
  };
  return {
    async save(id, bytes) {
      const threadId = thread(id);
      if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`checkpoint storage saves bytes (a Uint8Array), got ${describe(bytes)}`);
      await checkpoints.save(threadId, bytes);
    },
    async load(id) {
      const found = await checkpoints.load(thread(id));
      if (found === undefined) return undefined;
      // A thread written through checkpoints.save with a JSON state: give its serialised bytes.
      return found.state instanceof Uint8Array ? found.state : new TextEncoder().encode(JSON.stringify(found.state));
    },
    async delete(id) {
      return (await checkpoints.delete(thread(id))) > 0;
    },
    async list() {
      return checkpoints
        .threadIds()
        .filter((threadId) => threadId.startsWith(prefix) && threadId.length > prefix.length)
        .map((threadId) => threadId.slice(prefix.length))
        .sort();
    },
  };
}
