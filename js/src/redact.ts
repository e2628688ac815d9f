/**
 * A ready-made `redact` for `open(path, { redact: redactSecrets })`: replaces what looks like a
 * credential in any JSON value before it is written, so API keys and bearer tokens that agents
 * pass around in tool inputs, prompts and outputs never reach the disk.
 * - strings: the secret part of API keys (OpenAI/Anthropic `sk-…`, AWS `AKIA…`, GitHub `ghp_…`/
 *   `github_pat_…`, Slack `xox?-…`, Google `AIza…`, Stripe `sk_live_…`/`rk_live_…`), `Bearer …` /
 *   `Basic …` credentials, JSON Web Tokens, and `password=…`-style pairs in URLs and text;
 * - object properties whose name says secret (`apiKey`, `api_key`, `authorization`, `password`,
 *   `secret`, `token`, `accessToken`, `privateKey`, `cookie`…): the whole value.
 * Everything else is returned as is; the caller's objects are never changed (a copy is made
 * only along paths that change). Binary values (Uint8Array) pass unchanged.
 */

/** What a redacted part becomes. */
export const REDACTED = '[REDACTED]';

const SECRET_PATTERNS: readonly RegExp[] = [
  /\bsk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_-]{16,}/g, // OpenAI, Anthropic
  /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g, // Stripe
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key id
  /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{40,}\b/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack
  /\bAIza[0-9A-Za-z_-]{35}\b/g, // Google API key
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWT
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];
/** `Bearer <token>` / `Basic <token>`: the scheme stays, the credential goes. */
const AUTH_SCHEME = /\b(Bearer|bearer|Basic)\s+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=])[A-Za-z0-9._~+/=-]{8,}/g;
/** `password=…`, `api_key: …` in text and query strings: the name stays. */
const SECRET_PAIR = /\b((?:pass(?:word|wd)?|secret|api[_-]?key|access[_-]?token|auth[_-]?token|token)\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&"',;]+)/gi;
/** Property names whose value is a secret whatever it looks like. */
const SECRET_KEY = /^(?:.*[_-])?(?:api[_-]?key|apikey|secret|secret[_-]?key|client[_-]?secret|password|passwd|token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|private[_-]?key|authorization|auth|cookie|set-cookie|session[_-]?id|x-api-key)$/i;

/** A string with its secrets replaced (the same string when none). */
export function redactString(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
  out = out.replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} ${REDACTED}`);
  out = out.replace(SECRET_PAIR, (_match, name: string) => `${name}${REDACTED}`);
  return out;
}

/** Whether a property name says its value is a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** The `redact` for `open`: any value with its secrets replaced (see above). */
export function redactSecrets(value: unknown): unknown {
  return redactValue(value, 0);
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || depth > 256) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index];
      const redacted = redactValue(item, depth + 1);
      if (redacted !== item) (copy ??= value.slice())[index] = redacted;
    }
    return copy ?? value;
  }
  // Plain objects only: anything else (Date, Map…) is left for the value rule to reject.
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const redacted = isSecretKey(key) && item !== null && item !== undefined && item !== '' ? REDACTED : redactValue(item, depth + 1);
    if (redacted !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = redacted;
  }
  return copy ?? value;
}
