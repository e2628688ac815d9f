// Transpiles js/src/**/*.ts to js/dist/**/*.js with esbuild (one file per module, no
// bundling, ~100 ms). With --declarations it also emits .d.ts files with tsc.
import { build } from 'esbuild';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const source = join(root, 'js/src');
const files = [];
(function walk(directory) {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
})(source);

rmSync(join(root, 'js/dist'), { recursive: true, force: true });
await build({
  entryPoints: files,
  outdir: join(root, 'js/dist'),
  outbase: source,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: 'linked',
  logLevel: 'warning',
});
if (process.argv.includes('--declarations')) {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', root, '--emitDeclarationOnly'], { stdio: 'inherit' });
}
