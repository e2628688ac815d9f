/**
 * Equality of two JSON values (what `JSON.parse` returns, or a value `jsonText` accepted): by
 * value, so object key order does not matter (`{a:1,b:2}` equals `{b:2,a:1}`), arrays compare
 * in order, and numbers by `===` (-0 equals 0, as in JSON text). Shared by everything that
 * compares stored values (checkpoint filters now; state cells and run diffs later). A
 * structural walk rather than comparing canonical texts (RFC 8785): it allocates nothing and
 * stops at the first difference.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let index = 0; index < a.length; index++) if (!jsonEqual(a[index], b[index])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return false;
    if (!jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false;
  }
  return true;
}
