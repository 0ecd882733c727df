import { IDENTITY_PROVIDER_DEFAULTS } from '../../settings/settings.defaults';
import { matchesOpaqueTokens, ProviderSettings, routeToken } from './provider-routing';

const WARDEN = 'https://warden.example.test';
const IDP = 'https://idp.example.test/';
const OTHER = 'https://other.example.test/';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (iss?: string) => `${b64({ alg: 'RS256' })}.${b64(iss ? { iss } : { sub: 'x' })}.c2ln`;
const PAT = 'NjQ1MjE3NTk0MjQ3OmWq9xkZ0zQbRnUe7V2cKx3Lh0sPqYtM';
const IDP_OPAQUE = 'idp_abcdefghij0123456789';
const OTHER_OPAQUE = 'oth_abcdefghij0123456789';
const PATTERN = '^idp_[A-Za-z0-9]{20}$';

function provider(name: string, extra: Partial<ProviderSettings>): ProviderSettings {
  return { ...IDENTITY_PROVIDER_DEFAULTS, name, enabled: true, issuer: IDP, ...extra };
}
const jwks = (extra: Partial<ProviderSettings> = {}) =>
  provider('signed', { mode: 'jwks', ...extra });
const introspection = (extra: Partial<ProviderSettings> = {}) =>
  provider('asked', {
    mode: 'introspection',
    introspectionUrl: `${IDP}introspect`,
    issuer: OTHER,
    ...extra,
  });

describe(routeToken.name, () => {
  it.each<[string, ProviderSettings[], string, boolean, string | null]>([
    // [case, providers, token, native allowed, provider chosen]
    ['no providers: nothing', [], jwt(IDP), true, null],
    ['switched off: nothing', [jwks({ enabled: false })], jwt(IDP), true, null],
    ["Warden's own issuer never goes out", [jwks({ issuer: WARDEN })], jwt(WARDEN), false, null],
    [
      'a JWT goes to the provider of its issuer',
      [jwks(), introspection()],
      jwt(IDP),
      true,
      'signed',
    ],
    [
      '… and to an introspection provider of its issuer',
      [jwks(), introspection()],
      jwt(OTHER),
      true,
      'asked',
    ],
    [
      'a JWT of an issuer nobody has stays home',
      [jwks(), introspection()],
      jwt('https://jira'),
      false,
      null,
    ],
    ['a JWT without iss stays home', [jwks({ issuer: null })], jwt(), false, null],
    ['signature mode: an opaque token never', [jwks()], PAT, false, null],
    [
      'an opaque token goes to the provider whose pattern claims it',
      [
        introspection({ opaqueTokens: PATTERN }),
        provider('b', { mode: 'introspection', issuer: null, opaqueTokens: '^oth_[a-z0-9]{20}$' }),
      ],
      OTHER_OPAQUE,
      true,
      'b',
    ],
    ['a PAT stays home', [introspection({ opaqueTokens: PATTERN })], PAT, true, null],
    [
      'a PAT stays home, native off too',
      [introspection({ opaqueTokens: PATTERN })],
      PAT,
      false,
      null,
    ],
    [
      'two patterns claiming one token (stored around the API): neither',
      [
        introspection({ opaqueTokens: PATTERN }),
        provider('b', { mode: 'introspection', issuer: null, opaqueTokens: '^idp_.*$' }),
      ],
      IDP_OPAQUE,
      true,
      null,
    ],
    ['no pattern, native on: nothing opaque', [introspection()], PAT, true, null],
    [
      'no pattern, native off: every opaque token (as before)',
      [introspection()],
      PAT,
      false,
      'asked',
    ],
    [
      'no pattern, native off, two such providers: neither',
      [introspection(), provider('b', { mode: 'introspection', issuer: null })],
      PAT,
      false,
      null,
    ],
    [
      'a pattern is anchored whatever was stored',
      [introspection({ opaqueTokens: '^idp_x|y$' })],
      'zzzy',
      true,
      null,
    ],
    [
      'a pattern that does not compile matches nothing',
      [introspection({ opaqueTokens: '^(idp$' })],
      '(idp',
      true,
      null,
    ],
  ])('%s', (_, providers, token, nativeAllowed, chosen) => {
    const route = routeToken(providers, token, { nativeAllowed, wardenIssuer: WARDEN });
    expect(route?.provider.name ?? null).toBe(chosen);
  });

  it('says how the chosen provider judges the token', () => {
    const context = { nativeAllowed: true, wardenIssuer: WARDEN };
    const providers = [jwks(), introspection({ opaqueTokens: PATTERN })];
    expect(routeToken(providers, jwt(IDP), context)?.by).toBe('signature');
    expect(routeToken(providers, IDP_OPAQUE, context)?.by).toBe('introspection');
  });

  it('matchesOpaqueTokens is for an enabled introspection provider only', () => {
    expect(matchesOpaqueTokens(introspection({ opaqueTokens: PATTERN }), IDP_OPAQUE)).toBe(true);
    expect(matchesOpaqueTokens(jwks({ opaqueTokens: PATTERN }), IDP_OPAQUE)).toBe(false);
    expect(
      matchesOpaqueTokens(introspection({ enabled: false, opaqueTokens: PATTERN }), IDP_OPAQUE),
    ).toBe(false);
  });
});
