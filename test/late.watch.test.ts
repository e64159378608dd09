import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appConfigSchema } from '../src/config/app.js';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { recordDropFailure } from '../src/drop/health.js';
import { checkLateFiles } from '../src/drop/late.js';
import { startPollerScheduler } from '../src/drop/scheduler.js';
import { createServer } from 'node:net';
import { Metrics } from '../src/metrics.js';
import { deliverPending, type DeliveryContext } from '../src/notify/delivery.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { ingestFile } from '../src/pipeline.js';
import { silentLogger } from '../src/log.js';
import { openDatabase, type Database } from '../src/store/db.js';
import { storeGauges } from '../src/store/gauges.js';
import { tenantWatchStatuses } from '../src/store/late-watch.js';
import { csvOf, fileOf, person, range } from './pipeline.support.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const app = appConfigSchema.parse({});

let db: TestDatabase;
let slack: FakeSlack;
const extra: Database[] = [];

beforeEach(async () => {
  db = await freshDatabase();
  slack = await startFakeSlack();
});
afterEach(async () => {
  for (const other of extra.splice(0)) await other.close();
  await slack.close();
  await db.dispose();
});

function weekly(id = 'acme', expect: Record<string, unknown> = {}): TenantConfig {
  return tenantConfigSchema.parse({ id, name: `${id} Corp`, slackChannel: '#csm-acme', expect: { every: '7 days', graceHours: 48, ...expect } });
}

const tenantsOf = (...list: TenantConfig[]) => new Map(list.map((t) => [t.id, t]));

function check(on: Database, tenants: Map<string, TenantConfig>, now: Date) {
  return checkLateFiles({ db: on, app, tenants, clock: () => now });
}

async function lateAlerts(): Promise<Array<{ tenant_id: string; kind: string; payload: Record<string, unknown> }>> {
  return (await db.pool.query(`select tenant_id, payload->>'reminder' as kind, payload from outbox where kind = 'late_file' order by id`)).rows;
}

function delivery(tenants: Map<string, TenantConfig>): DeliveryContext {
  return {
    db,
    tenants,
    timeZone: 'UTC',
    notifier: new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger: silentLogger }),
    logger: silentLogger,
  };
}

/** A second poller: its own pool on the same database (a replica, or the process after a restart). */
async function otherPoller(): Promise<Database> {
  const other = await openDatabase({ url: db.url });
  extra.push(other);
  return other;
}

