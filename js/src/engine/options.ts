/** Options of `open`, their defaults and their validation. Every limit has a name. */
import { InvalidArgumentError } from '../errors.js';
import type { FileHost } from '../host/types.js';
import type { PrimitiveSpec } from './primitive.js';
import { checkBoolean, checkFunction, checkOptions, describe, type OptionKeys } from '../validate.js';

export type Durability = 'memory' | 'buffered' | 'strict';

export const LIMITS = {
  /** Event type: 1–256 UTF-8 bytes. */
  maxTypeBytes: 256,
  /** Stream id and thread id: 1–512 UTF-8 bytes of the NFC form (names.ts). */
  maxStreamBytes: 512,
  /** Event id: 1–255 UTF-8 bytes (the format stores its length in one byte). */
  maxIdBytes: 255,
  /** One encoded event (data, metadata, names): 16 MiB. */
  maxEventBytes: 16 << 20,
  /** Events in one append: 65,536. */
  maxBatchEvents: 65536,
  /** Encoded bytes of one append: 256 MiB (a frame is capped at 1 GiB by the format). */
  maxBatchBytes: 256 << 20,
  /** One checkpoint: its state serialised plus its metadata (UTF-8 JSON): 64 MiB. */
  maxCheckpointBytes: 64 << 20,
  /** Sealed segments whose read handles stay open at once: 64 (the current segment's is extra; others are reopened on demand). */
  maxOpenSegments: 64,
} as const;

export interface OpenOptions {
  /** 'strict' (default on disk): acknowledged after fdatasync, with group commit.
   *  'buffered': acknowledged once written to the OS, synced every syncIntervalMs/syncBytes.
   *  'memory': nothing touches the disk. */
  durability?: Durability;
  /** Open without taking the writer lock; writes reject. Default false. */
  readOnly?: boolean;
  /** Create the store when it does not exist. Default true. */
  create?: boolean;
  /** A segment is sealed and a new one started once it reaches this size. Default 64 MiB, at most 1 GiB
   *  (with one append of at most 512 MiB past it, a segment stays below 4 GiB, as offsets are u32). */
  segmentBytes?: number;
  /** buffered: longest time between a write and its sync. Default 200 ms. */
  syncIntervalMs?: number;
  /** buffered: unsynced bytes that trigger a sync at once. Default 8 MiB. */
  syncBytes?: number;
  maxEventBytes?: number;
  maxTypeBytes?: number;
  maxStreamBytes?: number;
  maxIdBytes?: number;
  /** Events in one append (at most 1,048,576). */
  maxBatchEvents?: number;
  /** Encoded bytes of one append (at most 512 MiB, which keeps a frame under the format's 1 GiB). */
  maxBatchBytes?: number;
  /** One checkpoint: its state serialised plus its metadata (at most 256 MiB). */
  maxCheckpointBytes?: number;
  /** Sealed segments whose read handles stay open at once, least recently used closed first (1–65,536). Default 64:
   *  the store needs about this many file descriptors plus a few, whatever the number of segments. */
  maxOpenSegments?: number;
  /** Budget of the cache of each recently used thread's newest checkpoint state. Default 64 MiB. */
  checkpointCacheBytes?: number;
  /** A snapshot is written automatically once this many bytes were logged since the last one
   *  (and at close once 1 MiB was), so open scans at most about this much. Default 16 MiB; 0: only
   *  `db.snapshot()` writes one. */
  snapshotBytes?: number;
  /** Also write one once this long has passed since the last, when anything was logged since
   *  (checked as commits are acknowledged). Default 0: by size only. */
  snapshotIntervalMs?: number;
  /** Open with a full scan of the log, ignoring snapshots. Default false. */
  ignoreSnapshots?: boolean;
  /** readOnly: how often the reader looks for the writer's new commits (it also watches the
   *  files where the host can). Default 100 ms; 0: only `await db.refresh()` does. */
  followIntervalMs?: number;
  /** Where warnings go (torn tails truncated on open…). Default console.warn. */
  onWarning?: (message: string) => void;
  /** Progress of the recovery scan on open. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Storage to use instead of the runtime's file system (tests, custom platforms). */
  host?: FileHost;
  /** Primitives to register beside the built-in ones (extensions in kinds 0xC0–0xFF; docs/EXTENDING.md). */
  primitives?: readonly PrimitiveSpec[];
  /**
   * Applied to every value before it is written (event data and metadata, kv values, state,
   * span input/output/error/attributes, run input/output/metadata, checkpoint state): return
   * the value to store. `redactSecrets` is a ready-made one for common secret shapes.
   */
  redact?: Redactor;
}

/** What `redact` gets: the value, and which primitive writes it and in which field. */
export type Redactor = (value: unknown, where: { primitive: string; field: string }) => unknown;

