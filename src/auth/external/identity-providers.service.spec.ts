import { JwtError } from '../../common/jwt/jws';
import { Problems } from '../../common/problem/domain-error';
import { WardenConfig } from '../../config/warden-config';
import {
  DEFAULT_SETTINGS,
  IDENTITY_PROVIDER_DEFAULTS,
  IdentityProvider,
  Settings,
} from '../../settings/settings.defaults';
import { SettingsService } from '../../settings/settings.service';
import { strict } from '../../../test/support/strict-mock';
import { StrategyRequest, StrategyRunner } from '../strategies/strategy-runner';
import {
  ExternalIdentity,
  ExternalJwtService,
  FORGE_ISSUER,
  FORGE_JWKS_URL,
} from './external-jwt.service';
import { IdentityProvidersService } from './identity-providers.service';

const WARDEN_ISSUER = 'https://warden.example.test';
const APP_ID = 'ari:cloud:ecosystem::app/8f4c2a63-5cf3-4d1b-9d57-52b2e1b0b8d1';
const ACTOR = { username: 'admin' };

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (iss: string) => `${b64({ alg: 'RS256' })}.${b64({ iss })}.sig`;

const provider = (overrides: Partial<IdentityProvider> = {}): IdentityProvider => ({
  ...IDENTITY_PROVIDER_DEFAULTS,
  name: 'corp',
  enabled: true,
  issuer: 'https://idp.example',
  ...overrides,
});

const identity: ExternalIdentity = {
  provider: 'corp',
  username: 'alice',
  groups: ['devs'],
  subject: 'sub-1',
  issuer: 'https://idp.example',
  trustUntil: 0,
  credentialId: 'jti',
};

describe(IdentityProvidersService.name, () => {
  let settings: Settings;
  let settingsService: { get: jest.Mock; patch: jest.Mock; masked: jest.Mock };
  let external: { claims: jest.Mock; route: jest.Mock };
  let strategies: { run: jest.Mock };
  let sut: IdentityProvidersService;

  beforeEach(() => {
    settings = { ...structuredClone(DEFAULT_SETTINGS), identityProviders: [provider()] };
    settingsService = {
      get: jest.fn(() => settings),
      patch: jest.fn(async (patch: Partial<Settings>) => ({ ...settings, ...patch })),
      masked: jest.fn((s: Settings) => ({ ...s, masked: true })),
    };
    external = {
      claims: jest.fn(() => 'external'),
      route: jest.fn(() => ({ provider: provider(), by: 'signature' })),
    };
    strategies = { run: jest.fn(async () => identity) };
    sut = new IdentityProvidersService(
      strict<SettingsService>(settingsService),
      strict<ExternalJwtService>(external),
      strict<StrategyRunner>(strategies),
      { issuer: WARDEN_ISSUER } as unknown as WardenConfig,
    );
  });

  describe('the Forge Remote preset', () => {
    it("adds a provider with Atlassian's JWK set and issuer, the app as audience, leaving the others", async () => {
      const saved = await sut.forgeRemote('forge', { appId: APP_ID }, ACTOR);
      const [patch, options] = settingsService.patch.mock.calls[0];
      expect(options).toEqual({ ifMatch: '*', force: false, actor: ACTOR });
      expect(patch.identityProviders).toEqual([
        provider(),
        {
          ...IDENTITY_PROVIDER_DEFAULTS,
          name: 'forge',
          enabled: true,
          mode: 'jwks',
          jwksUrl: FORGE_JWKS_URL,
          issuer: FORGE_ISSUER,
          audience: APP_ID,
          algorithms: ['RS256'],
          usernameClaim: 'app.installationId',
        },
      ]);
      expect(saved).toMatchObject({ masked: true });
    });

    it('replaces a provider of the same name in place, naming the account when asked', async () => {
      settings.identityProviders = [provider({ name: 'forge' }), provider({ name: 'other' })];
      await sut.forgeRemote('forge', { appId: APP_ID, caller: 'account' }, ACTOR);
      const list = settingsService.patch.mock.calls[0][0].identityProviders as IdentityProvider[];
      expect(list.map((p) => [p.name, p.issuer, p.usernameClaim])).toEqual([
        ['forge', FORGE_ISSUER, 'principal'],
        ['other', 'https://idp.example', 'sub'],
      ]);
      expect(settings.identityProviders[0].issuer).toBe('https://idp.example');
    });
  });

  describe('the token tester', () => {
    it('runs the strategy a request would, and says whom the token maps to', async () => {
      await expect(sut.test('the-token')).resolves.toEqual({
        provider: 'corp',
        valid: true,
        username: 'alice',
        groups: ['devs'],
        subject: 'sub-1',
        issuer: 'https://idp.example',
        localUser: false,
      });
      const [strategy, request] = strategies.run.mock.calls[0] as [string, StrategyRequest];
      expect(strategy).toBe('external');
      expect(request.headers.authorization).toBe('Bearer the-token');
    });

    it('says when the token maps to a local user', async () => {
      strategies.run.mockResolvedValue({ ...identity, localUserId: 'u-1' });
      await expect(sut.test('t')).resolves.toMatchObject({ localUser: true });
    });

    it.each([
      [
        'a JWT failure',
        new JwtError('expired', 'Token has expired'),
        'expired',
        'Token has expired',
      ],
      [
        'a refusal',
        Problems.forbidden('admin_mapping_refused', 'No admins'),
        'admin_mapping_refused',
        'No admins',
      ],
      [
        'an unreachable provider',
        Problems.unavailable('down', 'idp_unavailable'),
        'idp_unavailable',
        'down',
      ],
    ])('reports %s as the reason, not as an error', async (_name, err, reason, detail) => {
      strategies.run.mockRejectedValue(err);
      await expect(sut.test('t')).resolves.toEqual({
        provider: 'corp',
        valid: false,
        reason,
        detail,
      });
    });

    it('lets anything else through', async () => {
      const bug = new TypeError('x is undefined');
      strategies.run.mockRejectedValue(bug);
      await expect(sut.test('t')).rejects.toBe(bug);
    });

    it.each([
      ['an opaque token no pattern claims', 'opaque-token', 'no_provider'],
      ["a token of Warden's own", jwt(WARDEN_ISSUER), 'wrong_issuer'],
      ['a token of a switched-off provider', jwt('https://off.example'), 'provider_disabled'],
      ['a token of an unknown issuer', jwt('https://stranger.example'), 'wrong_issuer'],
    ])('says why no provider takes %s', async (_name, token, reason) => {
      settings.identityProviders = [
        provider(),
        provider({ name: 'off', enabled: false, issuer: 'https://off.example' }),
      ];
      external.claims.mockReturnValue(null);
      const answer = await sut.test(token);
      expect(answer).toMatchObject({ provider: null, valid: false, reason });
      expect(JSON.stringify(answer)).not.toContain(token);
      expect(strategies.run).not.toHaveBeenCalled();
    });
  });
});
