/**
 * The valid name nearest to a misspelt one, for "did you mean …?" in error messages. Written
 * here rather than taken from a library: it is twenty lines, and the package has no runtime
 * dependencies.
 */

/**
 * Edit distance with adjacent transpositions (optimal string alignment), ignoring case:
 * `expectedVersoin` → `expectedVersion` is 1, `ReadOnly` → `readOnly` is 0.
 */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, before[j - 2]! + 1);
      row.push(best);
    }
    before = previous;
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The candidate closest to `given`, when it is close enough to be a likely typo: within a
 * third of its length (at least one edit), or one name a prefix of the other. Else undefined.
 */
export function nearest(given: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(given, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  if (bestDistance <= Math.max(1, Math.floor(best.length / 3))) return best;
  const lower = given.toLowerCase();
  const prefixed = candidates.find((candidate) => lower.length >= 3 && (candidate.toLowerCase().startsWith(lower) || lower.startsWith(candidate.toLowerCase())));
  return prefixed;
}
