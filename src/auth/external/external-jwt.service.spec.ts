import { Logger } from '@nestjs/common';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { Clock } from '../../common/clock';
import { DecodedJws, JwtError } from '../../common/jwt/jws';
import { DomainError } from '../../common/problem/domain-error';
import { ADMIN_GROUP } from '../../common/principal';
import { WardenConfig } from '../../config/warden-config';
import {
  DEFAULT_SETTINGS,
  IDENTITY_PROVIDER_DEFAULTS,
  IdentityProvider,
  Settings,
} from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { strict } from '../../../test/support/strict-mock';
import { UsersRepository } from '../directory/users.repository';
import { ExternalJwtService } from './external-jwt.service';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const NOW_S = NOW / 1000;
const WARDEN_ISSUER = 'https://warden.example.test';
const ISSUER = 'https://idp.example.test';
/** Nothing listens on the discard port: the provider cannot be asked. */
const UNREACHABLE = 'http://127.0.0.1:9';

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
const pem = (key: KeyObject) => key.export({ format: 'pem', type: 'spki' }) as string;

function provider(overrides: Partial<IdentityProvider> = {}): IdentityProvider {
  return {
    ...IDENTITY_PROVIDER_DEFAULTS,
    name: 'corp',
    enabled: true,
    issuer: ISSUER,
    audience: 'warden',
    publicKey: pem(KEY),
    groupsClaim: 'groups',
    ...overrides,
  };
}
const KEY = rsa();

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: Record<string, unknown>) => `${b64({ alg: 'RS256' })}.${b64(payload)}.sig`;

function decoded(alg: string, payload: Record<string, unknown>): DecodedJws {
  return {
    header: { alg },
    payload,
  };
}

const claims = (overrides: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: 'warden',
  sub: 'alice',
  exp: NOW_S + 300,
  iat: NOW_S,
  groups: ['devs'],
  ...overrides,
});

