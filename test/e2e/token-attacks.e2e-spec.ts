import { createHmac, createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { KeyRingService } from '../../src/auth/keys/key-ring.service';
import { signJws } from '../support/jws';
import { startApp, TestApp } from '../support/app';
import { login, newUser, Pair, TestUser } from '../support/factories';
import { bearer, http } from '../support/http';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Each security rule of the token kinds, attacked: forged, expired, wrong-kind, alg:none,
 * key confusion, foreign keys, wrong claims and claim types. Every one must be a 401 with a
 * Bearer challenge, never a 200 and never a 500.
 */
describe('token attacks', () => {
  let t: TestApp;
  let user: TestUser;
  let pair: Pair;
  let claims: Record<string, unknown>;
  let header: Record<string, unknown>;

  beforeAll(async () => {
    t = await startApp();
    user = await newUser(t);
    pair = await login(t, user);
    header = JSON.parse(Buffer.from(pair.authentication.split('.')[0], 'base64url').toString());
    claims = JSON.parse(Buffer.from(pair.authentication.split('.')[1], 'base64url').toString());
  });
  afterAll(async () => t?.close());

  /** Signs with Warden's real private key, so only the attacked rule can make the token fail. */
  const signWithWardenKey = (h: Record<string, unknown>, payload: Record<string, unknown>) => {
    const key = t.app.get(KeyRingService).signingKey();
    return signJws(h, payload, key);
  };

  const whoami = (authorization: string) =>
    http(`${t.url}/system/whoami`, { headers: { authorization } });

  async function expectRejected(token: string, path = '/system/whoami') {
    const res = await http(`${t.url}${path}`, { headers: { authorization: bearer(token) } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="warden", error="invalid_token"/,
    );
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
    return res;
  }

  it('the genuine token works (control)', async () => {
    expect((await whoami(bearer(pair.authentication))).status).toBe(200);
    expect(signWithWardenKey({ typ: 'at+jwt' }, claims)).toBeTruthy();
    expect(
      (await whoami(bearer(signWithWardenKey({ typ: 'at+jwt' }, { ...claims, jti: randomUUID() }))))
        .status,
    ).toBe(200);
  });

  it('alg: none is refused', async () => {
    const token = `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${b64(claims)}.`;
    await expectRejected(token);
    await expectRejected(
      `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${b64(claims)}.c2ln`,
    );
  });

  it('HS256 signed with the published public key (key confusion) is refused', async () => {
    const jwks = (await http(`${t.url}/.well-known/jwks.json`)).body;
    const jwk = jwks.keys.find((k: { kid: string }) => k.kid === header.kid);
    const { createPublicKey } = await import('node:crypto');
    const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
    for (const secret of [
      publicKey.export({ format: 'pem', type: 'spki' }),
      publicKey.export({ format: 'der', type: 'spki' }),
    ]) {
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })}.${b64({ ...claims, jti: randomUUID() })}`;
      const sig = createHmac('sha256', secret).update(input).digest('base64url');
      const res = await expectRejected(`${input}.${sig}`);
      expect(res.body.detail).toMatch(/Algorithm HS256 is not accepted/);
    }
  });

  it("a token signed by a key that is not Warden's is refused, whatever kid it names", async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = { alg: 'RS256' as const, key: privateKey };
    await expectRejected(
      signJws({ typ: 'at+jwt', kid: header.kid }, { ...claims, jti: randomUUID() }, foreign),
    );
    const unknownKid = await expectRejected(
      signJws({ typ: 'at+jwt', kid: 'attacker-key' }, { ...claims, jti: randomUUID() }, foreign),
    );
    expect(unknownKid.body.detail).toMatch(/not signed by a known key/);
    await expectRejected(signJws({ typ: 'at+jwt' }, { ...claims, jti: randomUUID() }, foreign));
  });

  it('jku, x5u and jwk headers are never followed', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const embedded = publicKey.export({ format: 'jwk' });
    const token = signJws(
      {
        typ: 'at+jwt',
        kid: 'embedded',
        jwk: embedded,
        jku: 'http://127.0.0.1:1/jwks.json',
        x5u: 'http://127.0.0.1:1/cert.pem',
      },
      { ...claims, jti: randomUUID() },
      { alg: 'RS256', key: createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })) },
    );
    await expectRejected(token);
  });

  it('a tampered payload is refused', async () => {
    const [h, , s] = pair.authentication.split('.');
    await expectRejected(`${h}.${b64({ ...claims, sub: randomUUID() })}.${s}`);
  });

  it('an expired token is refused with token_expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await expectRejected(
      signWithWardenKey(
        { typ: 'at+jwt' },
        { ...claims, jti: randomUUID(), iat: now - 3600, exp: now - 600 },
      ),
    );
    expect(res.body.code).toBe('token_expired');
  });

  it('a token without exp, or with exp as a string, is refused', async () => {
    const { exp: _exp, ...noExp } = claims;
    await expectRejected(signWithWardenKey({ typ: 'at+jwt' }, { ...noExp, jti: randomUUID() }));
    await expectRejected(
      signWithWardenKey(
        { typ: 'at+jwt' },
        { ...claims, jti: randomUUID(), exp: String(claims.exp) },
      ),
    );
    await expectRejected(
      signWithWardenKey({ typ: 'at+jwt' }, { ...claims, jti: randomUUID(), iss: [claims.iss] }),
    );
  });

  it('a token issued in the future (beyond the skew allowance) is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRejected(
      signWithWardenKey(
        { typ: 'at+jwt' },
        { ...claims, jti: randomUUID(), iat: now + 3600, exp: now + 7200 },
      ),
    );
    await expectRejected(
      signWithWardenKey({ typ: 'at+jwt' }, { ...claims, jti: randomUUID(), nbf: now + 3600 }),
    );
  });

  it('wrong issuer or audience is refused', async () => {
    await expectRejected(
      signWithWardenKey(
        { typ: 'at+jwt' },
        { ...claims, jti: randomUUID(), iss: 'https://evil.example' },
      ),
    );
    await expectRejected(
      signWithWardenKey(
        { typ: 'at+jwt' },
        { ...claims, jti: randomUUID(), aud: 'https://other.example' },
      ),
    );
  });

  it('a refresh token is not an access token on a protected route', async () => {
    const res = await expectRejected(pair.refresh);
    expect(res.body.detail).toMatch(/not an access token/);
  });

  it('an access token is not a refresh token on /system/reauth', async () => {
    const res = await expectRejected(pair.authentication, '/system/reauth');
    expect(res.body.detail).toMatch(/not a refresh token/);
  });

  it('the typ header decides the kind: an access token relabelled refresh+jwt is refused on reauth', async () => {
    // Valid signature, refresh typ, but the access audience: the audience check stops it.
    await expectRejected(
      signWithWardenKey({ typ: 'refresh+jwt' }, { ...claims, jti: randomUUID() }),
      '/system/reauth',
    );
    // Access typ with the refresh audience on a protected route: the typ/audience pair stops it.
    const refreshClaims = JSON.parse(
      Buffer.from(pair.refresh.split('.')[1], 'base64url').toString(),
    );
    await expectRejected(
      signWithWardenKey({ typ: 'at+jwt' }, { ...refreshClaims, jti: randomUUID() }),
    );
  });

  it("a token for a session that does not exist is refused on reauth, and a deleted user's token on APIs", async () => {
    const refreshClaims = JSON.parse(
      Buffer.from(pair.refresh.split('.')[1], 'base64url').toString(),
    );
    await expectRejected(
      signWithWardenKey(
        { typ: 'refresh+jwt' },
        { ...refreshClaims, jti: randomUUID(), sid: randomUUID() },
      ),
      '/system/reauth',
    );
    await expectRejected(
      signWithWardenKey({ typ: 'at+jwt' }, { ...claims, jti: randomUUID(), sub: randomUUID() }),
    );
  });

  it('garbage in the Authorization header is a 401, never a 500', async () => {
    for (const value of [
      'Bearer',
      'Bearer ',
      'Bearer a.b',
      'Bearer ....',
      'Bearer a.b.c',
      'Bearer %%%.%%%.%%%',
      `Bearer ${'a'.repeat(20000)}.b.c`,
      'Bearer e30.e30.',
      'Bearer W10.W10.c2ln',
      'Basic !!!',
      'Basic ' + Buffer.from('nocolon').toString('base64'),
      'Negotiate abc',
    ]) {
      const res = await whoami(value);
      expect([400, 401, 431]).toContain(res.status);
      expect(res.status).not.toBeGreaterThanOrEqual(500);
    }
    // A scheme without its credentials is a malformed request (RFC 6750 §3.1 invalid_request).
    const empty = await whoami('Bearer ');
    expect(empty.status).toBe(401);
    expect(empty.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });
});
