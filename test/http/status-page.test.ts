import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.js';
import { startDaemon } from '../../src/daemon.js';
import { createHttpServer } from '../../src/http/index.js';
import { repoRoot } from '../helpers/repo-root.js';
import { fakeLookup, fakeStatus } from './status-fixtures.js';

/**
 * The status page in a real browser: Debian's chromium, driven over CDP by playwright-core (no
 * browser download; the test uses /usr/bin/chromium). Everything stays on loopback: the flags turn
 * off Chromium's own background traffic (updates, sync, safe-browsing lists).
 */
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

type Chromium = typeof import('playwright-core').chromium;
type Browser = Awaited<ReturnType<Chromium['launch']>>;

/** The browser, or a skip saying why — except in CI, where a missing prerequisite is a failure. */
async function launch(t: TestContext): Promise<Browser | undefined> {
  const why = !existsSync(CHROMIUM) ? `${CHROMIUM} missing (apt-get install chromium)` : undefined;
  let chromium: Chromium | undefined;
  if (!why) {
    try {
      chromium = (await import('playwright-core')).chromium;
    } catch {
      /* reported below */
    }
  }
  const reason = why ?? (chromium ? undefined : 'playwright-core is not installed (npm ci)');
  if (reason || !chromium) {
    if (process.env.CI === 'true') assert.fail(`status page test needs ${reason}`);
    t.skip(reason);
    return undefined;
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

test('status page in headless Chromium: health, lists, escaping, lookup; saves a screenshot', async (t) => {
  const browser = await launch(t);
  if (!browser) return;
  const server = createHttpServer({ host: '127.0.0.1', port: 0, registry: new Registry(), logger: pino({ level: 'silent' }), readiness: [], status: () => fakeStatus(), lookup: fakeLookup });
  await server.start();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
    page.on('pageerror', (e) => void consoleErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);

    await page.locator('#overall', { hasText: /healthy/ }).waitFor();
    assert.equal(await page.locator('#overall').textContent(), 'unhealthy');
    assert.match((await page.locator('#problems').textContent()) ?? '', /stale, last full success 5h ago/);
    const health = (await page.locator('#health').textContent()) ?? '';
    assert.match(health, /avahi up/);
    assert.match(health, /connected · 1 connection\(s\) · 12345 frames/);
    assert.match(health, /10\.77\.0\.1:53 → 127\.0\.0\.1:5301 · inserting before answering · 2 deadline miss\(es\)/);
    assert.match(health, /UDP kernel drops7 listener · 0 upstream · 3 Unbound · receive buffer 416 KiB \(capped by net\.core\.rmem_max\)/);
    const lists = page.locator('#lists tr');
    assert.equal(await lists.count(), 2);
    assert.match((await lists.nth(0).textContent()) ?? '', /ru-blocked.*updated.*5m.*inet vpn force_vpn4: 12345.*inet vpn force_vpn6: 321.*42/);
    assert.match((await lists.nth(1).textContent()) ?? '', /failed.*5h 0m \(stale\).*not applied yet/);
    assert.match((await page.locator('#errors').textContent()) ?? '', /<script>window.__xss=2<\/script>/);

    // Hostile names and errors arrive as text: shown literally, never run, never turned into elements.
    assert.match((await lists.nth(1).locator('code').textContent()) ?? '', /^evil<img src=x onerror=/);
    assert.equal(await page.locator('main img, body img').count(), 0);
    assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');

    await page.fill('#q', 'example.org');
    await page.click('#go');
    await page.locator('#answer', { hasText: 'routed through the VPN' }).waitFor();
    const answer = (await page.locator('#answer').textContent()) ?? '';
    assert.match(answer, /example\.org \(domain\): routed through the VPN/);
    assert.match(answer, /ru-blocked: domain example\.org is listed by https:\/\/reestr/);
    assert.match(answer, /set inet vpn force_vpn4_learned · expires 2025-06-01 13:00:00Z/);

    await page.fill('#q', '198.51.100.9');
    await page.press('#q', 'Enter');
    await page.locator('#answer', { hasText: 'not routed through the VPN' }).waitFor();
    await page.fill('#q', 'bad..name');
    await page.click('#go');
    await page.locator('#answer', { hasText: 'neither a domain name nor an IP address' }).waitFor();
    assert.equal(await page.evaluate('typeof window.__xss'), 'undefined');

    await page.fill('#q', 'example.org');
    await page.click('#go');
    await page.locator('#answer', { hasText: 'routed through the VPN' }).waitFor();
    const dir = join(repoRoot(), 'test', 'artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'status-page.png'), fullPage: true });
    assert.deepEqual(consoleErrors, [], 'no script errors and no CSP violations');
  } finally {
    await browser.close();
    await server.stop();
  }
});

test('status page against the real daemon (Avahi absent): health and "lookup not available"', async (t) => {
  const browser = await launch(t);
  if (!browser) return;
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/unbound-sidecar-test-bus';
  const stateDir = mkdtempSync(join(tmpdir(), 'us-page-'));
  // `avahi`, not `auto`: with Avahi absent `auto` would send mDNS out of the real interfaces.
  const config = parseConfig({ dns: { listen: ['127.0.0.1:0'] }, metrics: { listen: '127.0.0.1:0' }, mdns: { backend: 'avahi' }, stateDir });
  const daemon = await startDaemon(config, pino({ level: 'silent' }));
  try {
    const base = `http://127.0.0.1:${daemon.httpAddress().port}`;
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.locator('#overall', { hasText: /healthy/ }).waitFor();
    assert.equal(await page.locator('#overall').textContent(), 'unhealthy');
    assert.match((await page.locator('#health').textContent()) ?? '', /avahi down/);
    assert.match((await page.locator('#lists').textContent()) ?? '', /no lists configured/);
    assert.equal(await page.locator('#q').isDisabled(), true);
    assert.match((await page.locator('#answer').textContent()) ?? '', /lookup not available/);
  } finally {
    await browser.close();
    await daemon.stop();
    rmSync(stateDir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
});
