import tseslint from 'typescript-eslint';

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
);
