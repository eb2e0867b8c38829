/// <reference lib="dom" />
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { RestClient } from '../../../test/rest/rest-client.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { launchBrowser, type Browser } from './browser.js';
import { startDashboardSystem, type DashboardSystem } from './system.js';

// The dashboard end to end: headless Chromium (Debian's) on /ui/ of the
// embedded gateway, in front of a real task-api, processor, PostgreSQL and
// RabbitMQ. Everything the page shows comes over the Connect protocol
// through the gateway; the tests check it against the REST API.

let system: DashboardSystem;
let browser: Browser;
let rest: RestClient;

// Generous: the machine is shared and loaded; the point is that the page
// changes by itself (no reload), not how fast (bench/ measures speed).
const LIVE_DEADLINE_MS = 15_000;

beforeAll(async () => {
  system = await startDashboardSystem('dashboard_e2e');
  rest = new RestClient(system.baseUrl);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await system?.close();
});

/** Opens the dashboard and waits until its WatchTasks stream is open. */
async function openDashboard(hash = '', viewport?: { width: number; height: number }): Promise<Page> {
  const page = await browser.page(viewport);
  await page.goto(`${system.baseUrl}/ui/${hash}`);
  await page.waitForSelector('[data-stream="live"]', { timeout: LIVE_DEADLINE_MS });
  // Marks this document: if the page reloaded, the mark would be gone.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  return page;
}

async function notReloaded(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded === true);
}

async function createOverRest(content: string): Promise<string> {
  const answer = await rest.createTask(content);
  expect(answer.status).toBe(201);
  return answer.json.id as string;
}

function rowStatus(page: Page, id: string): Promise<string | null> {
  return page.locator(`tr[data-task-id="${id}"] .status`).getAttribute('data-status', { timeout: 1_000 }).catch(() => null);
}

async function rowIds(page: Page): Promise<string[]> {
  return page.locator('table.tasks tbody tr[data-task-id]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-task-id')!));
}

