import {
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  KeyObject,
  randomUUID,
} from 'node:crypto';
import { KeyRingService } from '../../src/auth/keys/key-ring.service';
import { JwsKey, signJws } from '../../src/common/jwt/jws';
import { qshOf } from '../../src/connect/qsh';
import { startApp, TestApp } from '../support/app';
import { FakeAtlassian, newTenant, SimTenant } from '../support/atlassian';
import { FakeCmj } from '../support/cmj';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { login, Pair } from '../support/factories';
import { http, HttpResult } from '../support/http';
import { FakeIdp } from '../support/idp';
import { operatorPatch } from '../support/settings';

const BASE_URL = 'https://warden.example.test';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * One credential kind under attack: how its genuine tokens are made (with the real key, so only
 * the attacked rule can make a variant fail), where they are sent, and the key it publishes.
 */
interface Kind {
  name: string;
  /** A genuine token; `claims` and `header` override the genuine ones (undefined removes). */
  sign: (claims?: Record<string, unknown>, header?: Record<string, unknown>) => string;
  send: (token: string) => Promise<HttpResult>;
  /** Where `send` goes; kinds sharing a route (access, external) are told apart by the answer. */
  route: string;
  /** The public key anyone can fetch for this kind (none for HMAC kinds). */
  published?: KeyObject;
  /** The algorithm genuine tokens carry. */
  alg: string;
}

/** A compact JWS with exactly this header, payload and signature bytes (no key involved). */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signature = '') {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

function parts(token: string) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}

