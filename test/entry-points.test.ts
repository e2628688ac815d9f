/** Entry points: the runtime entry loads the core by itself; `slim` only after init({ wasm }). */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reeldb, runtime, temporaryDirectory } from './helpers.js';

const root = new URL('..', import.meta.url).pathname;

function runNode(source: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('node', ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

describe(`entry points on ${runtime}`, () => {
  it('slim loads nothing by itself and says what to do', () => {
    const result = runNode(`import { open } from './js/dist/slim.js';
      open('/tmp/never', { durability: 'memory' }).then(() => console.log('opened'), (error) => console.log(error.message));`);
    expect(result.stdout).toMatch(/call init\(\{ wasm \}\) first/);
  });

  it('slim works after init with wasm bytes or a compiled module, on a memory store', () => {
    const result = runNode(`import { readFileSync } from 'node:fs';
      import { init, open, MemoryFileHost } from './js/dist/slim.js';
      await init({ wasm: new WebAssembly.Module(readFileSync('./js/wasm/reeldb_core.wasm')) });
      const db = await open('/store', { host: new MemoryFileHost() });
      await db.events.append('s', [{ type: 't', data: 42 }]);
      console.log(JSON.stringify((await db.events.readStream('s'))[0].data));
      await db.close();`);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('42');
  });

  it('the package resolves to the entry of the runtime by its export conditions', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toMatchObject({ deno: { types: './js/dist/index.deno.d.ts', default: './js/dist/index.deno.js' }, types: './js/dist/index.node.d.ts', bun: './js/dist/index.node.js', node: './js/dist/index.node.js', browser: './js/dist/index.browser.js' });
    expect(pkg.exports['./slim'].default).toBe('./js/dist/slim.js');
  });

  it('refuses a path that is a file', async () => {
    const file = join(temporaryDirectory(), 'plain-file');
    writeFileSync(file, 'hello');
    await expect(reeldb.open(file)).rejects.toMatchObject({ code: 'NOT_A_STORE', message: expect.stringMatching(/is a file, not a reeldb store/) });
  });
});
