import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { runCli, runCliAndReport } from '../../src/cli';
import { SecretBox } from '../../src/common/crypto/secret-box';
import { SettingsService } from '../../src/settings/settings.service';
import { startApp, TestApp } from '../support/app';
import { FakeAtlassian, newTenant } from '../support/atlassian';
import { auditRow, seedAudit } from '../support/audit';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { adminAuth, login, newGroup } from '../support/factories';
import { bearer, http } from '../support/http';
import { operatorPatch } from '../support/settings';

const BASE_URL = 'https://warden.example.test';

function cli(env: Record<string, string>, argv: string[]) {
  const out: string[] = [];
  const stdin = Object.assign(Readable.from([]), { isTTY: true });
  return runCli(argv, { env, stdin, out: (s) => out.push(s) }).then((code) => ({
    code,
    out: out.join(''),
  }));
}

describe('operator CLI: re-encrypting secrets under a new key', () => {
  const atlassian = new FakeAtlassian();
  const dir = mkdtempSync(join(tmpdir(), 'warden-reencrypt-'));
  const database = `sqlite:${join(dir, 'warden.sqlite')}`;
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  let env: Record<string, string> = {};

  beforeAll(() => atlassian.start());
  afterAll(async () => {
    await atlassian.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (key: string) =>
    startApp({
      env: {
        DATABASE_URL: database,
        WARDEN_ENCRYPTION_KEY: key,
        WARDEN_BASE_URL: BASE_URL,
        CONNECT_KEYS_URL: atlassian.keysUrl,
      },
    });

  it('re-seals signing keys, settings secrets and tenant secrets; the old key no longer opens them', async () => {
    const tenant = newTenant();
    let before: TestApp | undefined = await start(oldKey);
    let access: string;
    try {
      env = before.env;
      await operatorPatch(before, {
        identityProviders: [{ name: 'corp', clientSecret: 'idp-client-secret' }],
      });
      const installed = await http(`${before.url}/connect/installed`, {
        method: 'POST',
        headers: {
          authorization: `JWT ${atlassian.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed')}`,
        },
        json: atlassian.installPayload(tenant),
      });
      expect(installed.status).toBe(204);
      access = (await login(before, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD }))
        .authentication;
    } finally {
      await before.close();
      before = undefined;
    }

    const refused = await cli({ ...env, WARDEN_NEW_ENCRYPTION_KEY: oldKey }, ['reencrypt']).catch(
      (err: Error) => err,
    );
    expect(refused).toBeInstanceOf(Error);
    const run = await cli({ ...env, WARDEN_NEW_ENCRYPTION_KEY: newKey }, ['reencrypt']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(
      /Re-sealed 1 signing key\(s\), 1 settings secret\(s\), 1 Connect tenant/,
    );

    const after = await start(newKey);
    try {
      expect(after.app.get(SettingsService).get().identityProviders[0].clientSecret).toBe(
        'idp-client-secret',
      );
      const whoami = await http(`${after.url}/connect/whoami`, {
        headers: {
          authorization: `JWT ${FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami')}`,
        },
      });
      expect(whoami.status).toBe(200);
      // The signing key opened under the new key: a token it signed before still verifies, and
      // it signs new ones.
      expect(
        (await http(`${after.url}/system/whoami`, { headers: { authorization: bearer(access!) } }))
          .status,
      ).toBe(200);
      expect(
        (await login(after, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD })).authentication,
      ).toBeTruthy();
    } finally {
      await after.close();
    }
    // As stored: the new key opens the tenant's secret, the old one no longer does.
    const db = new Database(join(dir, 'warden.sqlite'), { readonly: true });
    try {
      const row = db
        .prepare('SELECT shared_secret AS s FROM connect_tenants WHERE client_key = ?')
        .get(tenant.clientKey) as { s: string };
      const context = `connect-tenant:${tenant.clientKey}`;
      expect(new SecretBox(Buffer.from(newKey, 'base64')).openText(row.s, context)).toBe(
        tenant.sharedSecret,
      );
      expect(() => new SecretBox(Buffer.from(oldKey, 'base64')).openText(row.s, context)).toThrow();
    } finally {
      db.close();
    }
  });
});

describe('operator CLI: re-encryption stops at a secret the current key does not open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-reencrypt-bad-'));
  const file = join(dir, 'warden.sqlite');
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Every stored secret, as stored, to show that a failed run changed none of them. */
  const secretsAsStored = () => {
    const db = new Database(file, { readonly: true });
    try {
      return {
        signingKeys: db
          .prepare('SELECT kid, private_key_sealed FROM signing_keys ORDER BY kid')
          .all(),
        settings: db.prepare('SELECT id, version, document FROM settings ORDER BY id').all(),
        tenants: db.prepare('SELECT client_key, shared_secret FROM connect_tenants').all(),
      };
    } finally {
      db.close();
    }
  };

  it('fails naming the row, exits non-zero, and leaves every secret as it was', async () => {
    const t = await startApp({
      env: { DATABASE_URL: `sqlite:${file}`, WARDEN_ENCRYPTION_KEY: oldKey },
    });
    const env = t.env;
    try {
      await operatorPatch(t, {
        identityProviders: [{ name: 'corp', clientSecret: 'idp-client-secret' }],
      });
    } finally {
      await t.close();
    }
    // The settings' secret sealed under some other key: signing keys come before it in the
    // run, so the run has re-sealed those when it meets this value and must undo them.
    const foreign = new SecretBox(randomBytes(32)).seal(
      'sealed-under-another-key',
      'settings:identityProviders[].clientSecret',
    );
    const db = new Database(file);
    try {
      const row = db.prepare("SELECT document FROM settings WHERE id = 'global'").get() as {
        document: string;
      };
      const document = JSON.parse(row.document);
      expect(document.identityProviders[0].clientSecret).toMatch(/^v1\./);
      document.identityProviders[0].clientSecret = foreign;
      db.prepare("UPDATE settings SET document = ? WHERE id = 'global'").run(
        JSON.stringify(document),
      );
    } finally {
      db.close();
    }
    const before = secretsAsStored();
    expect(before.signingKeys.length).toBeGreaterThan(0);

    const out: string[] = [];
    const err: string[] = [];
    const code = await runCliAndReport(['reencrypt'], {
      env: { ...env, WARDEN_NEW_ENCRYPTION_KEY: newKey },
      stdin: Object.assign(Readable.from([]), { isTTY: true }),
      out: (s) => out.push(s),
      err: (s) => err.push(s),
    });

    expect(code).toBe(1);
    const report = err.join('');
    expect(report).toContain('settings id=global (identityProviders[corp].clientSecret)');
    expect(report).toContain('nothing was changed');
    expect(report).not.toContain('idp-client-secret');
    expect(report).not.toContain(foreign);
    expect(report).not.toMatch(/\n\s+at /);
    expect(out.join('')).not.toMatch(/Re-sealed/);
    expect(secretsAsStored()).toEqual(before);
  });
});

