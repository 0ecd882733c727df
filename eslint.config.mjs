import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'data/**', 'scripts/**', 'bench/**/*.js', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.object.name='it'][callee.property.name='only']", message: 'it.only leaves the rest of the suite unrun' },
        { selector: "CallExpression[callee.object.name='describe'][callee.property.name='only']", message: 'describe.only leaves the rest of the suite unrun' },
      ],
    },
  },
);
