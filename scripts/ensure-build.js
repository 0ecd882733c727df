#!/usr/bin/env node
// `npm start` on a fresh clone: compile when dist/ is missing or older than any source file, and
// build the operator console when it is missing or older than its sources.
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
let serverBuilt = false;
if (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, 'src'))) {
  process.stderr.write('Building Warden (first start or sources changed)…\n');
  // nest build empties dist/, the console's build included.
  execSync('npx nest build', { cwd: root, stdio: ['ignore', 2, 2] });
  serverBuilt = true;
}
const consoleBuilt = join(root, 'dist', 'console-ui', 'app.js');
if (
  serverBuilt ||
  !existsSync(consoleBuilt) ||
  statSync(consoleBuilt).mtimeMs < newest(join(root, 'console'))
) {
  process.stderr.write('Building the operator console…\n');
  execSync('node scripts/build-console.js', { cwd: root, stdio: ['ignore', 2, 2] });
}