describe('JWT attack corpus against every credential kind', () => {
  let t: TestApp;
  let pair: Pair;
  const idp = new FakeIdp();
  const atlassian = new FakeAtlassian();
  const cmj = new FakeCmj();
  const tenant: SimTenant = newTenant();
  const kinds: Kind[] = [];
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });

  beforeAll(async () => {
    await Promise.all([idp.start(), atlassian.start(), cmj.start()]);
    cmj.audience = BASE_URL;
    t = await startApp({
      env: {
        WARDEN_BASE_URL: BASE_URL,
        WARDEN_ISSUER: BASE_URL,
        CONNECT_KEYS_URL: atlassian.keysUrl,
        CMJ_BASE_URL: cmj.url,
        CMJ_KEYS_URL: cmj.keysUrl,
        CMJ_DOWNLOAD_HOSTS: cmj.downloadHost,
        CMJ_ALLOW_HTTP: 'true',
      },
    });
    await operatorPatch(t, {
      externalJwt: {
        enabled: true,
        mode: 'publicKey',
        publicKey: idp.keys[0].publicKey.export({ format: 'pem', type: 'spki' }),
        issuer: idp.issuer,
        audience: 'warden-api',
        algorithms: ['RS256'],
        usernameClaim: 'sub',
        usernameRegex: null,
        groupsClaim: 'groups',
      },
    });
    const installed = await http(`${t.url}/connect/installed`, {
      method: 'POST',
      headers: {
        authorization: `JWT ${atlassian.lifecycleToken(tenant.clientKey, BASE_URL, '/connect/installed')}`,
      },
      json: atlassian.installPayload(tenant),
    });
    expect(installed.status).toBe(204);
    pair = await login(t, { username: ADMIN_USERNAME, password: ADMIN_PASSWORD });

    const warden = t.app.get(KeyRingService).signingKey();
    const wardenPublic = createPublicKey(warden.key);
    const merge = (base: Record<string, unknown>, over: Record<string, unknown> = {}) => {
      const out = { ...base, ...over };
      for (const [k, v] of Object.entries(over)) if (v === undefined) delete out[k];
      return out;
    };
    const access = parts(pair.authentication);
    const refresh = parts(pair.refresh!);
    const bearerTo =
      (path: string, method = 'GET') =>
      (token: string) =>
        http(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    const now = () => Math.floor(Date.now() / 1000);

    kinds.push(
      {
        name: 'access',
        route: '/system/whoami',
        alg: warden.alg,
        published: wardenPublic,
        sign: (c, h) =>
          signJws(
            merge(access.header, h),
            merge({ ...access.payload, jti: randomUUID() }, c),
            warden,
          ),
        send: bearerTo('/system/whoami'),
      },
      {
        name: 'refresh',
        route: '/system/reauth',
        alg: warden.alg,
        published: wardenPublic,
        sign: (c, h) =>
          signJws(
            merge(refresh.header, h),
            merge({ ...refresh.payload, jti: randomUUID() }, c),
            warden,
          ),
        // The genuine refresh token is presented only in the control: a real use rotates it.
        send: bearerTo('/system/reauth'),
      },
      {
        name: 'external',
        route: '/system/whoami',
        alg: 'RS256',
        published: idp.keys[0].publicKey,
        sign: (c, h) => {
          const key = idp.keys[0];
          return signJws(
            merge({ typ: 'JWT' }, h),
            merge(
              { iss: idp.issuer, sub: 'carol', aud: 'warden-api', iat: now(), exp: now() + 300 },
              c,
            ),
            { alg: key.alg, key: key.privateKey, kid: key.kid },
          );
        },
        send: bearerTo('/system/whoami'),
      },
      {
        name: 'connect',
        route: '/connect/whoami',
        alg: 'HS256',
        sign: (c, h) =>
          signJws(
            merge({ typ: 'JWT' }, h),
            merge(
              {
                iss: tenant.clientKey,
                sub: 'acc-1',
                iat: now(),
                exp: now() + 180,
                qsh: qshOf('GET', '/connect/whoami'),
              },
              c,
            ),
            { alg: 'HS256', key: createSecretKey(Buffer.from(tenant.sharedSecret)) },
          ),
        send: (token) =>
          http(`${t.url}/connect/whoami`, { headers: { authorization: `JWT ${token}` } }),
      },
      {
        name: 'connect-install',
        route: '/connect/installed',
        alg: 'RS256',
        published: atlassian.key.publicKey,
        sign: (c, h) =>
          signJws(
            merge({ typ: 'JWT' }, h),
            merge(
              {
                iss: tenant.clientKey,
                aud: BASE_URL,
                iat: now(),
                exp: now() + 180,
                qsh: qshOf('POST', '/connect/installed'),
              },
              c,
            ),
            { alg: 'RS256', key: atlassian.key.privateKey, kid: atlassian.key.kid },
          ),
        // The tenant's own install again (the same secret), as the host retries it.
        send: (token) =>
          http(`${t.url}/connect/installed`, {
            method: 'POST',
            headers: { authorization: `JWT ${token}` },
            json: atlassian.installPayload(tenant),
          }),
      },
      {
        name: 'cmj-spi',
        route: '/cmjspi/configuration/export',
        alg: 'RS256',
        published: cmj.key.publicKey,
        sign: (c, h) =>
          signJws(
            merge({ typ: 'JWT' }, h),
            merge({ iss: 'cmj-cloud', sub: 'cmj', aud: BASE_URL, iat: now(), exp: now() + 300 }, c),
            { alg: 'RS256', key: cmj.key.privateKey, kid: cmj.key.kid },
          ),
        send: (token) => {
          const id = `corpus-${randomUUID()}`;
          return http(`${t.url}/cmjspi/configuration/export`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}` },
            json: { operationId: id, operationToken: cmj.issue(id) },
          });
        },
      },
    );
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await Promise.all([idp.stop(), atlassian.stop(), cmj.stop()]);
  });

  const expectRefused = (res: HttpResult, what: string) => {
    expect({ what, status: res.status }).toEqual({ what, status: 401 });
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
  };

  /** The attacks, each a token made from a genuine one of the kind. */
  const attacks = (kind: Kind): [string, () => string][] => {
    const genuine = kind.sign();
    const { header, payload } = parts(genuine);
    const now = Math.floor(Date.now() / 1000);
    const list: [string, () => string][] = [
      ...['none', 'None', 'NONE', 'nOnE'].map(
        (alg) => [`alg ${alg}`, () => forge({ ...header, alg }, payload)] as [string, () => string],
      ),
      ['null signature', () => forge(header, payload)],
      [
        'signature of another token',
        () =>
          `${genuine.split('.').slice(0, 2).join('.')}.${kind.sign({ sub: 'x' }).split('.')[2]}`,
      ],
      [
        'signed by an attacker under the genuine kid',
        () =>
          signJws(header, payload, {
            alg: 'RS256',
            key: attacker.privateKey,
            kid: header.kid as string | undefined,
          }),
      ],
      [
        'embedded jwk of the attacker',
        () =>
          signJws({ ...header, jwk: attacker.publicKey.export({ format: 'jwk' }) }, payload, {
            alg: 'RS256',
            key: attacker.privateKey,
          }),
      ],
      [
        'jku pointing elsewhere',
        () =>
          signJws({ ...header, jku: 'https://evil.example/jwks.json' }, payload, {
            alg: 'RS256',
            key: attacker.privateKey,
            kid: 'evil',
          }),
      ],
      [
        'x5u pointing elsewhere',
        () =>
          signJws({ ...header, x5u: 'https://evil.example/cert.pem' }, payload, {
            alg: 'RS256',
            key: attacker.privateKey,
            kid: 'evil',
          }),
      ],
      // A kid is only ever a look-up key: pointing it at a file or into a query finds no key
      // the attacker's signature could match (HMAC with the file's likely content, or RSA).
      ...(
        [
          '../../../../etc/passwd',
          '/dev/null',
          "x' OR '1'='1' --",
          'kid; DROP TABLE signing_keys',
        ] as const
      ).flatMap(
        (kid) =>
          [
            [
              `kid ${JSON.stringify(kid)}, HS256 with an empty-ish secret`,
              () =>
                signJws({ ...header, alg: 'HS256', kid }, payload, {
                  alg: 'HS256',
                  key: createSecretKey(Buffer.from('root:x:0:0:root:/root:/bin/bash\n')),
                }),
            ],
            [
              `kid ${JSON.stringify(kid)}, RS256 by the attacker`,
              () => signJws(header, payload, { alg: 'RS256', key: attacker.privateKey, kid }),
            ],
          ] as [string, () => string][],
      ),
      [
        'psychic signature (ES256, r = s = 0)',
        () => forge({ ...header, alg: 'ES256' }, payload, Buffer.alloc(64).toString('base64url')),
      ],
      ['iss as an array', () => kind.sign({ iss: [payload.iss] })],
      ['iss as a number', () => kind.sign({ iss: 42 })],
      ['aud as a number', () => kind.sign({ aud: 7 })],
      ['exp as a string', () => kind.sign({ exp: String(now + 300) })],
      ['expired', () => kind.sign({ iat: now - 3600, exp: now - 600 })],
      ['not yet valid', () => kind.sign({ nbf: now + 3600 })],
      [
        'issued in the far future',
        () => kind.sign({ iat: now + 86_400 * 365, exp: now + 86_400 * 366 }),
      ],
      [
        'tampered payload',
        () =>
          `${genuine.split('.')[0]}.${b64({ ...payload, sub: 'admin', username: 'admin' })}.${genuine.split('.')[2]}`,
      ],
    ];
    if (kind.published) {
      const pem = kind.published.export({ format: 'pem', type: 'spki' }).toString();
      const der = kind.published.export({ format: 'der', type: 'spki' });
      for (const [label, secret] of [
        ['PEM', Buffer.from(pem)],
        ['PEM with whitespace around it', Buffer.from(`\n  ${pem}  \n`)],
        ['DER', der],
      ] as const) {
        list.push([
          `HS256 keyed with the published public key (${label})`,
          () =>
            signJws({ ...header, alg: 'HS256' }, payload, {
              alg: 'HS256',
              key: createSecretKey(secret),
            } as JwsKey),
        ]);
      }
    } else {
      list.push([
        'RS256 instead of the shared-secret HMAC',
        () =>
          signJws({ ...header, alg: 'RS256' }, payload, { alg: 'RS256', key: attacker.privateKey }),
      ]);
    }
    return list;
  };

  const names = ['access', 'refresh', 'external', 'connect', 'connect-install', 'cmj-spi'];

  it.each(names)('%s: the genuine token is accepted (control)', async (name) => {
    const kind = kinds.find((k) => k.name === name)!;
    const res = await kind.send(kind.sign(name === 'refresh' ? { jti: undefined } : {}));
    if (name === 'refresh') {
      // A re-signed copy is not the stored session token: the genuine one is what works.
      const genuine = await kind.send(pair.refresh!);
      expect(genuine.status).toBe(200);
      pair = { ...pair, refresh: genuine.body.refresh };
      return;
    }
    expect([200, 204]).toContain(res.status);
  });

  it.each(names)('%s: every attack is a 401', async (name) => {
    const kind = kinds.find((k) => k.name === name)!;
    for (const [what, make] of attacks(kind))
      expectRefused(await kind.send(make()), `${name}: ${what}`);
  });

  it.each(names)('%s: its genuine token is refused as every other kind', async (name) => {
    const kind = kinds.find((k) => k.name === name)!;
    for (const other of kinds.filter((k) => k.name !== name)) {
      const token = name === 'refresh' ? pair.refresh! : kind.sign();
      const res = await other.send(token);
      if (other.route === kind.route) {
        // The same route takes both kinds: the token is taken as its own kind, never the other.
        expect({ presented: other.name, as: res.body.authMethod }).toEqual({
          presented: other.name,
          as: name,
        });
      } else expectRefused(res, `${name} presented as ${other.name}`);
    }
  });
});
