import {
  createPublicKey,
  generateKeyPairSync,
  JsonWebKey,
  sign as cryptoSign,
  verify,
} from 'node:crypto';
import { Readable } from 'node:stream';
import { KeyView } from '../../src/auth/keys/dto/keys.dto';
import { SigningKeyEntity } from '../../src/auth/keys/signing-key.entity';
import { SecretBox } from '../../src/common/crypto/secret-box';
import { KeyRingService } from '../../src/auth/keys/key-ring.service';
import { KeyRotationJob } from '../../src/auth/keys/key-rotation.job';
import { MIN_PRE_PUBLISH_SECONDS } from '../../src/settings/key-timing';
import { runCli } from '../../src/cli';
import { Clock } from '../../src/common/clock';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { auditEvents } from '../support/audit';
import { DATABASES, databaseReady, itWhen, startApp, TestApp } from '../support/app';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { adminAuth, login, newUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';
import { patchSettings } from '../support/settings';

const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());

/** A verifier of Warden's tokens outside Warden: node:crypto and a JWKS it holds. */
function verifies(token: string, jwks: { keys: JsonWebKey[] }): boolean {
  const [header, payload, signature] = token.split('.');
  const { kid, alg } = JSON.parse(Buffer.from(header, 'base64url').toString());
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const digest = alg === 'EdDSA' ? null : 'sha256';
  return verify(
    digest,
    Buffer.from(`${header}.${payload}`),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
    Buffer.from(signature, 'base64url'),
  );
}

function cli(t: TestApp, argv: string[], stdin?: string) {
  const out: string[] = [];
  const input =
    stdin === undefined
      ? Object.assign(Readable.from([]), { isTTY: true })
      : Readable.from([Buffer.from(stdin)]);
  return runCli(argv, { env: t.env, stdin: input, out: (s) => out.push(s) }).then((code) => ({
    code,
    out: out.join(''),
  }));
}

