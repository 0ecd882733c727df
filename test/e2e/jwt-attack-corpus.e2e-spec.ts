import {
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  KeyObject,
  randomUUID,
} from 'node:crypto';
import { AuthService } from '../../src/auth/auth.service';
import { KeyRingService } from '../../src/auth/keys/key-ring.service';
import { JwsKey } from '../../src/common/jwt/jws';
import { signJws } from '../support/jws';
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
 * The rule a variant attacks, which must be the one that refuses it: a variant refused for any
 * other reason (reuse detection, replay protection, a check further up) proves nothing about it.
 */
type Rule =
  | 'format'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'type'
  | 'iss-type'
  | 'aud-type'
  | 'exp-type'
  | 'expired'
  | 'not-yet-valid'
  | 'issued-in-future'
  | 'audience';

/** How the problem `detail` names each refusal (JwtError messages, see common/jwt). */
const DETAIL: Record<Exclude<Rule, 'expired' | 'type'>, RegExp> = {
  format: /^Token segments are not base64url$/,
  algorithm: /^Algorithm \S+ is not accepted$/,
  'unknown-key': /^Token was not signed by a known key$/,
  signature: /^Signature does not verify$/,
  'iss-type': /^Claim iss must be a string$/,
  'aud-type': /^Claim aud must be a string or an array of strings$/,
  'exp-type': /^Claim exp must be a NumericDate$/,
  'not-yet-valid': /^Token is not valid yet$/,
  'issued-in-future': /^Token was issued in the future$/,
  audience: /^Token has the wrong audience$/,
};
/** CMJ's SPI documents no audience: one a token does carry must name Warden. */
const CMJ_WRONG_AUDIENCE = /^Token has the wrong audience(: it is not for Warden)?$/;
const REMOTE_KEY_UNKNOWN = /^(Unknown signing key|The token names no usable key id \(kid\))$/;

/**
 * One credential kind under attack: how its genuine tokens are made (with the real key, so only
 * the attacked rule can make a variant fail), where they are sent, and the key it publishes.
 */
interface Kind {
  name: string;
  /** A genuine token; `claims` and `header` override the genuine ones (undefined removes). */
  sign: (claims?: Record<string, unknown>, header?: Record<string, unknown>) => string;
  send: (token: string) => Promise<HttpResult>;
  /** The public key anyone can fetch for this kind (none for HMAC kinds). */
  published?: KeyObject;
  /** The algorithm genuine tokens carry. */
  alg: string;
  /** The key is found by `kid` in a configured source (an unknown kid finds none). */
  kidLookup: boolean;
  /** The key is found by `kid` before the header's algorithm is compared with the key's. */
  keyBeforeAlgorithm: boolean;
  /** The `typ` of Warden's other kind, for kinds told apart by their header `typ`. */
  foreignTyp?: string;
  /** The kind pins `aud` (Connect request tokens carry none). */
  audiencePinned: boolean;
  /** Details this kind words its own way. */
  details: Partial<Record<Rule, RegExp>>;
  /** Before each case: a genuine token the store has never seen used (refresh: a new session). */
  fresh?: () => Promise<void>;
  /** After each case: the status the genuine token the variant was made from gets now. */
  genuineAfterwards?: () => Promise<number>;
  /** Runs the attacks under the settings in which this kind's own checks are the ones reached. */
  around?: (run: () => Promise<void>) => Promise<void>;
}

/** A compact JWS with exactly this header, payload and signature bytes (no key involved). */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signature = '') {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

function parts(token: string) {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
    signature: s,
  };
}

/**
 * Which rule refuses a token signed with `alg` under `kid` by someone without the kind's key:
 * the order in which the kind's verification looks at algorithm, key and signature.
 */