describe('operator CLI: configuration export and import, audit purge', () => {
  let source: TestApp;
  let target: TestApp;
  const dir = mkdtempSync(join(tmpdir(), 'warden-config-'));

  beforeAll(async () => {
    source = await startApp();
    target = await startApp();
  });
  afterAll(async () => {
    await target?.close();
    await source?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports to a file and imports it on another instance, a dry run first', async () => {
    const group = await newGroup(source, 'exported-group');
    await operatorPatch(source, { groups: { readOnly: [group] } });
    const file = join(dir, 'config.json');
    const exported = await cli(source.env, ['export-config', file]);
    expect(exported.code).toBe(0);
    const document = JSON.parse(readFileSync(file, 'utf8'));
    expect(document.format).toBe('warden-cmj-export');
    expect(document.data['warden.configuration'].groups).toContain(group);

    const dry = await cli(target.env, ['import-config', file, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`would create group ${group}`);
    const groups = async () =>
      (
        await http(`${target.url}/admin/groups`, { headers: { authorization: adminAuth() } })
      ).body.map((g: { name: string }) => g.name);
    expect(await groups()).not.toContain(group);

    const real = await cli(target.env, ['import-config', file]);
    expect(real.code).toBe(0);
    expect(real.out).toContain(`create group ${group}`);
    expect(await groups()).toContain(group);
    // The CLI wrote the settings; the running instance takes them on its next poll (1 s).
    const deadline = Date.now() + 5000;
    while (
      target.app.get(SettingsService).get().groups.readOnly.length === 0 &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 100));
    expect(target.app.get(SettingsService).get().groups.readOnly).toEqual([group]);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"not": "an export"}');
    await expect(cli(target.env, ['import-config', bad])).rejects.toThrow(/not a Warden export/);
  });

  it('an import-config of a group name the API refuses reports it as the dry run does, exits 1 and creates nothing', async () => {
    const file = join(dir, 'config.json');
    expect((await cli(source.env, ['export-config', file])).code).toBe(0);
    const document = JSON.parse(readFileSync(file, 'utf8'));
    document.data['warden.configuration'].groups.push('bad/group\u0000');
    const edited = join(dir, 'bad-group.json');
    writeFileSync(edited, JSON.stringify(document));
    const problem = 'ERROR: Group "bad/group\\u0000" was not created: A group name must be';

    const dry = await cli(target.env, ['import-config', edited, '--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.out).toContain(problem);
    const real = await cli(target.env, ['import-config', edited]);
    expect(real.code).toBe(1);
    expect(real.out).toContain(problem);
    expect(real.out).not.toContain('\u0000');

    const groups = (
      await http(`${target.url}/admin/groups`, { headers: { authorization: adminAuth() } })
    ).body.map((g: { name: string }) => g.name);
    expect(groups.filter((g: string) => g.startsWith('bad'))).toEqual([]);
  });

  it('purges the audit log now', async () => {
    const old = Date.now() - 400 * 86_400_000;
    await seedAudit(
      source,
      Array.from({ length: 25 }, (_, i) =>
        auditRow({ at: new Date(old + i), requestId: `cli-${i}` }),
      ),
    );
    const run = await cli(source.env, ['purge-audit']);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/Removed (\d+) row\(s\) older than/);
    expect(Number(/Removed (\d+)/.exec(run.out)![1])).toBeGreaterThanOrEqual(25);
  });
});
