#!/usr/bin/env node
// Builds the operator console (console/) into dist/console-ui/, which Warden serves at /console/.
// Everything comes from installed npm packages (Preact, uPlot, esbuild): it builds offline.
const { buildSync } = require('esbuild');
const { copyFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const out = join(root, 'dist', 'console-ui');
mkdirSync(out, { recursive: true });
buildSync({
  absWorkingDir: root,
  entryPoints: { app: 'console/src/main.tsx', app_style: 'console/src/styles.css' },
  bundle: true,
  minify: true,
  outdir: out,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(root, 'console', 'index.html'), join(out, 'index.html'));
