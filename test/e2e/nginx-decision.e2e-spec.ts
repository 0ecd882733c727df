import { randomBytes } from 'node:crypto';
import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { SettingsService } from '../../src/settings/settings.service';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { generateApiToken } from '../../src/tokens/api-token-format';
import { itWhen } from '../support/app';
import { behindNginx } from '../support/behind-nginx';
import { login, newGroup, newUser } from '../support/factories';
import { basic, bearer } from '../support/http';
import { startFakeUpstream } from '../support/fake-upstream';

/** The location docs/nginx.conf protects with auth_request; nginx strips it towards the API. */
const PREFIX = '/protected-upstream';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: any;
}

interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Loopback address the client connects from (127.0.0.2, …): what nginx sees as the peer. */
  localAddress?: string;
}

/** node:http rather than fetch: fetch cannot choose the client's source address. */
function send(url: string, options: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let payload: string | undefined;
  if (options.json !== undefined) {
    payload = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if (/json/.test(res.headers['content-type'] ?? '') && text) body = JSON.parse(text);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const marker = () => `m-${randomBytes(6).toString('hex')}`;

/** A request line sent as it is (an HTTP client would resolve `..` and cut at `#`); its status. */
function rawStatus(base: string, target: string): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      // write, not end: nginx takes a half-closed connection for a client gone away.
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`),
    );
    let head = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (head += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (status) resolve(Number(status[1]));
      else reject(new Error(`no status line in ${JSON.stringify(head.slice(0, 80))}`));
    });
  });
}

/** The `sid` claim of a Warden access token: the session it belongs to. */
function sessionOf(accessToken: string): string {
  return JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8')).sid;
}

/** Headers a client might send to pass for someone else. */
const FORGED = {
  'x-warden-user': 'admin',
  'x-warden-groups': 'warden-admins',
  'x-warden-auth-method': 'basic',
  'x-warden-credential-id': 'forged',
};

describe('nginx auth_request (docs/nginx.conf) in front of an API, Warden deciding', () => {
  const stack = behindNginx();
  let { ready, t, upstream: stub, nginx } = stack;
  beforeAll(() => ({ ready, t, upstream: stub, nginx } = stack));

  /**
   * Settings are changed as the operator would through the service (as startApp does), not
   * through the admin API: the rate-limit and allow-list tests would refuse the admin's own
   * follow-up requests (their budget is 3 too; their address is not on the list).
   */
  const configure = (patch: Record<string, unknown>) =>
    t.app.get(SettingsService).patch(patch, {
      ifMatch: '*',
      force: true,
      actor: { username: 'nginx-e2e' },
    });
  afterEach(async () => {
    if (!ready) return;
    const { groups, ip, bypass, publicApis, rateLimit, nativeOAuthTokens } = DEFAULT_SETTINGS;
    await configure({ groups, ip, bypass, publicApis, rateLimit, nativeOAuthTokens });
  });

  const maybe = itWhen('nginx');

  /** A request to the protected API through nginx; the marker ends up in the upstream's path. */
  const viaNginx = (m: string, options: SendOptions = {}) =>
    send(`${nginx.url}${PREFIX}/items/${m}`, options);

  const expectNginxProblem = (res: Reply, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status, code });
  };

  maybe(
    'an access token reaches the API, which learns the caller from Warden, not from the client',
    async () => {
      const group = await newGroup(t);
      const user = await newUser(t, { groups: [group] });
      const pair = await login(t, user);

      const m = marker();
      const res = await viaNginx(m, {
        headers: { authorization: bearer(pair.authentication), ...FORGED },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ok: true, path: `/items/${m}` });
      const [seen, ...more] = stub.seen(m);
      expect(more).toHaveLength(0);
      expect(seen.method).toBe('GET');
      expect(seen.headers['x-warden-user']).toBe(user.username);
      expect(seen.headers['x-warden-groups']).toBe(group);
      expect(seen.headers['x-warden-auth-method']).toBe('access');
      expect(seen.headers['x-warden-credential-id']).toBe(sessionOf(pair.authentication));
      // The API may want the caller's credentials too: they go on unchanged.
      expect(seen.headers.authorization).toBe(bearer(pair.authentication));

      // Denied direction: the same request without the token never reaches the API.
      const m2 = marker();
      const denied = await viaNginx(m2, { headers: FORGED });
      expectNginxProblem(denied, 401, 'unauthorized');
      expect(stub.seen(m2)).toHaveLength(0);
    },
  );

  maybe('a personal API token works the same way through nginx, until it is revoked', async () => {
    const user = await newUser(t);
    // Warden's own API through nginx's `location /`.
    const created = await send(`${nginx.url}/tokens`, {
      method: 'POST',
      headers: { authorization: basic(user.username, user.password) },
      json: { name: 'through nginx' },
    });
    expect(created.status).toBe(201);
    const { token, id } = created.body as { token: string; id: string };

    const m = marker();
    const res = await viaNginx(m, {
      method: 'PUT',
      headers: { authorization: bearer(token), ...FORGED },
      json: { summary: 'edited through nginx' },
    });
    expect(res.status).toBe(200);
    const [seen] = stub.seen(m);
    expect(seen.method).toBe('PUT');
    expect(seen.headers['x-warden-user']).toBe(user.username);
    expect(seen.headers['x-warden-auth-method']).toBe('api-token');
    expect(seen.headers['x-warden-credential-id']).toBe(id);
    // A user without groups: nginx sends no X-Warden-Groups at all, and not the forged one.
    expect(seen.headers['x-warden-groups']).toBeUndefined();

    const revoked = await send(`${nginx.url}/tokens/${id}`, {
      method: 'DELETE',
      headers: { authorization: basic(user.username, user.password) },
    });
    expect(revoked.status).toBe(204);
    const m2 = marker();
    expectNginxProblem(
      await viaNginx(m2, { headers: { authorization: bearer(token) } }),
      401,
      'unauthorized',
    );
    expect(stub.seen(m2)).toHaveLength(0);
  });

  maybe('no credentials: 401 with WWW-Authenticate, and the API sees nothing', async () => {
    const m = marker();
    const res = await viaNginx(m);
    expectNginxProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/Bearer/);
    expect(res.headers['x-request-id']).toBe(res.body.requestId);
    expect(stub.seen(m)).toHaveLength(0);
  });

  maybe(
    'bad credentials: 401 for a forged Warden token, an unknown API token, a wrong password',
    async () => {
      const user = await newUser(t);
      const pair = await login(t, user);
      const [header, payload, signature] = pair.authentication.split('.');
      const tampered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      for (const authorization of [
        bearer(tampered),
        bearer(generateApiToken()),
        basic(user.username, 'not-the-password'),
      ]) {
        const m = marker();
        const res = await viaNginx(m, { headers: { authorization } });
        expectNginxProblem(res, 401, 'unauthorized');
        expect(stub.seen(m)).toHaveLength(0);
      }
      // Control: the genuine credentials pass.
      for (const authorization of [
        bearer(pair.authentication),
        basic(user.username, user.password),
      ]) {
        const m = marker();
        expect((await viaNginx(m, { headers: { authorization } })).status).toBe(200);
        expect(stub.seen(m)).toHaveLength(1);
      }
    },
  );

  maybe(
    'groups.apiAccess: a user outside the groups gets 403 and the API sees nothing; a member passes',
    async () => {
      const apiUsers = await newGroup(t);
      const outsider = await login(t, await newUser(t));
      const member = await login(t, await newUser(t, { groups: [apiUsers] }));
      await configure({ groups: { apiAccess: [apiUsers] } });

      const m = marker();
      const res = await viaNginx(m, {
        headers: { authorization: bearer(outsider.authentication) },
      });
      expectNginxProblem(res, 403, 'forbidden');
      expect(stub.seen(m)).toHaveLength(0);

      const m2 = marker();
      expect(
        (await viaNginx(m2, { headers: { authorization: bearer(member.authentication) } })).status,
      ).toBe(200);
      expect(stub.seen(m2)).toHaveLength(1);
    },
  );

  maybe(
    'groups.readOnly: a member may GET but not POST; the method judged is the original one',
    async () => {
      const readers = await newGroup(t);
      const reader = await login(t, await newUser(t, { groups: [readers] }));
      const writer = await login(t, await newUser(t));
      await configure({ groups: { readOnly: [readers] } });

      const m = marker();
      expect(
        (await viaNginx(m, { headers: { authorization: bearer(reader.authentication) } })).status,
      ).toBe(200);
      expect(stub.seen(m).map((r) => r.method)).toEqual(['GET']);

      const m2 = marker();
      const post = await viaNginx(m2, {
        method: 'POST',
        headers: { authorization: bearer(reader.authentication) },
        json: { summary: 'new' },
      });
      expectNginxProblem(post, 403, 'forbidden');
      expect(stub.seen(m2)).toHaveLength(0);

      // Someone outside the read-only group may POST (with a body, which still reaches the API).
      const m3 = marker();
      const allowed = await viaNginx(m3, {
        method: 'POST',
        headers: { authorization: bearer(writer.authentication) },
        json: { summary: 'new' },
      });
      expect(allowed.status).toBe(200);
      expect(stub.seen(m3).map((r) => r.method)).toEqual(['POST']);
    },
  );

  maybe(
    'over the rate limit: the client gets 429 with Retry-After, the API does not see the request',
    async () => {
      const limited = await login(t, await newUser(t));
      const other = await login(t, await newUser(t));
      await configure({ rateLimit: { requests: 3, windowSeconds: 60 } });

      const m = marker();
      for (let i = 0; i < 3; i++) {
        const res = await viaNginx(m, {
          headers: { authorization: bearer(limited.authentication) },
        });
        expect(res.status).toBe(200);
      }
      expect(stub.seen(m)).toHaveLength(3);
      const fourth = await viaNginx(m, {
        headers: { authorization: bearer(limited.authentication) },
      });
      expectNginxProblem(fourth, 429, 'rate_limited');
      const retryAfter = Number(fourth.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(stub.seen(m)).toHaveLength(3);

      // The budget is per credential: another caller is not affected.
      const m2 = marker();
      expect(
        (await viaNginx(m2, { headers: { authorization: bearer(other.authentication) } })).status,
      ).toBe(200);
      expect(stub.seen(m2)).toHaveLength(1);
    },
  );

  maybe(
    'bypass is matched against the original method and URI as the client sent them to nginx',
    async () => {
      const status = (method: string, probe: string) =>
        send(`${nginx.url}${PREFIX}/status?probe=${probe}`, { method, headers: FORGED });
      const seenStatus = (probe: string) =>
        stub.requests.filter((r) => r.url === `/status?probe=${probe}`);

      // Not bypassed yet: credentials needed.
      const before = marker();
      expect((await status('GET', before)).status).toBe(401);
      // The API's own path (what nginx forwards upstream) is not what Warden judges.
      await configure({ bypass: { paths: ['GET /status'] } });
      const upstreamPath = marker();
      expect((await status('GET', upstreamPath)).status).toBe(401);
      expect(seenStatus(before).concat(seenStatus(upstreamPath))).toHaveLength(0);

      await configure({ bypass: { paths: [`GET ${PREFIX}/status`] } });
      const get = marker();
      const open = await status('GET', get);
      expect(open.status).toBe(200);
      expect(open.body).toEqual({ ok: true, path: `/status?probe=${get}` });
      const [seen] = seenStatus(get);
      // Nobody is named for a bypassed request, and the client's claim does not get through.
      expect(seen.headers['x-warden-user']).not.toBe('admin');
      expect(seen.headers['x-warden-auth-method']).toBe('anonymous');

      // The subrequest nginx makes is always to /authz/decision; Warden judges POST, not GET.
      const post = marker();
      expectNginxProblem(await status('POST', post), 401, 'unauthorized');
      expect(seenStatus(post)).toHaveLength(0);

      // A client naming the bypassed request in Traefik's headers does not get it judged.
      const claimed = marker();
      const forged = await viaNginx(claimed, {
        headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': `${PREFIX}/status` },
      });
      expectNginxProblem(forged, 401, 'unauthorized');
      expect(stub.seen(claimed)).toHaveLength(0);
    },
  );

  maybe(
    'a bypass pattern is judged against the path nginx serves: `//..` and `#` do not open it',
    async () => {
      await configure({ bypass: { paths: [`${PREFIX}/public/**`, '/**/health'] } });
      // nginx merges `//` before it resolves `..`: the API would get /items/<m>, not a path
      // under /public/. (Sent raw: a URL parser would resolve the `..` itself.)
      const m = marker();
      expect(await rawStatus(nginx.url, `${PREFIX}/public//../items/${m}`)).toBe(401);
      expect(stub.seen(m)).toHaveLength(0);
      // nginx ends the path at `#`, while X-Original-URI keeps what follows it; Warden refuses
      // the question, and nginx answers its auth_request error page.
      const m2 = marker();
      const status = await rawStatus(nginx.url, `${PREFIX}/items/${m2}#/health`);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(stub.seen(m2)).toHaveLength(0);
      // Control: the same bypass, asked plainly, lets the request through.
      const m3 = marker();
      expect((await send(`${nginx.url}${PREFIX}/public/${m3}`)).status).toBe(200);
      expect(stub.requests.some((r) => r.url === `/public/${m3}`)).toBe(true);
    },
  );

  maybe(
    'nativeOAuthTokens: an upstream bearer goes through without a Warden user; switched off it is 401',
    async () => {
      const m = marker();
      const res = await viaNginx(m, {
        headers: { authorization: 'Bearer opaque-upstream-token', ...FORGED },
      });
      expect(res.status).toBe(200);
      const [seen] = stub.seen(m);
      expect(seen.headers['x-warden-auth-method']).toBe('native');
      // Warden names nobody, so nginx sends no X-Warden-User: the forged one must not survive.
      expect(seen.headers['x-warden-user']).toBeUndefined();
      expect(seen.headers['x-warden-groups']).toBeUndefined();
      expect(seen.headers['x-warden-credential-id']).toBeUndefined();
      expect(seen.headers.authorization).toBe('Bearer opaque-upstream-token');

      await configure({ nativeOAuthTokens: { allowed: false } });
      const m2 = marker();
      expectNginxProblem(
        await viaNginx(m2, { headers: { authorization: 'Bearer opaque-upstream-token' } }),
        401,
        'unauthorized',
      );
      expect(stub.seen(m2)).toHaveLength(0);
    },
  );

  /*
   * The client address. On loopback the test client and nginx would share 127.0.0.1, which is a
   * trusted proxy by default, so the test client connects from 127.0.0.2 / 127.0.0.3 instead:
   * nginx (127.0.0.1, trusted) appends that peer to X-Forwarded-For, and Warden, walking the
   * header from the right, stops at the first untrusted entry: the real client.
   */
  maybe(
    'client address: Warden judges the peer nginx saw, not an X-Forwarded-For the client wrote',
    async () => {
      const pair = await login(t, await newUser(t));
      const authorization = bearer(pair.authentication);

      // Control: with no allow-list, any loopback client passes.
      const open = marker();
      expect(
        (await viaNginx(open, { headers: { authorization }, localAddress: '127.0.0.3' })).status,
      ).toBe(200);

      await configure({ ip: { allow: ['127.0.0.2/32'] } });

      const allowed = marker();
      const res = await viaNginx(allowed, {
        headers: { authorization },
        localAddress: '127.0.0.2',
      });
      expect(res.status).toBe(200);
      expect(stub.seen(allowed)).toHaveLength(1);

      const other = marker();
      expectNginxProblem(
        await viaNginx(other, { headers: { authorization }, localAddress: '127.0.0.3' }),
        403,
        'forbidden',
      );
      expect(stub.seen(other)).toHaveLength(0);

      // The client at 127.0.0.3 claims to be 127.0.0.2; nginx appends the real peer after it.
      const spoofed = marker();
      const spoof = await viaNginx(spoofed, {
        headers: { authorization, 'x-forwarded-for': '127.0.0.2' },
        localAddress: '127.0.0.3',
      });
      expectNginxProblem(spoof, 403, 'forbidden');
      expect(stub.seen(spoofed)).toHaveLength(0);

      // The same claim from the allowed client changes nothing either: it is still judged by its peer.
      const honest = marker();
      expect(
        (
          await viaNginx(honest, {
            headers: { authorization, 'x-forwarded-for': '10.1.2.3' },
            localAddress: '127.0.0.2',
          })
        ).status,
      ).toBe(200);
      expect(stub.seen(honest)[0].headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.2');
    },
  );
});

