import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Metrics } from '../src/metrics.js';
import { enqueueAlert } from '../src/store/outbox.js';
import { storeGauges } from '../src/store/gauges.js';
import { startWebServer, type WebServer } from '../src/web/server.js';
import { healthReport, type TickState } from '../src/web/health.js';
import { freshDatabase, type TestDatabase } from './support/db.js';
import type { HealthReport } from '../src/web/health.js';

/** The value of the sample NAME whose labels include LABELS (label order does not matter). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('http server: /healthz, /metrics, the console behind sign-in', () => {
  let db: TestDatabase;
  let web: WebServer;
  let tick: TickState;
  let metrics: Metrics;

  beforeEach(async () => {
    db = await freshDatabase();
    tick = { startedAt: new Date() };
    metrics = new Metrics({ gauges: storeGauges(db.pool) });
    web = await startWebServer({ pool: db.pool, metrics, tickState: () => tick, maxTickAgeSeconds: 60, host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => {
    await web.close();
    await db.dispose();
  });

  it('is healthy with a reachable database and a recent tick', async () => {
    tick.lastSuccessfulTickAt = new Date(Date.now() - 5000);
    const response = await fetch(`${web.url}/healthz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as HealthReport;
    expect(body.status).toBe('ok');
    expect(body.reasons).toEqual([]);
    expect(body.checks.tick.detail).toMatch(/last successful tick \d+s ago/);
  });

  it('gives a new process the grace period before its first tick', async () => {
    const response = await fetch(`${web.url}/healthz`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as HealthReport).checks.tick.detail).toMatch(/no tick yet/);
  });

  it('is unhealthy (503, with the reason) when the last successful tick is too old', async () => {
    tick.lastSuccessfulTickAt = new Date(Date.now() - 120_000);
    tick.lastTickError = 'drop 127.0.0.1:2022 not reachable: connect ECONNREFUSED';
    const response = await fetch(`${web.url}/healthz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as HealthReport;
    expect(body.status).toBe('unhealthy');
    expect(body.checks.database.ok).toBe(true);
    expect(body.reasons).toHaveLength(1);
    expect(body.reasons[0]).toMatch(/^tick: last successful tick 1[12]\ds ago, limit 60s .*ECONNREFUSED/);
  });

  it('is unhealthy when the database does not answer', async () => {
    const deadPool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 1000 });
    deadPool.on('error', () => undefined);
    const other = await startWebServer({ pool: deadPool, metrics, tickState: () => tick, maxTickAgeSeconds: 60, host: '127.0.0.1', port: 0 });
    try {
      const response = await fetch(`${other.url}/healthz`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as HealthReport;
      expect(body.checks.database.ok).toBe(false);
      expect(body.reasons[0]).toMatch(/^database: /);
    } finally {
      await other.close();
      await deadPool.end();
    }
  });

  it('with a one-connection embedded database, a connection held by a run counts as answering; otherwise the probe times out', async () => {
    const single = new pg.Pool({ connectionString: db.url, max: 1 });
    const held = await single.connect();
    try {
      await held.query('select 1');
      const busy = await healthReport(single, tick, { maxTickAgeSeconds: 60, busyIsHealthy: true, databaseTimeoutMs: 500 });
      expect(busy.checks.database).toEqual({ ok: true, detail: 'busy (its connection is in use by a run)' });
      const strict = await healthReport(single, tick, { maxTickAgeSeconds: 60, databaseTimeoutMs: 500 });
      expect(strict.status).toBe('unhealthy');
      expect(strict.reasons).toEqual(['database: no answer within 500 ms']);
    } finally {
      held.release();
      await single.end();
    }
  });

  it('exposes files by outcome, rows, durations, outbox backlog and last success per tenant', async () => {
    await db.pool.query(`insert into tenants (id, name) values ('acme', 'Acme')`);
    const run = await db.pool.query<{ id: string }>(
      `insert into runs (tenant_id, file_name, sha256, status, rows, finished_at)
       values ('acme', 'a.csv', 'abc', 'accepted', 12, '2026-01-02T03:04:05Z') returning id`,
    );
    await enqueueAlert(db.pool, { kind: 'run', tenantId: 'acme', runId: Number(run.rows[0]!.id) });
    await enqueueAlert(db.pool, { kind: 'test' });
    metrics.recordFile({ tenant: 'acme', outcome: 'accepted', rows: 12, durationSeconds: 0.7 });
    metrics.recordFile({ tenant: 'acme', outcome: 'rejected', rows: 3, durationSeconds: 0.2 });
    metrics.recordTick(true, new Date('2026-01-02T03:05:00Z'));

    const response = await fetch(`${web.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'hris_files_total', { tenant: 'acme', outcome: 'accepted' })).toBe(1);
    expect(sample(text, 'hris_files_total', { tenant: 'acme', outcome: 'rejected' })).toBe(1);
    expect(sample(text, 'hris_rows_processed_total', { tenant: 'acme' })).toBe(15);
    expect(sample(text, 'hris_run_duration_seconds_count', { outcome: 'accepted' })).toBe(1);
    expect(sample(text, 'hris_run_duration_seconds_bucket', { outcome: 'accepted', le: '0.5' })).toBe(0);
    expect(sample(text, 'hris_run_duration_seconds_bucket', { outcome: 'accepted', le: '1' })).toBe(1);
    expect(sample(text, 'hris_outbox_backlog', {})).toBe(2);
    expect(sample(text, 'hris_last_success_timestamp_seconds', { tenant: 'acme' })).toBe(1767323045);
    expect(sample(text, 'hris_last_successful_tick_timestamp_seconds', {})).toBe(1767323100);

    await db.pool.query('update outbox set delivered_at = now()');
    expect(sample(await (await fetch(`${web.url}/metrics`)).text(), 'hris_outbox_backlog', {})).toBe(0);
  });

  it('a scrape while a run holds the only connection answers at once, with the last database values', async () => {
    const single = new pg.Pool({ connectionString: db.url, max: 1 });
    const own = new Metrics({ gauges: storeGauges(single) });
    await enqueueAlert(db.pool, { kind: 'test' });
    expect(sample(await own.registry.metrics(), 'hris_outbox_backlog', {})).toBe(1);
    await enqueueAlert(db.pool, { kind: 'test' });
    const held = await single.connect();
    try {
      // A query here would wait for the release below: the scrape would never return.
      const text = await own.registry.metrics();
      expect(sample(text, 'hris_outbox_backlog', {})).toBe(1); // not 2: the last value, no query
    } finally {
      held.release();
    }
    expect(sample(await own.registry.metrics(), 'hris_outbox_backlog', {})).toBe(2);
    await single.end();
  });

  it('keeps the console behind sign-in: /runs redirects to /login; an unknown path is 404', async () => {
    const runs = await fetch(`${web.url}/runs`, { redirect: 'manual' });
    expect(runs.status).toBe(303);
    expect(runs.headers.get('location')).toBe('/login?next=%2Fruns');
    expect((await fetch(`${web.url}/runs`, { method: 'POST', redirect: 'manual' })).status).toBe(403);
    expect((await fetch(`${web.url}/healthz`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`${web.url}/login`)).status).toBe(200);
  });
});
