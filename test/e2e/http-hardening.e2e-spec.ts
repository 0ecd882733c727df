import { request as httpRequest } from 'node:http';
import { loadConfig } from '../../src/config/load-config';
import { startApp, TestApp } from '../support/app';
import { adminAuth } from '../support/factories';
import { http } from '../support/http';

/** A raw request, so that headers fetch would refuse to send can be sent. */
function raw(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP hardening: security headers, CORS, header size', () => {
  let t: TestApp;
  let withCors: TestApp;

  beforeAll(async () => {
    t = await startApp();
    withCors = await startApp({ env: { WARDEN_CORS_ORIGINS: 'https://app.example.test' } });
  });
  afterAll(async () => {
    await withCors?.close();
    await t?.close();
  });

  it('sends security headers on API answers, errors and the explorer', async () => {
    const answers = [
      await http(`${t.url}/system/whoami`, { headers: { authorization: adminAuth() } }),
      await http(`${t.url}/system/whoami`),
      await http(`${t.url}/no/such/route`),
    ];
    for (const res of answers) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      // JSON is never rendered: it may load nothing and be framed by nobody.
      expect(res.headers.get('content-security-policy')).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-powered-by')).toBeNull();
    }
    const docs = await http(`${t.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('x-content-type-options')).toBe('nosniff');
    expect(docs.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const policy = docs.headers.get('content-security-policy')!;
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    // The explorer's page loads its scripts from this origin only: no inline script to block.
    expect(docs.text).not.toMatch(/<script>(?!\s*<\/script>)/);
  });

  it('answers no cross-origin request unless origins are configured', async () => {
    const preflight = (app: TestApp) =>
      http(`${app.url}/system/whoami`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.test',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    expect((await preflight(t)).headers.get('access-control-allow-origin')).toBeNull();
    const allowed = await preflight(withCors);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
    const other = await http(`${withCors.url}/system/whoami`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.test', 'access-control-request-method': 'GET' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses oversized headers with 431', async () => {
    expect(await raw(`${t.url}/system/whoami`, { 'x-padding': 'a'.repeat(20_000) })).toBe(431);
  });

  it('refuses a configuration that names something other than an origin', () => {
    expect(() =>
      loadConfig({ ...t.env, WARDEN_CORS_ORIGINS: 'https://ok.example, https://x.example/path' }),
    ).toThrow(/WARDEN_CORS_ORIGINS/);
  });
});
