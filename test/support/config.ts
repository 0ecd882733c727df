import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { WardenConfig } from '../../src/config/warden-config';

export const ADMIN_USERNAME = 'admin';
export const ADMIN_PASSWORD = 'admin-password-for-tests';
/** A fixed test key; production refuses anything but a real random key. */
export const TEST_ENCRYPTION_KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString(
  'base64',
);

export interface TestConfig {
  config: WardenConfig;
  /** The environment the config was built from (for a CLI run against the same instance). */
  env: Record<string, string>;
  cleanup: () => void;
}

/** A configuration as `loadConfig` builds it from the environment, on a fresh SQLite file or the given database. */
export function testConfig(env: Record<string, string> = {}): TestConfig {
  const dir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  const fullEnv: Record<string, string> = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    WARDEN_DATA_DIR: dir,
    DATABASE_URL: `sqlite:${join(dir, 'warden.sqlite')}`,
    WARDEN_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    WARDEN_ADMIN_USERNAME: ADMIN_USERNAME,
    WARDEN_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    ...env,
  };
  const config = loadConfig(fullEnv);
  return { config, env: fullEnv, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
