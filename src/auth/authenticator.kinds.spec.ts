import { CredentialKind } from '../common/principal';
import { Settings } from '../settings/settings.defaults';
import { AuthenticationRules, AuthenticatorService } from './authenticator.service';
import {
  API,
  API_TOKEN,
  authenticatorSpec,
  basic,
  JWT,
  LOGIN,
  REAUTH,
  USER,
} from '../../test/support/authenticator';

describe(AuthenticatorService.name, () => {
  const spec = authenticatorSpec();
  const { request, refusal } = spec;
  let { settings, strategies, sut } = spec;
  beforeEach(() => ({ settings, strategies, sut } = spec));

  describe('which kind takes a request', () => {
    type Row = [
      string,
      string | undefined,
      AuthenticationRules,
      (s: Settings) => void,
      CredentialKind,
    ];
    const on = () => undefined;
    const basicOff = (s: Settings) => (s.basicAuth.enabled = false);
    const rows: Row[] = [
      ['a Bearer JWT on an API route', `Bearer ${JWT}`, API, on, 'access'],
      ['a bare JWT on an API route', JWT, API, on, 'access'],
      ['a Bearer wdn_ token', `Bearer ${API_TOKEN}`, API, on, 'api-token'],
      ['an APIToken wdn_ token', `APIToken ${API_TOKEN}`, API, on, 'api-token'],
      ['a wdn_ token as the Basic password', basic('alice', API_TOKEN), API, on, 'api-token'],
      [
        'a wdn_ token as the Basic password, basicAuth off',
        basic('alice', API_TOKEN),
        API,
        basicOff,
        'api-token',
      ],
      ['a password with basicAuth on', basic('alice', 'pw'), API, on, 'basic'],
      [
        'a password on the login route, basicAuth off',
        basic('alice', 'pw'),
        LOGIN,
        basicOff,
        'basic',
      ],
      ['a Bearer JWT on the renewal route', `Bearer ${JWT}`, REAUTH, on, 'refresh'],
      [
        'a Bearer JWT where access and refresh are both taken',
        `Bearer ${JWT}`,
        { kinds: ['refresh', 'access'] },
        on,
        'access',
      ],
    ];

    it.each(rows.map((r) => [`${r[0]} → ${r[4]}`, ...r.slice(1)] as Row))(
      '%s',
      async (_name, authorization, rules, change, kind) => {
        change(settings);
        const { principal } = await sut.authenticate(request(authorization), rules);
        expect(principal.authMethod).toBe(kind);
        expect(principal.id).toBe(USER.id);
        const ran = (Object.keys(strategies) as (keyof typeof strategies)[]).filter(
          (k) => strategies[k].seen.length > 0,
        );
        expect(ran).toEqual([kind]);
      },
    );
  });

  describe('the 401 a request gets when no kind takes it', () => {
    type Row = [string, string | undefined, AuthenticationRules, (s: Settings) => void, string];
    const on = () => undefined;
    const rows: Row[] = [
      ['no credentials', undefined, API, on, 'authentication_required'],
      ['a scheme with nothing after it', 'Bearer', API, on, 'invalid_credentials'],
      ['Basic that is not base64', 'Basic %%%', API, on, 'invalid_credentials'],
      ['an unknown scheme', 'Digest abc', API, on, 'credential_not_accepted'],
      [
        'a password with basicAuth off',
        basic('alice', 'pw'),
        API,
        (s) => (s.basicAuth.enabled = false),
        'basic_auth_disabled',
      ],
      [
        'a Bearer wdn_ token with apiTokens off',
        `Bearer ${API_TOKEN}`,
        API,
        (s) => (s.apiTokens.enabled = false),
        'api_tokens_disabled',
      ],
      [
        'a wdn_ Basic password with apiTokens off',
        basic('alice', API_TOKEN),
        API,
        (s) => (s.apiTokens.enabled = false),
        'api_tokens_disabled',
      ],
      [
        'a wdn_ Basic password with both off',
        basic('alice', API_TOKEN),
        API,
        (s) => {
          s.apiTokens.enabled = false;
          s.basicAuth.enabled = false;
        },
        'api_tokens_disabled',
      ],
      [
        'a password on the renewal route',
        basic('alice', 'pw'),
        REAUTH,
        on,
        'credential_not_accepted',
      ],
      ['a JWT on the login route', `Bearer ${JWT}`, LOGIN, on, 'credential_not_accepted'],
      [
        'a wdn_ token on the renewal route',
        `Bearer ${API_TOKEN}`,
        REAUTH,
        on,
        'credential_not_accepted',
      ],
    ];

    it.each(rows.map((r) => [`${r[0]} → ${r[4]}`, ...r.slice(1)] as Row))(
      '%s',
      async (_name, authorization, rules, change, code) => {
        change(settings);
        const err = await refusal(authorization, rules);
        expect(err.code).toBe(code);
        for (const s of Object.values(strategies)) expect(s.seen).toHaveLength(0);
      },
    );

    it("names the route's challenges, without an error when nothing was presented", async () => {
      const err = await refusal(undefined, API);
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden"',
        'Basic realm="warden", charset="UTF-8"',
      ]);
    });

    it('names invalid_token on a credential of a kind the route does not take', async () => {
      const err = await refusal(`Bearer ${JWT}`, LOGIN);
      expect(err.extras.headers?.['WWW-Authenticate']).toEqual([
        'Basic realm="warden", charset="UTF-8"',
      ]);
      const bearer = await refusal(basic('alice', 'pw'), REAUTH);
      expect(bearer.extras.headers?.['WWW-Authenticate']).toEqual([
        'Bearer realm="warden", error="invalid_token", error_description="Credential kind not accepted here"',
      ]);
    });
  });
});
