import { describe, expect, it } from 'vitest';
import { REDACTED, redactSecrets, redactString, isSecretKey } from '../js/dist/index.node.js';

describe('redactSecrets', () => {
  it('replaces API keys, bearer tokens, JWTs and secret pairs inside strings', () => {
    const openai = 'sk-proj-' + 'a1B2c3D4e5F6g7H8i9J0kLmNoP';
    expect(redactString(`use ${openai} now`)).toBe(`use ${REDACTED} now`);
    expect(redactString('Authorization: Bearer abcdefghijklmnop.qrstuv')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactString('AKIAIOSFODNN7EXAMPLE is the id')).toBe(`${REDACTED} is the id`);
    expect(redactString('ghp_' + 'x'.repeat(36))).toBe(REDACTED);
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(redactString(`token ${jwt}`)).toBe(`token ${REDACTED}`);
    expect(redactString('https://x.test/?api_key=12345&q=cats')).toBe(`https://x.test/?api_key=${REDACTED}&q=cats`);
    expect(redactString('password: hunter2')).toBe(`password: ${REDACTED}`);
    expect(redactString('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----')).toBe(REDACTED);
  });

  it('leaves ordinary text alone, including words like token counts', () => {
    for (const text of ['the skeleton key', 'sk-short', 'Bearer', 'inputTokens: 12', 'a basic question']) expect(redactString(text)).toBe(text);
    expect(isSecretKey('inputTokens')).toBe(false);
    expect(isSecretKey('max_tokens')).toBe(false);
    expect(isSecretKey('apiKey')).toBe(true);
    expect(isSecretKey('OPENAI_API_KEY')).toBe(true);
    expect(isSecretKey('Authorization')).toBe(true);
  });

  it('replaces values under secret-named properties, deep, without changing the caller’s object', () => {
    const input = { tool: 'search', args: { query: 'cats', apiKey: 'plain-looking', headers: [{ authorization: 'xyz' }] }, usage: { inputTokens: 3 } };
    const before = JSON.stringify(input);
    const out = redactSecrets(input) as typeof input;
    expect(out).toEqual({ tool: 'search', args: { query: 'cats', apiKey: REDACTED, headers: [{ authorization: REDACTED }] }, usage: { inputTokens: 3 } });
    expect(JSON.stringify(input)).toBe(before);
    // Untouched branches are shared, not copied.
    expect(out.usage).toBe(input.usage);
  });

  it('passes binary values, numbers and empty secrets through', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(redactSecrets(bytes)).toBe(bytes);
    expect(redactSecrets(42)).toBe(42);
    expect(redactSecrets({ password: '' })).toEqual({ password: '' });
  });
});
