/**
 * MANIFEST: 40 bytes, replaced atomically (docs/FORMAT.md §3). Version 2: magic "REELMAN\0" ·
 * version u32 · store id (16) · durable end u64 · CRC32C of the preceding bytes u32. The
 * durable end is a position the log is known to have reached durably (written at each clean
 * close): positions never move, so it stays true however the log grows or is pruned, and
 * recovery treats a log that ends below it as damaged, never as a torn tail. Version 1
 * (flags · store id · reserved, no end) is still read. Segments are found by listing log/.
 */
import type { Core } from '../core/core.js';
import { CorruptionError, IncompatibleFormatError } from '../errors.js';
import { joinPath, readWholeFile, writeFileAtomic, type FileHost } from '../host/types.js';

export const MANIFEST_NAME = 'MANIFEST';
export const MANIFEST_BYTES = 40;
/** The MANIFEST version written; versions 1 and 2 are read. */
export const FORMAT_VERSION = 2;
const MAGIC = [0x52, 0x45, 0x45, 0x4c, 0x4d, 0x41, 0x4e, 0x00];

export interface Manifest {
  formatVersion: number;
  storeId: Uint8Array;
  /** Entries below this position were durable at the last clean close (0: none recorded). */
  durableEnd: number;
}

export function encodeManifest(core: Core, manifest: Manifest): Uint8Array {
  const bytes = new Uint8Array(MANIFEST_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(8, FORMAT_VERSION, true);
  bytes.set(manifest.storeId, 12);
  view.setBigUint64(28, BigInt(manifest.durableEnd), true);
  view.setUint32(36, core.crc32c(bytes.subarray(0, 36)), true);
  return bytes;
}

export async function readManifest(core: Core, host: FileHost, directory: string): Promise<Manifest | undefined> {
  const path = joinPath(directory, MANIFEST_NAME);
  // Bounded: a MANIFEST of any other size (even a sparse one of many GiB) is not one.
  const bytes = await readWholeFile(host, path, MANIFEST_BYTES);
  if (!bytes) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length !== MANIFEST_BYTES || MAGIC.some((byte, index) => bytes[index] !== byte)) {
    throw new CorruptionError(path, 0, 'not a reeldb MANIFEST');
  }
  if (view.getUint32(36, true) !== core.crc32c(bytes.subarray(0, 36))) throw new CorruptionError(path, 36, 'MANIFEST checksum mismatch');
  const formatVersion = view.getUint32(8, true);
  if (formatVersion === 1) return { formatVersion, storeId: bytes.slice(16, 32), durableEnd: 0 };
  if (formatVersion !== FORMAT_VERSION) {
    throw new IncompatibleFormatError(`${path}: store format version ${formatVersion}, this reeldb reads versions 1 and ${FORMAT_VERSION}; use a matching reeldb release`);
  }
  const durableEnd = Number(view.getBigUint64(28, true));
  if (!Number.isSafeInteger(durableEnd)) throw new CorruptionError(path, 28, `MANIFEST durable end ${durableEnd} is not a position`);
  return { formatVersion, storeId: bytes.slice(12, 28), durableEnd };
}

export async function writeManifest(core: Core, host: FileHost, directory: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(host, directory, MANIFEST_NAME, encodeManifest(core, manifest));
}
