/**
 * Durations on the command line: a number with a unit (`7d`, `12h`, `30m`, `45s`, `500ms`,
 * decimals like `1.5h`) or several, largest unit first (`1h30m`, `2d12h`). A bare number is
 * refused: `--max-age 7` once meant 7 ms to the CLI while a person means 7 days. Only `0`
 * stands alone, since it means the same in every unit.
 */
import { UsageError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const ORDER = ['d', 'h', 'm', 's', 'ms'];
export const DURATION_EXAMPLES = '7d, 12h, 30m, 45s, 500ms or 1h30m';

/** Milliseconds of a duration such as `7d` or `1h30m`; a UsageError naming `flag` otherwise. */
export function parseDuration(command: string, flag: string, text: string): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) {
    throw new UsageError(`${command}: ${flag} takes a duration with a unit, such as ${DURATION_EXAMPLES}; got '${text}' (a bare number has no unit: write ${trimmed}d for days, ${trimmed}ms for milliseconds)`, command);
  }
  const part = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;
  let total = 0;
  let lastUnit = -1;
  let index = 0;
  while (index < trimmed.length) {
    part.lastIndex = index;
    const match = part.exec(trimmed);
    const unit = match ? ORDER.indexOf(match[2]!) : -1;
    if (!match || unit <= lastUnit) {
      throw new UsageError(`${command}: ${flag} takes a duration such as ${DURATION_EXAMPLES} (units d, h, m, s, ms, largest first); got '${text}'`, command);
    }
    total += Number(match[1]) * UNITS[match[2]!]!;
    lastUnit = unit;
    index = part.lastIndex;
  }
  if (index === 0 || !Number.isSafeInteger(Math.round(total))) {
    throw new UsageError(`${command}: ${flag} takes a duration such as ${DURATION_EXAMPLES}; got '${text}'`, command);
  }
  return Math.round(total);
}
