import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load-config';

/** Runs loadConfig expecting a ConfigError and returns it (fails the test otherwise). */
function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted the configuration');
}

function problemsNaming(err: ConfigError, name: string): string[] {
  return err.problems.filter((p) => p.includes(name));
}

const randomKey = (): string => randomBytes(32).toString('base64');

describe('loadConfig', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'warden-config-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('defaults', () => {
    it('fills in every default from an env holding only the data directory', () => {
      const config = loadConfig({ WARDEN_DATA_DIR: dataDir });

      expect(config.production).toBe(false);
      expect(config.port).toBe(3000);
      expect(config.host).toBe('0.0.0.0');
      expect(config.baseUrl).toBe('http://localhost:3000');
      expect(config.issuer).toBe('http://localhost:3000');
      expect(config.dataDir).toBe(dataDir);
      expect(config.database).toEqual({
        kind: 'sqlite',
        url: `sqlite:${join(dataDir, 'warden.sqlite')}`,
        sqlitePath: join(dataDir, 'warden.sqlite'),
      });
      expect(config.signingAlgorithm).toBe('RS256');
      expect(config.logLevel).toBe('info');
      expect(config.admin).toEqual({ username: 'admin', password: undefined });
      expect(config.redisUrl).toBeUndefined();
      expect(config.upstreamBaseUrl).toBeUndefined();
      expect(config.encryptionKey.key).toHaveLength(32);
    });

    it('derives the default baseUrl and issuer from PORT', () => {
      const config = loadConfig({ WARDEN_DATA_DIR: dataDir, PORT: '8080' });

      expect(config.port).toBe(8080);
      expect(config.baseUrl).toBe('http://localhost:8080');
      expect(config.issuer).toBe('http://localhost:8080');
    });

    it('uses WARDEN_ISSUER over the base URL when given', () => {
      const config = loadConfig({
        WARDEN_DATA_DIR: dataDir,
        WARDEN_BASE_URL: 'https://auth.example.com',
        WARDEN_ISSUER: 'https://issuer.example.com',
      });

      expect(config.baseUrl).toBe('https://auth.example.com');
      expect(config.issuer).toBe('https://issuer.example.com');
    });

    it('does not read process.env when given an env object', () => {
      const saved = process.env.PORT;
      process.env.PORT = '4567';
      try {
        expect(loadConfig({ WARDEN_DATA_DIR: dataDir }).port).toBe(3000);
      } finally {
        if (saved === undefined) delete process.env.PORT;
        else process.env.PORT = saved;
      }
    });
  });

  describe('reporting every problem at once', () => {
    it('names every bad variable in one ConfigError', () => {
      const err = configErrorOf({
        WARDEN_DATA_DIR: dataDir,
        PORT: 'abc',
        DATABASE_URL: 'mysql://x',
        LOG_LEVEL: 'loud',
        WARDEN_SIGNING_ALGORITHM: 'HS256',
        WARDEN_ENCRYPTION_KEY: randomBytes(16).toString('base64'),
      });

      for (const name of [
        'PORT',
        'DATABASE_URL',
        'LOG_LEVEL',
        'WARDEN_SIGNING_ALGORITHM',
        'WARDEN_ENCRYPTION_KEY',
      ]) {
        expect(problemsNaming(err, name)).toHaveLength(1);
      }
      expect(err.problems).toHaveLength(5);
      expect(err.message).toContain('PORT');
      expect(err.message).toContain('WARDEN_ENCRYPTION_KEY');
    });

    it.each(['-1', '65536', '3000.5', 'abc'])('refuses PORT=%s', (port) => {
      expect(
        problemsNaming(configErrorOf({ WARDEN_DATA_DIR: dataDir, PORT: port }), 'PORT'),
      ).toHaveLength(1);
    });

    it.each(['ftp://auth.example.com', 'not a url'])('refuses WARDEN_BASE_URL=%s', (url) => {
      const err = configErrorOf({ WARDEN_DATA_DIR: dataDir, WARDEN_BASE_URL: url });

      expect(problemsNaming(err, 'WARDEN_BASE_URL')).toHaveLength(1);
    });

    it('refuses a REDIS_URL that is not redis: or rediss:', () => {
      const err = configErrorOf({ WARDEN_DATA_DIR: dataDir, REDIS_URL: 'http://cache:6379' });

      expect(problemsNaming(err, 'REDIS_URL')).toHaveLength(1);
    });

    it('refuses an admin password under 12 characters, in any environment', () => {
      const err = configErrorOf({ WARDEN_DATA_DIR: dataDir, WARDEN_ADMIN_PASSWORD: 'short-pw' });

      expect(problemsNaming(err, 'WARDEN_ADMIN_PASSWORD')).toHaveLength(1);
    });

    it('refuses an encryption key that is not 32 bytes', () => {
      const err = configErrorOf({
        WARDEN_DATA_DIR: dataDir,
        WARDEN_ENCRYPTION_KEY: randomBytes(31).toString('base64'),
      });

      expect(problemsNaming(err, 'WARDEN_ENCRYPTION_KEY')).toHaveLength(1);
    });

    it('refuses an empty sqlite path', () => {
      const err = configErrorOf({ WARDEN_DATA_DIR: dataDir, DATABASE_URL: 'sqlite:' });

      expect(problemsNaming(err, 'DATABASE_URL')).toHaveLength(1);
    });
  });

  describe('production', () => {
    const prod = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
      NODE_ENV: 'production',
      WARDEN_DATA_DIR: dataDir,
      ...extra,
    });

    it('accepts a random encryption key and a real admin password', () => {
      const key = randomKey();
      const config = loadConfig(
        prod({
          WARDEN_ENCRYPTION_KEY: key,
          WARDEN_ADMIN_PASSWORD: 'k7#Vq9!xR2mLp4zT',
        }),
      );

      expect(config.production).toBe(true);
      expect(config.encryptionKey.key.equals(Buffer.from(key, 'base64'))).toBe(true);
      expect(config.encryptionKey.generatedAt).toBeUndefined();
      expect(config.admin.password).toBe('k7#Vq9!xR2mLp4zT');
    });

    it('refuses to start without WARDEN_ENCRYPTION_KEY and generates no key file', () => {
      const err = configErrorOf(prod({}));

      expect(problemsNaming(err, 'WARDEN_ENCRYPTION_KEY')).toHaveLength(1);
      expect(existsSync(join(dataDir, 'encryption.key'))).toBe(false);
    });

    it('refuses to start without WARDEN_ENCRYPTION_KEY even when a key file exists', () => {
      writeFileSync(join(dataDir, 'encryption.key'), randomKey() + '\n');

      const err = configErrorOf(prod({}));

      expect(problemsNaming(err, 'WARDEN_ENCRYPTION_KEY')).toHaveLength(1);
    });

    it.each(['changeme-changeme', 'CHANGEME-please-1', 'placeholder-password', 'aaaaaaaaaaaaaaaa'])(
      'refuses the placeholder admin password %j',
      (password) => {
        const err = configErrorOf(
          prod({
            WARDEN_ENCRYPTION_KEY: randomKey(),
            WARDEN_ADMIN_PASSWORD: password,
          }),
        );

        expect(problemsNaming(err, 'WARDEN_ADMIN_PASSWORD')).toHaveLength(1);
      },
    );

    it('accepts the same placeholder admin password outside production', () => {
      const config = loadConfig({
        WARDEN_DATA_DIR: dataDir,
        WARDEN_ADMIN_PASSWORD: 'changeme-changeme',
      });

      expect(config.admin.password).toBe('changeme-changeme');
    });

    it('refuses an all-zero 32-byte encryption key', () => {
      const err = configErrorOf(
        prod({
          WARDEN_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
        }),
      );

      expect(problemsNaming(err, 'WARDEN_ENCRYPTION_KEY')).toHaveLength(1);
    });

    it('refuses a 32-byte key made of a repeated byte pattern', () => {
      const err = configErrorOf(
        prod({
          WARDEN_ENCRYPTION_KEY: Buffer.alloc(32, 0xab).toString('base64'),
        }),
      );

      expect(problemsNaming(err, 'WARDEN_ENCRYPTION_KEY')).toHaveLength(1);
    });

    it('reports the missing key and a placeholder password together', () => {
      const err = configErrorOf(prod({ WARDEN_ADMIN_PASSWORD: 'changeme-changeme' }));

      expect(problemsNaming(err, 'WARDEN_ENCRYPTION_KEY')).toHaveLength(1);
      expect(problemsNaming(err, 'WARDEN_ADMIN_PASSWORD')).toHaveLength(1);
    });
  });

  describe('generated encryption key outside production', () => {
    it('generates a key into <dataDir>/encryption.key with mode 0600', () => {
      const config = loadConfig({ WARDEN_DATA_DIR: dataDir });
      const file = join(dataDir, 'encryption.key');

      expect(config.encryptionKey.generatedAt).toBe(file);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const stored = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
      expect(stored.equals(config.encryptionKey.key)).toBe(true);
    });

    it('re-reads the same key on a second call instead of generating a new one', () => {
      const first = loadConfig({ WARDEN_DATA_DIR: dataDir });
      const second = loadConfig({ WARDEN_DATA_DIR: dataDir });

      expect(second.encryptionKey.key.equals(first.encryptionKey.key)).toBe(true);
      expect(second.encryptionKey.generatedAt).toBeUndefined();
    });

    it('generates different keys for different data directories', () => {
      const otherDir = mkdtempSync(join(tmpdir(), 'warden-config-'));
      try {
        const a = loadConfig({ WARDEN_DATA_DIR: dataDir });
        const b = loadConfig({ WARDEN_DATA_DIR: otherDir });

        expect(a.encryptionKey.key.equals(b.encryptionKey.key)).toBe(false);
      } finally {
        rmSync(otherDir, { recursive: true, force: true });
      }
    });

    it('creates a missing data directory', () => {
      const nested = join(dataDir, 'not', 'yet');

      const config = loadConfig({ WARDEN_DATA_DIR: nested });

      expect(config.encryptionKey.generatedAt).toBe(join(nested, 'encryption.key'));
      expect(existsSync(join(nested, 'encryption.key'))).toBe(true);
    });

    it('refuses a key file that does not hold 32 bytes, and leaves it untouched', () => {
      const file = join(dataDir, 'encryption.key');
      writeFileSync(file, 'dG9vIHNob3J0\n');

      const err = configErrorOf({ WARDEN_DATA_DIR: dataDir });

      expect(problemsNaming(err, file)).toHaveLength(1);
      expect(readFileSync(file, 'utf8')).toBe('dG9vIHNob3J0\n');
    });

    it('uses WARDEN_ENCRYPTION_KEY when given and writes no file', () => {
      const key = randomKey();

      const config = loadConfig({ WARDEN_DATA_DIR: dataDir, WARDEN_ENCRYPTION_KEY: key });

      expect(config.encryptionKey.key.equals(Buffer.from(key, 'base64'))).toBe(true);
      expect(existsSync(join(dataDir, 'encryption.key'))).toBe(false);
    });
  });

  describe('database', () => {
    it.each(['postgres://warden:pw@db:5432/warden', 'postgresql://warden@db/warden?ssl=true'])(
      'parses %s as postgres',
      (url) => {
        const config = loadConfig({ WARDEN_DATA_DIR: dataDir, DATABASE_URL: url });

        expect(config.database.kind).toBe('postgres');
        expect(config.database.url).toBe(url);
        expect(config.database.sqlitePath).toBeUndefined();
      },
    );

    it('keeps an absolute sqlite path and resolves a sqlite:// URL', () => {
      const file = join(dataDir, 'other.sqlite');

      expect(
        loadConfig({ WARDEN_DATA_DIR: dataDir, DATABASE_URL: `sqlite:${file}` }).database,
      ).toEqual({ kind: 'sqlite', url: `sqlite:${file}`, sqlitePath: file });
      expect(
        loadConfig({ WARDEN_DATA_DIR: dataDir, DATABASE_URL: `sqlite://${file}` }).database
          .sqlitePath,
      ).toBe(file);
    });

    it('keeps sqlite::memory: as an in-memory database', () => {
      const config = loadConfig({ WARDEN_DATA_DIR: dataDir, DATABASE_URL: 'sqlite::memory:' });

      expect(config.database.sqlitePath).toBe(':memory:');
    });
  });

  describe('URLs', () => {
    it('strips a trailing slash from WARDEN_BASE_URL, and the issuer follows', () => {
      const config = loadConfig({
        WARDEN_DATA_DIR: dataDir,
        WARDEN_BASE_URL: 'https://auth.example.com/',
      });

      expect(config.baseUrl).toBe('https://auth.example.com');
      expect(config.issuer).toBe('https://auth.example.com');
    });

    it('strips several trailing slashes and keeps a path', () => {
      const config = loadConfig({
        WARDEN_DATA_DIR: dataDir,
        WARDEN_BASE_URL: 'https://example.com/warden///',
      });

      expect(config.baseUrl).toBe('https://example.com/warden');
    });

    it('derives the CMJ download host from CMJ_BASE_URL', () => {
      const config = loadConfig({
        WARDEN_DATA_DIR: dataDir,
        CMJ_BASE_URL: 'https://cmj.example.com/',
      });

      expect(config.cmj.baseUrl).toBe('https://cmj.example.com');
      expect(config.cmj.keysUrl).toBe('https://cmj.example.com/keys');
      expect(config.cmj.downloadHosts).toEqual(['cmj.example.com']);
    });
  });
});

describe('loadConfig with empty variables', () => {
  it('treats an empty PORT like an unset one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-cfg-'));
    try {
      const config = loadConfig({ WARDEN_DATA_DIR: dir, PORT: '' });
      expect(config.port).toBe(3000);
      expect(config.baseUrl).toBe('http://localhost:3000');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
