import { JwtError } from '../common/jwt/jws';
import { DomainError, Problems } from '../common/problem/domain-error';
import { AuthenticatorService } from './authenticator.service';
import {
  API,
  API_TOKEN,
  authenticatorSpec,
  basic,
  claims,
  fakeStrategy,
  JWT,
  LOGIN,
  NOW,
  REAUTH,
  USER,
} from '../../test/support/authenticator';
import { settled, thrownBy } from '../../test/support/maybe-promise';

describe(AuthenticatorService.name, () => {
  const spec = authenticatorSpec();
  const { request, refusal } = spec;
  let { settings, onSettingsChange, clock, users, revocations, tokens, strategies, sut } = spec;
  beforeEach(
    () =>
      ({ settings, onSettingsChange, clock, users, revocations, tokens, strategies, sut } = spec),
  );

  describe('what a strategy refuses', () => {
    it('answers an expired JWT with token_expired, naming the kind', async () => {
      strategies.access.authenticate = fakeStrategy(() => {
        throw new JwtError('expired', 'Token has expired');
      }).authenticate;
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.code).toBe('token_expired');
      expect(err.detail).toBe('The access token has expired');
    });

    it("answers any other JWT failure with invalid_token and the failure's message", async () => {
      strategies.refresh.authenticate = fakeStrategy(() => {
        throw new JwtError('bad_signature', 'Signature does not verify');
      }).authenticate;
      const err = await refusal(`Bearer ${JWT}`, REAUTH);
      expect(err.code).toBe('invalid_token');
      expect(err.detail).toBe('Signature does not verify');
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden", error="invalid_token", error_description="Signature does not verify"',
      ]);
    });

    it("re-issues a strategy's own 401 with the route's challenges, keeping its code", async () => {
      strategies['api-token'].authenticate = fakeStrategy(() => {
        throw Problems.unauthorized(
          'The API token is not valid',
          [{ scheme: 'Basic' }],
          'invalid_token',
        );
      }).authenticate;
      const err = await refusal(`Bearer ${API_TOKEN}`, { kinds: ['api-token'] });
      expect(err.code).toBe('invalid_token');
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden", error="invalid_token", error_description="The API token is not valid"',
      ]);
    });

    it('lets any other error through as it is', async () => {
      const outage = new Error('database unreachable');
      strategies.basic.authenticate = fakeStrategy(() => {
        throw outage;
      }).authenticate;
      await expect(sut.authenticate(request(basic('alice', 'pw')), API)).rejects.toBe(outage);
    });

    it('tells the strategy of a login route that the credential is exchanged for tokens', async () => {
      await sut.authenticate(request(basic('alice', 'pw')), LOGIN);
      expect(strategies.basic.seen[0].exchangesForTokens).toBe(true);
      await sut.authenticate(request(basic('alice', 'pw')), API);
      expect(strategies.basic.seen[1].exchangesForTokens).toBeUndefined();
    });
  });

  describe('without a promise', () => {
    it('answers a remembered token at once, and a token never seen with a promise', async () => {
      const unseen = sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(unseen).toBeInstanceOf(Promise);
      const verified = await unseen;
      const remembered = sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(remembered).not.toBeInstanceOf(Promise);
      expect(remembered).toEqual(verified);
    });

    it('waits for a user the cache does not hold, even for a remembered token', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      users.peek.mockReturnValue(undefined);
      users.get.mockResolvedValue(USER);
      const loaded = sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(loaded).toBeInstanceOf(Promise);
      await expect(loaded).resolves.toMatchObject({ principal: { credentialId: 'session-1' } });
    });

    it('throws the same 401 at once for a remembered token as a promise rejects with for a new one', async () => {
      revocations.isRevoked.mockReturnValue(true);
      const unseen = sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(unseen).toBeInstanceOf(Promise);
      const rejected = await settled(() => unseen).catch((err: unknown) => err);
      const thrown = thrownBy(() => sut.authenticate(request(`Bearer ${JWT}`), API));
      expect(rejected).toBeInstanceOf(DomainError);
      expect(thrown).toBeInstanceOf(DomainError);
      const { status, code, detail, extras } = rejected as DomainError;
      expect(thrown).toMatchObject({ status, code, detail, extras });
      expect(code).toBe('invalid_token');
    });
  });

  describe('remembered tokens', () => {
    it('answers a repeated access token without running its strategy again', async () => {
      const first = await sut.authenticate(request(`Bearer ${JWT}`), API);
      const second = await sut.authenticate(request(JWT), API);
      expect(strategies.access.seen).toHaveLength(1);
      expect(second.principal).toEqual(first.principal);
      expect(second.principal).toMatchObject({ credentialId: 'session-1', authMethod: 'access' });
    });

    it('verifies the token afresh once it has expired', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      clock.at = NOW + 300_000;
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(strategies.access.seen).toHaveLength(2);
    });

    it('checks revocation on every use', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      revocations.isRevoked.mockReturnValue(true);
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.code).toBe('invalid_token');
      expect(err.detail).toBe('The session has ended');
      expect(revocations.isRevoked).toHaveBeenLastCalledWith('session-1');
    });

    it('names a revoked API token as such', async () => {
      await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      revocations.isRevoked.mockReturnValue(true);
      const err = await refusal(`Bearer ${API_TOKEN}`, API);
      expect(err.detail).toBe('The API token has been revoked');
    });

    it('refuses a remembered token once its user is disabled', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      users.peek.mockReturnValue({ ...USER, disabled: true });
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.detail).toBe('The user can no longer sign in');
    });

    it('loads a user the cache does not hold', async () => {
      users.peek.mockReturnValue(undefined);
      users.get.mockResolvedValue({ ...USER, groups: ['loaded'] });
      const { principal } = await sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(users.get).toHaveBeenCalledWith(USER.id);
      expect(principal.groups).toEqual(['loaded']);
    });

    it('refuses a token whose user no longer exists', async () => {
      users.peek.mockReturnValue(null);
      const err = await refusal(`Bearer ${JWT}`, API);
      expect(err.detail).toBe('The user can no longer sign in');
    });

    it('forgets every remembered token when the settings change', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      onSettingsChange(settings);
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      expect(strategies.access.seen).toHaveLength(2);
    });

    it("does not answer a route that does not take the remembered token's kind", async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), API);
      const { principal, refreshClaims } = await sut.authenticate(request(`Bearer ${JWT}`), REAUTH);
      expect(principal.authMethod).toBe('refresh');
      expect(refreshClaims).toEqual(claims());
      expect(strategies.refresh.seen).toHaveLength(1);
    });

    it('never remembers a refresh token or a password', async () => {
      await sut.authenticate(request(`Bearer ${JWT}`), REAUTH);
      await sut.authenticate(request(`Bearer ${JWT}`), REAUTH);
      await sut.authenticate(request(basic('alice', 'pw')), API);
      await sut.authenticate(request(basic('alice', 'pw')), API);
      expect(strategies.refresh.seen).toHaveLength(2);
      expect(strategies.basic.seen).toHaveLength(2);
    });

    it('stops answering an API token when apiTokens is switched off', async () => {
      await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      settings.apiTokens.enabled = false;
      const err = await refusal(`Bearer ${API_TOKEN}`, API);
      expect(err.code).toBe('api_tokens_disabled');
    });
  });

  describe('on every use of an API token', () => {
    it('records the use, remembered or not', async () => {
      await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      await sut.authenticate(request(`APIToken ${API_TOKEN}`), API);
      expect(strategies['api-token'].seen).toHaveLength(1);
      expect(tokens.recordUse.mock.calls).toEqual([
        ['token-1', '203.0.113.7'],
        ['token-1', '203.0.113.7'],
      ]);
    });

    it('refuses it as the Basic password of another user, even when remembered', async () => {
      await sut.authenticate(request(basic('ALICE', API_TOKEN)), API);
      const err = await refusal(basic('bob', API_TOKEN), API);
      expect(err.code).toBe('invalid_token');
      expect(err.detail).toBe('The API token does not belong to this user');
      expect(strategies['api-token'].seen).toHaveLength(1);
    });

    it('carries the scopes the token was created with', async () => {
      const { principal } = await sut.authenticate(request(`Bearer ${API_TOKEN}`), API);
      expect(principal.scopes).toEqual(['read', 'write']);
      expect(principal.credentialId).toBe('token-1');
    });
  });
});
