import { generateKeyPairSync } from 'node:crypto';
import { KeyRingService } from '../auth/keys/key-ring.service';
import { signJws } from '../../test/support/jws';
import { WardenConfig } from '../config/warden-config';
import { NativeTokenRule } from './native-token.rule';
import {
  DEFAULT_SETTINGS,
  IDENTITY_PROVIDER_DEFAULTS,
  IdentityProvider,
  Settings,
} from '../settings/settings.defaults';
import { SettingsService } from '../settings/settings.service';

const ISSUER = 'https://warden.example.test';
const ACTIVE_KID = 'Q2bTx3X8mAKvS0hL4yYpZ9nF1dWcR7eUoIjG5tB6aMs';
const RETIRED_KID = 'retired-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const IDP_ISSUER = 'https://idp.example.test/realm';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const now = Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const std = (segment: string) => Buffer.from(segment, 'base64url').toString('base64');

/** A token as Warden signs its access tokens (revoked or not: the rule never verifies). */
const access = signJws(
  { typ: 'at+jwt' },
  { iss: ISSUER, sub: 'u-1', aud: 'warden', iat: now, exp: now + 900, jti: 'j-1', sid: 's-1' },
  { alg: 'RS256', key: privateKey, kid: ACTIVE_KID },
);
const [h, p, s] = access.split('.');
const foreign = signJws(
  { typ: 'JWT' },
  { iss: 'https://jira.example.test', sub: 'bob', exp: now + 900 },
  { alg: 'RS256', key: privateKey, kid: 'jira-key-1' },
);
/** A Jira / Confluence Data Center personal access token looks like this. */
const JIRA_PAT = 'NjQ1MjE3NTk0MjQ3OmWq9xkZ0zQbRnUe7V2cKx3Lh0sPqYtM';

const SECOND_ISSUER = 'https://second.example.test/';

type Tweak = (settings: Settings) => void;
const withProvider =
  (extra: Partial<IdentityProvider> = {}): Tweak =>
  (settings) => {
    settings.identityProviders.push({
      ...IDENTITY_PROVIDER_DEFAULTS,
      name: `idp-${settings.identityProviders.length}`,
      enabled: true,
      mode: 'introspection',
      introspectionUrl: 'https://idp.example.test/introspect',
      issuer: IDP_ISSUER,
      opaqueTokens: '^idp_[A-Za-z0-9]{20}$',
      ...extra,
    });
  };
/** Two providers: the one above, and a JWKS provider of another issuer. */
const withTwoProviders: Tweak = (settings) => {
  withProvider()(settings);
  withProvider({ mode: 'jwks', issuer: SECOND_ISSUER, opaqueTokens: null })(settings);
};

