import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { SettingsService } from '../../src/settings/settings.service';
import { itWhen, startApp, TestApp } from '../support/app';
import { auditEvents } from '../support/audit';
import { ADMIN_PASSWORD, ADMIN_USERNAME } from '../support/config';
import { adminAuth, newUser } from '../support/factories';
import { bearer, http } from '../support/http';
import { operatorPatch } from '../support/settings';

/** Debian's Chromium (`apt-get install chromium`), which .ci/run installs. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
/** Where the screenshots are kept (ignored by git). */
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const ROOT = join(__dirname, '..', '..');

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PAGES = [
  'Overview',
  'Settings',
  'Users',
  'Groups',
  'Tokens',
  'Identity providers',
  'Connect',
  'CMJ',
  'Audit log',
  'Keys',
  'Explain',
];

function requireChromium(): boolean {
  if (CHROMIUM) return true;
  if (process.env.CI) throw new Error('Chromium is required under CI (.ci/run installs it)');
  process.stderr.write('Chromium not found: skipping the operator console browser tests\n');
  return false;
}

/**
 * Script errors, console errors, Content-Security-Policy refusals and server errors a page met.
 * The browser also logs each 4xx answer as an error ("Failed to load resource"): those are the
 * API's refusals the console shows (a 412, a 409, a route not on this instance), not failures.
 */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    if (message.type() === 'error' || /Content Security Policy/i.test(text))
      problems.push(`console ${message.type()}: ${text}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
  return problems;
}

/** A property of the element that has the focus (the test's tsconfig has no DOM types). */
function focused(page: Page, property: 'id' | 'textContent' | 'tagName'): Promise<string> {
  return page.evaluate(
    (name) =>
      String(
        (globalThis as unknown as { document: { activeElement: Record<string, unknown> | null } })
          .document.activeElement?.[name] ?? '',
      ),
    property,
  );
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const size = page.viewportSize()!;
  const file = join(ARTIFACTS, `console-${name}-${size.width}x${size.height}.png`);
  await page.screenshot({ path: file, fullPage: true });
  expect(statSync(file).size).toBeGreaterThan(5_000);
}

describe('the operator console in a real browser', () => {
  let t: TestApp;
  let browser: Browser | undefined;
  let ready = false;
  const when = itWhen('chromium');
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    ready = requireChromium();
    if (!ready) return;
    // The console as `npm run build` makes it.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-console.js')], { cwd: ROOT });
    t = await startApp();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
  });

  async function openPage(viewport = DESKTOP): Promise<{ page: Page; problems: string[] }> {
    const context = await browser!.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    return { page, problems: watch(page) };
  }

  async function signIn(page: Page, username = ADMIN_USERNAME, password = ADMIN_PASSWORD) {
    await page.goto(`${t.url}/console/`);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  async function go(page: Page, name: string): Promise<void> {
    const menu = page.getByRole('button', { name: 'Menu' });
    if (await menu.isVisible()) await menu.click();
    await page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  }

  const settingsForm = (page: Page, title: string) =>
    page
      .locator('form.section-form')
      .filter({ has: page.getByRole('heading', { name: title, exact: true }) });

  when(
    'serves the console with a strict Content-Security-Policy',
    async () => {
      const res = await http(`${t.url}/console/`);
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.text).not.toMatch(/<script>|<style>| style=/);
      expect((await http(`${t.url}/console`, { redirect: 'manual' })).status).toBe(301);
    },
    30_000,
  );

  for (const viewport of [DESKTOP, PHONE])
    when(
      `visits every page without a script error at ${viewport.width}×${viewport.height}`,
      async () => {
        const { page, problems } = await openPage(viewport);
        await page.goto(`${t.url}/console/`);
        await shot(page, 'sign-in');
        await signIn(page);
        for (const name of PAGES) {
          await go(page, name);
          // Each page loads what it shows; a moment for its requests to land.
          await page.waitForLoadState('networkidle');
          await shot(page, name.toLowerCase().replace(/ /g, '-'));
        }
        expect(problems).toEqual([]);
      },
      120_000,
    );

  when(
    'changes a setting that the API then shows',
    async () => {
      const { page, problems } = await openPage();
      await signIn(page);
      await go(page, 'Settings');
      const form = settingsForm(page, 'Rate limit');
      await form.getByLabel('Requests', { exact: true }).fill('777');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByText('Saved.').waitFor();
      const res = await http(`${t.url}/admin/settings`, {
        headers: { authorization: adminAuth() },
      });
      expect(res.body.rateLimit.requests).toBe(777);
      // A value the API refuses: its message beside the field.
      await form.getByLabel('Requests', { exact: true }).fill('0');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.locator('.field.invalid').first().waitFor();
      expect(await form.locator('.field.invalid label').first().innerText()).toBe('Requests');
      // An address that is none, flagged as it is typed.
      const ip = settingsForm(page, 'IP allow-list and trusted proxies');
      await ip.getByLabel('Allowed addresses (one per line)').fill('10.0.0.0/8\n300.1.1.1');
      await ip.getByText('300.1.1.1 is not an IP address or CIDR range').waitFor();
      await ip.getByLabel('Allowed addresses (one per line)').fill('');
      // The path tester of the bypass patterns.
      const bypass = settingsForm(page, 'Bypass');
      await bypass.getByLabel('Patterns (one per line)').fill('/health/**');
      await bypass.getByLabel('Path to test').fill('/health/live');
      await bypass.getByText('Matches: /health/**').waitFor();
      await shot(page, 'settings-edited');
      expect(problems).toEqual([]);
    },
    60_000,
  );

  when(
    'meets a 412 from a second tab, sees what changed and reapplies',
    async () => {
      await operatorPatch(t, { rateLimit: { requests: 600, windowSeconds: 60 } });
      const first = await openPage();
      const second = await openPage();
      for (const { page } of [first, second]) {
        await signIn(page);
        await go(page, 'Settings');
      }
      const mine = settingsForm(first.page, 'Rate limit');
      const theirs = settingsForm(second.page, 'Rate limit');
      await theirs.getByLabel('Requests', { exact: true }).fill('800');
      await theirs.getByRole('button', { name: 'Save' }).click();
      await theirs.getByText('Saved.').waitFor();

      await mine.getByLabel('Window (seconds)').fill('120');
      await mine.getByRole('button', { name: 'Save' }).click();
      await mine.getByText('Someone else saved the settings since you loaded them.').waitFor();
      expect(await mine.locator('.conflict').innerText()).toMatch(/Requests: 600 → 800/);
      await shot(first.page, 'settings-412');
      await mine.getByRole('button', { name: 'Reapply my changes' }).click();
      await mine.getByText('Saved.').waitFor();
      const rateLimit = t.app.get(SettingsService).get().rateLimit;
      expect(rateLimit).toMatchObject({ requests: 800, windowSeconds: 120 });
      expect([...first.problems, ...second.problems]).toEqual([]);
    },
    60_000,
  );

  when(
    'explains a lock-out and applies it anyway',
    async () => {
      const { page, problems } = await openPage();
      await signIn(page);
      await go(page, 'Settings');
      const ip = settingsForm(page, 'IP allow-list and trusted proxies');
      try {
        await ip.getByLabel('Allowed addresses (one per line)').fill('203.0.113.0/24');
        await ip.getByRole('button', { name: 'Save' }).click();
        await ip.getByText('This change would lock you out.').waitFor();
        await shot(page, 'settings-409');
        await ip.getByRole('button', { name: 'Apply anyway' }).click();
        await ip.getByText('Saved.').waitFor();
        expect(t.app.get(SettingsService).get().ip.allow).toEqual(['203.0.113.0/24']);
      } finally {
        await operatorPatch(t, { ip: { allow: [] } });
      }
      expect(problems).toEqual([]);
    },
    60_000,
  );

  when(
    'creates a token, shows it once, and the token works',
    async () => {
      const { page, problems } = await openPage();
      await signIn(page);
      await go(page, 'Tokens');
      await page.getByLabel('Name').fill('console-token');
      await page.getByRole('button', { name: 'Create token' }).click();
      const secret = page.getByLabel('New token');
      await secret.waitFor();
      const token = await secret.inputValue();
      expect(token).toMatch(/^wdn_/);
      await page.getByRole('button', { name: 'Copy' }).waitFor();
      await shot(page, 'token-created');
      const whoami = await http(`${t.url}/system/whoami`, {
        headers: { authorization: bearer(token) },
      });
      expect(whoami.body.username).toBe(ADMIN_USERNAME);
      await page.getByRole('button', { name: 'Done' }).click();
      await page.getByRole('cell', { name: 'console-token', exact: true }).waitFor();
      // Once: gone from the page, and not shown again on a new visit.
      expect(await page.content()).not.toContain(token);
      await go(page, 'Overview');
      await go(page, 'Tokens');
      await page.getByRole('cell', { name: 'console-token', exact: true }).waitFor();
      expect(await page.content()).not.toContain(token);
      expect(problems).toEqual([]);
    },
    60_000,
  );

  when(
    'filters the audit log and finds the settings change',
    async () => {
      await auditEvents(t); // flushes the buffer
      const { page, problems } = await openPage();
      await signIn(page);
      await go(page, 'Audit log');
      await page.getByLabel('Event', { exact: true }).fill('settings.changed');
      await page.getByLabel('Actor', { exact: true }).fill(ADMIN_USERNAME);
      await page.getByRole('button', { name: 'Filter' }).click();
      const rows = page.locator('table.audit-table tbody tr');
      await rows.first().waitFor();
      const texts = await rows.allInnerTexts();
      expect(texts.length).toBeGreaterThan(0);
      for (const text of texts) expect(text).toContain('settings.changed');
      // The change of the first settings test (rateLimit.requests to 777) is among them.
      const detail = page.getByRole('region', { name: 'Event detail' });
      let found = false;
      for (let i = 0; i < texts.length && !found; i++) {
        await rows.nth(i).getByRole('button').click();
        await detail.waitFor();
        found = /rateLimit[\s\S]*777/.test(await detail.innerText());
      }
      expect(found).toBe(true);
      await shot(page, 'audit-filtered');
      expect(problems).toEqual([]);
    },
    60_000,
  );

  when(
    'explains a denied request and an allowed one',
    async () => {
      const user = await newUser(t);
      const created = await http(`${t.url}/tokens`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`,
        },
        json: { name: 'explained' },
      });
      const { page, problems } = await openPage();
      await signIn(page);
      await go(page, 'Explain');
      await page.getByLabel('Method').selectOption('GET');
      await page.getByLabel('Path').fill('/rest/api/2/issue/X-1');
      await page.getByLabel('Client address').fill('203.0.113.7');
      await page.getByRole('button', { name: 'Explain' }).click();
      const verdict = page.locator('.verdict');
      await verdict.waitFor();
      expect(await verdict.innerText()).toMatch(/^Denied \(401/);
      const decided = page.locator('.step.decided');
      expect(await decided.getAttribute('data-step')).toBe('credential');
      await shot(page, 'explain-denied');

      await page.getByLabel('Authorization (optional)').fill(`Bearer ${created.body.token}`);
      await page.getByRole('button', { name: 'Explain' }).click();
      await page.locator('.verdict.allow').waitFor();
      expect(await page.locator('.verdict').innerText()).toMatch(/^Allowed \(200/);
      expect(await page.locator('.step.decided').getAttribute('data-step')).toBe('rate-limit');
      expect(await page.locator('.steps').innerText()).toContain(user.username);
      // The credential is never shown back (the field keeps what was typed, masked).
      expect(await page.locator('section[aria-label="Explanation"]').innerText()).not.toContain(
        created.body.token,
      );
      await shot(page, 'explain-allowed');
      expect(problems).toEqual([]);
    },
    60_000,
  );

  when(
    'signs in with the keyboard alone',
    async () => {
      const { page, problems } = await openPage();
      await page.goto(`${t.url}/console/`);
      await page.getByLabel('Username').waitFor();
      // From the top of the page: Tab to the username field, then on.
      await page.keyboard.press('Tab');
      expect(await focused(page, 'id')).toBe(await page.getByLabel('Username').getAttribute('id'));
      await page.keyboard.type(ADMIN_USERNAME);
      await page.keyboard.press('Tab');
      await page.keyboard.type(ADMIN_PASSWORD);
      await page.keyboard.press('Enter');
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      // And moves between pages with it: Tab to a link of the navigation, Enter.
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        const label = await focused(page, 'textContent');
        if (label === 'Explain') break;
      }
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: 'Explain' }).waitFor();
      await page.keyboard.press('Tab');
      expect(await focused(page, 'tagName')).toBe('SELECT');
      expect(problems).toEqual([]);
    },
    60_000,
  );

  when(
    'shows a user who is not an administrator their tokens and their own activity only',
    async () => {
      const user = await newUser(t);
      const { page, problems } = await openPage(PHONE);
      await signIn(page, user.username, user.password);
      await page.getByRole('button', { name: 'Menu' }).click();
      const links = await page.getByRole('navigation').getByRole('link').allInnerTexts();
      expect(links).toEqual(['Overview', 'Tokens']);
      await page.getByRole('navigation').getByRole('link', { name: 'Overview' }).click();
      await page.getByRole('heading', { name: 'Your activity' }).waitFor();
      await shot(page, 'overview-user');
      expect(problems).toEqual([]);
    },
    60_000,
  );
});
