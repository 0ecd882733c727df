import { KeyView } from '../../src/auth/keys/dto/keys.dto';
import { InvalidationBus } from '../../src/common/invalidation/invalidation-bus';
import { RedisInvalidationBus } from '../../src/common/invalidation/redis-invalidation-bus';
import { SettingsService } from '../../src/settings/settings.service';
import { itWhen, startApp, TestApp } from '../support/app';
import { within } from '../support/eventually';
import { adminAuth, login, newGroup, newUser } from '../support/factories';
import { patchSettings } from '../support/settings';
import { bearer, http } from '../support/http';
import { requirePostgres } from '../support/postgres';
import { awaitInvalidationSubscribers, REDIS_URL, requireRedis } from '../support/redis';

/** How far ahead of the rotation the key activates in this test (real time: it is waited for). */
const LEAD_MS = 3000;

const kidOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).kid;

describe('administration seen from two instances (one PostgreSQL, one Redis)', () => {
  let a: TestApp;
  let b: TestApp;
  let ready = false;

  beforeAll(async () => {
    const postgres = await requirePostgres();
    const redis = await requireRedis();
    ready = postgres && redis;
    if (!ready) return;
    a = await startApp({ database: 'postgres', env: { REDIS_URL } });
    b = await startApp({
      env: {
        DATABASE_URL: a.env.DATABASE_URL,
        WARDEN_ENCRYPTION_KEY: a.env.WARDEN_ENCRYPTION_KEY,
        REDIS_URL,
      },
    });
    await Promise.all(
      [a, b].map((t) => (t.app.get(InvalidationBus) as RedisInvalidationBus).ready()),
    );
    await awaitInvalidationSubscribers(2);
  }, 60_000);

  afterAll(async () => {
    jest.restoreAllMocks();
    // B first: A's close drops the shared database.
    await b?.close();
    await a?.close();
  });

  const maybe = itWhen('postgres', 'redis');

  maybe(
    'B publishes a key rotated on A within a second, and both switch to it within a second of its activation',
    async () => {
      const user = await newUser(a);
      const refresh = { a: (await login(a, user)).refresh, b: (await login(b, user)).refresh };
      /** A new access token from `t`, cheaply (no password hashing): its kid says who signed. */
      const signer = async (t: TestApp, token: string) => {
        const res = await http(`${t.url}/system/reauth`, {
          headers: { authorization: bearer(token) },
        });
        expect(res.status).toBe(200);
        return kidOf(res.body.authentication);
      };
      const oldKid = await signer(a, refresh.a);

      // A pre-publication of LEAD_MS (far below what the settings accept) so the switch comes in
      // real time within the test; it changes nothing else in the rotation.
      const settings = a.app.get(SettingsService);
      const stored = settings.get();
      const shortened = jest.spyOn(settings, 'get').mockReturnValue({
        ...stored,
        keys: { ...stored.keys, prePublishSeconds: LEAD_MS / 1000 },
      });
      const res = await http(`${a.url}/admin/keys/rotate`, {
        method: 'POST',
        headers: { authorization: adminAuth() },
        json: {},
      });
      shortened.mockRestore();
      expect(res.status).toBe(201);
      const rotated: KeyView = res.body;
      const activation = Date.parse(rotated.activatesAt);
      expect(activation - Date.now()).toBeGreaterThan(LEAD_MS - 1500);

      // The bus brings the new row to B: in its JWKS as next within a second, not after the
      // 60-second reload.
      await within(
        'B publishes the key rotated on A',
        () => http(`${b.url}/.well-known/jwks.json`),
        (r) => r.body.keys.some((k: { kid: string }) => k.kid === rotated.kid),
      );

      // Each instance signs with the old key until the activation and switches on its own.
      const switchedAt: Record<'a' | 'b', number | null> = { a: null, b: null };
      while (Date.now() < activation + 1500 && (switchedAt.a === null || switchedAt.b === null)) {
        for (const name of ['a', 'b'] as const) {
          if (switchedAt[name] !== null) continue;
          const asked = Date.now();
          const kid = await signer(name === 'a' ? a : b, refresh[name]);
          if (kid === rotated.kid) switchedAt[name] = asked;
          else {
            expect(kid).toBe(oldKid);
            // Signed with the old key after the activation: allowed only within the second.
            expect(asked).toBeLessThan(activation + 1000);
          }
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      for (const name of ['a', 'b'] as const) {
        expect(switchedAt[name]).not.toBeNull();
        // The request that first saw the new key was sent at most a second after the activation,
        // and, allowing for the request in flight, not long before it.
        expect(switchedAt[name]! - activation).toBeLessThan(1000);
        expect(switchedAt[name]! - activation).toBeGreaterThan(-250);
      }
      for (const t of [a, b]) {
        const keys = await http(`${t.url}/admin/keys`, { headers: { authorization: adminAuth() } });
        expect(keys.body.map((k: KeyView) => [k.kid, k.state])).toEqual([
          [oldKid, 'retiring'],
          [rotated.kid, 'active'],
        ]);
      }
    },
    30_000,
  );

  maybe(
    'a group renamed on A is the members\u2019 new group and the settings\u2019 new name on B within a second',
    async () => {
      const name = await newGroup(a);
      const member = await newUser(a, { groups: [name] });
      await patchSettings(a, { groups: { readOnly: [name] } });
      const access = (await login(a, member)).authentication;
      const whoami = () =>
        http(`${b.url}/system/whoami`, { headers: { authorization: bearer(access) } });
      // B has the member cached with the old name.
      expect((await whoami()).body.groups).toEqual([name]);

      const renamed = `${name}-renamed`;
      const res = await http(`${a.url}/admin/groups/${name}`, {
        method: 'PATCH',
        headers: { authorization: adminAuth() },
        json: { name: renamed },
      });
      expect(res.status).toBe(200);

      await within(
        'B gives the member the renamed group',
        whoami,
        (r) => r.status === 200 && r.body.groups[0] === renamed,
      );
      await within(
        'B holds the settings with the renamed group',
        () => http(`${b.url}/admin/settings`, { headers: { authorization: adminAuth() } }),
        (r) => r.status === 200 && r.body.groups.readOnly[0] === renamed,
      );
      await patchSettings(a, { groups: { readOnly: [] } });
    },
  );
});
