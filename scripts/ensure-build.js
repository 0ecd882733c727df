#!/usr/bin/env node
// `npm start` on a fresh clone: compile when dist/ is missing or older than any source file.
const { execSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const root = join(__dirname, '..');
const built = join(root, 'dist', 'main.js');
if (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, 'src'))) {
  process.stderr.write('Building Warden (first start or sources changed)…\n');
  execSync('npx nest build', { cwd: root, stdio: ['ignore', 2, 2] });
}
