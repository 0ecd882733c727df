import { startApp, TestApp } from '../support/app';
import { bearer, http } from '../support/http';
import { OidcProvider } from '../support/oidc-provider';
import { operatorPatch } from '../support/settings';

/** What a Jira / Confluence Data Center personal access token looks like. */
const JIRA_PAT = 'NjQ1MjE3NTk0MjQ3OmWq9xkZ0zQbRnUe7V2cKx3Lh0sPqYtM';
/** oidc-provider's opaque access tokens: 43 base64url characters (256 bits). */
const OPAQUE_TOKENS = '^[A-Za-z0-9_-]{43}$';

describe('a real OpenID provider in introspection mode, with native tokens allowed', () => {
  let t: TestApp;
  const op = new OidcProvider();

  beforeAll(async () => {
    await op.start();
    t = await startApp({ env: { WARDEN_IDP_ALLOW_HTTP: 'true' } });
    await operatorPatch(t, {
      nativeOAuthTokens: { allowed: true },
      externalJwt: {
        enabled: true,
        mode: 'introspection',
        introspectionUrl: op.introspectionUrl,
        clientId: op.client.id,
        clientSecret: op.client.secret,
        issuer: op.issuer,
        audience: null,
        // A client_credentials token stands for the client.
        usernameClaim: 'client_id',
        usernameRegex: null,
        groupsClaim: null,
        // Asked every time, so that a revocation shows at once.
        introspectionCacheSeconds: 0,
        opaqueTokens: OPAQUE_TOKENS,
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await op.stop();
  });

  const ask = (token: string) =>
    http(`${t.url}/authz/decision`, {
      headers: {
        'x-original-method': 'GET',
        'x-original-uri': '/rest/api/2/myself',
        authorization: bearer(token),
      },
    });

  it("an upstream's personal access token never reaches the provider: it is passed on as native", async () => {
    const before = await op.introspections();
    const res = await ask(JIRA_PAT);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-warden-auth-method')).toBe('native');
    expect(res.headers.get('x-warden-user')).toBeNull();
    expect(await op.introspections()).toBe(before);
  });

  it("the provider's token is introspected and allowed; once revoked there, it is refused", async () => {
    const token = await op.accessToken();
    expect(token).toMatch(new RegExp(OPAQUE_TOKENS));
    const before = await op.introspections();

    const allowed = await ask(token);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('x-warden-auth-method')).toBe('external');
    expect(allowed.headers.get('x-warden-user')).toBe(op.client.id);
    expect(await op.introspections()).toBe(before + 1);

    await op.revoke(token);
    const refused = await ask(token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-warden-auth-method')).toBeNull();
    expect(await op.introspections()).toBe(before + 2);
  });

  it('a token of the pattern the provider does not know is judged by it and refused, not passed on', async () => {
    const before = await op.introspections();
    const res = await ask('A'.repeat(43));
    expect(res.status).toBe(401);
    expect(await op.introspections()).toBe(before + 1);
  });
});
