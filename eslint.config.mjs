import { readdirSync } from 'node:fs';
import jest from 'eslint-plugin-jest';
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
    // Rules that need the types: what is checked with tsconfig.json (the service, its tests,
    // ormconfig.ts) and console/tsconfig.json (the console), each file with its own.
    files: ['src/**/*.ts', 'test/**/*.ts', 'ormconfig.ts', 'console/src/**/*.{ts,tsx}'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its rejection and runs on after the caller thinks it done.
      '@typescript-eslint/no-floating-promises': 'error',
      // Promise.all over "a promise, or nothing when none runs" waits for what runs.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // Relaying what was caught (unknown) as the rejection is how errors pass through unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `any` enters only where JSON, SQL rows and caught values come in, and is narrowed where
      // read; flagging every use of it downstream finds no defect here.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // String() of a value of unknown shape (JSON, a thrown value) is meant: it is for a message.
      '@typescript-eslint/no-base-to-string': 'off',
      // `async` without `await` implements a Promise-returning interface, throws as a rejection.
      '@typescript-eslint/require-await': 'off',
      // An assertion the compiler finds redundant is style, not a defect.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'src/**/*.spec.ts'],
    rules: {
      // Helpers hand out methods that close over their state, and mocks are read unbound.
      '@typescript-eslint/unbound-method': 'off',
      // Failure messages and URLs are built from whatever a response held.
      '@typescript-eslint/restrict-template-expressions': 'off',
      // Route metadata keys are read as numbers and compared with Nest's enums.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  {
    // An expect that is not awaited, or that stands outside a test, asserts nothing; a focused
    // test leaves the rest of the suite unrun.
    files: ['src/**/*.spec.ts', 'test/**/*.spec.ts', 'test/**/*-spec.ts'],
    plugins: { jest },
    rules: {
      'jest/valid-expect': 'error',
      'jest/no-focused-tests': 'error',
      'jest/no-standalone-expect': [
        'error',
        {
          // maybe/when/itWhen are `it` for tests that need a service (test/support/app.ts); a
          // failed expect in beforeAll/afterAll fails the suite's setup or teardown, as meant;
          // a fast-check property runs inside the test that asserts it.
          additionalTestBlockFunctions: [
            'maybe',
            'when',
            'itWhen',
            'beforeAll',
            'afterAll',
            'fc.asyncProperty',
          ],
        },
      ],
    },
  },
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
    },
  },
  ...folderBoundaries(),
);
