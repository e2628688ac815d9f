/**
 * Where the log ends (issue 8, A4): a clean close records the log's durable end in the
 * MANIFEST, a roll seals the old segment with a frame of no entries ("a successor exists"), and
 * snapshots record a position the log reached. Losing the tail is then CorruptionError naming
 * what is missing; after a crash (no clean close) the torn-tail rule is as before.
 */
import { cpSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quiet, reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const { open } = reeldb;
type Store = Awaited<ReturnType<typeof open>>;

const SEAL_FRAME_BYTES = 40;

/** Frame boundaries (start, entries) of a segment file. */
function frames(file: string): { start: number; length: number; entries: number }[] {
  const bytes = readFileSync(file);
  const found: { start: number; length: number; entries: number }[] = [];
  let offset = 48;
  while (offset < bytes.length) {
    expect(bytes.toString('latin1', offset, offset + 4)).toBe('RLFB');
    const length = bytes.readUInt32LE(offset + 4);
    found.push({ start: offset, length, entries: bytes.readUInt32LE(offset + 8) });
    offset += length;
  }
  return found;
}

/** Writes `commits` appends of one event (the last `group` of them at once, one group commit). */
async function fill(db: Store, commits: number, group = 1): Promise<void> {
  for (let index = 0; index < commits - group; index++) await db.events.append('s', [{ type: 'step', data: { index, text: 'x'.repeat(index % 7) } }]);
  await Promise.all(Array.from({ length: group }, (_, member) => db.events.append('s', [{ type: 'group', data: { member } }])));
  await db.sync();
}

/** A copy of the store's files as a crash leaves them: taken while the writer is open (no clean close), without its lock. */
function crashCopy(path: string, name: string): string {
  const copy = join(path, '..', name);
  cpSync(path, copy, { recursive: true });
  rmSync(join(copy, 'LOCK'), { force: true });
  return copy;
}

async function openError(path: string, options = {}): Promise<{ name: string; code: string; file: string; offset: number; message: string } | undefined> {
  return open(path, { ...quiet(), ...options }).then(
    async (db) => {
      await db.close();
      return undefined;
    },
    (error: unknown) => error as { name: string; code: string; file: string; offset: number; message: string },
  );
}

const normalize = (path: string) => path.replaceAll('\\', '/');

describe(`the end of the log on ${runtime}`, () => {
  it('hardening A4: deleting the last segment after a clean close is CorruptionError naming the missing segment', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 1024 });
    await fill(db, 60);
    await db.close();
    const segments = segmentPaths(path);
    expect(segments.length).toBeGreaterThan(2);
    const last = segments.at(-1)!;
    const before = readFileSync(last);
    rmSync(last);
    for (const options of [{}, { readOnly: true }, { ignoreSnapshots: true }]) {
      const error = await openError(path, options);
      expect(error?.code, JSON.stringify(options)).toBe('CORRUPTION');
      // The segment before it is sealed: what is missing is the file that follows it.
      expect(normalize(error!.file)).toBe(normalize(last));
      expect(error!.message).toMatch(/is sealed .* but log\/ has no \d{20}\.seg/);
    }
    // Nothing was changed: putting the file back opens the store with every event.
    writeFileSync(last, before);
    const again = await open(path);
    expect(again.events.streamVersion('s')).toBe(59);
    await again.close();
  });

  it('hardening A4: truncating the last segment at a frame boundary after a clean close is CorruptionError naming the missing entries', async () => {
    const path = storePath();
    const db = await open(path);
    await fill(db, 20);
    await db.close();
    const [segment] = segmentPaths(path);
    const cut = frames(segment!).at(-3)!.start;
    truncateSync(segment!, cut);
    const error = await openError(path);
    expect(error).toMatchObject({ name: 'CorruptionError', code: 'CORRUPTION', offset: cut });
    expect(normalize(error!.file)).toBe(normalize(segment!));
    expect(error!.message).toContain('MANIFEST (written at the last clean close) records that the log reached position 20: entries 17..19 are missing');
    expect(statSync(segment!).size).toBe(cut);
    expect(existsSync(join(path, 'LOCK'))).toBe(false);
  });

  it('hardening A4: one flipped byte in the last group commit after a clean close is CorruptionError, not a torn tail', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered' });
    await fill(db, 30, 20);
    await db.close();
    const [segment] = segmentPaths(path);
    const group = frames(segment!).slice(-20);
    const bytes = readFileSync(segment!);
    bytes[group[0]!.start + 40]! ^= 0x04;
    writeFileSync(segment!, bytes);
    const error = await openError(path);
    expect(error).toMatchObject({ code: 'CORRUPTION', offset: group[0]!.start });
    expect(error!.message).toContain('entries 10..29 are missing');
    expect(readFileSync(segment!).equals(bytes)).toBe(true);
  });

  it('hardening A4: the same damage after a crash (no clean close) is a torn tail, truncated as before', async () => {
    const path = storePath();
    const db = await open(path, { durability: 'buffered' });
    await fill(db, 30, 20);
    const copy = crashCopy(path, 'crashed.reel');
    const cut = crashCopy(path, 'cut.reel');
    await db.close();
    const [segment] = segmentPaths(copy);
    const group = frames(segment!).slice(-20);
    const bytes = readFileSync(segment!);
    bytes[group[0]!.start + 40]! ^= 0x04;
    writeFileSync(segment!, bytes);
    const log = quiet();
    const reopened = await open(copy, log);
    expect(log.warnings.join()).toMatch(/truncated a torn tail/);
    expect(reopened.events.streamVersion('s')).toBe(9);
    await reopened.close();
    expect(statSync(segment!).size).toBe(group[0]!.start);
    // A cut at a frame boundary after a crash is indistinguishable from commits never written.
    const [cutSegment] = segmentPaths(cut);
    truncateSync(cutSegment!, frames(cutSegment!).at(-1)!.start);
    await expect(openError(cut)).resolves.toBeUndefined();
  });

  it('hardening A4: after a crash, appends past the recorded end stay under the torn-tail rule; below it, damage is corruption', async () => {
    const path = storePath();
    const first = await open(path);
    await fill(first, 10);
    await first.close(); // records the end: position 10
    const db = await open(path, { durability: 'buffered' });
    await fill(db, 8, 8);
    const copy = crashCopy(path, 'after-reopen.reel');
    await db.close();
    const [segment] = segmentPaths(copy);
    const all = frames(segment!);
    // Damage in the frames written after the reopen (unsynced group): a torn tail.
    const torn = join(copy, '..', 'torn.reel');
    cpSync(copy, torn, { recursive: true });
    const tornSegment = segmentPaths(torn)[0]!;
    const bytes = readFileSync(tornSegment);
    bytes[all[10]!.start + 36]! ^= 1;
    writeFileSync(tornSegment, bytes);
    const reopened = await open(torn, quiet());
    expect(reopened.events.streamVersion('s')).toBe(9);
    await reopened.close();
    // A cut below the recorded end: corruption.
    truncateSync(segment!, all[9]!.start);
    const error = await openError(copy);
    expect(error?.code).toBe('CORRUPTION');
    expect(error!.message).toContain('entries 9..9 are missing');
  });

  it('hardening A4: a sealed last segment without its successor is CorruptionError even after a crash', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 1024 });
    await fill(db, 40);
    const copy = crashCopy(path, 'sealed.reel');
    await db.close();
    const segments = segmentPaths(copy);
    // Every segment but the last ends with a seal frame (no entries).
    for (const file of segments.slice(0, -1)) expect(frames(file).at(-1)).toMatchObject({ length: SEAL_FRAME_BYTES, entries: 0 });
    expect(frames(segments.at(-1)!).at(-1)!.entries).toBeGreaterThan(0);
    rmSync(segments.at(-1)!);
    const error = await openError(copy);
    expect(error?.code).toBe('CORRUPTION');
    expect(normalize(error!.file)).toBe(normalize(segments.at(-1)!));
  });

  it('hardening A4: a crash between creating the next segment and sealing the old one leaves a torn seal, truncated', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 1024 });
    while (db.stats().segments.length < 2) {
      await db.events.append('s', [{ type: 'step', data: 'y'.repeat(100) }]);
      await db.sync(); // the roll runs after the acknowledgement
    }
    const head = db.events.streamVersion('s');
    const copy = crashCopy(path, 'torn-seal.reel');
    await db.close();
    const [sealed, next] = segmentPaths(copy);
    expect(statSync(next!).size).toBe(48);
    const size = statSync(sealed!).size;
    // The seal's write was torn: part of it reached the disk.
    truncateSync(sealed!, size - 13);
    const log = quiet();
    const reopened = await open(copy, log);
    expect(log.warnings.join()).toMatch(/truncated a torn seal of 27 bytes/);
    expect(reopened.events.streamVersion('s')).toBe(head);
    await reopened.events.append('s', [{ type: 'after', data: 1 }]);
    await reopened.close();
    expect(statSync(sealed!).size).toBe(size - SEAL_FRAME_BYTES);
    const again = await open(copy, quiet());
    expect(again.events.streamVersion('s')).toBe(head + 1);
    expect(again.stats().recovery.warnings).toEqual([]);
    await again.close();
  });

  it('hardening A4: compaction keeps the seal frame, so a missing successor of a rewritten segment is still found', async () => {
    const path = storePath();
    const db = await open(path, { segmentBytes: 1024 });
    await fill(db, 40);
    const result = await db.prune({ events: { beforePosition: 20 } });
    expect(result.segmentsRewritten).toBeGreaterThan(0);
    await db.events.append('s', [{ type: 'after', data: 1 }]);
    await db.close();
    const segments = segmentPaths(path);
    for (const file of segments.slice(0, -1)) expect(frames(file).at(-1)).toMatchObject({ length: SEAL_FRAME_BYTES, entries: 0 });
    const reopened = await open(path, { ignoreSnapshots: true });
    expect(reopened.events.streamVersion('s')).toBe(40);
    await reopened.close();
    rmSync(segments.at(-1)!);
    expect((await openError(path))?.code).toBe('CORRUPTION');
  });

  it('hardening A4: with every segment removed after a clean close, open names the first segment as missing', async () => {
    const path = storePath();
    const db = await open(path);
    await fill(db, 5);
    await db.close();
    for (const file of segmentPaths(path)) rmSync(file);
    const error = await openError(path);
    expect(error?.code).toBe('CORRUPTION');
    expect(normalize(error!.file)).toBe(normalize(join(path, 'log', '00000000000000000000.seg')));
    expect(error!.message).toContain('entries 0..4 are missing');
    expect(segmentPaths(path)).toEqual([]);
  });

  it('hardening A4: a store with a version 1 MANIFEST opens read-only as it is, a writable open makes it version 2 before writing, and its clean close records the end', async () => {
    const path = storePath();
    const db = await open(path);
    await fill(db, 5);
    await db.close();
    // Rewrite the MANIFEST as version 1 wrote it: flags, store id at 16, reserved, no end.
    const core = await reeldb.init();
    const manifest = readFileSync(join(path, 'MANIFEST'));
    const v1 = Buffer.alloc(40);
    manifest.copy(v1, 0, 0, 8);
    v1.writeUInt32LE(1, 8);
    manifest.copy(v1, 16, 12, 28);
    v1.writeUInt32LE(core.crc32c(v1.subarray(0, 36)), 36);
    writeFileSync(join(path, 'MANIFEST'), v1);
    const [segment] = segmentPaths(path);
    truncateSync(segment!, frames(segment!).at(-1)!.start);
    const reader = await open(path, { readOnly: true, ...quiet() });
    expect(reader.stats().formatVersion).toBe(1);
    await reader.close();
    expect(readFileSync(join(path, 'MANIFEST')).readUInt32LE(8)).toBe(1);
    const old = await open(path, quiet());
    // Upgraded at once: an older reeldb must refuse what this one may write.
    expect(readFileSync(join(path, 'MANIFEST')).readUInt32LE(8)).toBe(2);
    expect(old.stats().storeId).toBe(manifest.subarray(12, 28).toString('hex'));
    expect(old.events.streamVersion('s')).toBe(3);
    await old.close();
    const upgraded = readFileSync(join(path, 'MANIFEST'));
    expect(upgraded.readUInt32LE(8)).toBe(2);
    expect(Number(upgraded.readBigUInt64LE(28))).toBe(4);
    truncateSync(segment!, frames(segment!).at(-1)!.start);
    expect((await openError(path))?.code).toBe('CORRUPTION');
  });
});

