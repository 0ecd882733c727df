import { DEFAULT_SETTINGS } from '../../restrictions/settings.defaults';
import { matchesOpaqueTokens, ProviderSettings, sentToProvider } from './provider-routing';

const WARDEN = 'https://warden.example.test';
const IDP = 'https://idp.example.test/';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (iss?: string) => `${b64({ alg: 'RS256' })}.${b64(iss ? { iss } : { sub: 'x' })}.c2ln`;
const PAT = 'NjQ1MjE3NTk0MjQ3OmWq9xkZ0zQbRnUe7V2cKx3Lh0sPqYtM';
const IDP_OPAQUE = 'idp_abcdefghij0123456789';

function provider(extra: Partial<ProviderSettings>): ProviderSettings {
  return { ...DEFAULT_SETTINGS.externalJwt, enabled: true, issuer: IDP, ...extra };
}
const introspection = (extra: Partial<ProviderSettings> = {}) =>
  provider({ mode: 'introspection', introspectionUrl: `${IDP}introspect`, ...extra });
const PATTERN = '^idp_[A-Za-z0-9]{20}$';

describe(sentToProvider.name, () => {
  it.each<[string, ProviderSettings, string, boolean, boolean]>([
    // [case, provider, token, native allowed, sent]
    ['switched off: nothing', provider({ enabled: false, mode: 'jwks' }), jwt(IDP), true, false],
    ["Warden's own issuer never goes out", provider({ mode: 'jwks' }), jwt(WARDEN), false, false],
    [
      'signature mode: any other JWT (verified here)',
      provider({ mode: 'jwks' }),
      jwt('other'),
      true,
      true,
    ],
    ['signature mode: an opaque token never', provider({ mode: 'jwks' }), PAT, false, false],
    [
      'introspection, pattern: a matching token',
      introspection({ opaqueTokens: PATTERN }),
      IDP_OPAQUE,
      true,
      true,
    ],
    [
      'introspection, pattern: a PAT stays home',
      introspection({ opaqueTokens: PATTERN }),
      PAT,
      true,
      false,
    ],
    [
      'introspection, pattern, native off: a PAT stays home',
      introspection({ opaqueTokens: PATTERN }),
      PAT,
      false,
      false,
    ],
    [
      'introspection: a JWT of its issuer',
      introspection({ opaqueTokens: PATTERN }),
      jwt(IDP),
      true,
      true,
    ],
    [
      'introspection: a JWT of another issuer stays home',
      introspection({ opaqueTokens: PATTERN }),
      jwt('https://jira'),
      true,
      false,
    ],
    [
      'introspection, no issuer, native on: a JWT stays home',
      introspection({ issuer: null, opaqueTokens: PATTERN }),
      jwt('x'),
      true,
      false,
    ],
    [
      'introspection, no pattern, native on (stored before the field): nothing opaque',
      introspection(),
      PAT,
      true,
      false,
    ],
    [
      'introspection, no pattern, native off: every opaque token (as before)',
      introspection(),
      PAT,
      false,
      true,
    ],
    [
      'introspection, no pattern, no issuer, native off: every JWT (as before)',
      introspection({ issuer: null }),
      jwt('x'),
      false,
      true,
    ],
    [
      'a pattern is anchored whatever was stored',
      introspection({ opaqueTokens: '^idp_x|y$' }),
      'zzzy',
      true,
      false,
    ],
    [
      'a pattern that does not compile matches nothing',
      introspection({ opaqueTokens: '^(idp$' }),
      '(idp',
      true,
      false,
    ],
  ])('%s', (_, settings, token, nativeAllowed, sent) => {
    expect(sentToProvider(settings, token, { nativeAllowed, wardenIssuer: WARDEN })).toBe(sent);
  });

  it('matchesOpaqueTokens is for an enabled introspection provider only', () => {
    expect(matchesOpaqueTokens(introspection({ opaqueTokens: PATTERN }), IDP_OPAQUE)).toBe(true);
    expect(matchesOpaqueTokens(provider({ mode: 'jwks', opaqueTokens: PATTERN }), IDP_OPAQUE)).toBe(
      false,
    );
    expect(
      matchesOpaqueTokens(introspection({ enabled: false, opaqueTokens: PATTERN }), IDP_OPAQUE),
    ).toBe(false);
  });
});
