import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import type { TenantConfig } from '../src/config/tenant.js';
import { Metrics } from '../src/metrics.js';
import { storeGauges } from '../src/store/gauges.js';
import { ingestFile, renderRunFiles, type RunSummary } from '../src/pipeline.js';
import { upsertUser } from '../src/store/console-users.js';
import { hashPassword } from '../src/web/passwords.js';
import { startWebServer, type WebServer } from '../src/web/server.js';
import { csvOf, fileOf, person, range, tenantOf } from './pipeline.support.js';
import { REPO } from './support/cli.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { serviceMissing } from './support/services.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const missing = !existsSync(CHROMIUM) && serviceMissing('Chromium', `${CHROMIUM} not found (Debian package "chromium")`);
const SCREENSHOTS = path.join(REPO, 'docs', 'screenshots');
const name = (month: string) => `10KC Membership File - Acme - ${month}.13.2023.csv`;

describe.skipIf(missing)('web console in a real browser (headless Chromium)', () => {
  let db: TestDatabase;
  let web: WebServer;
  let browser: Browser;
  let page: Page;
  let temp: string;
  let tenant: TenantConfig;
  const runs = {} as Record<'first' | 'second' | 'held', RunSummary>;

  beforeAll(async () => {
    db = await freshDatabase();
    temp = await mkdtemp(path.join(tmpdir(), 'console-browser-'));
    await upsertUser(db.pool, { name: 'olga', role: 'operator', passwordHash: await hashPassword('operator password 1') });
    tenant = tenantOf({ invalidRows: 'skip' });
    const ctx = { db };
    runs.first = await ingestFile(ctx, tenant, fileOf(name('01'), csvOf(range(1, 100))));
    const changed = range(1, 100).map((p, i) => (i >= 4 && i < 9 ? { ...p, city: i % 2 ? 'Lyon' : 'Lisbon', status: i === 8 ? 'inactive' : 'active' } : p));
    runs.second = await ingestFile(ctx, tenant, fileOf(name('02'), csvOf([...changed, person(101), person(102, { email: 'not-an-email' }), person(103)])));
    runs.held = await ingestFile(ctx, tenant, fileOf(name('03'), csvOf(range(1, 60))));
    expect([runs.first.status, runs.second.status, runs.held.status]).toEqual(['accepted', 'accepted', 'held']);
    web = await startWebServer({
      pool: db.pool,
      db,
      metrics: new Metrics({ gauges: storeGauges(db.pool) }),
      tickState: () => ({ startedAt: new Date() }),
      maxTickAgeSeconds: 60,
      host: '127.0.0.1',
      port: 0,
      app: appConfigSchema.parse({}),
      tenants: new Map([['acme', tenant]]),
      nextTick: () => new Date(Date.now() + 5 * 60_000),
      tempDir: temp,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await db?.dispose();
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  it('signs in with the keyboard and lands on the tenants page (screenshot)', async () => {
    await page.goto(`${web.url}/tenants`);
    expect(page.url()).toBe(`${web.url}/login`);
    await page.fill('#username', 'olga');
    await page.fill('#password', 'wrong password');
    await page.press('#password', 'Enter');
    await expect.poll(() => page.textContent('[role=alert]')).toContain('Sign-in failed');
    await page.fill('#username', 'olga');
    await page.fill('#password', 'operator password 1');
    await page.press('#password', 'Enter');
    await page.waitForURL(`${web.url}/tenants`);
    expect(await page.textContent('h1')).toBe('Tenants');
    expect(await page.textContent('main')).toContain(`runs ${runs.first.runId}, ${runs.second.runId} were accepted but are not marked`);
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tenants.png'), fullPage: true });
  });

  it('opens a run from the tenants page and shows its changes (screenshot of a run page)', async () => {
    await page.click(`a:text("${name('03')}")`);
    await page.waitForURL(`${web.url}/runs/${runs.held.runId}`);
    expect(await page.textContent('main')).toContain('Why it was held');
    await page.goto(`${web.url}/runs/${runs.second.runId}`);
    const main = await page.textContent('main');
    expect(main).toContain('Profile updates (5)');
    expect(main).toContain('Validation errors (1)');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'run.png'), fullPage: true });
  });

  it('downloads a file with the bytes of the stored run', async () => {
    const stored = await renderRunFiles(db, runs.second.runId!, path.join(temp, 'stored'));
    for (const kind of ['updates', 'errors'] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`a[href="/runs/${runs.second.runId}/files/${kind}"]`)]);
      expect(download.suggestedFilename()).toBe(path.basename(stored[kind]!));
      const bytes = await readFile((await download.path())!);
      expect(bytes.equals(await readFile(stored[kind]!))).toBe(true);
    }
  });

  it('marks runs applied and the tenants warning clears', async () => {
    for (const run of [runs.first, runs.second]) {
      await page.goto(`${web.url}/runs/${run.runId}`);
      await page.click('button:text("Mark applied")');
      await page.waitForURL(`${web.url}/runs/${run.runId}?done=applied`);
      expect(await page.textContent('main')).toContain('Applied to the platform by olga');
    }
    await page.goto(`${web.url}/tenants`);
    expect(await page.textContent('main')).not.toContain('is not marked');
  });

  it('approves the held run after confirming, sees its status change, and the outbox gets its alert', async () => {
    const id = runs.held.runId!;
    await page.goto(`${web.url}/runs/${id}`);
    await page.click('a:text("Approve…")');
    await page.fill('#reason', 'customer confirmed 40 leavers');
    await page.click(`button:text("Approve run ${id}")`);
    await page.waitForURL(`${web.url}/runs/${id}?done=approved`);
    expect(await page.textContent('.status')).toBe('accepted');
    expect(await page.textContent('main')).toContain('decided by olga');
    const alerts = await db.pool.query<{ n: number }>(`select count(*)::int as n from outbox where run_id = $1 and kind = 'run'`, [id]);
    expect(alerts.rows[0]!.n).toBe(2); // held, then accepted
  });

  it('previews an uploaded sample: counts, and its files to download', async () => {
    const sample = path.join(temp, name('04'));
    await writeFile(sample, csvOf([...range(1, 58), person(200)]));
    await page.goto(`${web.url}/preview`);
    await page.selectOption('#tenant', 'acme');
    await page.setInputFiles('#file', sample);
    await page.click('button:text("Preview")');
    await page.waitForSelector('#preview-counts');
    const cells = await page.$$eval('#preview-counts td', (tds) => tds.map((td) => td.textContent));
    expect(cells.slice(0, 5)).toEqual(['1', '0', '0', '0', '2']); // m200 invited; 59, 60 deleted
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:text("deletions")')]);
    expect(download.suggestedFilename()).toBe('acme 2023-04-13 profile deletions - PREVIEW, not for upload.csv');
    const text = await readFile((await download.path())!, 'utf8');
    expect(text).toContain('m59@example.com');
    expect(text).toContain('m60@example.com');
    const stored = await db.pool.query<{ n: number }>('select count(*)::int as n from runs');
    expect(stored.rows[0]!.n).toBe(3);
  });
});
