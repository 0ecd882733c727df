import { DirectoryService } from '../../src/auth/directory/directory.service';
import { KeyRingService } from '../../src/auth/keys/key-ring.service';
import { SigningKeysRepository } from '../../src/auth/keys/signing-keys.repository';
import { DATABASES, databaseReady, itWhen, startApp, TestApp } from '../support/app';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { basic, http } from '../support/http';

/**
 * What instances starting at once on one empty database do at the same moment: make the first
 * signing key and the bootstrap admin. Played here by the same services called concurrently.
 */
describe.each(DATABASES)('instances starting at once (%s)', (database) => {
  let t: TestApp;
  let ready = false;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (ready) t = await startApp({ database });
  });
  afterAll(async () => t?.close());

  const maybe = itWhen(database);
  const signIn = () =>
    http(`${t.url}/system/auth`, {
      headers: { authorization: basic(ADMIN_USERNAME, ADMIN_PASSWORD) },
    });

  maybe('rotations at once leave one active key, and tokens are still issued', async () => {
    const ring = t.app.get(KeyRingService);
    const kids = await Promise.all([ring.rotate(), ring.rotate(), ring.rotate()]);
    expect(new Set(kids).size).toBe(3);
    expect(await t.app.get(SigningKeysRepository).countActive()).toBe(1);
    await ring.reload();
    const res = await signIn();
    expect(res.status).toBe(200);
    expect(typeof res.body.authentication).toBe('string');
  });

  maybe('bootstraps at once make one admin, and neither fails', async () => {
    await t.dataSource.query(
      database === 'postgres'
        ? 'DELETE FROM users WHERE username_key = $1'
        : 'DELETE FROM users WHERE username_key = ?',
      [ADMIN_USERNAME.toLowerCase()],
    );
    const directory = t.app.get(DirectoryService);
    const results = await Promise.all([
      directory.ensureBootstrapAdmin(),
      directory.ensureBootstrapAdmin(),
    ]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const [{ count }] = await t.dataSource.query(
      database === 'postgres'
        ? 'SELECT COUNT(*)::int AS count FROM users WHERE username_key = $1'
        : 'SELECT COUNT(*) AS count FROM users WHERE username_key = ?',
      [ADMIN_USERNAME.toLowerCase()],
    );
    expect(Number(count)).toBe(1);
    expect((await signIn()).status).toBe(200);
  });
});
