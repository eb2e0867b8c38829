import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// Debian's Chromium, driven by playwright-core (which cannot download a
// browser here). The flags are the ones this machine needs: no sandbox (the
// tests may run as root), and no background networking, which a closed
// network refuses many times a second. A fresh profile per run.

export const ARTIFACTS_DIR = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not on the PATH: `make toolchains` installs Debian\'s chromium package');
  }
}

export interface Browser {
  context: BrowserContext;
  /** A new page at `viewport` (desktop by default). */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  /**
   * Runs one test's browser part: a screenshot of every open page on
   * success (test-artifacts/dashboard/<name>.png), a Playwright trace
   * (<name>.trace.zip, open with `npx playwright show-trace`) and a
   * screenshot on failure.
   */
  run(name: string, body: () => Promise<void>): Promise<void>;
  /** A screenshot of the page as it is now (test-artifacts/dashboard/<name>.png), for a state the end of the test no longer shows. */
  snapshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'taskproc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  // The persistent context opens one blank page; tests open their own.
  for (const page of context.pages()) await page.close();

  return {
    context,
    async page(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async run(name, body) {
      await context.tracing.start({ screenshots: true, snapshots: true, title: name });
      try {
        await body();
      } catch (error) {
        await screenshotAll(context, name, 'failed');
        await context.tracing.stop({ path: join(ARTIFACTS_DIR, `${name}.trace.zip`) });
        throw error;
      }
      await context.tracing.stop();
      await screenshotAll(context, name);
      // What an earlier failed run of this test left is no longer the news.
      for (const stale of [`${name}.trace.zip`, `${name}-failed.png`]) await rm(join(ARTIFACTS_DIR, stale), { force: true });
    },
    async snapshot(page, name) {
      await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

async function screenshotAll(context: BrowserContext, name: string, suffix = ''): Promise<void> {
  const pages = context.pages();
  for (const [index, page] of pages.entries()) {
    const file = `${name}${pages.length > 1 ? `-${index + 1}` : ''}${suffix ? `-${suffix}` : ''}.png`;
    await page.screenshot({ path: join(ARTIFACTS_DIR, file), fullPage: true }).catch(() => {});
    await page.close().catch(() => {});
  }
}
