import { createSecretKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Clock } from '../common/clock';
import { DecodedJws, JwtError } from '../common/jwt/jws';
import { WardenConfig } from '../config/warden-config';
import { strict } from '../../test/support/strict-mock';
import { ConnectJwtService, ConnectTarget } from './connect-jwt.service';
import { CONTEXT_QSH, qshOf } from './qsh';
import { LiveTenant, TenantDirectory } from './tenants/tenant-directory.service';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const NOW_S = NOW / 1000;
const BASE_URL = 'https://warden.example.test/app';
const GET_ITEM: ConnectTarget = { method: 'GET', url: '/app/rest/item?b=2&a=1' };
const INSTALLED: ConnectTarget = { method: 'POST', url: '/app/connect/installed' };

class MovableClock extends Clock {
  at = NOW;
  override now(): number {
    return this.at;
  }
}

function tenant(overrides: Partial<LiveTenant> = {}): LiveTenant {
  return {
    clientKey: 'jira:t1',
    baseUrl: 'https://t1.atlassian.net',
    displayUrl: null,
    productType: 'jira',
    oauthClientId: null,
    active: true,
    secret: createSecretKey(Buffer.from('s'.repeat(40))),
    ...overrides,
  };
}

function decoded(header: Record<string, unknown>, payload: Record<string, unknown>): DecodedJws {
  return {
    header: header as DecodedJws['header'],
    payload,
  };
}

/** What throwing `run` throws, as a JwtError's reason and message. */
function jwtFailure(run: () => unknown): { reason: string; message: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof JwtError) return { reason: err.reason, message: err.message };
    throw err;
  }
  throw new Error('expected a JwtError');
}

