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

describe('open({ redact })', () => {
  it('redacts event data and metadata and checkpoint state before they are written, and reads return what was stored', async () => {
    const { reeldb, storePath } = await import('./helpers.js');
    const fs = await import('node:fs');
    const path = storePath();
    const secret = 'sk-proj-' + 'Zx9'.repeat(10);
    const db = await reeldb.open(path, { redact: reeldb.redactSecrets });
    const input = { q: 'cats', headers: { authorization: `Bearer ${secret}` } };
    const [event] = await db.events.append('run', [{ type: 'tool_call', data: input, metadata: { apiKey: secret } }]);
    expect(event!.data).toEqual({ q: 'cats', headers: { authorization: REDACTED } });
    expect(event!.metadata).toEqual({ apiKey: REDACTED });
    expect(input.headers.authorization).toBe(`Bearer ${secret}`); // the caller's object is unchanged
    await db.checkpoints.save('t', { messages: [`my key is ${secret}`] }, { metadata: { token: secret } });
    expect((await db.checkpoints.load('t'))!.state).toEqual({ messages: [`my key is ${REDACTED}`] });
    await db.close();
    const files = [...fs.readdirSync(`${path}/log`).map((name) => `${path}/log/${name}`), ...fs.readdirSync(path).filter((name) => name.endsWith('.snap')).map((name) => `${path}/${name}`)];
    for (const file of files) expect(fs.readFileSync(file).includes(Buffer.from(secret.slice(8)))).toBe(false);
    const again = await reeldb.open(path);
    expect((await again.events.readStream('run'))[0]!.data).toEqual({ q: 'cats', headers: { authorization: REDACTED } });
    await again.close();
  });

  it('a redact that throws rejects the write, and nothing is written', async () => {
    const { reeldb } = await import('./helpers.js');
    const db = await reeldb.open('x', {
      durability: 'memory',
      redact: () => {
        throw new Error('no');
      },
    });
    await expect(db.events.append('s', [{ type: 't', data: 1 }])).rejects.toThrow('no');
    expect(db.stats().entries).toBe(0);
    await db.close();
  });
});
