/**
 * Erasing a stream (`db.events.deleteStream`): its events leave every read at once, the next
 * prune or compact removes their bytes (and its name) from every file of the store, and the
 * name may be used again from version 0, the same after reopening with or without snapshots.
 */
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reeldb, runtime, storePath, temporaryDirectory } from './helpers.js';

const { open } = reeldb;
type Db = Awaited<ReturnType<typeof open>>;

/** Every file under the store directory, recursively. */
function everyFile(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? everyFile(path) : [path];
  });
}

function filesHolding(directory: string, secret: string): string[] {
  const needle = Buffer.from(secret);
  return everyFile(directory).filter((path) => readFileSync(path).includes(needle));
}

async function view(db: Db) {
  return {
    names: db.events.streamNames(),
    all: (await db.events.readAll()).map((event) => [event.position, event.stream, event.streamVersion, event.data]),
    versions: db.events.streamNames().map((name) => [name, db.events.streamVersion(name)]),
  };
}

describe(`deleteStream on ${runtime}`, () => {
  it('hardening B18: a deleted stream leaves every read at once and its name starts again at version 0, across reopen with and without snapshots', async () => {
    const path = storePath();
    let db = await open(path, { segmentBytes: 4096, snapshotBytes: 0 });
    for (let index = 0; index < 10; index++) {
      await db.events.append('user-1', [{ type: 'said', data: { index } }]);
      await db.events.append('other', [{ type: 'said', data: { index } }]);
    }
    await db.snapshot();
    // A wrong expected version changes nothing.
    await expect(db.events.deleteStream('user-1', { expectedVersion: 3 })).rejects.toMatchObject({ code: 'WRONG_EXPECTED_VERSION' });
    await expect(db.events.deleteStream('user-1', { expectedVersoin: 9 } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(db.events.streamVersion('user-1')).toBe(9);
    expect(await db.events.deleteStream('user-1', { expectedVersion: 9 })).toBe(10);
    // Gone from every read: an unknown stream.
    await expect(db.events.readStream('user-1')).rejects.toMatchObject({ code: 'STREAM_NOT_FOUND' });
    expect(db.events.streamVersion('user-1')).toBeUndefined();
    expect(db.events.streamNames()).toEqual(['other']);
    expect((await db.events.readAll()).every((event) => event.stream === 'other')).toBe(true);
    const replayed: string[] = [];
    for await (const event of db.events.replay()) replayed.push(event.stream);
    expect(new Set(replayed)).toEqual(new Set(['other']));
    // Deleting what does not exist writes nothing.
    expect(await db.events.deleteStream('user-1')).toBe(0);
    expect(await db.events.deleteStream('never')).toBe(0);
    // The name again: version 0, 'no_stream' holds.
    const [again] = await db.events.append('user-1', [{ type: 'said', data: 'new life' }], { expectedVersion: 'no_stream' });
    expect(again!.streamVersion).toBe(0);
    const seen = await view(db);
    // A snapshot after the delete (its events still on disk): reads from it leave them out too.
    expect((await db.snapshot())!.position).toBe(db.events.headPosition + 1);
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { ignoreSnapshots });
      expect(db.stats().recovery.snapshot !== undefined).toBe(!ignoreSnapshots);
      expect(await view(db), `ignoreSnapshots ${ignoreSnapshots}`).toEqual(seen);
      expect((await db.events.readStream('user-1')).map((event) => event.data)).toEqual(['new life']);
      await db.close();
    }
    // A snapshot taken after the delete, then compaction: still the same.
    db = await open(path);
    await db.snapshot();
    await db.compact();
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { ignoreSnapshots });
      expect(await view(db), `after compact, ignoreSnapshots ${ignoreSnapshots}`).toEqual(seen);
      await db.close();
    }
    // Read-only stores refuse it.
    db = await open(path, { readOnly: true });
    await expect(db.events.deleteStream('other')).rejects.toMatchObject({ code: expect.stringMatching(/READ_ONLY|INVALID_ARGUMENT/) });
    await db.close();
  });

  it('hardening B18: after deleteStream, compact removes the stream\'s bytes and name from every file of the store (segments, snapshots, MANIFEST)', async () => {
    const path = storePath();
    const secret = 'SECRET-4c1b9e-alice@example.com';
    const db = await open(path, { segmentBytes: 2048, snapshotBytes: 0 });
    for (let index = 0; index < 30; index++) {
      await db.events.append(`user-${secret}`, [{ type: 'said', data: { text: `${secret} said ${index}` }, metadata: { who: secret } }]);
      await db.events.append('audit', [{ type: 'tick', data: { index } }]);
      if (index % 10 === 0) await db.snapshot();
    }
    expect(filesHolding(path, secret).length).toBeGreaterThan(3);
    await db.events.deleteStream(`user-${secret}`);
    const result = await db.compact();
    expect(result).toMatchObject({ events: 0, erasedEvents: 30 });
    expect(filesHolding(path, secret)).toEqual([]);
    // What stays is untouched, and the store reopens the same.
    const audit = (await db.events.readStream('audit')).map((event) => event.data);
    expect(audit).toHaveLength(30);
    await db.events.append('audit', [{ type: 'tick', data: 'after' }]);
    await db.close();
    expect(filesHolding(path, secret)).toEqual([]);
    const again = await open(path, { ignoreSnapshots: true });
    expect((await again.events.readStream('audit')).map((event) => event.data)).toEqual([...audit, 'after']);
    expect(again.events.streamNames()).toEqual(['audit']);
    await again.close();
  });

  it('hardening B18: a deleted stream is erased by prune too, and a crash between the delete and the compaction keeps it deleted', async () => {
    const host = new reeldb.MemoryFileHost();
    const options = { host, durability: 'strict' as const, segmentBytes: 1024, snapshotBytes: 0, onWarning: () => {} };
    let db = await open('/erase.reel', options);
    for (let index = 0; index < 20; index++) await db.events.append(index % 2 ? 'a' : 'b', [{ type: 't', data: index }]);
    await db.events.deleteStream('a');
    await db.close(); // as if the process stopped before any compaction
    db = await open('/erase.reel', options);
    expect(db.events.streamNames()).toEqual(['b']);
    const result = await db.prune({ events: { beforePosition: 4 } });
    expect(result).toMatchObject({ events: 2, erasedEvents: 10 });
    expect((await db.events.readAll()).map((event) => event.data)).toEqual([4, 6, 8, 10, 12, 14, 16, 18]);
    await db.close();
  });

  it('hardening B18: a stream an old store holds twice under one name (NAME_CONFLICT) can be deleted, all of it, and used again from version 0', async () => {
    const path = join(temporaryDirectory(), 'lone-surrogates');
    cpSync(new URL('./fixtures/old-names/lone-surrogates', import.meta.url).pathname, path, { recursive: true });
    let db = await open(path, { onWarning: () => {} });
    await expect(db.events.readStream('s-\uFFFD')).rejects.toMatchObject({ code: 'NAME_CONFLICT' });
    await expect(db.events.deleteStream('s-\uFFFD', { expectedVersion: 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await db.events.deleteStream('s-\uFFFD')).toBe(3);
    expect((await db.events.readAll()).map((event) => event.data)).toEqual(['solo 0', 'plain 0']);
    expect((await db.events.append('s-\uFFFD', [{ type: 't', data: 'again' }], { expectedVersion: 'no_stream' }))[0]!.streamVersion).toBe(0);
    await db.close();
    for (const ignoreSnapshots of [false, true]) {
      db = await open(path, { ignoreSnapshots, onWarning: () => {} });
      expect((await db.events.readStream('s-\uFFFD')).map((event) => [event.streamVersion, event.data])).toEqual([[0, 'again']]);
      expect((await db.events.readAll()).map((event) => event.data)).toEqual(['solo 0', 'plain 0', 'again']);
      await db.close();
    }
    db = await open(path, { onWarning: () => {} });
    expect((await db.compact()).erasedEvents).toBe(3);
    expect(filesHolding(path, 'first 0')).toEqual([]);
    await db.close();
  });

  it("hardening B18: once a store holds deleted events, reads still show an old store's events whose name is stored in another normal form", async () => {
    const path = join(temporaryDirectory(), 'decomposed');
    cpSync(new URL('./fixtures/old-names/decomposed', import.meta.url).pathname, path, { recursive: true });
    const db = await open(path, { onWarning: () => {} });
    const before = (await db.events.readAll()).map((event) => event.data);
    expect(before).toContain(0);
    await db.events.append('scratch', [{ type: 't', data: 'to delete' }]);
    await db.events.deleteStream('scratch');
    expect((await db.events.readAll()).map((event) => event.data)).toEqual(before);
    const replayed: unknown[] = [];
    for await (const event of db.events.replay()) replayed.push(event.data);
    expect(replayed).toEqual(before);
    await db.close();
  });
});
