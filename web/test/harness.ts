/**
 * The browser test harness: a real server (fresh database, worker duties running) on a
 * loopback port serving the built web app, and Debian's Chromium driven by playwright-core.
 * Playwright gives every launch a fresh temporary --user-data-dir and deletes it on close.
 * Never downloads a browser: the system Chromium at /usr/bin/chromium is the one used.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { AppContext } from '../../src/context.js';
import { buildApp } from '../../src/http/app.js';
import type { App } from '../../src/http/types.js';
import { startWorker, type Worker } from '../../src/roles/worker.js';
import type { Db } from '../../src/storage/index.js';
import { testBackends } from '../../src/testing/backends.js';
import { buildTestContext } from '../../src/testing/context.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const webBuildDir = path.join(repoRoot, 'dist', 'web');
/** Screenshots of every run (git-ignored); docs/screenshots holds the committed set. */
export const artifactsDir = path.join(repoRoot, 'artifacts', 'screenshots');
export const docsScreenshotsDir = path.join(repoRoot, 'docs', 'screenshots');

export const chromiumPath = '/usr/bin/chromium';
export const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const stat = statSync(full);
    newest = Math.max(newest, stat.isDirectory() ? newestMtimeMs(full) : stat.mtimeMs);
  }
  return newest;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Builds dist/web when it is missing or older than a web source file (CI builds it before
 * the tests; locally this keeps a stale build from being tested). A lock directory keeps
 * two test files from building at once.
 */
export function ensureWebBuild(): void {
  const index = path.join(webBuildDir, 'index.html');
  const sources = Math.max(newestMtimeMs(path.join(repoRoot, 'web', 'src')),
    statSync(path.join(repoRoot, 'web', 'index.html')).mtimeMs);
  const fresh = (): boolean => existsSync(index) && statSync(index).mtimeMs >= sources;
  if (fresh()) return;
  const lock = path.join(repoRoot, 'dist', '.web-build-lock');
  mkdirSync(path.dirname(lock), { recursive: true });
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 180_000) throw new Error(`web build lock ${lock} held for 3 minutes`);
      sleepSync(200);
    }
  }
  try {
    if (fresh()) return;
    // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build
    // (twice the size, and not what fans get): build exactly as `npm run build` does.
    const result = spawnSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts',
      '--logLevel', 'warn'], {
      cwd: repoRoot, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' },
    });
    if (result.status !== 0) throw new Error('web build failed');
  } finally {
    rmdirSync(lock);
  }
}

/** A running server for browser tests. */
export interface TestServer {
  url: string;
  app: App;
  ctx: AppContext;
  db: Db;
  close(): Promise<void>;
}

/**
 * Starts the whole product on a loopback port: a fresh PostgreSQL database when reachable
 * (PGlite otherwise), the HTTP app with the web build, and the worker duties (admission
 * ticks, hold expiry, the outbox relay) so pages see the same live behaviour as production.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  ensureWebBuild();
  const backends = await testBackends();
  const backend = backends.find((b) => b.name === 'postgres' && b.available) ?? backends[0];
  if (backend === undefined) throw new Error('no database backend');
  const db = await backend.open();
  const ctx = buildTestContext(db, {
    env: { STAMPEDE_WEB_DIR: webBuildDir, QUEUE_TICK_MS: '250', ...env },
  });
  const app = await buildApp(ctx);
  let worker: Worker | undefined;
  try {
    worker = await startWorker(ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    await worker?.stop();
    await app.close();
    await db.close();
    throw error;
  }
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, app, ctx, db,
    async close() {
      await app.close();
      await worker?.stop();
      await ctx.coord.close();
      await db.close();
    },
  };
}

/** Launches the system Chromium headless. */
export async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: chromiumPath, headless: true, args: chromiumArgs, timeout: 60_000,
  });
}

/** A fresh context (own cookies and storage) at a viewport size. */
export async function newContext(
  browser: Browser, viewport: keyof typeof viewports = 'desktop',
): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: viewports[viewport], locale: 'en-GB', timezoneId: 'Europe/Lisbon',
    isMobile: viewport === 'phone', hasTouch: viewport === 'phone',
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(30_000);
  return context;
}

/** A violation axe rates serious or critical. */
export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** Runs axe-core in the page; returns the serious and critical violations. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: axe.source });
  // Runs in the page, where axe was just added as a global.
  const results = await page.evaluate(async () => {
    const scope = globalThis as unknown as { axe: typeof axe; document: axe.ElementContext };
    const report = await scope.axe.run(scope.document, { resultTypes: ['violations'] });
    return report.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Saves a screenshot under artifacts/ and, when UPDATE_SCREENSHOTS=1, into docs/screenshots
 * (the committed set linked from the README).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifactsDir, { recursive: true });
  const buffer = await page.screenshot({ fullPage: false, animations: 'disabled' });
  writeFileSync(path.join(artifactsDir, `${name}.png`), buffer);
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(docsScreenshotsDir, { recursive: true });
    writeFileSync(path.join(docsScreenshotsDir, `${name}.png`), buffer);
  }
}

/** Collects uncaught page errors and console errors, so a test can insist there are none. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/** Signs a context in as a customer (the session the app keeps in localStorage). */
export async function signIn(
  context: BrowserContext, fan: { customerId: string; token: string; email: string },
): Promise<void> {
  const value = JSON.stringify({ customerId: fan.customerId, token: fan.token, email: fan.email });
  await context.addInitScript((session: string) => {
    if (window.localStorage.getItem('stampede.session') === null) {
      window.localStorage.setItem('stampede.session', session);
    }
  }, value);
}
