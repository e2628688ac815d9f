/**
 * MANIFEST: 40 bytes, replaced atomically. magic "REELMAN\0" · format version u32 ·
 * flags u32 · store id (16) · reserved u32 · CRC32C of the preceding bytes u32.
 * Segments are found by listing log/ (their headers chain them); see docs/FORMAT.md.
 */
import type { Core } from '../core/core.js';
import { CorruptionError, IncompatibleFormatError } from '../errors.js';
import { joinPath, readWholeFile, writeFileAtomic, type FileHost } from '../host/types.js';

export const MANIFEST_NAME = 'MANIFEST';
export const MANIFEST_BYTES = 40;
export const FORMAT_VERSION = 1;
const MAGIC = [0x52, 0x45, 0x45, 0x4c, 0x4d, 0x41, 0x4e, 0x00];

export interface Manifest {
  formatVersion: number;
  storeId: Uint8Array;
}

export function encodeManifest(core: Core, manifest: Manifest): Uint8Array {
  const bytes = new Uint8Array(MANIFEST_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(8, manifest.formatVersion, true);
  view.setUint32(12, 0, true);
  bytes.set(manifest.storeId, 16);
  view.setUint32(32, 0, true);
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
  if (formatVersion !== FORMAT_VERSION) {
    throw new IncompatibleFormatError(`${path}: store format version ${formatVersion}, this reeldb reads version ${FORMAT_VERSION}; use a matching reeldb release`);
  }
  return { formatVersion, storeId: bytes.slice(16, 32) };
}

export async function writeManifest(core: Core, host: FileHost, directory: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(host, directory, MANIFEST_NAME, encodeManifest(core, manifest));
}
