#!/usr/bin/env node
// The `reeldb` command. The CLI is TypeScript in js/src/cli, compiled to js/dist/cli by
// `npm run build`; this launcher only loads it and sets the exit code.
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (error) {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write("reeldb: the compiled CLI is missing (js/dist/cli/main.js); run 'npm run build' first\n");
    process.exit(1);
  }
  throw error;
}
process.exitCode = await main(process.argv.slice(2));