describe('late-file watch (injected clock, real PostgreSQL)', () => {
  it('a weekly tenant with no file: one alert after 7 days + grace; a second tick, a restart and a second poller add none', async (test) => {
    if (db.embedded) test.skip('two pools need a PostgreSQL server');
    const tenants = tenantsOf(weekly());
    const t0 = new Date('2026-01-05T09:00:00Z');
    expect(await check(db, tenants, t0)).toEqual({ late: [], alerts: [] });
    expect(await check(db, tenants, new Date(t0.getTime() + 9 * DAY - 60_000))).toEqual({ late: [], alerts: [] });

    const due = new Date(t0.getTime() + 9 * DAY);
    const first = await check(db, tenants, due);
    expect(first).toEqual({ late: ['acme'], alerts: [{ tenant: 'acme', kind: 'late', window: 1 }] });
    expect((await check(db, tenants, new Date(due.getTime() + HOUR))).alerts).toEqual([]);
    // A restart: a new pool, nothing in memory.
    const restarted = await otherPoller();
    expect((await check(restarted, tenants, new Date(due.getTime() + 2 * HOUR))).alerts).toEqual([]);
    expect(await lateAlerts()).toHaveLength(1);

    const [alert] = await lateAlerts();
    expect(alert!.payload).toMatchObject({
      tenant: 'acme',
      every: '7 days',
      lastFile: null,
      watchedSince: t0.toISOString(),
      expectedAt: '2026-01-12T09:00:00.000Z',
      lateBySeconds: 48 * 3600,
      inbox: '/acme/inbox',
    });

    // Delivered once to the tenant's channel through the real Slack client.
    expect(await deliverPending(delivery(tenants))).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
    expect(slack.messages).toHaveLength(1);
    const message = slack.messages[0]!;
    expect(message.channel).toBe(slack.channels.find((c) => c.name === 'csm-acme')!.id);
    expect(message.text).toContain('acme: membership file late: expected every 7 days, due 2026-01-12 09:00 UTC, late by 2 days');
    expect(JSON.stringify(message.blocks)).toContain('none yet (watched since 2026-01-05 09:00 UTC)');
    expect(JSON.stringify(message.blocks)).toContain('No poller has reached the SFTP drop yet');
  });

  it('the alert says what to check: the drop when it is unreachable, files waiting in the inbox', async () => {
    const tenants = tenantsOf(weekly());
    const t0 = new Date('2026-01-05T09:00:00Z');
    await check(db, tenants, t0);
    await recordDropFailure(db.pool, { where: 'sftp.example.com:2022', error: 'connect ECONNREFUSED <host>', alertAfterFailures: 3 }, silentLogger);
    await recordDropFailure(db.pool, { where: 'sftp.example.com:2022', error: 'connect ECONNREFUSED <host>', alertAfterFailures: 3 }, silentLogger);
    await db.pool.query(
      `insert into drop_observations (tenant_id, path, size, mtime, since, last_seen_at) values ('acme', '/acme/inbox/x.csv', 10, 1, now(), now())`,
    );
    await check(db, tenants, new Date(t0.getTime() + 9 * DAY));
    await deliverPending(delivery(tenants));
    const blocks = JSON.stringify(slack.messages[0]!.blocks);
    expect(blocks).toContain('*The SFTP drop is unreachable* since');
    expect(blocks).toContain('(2 failed polls in a row)');
    // Escaped for Slack mrkdwn.
    expect(blocks).toContain('`connect ECONNREFUSED &lt;host&gt;`');
    expect(blocks).toContain('1 file(s) are in the inbox but not taken yet');
    expect(slack.messages[0]!.text).toContain('The SFTP drop is unreachable.');
  });

  it("the poller's tick runs the check, after recording that the drop did not answer", async () => {
    const tenants = tenantsOf(weekly());
    const t0 = new Date('2026-01-05T09:00:00Z');
    await check(db, tenants, t0);
    // A port nothing listens on: the tick fails to connect.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const connection = { host: '127.0.0.1', port, username: 'nobody', privateKey: 'unused', hostKeySha256: 'SHA256:x', connectTimeoutMs: 2000, keepaliveIntervalMs: 10_000 };
    const scheduler = startPollerScheduler({ db, app, tenants, connection, clock: () => new Date(t0.getTime() + 10 * DAY) });
    try {
      const tick = await scheduler.tickNow();
      expect(tick?.reachable).toBe(false);
    } finally {
      await scheduler.stop();
    }
    const alerts = await lateAlerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.payload).toMatchObject({ tenant: 'acme', missedWindows: 1, drop: { failures: 1 } });
  });

  it('two pollers checking at the same moment queue one alert per tenant between them', async (test) => {
    if (db.embedded) test.skip('two pools need a PostgreSQL server');
    // Many tenants, so the two checks interleave: each tenant's claim is raced by both.
    const tenants = tenantsOf(...Array.from({ length: 25 }, (_, i) => weekly(`t${i}`)));
    const t0 = new Date('2026-01-05T09:00:00Z');
    await check(db, tenants, t0);
    const a = await otherPoller();
    const b = await otherPoller();
    for (const window of [1, 2, 3]) {
      const at = new Date(t0.getTime() + (7 * window + 2) * DAY);
      const [ra, rb] = await Promise.all([check(a, tenants, at), check(b, tenants, at)]);
      expect(ra.alerts.length + rb.alerts.length).toBe(25);
    }
    const alerts = await lateAlerts();
    expect(alerts).toHaveLength(75);
    const perTenant = new Map<string, string[]>();
    for (const alert of alerts) perTenant.set(alert.tenant_id, [...(perTenant.get(alert.tenant_id) ?? []), alert.kind]);
    for (const kinds of perTenant.values()) expect(kinds).toEqual(['false', 'true', 'true']);
  });

  it('"still late" reminders: one per further missed window, none with remind: false', async () => {
    const reminding = weekly('acme');
    const quiet = weekly('quiet', { remind: false });
    const tenants = tenantsOf(reminding, quiet);
    const t0 = new Date('2026-01-05T09:00:00Z');
    await check(db, tenants, t0);
    // First noticed 3 windows late (e.g. the service was down): one 'late' alert, not three.
    const noticed = await check(db, tenants, new Date(t0.getTime() + 23 * DAY));
    expect(noticed.alerts).toEqual([
      { tenant: 'acme', kind: 'late', window: 3 },
      { tenant: 'quiet', kind: 'late', window: 3 },
    ]);
    expect((await check(db, tenants, new Date(t0.getTime() + 24 * DAY))).alerts).toEqual([]);
    expect((await check(db, tenants, new Date(t0.getTime() + 30 * DAY))).alerts).toEqual([{ tenant: 'acme', kind: 'still_late', window: 4 }]);
    expect((await check(db, tenants, new Date(t0.getTime() + 31 * DAY))).alerts).toEqual([]);
    const kinds = (await lateAlerts()).map((a) => `${a.tenant_id}:${a.kind}`);
    expect(kinds).toEqual(['acme:false', 'quiet:false', 'acme:true']);
    await deliverPending(delivery(tenants));
    expect(slack.messages.map((m) => m.text.split(':').slice(0, 2).join(':'))).toEqual([
      'acme: membership file late',
      'quiet: membership file late',
      'acme: membership file still late',
    ]);
    expect(slack.messages[2]!.text).toContain('(4 windows missed)');
  });

  it('a cadence changed while late: reminders follow the new windows (window numbers restart, due times do not)', async () => {
    const t0 = new Date('2026-01-05T09:00:00Z');
    await check(db, tenantsOf(weekly('acme')), t0);
    expect((await check(db, tenantsOf(weekly('acme')), new Date(t0.getTime() + 9 * DAY))).alerts).toEqual([{ tenant: 'acme', kind: 'late', window: 1 }]);
    expect((await check(db, tenantsOf(weekly('acme')), new Date(t0.getTime() + 30 * DAY))).alerts).toEqual([{ tenant: 'acme', kind: 'still_late', window: 4 }]);
    // monthly from now on, still no file: its window 1 (due Feb 5) comes after the last alerted one (weekly's
    // window 4, due Feb 2), then windows 2 and 3; by number they were all taken, and nothing was sent until June
    const monthly = tenantsOf(weekly('acme', { every: '1 month' }));
    expect((await check(db, monthly, new Date('2026-02-10T09:00:00Z'))).alerts).toEqual([{ tenant: 'acme', kind: 'still_late', window: 1 }]);
    expect((await check(db, monthly, new Date('2026-02-11T09:00:00Z'))).alerts).toEqual([]);
    expect((await check(db, monthly, new Date('2026-03-08T09:00:00Z'))).alerts).toEqual([{ tenant: 'acme', kind: 'still_late', window: 2 }]);
    expect((await check(db, monthly, new Date('2026-03-09T09:00:00Z'))).alerts).toEqual([]);
    expect((await check(db, monthly, new Date('2026-04-08T09:00:00Z'))).alerts).toEqual([{ tenant: 'acme', kind: 'still_late', window: 3 }]);
  });

  it('a watch removed and added again starts when it is added again, not when it was first seen', async () => {
    const t0 = new Date('2026-01-05T09:00:00Z');
    await check(db, tenantsOf(weekly('acme')), t0);
    const unwatched = tenantsOf(tenantConfigSchema.parse({ id: 'acme', name: 'acme Corp' }));
    await check(db, unwatched, new Date(t0.getTime() + 2 * DAY));
    const again = new Date(t0.getTime() + 60 * DAY);
    expect((await check(db, tenantsOf(weekly('acme')), again)).alerts).toEqual([]);
    expect((await check(db, tenantsOf(weekly('acme')), new Date(again.getTime() + 8 * DAY))).alerts).toEqual([]);
    expect((await check(db, tenantsOf(weekly('acme')), new Date(again.getTime() + 9 * DAY))).alerts).toEqual([{ tenant: 'acme', kind: 'late', window: 1 }]);
  });

  it('a rejected file does not reset the watch; a late file says "late by ..." and the watch starts over', async () => {
    const tenant = weekly();
    const tenants = tenantsOf(tenant);
    // Files get the database's time, so this test's clock is the real one, with the start in the past.
    const start = new Date(Date.now() - 10 * DAY);
    await check(db, tenants, start);
    expect((await check(db, tenants, new Date())).alerts).toEqual([{ tenant: 'acme', kind: 'late', window: 1 }]);

    const rejected = await ingestFile({ db }, tenant, fileOf('acme - 01.13.2026.csv', csvOf([...range(1, 3), person(4, { email: 'not-an-address' })])));
    expect(rejected.status).toBe('rejected');
    const afterRejected = await check(db, tenants, new Date(Date.now() + 60_000));
    expect(afterRejected).toEqual({ late: ['acme'], alerts: [] });
    const [stillLate] = await tenantWatchStatuses(db.pool, tenants.values(), 'UTC', new Date());
    expect(stillLate).toMatchObject({ lastFile: null, state: { late: true, anchorAt: start } });

    const accepted = await ingestFile({ db }, tenant, fileOf('acme - 01.20.2026.csv', csvOf(range(1, 4))));
    expect(accepted.status).toBe('accepted');
    await deliverPending(delivery(tenants));
    const texts = slack.messages.map((m) => m.text);
    expect(texts).toHaveLength(3);
    expect(texts[0]).toContain('membership file late');
    expect(texts[1]).toMatch(/^acme: rejected /);
    expect(texts[1]).not.toContain('Late by');
    expect(texts[2]).toMatch(/^acme: accepted acme - 01\.20\.2026\.csv.* Late by 3 days \(due /);
    expect(JSON.stringify(slack.messages[2]!.blocks)).toContain('*This file came late:* late by 3 days');

    // The watch starts over from the accepted file.
    const arrived = (await db.pool.query<{ created_at: Date }>('select created_at from runs where id = $1', [accepted.runId])).rows[0]!.created_at;
    const [fresh] = await tenantWatchStatuses(db.pool, tenants.values(), 'UTC', new Date(arrived.getTime() + HOUR));
    expect(fresh).toMatchObject({ lastFile: { name: 'acme - 01.20.2026.csv' }, state: { late: false, lateByMs: 0 } });
    expect(fresh!.state!.nextExpectedAt.getTime()).toBe(Math.floor(arrived.getTime()) + 7 * DAY);
    expect((await check(db, tenants, new Date(arrived.getTime() + 9 * DAY - 60_000))).alerts).toEqual([]);
    expect((await check(db, tenants, new Date(arrived.getTime() + 9 * DAY))).alerts).toEqual([{ tenant: 'acme', kind: 'late', window: 1 }]);
    const last = (await lateAlerts()).at(-1)!;
    expect(last.payload).toMatchObject({ lastFile: 'acme - 01.20.2026.csv', lastFileAt: arrived.toISOString() });
  });

  it('a file within the grace is not late; a duplicate counts as arrived', async () => {
    const tenant = weekly();
    const tenants = tenantsOf(tenant);
    await check(db, tenants, new Date(Date.now() - 8 * DAY));
    const first = await ingestFile({ db }, tenant, fileOf('acme - 01.13.2026.csv', csvOf(range(1, 3))));
    expect(first.status).toBe('accepted');
    await db.pool.query(`update runs set created_at = now() - interval '8 days' where id = $1`, [first.runId]);
    const again = await ingestFile({ db }, tenant, fileOf('acme - 01.20.2026.csv', csvOf(range(1, 3))));
    expect(again.status).toBe('duplicate');
    await deliverPending(delivery(tenants));
    expect(slack.messages.map((m) => m.text).join('\n')).not.toContain('Late by');
    const [status] = await tenantWatchStatuses(db.pool, tenants.values(), 'UTC', new Date(Date.now() + 3 * DAY));
    expect(status).toMatchObject({ lastFile: { name: 'acme - 01.20.2026.csv' }, state: { late: false } });
  });

  it('/metrics: seconds since the last file per tenant and the number of late tenants', async () => {
    const tenants = tenantsOf(weekly('acme'), weekly('beta'), tenantConfigSchema.parse({ id: 'plain', name: 'Plain' }));
    await check(db, tenants, new Date(Date.now() - 10 * DAY));
    const run = await ingestFile({ db }, tenants.get('beta')!, fileOf('beta - 01.13.2026.csv', csvOf(range(1, 3))));
    await db.pool.query(`update runs set created_at = now() - interval '2 days' where id = $1`, [run.runId]);
    const metrics = new Metrics({ gauges: storeGauges(db.pool, { tenants, timeZone: 'UTC' }), collectDefault: false });
    const text = await metrics.render();
    expect(text).toMatch(/hris_late_tenants\{service="hris-ingest"\} 1\n/);
    const since = Number(/hris_seconds_since_last_file\{tenant="beta",service="hris-ingest"\} ([\d.]+)/.exec(text)?.[1]);
    expect(since).toBeGreaterThan(2 * 86400 - 60);
    expect(since).toBeLessThan(2 * 86400 + 60);
    expect(text).not.toMatch(/hris_seconds_since_last_file\{tenant="acme"/);
  });
});