describe(`sealing on ${runtime}`, () => {
  it('hardening A4: a seal write that fails (disk full) is cut off again: the segment stays unsealed and the store goes on', async () => {
    const host = new reeldb.MemoryFileHost();
    let failed = 0;
    // Fails the first write of a seal frame (40 bytes, "RLFB", no entries), as a full disk would.
    const faulty = new Proxy(host, {
      get(target, key, receiver) {
        if (key !== 'open') return Reflect.get(target, key, receiver);
        return async (path: string, options?: object) => {
          const handle = await target.open(path, options);
          const write = handle.write.bind(handle);
          handle.write = async (bytes: Uint8Array, position: number) => {
            const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
            if (failed === 0 && bytes.length === SEAL_FRAME_BYTES && view.getUint32(0, true) === 0x42464c52 && view.getUint32(8, true) === 0) {
              failed++;
              await write(bytes.subarray(0, 17), position); // part of it reached the file
              throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
            }
            return write(bytes, position);
          };
          return handle;
        };
      },
    });
    const path = '/stores/seal-fails.reel';
    const db = await open(path, { host: faulty, segmentBytes: 1024, ...quiet() });
    while (db.stats().segments.length < 3) {
      await db.events.append('s', [{ type: 'step', data: 'y'.repeat(100) }]);
      await db.sync();
    }
    expect(failed).toBe(1);
    const version = db.events.streamVersion('s')!;
    await db.close();
    const log = quiet();
    const again = await open(path, { host, ...log });
    expect(log.warnings).toEqual([]);
    expect(again.events.streamVersion('s')).toBe(version);
    expect((await again.events.readAll()).length).toBe(version + 1);
    await again.close();
  });
});
