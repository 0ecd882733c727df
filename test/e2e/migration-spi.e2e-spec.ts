import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { signJws } from '../support/jws';
import { MigrationService } from '../../src/migration-spi/migration.service';
import { OperationsApiClient } from '../../src/migration-spi/operations/operations-api.client';
import { OperationStore } from '../../src/migration-spi/operations/operation-store.service';
import { OperationEntity } from '../../src/migration-spi/operations/operation.entity';
import { SettingsService } from '../../src/settings/settings.service';
import { databaseReady, startApp, TestApp } from '../support/app';
import { FakeAtlassian, newTenant } from '../support/atlassian';
import { auditEvents } from '../support/audit';
import { FakeCmj, newCmjKey } from '../support/cmj';
import { adminAuth, login, newGroup, newUser, TestUser } from '../support/factories';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { createRootLogger } from '../../src/common/logging';
import { Writable } from 'node:stream';
import { basic, bearer, http } from '../support/http';
import { operatorPatch } from '../support/settings';

const BASE_URL = 'https://warden.example.test';
const APP_KEY = 'warden-e2e';
const MAX_DOWNLOAD = 64 * 1024;

describe('CMJ migration SPI: export on one instance, import on another', () => {
  const cmj = new FakeCmj();
  const atlassian = new FakeAtlassian();
  let source: TestApp;
  let target: TestApp;
  let n = 0;
  const logLines: string[] = [];
  const waits: number[] = [];
  const operationId = (name: string) => `op-${name}-${++n}`;

  const envFor = () => ({
    WARDEN_BASE_URL: BASE_URL,
    CONNECT_APP_KEY: APP_KEY,
    CONNECT_KEYS_URL: atlassian.keysUrl,
    CMJ_BASE_URL: cmj.url,
    CMJ_KEYS_URL: cmj.keysUrl,
    CMJ_DOWNLOAD_HOSTS: cmj.downloadHost,
    CMJ_ALLOW_HTTP: 'true',
    CMJ_DOWNLOAD_MAX_BYTES: String(MAX_DOWNLOAD),
  });

  beforeAll(async () => {
    await cmj.start();
    await atlassian.start();
    atlassian.appKey = APP_KEY;
    const env = envFor();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    source = await startApp({ env, logger: createRootLogger('debug', sink) });
    // The target on another database: PostgreSQL where there is one (always under CI).
    const postgres = await databaseReady('postgres');
    target = await startApp({
      env,
      database: postgres ? 'postgres' : 'sqlite',
      logger: createRootLogger('debug', sink),
    });
    // Retries wait 200 ms, 400 ms…: the same schedule, a hundredth of the time; the waits asked
    // for are recorded.
    for (const t of [source, target]) {
      const client = t.app.get(OperationsApiClient);
      client.sleep = (ms) => {
        waits.push(ms);
        return new Promise((r) => setTimeout(r, Math.ceil(ms / 100)));
      };
    }
  }, 60_000);
  afterAll(async () => {
    await target?.close();
    await source?.close();
    await cmj.stop();
    await atlassian.stop();
  });

  const spi = (t: TestApp, path: string, body: unknown, token = cmj.sign()) =>
    http(`${t.url}/cmjspi/configuration/${path}`, {
      method: 'POST',
      headers: { authorization: bearer(token) },
      json: body,
    });
  const exportFrom = async (t: TestApp) => {
    const id = operationId('export');
    const res = await spi(t, 'export', { operationId: id, operationToken: cmj.issue(id) });
    expect(res.status).toBe(200);
    await t.app.get(MigrationService).idle();
    return { id, document: res.body };
  };
  const importInto = async (
    t: TestApp,
    link: string,
    dryRun = false,
    id = operationId('import'),
  ) => {
    const res = await spi(t, 'import', {
      operationId: id,
      operationToken: cmj.issue(id),
      downloadLink: link,
      dryRun,
      // CMJ sends metadata Warden does not use.
      migrationMetadata: { initiator: 'admin@example.com' },
    });
    await t.app.get(MigrationService).idle();
    return { id, res };
  };
  const operation = async (t: TestApp, id: string) =>
    (
      await http(`${t.url}/admin/migration/operations/${id}`, {
        headers: { authorization: adminAuth() },
      })
    ).body;
  const configurationOf = async (t: TestApp) => {
    const { document } = await exportFrom(t);
    const data = document.data['warden.configuration'];
    return { settings: data.settings, groups: data.groups };
  };

  it('serves the SPI descriptor', async () => {
    const res = await http(`${source.url}/cmj-spi.json`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      baseUrl: BASE_URL,
      appKey: APP_KEY,
      authentication: 'JWT',
      endpoints: [
        { type: 'APP_CONFIGURATION_EXPORT', path: '/cmjspi/configuration/export', apiVersion: 1 },
        { type: 'APP_CONFIGURATION_IMPORT', path: '/cmjspi/configuration/import', apiVersion: 1 },
      ],
    });
  });

  describe('a full migration', () => {
    let link: string;
    let tenantKey: string;
    let migrant: TestUser;

    const usersOf = async (t: TestApp) =>
      (await exportFrom(t)).document.data['warden.configuration'].users;

    beforeAll(async () => {
      await newGroup(source, 'api-users');
      await newGroup(source, 'auditors');
      migrant = await newUser(source, { username: 'migrant', groups: ['api-users', 'auditors'] });
      await http(`${source.url}/admin/users/migrant`, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { displayName: 'Mig Rant', email: 'migrant@example.com' },
      });
      await newUser(source, { username: 'leaver', groups: ['api-users'] });
      await http(`${source.url}/admin/users/leaver`, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { disabled: true },
      });
      await operatorPatch(source, {
        groups: { apiAccess: ['api-users'], readOnly: ['auditors'] },
        publicApis: { paths: ['/rest/api/2/serverInfo'], requireAuthentication: false },
        bypass: { paths: ['/status'] },
        identityProviders: [{ name: 'corp', clientSecret: 'source-introspection-secret' }],
      });
      await operatorPatch(target, {
        identityProviders: [{ name: 'corp', clientSecret: 'target-introspection-secret' }],
      });
      const tenant = newTenant();
      tenantKey = tenant.clientKey;
      const install = await atlassian.install(source.url, BASE_URL, tenant);
      expect(install.status).toBe(204);
    });

    it('exports the configuration without secrets, reporting progress 0 → 1 and the result with the operation token', async () => {
      const { id, document } = await exportFrom(source);
      expect(document).toMatchObject({ format: 'warden-cmj-export', version: 1, source: BASE_URL });
      const data = document.data['warden.configuration'];
      expect(data.groups).toEqual(expect.arrayContaining(['api-users', 'auditors']));
      expect(data.settings.groups.apiAccess).toEqual(['api-users']);
      expect(data.tenants).toEqual([
        expect.objectContaining({ clientKey: tenantKey, enabled: true }),
      ]);
      expect(data.users).toEqual(
        expect.arrayContaining([
          {
            username: 'migrant',
            displayName: 'Mig Rant',
            email: 'migrant@example.com',
            disabled: false,
            groups: ['api-users', 'auditors'],
          },
          expect.objectContaining({ username: 'leaver', disabled: true, groups: ['api-users'] }),
        ]),
      );
      const text = JSON.stringify(document);
      // Users travel without passwords or API tokens.
      expect(text).not.toMatch(/argon2|password|wdn_/i);
      expect(text).not.toContain('source-introspection-secret');
      expect(text).not.toMatch(/sharedSecret/);
      const progress = cmj.callsFor(id, 'progress').map((c) => c.body.progress);
      expect(progress[0]).toBe(0);
      expect(progress.at(-1)).toBe(1);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      const [result] = cmj.callsFor(id, 'result');
      expect(result.authorization).toBe(`Bearer ${cmj.tokens.get(id)}`);
      expect(result.body.problems).toEqual([]);
      expect(cmj.calls.filter((c) => c.operationId === id).every((c) => c.status === 200)).toBe(
        true,
      );
      const op = await operation(source, id);
      expect(op).toMatchObject({ kind: 'export', status: 'succeeded', holdsToken: false });
      link = cmj.link(text);
    });

    it('a dry run reports what would change and changes nothing', async () => {
      const before = await configurationOf(target);
      const { id, res } = await importInto(target, link, true);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ operationId: id, status: 'running' });
      const [result] = cmj.callsFor(id, 'result');
      expect(result.body.resultHtml).toContain('would change');
      expect(result.body.problems).toEqual([
        expect.objectContaining({
          severity: 'WARNING',
          message: expect.stringContaining(tenantKey),
        }),
      ]);
      const op = await operation(target, id);
      expect(op.status).toBe('succeeded');
      expect(op.summary.changes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ target: 'group', key: 'api-users', action: 'create' }),
          expect.objectContaining({ target: 'settings', key: 'groups.apiAccess' }),
          expect.objectContaining({ target: 'user', key: 'migrant', action: 'create' }),
        ]),
      );
      expect(result.body.status).toBe('succeeded');
      expect(result.body.items).toEqual(
        expect.arrayContaining([
          { target: 'user', key: 'migrant', outcome: 'created' },
          { target: 'group', key: 'api-users', outcome: 'created' },
          {
            target: 'tenant',
            key: tenantKey,
            outcome: 'skipped',
            reason: 'not installed on this instance',
          },
        ]),
      );
      expect(await configurationOf(target)).toEqual(before);
      expect((await usersOf(target)).map((u: { username: string }) => u.username)).not.toContain(
        'migrant',
      );
    });

    it('the import makes the target\u2019s configuration equal the source\u2019s (the target keeps its own secrets)', async () => {
      const { id, res } = await importInto(target, link);
      expect(res.status).toBe(202);
      const progress = cmj.callsFor(id, 'progress').map((c) => c.body.progress);
      expect(progress[0]).toBe(0);
      expect(progress.at(-1)).toBe(1);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      const [result] = cmj.callsFor(id, 'result');
      expect(result.authorization).toBe(`Bearer ${cmj.tokens.get(id)}`);
      expect(result.body.problems.map((p: { severity: string }) => p.severity)).toEqual([
        'WARNING',
      ]);
      expect(await configurationOf(target)).toEqual(await configurationOf(source));
      expect(await usersOf(target)).toEqual(await usersOf(source));
      // Without a password: the source's one does not sign in here.
      const [row] = await target.dataSource.query(
        `SELECT password_hash FROM users WHERE username_key = 'migrant'`,
      );
      expect(row.password_hash).toBeNull();
      expect(
        (
          await http(`${target.url}/system/auth`, {
            headers: { authorization: basic(migrant.username, migrant.password) },
          })
        ).status,
      ).toBe(401);
      const stored = await target.dataSource.query(`SELECT document FROM settings`);
      expect(stored[0].document).not.toContain('source-introspection-secret');
      expect(target.app.get(SettingsService).get().identityProviders[0].clientSecret).toBe(
        'target-introspection-secret',
      );
      const events = await auditEvents(target, { event: 'spi.*' });
      expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['spi.import.succeeded']));
      // The download carried no Authorization header; the link was used as given.
      expect(cmj.downloadsSeen.every((d) => d.authorization === undefined)).toBe(true);
      expect((await operation(target, id)).holdsToken).toBe(false);
    });
  });

  describe('operations and their tokens', () => {
    it('uses each operation\u2019s own token, also with two operations at once', async () => {
      const { document } = await exportFrom(source);
      const link = cmj.link(JSON.stringify(document));
      const [a, b] = await Promise.all([
        importInto(target, link, true, operationId('concurrent-a')),
        importInto(target, link, true, operationId('concurrent-b')),
      ]);
      for (const { id } of [a, b]) {
        const calls = cmj.callsFor(id);
        expect(calls.length).toBeGreaterThan(1);
        expect(
          calls.every(
            (c) => c.authorization === `Bearer ${cmj.tokens.get(id)}` && c.status === 200,
          ),
        ).toBe(true);
      }
    });

    it('looks up mappings for an operation with that operation\u2019s token', async () => {
      const id = operationId('mappings');
      await target.app.get(OperationStore).begin(id, 'import', cmj.issue(id), true);
      cmj.mappings.set('alice', '5b10a2844c20165700ede21g');
      const mapped = await target.app
        .get(OperationsApiClient)
        .mappings(id, 'user', ['alice', 'bob']);
      expect(mapped).toEqual([
        { sourceId: 'alice', targetId: '5b10a2844c20165700ede21g' },
        { sourceId: 'bob', targetId: null },
      ]);
      expect(cmj.callsFor(id, 'mappings')[0].authorization).toBe(`Bearer ${cmj.tokens.get(id)}`);
    });

    it('an operation called again once finished describes the new call, not the last one', async () => {
      const store = target.app.get(OperationStore);
      const id = operationId('called-again');
      await store.begin(id, 'export', cmj.issue(id), false);
      await store.end(id, 'succeeded', { exported: true });
      const finished = await operation(target, id);
      expect(finished).toMatchObject({ kind: 'export', dryRun: false, status: 'succeeded' });
      await store.begin(id, 'import', cmj.issue(id), true);
      const reopened = await operation(target, id);
      expect(reopened).toMatchObject({ kind: 'import', dryRun: true, status: 'running' });
      expect(reopened.summary ?? null).toBeNull();
    });

    it('a sealed token opens for its own operation only', async () => {
      const store = target.app.get(OperationStore);
      const [a, b] = [operationId('sealed-a'), operationId('sealed-b')];
      await store.begin(a, 'import', cmj.issue(a), true);
      await store.begin(b, 'import', cmj.issue(b), true);
      const [row] = await target.dataSource.query(
        `SELECT operation_token AS t FROM spi_operations WHERE id = ${target.config.database.kind === 'postgres' ? '$1' : '?'}`,
        [a],
      );
      expect(row.t).not.toContain(cmj.tokens.get(a));
      // A's sealed token moved into B's row does not open as B's.
      await target.dataSource
        .getRepository(OperationEntity)
        .update({ id: b }, { operationToken: row.t });
      await expect(store.token(b)).rejects.toThrow();
      expect(await store.token(a)).toBe(cmj.tokens.get(a));
    });

    it('wipes a token once it has expired, and the sweep wipes the rest', async () => {
      const store = target.app.get(OperationStore);
      const [a, b] = [operationId('expired-a'), operationId('expired-b')];
      await store.begin(a, 'import', cmj.issue(a, -5), true);
      await store.begin(b, 'import', cmj.issue(b, -5), true);
      await expect(target.app.get(OperationsApiClient).progress(a, 0.5)).rejects.toThrow(
        /no usable token/,
      );
      expect(cmj.callsFor(a)).toHaveLength(0);
      expect((await operation(target, a)).holdsToken).toBe(false);
      expect((await operation(target, b)).holdsToken).toBe(true);
      expect(await store.sweep()).toBeGreaterThanOrEqual(1);
      expect((await operation(target, b)).holdsToken).toBe(false);
    });

    it('retries a 503 and a 429, honouring Retry-After, and still delivers the result', async () => {
      const { document } = await exportFrom(source);
      const link = cmj.link(JSON.stringify(document));
      waits.length = 0;
      cmj.failures.push({ status: 503 }, { status: 429, retryAfter: '7' }, { status: 502 });
      const { id } = await importInto(target, link, true);
      const answered = cmj.callsFor(id).map((c) => c.status);
      expect(answered.filter((s) => s !== 200)).toHaveLength(3);
      // Backoff 200 ms, then the 7 s the 429 asked for, then 800 ms.
      expect(waits).toEqual([200, 7000, 800]);
      expect(cmj.callsFor(id, 'result').at(-1)?.status).toBe(200);
      expect((await operation(target, id)).summary.resultDelivered).toBe(true);
    });

    it('a failing progress report does not hold the import up or fail it', async () => {
      const group = await newGroup(source);
      const { document } = await exportFrom(source);
      const link = cmj.link(JSON.stringify(document));
      cmj.progressDown = true;
      try {
        const { id } = await importInto(target, link, true);
        expect(cmj.callsFor(id, 'progress').every((c) => c.status === 503)).toBe(true);
        expect(cmj.callsFor(id, 'result').at(-1)?.status).toBe(200);
        const op = await operation(target, id);
        expect(op.status).toBe('succeeded');
        expect(op.summary.changes).toEqual([{ target: 'group', key: group, action: 'create' }]);
      } finally {
        cmj.progressDown = false;
      }
    });

    it('a group name the API refuses is reported by the import as by its dry run, and not created', async () => {
      const bad = 'bad/group\u0000';
      const good = `imported-${n}`;
      const { document } = await exportFrom(source);
      document.data['warden.configuration'].groups.push(bad, good);
      const link = cmj.link(JSON.stringify(document));
      const groups = async () =>
        (
          await http(`${target.url}/admin/groups`, { headers: { authorization: adminAuth() } })
        ).body.map((g: { name: string }) => g.name);
      const refused = await http(`${target.url}/admin/groups`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: { name: bad },
      });
      expect(refused.status).toBe(400);

      const dry = await importInto(target, link, true);
      const real = await importInto(target, link);

      const problems = (id: string) =>
        cmj
          .callsFor(id, 'result')[0]
          .body.problems.filter((p: { severity: string }) => p.severity === 'ERROR');
      expect(problems(dry.id)).toEqual([
        {
          severity: 'ERROR',
          message: expect.stringMatching(
            /^Group "bad\/group\\u0000" was not created: A group name/,
          ),
        },
      ]);
      expect(problems(real.id)).toEqual(problems(dry.id));
      const op = await operation(target, real.id);
      // The good group was created: part of the import was applied.
      expect(op.status).toBe('partial');
      expect(cmj.callsFor(real.id, 'result')[0].body).toMatchObject({
        status: 'partial',
        items: expect.arrayContaining([
          { target: 'group', key: good, outcome: 'created' },
          {
            target: 'group',
            key: bad,
            outcome: 'failed',
            reason: expect.stringMatching(/^A group name/),
          },
        ]),
      });
      expect(op.summary.changes).toEqual(
        expect.arrayContaining([{ target: 'group', key: good, action: 'create' }]),
      );
      expect(op.summary.changes).not.toEqual(
        expect.arrayContaining([expect.objectContaining({ key: bad })]),
      );
      const after = await groups();
      expect(after).toContain(good);
      expect(after.filter((g: string) => g.startsWith('bad'))).toEqual([]);
      const [{ count }] = await target.dataSource.query(
        `SELECT COUNT(*) AS count FROM groups WHERE name LIKE 'bad%'`,
      );
      expect(Number(count)).toBe(0);
    });

    it('a partly failed import of users is partial, with every item\u2019s outcome in the result CMJ receives', async () => {
      const group = await newGroup(source);
      const { document } = await exportFrom(source);
      const data = document.data['warden.configuration'];
      const fresh = `fresh-${n}`;
      const orphan = `orphan-${n}`;
      data.users.push(
        { username: fresh, displayName: null, email: null, disabled: false, groups: [group] },
        { username: 'no/slashes', displayName: null, email: null, disabled: false, groups: [] },
        {
          username: orphan,
          displayName: null,
          email: null,
          disabled: false,
          groups: ['nowhere'],
        },
      );
      const { id } = await importInto(target, cmj.link(JSON.stringify(document)));
      const [result] = cmj.callsFor(id, 'result');
      expect(result.body.status).toBe('partial');
      const users = result.body.items.filter((i: { target: string }) => i.target === 'user');
      expect(users).toEqual(
        expect.arrayContaining([
          { target: 'user', key: fresh, outcome: 'created' },
          {
            target: 'user',
            key: 'no/slashes',
            outcome: 'failed',
            reason: expect.stringContaining('username'),
          },
          {
            target: 'user',
            key: orphan,
            outcome: 'failed',
            reason: expect.stringContaining('"nowhere"'),
          },
        ]),
      );
      expect(
        result.body.problems.filter((p: { severity: string }) => p.severity === 'ERROR'),
      ).toHaveLength(2);
      expect(result.body.resultHtml).toContain('partial');
      expect(result.body.resultHtml).toContain('no/slashes');
      expect((await operation(target, id)).status).toBe('partial');
      expect(
        (
          await http(`${target.url}/admin/users/${fresh}`, {
            headers: { authorization: adminAuth() },
          })
        ).body.groups,
      ).toEqual([group]);
      const events = await auditEvents(target, { event: 'spi.*' });
      expect(events.map((e) => e.event)).toContain('spi.import.partial');
    });

    it('an expired download link ends the operation with a clear problem reported to CMJ', async () => {
      const { id, res } = await importInto(target, cmj.link('{}', -10));
      expect(res.status).toBe(202);
      const [result] = cmj.callsFor(id, 'result');
      expect(result.body.problems).toEqual([
        { severity: 'ERROR', message: expect.stringMatching(/expired.*403/) },
      ]);
      expect((await operation(target, id)).status).toBe('failed');
    });

    it('refuses a link to a host that is not allowed, before fetching it', async () => {
      const seen = cmj.downloadsSeen.length;
      const other = cmj.link('{}').replace('127.0.0.1', 'localhost');
      const { id, res } = await importInto(target, other);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('download_not_allowed');
      expect(cmj.downloadsSeen.length).toBe(seen);
      expect(cmj.callsFor(id, 'result')[0].body.problems[0].severity).toBe('ERROR');
      const port = new URL(cmj.downloadUrl).port;
      for (const link of [
        cmj.link('{}').replace('http://', 'http://user:secret@'),
        cmj.link('{}').replace('127.0.0.1', '[::1]'),
        cmj.link('{}').replace('http://127.0.0.1', 'https://127.0.0.1.nip.io'),
        `file:///etc/passwd?port=${port}`,
      ]) {
        const refused = await importInto(target, link);
        expect(refused.res.status).toBe(400);
      }
      expect(cmj.downloadsSeen.length).toBe(seen);
    });

    it('stops reading an oversized download', async () => {
      const { id } = await importInto(target, cmj.link('x'.repeat(MAX_DOWNLOAD + 1)));
      expect(cmj.callsFor(id, 'result')[0].body.problems).toEqual([
        { severity: 'ERROR', message: expect.stringMatching(/larger than/) },
      ]);
    });

    it('reports a download that is not a Warden export', async () => {
      const { id } = await importInto(target, cmj.link('{"hello": "world"}'));
      expect(cmj.callsFor(id, 'result')[0].body.problems[0]).toEqual({
        severity: 'ERROR',
        message: 'The downloaded file is not a Warden export',
      });
    });

    it('answers a bad call with a 400 naming the fields, not a 500', async () => {
      const res = await spi(source, 'import', { operationId: 'x y', downloadLink: 5 });
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        'downloadLink',
        'operationId',
        'operationToken',
      ]);
      // A dot segment would take the operation's token to another path of the Operations API.
      for (const id of ['.', '..']) {
        const dots = await spi(source, 'export', { operationId: id, operationToken: 't' });
        expect(dots.status).toBe(400);
        expect(dots.body.errors.map((e: { field: string }) => e.field)).toEqual(['operationId']);
      }
    });
  });

  describe('who may call the SPI routes', () => {
    const body = () => {
      const id = operationId('auth');
      return { operationId: id, operationToken: cmj.issue(id) };
    };

    it('refuses an unknown kid, asking the Keys API about it once', async () => {
      const stranger = newCmjKey('kid-unknown-to-cmj');
      const before = cmj.keyRequests;
      for (let i = 0; i < 3; i++)
        expect((await spi(source, 'export', body(), cmj.sign({}, { key: stranger }))).status).toBe(
          401,
        );
      expect(cmj.keyRequests - before).toBe(1);
    });

    it('fails closed when the Keys API is down', async () => {
      const fresh = newCmjKey('kid-while-down');
      cmj.keys.set(fresh.kid, fresh);
      cmj.keysDown = true;
      try {
        const res = await spi(source, 'export', body(), cmj.sign({}, { key: fresh }));
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(/could not be fetched/);
      } finally {
        cmj.keysDown = false;
      }
      expect((await spi(source, 'export', body(), cmj.sign({}, { key: fresh }))).status).toBe(200);
    });

    it('refuses another algorithm, HS256 made with the public key, an expired token, no kid', async () => {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const es = cmj.sign({}, { key: { alg: 'ES256', privateKey, kid: cmj.key.kid } });
      expect((await spi(source, 'export', body(), es)).status).toBe(401);
      const pem = cmj.key.publicKey.export({ format: 'pem', type: 'spki' });
      const der = cmj.key.publicKey.export({ format: 'der', type: 'spki' });
      for (const secret of [Buffer.from(pem), der, Buffer.from(der.toString('base64'))]) {
        const confused = cmj.sign(
          {},
          { key: { alg: 'HS256', privateKey: createSecretKey(secret), kid: cmj.key.kid } },
        );
        expect((await spi(source, 'export', body(), confused)).status).toBe(401);
      }
      const now = Math.floor(Date.now() / 1000);
      expect(
        (await spi(source, 'export', body(), cmj.sign({ iat: now - 900, exp: now - 600 }))).status,
      ).toBe(401);
      expect((await spi(source, 'export', body(), cmj.sign({ exp: undefined }))).status).toBe(401);
      const noKid = signJws(
        { typ: 'JWT' },
        { exp: now + 60 },
        { alg: 'RS256', key: cmj.key.privateKey },
      );
      expect((await spi(source, 'export', body(), noKid)).status).toBe(401);
    });

    describe('the audience, with CMJ_JWT_AUDIENCE unset', () => {
      const status = async (aud: unknown) =>
        (await spi(source, 'export', body(), cmj.sign({ aud }))).status;

      it('accepts a token without aud (the SPI documents none)', async () => {
        expect(await status(undefined)).toBe(200);
      });

      it('accepts an aud naming WARDEN_BASE_URL or CONNECT_APP_KEY, alone or among others', async () => {
        expect(await status(BASE_URL)).toBe(200);
        expect(await status(`${BASE_URL}/`)).toBe(200);
        expect(await status(APP_KEY)).toBe(200);
        expect(await status(['https://other.example', APP_KEY])).toBe(200);
        expect(await status([BASE_URL])).toBe(200);
      });

      it('refuses a token CMJ made for another app', async () => {
        const otherApp = await spi(
          source,
          'export',
          body(),
          cmj.sign({ aud: 'https://other.example' }),
        );
        expect(otherApp.status).toBe(401);
        expect(otherApp.body.code).toBe('invalid_token');
        expect(otherApp.body.detail).toMatch(/audience/);
        for (const aud of [
          ['https://other.example', 'other-app'],
          [],
          '',
          `${BASE_URL}/x`,
          BASE_URL.toUpperCase(),
          `${APP_KEY}-staging`,
        ])
          expect({ aud, status: await status(aud) }).toEqual({ aud, status: 401 });
      });

      it('refuses an aud of another JSON type rather than reading it', async () => {
        for (const aud of [42, { aud: BASE_URL }, null, true, [BASE_URL, 7], [[BASE_URL]]]) {
          const res = await spi(source, 'export', body(), cmj.sign({ aud }));
          expect({ aud, status: res.status }).toEqual({ aud, status: 401 });
          expect(res.body.detail).toMatch(/aud/);
        }
      });
    });

    describe('the audience, with CMJ_JWT_AUDIENCE set', () => {
      const AUDIENCE = 'urn:warden:cmj-spi';
      let strict: TestApp;

      beforeAll(async () => {
        strict = await startApp({ env: { ...envFor(), CMJ_JWT_AUDIENCE: AUDIENCE } });
      }, 60_000);
      afterAll(async () => strict?.close());

      const status = async (aud: unknown) =>
        (await spi(strict, 'export', body(), cmj.sign({ aud }))).status;

      it('accepts a token whose aud is that value, or holds it', async () => {
        expect(await status(AUDIENCE)).toBe(200);
        expect(await status(['https://other.example', AUDIENCE])).toBe(200);
      });

      it('refuses a token without aud', async () => {
        const res = await spi(strict, 'export', body(), cmj.sign({ aud: undefined }));
        expect(res.status).toBe(401);
        expect(res.body.detail).toMatch(/audience/);
      });

      it('refuses any other aud, WARDEN_BASE_URL and CONNECT_APP_KEY included', async () => {
        for (const aud of [BASE_URL, APP_KEY, 'https://other.example', [BASE_URL, APP_KEY], 42])
          expect({ aud, status: await status(aud) }).toEqual({ aud, status: 401 });
      });
    });

    it('takes no other credential kind, and its token is taken nowhere else', async () => {
      const basicAdmin = await http(`${source.url}/cmjspi/configuration/export`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: body(),
      });
      expect(basicAdmin.status).toBe(401);
      // An installed tenant's valid request token, bound to this very request.
      const tenant = newTenant();
      const installed = await atlassian.install(source.url, BASE_URL, tenant);
      expect(installed.status).toBe(204);
      const check = FakeAtlassian.requestToken(tenant, 'GET', '/connect/whoami');
      expect(
        (await http(`${source.url}/connect/whoami`, { headers: { authorization: `JWT ${check}` } }))
          .status,
      ).toBe(200);
      const connect = FakeAtlassian.requestToken(tenant, 'POST', '/cmjspi/configuration/export');
      const asConnect = await http(`${source.url}/cmjspi/configuration/export`, {
        method: 'POST',
        headers: { authorization: `JWT ${connect}` },
        json: body(),
      });
      expect(asConnect.status).toBe(401);
      const { authentication } = await login(source, {
        username: ADMIN_USERNAME,
        password: ADMIN_PASSWORD,
      });
      const asWarden = await http(`${source.url}/cmjspi/configuration/export`, {
        method: 'POST',
        headers: { authorization: bearer(authentication) },
        json: body(),
      });
      expect(asWarden.status).toBe(401);
      const token = cmj.sign();
      expect(
        (await http(`${source.url}/system/whoami`, { headers: { authorization: bearer(token) } }))
          .status,
      ).toBe(401);
      const decide = (presented = token) =>
        http(`${source.url}/authz/decision`, {
          headers: {
            authorization: bearer(presented),
            'x-original-method': 'GET',
            'x-original-uri': '/rest/x',
          },
        });
      // At the decision endpoint a foreign bearer token is at most the upstream's own
      // (nativeOAuthTokens): never taken as CMJ's. One addressed to Warden (its aud is Warden's
      // base URL, which is Warden's issuer) names Warden, so it is no upstream's: refused.
      const judged = await decide();
      expect(judged.status).toBe(401);
      expect(judged.headers.get('x-warden-auth-method')).toBeNull();
      const elsewhere = cmj.sign({ aud: 'https://jira.example.test' });
      const passedOn = await decide(elsewhere);
      expect(passedOn.status).toBe(200);
      expect(passedOn.headers.get('x-warden-auth-method')).toBe('native');
      await operatorPatch(source, { nativeOAuthTokens: { allowed: false } });
      try {
        expect((await decide(elsewhere)).status).toBe(401);
      } finally {
        await operatorPatch(source, { nativeOAuthTokens: { allowed: true } });
      }
    });
  });

  it('never writes an operation token to the log', async () => {
    expect(logLines.length).toBeGreaterThan(0);
    const log = logLines.join('');
    for (const token of cmj.tokens.values()) expect(log).not.toContain(token);
  });
});