describe('dashboard in Chromium', () => {
  it('shows a task created over REST in the list without a reload, and moves it live to completed', async () => {
    await browser.run('live-list', async () => {
      const page = await openDashboard();
      const created = Date.now();
      const id = await createOverRest('resize image 42');
      await page.waitForSelector(`tr[data-task-id="${id}"]`, { timeout: LIVE_DEADLINE_MS });
      const appearedAfterMs = Date.now() - created;
      console.info(`dashboard e2e: task row appeared ${appearedAfterMs} ms after the REST create`);
      expect(await rowIds(page)).toContain(id);
      await waitFor(() => rowStatus(page, id), (status) => status === 'completed', {
        timeoutMs: LIVE_DEADLINE_MS,
        description: 'the row to show completed',
      });
      expect(await notReloaded(page)).toBe(true);
      expect((await rest.getTask(id)).json.status).toBe('completed');
      // The overview heard it too: the completed count and the latency line.
      await waitFor(
        async () => Number(await page.locator('[data-count="completed"] .count-value').textContent()),
        (count) => count >= 1,
        { timeoutMs: LIVE_DEADLINE_MS, description: 'the completed count' },
      );
      await waitFor(() => page.locator('[data-latency]').textContent(), (text) => /\(1 task seen here\)/.test(text ?? ''), {
        timeoutMs: LIVE_DEADLINE_MS,
        description: 'one latency sample',
      });
    });
  });

  it('cancels a task from its page, and the API says canceled', async () => {
    await system.stopProcessor(); // the task stays pending until canceled
    try {
      await browser.run('task-cancel', async () => {
        const id = await createOverRest('cancel me from the dashboard');
        const page = await openDashboard(`#/task/${id}`);
        await page.waitForSelector('[data-field="status"] [data-status="pending"]');
        await page.getByRole('button', { name: 'Cancel task' }).click();
        await page.waitForSelector('[data-field="status"] [data-status="canceled"]', { timeout: LIVE_DEADLINE_MS });
        expect((await rest.getTask(id)).json.status).toBe('canceled');
        // The history shows the creation and the cancel.
        await waitFor(() => page.locator('table.timeline tbody tr').count(), (rows) => rows === 2, {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'two events in the history',
        });
        expect(await page.getByRole('button', { name: 'Cancel task' }).isDisabled()).toBe(true);
      });
    } finally {
      await system.startProcessor();
    }
  });

  it('retries a failed task from its page, and it runs again to completed', async () => {
    await system.stopProcessor();
    let id = '';
    try {
      id = await createOverRest('fail once, then succeed');
      // A failed last attempt, as a processor records it (the trigger admits these arrows).
      await system.harness.database.query(`update task set status = 'processing', attempt = attempt + 1, updated_at = clock_timestamp() where id = $1`, [id]);
      await system.harness.database.query(`update task set status = 'failed', error = 'the handler threw: disk full', updated_at = clock_timestamp() where id = $1`, [id]);
    } finally {
      await system.startProcessor();
    }
    await browser.run('task-retry', async () => {
      const page = await openDashboard(`#/task/${id}`);
      await page.waitForSelector('[data-field="status"] [data-status="failed"]');
      expect(await page.locator('[data-field="error"]').textContent()).toBe('the handler threw: disk full');
      await page.getByRole('button', { name: 'Retry task' }).click();
      await page.waitForSelector('[data-field="status"] [data-status="completed"]', { timeout: LIVE_DEADLINE_MS });
      expect((await rest.getTask(id)).json.status).toBe('completed');
      expect(await notReloaded(page)).toBe(true);
    });
  });

  it('filters and pages as GET /tasks does', async () => {
    await system.stopProcessor(); // statuses stay put while pages are compared
    try {
      for (let i = 0; i < 12; i += 1) await createOverRest(`page task ${i}`);
      await browser.run('filter-paging', async () => {
        const page = await openDashboard();
        await page.getByLabel('Per page').selectOption('10');
        await page.getByLabel('Status', { exact: true }).selectOption('pending');
        const first = (await rest.send('GET', '/tasks?status=pending&page_size=10')).json;
        const firstIds = first.tasks.map((task: { id: string }) => task.id);
        expect(firstIds).toHaveLength(10);
        expect(first.next_page_token).not.toBe('');
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(firstIds), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'page 1 of pending tasks as GET /tasks lists it',
        });

        await page.getByRole('button', { name: 'Older →' }).click();
        const second = (await rest.send('GET', `/tasks?status=pending&page_size=10&page_token=${encodeURIComponent(first.next_page_token)}`)).json;
        const secondIds = second.tasks.map((task: { id: string }) => task.id);
        expect(secondIds.length).toBeGreaterThan(0);
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(secondIds), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'page 2 as GET /tasks lists it',
        });
        expect(await page.locator('#tasks-page').textContent()).toBe('Page 2');

        await page.getByRole('button', { name: '← Newer' }).click();
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(firstIds), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'back on page 1',
        });

        await page.getByLabel('Status', { exact: true }).selectOption('canceled');
        const canceled = (await rest.send('GET', '/tasks?status=canceled&page_size=10')).json;
        const canceledIds = canceled.tasks.map((task: { id: string }) => task.id);
        expect(canceledIds.length).toBeGreaterThan(0); // the cancel test's task
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(canceledIds), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'canceled tasks as GET /tasks lists them',
        });

        // Search by id opens the task's page.
        await page.getByLabel('Task id').fill(firstIds[3]);
        await page.getByLabel('Task id').press('Enter');
        await page.waitForSelector(`[data-field="id"]:text-is("${firstIds[3]}")`);
      });
    } finally {
      await system.startProcessor();
    }
  });

  it('shows the API error for bad content, in the API\'s words', async () => {
    const refused = await rest.createTask('');
    expect(refused.status).toBe(400);
    const apiMessage: string = refused.json.message;
    await browser.run('create-error', async () => {
      const page = await openDashboard();
      // Keyboard only: the labelled field, then Enter on the submit button.
      await page.getByLabel('Content').focus();
      await page.keyboard.press('Tab'); // request id
      await page.keyboard.press('Tab'); // schedule time
      await page.getByRole('button', { name: 'Create task' }).focus();
      await page.keyboard.press('Enter');
      const alert = page.locator('.create + [role="alert"]');
      await alert.waitFor({ timeout: LIVE_DEADLINE_MS });
      expect(await alert.textContent()).toBe(`Not created: ${apiMessage}`);

      // And a good one is created, linked to its page.
      await page.getByLabel('Content').fill('made in the dashboard');
      await page.getByRole('button', { name: 'Create task' }).click();
      const link = page.locator('.ok a');
      await link.waitFor({ timeout: LIVE_DEADLINE_MS });
      const id = (await link.textContent())!;
      expect((await rest.getTask(id)).json.content).toBe('made in the dashboard');
    });
  });

  it('fits a phone\'s width, the system panel filled from GetTaskStats', async () => {
    await browser.run('phone', async () => {
      const page = await openDashboard('', { width: 390, height: 844 });
      await waitFor(() => page.locator('[data-processors]').textContent(), (text) => text === '1', {
        timeoutMs: LIVE_DEADLINE_MS,
        description: 'one processor connected',
      });
      expect(await page.locator('[data-health]').getAttribute('data-health')).toBe('ok');
      expect(await page.locator('[data-dead-lettered]').textContent()).toBe('0');
      // Nothing wider than the screen: the page does not scroll sideways.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    });
  });
});