/** The JwtError reason (or DomainError code) a call throws or rejects with. */
async function failure(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    if (err instanceof DomainError) return err.code;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe(ExternalJwtService.name, () => {
  let settings: Settings;
  let onChange: (next: Settings) => void;
  let users: { findByUsername: jest.Mock };
  let clock: MovableClock;
  let warn: jest.SpyInstance;
  let sut: ExternalJwtService;

  function use(...providers: IdentityProvider[]): void {
    settings = { ...settings, identityProviders: providers };
  }

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    settings = { ...structuredClone(DEFAULT_SETTINGS), identityProviders: [provider()] };
    users = { findByUsername: jest.fn(async () => null) };
    clock = new MovableClock();
    const config = { issuer: WARDEN_ISSUER, idpAllowHttp: true } as unknown as WardenConfig;
    sut = new ExternalJwtService(
      strict<SettingsService>({
        get: jest.fn(() => settings),
        onChange: jest.fn((listener: (next: Settings) => void) => (onChange = listener)),
      }),
      strict<UsersRepository>(users),
      clock,
      config,
    );
  });
  afterEach(() => jest.restoreAllMocks());

  it('is enabled while one provider is', () => {
    expect(sut.enabled).toBe(true);
    use(provider({ enabled: false }), provider({ name: 'other', enabled: false }));
    expect(sut.enabled).toBe(false);
    use();
    expect(sut.enabled).toBe(false);
  });

  it("routes a JWT by its issuer, never one of Warden's own", () => {
    expect(sut.claims(jwt({ iss: ISSUER }))).toBe('external');
    expect(sut.claims(jwt({ iss: WARDEN_ISSUER }))).toBeNull();
    expect(sut.claims(jwt({ iss: 'https://stranger.example' }))).toBeNull();
    use(provider({ mode: 'introspection', issuer: null, opaqueTokens: 'corp_[a-z0-9]+' }));
    expect(sut.claims('corp_abc123')).toBe('external-introspection');
    expect(sut.claims('other_abc123')).toBeNull();
  });

  it('says which provider lets a local administrator be named', () => {
    use(provider(), provider({ name: 'trusted', issuer: 'https://t', allowAdminMapping: true }));
    expect(sut.allowsAdminMapping('trusted')).toBe(true);
    expect(sut.allowsAdminMapping('corp')).toBe(false);
    expect(sut.allowsAdminMapping('gone')).toBe(false);
    expect(sut.allowsAdminMapping(undefined)).toBe(false);
  });

  describe('keyFor', () => {
    it("answers the provider's public key at once", () => {
      const key = sut.keyFor(decoded('RS256', claims()));
      expect(key).not.toBeInstanceOf(Promise);
      expect((key as KeyObject).equals(KEY)).toBe(true);
    });

    it.each([
      [
        'an issuer no provider has',
        claims({ iss: 'https://stranger.example' }),
        'RS256',
        'wrong_issuer',
      ],
      ['no issuer', claims({ iss: undefined }), 'RS256', 'wrong_issuer'],
      ['an algorithm the provider does not allow', claims(), 'RS512', 'unsupported_algorithm'],
      ['alg none', claims(), 'none', 'unsupported_algorithm'],
      ['an expired token', claims({ exp: NOW_S - 60 }), 'RS256', 'expired'],
      ['a token without exp', claims({ exp: undefined }), 'RS256', 'bad_claim'],
      ['another audience', claims({ aud: 'other' }), 'RS256', 'wrong_audience'],
      ['a token issued in the future', claims({ iat: NOW_S + 61 }), 'RS256', 'not_yet_valid'],
    ])('refuses %s before any key is looked up', async (_name, payload, alg, reason) => {
      await expect(failure(() => sut.keyFor(decoded(alg, payload)))).resolves.toBe(reason);
    });

    it('allows the IdP a minute of clock skew', () => {
      expect(() => sut.keyFor(decoded('RS256', claims({ exp: NOW_S - 59 })))).not.toThrow();
      expect(() => sut.keyFor(decoded('RS256', claims({ iat: NOW_S + 60 })))).not.toThrow();
    });

    it('refuses an HMAC algorithm even where the provider lists it', async () => {
      use(provider({ algorithms: ['RS256', 'HS256'] }));
      await expect(failure(() => sut.keyFor(decoded('HS256', claims())))).resolves.toBe(
        'unsupported_algorithm',
      );
    });

    it.each([
      ['a disabled provider', { enabled: false }],
      ['an introspection provider', { mode: 'introspection' as const }],
    ])('does not take the tokens of %s', async (_name, overrides) => {
      use(provider(overrides));
      await expect(failure(() => sut.keyFor(decoded('RS256', claims())))).resolves.toBe(
        'wrong_issuer',
      );
    });

    it.each([
      ['no public key', { publicKey: null }],
      ['a public key that is not one', { publicKey: 'not a key' }],
      ['jwks mode without a JWKS URL', { mode: 'jwks' as const, jwksUrl: null }],
    ])('refuses every token of a provider with %s', async (_name, overrides) => {
      use(provider(overrides));
      await expect(failure(() => sut.keyFor(decoded('RS256', claims())))).resolves.toBe(
        'unknown_key',
      );
    });

    it("uses the provider's new key once the settings change it", async () => {
      const next = rsa();
      await sut.keyFor(decoded('RS256', claims()));
      use(provider({ publicKey: pem(next) }));
      onChange(settings);
      const key = sut.keyFor(decoded('RS256', claims())) as KeyObject;
      expect(key.equals(next)).toBe(true);
    });

    it('counts settings changes, so that answers begun before one are not kept', () => {
      const before = sut.generation;
      onChange(settings);
      onChange(settings);
      expect(sut.generation).toBe(before + 2);
    });

    it('answers 503 idp_unavailable when the JWK set cannot be fetched, logging where it asked', async () => {
      use(provider({ mode: 'jwks', publicKey: null, jwksUrl: `${UNREACHABLE}/jwks` }));
      const ask = () => sut.keyFor(decoded('RS256', claims()));
      const err = await Promise.resolve(ask()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ status: 503, code: 'idp_unavailable' });
      expect((err as DomainError).detail).not.toContain('127.0.0.1');
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toContain('"corp"');
    });
  });

  describe('verified', () => {
    it("maps the token's claims to the provider's identity", async () => {
      const identity = await sut.verified('the-token', claims({ jti: 'jti-1' }));
      expect(identity).toEqual({
        provider: 'corp',
        username: 'alice',
        groups: ['devs'],
        subject: 'alice',
        issuer: ISSUER,
        trustUntil: (NOW_S + 300) * 1000,
        credentialId: 'jti-1',
      });
      expect(users.findByUsername).not.toHaveBeenCalled();
    });

    it('never takes warden-admins from the IdP', async () => {
      const identity = await sut.verified('t', claims({ groups: [ADMIN_GROUP, 'devs'] }));
      expect(identity.groups).toEqual(['devs']);
    });

    it('judges the claims again, with the clock of now', async () => {
      clock.at = NOW + 360_000;
      await expect(failure(() => sut.verified('t', claims()))).resolves.toBe('expired');
    });

    it("refuses a token naming Warden's own issuer, whatever a provider says", async () => {
      use(provider({ issuer: WARDEN_ISSUER }));
      const err = await sut.verified('t', claims({ iss: WARDEN_ISSUER })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JwtError);
      expect((err as JwtError).message).toBe("A token of Warden's own is not an external token");
    });

    it('names the local user of the same name when the provider maps to them', async () => {
      use(provider({ mapToLocalUser: true }));
      users.findByUsername.mockResolvedValue({ id: 'u-alice', groups: [{ name: 'staff' }] });
      const identity = await sut.verified('t', claims());
      expect(users.findByUsername).toHaveBeenCalledWith('alice');
      expect(identity.localUserId).toBe('u-alice');
    });

    it('refuses to name a local administrator unless the provider allows it', async () => {
      users.findByUsername.mockResolvedValue({ id: 'u-root', groups: [{ name: ADMIN_GROUP }] });
      use(provider({ mapToLocalUser: true }));
      await expect(failure(() => sut.verified('t', claims()))).resolves.toBe(
        'admin_mapping_refused',
      );
      use(provider({ mapToLocalUser: true, allowAdminMapping: true }));
      await expect(sut.verified('t', claims())).resolves.toMatchObject({ localUserId: 'u-root' });
    });
  });

  describe('introspect', () => {
    it('refuses a token no introspection provider takes', async () => {
      await expect(failure(() => sut.introspect(jwt({ iss: ISSUER })))).resolves.toBe(
        'unknown_key',
      );
      await expect(failure(() => sut.introspect('opaque'))).resolves.toBe('unknown_key');
    });

    it('answers 503 idp_unavailable when the provider cannot be asked, logging once per 10 s', async () => {
      use(
        provider({
          mode: 'introspection',
          issuer: null,
          opaqueTokens: 'corp_[a-z0-9]+',
          introspectionUrl: `${UNREACHABLE}/introspect`,
          clientId: 'warden',
          clientSecret: 'secret',
        }),
      );
      await expect(failure(() => sut.introspect('corp_abc'))).resolves.toBe('idp_unavailable');
      clock.at = NOW + 9_999;
      await expect(failure(() => sut.introspect('corp_abd'))).resolves.toBe('idp_unavailable');
      expect(warn).toHaveBeenCalledTimes(1);
      clock.at = NOW + 10_000;
      await expect(failure(() => sut.introspect('corp_abe'))).resolves.toBe('idp_unavailable');
      expect(warn).toHaveBeenCalledTimes(2);
    });
  });
});
