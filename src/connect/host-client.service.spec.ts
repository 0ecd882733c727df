import { createSecretKey } from 'node:crypto';
import { Clock } from '../common/clock';
import { decodeJws } from '../common/jwt/jws';
import { WardenConfig } from '../config/warden-config';
import { ConnectHostClient, HostCallError } from './host-client.service';
import { qshOf } from './qsh';
import { LiveTenant, TenantDirectory } from './tenants/tenant-directory.service';

const NOW = 1_800_000_000_000;
const CLIENT_KEY = 'jira:1234-5678-9000';

function tenant(overrides: Partial<LiveTenant> = {}): LiveTenant {
  return {
    clientKey: CLIENT_KEY,
    baseUrl: 'https://tenant.example.net/jira',
    displayUrl: null,
    productType: 'jira',
    oauthClientId: 'oauth-1',
    active: true,
    secret: createSecretKey(Buffer.from('s'.repeat(40), 'utf8')),
    ...overrides,
  };
}

describe(ConnectHostClient.name, () => {
  let fetchMock: jest.SpyInstance;
  let held: LiveTenant | undefined;
  let sut: ConnectHostClient;

  beforeEach(() => {
    held = tenant();
    fetchMock = jest
      .spyOn(globalThis, 'fetch')
      .mockImplementation(async () => new Response('{}', { status: 200 }));
    const directory = { get: (key: string) => (key === CLIENT_KEY ? held : undefined) };
    const config = {
      connect: { appKey: 'warden', scopes: ['READ'], authServerUrl: 'http://127.0.0.1:9' },
    } as unknown as WardenConfig;
    sut = new ConnectHostClient(
      directory as unknown as TenantDirectory,
      { now: () => NOW } as Clock,
      config,
    );
  });
  afterEach(() => fetchMock.mockRestore());

  /** The URL fetched and the qsh of the token it carried. */
  function sent(): { url: string; qsh: unknown } {
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    const authorization = (init.headers as Record<string, string>).authorization;
    return { url, qsh: decodeJws(authorization.replace(/^JWT /, '')).payload.qsh };
  }

  it.each([
    ['/rest/api/2/serverInfo?doHealthCheck=true', '/rest/api/2/serverInfo?doHealthCheck=true'],
    ['/rest/a b', '/rest/a%20b'],
    ['/rest/café?q=ü', '/rest/caf%C3%A9?q=%C3%BC'],
    ['/rest/{x}|y', '/rest/%7Bx%7D%7Cy'],
  ])('signs the target it sends: %j goes out as %j', async (path, wire) => {
    await expect(sut.request(CLIENT_KEY, { path })).resolves.toEqual({ status: 200, body: '{}' });
    const { url, qsh } = sent();
    expect(url).toBe(`https://tenant.example.net/jira${wire}`);
    // What the tenant computes: the raw target as received, relative to its base URL's path.
    const received = new URL(url);
    const relative = `${received.pathname}${received.search}`.slice('/jira'.length);
    expect(relative).toBe(wire);
    expect(qsh).toBe(qshOf('GET', relative));
  });

  it('gives appToken the same qsh as the request it goes with', () => {
    const token = sut.appToken(CLIENT_KEY, 'post', '/rest/a b');
    expect(decodeJws(token).payload.qsh).toBe(qshOf('POST', '/rest/a%20b'));
  });

  it.each([
    ['/rest/a\r\nX-Injected: 1', /control/],
    ['/rest/a\u0000', /control/],
    ['/rest/../../admin', /segments/],
    ['/rest?a=%ZZ', /%XX/],
    ['https://evil.example/x', /relative/],
  ])('sends nothing for %j: an invalid request naming the path', async (path, message) => {
    const err = await sut.request(CLIENT_KEY, { path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostCallError);
    expect(err).toMatchObject({ reason: 'invalid_request', field: 'path', attempted: false });
    expect((err as Error).message).toMatch(message);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('refuses an account id with a space as an invalid request naming the account id', async () => {
    const err = await sut
      .requestAsUser(CLIENT_KEY, 'a b', { path: '/rest/api/3/myself' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'invalid_request', field: 'accountId' });
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('tells an unknown tenant from one that cannot be called', async () => {
    await expect(sut.request('jira:nobody', { path: '/rest' })).rejects.toMatchObject({
      reason: 'unknown_tenant',
    });
    held = tenant({ active: false });
    await expect(sut.request(CLIENT_KEY, { path: '/rest' })).rejects.toMatchObject({
      reason: 'not_callable',
    });
    held = tenant();
    await expect(
      sut.requestAsUser(CLIENT_KEY, 'acc-1', { path: '/rest/api/3/myself' }),
    ).rejects.toMatchObject({ reason: 'not_callable', message: /ACT_AS_USER/ });
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('reports a tenant that does not answer as a failed call', async () => {
    fetchMock.mockRejectedValueOnce(new TypeError('fetch failed'));
    await expect(sut.request(CLIENT_KEY, { path: '/rest' })).rejects.toMatchObject({
      reason: 'failed',
      attempted: true,
    });
  });
});