describe.each(DATABASES)('signing keys (%s)', (database) => {
  let t: TestApp;
  let ready = false;
  /** How far the app's clock has been moved ahead; it only ever moves forward here. */
  let offset = 0;

  beforeAll(async () => {
    ready = await databaseReady(database);
    if (!ready) return;
    t = await startApp({ database });
    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => Date.now() + offset);
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t?.close();
  });

  const maybe = itWhen(database);
  const advance = (ms: number) => {
    offset += ms;
  };
  const keys = async (): Promise<KeyView[]> => {
    const res = await http(`${t.url}/admin/keys`, { headers: { authorization: adminAuth() } });
    expect(res.status).toBe(200);
    return res.body;
  };
  const rotate = (json: unknown = {}) =>
    http(`${t.url}/admin/keys/rotate`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json,
    });
  const jwks = async (): Promise<{ keys: JsonWebKey[] }> =>
    (await http(`${t.url}/.well-known/jwks.json`)).body;

  maybe('keeps private keys sealed at rest', async () => {
    const rows = await t.dataSource.query(
      'SELECT private_key_sealed, public_jwk FROM signing_keys',
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.private_key_sealed).toMatch(/^v1\./);
      expect(row.private_key_sealed).not.toContain('PRIVATE KEY');
      expect(JSON.parse(row.public_jwk).d).toBeUndefined();
    }
  });

  maybe('the first key signs at once; only administrators see or rotate the keys', async () => {
    const [first, ...others] = await keys();
    expect(others).toEqual([]);
    expect(first).toMatchObject({ state: 'active', retiresAt: null, publishedUntil: null });
    expect(first.activatesAt).toBe(first.createdAt);
    const user = await newUser(t);
    const asUser = { authorization: basic(user.username, user.password) };
    expect((await http(`${t.url}/admin/keys`, { headers: asUser })).status).toBe(403);
    expect(
      (await http(`${t.url}/admin/keys/rotate`, { method: 'POST', headers: asUser, json: {} }))
        .status,
    ).toBe(403);
    expect((await http(`${t.url}/admin/keys`)).status).toBe(401);
  });

  maybe('a rotation with a bad body is a 400, never a 500', async () => {
    for (const body of [{ algorithm: 'HS256' }, { algorithm: 7 }, { algorithm: 'none' }]) {
      const res = await rotate(body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    }
    expect((await keys()).length).toBe(1);
  });

  maybe(
    'a new key is published as next and signs nothing until prePublishSeconds; a verifier holding the JWKS from before the switch verifies tokens signed after it',
    async () => {
      const user = await newUser(t);
      const fetchedBeforeRotation = await jwks();
      const [old] = await keys();

      const res = await rotate({ algorithm: 'ES256' });
      expect(res.status).toBe(201);
      const next: KeyView = res.body;
      expect(next).toMatchObject({ algorithm: 'ES256', state: 'next', retiresAt: null });
      const prePublishMs = DEFAULT_SETTINGS.keys.prePublishSeconds * 1000;
      expect(Date.parse(next.activatesAt) - Date.parse(next.createdAt)).toBe(prePublishMs);
      expect(await keys()).toEqual([
        { ...old, retiresAt: next.activatesAt, publishedUntil: expect.any(String) },
        next,
      ]);

      // Until the activation the old key signs: a verifier that fetched the JWKS before the
      // rotation needs nothing new.
      const beforeSwitch = await login(t, user);
      expect(headerOf(beforeSwitch.authentication).kid).toBe(old.kid);
      expect(verifies(beforeSwitch.authentication, fetchedBeforeRotation)).toBe(true);

      const cached = await http(`${t.url}/.well-known/jwks.json`);
      const maxAge = Number(/max-age=(\d+)/.exec(cached.headers.get('cache-control')!)![1]);
      expect(maxAge * 1000).toBeLessThan(prePublishMs);
      expect(cached.body.keys.map((k: JsonWebKey) => k.kid)).toEqual([old.kid, next.kid]);

      advance(prePublishMs - 1000);
      expect(headerOf((await login(t, user)).authentication).kid).toBe(old.kid);
      advance(1000);
      const afterSwitch = await login(t, user);
      expect(headerOf(afterSwitch.authentication)).toMatchObject({ kid: next.kid, alg: 'ES256' });
      // The set cached before the switch verifies the new key's tokens.
      expect(verifies(afterSwitch.authentication, cached.body)).toBe(true);
      expect(verifies(afterSwitch.authentication, fetchedBeforeRotation)).toBe(false);

      // Both keep working at Warden too.
      for (const token of [beforeSwitch.authentication, afterSwitch.authentication])
        expect(
          (await http(`${t.url}/system/whoami`, { headers: { authorization: bearer(token) } }))
            .status,
        ).toBe(200);
      expect((await keys()).map((k) => [k.kid, k.state])).toEqual([
        [old.kid, 'retiring'],
        [next.kid, 'active'],
      ]);
      const events = await auditEvents(t, { event: 'keys.rotated' });
      expect(events.at(0)).toMatchObject({
        actor: ADMIN_USERNAME,
        details: expect.objectContaining({ kid: next.kid }),
      });
    },
  );

  maybe('a retired key leaves the JWKS once the last token it signed has expired', async () => {
    const user = await newUser(t);
    const [retiring] = (await keys()).filter((k) => k.state === 'retiring');
    const pair = await login(t, user);
    const signer = headerOf(pair.refresh).kid;
    expect(signer).not.toBe(retiring.kid);
    // The longest token the retiring key signed: a refresh token issued just before its retirement.
    const { refreshTtlSeconds } = DEFAULT_SETTINGS.tokens;
    expect(Date.parse(retiring.publishedUntil!) - Date.parse(retiring.retiresAt!)).toBeGreaterThan(
      refreshTtlSeconds * 1000,
    );

    advance(Date.parse(retiring.publishedUntil!) - (Date.now() + offset) - 2000);
    expect((await jwks()).keys.map((k) => k.kid)).toContain(retiring.kid);
    advance(2000);
    expect((await jwks()).keys.map((k) => k.kid)).not.toContain(retiring.kid);
    expect((await keys()).map((k) => k.kid)).not.toContain(retiring.kid);
  });

  maybe('keys.rotateEveryDays rotates on schedule, once, and 0 never does', async () => {
    await patchSettings(t, { keys: { rotateEveryDays: 1 } });
    const job = t.app.get(KeyRotationJob);
    // The active key began signing over a day ago (the last test moved the clock a week on):
    // due, and rotated once however often the job runs.
    await job.run();
    await job.run();
    const first = await keys();
    expect(first.map((k) => k.state)).toEqual(['active', 'next']);
    const pending = first[1];
    const events = await auditEvents(t, { event: 'keys.rotated' });
    expect(events[0]).toMatchObject({
      actor: 'system',
      reason: 'schedule',
      details: expect.objectContaining({ kid: pending.kid }),
    });

    // The next one is due a day after the pending key's activation, not a day after now.
    advance(Date.parse(pending.activatesAt) + 86_400_000 - (Date.now() + offset) - 60_000);
    await job.run();
    expect((await keys()).map((k) => k.kid)).toEqual(first.map((k) => k.kid));
    advance(60_000);
    await job.run();
    await job.run();
    const second = await keys();
    expect(second.map((k) => k.state)).toEqual(['retiring', 'active', 'next']);

    await patchSettings(t, { keys: { rotateEveryDays: 0 } });
    advance(30 * 86_400_000);
    await job.run();
    expect((await keys()).map((k) => k.kid)).toEqual(second.map((k) => k.kid).slice(-1));
  });

  maybe('keys.prePublishSeconds must exceed the JWKS max-age', async () => {
    const cacheControl = (await http(`${t.url}/.well-known/jwks.json`)).headers.get(
      'cache-control',
    )!;
    const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)![1]);
    await expect(patchSettings(t, { keys: { prePublishSeconds: maxAge } })).rejects.toThrow(
      /400.*keys\.prePublishSeconds/,
    );
    await expect(patchSettings(t, { keys: { rotateEveryDays: -1 } })).rejects.toThrow(/400/);
    await patchSettings(t, { keys: { prePublishSeconds: MIN_PRE_PUBLISH_SECONDS } });
    expect(MIN_PRE_PUBLISH_SECONDS).toBeGreaterThan(maxAge);
  });
});

