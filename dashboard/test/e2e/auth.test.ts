/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKeys, type TestKeys } from '../../../services/task-api/test/support/tokens.js';
import { launchBrowser, type Browser } from './browser.js';
import { startDashboardSystem, type DashboardSystem } from './system.js';

// The dashboard in front of a task-api with authentication on: without a
// token it says it needs one, a token the API refuses is cleared with the
// API's reason, and with a good one the page goes live and works.

let keys: TestKeys;
let system: DashboardSystem;
let browser: Browser;

const DEADLINE_MS = 15_000;

beforeAll(async () => {
  keys = await createTestKeys('dashboard-auth');
  system = await startDashboardSystem('dashboard_auth', { taskApiEnv: keys.env });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await system?.close();
  await keys?.remove();
});

describe('dashboard with authentication on', () => {
  it('asks for a token, clears one the API refuses with its reason, and goes live with a good one', async () => {
    await browser.run('auth', async () => {
      const page = await browser.page();
      await page.goto(`${system.baseUrl}/ui/`);
      const notice = page.locator('[data-token-notice]');
      await notice.waitFor({ timeout: DEADLINE_MS });
      expect(await notice.getAttribute('data-token-notice')).toBe('missing');
      expect(await notice.textContent()).toBe('The API needs a token: authentication is on. Paste one below.');
      await browser.snapshot(page, 'auth-missing');

      const field = page.getByLabel('Bearer token (kept in this tab only)');
      await field.fill('header.payload.signature');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('[data-token-notice="refused"]').waitFor({ timeout: DEADLINE_MS });
      expect(await page.locator('[data-token-notice]').textContent()).toMatch(/^The API refused the token \(.+\), so it was cleared\. Paste a new one\.$/);
      expect(await page.evaluate(() => sessionStorage.getItem('taskproc.token'))).toBeNull();
      expect(await field.inputValue()).toBe('');

      await field.fill(await keys.token('dashboard-tenant'));
      await page.getByRole('button', { name: 'Save' }).click();
      await page.waitForSelector('[data-stream="live"]', { timeout: DEADLINE_MS });
      expect(await page.locator('[data-token-notice]').count()).toBe(0);
      expect(await page.locator('summary').first().textContent()).toBe('API token (set)');

      await page.getByLabel('Content').fill('made behind a token');
      await page.getByRole('button', { name: 'Create task' }).click();
      const link = page.locator('.ok a');
      await link.waitFor({ timeout: DEADLINE_MS });
      const [row] = await system.harness.database.query<{ content: string }>('select content from task where id = $1', [await link.textContent()]);
      expect(row).toEqual({ content: 'made behind a token' });
    });
  });
});
