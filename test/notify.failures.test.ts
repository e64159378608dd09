/**
 * Every Slack failure classified, through the real @slack/web-api client against the fake Slack:
 * transient ones retried, a message refused for its content sent once in its short form, other permanent
 * ones marked failed (visible in /metrics and /healthz) until requeued.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tenantConfigSchema, type TenantConfig } from '../src/config/tenant.js';
import { createLogger, type Logger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { storeGauges } from '../src/store/gauges.js';
import { deliverPending, type DeliveryContext } from '../src/notify/delivery.js';
import { fitSlackLimits } from '../src/notify/limits.js';
import { NotifyError } from '../src/notify/notifier.js';
import { enqueueAlert } from '../src/store/outbox.js';
import { SlackNotifier } from '../src/notify/slack.js';
import { alertStatuses, failedAlerts, requeueAlerts, runAlerts } from '../src/notify/status.js';
import { ingestFile, type FileInput } from '../src/pipeline.js';
import { startWebServer } from '../src/web/server.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import { startFakeSlack, type FakeSlack } from './support/fake-slack.js';
import type { HealthReport } from '../src/web/health.js';

let db: TestDatabase;
let slack: FakeSlack;
let slackOptions: { maxFileBytes?: number };
let work: string;
let lines: string[];
let logger: Logger;

beforeEach(async () => {
  db = await freshDatabase();
  slackOptions = {};
  slack = await startFakeSlack(slackOptions);
  work = await mkdtemp(path.join(os.tmpdir(), 'notify-failures-'));
  lines = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  logger = createLogger({ level: 'debug', format: 'json', destination });
});
afterEach(async () => {
  await slack.close();
  await db.dispose();
  await rm(work, { recursive: true, force: true });
});

const tenant: TenantConfig = tenantConfigSchema.parse({ id: 'acme', name: 'Acme' });
const HEADER = 'First Name,Last Name,Email Address,Unique ID,Status,City';
const csv = (n: number) => `${[HEADER, ...Array.from({ length: n }, (_, i) => `F${i},L${i},m${i}@example.com,E${i},active,Paris`)].join('\n')}\n`;
const file = (name: string, text: string): FileInput => ({ name, open: () => Readable.from([Buffer.from(text, 'utf8')]) });

function simulatedClock() {
  let now = Date.now() + 1000;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

function context(overrides: Partial<DeliveryContext> = {}): DeliveryContext {
  return {
    db,
    notifier: new SlackNotifier({ token: slack.token, channel: '#monitoring-hris-files', apiUrl: slack.url, logger }),
    tenants: new Map([['acme', tenant]]),
    logger,
    workDir: work,
    backoff: { baseMs: 1_000, capMs: 10_000, jitter: 0 },
    ...overrides,
  };
}

const errorLines = () => lines.filter((l) => l.includes('"level":50'));

describe('permanent Slack errors', () => {
  it.each(['channel_not_found', 'not_in_channel', 'is_archived', 'invalid_auth', 'token_revoked', 'account_inactive', 'missing_scope', 'some_new_error'])(
    '%s: the alert is marked failed after one attempt, logged once at error level, never retried by itself',
    async (code) => {
      const clock = simulatedClock();
      const id = await enqueueAlert(db.pool, { kind: 'test' });
      slack.fail({ methods: ['chat.postMessage'], error: code });
      const ctx = context({ now: clock.now });
      expect(await deliverPending(ctx)).toEqual({ delivered: 0, failed: 1, failedPermanently: 1, skipped: 0 });
      for (let i = 0; i < 3; i++) {
        clock.advance(60 * 60_000);
        expect((await deliverPending(ctx)).failed).toBe(0);
      }
      expect(slack.calls('chat.postMessage')).toHaveLength(1);
      const [status] = await alertStatuses(db.pool, [id]);
      expect(status).toMatchObject({ state: 'failed', attempts: 1 });
      expect(status!.error).toContain(code);
      expect(errorLines()).toHaveLength(1);
      expect(errorLines()[0]).toContain(`hris-ingest notify retry ${id}`);
      expect(await failedAlerts(db.pool)).toEqual({ count: 1, ids: [id] });

      // The cause fixed: requeued, delivered; not while a delivery holds its lease (it would post twice).
      slack.clearFailures();
      await db.pool.query(`update outbox set locked_until = now() + interval '1 minute' where id = $1`, [id]);
      expect(await requeueAlerts(db.pool, { ids: [id] })).toEqual([]);
      expect(await requeueAlerts(db.pool, { allFailed: true })).toEqual([]);
      await db.pool.query(`update outbox set locked_until = null where id = $1`, [id]);
      expect(await requeueAlerts(db.pool, { ids: [id] })).toEqual([id]);
      expect(await deliverPending(ctx)).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
      expect(await failedAlerts(db.pool)).toEqual({ count: 0, ids: [] });
    },
  );

  it('a file over Slack’s size limit: the message stays posted, the alert fails; once allowed, the retry uploads the files only', async () => {
    slackOptions.maxFileBytes = 10;
    const run = await ingestFile({ db }, tenant, file('acme - 01.13.2023.csv', csv(5)));
    expect(await deliverPending(context())).toEqual({ delivered: 0, failed: 1, failedPermanently: 1, skipped: 0 });
    const [alert] = await runAlerts(db.pool, run.runId!);
    expect(alert).toMatchObject({ state: 'failed' });
    expect(alert!.error).toMatch(/size limit \(file_too_large\)/);
    expect(slack.calls('chat.postMessage')).toHaveLength(1);

    slackOptions.maxFileBytes = undefined;
    await requeueAlerts(db.pool, { allFailed: true });
    expect((await deliverPending(context())).delivered).toBe(1);
    expect(slack.calls('chat.postMessage')).toHaveLength(1);
    expect(slack.filesInThread(slack.messages[0]!.ts)).toHaveLength(3);
  });
});

describe('transient Slack errors are retried with backoff', () => {
  it.each([
    ['HTTP 500', { status: 500 }],
    ['HTTP 503', { status: 503 }],
    ['429 with Retry-After', { status: 429, retryAfter: 30 }],
    ['internal_error', { error: 'internal_error' }],
    ['service_unavailable', { error: 'service_unavailable' }],
  ])('%s: pending, retried later, delivered once', async (_, rule) => {
    const clock = simulatedClock();
    const id = await enqueueAlert(db.pool, { kind: 'test' });
    slack.fail({ methods: ['chat.postMessage'], times: 2, ...rule });
    const ctx = context({ now: clock.now });
    expect(await deliverPending(ctx)).toEqual({ delivered: 0, failed: 1, failedPermanently: 0, skipped: 0 });
    expect((await alertStatuses(db.pool, [id]))[0]!.state).toBe('pending');
    expect((await deliverPending(ctx)).delivered).toBe(0); // not due yet
    for (let i = 0; i < 10 && slack.messages.length === 0; i++) {
      clock.advance(31_000);
      await deliverPending(ctx);
    }
    expect(slack.messages).toHaveLength(1);
    expect((await alertStatuses(db.pool, [id]))[0]!.state).toBe('delivered');
    expect(errorLines()).toHaveLength(0);
  });

  it('connection refused and a timeout are transient', async () => {
    // A server that accepts and never answers, and a port nobody listens on.
    const hanging = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const port = (hanging.address() as AddressInfo).port;
    try {
      for (const apiUrl of [`http://127.0.0.1:${port}/api/`, 'http://127.0.0.1:1/api/']) {
        const notifier = new SlackNotifier({ token: slack.token, channel: 'C0HRISFILES', apiUrl, logger, timeoutMs: 300 });
        const error = await notifier.post({ kind: 'test', text: 'x', blocks: [], attach: [] }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NotifyError);
        expect((error as NotifyError).kind).toBe('transient');
        expect((error as NotifyError).message).toContain('cannot reach Slack');
      }
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    }
  });
});

describe('a message Slack refuses for its content', () => {
  it('the fake refuses what Slack refuses: msg_too_long and invalid_blocks are content errors', async () => {
    const notifier = new SlackNotifier({ token: slack.token, channel: 'C0HRISFILES', apiUrl: slack.url, logger });
    const tooLong = await notifier.post({ kind: 'test', text: 'x'.repeat(40_001), blocks: [], attach: [] }).catch((e: unknown) => e);
    expect((tooLong as NotifyError).code).toBe('msg_too_long');
    expect((tooLong as NotifyError).kind).toBe('content');
    const bigSection = { type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'y'.repeat(3_001) } };
    const invalid = await notifier.post({ kind: 'test', text: 'x', blocks: [bigSection], attach: [] }).catch((e: unknown) => e);
    expect((invalid as NotifyError).code).toBe('invalid_blocks');
    const many = Array.from({ length: 51 }, () => ({ type: 'divider' as const }));
    expect(((await notifier.post({ kind: 'test', text: 'x', blocks: many, attach: [] }).catch((e: unknown) => e)) as NotifyError).code).toBe('invalid_blocks');
    // What the service sends goes through fitSlackLimits first: the same messages are taken.
    const fitted = fitSlackLimits({ kind: 'test', text: 'x'.repeat(50_000), blocks: [bigSection, ...many, { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(200) } }], attach: [] });
    await expect(notifier.post(fitted)).resolves.toMatchObject({ channel: 'C0HRISFILES' });
    expect(fitted.blocks).toHaveLength(50);
  });

  it('falls back once to a short plain message with the run id and counts; the files still go in its thread', async () => {
    const run = await ingestFile({ db }, tenant, file('acme - 01.13.2023.csv', csv(5)));
    slack.fail({ methods: ['chat.postMessage'], error: 'invalid_blocks', times: 1 });
    expect(await deliverPending(context())).toEqual({ delivered: 1, failed: 0, failedPermanently: 0, skipped: 0 });
    const posts = slack.calls('chat.postMessage');
    expect(posts.map((p) => p.error)).toEqual(['invalid_blocks', undefined]);
    expect(posts[1]!.params.blocks).toBeUndefined();
    const [message] = slack.messages;
    expect(message!.text).toContain(`acme: run ${run.runId} accepted, 5 rows: 5 invites, 0 updates (0 deactivations, 0 reactivations), 0 deletions, 0 errors.`);
    expect(message!.text).toContain('Slack refused the full alert (invalid_blocks)');
    expect(message!.text).toContain(`hris-ingest runs show ${run.runId}`);
    expect(slack.filesInThread(message!.ts)).toHaveLength(3);
    const [alert] = await runAlerts(db.pool, run.runId!);
    expect(alert).toMatchObject({ state: 'delivered', shortForm: 'invalid_blocks' });
    expect(lines.some((l) => l.includes('"level":40') && l.includes('short form'))).toBe(true);
  });

  it('a short form posted whose files then failed for good keeps its short-form mark through notify retry', async () => {
    const run = await ingestFile({ db }, tenant, file('acme - 01.13.2023.csv', csv(5)));
    slack.fail({ methods: ['chat.postMessage'], error: 'invalid_blocks', times: 1 });
    slack.fail({ methods: ['files.getUploadURLExternal'], error: 'missing_scope', times: 1 });
    expect(await deliverPending(context())).toMatchObject({ delivered: 0, failedPermanently: 1 });
    expect(await requeueAlerts(db.pool, { allFailed: true })).toHaveLength(1);
    expect(await deliverPending(context())).toMatchObject({ delivered: 1 });
    expect(slack.calls('chat.postMessage').filter((p) => !p.error)).toHaveLength(1); // the short form, posted once
    const [alert] = await runAlerts(db.pool, run.runId!);
    expect(alert).toMatchObject({ state: 'delivered', shortForm: 'invalid_blocks' });
  });

  it('a refused short form fails the alert (no third try)', async () => {
    await ingestFile({ db }, tenant, file('acme - 01.13.2023.csv', csv(5)));
    slack.fail({ methods: ['chat.postMessage'], error: 'msg_too_long', times: 2 });
    expect(await deliverPending(context())).toEqual({ delivered: 0, failed: 1, failedPermanently: 1, skipped: 0 });
    expect(slack.calls('chat.postMessage')).toHaveLength(2);
    expect((await failedAlerts(db.pool)).count).toBe(1);
    expect(errorLines()).toHaveLength(1);
  });
});

describe('failed alerts are visible', () => {
  it('/metrics has the failed-alert count and /healthz lists them without turning unhealthy', async () => {
    const id = await enqueueAlert(db.pool, { kind: 'test' });
    slack.fail({ error: 'account_inactive' });
    await deliverPending(context());
    const metrics = new Metrics({ gauges: storeGauges(db.pool), collectDefault: false });
    const web = await startWebServer({
      pool: db.pool,
      metrics,
      tickState: () => ({ startedAt: new Date(), lastSuccessfulTickAt: new Date() }),
      maxTickAgeSeconds: 60,
      host: '127.0.0.1',
      port: 0,
    });
    try {
      expect(await (await fetch(`${web.url}/metrics`)).text()).toMatch(/^hris_alerts_failed\{service="hris-ingest"\} 1$/m);
      const health = await fetch(`${web.url}/healthz`);
      expect(health.status).toBe(200);
      const body = (await health.json()) as HealthReport;
      expect(body.status).toBe('ok');
      expect(body.checks.alerts.ok).toBe(false);
      expect(body.warnings).toEqual([body.checks.alerts.detail]);
      expect(body.checks.alerts.detail).toContain(`1 failed for good (ids ${id})`);
      expect(body.checks.alerts.detail).toContain('hris-ingest notify retry --all-failed');

      await requeueAlerts(db.pool, { allFailed: true });
      slack.clearFailures();
      await deliverPending(context());
      expect(await (await fetch(`${web.url}/metrics`)).text()).toMatch(/^hris_alerts_failed\{service="hris-ingest"\} 0$/m);
      expect(((await (await fetch(`${web.url}/healthz`)).json()) as HealthReport).checks.alerts).toEqual({ ok: true, detail: 'no failed alerts' });
    } finally {
      await web.close();
    }
  });
});
