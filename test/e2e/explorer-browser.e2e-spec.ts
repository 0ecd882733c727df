import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { itWhen, startApp, TestApp } from '../support/app';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';

/** Debian's Chromium (`apt-get install chromium`), which .ci/run installs. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** Where the screenshot is kept (ignored by git). */
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');

function requireChromium(): boolean {
  if (CHROMIUM) return true;
  if (process.env.CI) throw new Error('Chromium is required under CI (.ci/run installs it)');
  process.stderr.write('Chromium not found: skipping the OpenAPI explorer browser test\n');
  return false;
}

describe('the OpenAPI explorer in a real browser', () => {
  let t: TestApp;
  let browser: Browser | undefined;
  let ready = false;
  const when = itWhen('chromium');

  beforeAll(async () => {
    ready = requireChromium();
    if (!ready) return;
    t = await startApp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  when(
    'logs in with Basic, authorizes with the bearer token, and calls GET /system/sessions',
    async () => {
      const page = await browser!.newPage();
      const blocked: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
      });
      await page.goto(`${t.url}/docs`);
      await page.waitForSelector('.swagger-ui .opblock', { timeout: 20_000 });

      // The browser signs in at /system/auth with Basic, as a script would.
      const basic = Buffer.from(`${ADMIN_USERNAME}:${ADMIN_PASSWORD}`).toString('base64');
      const login = await page.evaluate(async (authorization) => {
        const res = await fetch('/system/auth', { headers: { authorization } });
        return { status: res.status, body: (await res.json()) as { authentication: string } };
      }, `Basic ${basic}`);
      expect(login.status).toBe(200);
      const token: string = login.body.authentication;

      // Authorize: the bearer scheme's field in Swagger UI's dialog.
      await page.click('.swagger-ui .btn.authorize');
      const bearer = page.locator('.auth-container').filter({ hasText: 'bearer' }).first();
      await bearer.locator('input').first().fill(token);
      await bearer.locator('button.authorize').click();
      await page.click('.swagger-ui .auth-btn-wrapper .btn-done');

      // GET /system/sessions: try it out, execute, and read the status the explorer shows.
      const operation = page
        .locator('.opblock-get')
        .filter({ has: page.locator('[data-path="/system/sessions"]') })
        .first();
      await operation.locator('.opblock-summary').click();
      await operation.locator('.try-out__btn').click();
      await operation.locator('.execute').click();
      const status = operation
        .locator('.live-responses-table tr.response .response-col_status')
        .first();
      await status.waitFor({ timeout: 20_000 });
      expect((await status.innerText()).trim()).toBe('200');
      // The request the explorer made carried the token.
      const curl = await operation.locator('.curl-command, .curl').first().innerText();
      expect(curl).toContain(`Bearer ${token}`);

      await status.scrollIntoViewIfNeeded();
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = join(ARTIFACTS, 'openapi-explorer.png');
      await page.screenshot({ path: file, fullPage: false });
      expect(statSync(file).size).toBeGreaterThan(10_000);
      // The security policy let the explorer run: nothing was blocked.
      expect(blocked).toEqual([]);
      await page.close();
    },
    90_000,
  );
});