describe('rotate-keys by CLI', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await t?.close();
  });

  it('publishes the new key; it signs after prePublishSeconds, and old tokens keep working', async () => {
    const user = await newUser(t);
    const before = await login(t, user);
    const oldKid = headerOf(before.authentication).kid;

    const result = await cli(t, ['rotate-keys', 'ES256']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/New ES256 signing key \S+ is published \(next\) and signs from /);
    // The CLI is another process without a bus here: the running instance picks the key up on
    // its periodic reload; run that reload now.
    await t.app.get(KeyRingService).reload();
    expect(headerOf((await login(t, user)).authentication).kid).toBe(oldKid);

    const later = Date.now() + DEFAULT_SETTINGS.keys.prePublishSeconds * 1000;
    jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => later);
    const after = await login(t, user);
    const newHeader = headerOf(after.authentication);
    expect(newHeader.kid).not.toBe(oldKid);
    expect(newHeader.alg).toBe('ES256');
    for (const token of [after.authentication, before.authentication])
      expect(
        (await http(`${t.url}/system/whoami`, { headers: { authorization: bearer(token) } }))
          .status,
      ).toBe(200);
    expect(
      (await http(`${t.url}/system/reauth`, { headers: { authorization: bearer(before.refresh) } }))
        .status,
    ).toBe(200);
    const published = (await http(`${t.url}/.well-known/jwks.json`)).body;
    expect(published.keys.map((k: { kid: string }) => k.kid)).toEqual(
      expect.arrayContaining([oldKid, newHeader.kid]),
    );
  });
});

describe.each(['RS256', 'ES256'])('signing with %s', (algorithm) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ env: { WARDEN_SIGNING_ALGORITHM: algorithm } });
  });
  afterAll(async () => t?.close());

  it('issues and accepts tokens signed with the selected algorithm', async () => {
    const user = await newUser(t);
    const pair = await login(t, user);
    expect(headerOf(pair.authentication).alg).toBe(algorithm);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(200);
    const renewed = await http(`${t.url}/system/reauth`, {
      headers: { authorization: bearer(pair.refresh) },
    });
    expect(renewed.status).toBe(200);
  });
});

/**
 * EdDSA was a signing choice before tokens were signed and verified by jsonwebtoken, which has
 * no EdDSA: an installation whose active key is one gets a new key at start, and the old key's
 * tokens are refused (their holders sign in again).
 */
