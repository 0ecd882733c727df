import { request as httpRequest } from 'node:http';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { itWhen } from '../support/app';
import { auditEvents } from '../support/audit';
import { behindNginx } from '../support/behind-nginx';
import { adminAuth, newUser } from '../support/factories';
import { RunningNginx } from '../support/nginx';

/** Where the test client connects from: what nginx sees as the peer, and appends to X-Forwarded-For. */
const CLIENT = '127.0.0.2';
/** nginx's own address towards Warden: the peer Warden sees. */
const NGINX = '127.0.0.1';
/** What a client claims for itself, left of the entry nginx appends. */
const FORGED = '198.51.100.66';

/** One admin call through nginx from CLIENT (node:http: fetch cannot choose the source address). */
function viaNginx(
  nginx: RunningNginx,
  method: string,
  path: string,
  json: unknown,
): Promise<{ status: number; requestId: string }> {
  const payload = JSON.stringify(json);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${nginx.url}${path}`,
      {
        method,
        localAddress: CLIENT,
        agent: false,
        headers: {
          authorization: adminAuth(),
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          'x-forwarded-for': FORGED,
        },
      },
      (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id']) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/*
 * The audit rows of directory changes name the client's address as the trusted-proxy rules
 * make it out, the same as the access guard judged it: behind nginx, the client's, not nginx's.
 */
describe('user and group changes through nginx (docs/nginx.conf): the audit rows name the client', () => {
  const stack = behindNginx();
  let { ready, t, nginx } = stack;
  beforeAll(() => ({ ready, t, nginx } = stack));

  /** As the operator would through the service: the admin API is what is under test. */
  const trustProxies = (trustedProxies: string[]) =>
    t.app
      .get(SettingsService)
      .patch(
        { ip: { ...DEFAULT_SETTINGS.ip, trustedProxies } },
        { ifMatch: '*', force: true, actor: { username: 'nginx-e2e' } },
      );
  afterEach(async () => {
    if (ready) await trustProxies(DEFAULT_SETTINGS.ip.trustedProxies);
  });

  const rowOf = async (event: string, requestId: string) => {
    const rows = (await auditEvents(t, { event })).filter((r) => r.requestId === requestId);
    expect(rows).toHaveLength(1);
    return rows[0];
  };

  const maybe = itWhen('nginx');

  maybe('nginx trusted: the forwarded client address, not the one the client wrote', async () => {
    await trustProxies([`${NGINX}/32`]);
    const user = await newUser(t);
    const updated = await viaNginx(nginx, 'PATCH', `/admin/users/${user.username}`, {
      displayName: 'Through nginx',
    });
    expect(updated.status).toBe(200);
    expect(await rowOf('user.updated', updated.requestId)).toMatchObject({
      actor: 'admin',
      ip: CLIENT,
    });

    const group = `nginx-${user.username}`;
    const created = await viaNginx(nginx, 'POST', '/admin/groups', { name: group });
    expect(created.status).toBe(201);
    expect(await rowOf('group.created', created.requestId)).toMatchObject({ ip: CLIENT });
    const renamed = await viaNginx(nginx, 'PATCH', `/admin/groups/${group}`, {
      name: `${group}-renamed`,
    });
    expect(renamed.status).toBe(200);
    expect(await rowOf('group.renamed', renamed.requestId)).toMatchObject({ ip: CLIENT });
  });

  maybe('nginx not trusted: its forwarded header is ignored, the row names nginx', async () => {
    await trustProxies(['192.0.2.0/24']);
    const user = await newUser(t);
    const updated = await viaNginx(nginx, 'PATCH', `/admin/users/${user.username}`, {
      displayName: 'Through an untrusted proxy',
    });
    expect(updated.status).toBe(200);
    expect(await rowOf('user.updated', updated.requestId)).toMatchObject({ ip: NGINX });
  });
});
