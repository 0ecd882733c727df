import { readdirSync } from 'node:fs';
import tseslint from 'typescript-eslint';

/**
 * The folders of src from the bottom up: a folder imports only from folders on lower lines,
 * so the folder graph stays a DAG (no module reaches back into one that depends on it).
 * Above them all, the files directly in src and src/cli compose the app: nothing imports them.
 * `database` is the top line because its data source lists every module's entities; the
 * helpers the modules share (db-errors, job-lock) live in common.
 */
const LAYERS = [
  ['config'],
  ['common'],
  ['metrics', 'settings'],
  ['audit'],
  ['auth'],
  ['restrictions'],
  ['tokens', 'connect', 'health', 'console', 'http'],
  ['migration-spi'],
  ['database'],
];
const MAX_DEPTH = 6;

// A new folder takes its place in LAYERS before it can be linted at all.
const unplaced = readdirSync(new URL('./src', import.meta.url), { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'cli' && !LAYERS.flat().includes(e.name))
  .map((e) => e.name);
if (unplaced.length > 0) throw new Error(`src/${unplaced.join(', src/')}: missing from LAYERS`);

/** One block per folder and per depth below it: relative paths climb a known number of levels. */
function folderBoundaries() {
  const blocks = [];
  LAYERS.forEach((layer, rank) => {
    const above = LAYERS.slice(rank).flat();
    for (const folder of layer) {
      const others = above.filter((f) => f !== folder).concat('cli');
      for (let depth = 1; depth <= MAX_DEPTH; depth++) {
        const up = `^(\\.\\./){${depth}}`;
        blocks.push({
          files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
          // A unit spec may assemble real collaborators from above (an authenticator with the
          // API-token kind): the graph kept a DAG is the application's, not its tests'.
          ignores: ['**/*.spec.ts'],
          rules: {
            'no-restricted-imports': [
              'error',
              {
                patterns: [
                  {
                    regex: `${up}(${others.join('|')})(/|$)`,
                    message: `${folder} may import only folders below it (LAYERS in eslint.config.mjs).`,
                  },
                  {
                    regex: `${up}[^/]+$`,
                    message:
                      'The files directly in src compose the app; modules do not import them.',
                  },
                ],
              },
            ],
          },
        });
      }
    }
  });
  return blocks;
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**', 'scripts/**', 'bench/results/**', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    // Tests read JSON response bodies field by field; typing each of them adds nothing.
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The benchmark: CommonJS scripts that node runs as they are (types from JSDoc, checked with
    // bench/tsconfig.json).
    files: ['bench/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: Object.fromEntries(
        ['require', 'module', 'exports', '__dirname', '__filename', 'process', 'Buffer', 'console',
          'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'fetch',
          'AbortSignal', 'URL', 'structuredClone'].map((name) => [name, 'readonly']),
      ),
    },
    rules: { 'no-undef': 'error', '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='it'][callee.property.name='only']", message: 'it.only leaves the rest of the suite unrun' },
        { selector: "CallExpression[callee.object.name='describe'][callee.property.name='only']", message: 'describe.only leaves the rest of the suite unrun' },
      ],
    },
  },
  ...folderBoundaries(),
);
