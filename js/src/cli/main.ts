/**
 * The `reeldb` command line: picks the command (each parses its own options with
 * `node:util` parseArgs, strictly: see args.ts), runs it, maps errors to exit codes
 * (0 ok · 1 damage or failure · 2 usage error or not a store) and prints them as
 * `reeldb: <message> (<code>)`, without stack traces (REELDB_DEBUG=1 shows them).
 */
import * as fs from 'node:fs';
import { checkpoints, CHECKPOINTS_USAGE } from './checkpoints.js';
import { nearest } from './args.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Output, UsageError, type Cli } from './common.js';
import { dump, DUMP_USAGE } from './dump.js';
import { inspect, INSPECT_USAGE } from './inspect.js';
import { kv, KV_USAGE } from './kv.js';
import { compact, COMPACT_USAGE, prune, PRUNE_USAGE } from './prune.js';
import { run, RUN_USAGE } from './run.js';
import { runs, RUNS_USAGE } from './runs.js';
import { stats, STATS_USAGE } from './stats.js';
import { traces, TRACES_USAGE } from './traces.js';
import { verify, VERIFY_USAGE } from './verify.js';

type Command = (cli: Cli, argv: readonly string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  inspect: { run: inspect, usage: INSPECT_USAGE },
  verify: { run: verify, usage: VERIFY_USAGE },
  dump: { run: dump, usage: DUMP_USAGE },
  stats: { run: stats, usage: STATS_USAGE },
  checkpoints: { run: checkpoints, usage: CHECKPOINTS_USAGE },
  prune: { run: prune, usage: PRUNE_USAGE },
  compact: { run: compact, usage: COMPACT_USAGE },
  traces: { run: traces, usage: TRACES_USAGE },
  runs: { run: runs, usage: RUNS_USAGE },
  run: { run, usage: RUN_USAGE },
  kv: { run: kv, usage: KV_USAGE },
};

export function version(): string {
  try {
    // js/dist/cli/main.js (and js/src/cli/main.ts) → the package root.
    const manifest = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function usage(): string {
  return `reeldb ${version()}: inspect, check and prune reeldb stores

usage: reeldb <command> <path> [options]

commands:
  inspect <path> [--top N] [--json]    store id, format, segments, streams, head position
  verify <path>                        check every frame and the checksum chain
  dump <path> [--stream S] [--from-position P | --from-version V] [--limit N]
                                       events as JSON lines, from a log position (or, with
                                       --stream, a stream version); --from is --from-position
  stats <path> [--json]                counts by type, bytes per event, checkpoint sizes and
                                       compression (reads every entry)
  checkpoints <path> [--thread T] [--limit N] [--json]
                                       checkpoint threads with raw and stored bytes, or the
                                       checkpoints of one thread
  prune <path> [--before P] [--stream S --max-count N] [--keep-last N] [--max-age D] [--dry-run]
                                       remove old events/checkpoints, give the disk back
  compact <path>                       give back the space of deleted checkpoint threads
  traces <path> <runId> [--json | --otlp]
                                       a run's span tree with durations and usage, or the
                                       run as OTLP/JSON
  runs <path> [--status S] [--tag T] [--name N] [--parent ID] [--limit N] [--json]
                                       the runs, newest first: status, start, duration,
                                       entries per primitive
  run <path> <id> [--json]             one run: summary, then its events, spans and
                                       checkpoints in time order
  kv <path> [--prefix P] [--run R] [--limit N] [--json]
                                       key-value entries in key order with versions and values

  durations take a unit: 7d, 12h, 30m, 45s, 500ms, 1h30m (a bare number is an error)
  values starting with '-' go as --name=value; unknown options are errors

  reeldb <command> --help              help for one command
  reeldb --version                     print the version

Stores are opened read-only, beside a running writer; only prune and compact change a store
(they take the writer lock, so they fail while an application has it open).
exit codes: 0 ok, 1 damage found or the command failed, 2 usage error or not a store`;
}

function unknownCommand(name: string): string {
  const near = nearest(name, Object.keys(COMMANDS));
  return `unknown command '${name}'${near.length > 0 ? ` (did you mean ${near.join(' or ')}?)` : ''}`;
}

function isHelp(argument: string | undefined): boolean {
  return argument === '--help' || argument === '-h' || argument === 'help';
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[], streams: { stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream } = {}): Promise<number> {
  const stderr = streams.stderr ?? process.stderr;
  const cli: Cli = { stdout: new Output(streams.stdout ?? process.stdout), stderr };
  // stderr can be a closed pipe too; never let that become an uncaught exception.
  stderr.on('error', () => undefined);
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      stderr.write(`${usage()}\n`);
      return EXIT_USAGE;
    }
    if (isHelp(name)) {
      const topic = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
      if (rest[0] !== undefined && !topic) {
        stderr.write(`reeldb: no help for '${rest[0]}': ${unknownCommand(rest[0])}\n\n${usage()}\n`);
        return EXIT_USAGE;
      }
      await cli.stdout.line(topic ? topic.usage : usage());
      await cli.stdout.flush();
      return EXIT_OK;
    }
    if (name === '--version' || name === '-v' || name === 'version') {
      await cli.stdout.line(`reeldb ${version()}`);
      await cli.stdout.flush();
      return EXIT_OK;
    }
    const command = COMMANDS[name];
    if (!command) {
      stderr.write(`reeldb: ${unknownCommand(name)}\n\n${usage()}\n`);
      return EXIT_USAGE;
    }
    if (rest.some((argument) => argument === '--help' || argument === '-h') && !rest.includes('--')) {
      await cli.stdout.line(command.usage);
      await cli.stdout.flush();
      return EXIT_OK;
    }
    const code = await command.run(cli, rest);
    await cli.stdout.flush();
    return code;
  } catch (error) {
    return report(stderr, error, name);
  }
}

function report(stderr: NodeJS.WriteStream, error: unknown, commandName: string | undefined): number {
  if (error instanceof UsageError) {
    const command = error.command && COMMANDS[error.command];
    const hint = command ? `${command.usage.split('\n')[0]}\n(reeldb ${error.command} --help for details)` : usage();
    stderr.write(`reeldb: ${error.message}\n${hint}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CliError) {
    stderr.write(`reeldb: ${error.message} (${error.code})\n`);
    return error.exitCode;
  }
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  if (typeof code === 'string') {
    // Node's system errors already start with their code ("EACCES: permission denied, …").
    stderr.write(`reeldb: ${text.startsWith(`${code}:`) ? text : `${text} (${code})`}\n`);
  } else {
    stderr.write(`reeldb: ${commandName ?? 'reeldb'} failed: ${text}${process.env.REELDB_DEBUG ? '' : ' (set REELDB_DEBUG=1 for details)'}\n`);
  }
  if (process.env.REELDB_DEBUG && error instanceof Error && error.stack) stderr.write(`${error.stack}\n`);
  return EXIT_FAILURE;
}
