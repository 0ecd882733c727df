/**
 * Unit specs beside the code (src, *.spec.ts); integration and e2e specs under test/; specs that
 * keep docs/ in step with the code under test/docs.
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
  },
];

// A few dependencies ship ES modules only; Node requires them natively, Jest needs them compiled.
// jose is jwks-rsa's own (nested under it): the last node_modules segment of a path decides.
const ESM_DEPENDENCIES = ['content-disposition', 'jose'];

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc, '^.+\\.js$': swc },
  transformIgnorePatterns: [`/node_modules/(?!.*/node_modules/)(?!(${ESM_DEPENDENCIES.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  testTimeout: 30000,
  // Probes PostgreSQL, Redis, nginx and Chromium once, so that tests needing one that is missing
  // are registered as skipped (outside CI) rather than passing without running.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'docs', testMatch: ['<rootDir>/test/docs/**/*.spec.ts'] },
  ],
};