describe(NativeTokenRule.name, () => {
  function ruleWith(tweak?: Tweak): NativeTokenRule {
    const settings = structuredClone(DEFAULT_SETTINGS);
    tweak?.(settings);
    const settingsService = { get: jest.fn(() => settings) } as unknown as SettingsService;
    const keys = {
      publishedKeys: jest.fn(() => ({
        keys: [
          { kty: 'RSA', kid: ACTIVE_KID },
          { kty: 'RSA', kid: RETIRED_KID },
        ],
      })),
    } as unknown as KeyRingService;
    return new NativeTokenRule(settingsService, keys, { issuer: ISSUER } as WardenConfig);
  }

  describe("passes a bearer token that is none of Warden's", () => {
    it.each<[string, string, Tweak?]>([
      ['a Jira personal access token', JIRA_PAT],
      ['an upstream OAuth access token', 'oauth2-a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV'],
      ['a JWT of another issuer, signed with another key', foreign],
      ['one dot-separated segment of junk', 'abc.def'],
      [
        'a token of a provider that is switched off',
        b64({ iss: IDP_ISSUER }),
        withProvider({ enabled: false }),
      ],
      ["an opaque token the provider's pattern does not claim", JIRA_PAT, withProvider()],
    ])('%s', (...[, token, tweak]) => {
      expect(ruleWith(tweak).passes(`Bearer ${token}`)).toBe(true);
    });
  });

  describe('judges (does not pass) every reading that names Warden or the provider', () => {
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`;
    it.each<[string, string, Tweak?]>([
      ['alg none with our issuer', none],
      ['alg none with our issuer and no signature segment at all', `${b64({ alg: 'none' })}.${p}`],
      [
        'our kid with a foreign issuer',
        `${b64({ alg: 'RS256', kid: ACTIVE_KID })}.${foreign.split('.')[1]}.${s}`,
      ],
      [
        'a retired key of ours',
        `${b64({ alg: 'RS256', kid: RETIRED_KID })}.${foreign.split('.')[1]}.${s}`,
      ],
      ['a real access token with = appended', `${access}=`],
      ['a real access token with == appended', `${access}==`],
      ['padding on every segment', `${h}==.${p}=.${s}=`],
      ['the standard base64 alphabet', `${std(h)}.${std(p)}.${std(s)}`],
      ['an extra segment', `${access}.extra`],
      ['five segments, JWE-shaped', `${h}.${p}.${s}.a.b`],
      ['an empty segment in front', `.${access}`],
      ['a tab inside', `${h}\t.${p}.${s}`],
      ['junk before the payload (its bits shifted)', `${h}.x${p}.${s}`],
      ['a percent-encoded pad', `${access}%3D`],
      [
        'the issuer with escaped slashes',
        `${b64({ alg: 'none' })}.${Buffer.from(`{"iss":"${ISSUER.replace(/\//g, '\\/')}"}`).toString('base64url')}.`,
      ],
      [
        'the issuer in \\u escapes',
        `${b64({ alg: 'none' })}.${Buffer.from(`{"iss":"\\u0068ttps://warden.example.test"}`).toString('base64url')}.`,
      ],
      ['the issuer in capitals', `${b64({ alg: 'none' })}.${b64({ iss: ISSUER.toUpperCase() })}.`],
      [
        'a foreign token whose payload merely mentions our issuer',
        `${foreign.split('.')[0]}.${b64({ iss: 'x', note: `${ISSUER}/about` })}.${s}`,
      ],
      [
        'a payload that is not JSON but holds our issuer',
        `${b64({ alg: 'HS256' })}.${Buffer.from(`garbage ${ISSUER} {{`).toString('base64url')}.sig`,
      ],
      [
        'a header that is garbage but names our kid',
        `${Buffer.from(`\u0000\u0001kid=${ACTIVE_KID}`).toString('base64url')}.${p}.${s}`,
      ],
      ['a single segment that decodes to our issuer', b64({ iss: ISSUER })],
      ['our kid in plain text', `opaque-${ACTIVE_KID}`],
      [
        "the provider's issuer",
        `${b64({ alg: 'RS256', kid: 'idp-1' })}.${b64({ iss: IDP_ISSUER })}.${s}`,
        withProvider(),
      ],
      [
        "an opaque token the provider's pattern claims (it refused it)",
        'idp_abcdefghij0123456789',
        withProvider(),
      ],
      [
        "the second provider's issuer, with two configured",
        `${b64({ alg: 'RS256', kid: 'idp-2' })}.${b64({ iss: SECOND_ISSUER })}.${s}`,
        withTwoProviders,
      ],
      [
        "the first provider's opaque token, with two configured",
        'idp_abcdefghij0123456789',
        withTwoProviders,
      ],
    ])('%s', (...[, token, tweak]) => {
      expect(ruleWith(tweak).passes(`Bearer ${token}`)).toBe(false);
    });
  });

  describe('passes nothing when native tokens are not in play', () => {
    it.each<[string, string | string[] | undefined, Tweak?]>([
      ['a personal API token of ours', 'Bearer wdn_abcdefghijklmnopqrstuvwxyz'],
      [
        'native tokens not allowed',
        `Bearer ${JIRA_PAT}`,
        (x) => (x.nativeOAuthTokens.allowed = false),
      ],
      [
        'authentication switched off',
        `Bearer ${JIRA_PAT}`,
        (x) => (x.restApiAuthentication.enabled = false),
      ],
      ['a token without the Bearer scheme', JIRA_PAT],
      ['Basic credentials', `Basic ${Buffer.from('bob:secret').toString('base64')}`],
      ['no Authorization header', undefined],
      ['two Authorization headers', [`Bearer ${JIRA_PAT}`, `Bearer ${JIRA_PAT}`]],
    ])('%s', (...[, header, tweak]) => {
      expect(ruleWith(tweak).passes(header)).toBe(false);
    });
  });
});
