import client from 'prom-client';

/** The outcome of one file as the metrics count it (a run status, or a drop-level refusal). */
export type FileOutcome = 'accepted' | 'rejected' | 'held' | 'duplicate' | 'too_large' | 'failed';

/**
 * Values read on each scrape (src/store/gauges.ts gives the database's). Undefined: no fresh value, the
 * gauge keeps its last one.
 */
export interface ScrapeGauges {
  /** Alerts recorded but not yet delivered. */
  outboxBacklog(): Promise<number | undefined>;
  /** Time of the last accepted run, per tenant. */
  lastSuccess(): Promise<{ tenant: string; at: Date }[] | undefined>;
  /** Alerts that failed for good (a permanent Slack error), waiting for `notify retry`. */
  failedAlerts?(): Promise<number | undefined>;
  /** The late-file watch of tenants with an `expect:` cadence (absent: no such gauges). */
  lateWatch?(): Promise<{ tenant: string; lastFileAt: Date | null; late: boolean }[] | undefined>;
}

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

  constructor(options: { gauges?: ScrapeGauges; collectDefault?: boolean } = {}) {
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
    const gauges = options.gauges;
    if (gauges) {
      new client.Gauge({
        name: 'hris_outbox_backlog',
        help: 'Alerts recorded but not yet delivered.',
        registers: [registry],
        async collect() {
          const backlog = await gauges.outboxBacklog();
          if (backlog !== undefined) this.set(backlog);
        },
      });
      new client.Gauge({
        name: 'hris_alerts_failed',
        help: 'Alerts that failed for good (a permanent Slack error): not retried until `hris-ingest notify retry`.',
        registers: [registry],
        async collect() {
          const failed = await gauges.failedAlerts?.();
          if (failed !== undefined) this.set(failed);
        },
      });
      new client.Gauge({
        name: 'hris_last_success_timestamp_seconds',
        help: 'Unix time of the last accepted run, per tenant.',
        labelNames: ['tenant'],
        registers: [registry],
        async collect() {
          const last = await gauges.lastSuccess();
          if (!last) return;
          this.reset();
          for (const row of last) this.set({ tenant: row.tenant }, row.at.getTime() / 1000);
        },
      });
      if (gauges.lateWatch) lateWatchGauges(registry, gauges.lateWatch.bind(gauges));
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

/** The late-file watch on /metrics, read on each scrape (src/store/late-watch.ts). */
function lateWatchGauges(registry: client.Registry, statuses: NonNullable<ScrapeGauges['lateWatch']>): void {
  new client.Gauge({
    name: 'hris_seconds_since_last_file',
    help: "Seconds since the tenant's last file that counts for the late-file watch (accepted, duplicate or held; not rejected).",
    labelNames: ['tenant'],
    registers: [registry],
    async collect() {
      const list = await statuses();
      if (!list) return;
      this.reset();
      for (const status of list) if (status.lastFileAt) this.set({ tenant: status.tenant }, Math.max(0, Date.now() - status.lastFileAt.getTime()) / 1000);
    },
  });
  new client.Gauge({
    name: 'hris_late_tenants',
    help: 'Tenants with an expect: cadence whose file is past its due time plus the grace.',
    registers: [registry],
    async collect() {
      const list = await statuses();
      if (list) this.set(list.filter((status) => status.late).length);
    },
  });
}
