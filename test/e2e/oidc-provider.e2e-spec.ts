import { generateKeyPairSync } from 'node:crypto';
import { Clock } from '../../src/common/clock';
import { signJws } from '../support/jws';
import { startApp, TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { bearer, http } from '../support/http';
import { OidcProvider } from '../support/oidc-provider';
import { operatorPatch } from '../support/settings';

/** What a Jira / Confluence Data Center personal access token looks like. */
const JIRA_PAT = 'NjQ1MjE3NTk0MjQ3OmWq9xkZ0zQbRnUe7V2cKx3Lh0sPqYtM';
/** oidc-provider's opaque access tokens: 43 base64url characters (256 bits). */
const OPAQUE_TOKENS = '^[A-Za-z0-9_-]{43}$';

/**
 * Two real OpenID providers configured at once: `alpha` issues JWT access tokens (RFC 9068)
 * that Warden verifies with its JWK set; `beta` is asked about its tokens (RFC 7662). Native
 * tokens are allowed, so only what `beta`'s pattern claims is ever sent to it.
 */
describe('two real OpenID providers at once: one by its JWK set, one by introspection', () => {
  let t: TestApp;
  const alpha = new OidcProvider({ id: 'alpha-client', secret: 'alpha-client-secret' });
  const beta = new OidcProvider({ id: 'beta-client', secret: 'beta-client-secret' });

  beforeAll(async () => {
    await Promise.all([alpha.start(), beta.start()]);
    t = await startApp({ env: { WARDEN_IDP_ALLOW_HTTP: 'true' } });
    await operatorPatch(t, {
      nativeOAuthTokens: { allowed: true },
      identityProviders: [
        {
          name: 'alpha',
          enabled: true,
          mode: 'jwks',
          jwksUrl: alpha.jwksUrl,
          issuer: alpha.issuer,
          audience: alpha.jwtAudience,
          algorithms: ['RS256'],
          // A client_credentials token stands for the client.
          usernameClaim: 'client_id',
        },
        {
          name: 'beta',
          enabled: true,
          mode: 'introspection',
          introspectionUrl: beta.introspectionUrl,
          clientId: beta.client.id,
          clientSecret: beta.client.secret,
          issuer: beta.issuer,
          usernameClaim: 'client_id',
          // Asked every time, so that a revocation shows at once.
          introspectionCacheSeconds: 0,
          opaqueTokens: OPAQUE_TOKENS,
        },
      ],
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([alpha.stop(), beta.stop()]);
  });

  const ask = (token: string) =>
    http(`${t.url}/authz/decision`, {
      headers: {
        'x-original-method': 'GET',
        'x-original-uri': '/rest/api/2/myself',
        authorization: bearer(token),
      },
    });
  const test = (token: string) =>
    http(`${t.url}/admin/identity-providers/test`, {
      method: 'POST',
      headers: { authorization: adminAuth() },
      json: { token },
    });
  const counts = async () => ({
    alphaJwks: await alpha.jwksRequests(),
    alphaIntrospections: await alpha.introspections(),
    betaJwks: await beta.jwksRequests(),
    betaIntrospections: await beta.introspections(),
  });

  it("an upstream's personal access token reaches neither provider: it is passed on as native", async () => {
    const before = await counts();
    const res = await ask(JIRA_PAT);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-auth-method')).toBe('native');
    expect(res.headers.get('x-warden-user')).toBeNull();
    expect(await counts()).toEqual(before);
  });

  it("alpha's JWT access token is verified with alpha's JWK set, and nobody is asked about it", async () => {
    const token = await alpha.accessToken('jwt');
    const before = await counts();
    const res = await ask(token);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-auth-method')).toBe('external');
    expect(res.headers.get('x-warden-user')).toBe(alpha.client.id);
    expect(await counts()).toEqual({ ...before, alphaJwks: before.alphaJwks + 1 });
    expect((await test(token)).body).toMatchObject({
      provider: 'alpha',
      valid: true,
      username: alpha.client.id,
    });
    // Its audience is alpha's API: the same provider's token for no resource is opaque, and beta's pattern
    // claims that shape — so beta is asked, and does not know it.
    const opaque = await alpha.accessToken();
    expect((await ask(opaque)).status).toBe(401);
  });

  it("beta's opaque token is introspected at beta and allowed; once revoked there, it is refused", async () => {
    const token = await beta.accessToken();
    expect(token).toMatch(new RegExp(OPAQUE_TOKENS));
    const before = await counts();

    const allowed = await ask(token);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('x-warden-auth-method')).toBe('external');
    expect(allowed.headers.get('x-warden-user')).toBe(beta.client.id);
    expect(await counts()).toEqual({
      ...before,
      betaIntrospections: before.betaIntrospections + 1,
    });

    await beta.revoke(token);
    const refused = await ask(token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-warden-auth-method')).toBeNull();
    expect((await counts()).betaIntrospections).toBe(before.betaIntrospections + 2);
    expect((await test(token)).body).toMatchObject({
      provider: 'beta',
      valid: false,
      reason: 'bad_claim',
    });
  });

  it("beta's JWT access token names beta: it goes to beta's introspection, never to alpha's keys", async () => {
    const token = await beta.accessToken('jwt');
    const before = await counts();
    const res = await ask(token);
    // oidc-provider keeps no record of the JWT access tokens it signs, so its introspection
    // endpoint calls them inactive: refused, and neither passed on nor tried against alpha.
    expect(res.status).toBe(401);
    expect(res.headers.get('x-warden-auth-method')).toBeNull();
    expect(await counts()).toEqual({
      ...before,
      betaIntrospections: before.betaIntrospections + 1,
    });
    expect((await test(token)).body).toMatchObject({ provider: 'beta', valid: false });
  });

  it('a token of the pattern beta does not know is judged by beta and refused, not passed on', async () => {
    const before = await beta.introspections();
    const res = await ask('A'.repeat(43));
    expect(res.status).toBe(401);
    expect(await beta.introspections()).toBe(before + 1);
  });

  it('a key rotation at alpha is followed through one fetch of its set; made-up kids fetch nothing', async () => {
    expect((await ask(await alpha.accessToken('jwt'))).status).toBe(200);
    const kid = await alpha.rotateKey();
    const token = await alpha.accessToken('jwt');
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid).toBe(kid);
    const before = await alpha.jwksRequests();
    // Within the minute after a fetch, an unknown kid is not asked for: the set was just read.
    expect((await ask(token)).status).toBe(401);
    expect(await alpha.jwksRequests()).toBe(before);
    // A minute later, the new kid fetches the set once, and is found there.
    const later = Date.now() + 61_000;
    const clock = jest.spyOn(t.app.get(Clock), 'now').mockImplementation(() => later);
    try {
      expect((await ask(token)).status).toBe(200);
      expect(await alpha.jwksRequests()).toBe(before + 1);
      // Forty made-up kids at once, with alpha's issuer: not one more fetch.
      const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const now = Math.floor(later / 1000);
      const flood = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          ask(
            signJws(
              { typ: 'at+jwt' },
              {
                iss: alpha.issuer,
                aud: alpha.jwtAudience,
                client_id: 'intruder',
                iat: now,
                exp: now + 300,
              },
              { alg: 'RS256', key: stranger, kid: `made-up-${i}` },
            ),
          ),
        ),
      );
      expect(flood.map((r) => r.status)).toEqual(Array.from({ length: 40 }, () => 401));
      expect(await alpha.jwksRequests()).toBe(before + 1);
    } finally {
      clock.mockRestore();
    }
  });
});
