import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load-config';
import { createRootLogger } from '../../src/common/logging';
import { startApp, TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';

const modeOf = (path: string) => statSync(path).mode & 0o777;

/**
 * The SQLite database, its -wal and -shm files and the generated encryption key hold password
 * and token hashes and sealed secrets: the owner's only, whatever the process umask.
 */
describe('files under the data folder are private to their owner', () => {
  let base: string;
  let dataDir: string;
  let database: string;
  let umask: number;
  let t: TestApp | undefined;
  const logLines: string[] = [];

  const start = () =>
    startApp({
      env: {
        WARDEN_DATA_DIR: dataDir,
        DATABASE_URL: `sqlite:${database}`,
        // Unset: generated into the data folder, as on a fresh clone.
        WARDEN_ENCRYPTION_KEY: '',
      },
      logger: createRootLogger(
        'info',
        new Writable({
          write(chunk, _encoding, done) {
            logLines.push(chunk.toString());
            done();
          },
        }),
      ),
    });

  beforeAll(() => {
    // The usual umask, which alone would make every new file 0644 and folder 0755.
    umask = process.umask(0o022);
    base = mkdtempSync(join(tmpdir(), 'warden-files-'));
    dataDir = join(base, 'data');
    database = join(dataDir, 'warden.sqlite');
  });
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });
  afterAll(() => {
    process.umask(umask);
    rmSync(base, { recursive: true, force: true });
  });

  it('a fresh start makes the folder 0700 and the database, -wal, -shm and key files 0600', async () => {
    expect(existsSync(dataDir)).toBe(false);
    t = await start();
    // A write, so that the WAL is in use.
    const created = await http(`${t.url}/admin/groups`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json: { name: 'file-modes' },
    });
    expect(created.status).toBe(201);
    expect(modeOf(dataDir)).toBe(0o700);
    const files = [database, `${database}-wal`, `${database}-shm`, join(dataDir, 'encryption.key')];
    for (const file of files) {
      expect(existsSync(file)).toBe(true);
      expect({ file, mode: modeOf(file).toString(8) }).toEqual({ file, mode: '600' });
    }
  });

  it('an existing database file others can read is made 0600 at start, with a warning', async () => {
    expect(existsSync(database)).toBe(true);
    chmodSync(database, 0o644);
    for (const file of [`${database}-wal`, `${database}-shm`])
      if (existsSync(file)) chmodSync(file, 0o644);
    logLines.length = 0;
    t = await start();
    for (const file of [database, `${database}-wal`, `${database}-shm`])
      if (existsSync(file)) expect({ file, mode: modeOf(file) }).toEqual({ file, mode: 0o600 });
    const warning = logLines.find((line) => line.includes(database) && line.includes('644'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning!).level).toBe(40);
    // The data is still there.
    const groups = await http(`${t.url}/admin/groups`, { headers: { authorization: adminAuth() } });
    expect(groups.body.map((g: { name: string }) => g.name)).toContain('file-modes');
  });

  it('an existing folder others can enter is named in a warning, and left as it is', async () => {
    chmodSync(dataDir, 0o755);
    logLines.length = 0;
    t = await start();
    expect(logLines.some((line) => line.includes(dataDir) && line.includes('755'))).toBe(true);
    expect(modeOf(dataDir)).toBe(0o755);
    chmodSync(dataDir, 0o700);
  });

  it('an encryption key file others can read is made 0600 when the configuration is loaded', () => {
    const dir = join(base, 'keys');
    const key = join(dir, 'encryption.key');
    const first = loadConfig({ NODE_ENV: 'test', WARDEN_DATA_DIR: dir });
    expect(first.encryptionKey.generatedAt).toBe(key);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(key)).toBe(0o600);
    chmodSync(key, 0o644);
    const again = loadConfig({ NODE_ENV: 'test', WARDEN_DATA_DIR: dir });
    expect(again.encryptionKey.key.equals(first.encryptionKey.key)).toBe(true);
    expect(again.encryptionKey.tightened).toEqual({ file: key, mode: '644' });
    expect(modeOf(key)).toBe(0o600);
    // Already private: nothing to say.
    expect(loadConfig({ NODE_ENV: 'test', WARDEN_DATA_DIR: dir }).encryptionKey.tightened).toBe(
      undefined,
    );
  });
});
