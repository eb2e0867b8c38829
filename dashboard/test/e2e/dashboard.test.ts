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

/** GET /tasks with a status filter, as the REST contract spells it (status=pending). */
async function listOverRest(status: string, pageSize: number, pageToken = ''): Promise<{ ids: string[]; next: string }> {
  const query = new URLSearchParams({ status, page_size: String(pageSize) });
  if (pageToken) query.set('page_token', pageToken);
  const answer = await rest.send('GET', `/tasks?${query}`);
  expect(answer.status, answer.text).toBe(200);
  return { ids: answer.json.tasks.map((task: { id: string }) => task.id), next: answer.json.next_page_token };
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

  it('shows a failing task\'s attempts and errors live, and retries it from its page', async () => {
    await browser.run('task-retry', async () => {
      // The handler refuses content starting with "fail": every attempt fails.
      const id = await createOverRest('fail on purpose, then retry me from the dashboard');
      const page = await openDashboard(`#/task/${id}`);
      await page.waitForSelector('[data-field="status"] [data-status="failed"]', { timeout: LIVE_DEADLINE_MS });
      const handlerError = 'refused on purpose: the content starts with "fail"';
      expect(await page.locator('[data-field="error"]').textContent()).toBe(handlerError);
      // Created, then per attempt: claimed, then back to pending (with its error) or failed.
      const rounds = 1 + 2 * system.maxAttempts;
      await waitFor(() => page.locator('table.timeline tbody tr').count(), (rows) => rows === rounds, {
        timeoutMs: LIVE_DEADLINE_MS,
        description: `${rounds} events in the history`,
      });
      const errors = await page.locator('table.timeline tbody td.task-error').allTextContents();
      expect(errors.filter((text) => text === handlerError)).toHaveLength(system.maxAttempts);

      await page.getByRole('button', { name: 'Retry task' }).click();
      // The retry runs the task again: as many events again, live on the page.
      await waitFor(() => page.locator('table.timeline tbody tr').count(), (rows) => rows === 2 * rounds, {
        timeoutMs: LIVE_DEADLINE_MS,
        description: 'the second round in the history',
      });
      const events = (await rest.send('GET', `/task/${id}/events`)).json.events as { status: string }[];
      expect(events).toHaveLength(2 * rounds);
      expect(events.filter((event) => event.status === 'failed')).toHaveLength(2);
      expect((await rest.getTask(id)).json.status).toBe('failed');
      await page.waitForSelector('[data-field="status"] [data-status="failed"]', { timeout: LIVE_DEADLINE_MS });
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
        const first = await listOverRest('pending', 10);
        expect(first.ids).toHaveLength(10);
        expect(first.next).not.toBe('');
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(first.ids), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'page 1 of pending tasks as GET /tasks lists it',
        });

        await page.getByRole('button', { name: 'Older →' }).click();
        const second = await listOverRest('pending', 10, first.next);
        expect(second.ids.length).toBeGreaterThan(0);
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(second.ids), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'page 2 as GET /tasks lists it',
        });
        expect(await page.locator('#tasks-page').textContent()).toBe('Page 2');

        await page.getByRole('button', { name: '← Newer' }).click();
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(first.ids), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'back on page 1',
        });

        await page.getByLabel('Status', { exact: true }).selectOption('canceled');
        const canceled = await listOverRest('canceled', 10);
        expect(canceled.ids.length).toBeGreaterThan(0); // the cancel test's task
        await waitFor(() => rowIds(page), (ids) => JSON.stringify(ids) === JSON.stringify(canceled.ids), {
          timeoutMs: LIVE_DEADLINE_MS,
          description: 'canceled tasks as GET /tasks lists them',
        });

        // Search by id opens the task's page.
        const wanted = first.ids[3]!;
        await page.getByLabel('Task id').fill(wanted);
        await page.getByLabel('Task id').press('Enter');
        await page.waitForSelector(`[data-field="id"]:text-is("${wanted}")`);
      });
    } finally {
      await system.startProcessor();
    }
  });

  it('shows the API error for bad content, in the API\'s words', async () => {
    const refused = await rest.createTask('');
    expect(refused.status).toBe(400);
    const apiMessage: string = refused.json.message;
    await browser.run('create', async () => {
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
      await browser.snapshot(page, 'create-error');

      // And a good one is created, linked to its page.
      await page.getByLabel('Content').fill('made in the dashboard');
      await page.getByRole('button', { name: 'Create task' }).click();
      const link = page.locator('.ok a');
      await link.waitFor({ timeout: LIVE_DEADLINE_MS });
      const id = (await link.textContent())!;
      expect((await rest.getTask(id)).json.content).toBe('made in the dashboard');
    });
  });

  it('sends the API token it is given with every call, from this tab only', async () => {
    await browser.run('token', async () => {
      const page = await openDashboard();
      await page.getByText('API token').click();
      await page.getByLabel('Bearer token (kept in this tab only)').fill('header.payload.signature');
      const sent = page.waitForRequest((request) => request.url().includes('/taskproc.v1.TaskService/') && request.headers().authorization !== undefined);
      await page.getByRole('button', { name: 'Save' }).click();
      expect((await sent).headers().authorization).toBe('Bearer header.payload.signature');
      expect(await page.evaluate(() => sessionStorage.getItem('taskproc.token'))).toBe('header.payload.signature');
      expect(await page.evaluate(() => localStorage.length)).toBe(0);
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
