import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { Readable } from 'node:stream';
import { SigningKeyEntity } from '../../src/auth/keys/signing-key.entity';
import { SecretBox } from '../../src/common/crypto/secret-box';
import { KeyRingService } from '../../src/auth/keys/key-ring.service';
import { runCli } from '../../src/cli';
import { startApp, TestApp } from '../support/app';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { adminAuth, login, newUser } from '../support/factories';
import { basic, bearer, http } from '../support/http';

const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());

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

describe('signing keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => t?.close());

  it('keeps private keys sealed at rest', async () => {
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

  it('rotation by CLI: new tokens use the new key, old tokens keep working, both keys are published', async () => {
    const user = await newUser(t);
    const before = await login(t, user);
    const oldKid = headerOf(before.authentication).kid;

    const result = await cli(t, ['rotate-keys', 'ES256']);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/New ES256 signing key/);
    // A running instance picks a rotation up on its periodic reload; run that reload now.
    await t.app.get(KeyRingService).reload();

    const after = await login(t, user);
    const newHeader = headerOf(after.authentication);
    expect(newHeader.kid).not.toBe(oldKid);
    expect(newHeader.alg).toBe('ES256');
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(after.authentication) },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await http(`${t.url}/system/whoami`, {
          headers: { authorization: bearer(before.authentication) },
        })
      ).status,
    ).toBe(200);
    expect(
      (await http(`${t.url}/system/reauth`, { headers: { authorization: bearer(before.refresh) } }))
        .status,
    ).toBe(200);

    const jwks = (await http(`${t.url}/.well-known/jwks.json`)).body;
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual(
      expect.arrayContaining([oldKid, newHeader.kid]),
    );
    const [retired] = await t.dataSource.query(
      `SELECT retired_at, publish_until FROM signing_keys WHERE kid = '${oldKid}'`,
    );
    expect(retired.retired_at).not.toBeNull();
    // Published at least as long as a refresh token signed just before the rotation can live.
    expect(new Date(retired.publish_until).getTime() - Date.now()).toBeGreaterThan(604_800 * 1000);
  });

  it('a key whose publication window has passed is no longer accepted', async () => {
    const user = await newUser(t);
    const pair = await login(t, user);
    const kid = headerOf(pair.authentication).kid;
    await t.app.get(KeyRingService).rotate();
    await t.dataSource.query(
      `UPDATE signing_keys SET publish_until = '2000-01-01 00:00:00' WHERE kid = '${kid}'`,
    );
    await t.app.get(KeyRingService).reload();
    const jwks = (await http(`${t.url}/.well-known/jwks.json`)).body;
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).not.toContain(kid);
    expect(
      (await http(`${t.url}/system/reauth`, { headers: { authorization: bearer(pair.refresh) } }))
        .status,
    ).toBe(401);
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
    // The only unretired key, newest of all: the one an earlier version would sign with.
    await t.dataSource.query(`UPDATE signing_keys SET retired_at = created_at`);
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
        createdAt: new Date(Date.now() + 60_000),
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
