'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- loaded with node -r, before any compiler: plain CommonJS */
// Lets a child process run Warden straight from its TypeScript sources (`node -r <this> src/main.ts`),
// compiled on load with the same SWC options the tests use: a process test needs no build step.
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

const OPTIONS = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...OPTIONS, filename });
  module._compile(code, filename);
};