describe(ConnectJwtService.name, () => {
  let tenants: { get: jest.Mock };
  let clock: MovableClock;
  let sut: ConnectJwtService;

  function build(keysUrl = 'http://127.0.0.1:9/keys', keysFallbackUrl = ''): ConnectJwtService {
    const config = {
      baseUrl: BASE_URL,
      connect: { keysUrl, keysFallbackUrl },
    } as unknown as WardenConfig;
    return new ConnectJwtService(strict<TenantDirectory>(tenants), clock, config);
  }

  beforeEach(() => {
    tenants = {
      get: jest.fn((clientKey: string) => (clientKey === 'jira:t1' ? tenant() : undefined)),
    };
    clock = new MovableClock();
    sut = build();
  });

  describe('requestKey', () => {
    it("answers the secret of the tenant the token's iss names", () => {
      const key = sut.requestKey(decoded({ alg: 'HS256' }, { iss: 'jira:t1' }));
      expect(key.export()).toEqual(Buffer.from('s'.repeat(40)));
      expect(tenants.get).toHaveBeenCalledWith('jira:t1');
    });

    it.each([
      ['no iss', {}, 'HS256', 'bad_claim'],
      ['an empty iss', { iss: '' }, 'HS256', 'bad_claim'],
      ['an iss that is not a string', { iss: 7 }, 'HS256', 'bad_claim'],
      ['an unknown tenant', { iss: 'jira:nobody' }, 'HS256', 'unknown_key'],
      ['another algorithm than HS256', { iss: 'jira:t1' }, 'RS256', 'unsupported_algorithm'],
      ['alg none', { iss: 'jira:t1' }, 'none', 'unsupported_algorithm'],
    ])('refuses %s', (_name, payload, alg, reason) => {
      expect(jwtFailure(() => sut.requestKey(decoded({ alg }, payload))).reason).toBe(reason);
    });
  });

  describe('requestClaims', () => {
    const claims = (overrides: Record<string, unknown> = {}) => ({
      iss: 'jira:t1',
      sub: 'acc-1',
      iat: NOW_S,
      exp: NOW_S + 180,
      qsh: qshOf('GET', '/rest/item?a=1&b=2'),
      ...overrides,
    });

    it('answers the tenant, the account and the expiry of a token bound to this request', () => {
      expect(sut.requestClaims(claims(), GET_ITEM, false)).toEqual({
        tenant: tenant(),
        accountId: 'acc-1',
        context: false,
        exp: NOW_S + 180,
      });
    });

    it('hashes the request relative to the base URL’s path', () => {
      const wrong = claims({ qsh: qshOf('GET', '/app/rest/item?a=1&b=2') });
      expect(jwtFailure(() => sut.requestClaims(wrong, GET_ITEM, false)).message).toMatch(/qsh/);
    });

    it.each([
      ['the method', { method: 'POST', url: GET_ITEM.url }],
      ['the path', { method: 'GET', url: '/app/rest/other?b=2&a=1' }],
      ['the query', { method: 'GET', url: '/app/rest/item?b=3&a=1' }],
    ])('refuses a token for another request: %s differs', (_name, target) => {
      expect(jwtFailure(() => sut.requestClaims(claims(), target, false))).toEqual({
        reason: 'bad_claim',
        message: 'The query string hash (qsh) does not match this request',
      });
    });

    it('judges each request afresh, whatever it answered before for the same target', () => {
      sut.requestClaims(claims(), GET_ITEM, false);
      const forOther = claims({ qsh: qshOf('GET', '/rest/other') });
      expect(jwtFailure(() => sut.requestClaims(forOther, GET_ITEM, false)).reason).toBe(
        'bad_claim',
      );
      expect(sut.requestClaims(claims(), GET_ITEM, false).context).toBe(false);
    });

    it('accepts a context token only where the route takes them', () => {
      const context = claims({ qsh: CONTEXT_QSH });
      expect(sut.requestClaims(context, GET_ITEM, true).context).toBe(true);
      expect(jwtFailure(() => sut.requestClaims(context, GET_ITEM, false)).message).toMatch(
        /context/,
      );
    });

    it.each([
      ['no qsh', { qsh: undefined }, 'bad_claim'],
      ['a qsh that is not a string', { qsh: 42 }, 'bad_claim'],
      ['no exp', { exp: undefined }, 'bad_claim'],
      ['an exp past the clock skew', { exp: NOW_S - 30 }, 'expired'],
      ['an iat in the future', { iat: NOW_S + 31 }, 'not_yet_valid'],
      ['an exp that is a string', { exp: String(NOW_S + 60) }, 'bad_claim'],
    ])('refuses %s', (_name, overrides, reason) => {
      expect(jwtFailure(() => sut.requestClaims(claims(overrides), GET_ITEM, false)).reason).toBe(
        reason,
      );
    });

    it('accepts an exp within the clock skew', () => {
      expect(sut.requestClaims(claims({ exp: NOW_S - 29 }), GET_ITEM, false).exp).toBe(NOW_S - 29);
    });

    it.each([
      ['an uninstalled or disabled tenant', tenant({ active: false })],
      ['a tenant gone since its key was looked up', undefined],
    ])('refuses %s', (_name, found) => {
      tenants.get.mockReturnValue(found);
      expect(jwtFailure(() => sut.requestClaims(claims(), GET_ITEM, false)).reason).toBe(
        'unknown_key',
      );
    });

    it.each([
      ['sub', {}, 'acc-1'],
      [
        'context.user.accountId when there is no sub',
        { sub: undefined, context: { user: { accountId: 'legacy' } } },
        'legacy',
      ],
      ['sub over context.user.accountId', { context: { user: { accountId: 'legacy' } } }, 'acc-1'],
      ['nobody for an empty sub and no context', { sub: '' }, undefined],
      [
        'nobody for an account id that is not a string',
        { sub: undefined, context: { user: { accountId: 5 } } },
        undefined,
      ],
    ])('names the account from %s', (_name, overrides, accountId) => {
      expect(sut.requestClaims(claims(overrides), GET_ITEM, false).accountId).toBe(accountId);
    });

    it('refuses a request target that cannot be decoded, as a claim failure', () => {
      const target = { method: 'GET', url: '/app/rest/item?q=%E0%A4%A' };
      expect(jwtFailure(() => sut.requestClaims(claims(), target, false)).reason).toBe('bad_claim');
    });
  });

  describe('lifecycleClaims', () => {
    const claims = (overrides: Record<string, unknown> = {}) => ({
      iss: 'jira:t1',
      aud: BASE_URL,
      iat: NOW_S,
      exp: NOW_S + 180,
      qsh: qshOf('POST', '/connect/installed'),
      ...overrides,
    });

    it('answers the clientKey and the times of a token for this callback', () => {
      expect(sut.lifecycleClaims(claims(), INSTALLED)).toEqual({
        clientKey: 'jira:t1',
        iat: NOW_S,
        exp: NOW_S + 180,
      });
    });

    it.each([
      ['the base URL', BASE_URL],
      ['the base URL with a trailing slash', `${BASE_URL}/`],
      ['a list holding the base URL', ['https://other.example', BASE_URL]],
    ])('takes %s as the audience', (_name, aud) => {
      expect(sut.lifecycleClaims(claims({ aud }), INSTALLED).clientKey).toBe('jira:t1');
    });

    it.each([
      ['another audience', { aud: 'https://other-app.example' }, 'wrong_audience'],
      ['no audience', { aud: undefined }, 'wrong_audience'],
      ['the base URL with two trailing slashes', { aud: `${BASE_URL}//` }, 'wrong_audience'],
      ['no iss', { iss: undefined }, 'bad_claim'],
      ['no exp', { exp: undefined }, 'bad_claim'],
      ['no iat', { iat: undefined }, 'bad_claim'],
      ['an iat with a fraction', { iat: NOW_S + 0.5 }, 'bad_claim'],
      ['an expired token', { iat: NOW_S - 600, exp: NOW_S - 300 }, 'expired'],
      ['a context token', { qsh: CONTEXT_QSH }, 'bad_claim'],
      ['the qsh of another callback', { qsh: qshOf('POST', '/connect/uninstalled') }, 'bad_claim'],
      ['no qsh', { qsh: undefined }, 'bad_claim'],
    ])('refuses %s', (_name, overrides, reason) => {
      expect(jwtFailure(() => sut.lifecycleClaims(claims(overrides), INSTALLED)).reason).toBe(
        reason,
      );
    });
  });

  describe('lifecycleKey', () => {
    let server: Server;
    let requests: string[];
    let publicKey: KeyObject;

    beforeAll(async () => {
      publicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      server = createServer((req, res) => {
        requests.push(req.url ?? '');
        if (req.url === '/keys/kid-1') {
          res.setHeader('content-type', 'application/x-pem-file');
          res.end(publicKey.export({ format: 'pem', type: 'spki' }));
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    beforeEach(() => {
      requests = [];
      const { port } = server.address() as AddressInfo;
      sut = build(`http://127.0.0.1:${port}/keys`);
    });

    const lifecycle = (header: Record<string, unknown>, overrides: Record<string, unknown> = {}) =>
      decoded(header, {
        iss: 'jira:t1',
        aud: BASE_URL,
        iat: NOW_S,
        exp: NOW_S + 180,
        qsh: qshOf('POST', '/connect/installed'),
        ...overrides,
      });

    it("fetches Atlassian's key for the token's kid", async () => {
      const key = await sut.lifecycleKey(lifecycle({ alg: 'RS256', kid: 'kid-1' }), INSTALLED);
      expect(key.equals(publicKey)).toBe(true);
      expect(requests).toEqual(['/keys/kid-1']);
    });

    it.each(['HS256', 'none', 'RS512', 'ES256'])(
      'refuses %s before fetching anything',
      async (alg) => {
        await expect(
          sut.lifecycleKey(lifecycle({ alg, kid: 'kid-1' }), INSTALLED),
        ).rejects.toMatchObject({ reason: 'unsupported_algorithm' });
        expect(requests).toEqual([]);
      },
    );

    it('judges the claims before fetching the key', async () => {
      await expect(
        sut.lifecycleKey(
          lifecycle({ alg: 'RS256', kid: 'kid-1' }, { aud: 'https://other.example' }),
          INSTALLED,
        ),
      ).rejects.toMatchObject({ reason: 'wrong_audience' });
      expect(requests).toEqual([]);
    });

    it('refuses a kid no key server knows', async () => {
      await expect(
        sut.lifecycleKey(lifecycle({ alg: 'RS256', kid: 'kid-unknown' }), INSTALLED),
      ).rejects.toBeInstanceOf(JwtError);
      expect(requests).toEqual(['/keys/kid-unknown']);
    });
  });
});