describe('an EdDSA signing key left by an earlier version', () => {
  let t: TestApp | undefined;
  afterAll(async () => t?.close());

  it('is no longer a choice', async () => {
    await expect(startApp({ env: { WARDEN_SIGNING_ALGORITHM: 'EdDSA' } })).rejects.toThrow(
      /WARDEN_SIGNING_ALGORITHM must be one of RS256, ES256/,
    );
  });

  it('is replaced at start by a key of the configured algorithm, and leaves the JWKS', async () => {
    t = await startApp();
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const box = new SecretBox(t.config.encryptionKey.key);
    const kid = 'earlier-eddsa-key';
    // An installation configured with EdDSA: its only key is one.
    await t.dataSource.query(`DELETE FROM signing_keys`);
    await t.dataSource
      .createQueryBuilder()
      .insert()
      .into(SigningKeyEntity)
      .values({
        kid,
        algorithm: 'EdDSA',
        publicJwk: JSON.stringify(publicKey.export({ format: 'jwk' })),
        privateKeySealed: box.seal(
          privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
          `signing-key:${kid}`,
        ),
        createdAt: new Date(Date.now() - 60_000),
        activatesAt: new Date(Date.now() - 60_000),
        retiredAt: null,
        publishUntil: null,
      })
      .execute();
    const ring = t.app.get(KeyRingService);
    await ring.reload();
    await ring.onModuleInit();
    ring.onModuleDestroy();
    const jwks = (await http(`${t.url}/.well-known/jwks.json`)).body;
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).not.toContain(kid);
    const pair = await login(t, await newUser(t));
    expect(headerOf(pair.authentication).alg).toBe('RS256');
    // A token the EdDSA key signed, as an earlier version made them, is refused.
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid })}.${b64({ iss: t.config.issuer, aud: t.config.baseUrl, sub: 'x', sid: 'y', jti: 'z', iat: now, exp: now + 600 })}`;
    const eddsaToken = `${input}.${cryptoSign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    const refused = await http(`${t.url}/system/whoami`, {
      headers: { authorization: bearer(eddsaToken) },
    });
    expect(refused.status).toBe(401);
  });
});

describe('CLI recovery', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => t?.close());

  it('create-admin changes nothing when an admin exists', async () => {
    const result = await cli(t, ['create-admin']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/exists already/);
    expect(
      (
        await http(`${t.url}/system/auth`, {
          headers: { authorization: basic(ADMIN_USERNAME, ADMIN_PASSWORD) },
        })
      ).status,
    ).toBe(200);
  });

  it('reset-password sets the password from stdin and ends the sessions', async () => {
    const user = await newUser(t);
    const pair = await login(t, user);
    const result = await cli(t, ['reset-password', user.username], 'a-recovered-password-42\n');
    expect(result.code).toBe(0);
    expect(result.out).not.toContain('a-recovered-password-42');
    expect(
      (
        await http(`${t.url}/system/auth`, {
          headers: { authorization: basic(user.username, 'a-recovered-password-42') },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await http(`${t.url}/system/auth`, {
          headers: { authorization: basic(user.username, user.password) },
        })
      ).status,
    ).toBe(401);
    // The running instance sees the revocation by its poll within a second.
    await new Promise((r) => setTimeout(r, 1500));
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(pair.authentication) },
        })
      ).status,
    ).toBe(401);
  });

  it('reset-password without stdin generates and prints a password that works', async () => {
    const user = await newUser(t);
    const result = await cli(t, ['reset-password', user.username]);
    const password = /New password of "[^"]+": (\S+)/.exec(result.out)?.[1];
    expect(password).toBeDefined();
    expect(
      (
        await http(`${t.url}/system/auth`, {
          headers: { authorization: basic(user.username, password!) },
        })
      ).status,
    ).toBe(200);
  });

  it('reset-password refuses an empty pipe and a password shaped like an API token', async () => {
    const user = await newUser(t);
    // An empty pipe (an unset variable upstream) is not a terminal asking for a generated one.
    await expect(cli(t, ['reset-password', user.username], '')).rejects.toThrow(/stdin is empty/);
    await expect(cli(t, ['reset-password', user.username], '\n')).rejects.toThrow(/stdin is empty/);
    await expect(
      cli(t, ['reset-password', user.username], 'wdn_looks-like-a-token-42'),
    ).rejects.toThrow(/must not start with wdn_/);
    // Nothing changed: the old password still signs in.
    expect((await login(t, user)).authentication).toBeTruthy();
  });

  it('a password starting with wdn_ is refused by the admin API: over Basic it reads as a token', async () => {
    const res = await http(`${t.url}/admin/users`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json: { username: `wdn-${Date.now()}`, password: 'wdn_Carol-pass-123456' },
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('password');
  });

  it('an unknown command or user fails with a non-zero code', async () => {
    await expect(cli(t, ['frobnicate'])).rejects.toThrow(/unknown command/);
    await expect(
      cli(t, ['reset-password', 'nobody-at-all'], 'long-enough-password'),
    ).rejects.toThrow(/No user/);
  });
});
