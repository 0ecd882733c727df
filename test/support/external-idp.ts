import { startApp, TestApp } from './app';
import { bearer, http, HttpResult } from './http';
import { FakeIdp } from './idp';
import { operatorPatch } from './settings';

/**
 * Warden (JWKS over plain http allowed) with a fake identity provider, for the suites of the
 * `external` credential kind; `t` is there from the suite's first beforeAll on.
 */
export interface ExternalIdpApp {
  readonly t: TestApp;
  readonly idp: FakeIdp;
  /** GET /system/whoami with the token as a Bearer credential. */
  whoami(token: string): Promise<HttpResult>;
  /** The test's IdP as a provider named `corp`, in jwks mode, with `extra` over it. */
  jwksProvider(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Replaces the identity providers, as an operator's PATCH does. */
  useProviders(...identityProviders: Record<string, unknown>[]): Promise<void>;
  /** The test's IdP as the only provider (jwksProvider). */
  useJwks(extra?: Record<string, unknown>): Promise<void>;
}

/** Registers the suite's beforeAll / afterAll that start and stop Warden and the fake IdP. */
export function useExternalIdpApp(): ExternalIdpApp {
  let t: TestApp | undefined;
  const idp = new FakeIdp();

  beforeAll(async () => {
    await idp.start();
    t = await startApp({ env: { WARDEN_IDP_ALLOW_HTTP: 'true' } });
  });
  afterAll(async () => {
    await t?.close();
    await idp.stop();
  });

  const app = (): TestApp => {
    if (!t) throw new Error('Warden is not started');
    return t;
  };
  const whoami = (token: string) =>
    http(`${app().url}/system/whoami`, { headers: { authorization: bearer(token) } });
  const jwksProvider = (extra: Record<string, unknown> = {}) => ({
    name: 'corp',
    enabled: true,
    mode: 'jwks',
    jwksUrl: `${idp.url}/jwks`,
    issuer: idp.issuer,
    audience: 'warden-api',
    algorithms: ['RS256'],
    usernameClaim: 'sub',
    usernameRegex: null,
    groupsClaim: 'groups',
    ...extra,
  });
  const useProviders = (...identityProviders: Record<string, unknown>[]) =>
    operatorPatch(app(), { identityProviders });
  const useJwks = (extra: Record<string, unknown> = {}) => useProviders(jwksProvider(extra));

  return {
    get t() {
      return app();
    },
    idp,
    whoami,
    jwksProvider,
    useProviders,
    useJwks,
  };
}
