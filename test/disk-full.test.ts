/**
 * A full disk during maintenance (issue 8, A1): every I/O failure is a typed error, a failed
 * step leaves nothing half-made on disk, and an empty segment left by a failed start is removed
 * at open. The sweep fails every I/O operation of a prune, a compact and a snapshot with ENOSPC
 * on the faulty host (once, or until space returns) and checks what a user can rely on.
 * REELDB_DISK_FULL_SEEDS repeats the sweep with more seeds (what a crash keeps of unsynced data).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import fsModule from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskFullError, ReeldbError } from '../js/src/errors.js';
import { FaultyFileHost } from '../js/src/host/faulty.js';
import { SEGMENT_HEADER_BYTES } from '../js/src/core/core.js';
import { segmentName } from '../js/src/device/segment.js';
import { fromHex, quiet, reeldb, runtime, segmentPaths, storePath } from './helpers.js';

const { open } = reeldb;
type Db = Awaited<ReturnType<typeof open>>;
const STORE = '/full/store.reel';
const options = { durability: 'strict' as const, segmentBytes: 4096, snapshotBytes: 0, onWarning: () => {} };
const BEFORE = 30;

async function setup(host: FaultyFileHost): Promise<Db> {
  const db = await open(STORE, { host, ...options });
  const saves = new Map<string, number>();
  for (let index = 0; index < 60; index++) {
    await db.events.append(`s${index % 3}`, [{ type: 'step', id: `e${index}`, data: { index, text: 'y'.repeat(100) } }]);
    if (index % 3 === 0) {
      const thread = index % 2 === 0 ? 't0' : 'gone';
      const seq = saves.get(thread) ?? 0;
      saves.set(thread, seq + 1);
      await db.checkpoints.save(thread, { seq, items: Array.from({ length: 20 + seq }, (_, item) => `item ${item}`) });
    }
  }
  await db.checkpoints.delete('gone');
  return db;
}

/** What reads show: event ids and every checkpoint, each loaded and checked against what was saved. */
async function observe(db: Db): Promise<{ events: string[]; checkpoints: number }> {
  const events = (await db.events.readAll()).map((event) => event.id);
  let checkpoints = 0;
  for (const thread of db.checkpoints.threadIds()) {
    for (const info of await db.checkpoints.list(thread, { limit: 1000 })) {
      const loaded = await db.checkpoints.load(thread, { id: info.id });
      expect((loaded!.state as { seq: number }).seq, `${thread} checkpoint ${info.seq}`).toBe(info.seq);
      checkpoints++;
    }
  }
  return { events, checkpoints };
}

function hasDiskFullCause(error: unknown): boolean {
  for (let at = error; at; at = (at as { cause?: unknown }).cause) if (at instanceof DiskFullError) return true;
  return false;
}

/** Every file of the store: no temporary file, and every segment at least a whole header. */
async function expectNothingHalfMade(host: FaultyFileHost, where: string): Promise<void> {
  for (const name of await host.list(STORE)) expect(name, where).not.toMatch(/\.tmp$/);
  for (const name of await host.list(`${STORE}/log`)) {
    expect(name, where).toMatch(/^\d{20}\.seg$/);
    expect(host.fileBytes(`${STORE}/log/${name}`)!.length, `${where}: ${name}`).toBeGreaterThanOrEqual(SEGMENT_HEADER_BYTES);
  }
}

const operations: Record<string, (db: Db) => Promise<unknown>> = {
  prune: (db) => db.prune({ events: { beforePosition: BEFORE }, checkpoints: { keepLast: 2 } }),
  compact: (db) => db.compact(),
  snapshot: (db) => db.snapshot(),
};

