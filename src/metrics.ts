import client from 'prom-client';
import type pg from 'pg';
import { failedAlerts } from './notify/status.js';
import { allConnectionsInUse } from './store/db.js';

/** The outcome of one file as the metrics count it (a run status, or a drop-level refusal). */
export type FileOutcome = 'accepted' | 'rejected' | 'held' | 'duplicate' | 'too_large' | 'failed';

export interface RunObservation {
  tenant: string;
  outcome: FileOutcome;
  rows: number;
  durationSeconds: number;
}

/**
 * The service's Prometheus metrics, on their own registry (several runtimes in one test process must
 * not share counters). Counters and the histogram are fed by the runtime as files finish; the outbox
 * backlog and the last success per tenant are read from the database on each scrape, so they are right
 * across restarts and replicas.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly files: client.Counter<'tenant' | 'outcome'>;
  private readonly rows: client.Counter<'tenant'>;
  private readonly duration: client.Histogram<'outcome'>;
  private readonly ticks: client.Counter<'result'>;
  private readonly lastTick: client.Gauge;

  constructor(options: { pool?: pg.Pool; collectDefault?: boolean } = {}) {
    const registry = this.registry;
    registry.setDefaultLabels({ service: 'hris-ingest' });
    if (options.collectDefault !== false) client.collectDefaultMetrics({ register: registry, prefix: 'hris_' });
    this.files = new client.Counter({
      name: 'hris_files_total',
      help: 'Files processed, by tenant and outcome (accepted, rejected, held, duplicate, too_large, failed).',
      labelNames: ['tenant', 'outcome'],
      registers: [registry],
    });
    this.rows = new client.Counter({
      name: 'hris_rows_processed_total',
      help: 'Data rows read from membership files, by tenant.',
      labelNames: ['tenant'],
      registers: [registry],
    });
    this.duration = new client.Histogram({
      name: 'hris_run_duration_seconds',
      help: 'Time from taking a file to its stored outcome.',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    });
    this.ticks = new client.Counter({
      name: 'hris_ticks_total',
      help: 'Poller ticks, by result (ok, failed).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.lastTick = new client.Gauge({
      name: 'hris_last_successful_tick_timestamp_seconds',
      help: 'Unix time of the last poller tick that completed without error.',
      registers: [registry],
    });
    const pool = options.pool;
    if (pool) {
      new client.Gauge({
        name: 'hris_outbox_backlog',
        help: 'Alerts recorded but not yet delivered.',
        registers: [registry],
        async collect() {
          // An unreachable or busy database keeps the last value (a scrape must not wait for a run to
          // give back the embedded database's one connection); /healthz reports the database itself.
          if (allConnectionsInUse(pool)) return;
          const result = await pool.query<{ n: string }>('select count(*) as n from outbox where delivered_at is null').catch(() => undefined);
          if (result) this.set(Number(result.rows[0]?.n ?? 0));
        },
      });
      new client.Gauge({
        name: 'hris_alerts_failed',
        help: 'Alerts that failed for good (a permanent Slack error): not retried until `hris-ingest notify retry`.',
        registers: [registry],
        async collect() {
          if (allConnectionsInUse(pool)) return;
          const failed = await failedAlerts(pool).catch(() => undefined);
          if (failed) this.set(failed.count);
        },
      });
      new client.Gauge({
        name: 'hris_last_success_timestamp_seconds',
        help: 'Unix time of the last accepted run, per tenant.',
        labelNames: ['tenant'],
        registers: [registry],
        async collect() {
          if (allConnectionsInUse(pool)) return;
          const result = await pool
            .query<{ tenant_id: string; at: Date }>(
              `select tenant_id, max(coalesce(finished_at, created_at)) as at from runs
               where status = 'accepted' and source <> 'baseline' group by tenant_id`,
            )
            .catch(() => undefined);
          if (!result) return;
          this.reset();
          for (const row of result.rows) this.set({ tenant: row.tenant_id }, new Date(row.at).getTime() / 1000);
        },
      });
    }
  }

  recordFile(observation: RunObservation): void {
    this.files.inc({ tenant: observation.tenant, outcome: observation.outcome });
    if (observation.rows > 0) this.rows.inc({ tenant: observation.tenant }, observation.rows);
    this.duration.observe({ outcome: observation.outcome }, observation.durationSeconds);
  }

  recordTick(ok: boolean, at: Date = new Date()): void {
    this.ticks.inc({ result: ok ? 'ok' : 'failed' });
    if (ok) this.lastTick.set(at.getTime() / 1000);
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text (Prometheus text format). */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
