// Bundles the extension (and, with --tests, the unit tests) into dist/.
//   node esbuild.mjs [--production] [--watch] [--tests]
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node18', // VS Code 1.82 ships Node 18
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
  external: ['vscode'],
};

const builds = [
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
];
if (tests) {
  builds.push({ ...common, entryPoints: ['test/unit/server.test.ts'], outfile: 'dist/test/server.test.js', sourcemap: true, minify: false });
}

if (watch) {
  for (const b of builds) {
    const ctx = await esbuild.context(b);
    await ctx.watch();
  }
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