describe(`disk full on ${runtime}`, () => {
  it('hardening A1: a prune whose seal hits a full disk rejects with DiskFullError, leaves no half-made segment, and the store opens after the log rolls', { timeout: 60_000 }, async () => {
    const host = new FaultyFileHost({ seed: 1 });
    const db = await setup(host);
    for (let index = 0; index < 8; index++) await db.events.append('x', [{ type: 'step', id: `x${index}`, data: {} }]);
    const full = await observe(db);
    // Every stream keeps only its newest event, so the current segment is sealed first: the new
    // segment file is created (operation 0), then writing it fails (1 on), and the disk stays full
    // (removing the file fails too, as it may on a full disk).
    host.plan.failAt = host.operations + 1;
    host.plan.persistent = true;
    const failure = await db.prune({ events: { beforePosition: 1_000_000 } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DiskFullError);
    expect(failure).toMatchObject({ code: 'DISK_FULL', errno: 'ENOSPC' });
    expect((failure as DiskFullError).path).toMatch(/\.seg$/);
    host.freeSpace();
    // The store goes on; appends roll the log past the file the failed seal left.
    for (let index = 0; index < 60; index++) await db.events.append('after', [{ type: 'step', id: `a${index}`, data: { text: 'z'.repeat(100) } }]);
    const before = await observe(db);
    await db.close();
    const warnings: string[] = [];
    const reopened = await open(STORE, { host, ...options, onWarning: (warning) => warnings.push(warning) });
    expect(warnings.join('\n')).toMatch(/removed \d{20}\.seg: .*holds no frames/);
    expect(await observe(reopened)).toEqual(before);
    expect(before.events.length).toBe(full.events.length + 60);
    await reopened.close();
    await expectNothingHalfMade(host, 'after reopen');
    // A read-only open (what verify runs) agrees.
    const readOnly = await open(STORE, { host, ...options, readOnly: true, ignoreSnapshots: true });
    expect(await observe(readOnly)).toEqual(before);
    await readOnly.close();
  });

  it('hardening A1: a writable open on a full disk is DiskFullError, and opens with everything once space returns', { timeout: 30_000 }, async () => {
    const host = new FaultyFileHost({ seed: 2 });
    const db = await setup(host);
    const seen = await observe(db);
    await db.close();
    host.plan.failAt = host.operations;
    host.plan.persistent = true;
    await expect(open(STORE, { host, ...options })).rejects.toBeInstanceOf(DiskFullError);
    // A new store on a full disk too.
    await expect(open('/full/other.reel', { host, ...options })).rejects.toMatchObject({ code: 'DISK_FULL' });
    host.freeSpace();
    const reopened = await open(STORE, { host, ...options });
    expect(await observe(reopened)).toEqual(seen);
    await reopened.close();
    await expectNothingHalfMade(host, 'after the full disk');
  });

  for (const [name, operation] of Object.entries(operations)) {
    it(`hardening A1 sweep: ENOSPC at every I/O operation of a ${name} is a typed error, the store goes on or is failed, and a reopen after space returns has every acknowledged write`, { timeout: 300_000 }, async () => {
      const reference = new FaultyFileHost({ seed: 1 });
      const referenceDb = await setup(reference);
      const full = await observe(referenceDb);
      const start = reference.operations;
      await operation(referenceDb);
      const count = reference.operations - start;
      const after = await observe(referenceDb);
      await referenceDb.close();
      expect(count).toBeGreaterThan(5);
      const seeds = Number(process.env.REELDB_DISK_FULL_SEEDS ?? 1);
      let rejected = 0;
      let failedStores = 0;
      for (let point = 0; point < count * 2 * seeds; point++) {
        const failAt = start + (point % count);
        const persistent = Math.floor(point / count) % 2 === 0;
        const where = `${name}: ENOSPC at operation ${failAt - start} of ${count}${persistent ? ' until space returns' : ' once'}`;
        const host = new FaultyFileHost({ seed: point + 1 });
        const db = await setup(host);
        host.plan.failAt = failAt;
        host.plan.persistent = persistent;
        const error = await operation(db).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (error !== undefined) {
          rejected++;
          expect(error, where).toBeInstanceOf(ReeldbError);
          expect(['DISK_FULL', 'STORE_FAILED'], `${where}: ${(error as Error).message}`).toContain((error as ReeldbError).code);
          expect(hasDiskFullCause(error), where).toBe(true);
        }
        // A failure that did not last: what the operation made is gone at once, without a reopen.
        if (!persistent) await expectNothingHalfMade(host, `${where}, right after`);
        host.freeSpace();
        // The store goes on (and rolls its log) unless it failed, in which case writes are refused.
        const appended: string[] = [];
        const failed = (db as unknown as { pipeline: { failure?: unknown } }).pipeline.failure !== undefined;
        if (failed) {
          failedStores++;
          await expect(db.events.append('after', [{ type: 'step', data: {} }]), where).rejects.toMatchObject({ code: 'STORE_FAILED' });
        } else {
          for (let index = 0; index < 40; index++) {
            await db.events.append('after', [{ type: 'step', id: `a${index}`, data: { text: 'z'.repeat(100) } }]);
            appended.push(`a${index}`);
          }
        }
        await db.close().catch(() => undefined);
        const check = async (seen: { events: string[] }, label: string) => {
          // Every acknowledged event the operation may not remove is there; nothing else appeared.
          const present = new Set(seen.events);
          for (const id of [...after.events, ...appended]) expect(present.has(id), `${where}, ${label}: ${id} lost`).toBe(true);
          for (const id of seen.events) expect(full.events.includes(id) || appended.includes(id), `${where}, ${label}: ${id}`).toBe(true);
        };
        for (const [label, recovered] of [
          ['reopened', host],
          ['reopened after a crash', host.afterCrash()],
        ] as const) {
          const reopened = await open(STORE, { host: recovered, ...options });
          const seen = await observe(reopened);
          await check(seen, label);
          await reopened.close();
          await expectNothingHalfMade(recovered, `${where}, ${label}`);
          // What verify does: a read-only full scan, equal to the open.
          const verify = await open(STORE, { host: recovered, ...options, readOnly: true, ignoreSnapshots: true });
          expect(await observe(verify), `${where}, ${label}: verify`).toEqual(seen);
          await verify.close();
        }
      }
      expect(rejected).toBeGreaterThan(0);
      console.log(`disk-full sweep (${name}, ${runtime}): ENOSPC at each of ${count} I/O operations, once and until space returned (${count * 2 * seeds} runs): ${rejected} rejected with a typed error, ${failedStores} left the store failed, every reopen complete and verified`);
    });
  }

  it('hardening A1: an empty segment left in the middle of the log by a failed start is removed at open (ignored read-only); one the log needs is still corruption', { timeout: 60_000 }, async () => {
    const path = storePath();
    const db = await open(path, { ...quiet(), segmentBytes: 2048 });
    for (let index = 0; index < 40; index++) await db.events.append('s', [{ type: 'step', data: { index, text: 'x'.repeat(100) } }]);
    const storeId = fromHex(db.stats().storeId);
    const second = db.stats().segments[1]!.firstPosition;
    await db.close();
    const core = await reeldb.init();
    const segments = segmentPaths(path);
    expect(segments.length).toBeGreaterThan(2);
    // A complete header for a position inside the first segment, and a 0-byte file: starts that
    // failed while appends went on in the segment before them.
    const withHeader = join(path, 'log', segmentName(second - 3));
    fs.writeFileSync(withHeader, core.encodeSegmentHeader(storeId, second - 3));
    const empty = join(path, 'log', segmentName(second - 1));
    fs.writeFileSync(empty, '');
    const readOnly = quiet();
    const reader = await open(path, { ...readOnly, readOnly: true });
    expect((await reader.events.readAll()).length).toBe(40);
    await reader.close();
    expect(readOnly.warnings.filter((warning) => /^ignored \d{20}\.seg: .*holds no frames/.test(warning)).length).toBe(2);
    expect(fs.existsSync(withHeader) && fs.existsSync(empty)).toBe(true);
    if (runtime === 'node') {
      // reeldb verify (a read-only full scan) says ok and names what it ignored.
      const verified = spawnSync('node', [new URL('../js/bin/reeldb.mjs', import.meta.url).pathname, 'verify', path], { encoding: 'utf8', timeout: 30_000 });
      expect(verified.status, verified.stdout + verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^ok: /m);
      expect(verified.stderr).toMatch(/ignored \d{20}\.seg/);
    }
    const writer = quiet();
    const reopened = await open(path, writer);
    expect((await reopened.events.readAll()).length).toBe(40);
    await reopened.close();
    expect(writer.warnings.join('\n')).toMatch(/removed \d{20}\.seg: it starts at position \d+, inside the segment before it, and it holds no frames/);
    expect(writer.warnings.join('\n')).toMatch(/removed \d{20}\.seg: its header is incomplete \(too short\) and it holds no frames/);
    expect(segmentPaths(path)).toEqual(segments);
    // A segment the log needs, emptied: its data is gone, so that is corruption, never removed.
    fs.truncateSync(segments[1]!, 0);
    await expect(open(path, quiet())).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect(fs.existsSync(segments[1]!)).toBe(true);
  });

  it.runIf(runtime === 'node')('hardening A1: taking the lock on a full disk is DiskFullError and leaves no LOCK temporary file', async () => {
    const path = storePath();
    await open(path, quiet()).then((db) => db.close());
    const real = fsModule.writeFileSync;
    // The lock's private file is created, then writing it fails, as on a full disk.
    (fsModule as { writeFileSync: unknown }).writeFileSync = (file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (String(file).includes('LOCK.')) {
        real(file, '');
        throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      }
      return (real as (...args: unknown[]) => void)(file, ...rest);
    };
    syncBuiltinESMExports();
    try {
      await expect(open(path, quiet())).rejects.toMatchObject({ code: 'DISK_FULL', errno: 'ENOSPC' });
    } finally {
      (fsModule as { writeFileSync: unknown }).writeFileSync = real;
      syncBuiltinESMExports();
    }
    expect(fs.readdirSync(path).filter((name) => name.startsWith('LOCK'))).toEqual([]);
    const db = await open(path, quiet());
    await db.close();
  });
});