function forgedSignatureRule(kind: Kind, alg: string, kid: unknown, genuineKid: unknown): Rule {
  const unknownKid = kind.kidLookup && kid !== genuineKid;
  if (kind.keyBeforeAlgorithm && unknownKid) return 'unknown-key';
  if (alg !== kind.alg) return 'algorithm';
  return unknownKid ? 'unknown-key' : 'signature';
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
  const externalJwt = () => ({
    enabled: true,
    mode: 'publicKey',
    publicKey: idp.keys[0].publicKey.export({ format: 'pem', type: 'spki' }),
    issuer: idp.issuer,
    audience: 'warden-api',
    algorithms: ['RS256'],
    usernameClaim: 'sub',
    usernameRegex: null,
    groupsClaim: 'groups',
  });

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
    await operatorPatch(t, { externalJwt: externalJwt() });
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
    const admin = { id: access.payload.sub as string, username: ADMIN_USERNAME };
    // The genuine refresh token variants are made from; `fresh` opens a new session for each case.
    let refresh = parts(pair.refresh);
    let refreshToken = pair.refresh;
    const bearerTo =
      (path: string, method = 'GET') =>
      (token: string) =>
        http(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    const now = () => Math.floor(Date.now() / 1000);

    kinds.push(
      {
        name: 'access',
        alg: warden.alg,
        published: wardenPublic,
        kidLookup: true,
        keyBeforeAlgorithm: true,
        foreignTyp: 'refresh+jwt',
        audiencePinned: true,
        details: { type: /^Token is not an access token$/ },
        sign: (c, h) =>
          signJws(
            merge(access.header, h),
            merge({ ...access.payload, jti: randomUUID() }, c),
            warden,
          ),
        send: bearerTo('/system/whoami'),
        // With an IdP configured, a bearer token whose `iss` is not Warden's own goes to the IdP
        // and fails there on its key: Warden's own claim checks are reached with the IdP off.
        around: async (run) => {
          await operatorPatch(t, { externalJwt: { enabled: false } });
          try {
            await run();
          } finally {
            await operatorPatch(t, { externalJwt: externalJwt() });
          }
        },
      },
      {
        name: 'refresh',
        alg: warden.alg,
        published: wardenPublic,
        kidLookup: true,
        keyBeforeAlgorithm: true,
        foreignTyp: 'at+jwt',
        audiencePinned: true,
        details: { type: /^Token is not a refresh token$/ },
        // Same jti, sid and family as the stored session: the store would rotate any variant
        // whose signature and claims passed, so reuse detection never stands in for the check.
        sign: (c, h) => signJws(merge(refresh.header, h), merge(refresh.payload, c), warden),
        send: bearerTo('/system/reauth'),
        fresh: async () => {
          const opened = await t.app.get(AuthService).login(admin, 'basic', {
            ip: '127.0.0.1',
            userAgent: 'jwt-attack-corpus',
            requestId: randomUUID(),
            method: 'GET',
            path: '/system/auth',
          });
          refreshToken = opened.refresh!;
          refresh = parts(refreshToken);
        },
        // A refused variant must neither have used nor ended the session it was made from.
        genuineAfterwards: async () => (await bearerTo('/system/reauth')(refreshToken)).status,
      },
      {
        name: 'external',
        alg: 'RS256',
        published: idp.keys[0].publicKey,
        // A configured PEM key is the IdP's only key, whatever the kid says.
        kidLookup: false,
        keyBeforeAlgorithm: false,
        audiencePinned: true,
        details: {},
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
        alg: 'HS256',
        // The tenant (by `iss`) holds the one secret; a kid is not looked at.
        kidLookup: false,
        keyBeforeAlgorithm: false,
        audiencePinned: false,
        details: {},
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
        alg: 'RS256',
        published: atlassian.key.publicKey,
        kidLookup: true,
        keyBeforeAlgorithm: false,
        audiencePinned: true,
        details: {
          algorithm: /^Lifecycle callbacks must be signed with RS256$/,
          'unknown-key': REMOTE_KEY_UNKNOWN,
          audience: /^The token is not for this app \(aud\)$/,
        },
        // `iat` now: never older than the last accepted callback, so replay protection (which
        // refuses older ones) cannot be what refuses a variant.
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
        alg: 'RS256',
        published: cmj.key.publicKey,
        kidLookup: true,
        keyBeforeAlgorithm: false,
        audiencePinned: true,
        details: {
          algorithm: /^CMJ SPI tokens must be signed with RS256$/,
          'unknown-key': REMOTE_KEY_UNKNOWN,
          audience: CMJ_WRONG_AUDIENCE,
        },
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

  /** What a refusal says of itself: status, problem code and detail, and its challenge. */
  const observed = (res: HttpResult) => {
    const detail: unknown = res.body?.detail;
    const description = String(detail).replace(/["\\]/g, '');
    return {
      status: res.status,
      code: res.body?.code as unknown,
      detail,
      problemJson: /^application\/problem\+json/.test(res.headers.get('content-type') ?? ''),
      challengeNamesDetail: (res.headers.get('www-authenticate') ?? '').includes(
        `error="invalid_token", error_description="${description}"`,
      ),
      leaksStack: /at .*\.(ts|js):\d+/.test(res.text),
    };
  };

  /** A 401 whose problem body and challenge name `detail`: the refusal came from that rule. */
  const refusedWith = (detail: RegExp, code = 'invalid_token') => ({
    status: 401,
    code,
    detail: expect.stringMatching(detail),
    problemJson: true,
    challengeNamesDetail: true,
    leaksStack: false,
  });

  const refusedBy = (kind: Kind, rule: Rule) =>
    rule === 'expired'
      ? refusedWith(new RegExp(`^The ${kind.name} token has expired$`), 'token_expired')
      : refusedWith(kind.details[rule] ?? DETAIL[rule as Exclude<Rule, 'expired' | 'type'>]);

  interface Attack {
    what: string;
    rule: Rule;
    make: () => string;
  }

  /** The attacks, each a token made from a genuine one of the kind, differing only as named. */
  const attacks = (kind: Kind): Attack[] => {
    const genuine = kind.sign();
    const { header, payload, signature } = parts(genuine);
    const now = Math.floor(Date.now() / 1000);
    const forged = (what: string, alg: string, kid: unknown, make: () => string): Attack => ({
      what,
      rule: forgedSignatureRule(kind, alg, kid, header.kid),
      make,
    });
    const list: Attack[] = [
      // The genuine signature stays: only the header's algorithm differs, so it is the
      // algorithm pin (not a missing signature) that refuses these.
      ...['none', 'None', 'NONE', 'nOnE'].map((alg) =>
        forged(`alg ${alg}`, alg, header.kid, () => forge({ ...header, alg }, payload, signature)),
      ),
      // An unsecured JWS (RFC 7519 §6) has an empty signature, which no kind takes.
      {
        what: 'alg none, unsigned',
        rule: 'format',
        make: () => forge({ ...header, alg: 'none' }, payload),
      },
      { what: 'null signature', rule: 'format', make: () => forge(header, payload) },
      forged(
        'signature of another token',
        kind.alg,
        header.kid,
        () =>
          `${genuine.split('.').slice(0, 2).join('.')}.${kind.sign({ sub: 'x' }).split('.')[2]}`,
      ),
      forged('signed by an attacker under the genuine kid', 'RS256', header.kid, () =>
        signJws(header, payload, {
          alg: 'RS256',
          key: attacker.privateKey,
          kid: header.kid as string | undefined,
        }),
      ),
      forged('embedded jwk of the attacker', 'RS256', header.kid, () =>
        signJws({ ...header, jwk: attacker.publicKey.export({ format: 'jwk' }) }, payload, {
          alg: 'RS256',
          key: attacker.privateKey,
        }),
      ),
      forged('jku pointing elsewhere', 'RS256', 'evil', () =>
        signJws({ ...header, jku: 'https://evil.example/jwks.json' }, payload, {
          alg: 'RS256',
          key: attacker.privateKey,
          kid: 'evil',
        }),
      ),
      forged('x5u pointing elsewhere', 'RS256', 'evil', () =>
        signJws({ ...header, x5u: 'https://evil.example/cert.pem' }, payload, {
          alg: 'RS256',
          key: attacker.privateKey,
          kid: 'evil',
        }),
      ),
      // A kid is only ever a look-up key: pointing it at a file or into a query finds no key
      // the attacker's signature could match (HMAC with the file's likely content, or RSA).
      ...(
        [
          '../../../../etc/passwd',
          '/dev/null',
          "x' OR '1'='1' --",
          'kid; DROP TABLE signing_keys',
        ] as const
      ).flatMap((kid) => [
        forged(`kid ${JSON.stringify(kid)}, HS256 with an empty-ish secret`, 'HS256', kid, () =>
          signJws({ ...header, alg: 'HS256', kid }, payload, {
            alg: 'HS256',
            key: createSecretKey(Buffer.from('root:x:0:0:root:/root:/bin/bash\n')),
          }),
        ),
        forged(`kid ${JSON.stringify(kid)}, RS256 by the attacker`, 'RS256', kid, () =>
          signJws(header, payload, { alg: 'RS256', key: attacker.privateKey, kid }),
        ),
      ]),
      forged('psychic signature (ES256, r = s = 0)', 'ES256', header.kid, () =>
        forge({ ...header, alg: 'ES256' }, payload, Buffer.alloc(64).toString('base64url')),
      ),
      { what: 'iss as an array', rule: 'iss-type', make: () => kind.sign({ iss: [payload.iss] }) },
      { what: 'iss as a number', rule: 'iss-type', make: () => kind.sign({ iss: 42 }) },
      { what: 'aud as a number', rule: 'aud-type', make: () => kind.sign({ aud: 7 }) },
      {
        what: 'exp as a string',
        rule: 'exp-type',
        make: () => kind.sign({ exp: String(now + 300) }),
      },
      // `iat` stays the genuine one: lifecycle callbacks older than the last accepted one are
      // refused as replays, which would hide whether `exp` is checked at all.
      { what: 'expired', rule: 'expired', make: () => kind.sign({ exp: now - 600 }) },
      { what: 'not yet valid', rule: 'not-yet-valid', make: () => kind.sign({ nbf: now + 3600 }) },
      {
        what: 'issued in the far future',
        rule: 'issued-in-future',
        make: () => kind.sign({ iat: now + 86_400 * 365, exp: now + 86_400 * 366 }),
      },
      forged(
        'tampered payload',
        kind.alg,
        header.kid,
        () =>
          `${genuine.split('.')[0]}.${b64({ ...payload, sub: 'admin', username: 'admin' })}.${signature}`,
      ),
    ];
    if (kind.foreignTyp) {
      list.push({
        what: `typ ${kind.foreignTyp}`,
        rule: 'type',
        make: () => kind.sign({}, { typ: kind.foreignTyp }),
      });
    }
    if (kind.audiencePinned) {
      list.push({
        what: 'aud of another service',
        rule: 'audience',
        make: () => kind.sign({ aud: 'https://elsewhere.example.test' }),
      });
    }
    if (kind.published) {
      const pem = kind.published.export({ format: 'pem', type: 'spki' }).toString();
      const der = kind.published.export({ format: 'der', type: 'spki' });
      for (const [label, secret] of [
        ['PEM', Buffer.from(pem)],
        ['PEM with whitespace around it', Buffer.from(`\n  ${pem}  \n`)],
        ['DER', der],
      ] as const) {
        list.push(
          forged(`HS256 keyed with the published public key (${label})`, 'HS256', header.kid, () =>
            signJws({ ...header, alg: 'HS256' }, payload, {
              alg: 'HS256',
              key: createSecretKey(secret),
            } as JwsKey),
          ),
        );
      }
    } else {
      list.push(
        forged('RS256 instead of the shared-secret HMAC', 'RS256', header.kid, () =>
          signJws({ ...header, alg: 'RS256' }, payload, { alg: 'RS256', key: attacker.privateKey }),
        ),
      );
    }
    return list;
  };

  const names = ['access', 'refresh', 'external', 'connect', 'connect-install', 'cmj-spi'];
  const kindNamed = (name: string) => kinds.find((k) => k.name === name)!;

  it.each(names)('%s: the genuine token is accepted (control)', async (name) => {
    const kind = kindNamed(name);
    await kind.fresh?.();
    // Made exactly as the variants are (for refresh: the session's own claims, re-signed).
    const res = await kind.send(kind.sign());
    expect([200, 204]).toContain(res.status);
  });

  it.each(names)('%s: every attack is refused by the rule it attacks', async (name) => {
    const kind = kindNamed(name);
    // Every case is run and compared at once, so a failure lists each case refused wrongly.
    const seen: Record<string, unknown>[] = [];
    const wanted: Record<string, unknown>[] = [];
    const run = async () => {
      const count = attacks(kind).length;
      for (let i = 0; i < count; i++) {
        await kind.fresh?.();
        const { what, rule, make } = attacks(kind)[i];
        const res = await kind.send(make());
        const after = kind.genuineAfterwards && {
          genuineAfterwards: await kind.genuineAfterwards(),
        };
        seen.push({ what, ...observed(res), ...after });
        wanted.push({ what, ...refusedBy(kind, rule), ...(after && { genuineAfterwards: 200 }) });
      }
    };
    await (kind.around ? kind.around(run) : run());
    expect(seen).toEqual(wanted);
  });

  /**
   * What refuses a genuine token of one kind (rows) on another kind's route (columns). Access and
   * external share a route: there the token is taken as its own kind, never the other.
   */
  const CROSS: Record<string, Record<string, RegExp | 'own kind'>> = {
    access: {
      refresh: /^Token is not a refresh token$/,
      external: 'own kind',
      connect: /^The token names no installed tenant$/,
      // Warden's base URL is also the lifecycle audience: the callback binding (qsh) refuses it.
      'connect-install': /^Claim qsh is required$/,
      'cmj-spi': REMOTE_KEY_UNKNOWN,
    },
    refresh: {
      access: /^Token is not an access token$/,
      external: /^Token is not an access token$/,
      connect: /^The token names no installed tenant$/,
      'connect-install': /^The token is not for this app \(aud\)$/,
      'cmj-spi': CMJ_WRONG_AUDIENCE,
    },
    external: {
      access: 'own kind',
      refresh: /^Token was not signed by a known key$/,
      connect: /^The token names no installed tenant$/,
      'connect-install': /^The token is not for this app \(aud\)$/,
      'cmj-spi': CMJ_WRONG_AUDIENCE,
    },
    connect: {
      // Its issuer (the tenant) is no identity provider's: Warden's own verification takes it,
      // and finds no key of its own under that kid.
      access: /^Token was not signed by a known key$/,
      external: /^Token was not signed by a known key$/,
      refresh: /^Token was not signed by a known key$/,
      'connect-install': /^Lifecycle callbacks must be signed with RS256$/,
      'cmj-spi': /^CMJ SPI tokens must be signed with RS256$/,
    },
    'connect-install': {
      // No provider's issuer: Warden's own verification, which knows no such kid.
      access: /^Token was not signed by a known key$/,
      external: /^Token was not signed by a known key$/,
      refresh: /^Token was not signed by a known key$/,
      connect: /^Algorithm RS256 is not accepted$/,
      'cmj-spi': REMOTE_KEY_UNKNOWN,
    },
    'cmj-spi': {
      // No provider's issuer: Warden's own verification, which knows no such kid.
      access: /^Token was not signed by a known key$/,
      external: /^Token was not signed by a known key$/,
      refresh: /^Token was not signed by a known key$/,
      connect: /^The token names no installed tenant$/,
      'connect-install': /^Claim qsh is required$/,
    },
  };

  it.each(names)('%s: its genuine token is refused as every other kind', async (name) => {
    const kind = kindNamed(name);
    const seen: Record<string, unknown>[] = [];
    const wanted: Record<string, unknown>[] = [];
    for (const other of kinds.filter((k) => k.name !== name)) {
      await kind.fresh?.();
      const res = await other.send(kind.sign());
      const expected = CROSS[name][other.name];
      const after = kind.genuineAfterwards && { genuineAfterwards: await kind.genuineAfterwards() };
      const as = other.name;
      if (expected === 'own kind') {
        seen.push({ as, status: res.status, authMethod: res.body?.authMethod });
        wanted.push({ as, status: 200, authMethod: name });
      } else {
        seen.push({ as, ...observed(res), ...after });
        wanted.push({ as, ...refusedWith(expected), ...(after && { genuineAfterwards: 200 }) });
      }
    }
    expect(seen).toEqual(wanted);
  });
});