/*
 * Jira itself behind nginx: the protected API is the upstream whose sessions Warden checks
 * (UPSTREAM_BASE_URL), and its UI calls /rest/… with its session cookie and no Authorization.
 */
describe("nginx auth_request in front of Jira: Jira's own browser users", () => {
  const sessions: Record<string, string> = {};
  const stack = behindNginx({
    upstream: () => startFakeUpstream(sessions),
    app: (jira) => ({ env: { UPSTREAM_BASE_URL: jira.url } }),
  });
  let { upstream: jira, nginx } = stack;
  beforeAll(() => ({ upstream: jira, nginx } = stack));

  const maybe = itWhen('nginx');
  /** A browser's request to Jira's REST API through nginx; the marker ends up in Jira's path. */
  const browser = (m: string, cookie: string, method = 'GET') =>
    send(`${nginx.url}${PREFIX}/rest/api/2/search?jql=${m}`, { method, headers: { cookie } });
  const jiraSaw = (m: string) => jira.requests.filter((r) => r.url.includes(m));

  maybe(
    'a request with the session cookie and no Authorization reaches Jira, named by Warden; the session is checked once',
    async () => {
      const id = randomBytes(12).toString('hex');
      sessions[id] = 'jira-frank';
      const cookie = `JSESSIONID=${id}; atlassian.xsrf.token=B1-2-3|lin`;

      const m = marker();
      const first = await browser(m, cookie);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ ok: true, path: `/rest/api/2/search?jql=${m}` });
      const more = await Promise.all([browser(m, cookie), browser(m, cookie, 'POST')]);
      expect(more.map((r) => r.status)).toEqual([200, 200]);
      expect((await browser(m, cookie)).status).toBe(200);

      const seen = jiraSaw(m);
      expect(seen.map((r) => r.method).sort()).toEqual(['GET', 'GET', 'GET', 'POST']);
      for (const request of seen) {
        expect(request.headers['x-warden-user']).toBe('jira-frank');
        expect(request.headers['x-warden-auth-method']).toBe('session');
        expect(request.headers['x-warden-credential-id']).toMatch(/^[0-9a-f]{16}$/);
        // Jira's UI needs its cookie at Jira too.
        expect(request.headers.cookie).toBe(cookie);
      }
      // Four requests, one question to Jira about the session.
      expect(jira.seen.filter((c) => c.includes(id))).toEqual([cookie]);
    },
  );

  maybe('an unknown session cookie is a 401, and Jira sees nothing of the request', async () => {
    const id = randomBytes(12).toString('hex');
    const m = marker();
    const res = await browser(m, `JSESSIONID=${id}`);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(jiraSaw(m)).toHaveLength(0);
    // Warden did ask Jira about it: the cookie reached the decision.
    expect(jira.seen.filter((c) => c.includes(id))).toHaveLength(1);
  });
});