/** Every option `open` takes (any other key is InvalidArgumentError). */
const OPEN_KEYS: OptionKeys<OpenOptions> = {
  durability: true,
  readOnly: true,
  create: true,
  segmentBytes: true,
  syncIntervalMs: true,
  syncBytes: true,
  maxEventBytes: true,
  maxTypeBytes: true,
  maxStreamBytes: true,
  maxIdBytes: true,
  maxBatchEvents: true,
  maxBatchBytes: true,
  maxCheckpointBytes: true,
  checkpointCacheBytes: true,
  maxOpenSegments: true,
  followIntervalMs: true,
  snapshotBytes: true,
  snapshotIntervalMs: true,
  ignoreSnapshots: true,
  onWarning: true,
  onProgress: true,
  host: true,
  primitives: true,
  redact: true,
};

export type ResolvedOptions = Required<Omit<OpenOptions, 'host' | 'onProgress' | 'primitives' | 'redact'>> & Pick<OpenOptions, 'host' | 'onProgress' | 'redact'> & { primitives: readonly PrimitiveSpec[] };

function positiveInteger(name: string, value: number | undefined, fallback: number, maximum: number, minimum = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw new InvalidArgumentError(`open: ${name} must be an integer from ${minimum} to ${maximum}, got ${describe(value)}`);
  }
  return value;
}

export function resolveOptions(given?: OpenOptions): ResolvedOptions {
  const options = checkOptions('open', given, OPEN_KEYS);
  const durability = options.durability ?? 'strict';
  if (!['memory', 'buffered', 'strict'].includes(durability)) {
    throw new InvalidArgumentError(`open: durability must be 'memory', 'buffered' or 'strict', got ${describe(durability)}`);
  }
  const host = options.host;
  if (host !== undefined && (host === null || typeof host !== 'object' || typeof (host as FileHost).open !== 'function')) {
    throw new InvalidArgumentError(`open: host must be a FileHost (an object with open, list, lock…), got ${describe(host)}`);
  }
  return {
    durability,
    readOnly: checkBoolean('open: readOnly', options.readOnly, false),
    create: checkBoolean('open: create', options.create, true),
    segmentBytes: positiveInteger('segmentBytes', options.segmentBytes, 64 << 20, 1 << 30),
    syncIntervalMs: positiveInteger('syncIntervalMs', options.syncIntervalMs, 200, 3_600_000),
    syncBytes: positiveInteger('syncBytes', options.syncBytes, 8 << 20, 2 ** 40),
    maxEventBytes: positiveInteger('maxEventBytes', options.maxEventBytes, LIMITS.maxEventBytes, 512 << 20),
    maxTypeBytes: positiveInteger('maxTypeBytes', options.maxTypeBytes, LIMITS.maxTypeBytes, 65535),
    maxStreamBytes: positiveInteger('maxStreamBytes', options.maxStreamBytes, LIMITS.maxStreamBytes, 65535),
    maxIdBytes: positiveInteger('maxIdBytes', options.maxIdBytes, LIMITS.maxIdBytes, 255),
    maxBatchEvents: positiveInteger('maxBatchEvents', options.maxBatchEvents, LIMITS.maxBatchEvents, 1 << 20),
    maxBatchBytes: positiveInteger('maxBatchBytes', options.maxBatchBytes, LIMITS.maxBatchBytes, 512 << 20),
    maxCheckpointBytes: positiveInteger('maxCheckpointBytes', options.maxCheckpointBytes, LIMITS.maxCheckpointBytes, 256 << 20),
    maxOpenSegments: positiveInteger('maxOpenSegments', options.maxOpenSegments, LIMITS.maxOpenSegments, 65536),
    checkpointCacheBytes: positiveInteger('checkpointCacheBytes', options.checkpointCacheBytes, 64 << 20, 2 ** 40),
    snapshotBytes: positiveInteger('snapshotBytes', options.snapshotBytes, 16 << 20, 2 ** 40, 0),
    snapshotIntervalMs: positiveInteger('snapshotIntervalMs', options.snapshotIntervalMs, 0, 2 ** 40, 0),
    ignoreSnapshots: checkBoolean('open: ignoreSnapshots', options.ignoreSnapshots, false),
    followIntervalMs: positiveInteger('followIntervalMs', options.followIntervalMs, 100, 3_600_000, 0),
    onWarning: checkFunction<(message: string) => void>('open: onWarning', options.onWarning) ?? ((message) => console.warn(`reeldb: ${message}`)),
    onProgress: checkFunction('open: onProgress', options.onProgress),
    host,
    primitives: checkPrimitiveList(options.primitives),
    redact: checkFunction<Redactor>('open: redact', options.redact),
  };
}

function checkPrimitiveList(value: unknown): readonly PrimitiveSpec[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(`open: primitives must be an array of primitive specs, got ${describe(value)}`);
  return value as PrimitiveSpec[];
}
