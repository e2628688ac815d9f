// Builds js/dist from js/src: esbuild transpiles each .ts to a .js (one file per module, no
// bundling) while tsc emits the .d.ts declarations beside them, in parallel (under a second).
// Declarations are always built: without them a consumer gets TS7016 ("no declaration file").
//
// Each .js starts with a `@ts-self-types` pragma naming its .d.ts. Deno reads a package that
// npm installed as a symlinked folder as local files, not as an npm package, and local .js files
// have no types of their own: without the pragma it would infer them from the JavaScript and
// lose every type-only export (interfaces such as RecordedEvent).
//
// This is also the package's `prepare` script, which npm runs on `npm install` in a checkout,
// for a git dependency (in its clone, after installing its devDependencies, before packing it),
// for a folder dependency (in that folder, which needs its own `npm install` first) and on
// `npm pack` / `npm publish`. `--declarations` is accepted for older callers; it is the default.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const source = join(root, 'js/src');
const dist = join(root, 'js/dist');

/** The build tools are devDependencies; say what to do when they are missing instead of a stack trace. */
function missingTools(what) {
  if (existsSync(join(dist, 'index.node.js')) && existsSync(join(dist, 'index.node.d.ts'))) {
    process.stderr.write(`reeldb build: ${what} is not installed here; keeping the existing js/dist (run 'npm install' in ${root} to rebuild)\n`);
    process.exit(0);
  }
  process.stderr.write(
    `reeldb build: ${what} is not installed in ${root}, so js/dist cannot be built.\n` +
      `Run 'npm install' in that directory first (it installs the build tools and builds js/dist), then install it again.\n`,
  );
  process.exit(1);
}

let build;
try {
  ({ build } = await import('esbuild'));
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  missingTools('esbuild');
}
let tsc;
try {
  const require = createRequire(join(root, 'package.json'));
  const manifest = require.resolve('typescript/package.json');
  tsc = join(dirname(manifest), require('typescript/package.json').bin.tsc);
} catch {
  missingTools('typescript');
}

const files = [];
(function walk(directory) {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
})(source);

rmSync(dist, { recursive: true, force: true });

const declarations = new Promise((resolve, reject) => {
  execFile(process.execPath, [tsc, '-p', root, '--emitDeclarationOnly'], { cwd: root, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
    if (error) reject(new Error(`reeldb build: tsc failed (declarations and type check):\n${stdout}${stderr}`.trimEnd()));
    else resolve();
  });
});

const result = await build({
  entryPoints: files,
  outdir: dist,
  outbase: source,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: 'linked',
  logLevel: 'warning',
  write: false,
});
for (const file of result.outputFiles) {
  let text = file.text;
  if (file.path.endsWith('.js')) {
    text = `// @ts-self-types="./${basename(file.path, '.js')}.d.ts"\n${text}`;
  } else if (file.path.endsWith('.js.map')) {
    // One line was put in front of the code: a ';' in front of the mappings moves them down one line.
    const map = JSON.parse(text);
    map.mappings = `;${map.mappings}`;
    text = JSON.stringify(map);
  }
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, text);
}

try {
  await declarations;
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
// Every module has its declaration file, which the pragma above names.
const missing = result.outputFiles.filter((file) => file.path.endsWith('.js') && !existsSync(file.path.replace(/\.js$/, '.d.ts')));
if (missing.length > 0) {
  process.stderr.write(`reeldb build: no declarations for ${missing.map((file) => relative(root, file.path)).join(', ')}\n`);
  process.exit(1);
}
