/**
 * `reeldb verify <path>`: checks every frame (markers, lengths, CRC32C) and the checksum chain
 * across frames and segments. This is the recovery scan of a read-only open that ignores
 * snapshots and changes nothing: damage followed by valid data is corruption (exit 1, naming
 * file and offset); a bad frame with nothing valid after it is a torn tail left by a crash (a
 * warning, exit 0). Then every snapshot file is checked (header, sections, checksums) and the
 * index recovered from the newest one is compared with the full scan's: a damaged snapshot is
 * exit 1 naming the file and offset (open itself skips it with a warning and scans the log).
 * Every checkpoint chain is decoded too: a checkpoint `list()` shows that does not load is
 * exit 1 naming the thread, seq and segment.
 */
import { CorruptionError } from '../index.node.js';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { init } from '../index.node.js';
import { decodeSnapshot, readSnapshotFile, SNAPSHOT_NAME } from '../engine/snapshot.js';
import { ReeldbError } from '../errors.js';
import { NodeFileHost } from '../host/node.js';
import { EXIT_FAILURE, EXIT_OK, onePath, openStore, parseArgs, type Cli } from './common.js';

export const VERIFY_USAGE = `usage: reeldb verify <path>

Checks every frame and the checksum chain, decodes every checkpoint, then checks every snapshot
file, without changing the store.
  exit 0   clean, or only a torn tail (a crash leftover the next writable open truncates)
  exit 1   damage: prints the segment file and the offset of the first bad frame
  exit 2   usage error, or the path is not a reeldb store`;

/** CorruptionError's message repeats file and offset and advises running verify; keep the reason. */
function reasonOf(error: CorruptionError): string {
  const match = /is damaged at offset \d+: (.*?)\. Valid data follows the damage/s.exec(error.message);
  return match ? match[1]! : error.message;
}

export async function verify(cli: Cli, argv: readonly string[]): Promise<number> {
  const { positionals } = parseArgs('verify', argv, {});
  const path = onePath('verify', positionals);
  let opened;
  try {
    opened = await openStore(cli, path, 'verifying', { ignoreSnapshots: true });
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    await cli.stdout.line(`damaged: ${error.file}`);
    await cli.stdout.line(`  offset  ${error.offset} (0x${error.offset.toString(16)})`);
    await cli.stdout.line(`  reason  ${reasonOf(error)}`);
    await cli.stdout.line(
      / are missing /.test(error.reason)
        ? 'The log was longer than what is on disk, so reeldb will not open this store until the missing data is restored from a backup.'
        : 'Valid data follows the damage, so reeldb will not open this store until the file is restored from a backup.',
    );
    return EXIT_FAILURE;
  }
  const { db, warnings } = opened;
  try {
    const stats = db.stats();
    for (const warning of warnings) {
      const torn = /torn tail/.test(warning);
      cli.stderr.write(`reeldb: warning: ${warning}${torn ? '; a crash leftover: the next writable open truncates it' : ''}\n`);
    }
    const { frames, entries } = stats.recovery;
    // Plain numbers (no digit grouping): scripts read this line.
    const count = (value: number, singular: string, pluralForm = `${singular}s`) => `${value} ${value === 1 ? singular : pluralForm}`;
    // Every checkpoint chain decodes to the states that were saved (frames can be intact while a chain is not).
    const chains = await db.checkpoints.verify();
    if (chains.problems.length > 0) {
      for (const problem of chains.problems.slice(0, 20)) {
        const where = db.stats().segments.find((segment) => problem.position >= segment.firstPosition && problem.position < segment.firstPosition + segment.entries);
        await cli.stdout.line(`damaged: checkpoint seq ${problem.seq} of thread '${problem.threadId}' (position ${problem.position}${where ? `, in ${where.name}` : ''})`);
        await cli.stdout.line(`  reason  ${problem.reason}`);
      }
      if (chains.problems.length > 20) await cli.stdout.line(`… and ${chains.problems.length - 20} more`);
      await cli.stdout.line(`${chains.problems.length} of ${chains.checkpoints} checkpoints do not load.`);
      return EXIT_FAILURE;
    }
    // Entries of kinds no loaded primitive claims: kept intact, listed (a newer reeldb's, or an extension's).
    for (const [kind, { entries: count, firstPosition }] of Object.entries(stats.unknownKinds)) {
      await cli.stdout.line(`note: ${count} ${Number(count) === 1 ? 'entry' : 'entries'} of kind 0x${Number(kind).toString(16).padStart(2, '0')} (from position ${firstPosition}) that no loaded primitive claims: kept intact; written by a newer reeldb or an extension not loaded here`);
    }
    // Every other primitive's own checks (trace trees, …).
    const audited: string[] = [];
    for (const { spec, instance } of db.registry.registered) {
      if (!instance.audit || spec.name === 'checkpoints') continue;
      const report = await instance.audit();
      if (report.problems.length > 0) {
        for (const problem of report.problems.slice(0, 20)) await cli.stdout.line(`damaged: ${spec.name}: ${problem}`);
        if (report.problems.length > 20) await cli.stdout.line(`… and ${report.problems.length - 20} more`);
        return EXIT_FAILURE;
      }
      const checked = Object.entries(report.checked).filter(([, value]) => value > 0);
      if (checked.length > 0) audited.push(`${spec.name}: ${checked.map(([what, value]) => count(value, what.replace(/s$/, ''), what)).join(', ')} checked`);
    }
    const damaged = await checkSnapshots(cli, path, db);
    if (damaged) return EXIT_FAILURE;
    await cli.stdout.line(
      `ok: ${count(frames, 'frame')}, ${count(entries, 'entry', 'entries')}, ${count(stats.bytes, 'byte')} in ${count(stats.segments.length, 'segment')}` +
        (warnings.length > 0 ? ` (${count(warnings.length, 'warning')})` : ''),
    );
    if (chains.checkpoints > 0) await cli.stdout.line(`checkpoints: ${count(chains.checkpoints, 'checkpoint')} in ${count(chains.threads, 'thread')}, each decoded to the state that was saved`);
    for (const line of audited) await cli.stdout.line(line);
    return EXIT_OK;
  } finally {
    await db.close();
  }
}

