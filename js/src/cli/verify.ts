/**
 * `reeldb verify <path>`: checks every frame (markers, lengths, CRC32C) and the checksum chain
 * across frames and segments. This is the recovery scan of a read-only open, which changes
 * nothing: damage followed by valid data is corruption (exit 1, naming file and offset); a bad
 * frame with nothing valid after it is a torn tail left by a crash (a warning, exit 0).
 */
import { CorruptionError } from '../index.node.js';
import { EXIT_FAILURE, EXIT_OK, onePath, openStore, parseArgs, type Cli } from './common.js';

export const VERIFY_USAGE = `usage: reeldb verify <path>

Checks every frame and the checksum chain, without changing the store.
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
    opened = await openStore(cli, path, 'verifying');
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    await cli.stdout.line(`damaged: ${error.file}`);
    await cli.stdout.line(`  offset  ${error.offset} (0x${error.offset.toString(16)})`);
    await cli.stdout.line(`  reason  ${reasonOf(error)}`);
    await cli.stdout.line('Valid data follows the damage, so reeldb will not open this store until the file is restored from a backup.');
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
    await cli.stdout.line(
      `ok: ${count(frames, 'frame')}, ${count(entries, 'entry', 'entries')}, ${count(stats.bytes, 'byte')} in ${count(stats.segments.length, 'segment')}` +
        (warnings.length > 0 ? ` (${count(warnings.length, 'warning')})` : ''),
    );
    return EXIT_OK;
  } finally {
    await db.close();
  }
}
