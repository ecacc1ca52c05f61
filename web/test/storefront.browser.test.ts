/**
 * The storefront in a real browser: search with filters, register and log in, every page
 * free of serious accessibility violations, screenshots at desktop and phone sizes.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../src/catalog/demo.js';
import {
  launchBrowser, newContext, screenshot, seriousAxeViolations, startTestServer, watchErrors,
  type TestServer,
} from './harness.js';

describe('storefront in Chromium', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    await seedDemo(server.db, server.ctx.clock);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('finds events by text, city and date, on desktop and phone', async () => {
    for (const size of ['desktop', 'phone'] as const) {
      const context = await newContext(browser, size);
      const page = await context.newPage();
      const errors = watchErrors(page);
      await page.goto(server.url);
      await page.getByRole('heading', { name: 'Find events' }).waitFor();
      await page.getByRole('link', { name: /Aurora Skies/ }).waitFor();
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, `search-${size}`);
      await page.getByLabel('Search').fill('no such band anywhere');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByText('No events match').waitFor();
      expect(page.url()).toContain('q=no+such+band');
      await page.getByLabel('Search').fill('aurora');
      await page.getByLabel('City').fill('Lisbon');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('link', { name: /Aurora Skies/ }).waitFor();
      await page.getByLabel('City').fill('Reykjavik');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByText('No events match').waitFor();
      expect(errors).toEqual([]);
      await context.close();
    }
  });

  it('registers, logs out and logs back in, returning to the page it came from', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${server.url}/register?next=%2Fme%2Forders`);
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'register-desktop');
    const email = `fan-${Date.now()}@example.com`;
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Name').fill('Browser Fan');
    await page.getByLabel('Password').fill('a long passphrase');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(/\/me\/orders$/);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByLabel('Password').fill('a long passphrase');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await context.close();
  });

  it('shows a not-found page for unknown addresses and keeps API 404s as JSON', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const response = await page.goto(`${server.url}/no/such/page`);
    expect(response?.status()).toBe(200);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    const api = await page.goto(`${server.url}/api/v1/no-such-route`);
    expect(api?.status()).toBe(404);
    expect(api?.headers()['content-type']).toMatch(/problem\+json/);
    await context.close();
  });
});