type Opened = Awaited<ReturnType<typeof openStore>>['db'];

/** Checks each snapshot file, and that the newest recovers the index the full scan built. True when one is damaged. */
async function checkSnapshots(cli: Cli, path: string, scanned: Opened): Promise<boolean> {
  const names = fs
    .readdirSync(path)
    .filter((name) => SNAPSHOT_NAME.test(name))
    .sort()
    .reverse();
  if (names.length === 0) return false;
  const core = await init();
  const storeId = Uint8Array.from(scanned.stats().storeId.match(/../g)!.map((hex) => parseInt(hex, 16)));
  const otherVersion = new Set<string>();
  for (const name of names) {
    // Through the host: a FIFO or directory named like a snapshot is refused, never read (a FIFO would hang).
    let decoded: ReturnType<typeof decodeSnapshot>;
    try {
      const bytes = await readSnapshotFile(new NodeFileHost(), path, name);
      decoded = bytes ? decodeSnapshot(core, bytes, storeId) : { ok: false, offset: 0, reason: 'it vanished' };
    } catch (error) {
      if (!(error instanceof ReeldbError)) throw error;
      decoded = { ok: false, offset: 0, reason: error.message };
    }
    if (!decoded.ok && decoded.otherVersion !== undefined) {
      // A snapshot of another version (before entry checks, docs/FORMAT.md §15) is a cache open skips, not damage.
      await cli.stdout.line(`note: ${join(path, name)} is snapshot version ${decoded.otherVersion}; open ignores it and scans the log, and the next snapshot replaces it`);
      otherVersion.add(name);
      continue;
    }
    if (!decoded.ok) {
      await cli.stdout.line(`damaged: ${join(path, name)}`);
      await cli.stdout.line(`  offset  ${decoded.offset} (0x${decoded.offset.toString(16)})`);
      await cli.stdout.line(`  reason  ${decoded.reason}`);
      await cli.stdout.line('The log is intact and open skips this snapshot (it scans the log instead); delete the file to silence this.');
      return true;
    }
  }
  // Recover from the snapshots as open does, and compare with the full scan.
  const { db, warnings } = await openStore(cli, path, 'verifying snapshots');
  try {
    // Every registered primitive's state, as the snapshot gives it and as the full scan does.
    const same = db.stats().entries === scanned.stats().entries && JSON.stringify(await db.fingerprint()) === JSON.stringify(await scanned.fingerprint());
    const used = db.stats().recovery.snapshot?.name;
    const ignored = warnings.filter((warning) => warning.startsWith('ignored snapshot') && ![...otherVersion].some((name) => warning.startsWith(`ignored snapshot ${name}:`)));
    if (!same || ignored.length > 0) {
      await cli.stdout.line(`damaged: ${join(path, used ?? names[0]!)}`);
      await cli.stdout.line(`  reason  ${ignored[0] ?? 'the index it recovers differs from a full scan of the log'}`);
      await cli.stdout.line('The log is intact; delete the snapshot file and open the store to write a new one.');
      return true;
    }
    await cli.stdout.line(`snapshots: ${names.length} checked, the newest (${used}) recovers the same index as a full scan`);
    return false;
  } finally {
    await db.close();
  }
}
