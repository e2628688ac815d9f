/**
 * Argument parsing for the commands: `node:util` `parseArgs` in strict mode against a fixed spec
 * per command, with its errors turned into usage errors a person can act on (an unknown option
 * names the nearest valid one), and checked numbers.
 */
import { editDistance } from '../nearest.js';
import { parseArgs as parseNodeArgs } from 'node:util';
import { UsageError } from './errors.js';

export type OptionKind = 'string' | 'boolean';

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | boolean | undefined>;
}

/** Parses `--name value`, `--name=value`, boolean `--flag` and `--` against `spec`; anything else is a UsageError. */
export function parseArgs(command: string, argv: readonly string[], spec: Record<string, OptionKind>): ParsedArgs {
  const options = Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }]));
  try {
    const { values, positionals } = parseNodeArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { positionals, options: { ...values } as Record<string, string | boolean | undefined> };
  } catch (error) {
    throw new UsageError(explain(command, argv, spec, error), command);
  }
}

/**
 * parseArgs's own messages suit a script author, not a shell user; re-read the arguments
 * leniently to find the one that failed and say what to type instead.
 */
function explain(command: string, argv: readonly string[], spec: Record<string, OptionKind>, error: unknown): string {
  const options = Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }]));
  const { tokens } = parseNodeArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const kind = spec[token.name];
    if (kind === undefined) {
      const valid = Object.keys(spec).map((name) => `--${name}`);
      const near = nearest(token.name, Object.keys(spec)).map((name) => `--${name}`);
      const hint = near.length > 0 ? `did you mean ${near.join(' or ')}?` : valid.length > 0 ? `${command} takes ${valid.join(', ')}` : `${command} takes no options`;
      return `${command}: unknown option '${token.rawName}' (${hint})`;
    }
    if (kind === 'boolean' && token.value !== undefined) return `${command}: --${token.name} is a switch and takes no value (got '${token.rawName}=${token.value}')`;
    if (kind === 'string' && token.value === undefined) return `${command}: --${token.name} needs a value`;
    if (kind === 'string' && !token.inlineValue && token.value!.startsWith('-') && token.value!.length > 1) {
      return `${command}: --${token.name} needs a value, got '${token.value}' (a value that starts with '-' goes as --${token.name}=${token.value})`;
    }
  }
  const { message } = (error ?? {}) as { message?: unknown };
  return `${command}: ${typeof message === 'string' ? message : String(error)}`;
}

/** The candidates closest to `word` (edit distance within a third of its length), or that it begins. */
export function nearest(word: string, candidates: readonly string[]): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  const scored = candidates.map((candidate) => ({ candidate, distance: editDistance(word, candidate) }));
  const best = Math.min(...scored.map((entry) => entry.distance));
  const close = best <= limit ? scored.filter((entry) => entry.distance === best).map((entry) => entry.candidate) : [];
  if (close.length > 0) return close;
  return word.length >= 2 ? candidates.filter((candidate) => candidate.startsWith(word)) : [];
}

/** The single `<path>` argument of a command. */
export function onePath(command: string, positionals: string[]): string {
  if (positionals.length === 0) throw new UsageError(`${command}: missing <path> (the store directory)`, command);
  if (positionals.length > 1) throw new UsageError(`${command}: expected one <path>, got ${positionals.length} arguments: ${positionals.join(' ')}`, command);
  return positionals[0]!;
}

/** A non-negative integer option value (decimal digits only). */
export function parseCount(command: string, name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${command}: ${name} must be a non-negative integer, got '${String(value)}'`, command);
  }
  return Number(value);
}

/**
 * The value of an option that has an older spelling kept as an alias (`--from` for
 * `--from-position`); giving both is a usage error rather than a silent pick.
 */
export function aliased(command: string, options: ParsedArgs['options'], name: string, alias: string): string | boolean | undefined {
  if (options[name] !== undefined && options[alias] !== undefined) {
    throw new UsageError(`${command}: --${alias} is another name for --${name}; give one of them`, command);
  }
  return options[name] ?? options[alias];
}
