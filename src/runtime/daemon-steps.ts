import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AppConfig } from '../config/app.js';
import { TenantRegistry, tenantIdOfFile, type ReloadResult } from '../config/reload.js';
import type { TenantConfig } from '../config/tenant.js';
import { devDropPaths, devInboxDir } from '../drop/dev-keys.js';
import { startConfiguredDevDrop, type DevDrop } from '../drop/dev-server.js';
import { releaseAllClaims } from '../drop/registry.js';
import { defaultPollerId, type FileResult, type PollEvent, type TickResult } from '../drop/poller.js';
import { startPollerScheduler, type PollerScheduler } from '../drop/scheduler.js';
import type { Logger } from '../log.js';
import type { FileOutcome, Metrics } from '../metrics.js';
import { alertsDir, deliveryContext } from '../notify/create.js';
import { startDeliveryLoop, type DeliveryLoop } from '../notify/delivery.js';
import { openConfiguredDatabase, redactUrl } from '../store/connect.js';
import type { Database } from '../store/db.js';
import { purgeOldRuns } from '../store/retention.js';
import type { TickState } from '../web/health.js';
import { ensureFirstOperator } from '../web/first-operator.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { configProblemLines, reloadTenants } from './config-reload.js';
import { EXAMPLE_TENANT, ensureUploaderAccess, seedSampleFile, type UploaderAccess } from './embedded.js';

/** The steps of `startDaemon` (runtime/daemon.ts), in its start-up order; each registers its closer. */

export interface FileReport {
  tenant: string;
  file: string;
  outcome: string;
  runId?: number;
  /** The run's files as written (kind -> path). */
  files: Record<string, string>;
}

/** What every step needs; a step that starts something pushes its closer (run in reverse on stop). */
export interface StepContext {
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
  logger: Logger;
  outDir: string;
  closers: Array<() => Promise<void>>;
}

export async function openStore({ app, logger, closers }: StepContext): Promise<Database> {
  const started = performance.now();
  const db = await openConfiguredDatabase(app);
  closers.push(() => db.close());
  logger.info(
    { stage: 'database', embedded: db.embedded, where: db.embedded ? path.resolve(app.dataDir, 'pg') : redactUrl(app.databaseUrl!), ms: ms(started) },
    'database ready (migrations applied)',
  );
  return db;
}

export interface DevDropStep {
  uploaders: UploaderAccess[];
  devDrop?: DevDrop;
  seededSample?: string;
}

/** Development drop: the tenants' inboxes, their uploader keys, the SFTP server, the example's sample file. */
export async function startDevDropStep({ app, tenants, logger, closers }: StepContext, seedSample: boolean | undefined): Promise<DevDropStep> {
  for (const tenant of tenants.values()) await mkdir(devInboxDir(app, tenant), { recursive: true });
  const uploaders = await ensureUploaderAccess(app, tenants.values());
  const started = performance.now();
  const devDrop = await startConfiguredDevDrop(app, logger.child({ component: 'dev-drop' }));
  closers.push(() => devDrop.stop());
  logger.info({ stage: 'drop', root: devDropPaths(app).root, port: devDrop.port, hostKeySha256: devDrop.hostKeySha256, ms: ms(started) }, 'development SFTP drop ready');
  const example = tenants.get(EXAMPLE_TENANT);
  if (!example || seedSample === false) return { uploaders, devDrop };
  const seeded = await seedSampleFile(app, example);
  if (!seeded.seeded) {
    logger.debug({ stage: 'sample', reason: seeded.reason }, 'no sample file placed');
    return { uploaders, devDrop };
  }
  logger.info({ stage: 'sample', tenant: example.id, file: path.basename(seeded.seeded) }, 'sample file placed in the example inbox');
  return { uploaders, devDrop, seededSample: seeded.seeded };
}

export function startDelivery({ app, tenants, logger, closers }: StepContext, db: Database, intervalMs: number | undefined): DeliveryLoop {
  const delivery = startDeliveryLoop(deliveryContext(app, { db, tenants, logger: logger.child({ component: 'delivery' }) }), {
    intervalMs: intervalMs ?? 5000,
  });
  closers.push(() => delivery.stop());
  return delivery;
}

export interface ConfigWatch {
  /** Re-reads tenants/ (one reload at a time); null without a config folder. */
  reload(trigger: 'tick' | 'SIGHUP'): Promise<ReloadResult | null>;
  /** A tick's drop folders without a tenant file: shown with the config problems. */
  noteUnconfigured(folders: NonNullable<TickResult['unconfiguredFolders']>): void;
  /** The ids of the tenants whose file is refused as of the last reload. */
  refusedTenants(): string[];
}

/** Tenant files re-read before each tick and on SIGHUP: `tenants` is changed in place (src/config/reload.ts). */
export function watchTenantConfig(
  { tenants, logger, closers }: Pick<StepContext, 'tenants' | 'logger' | 'closers'>,
  db: Database,
  configDir: string | undefined,
  tickState: TickState,
): ConfigWatch {
  const registry = configDir ? new TenantRegistry(configDir, tenants) : null;
  let unconfigured: NonNullable<TickResult['unconfiguredFolders']> = [];
  const showProblems = () => {
    const lines = registry ? configProblemLines(registry, unconfigured) : [];
    if (lines.length > 0) tickState.configProblems = lines;
    else delete tickState.configProblems;
  };
  let reloading: Promise<ReloadResult | null> = Promise.resolve(null);
  const reload = (trigger: 'tick' | 'SIGHUP') => {
    // One reload at a time; a failed one does not block the next.
    reloading = reloading.catch(() => null).then(async () => {
      if (!registry) return null;
      const result = await reloadTenants(registry, db, logger, trigger);
      showProblems();
      return result;
    });
    return reloading;
  };
  const onHangup = () => {
    reload('SIGHUP').catch((error: unknown) => logger.error({ err: (error as Error).message }, 'tenant config reload failed'));
  };
  if (registry) {
    process.on('SIGHUP', onHangup);
    closers.push(async () => {
      process.off('SIGHUP', onHangup);
    });
  }
  return {
    reload,
    noteUnconfigured(folders) {
      unconfigured = folders;
      showProblems();
    },
    refusedTenants: () => (registry ? registry.broken.map((b) => tenantIdOfFile(b.file)) : []),
  };
}

export interface TickReporterParts {
  logger: Logger;
  metrics: Metrics;
  delivery: DeliveryLoop;
  tickState: TickState;
  config: ConfigWatch;
  onFile: ((report: FileReport) => void) | undefined;
}

/** The scheduler's callbacks: log lines, metrics, health state, a delivery kick, and `onFile` per file taken. */
export function tickReporter({ logger, metrics, delivery, tickState, config, onFile }: TickReporterParts) {
  const onEvent = (event: PollEvent) => {
    if (event.type === 'file-start') logger.info({ stage: 'take', tenant: event.tenant, file: event.file }, 'file taken from the drop');
  };
  // One line per file taken with the run's counts, and the metrics.
  const reportFile = (file: TakenFile) => {
    metrics.recordFile({ tenant: file.tenant, outcome: file.outcome, rows: file.rows ?? 0, durationSeconds: (file.durationMs ?? 0) / 1000 });
    const fields = {
      stage: 'file',
      tenant: file.tenant,
      file: file.file,
      runId: file.runId,
      outcome: file.outcome,
      rows: file.rows,
      counts: file.counts,
      errorCount: file.errorCount,
      movedTo: file.movedTo,
      ms: file.durationMs,
    };
    if (file.outcome === 'failed') logger.warn({ ...fields, err: file.error }, 'file not processed; retried next tick');
    else logger.info(fields, 'file processed');
    onFile?.({
      tenant: file.tenant,
      file: file.file,
      outcome: file.outcome,
      ...(file.runId !== undefined ? { runId: file.runId } : {}),
      files: file.files ?? {},
    });
  };
  const onTick = (result: TickResult) => {
    metrics.recordTick(result.reachable);
    if (result.unconfiguredFolders) config.noteUnconfigured(result.unconfiguredFolders);
    if (result.reachable) {
      tickState.lastSuccessfulTickAt = new Date();
      delete tickState.lastTickError;
    } else {
      tickState.lastTickError = result.error ?? 'drop unreachable';
    }
    const taken = result.files.filter((file) => file.outcome !== 'waiting');
    if (taken.length > 0) delivery.kick();
    const level = taken.length > 0 || !result.reachable ? 'info' : 'debug';
    logger[level](
      { stage: 'tick', reachable: result.reachable, files: taken.length, waiting: result.files.length - taken.length, busyTenants: result.skippedTenants },
      'poll tick finished',
    );
    for (const file of result.files) if (wasTaken(file)) reportFile(file);
  };
  return { onEvent, onTick };
}

/** Starts the poll schedule (tenant config re-read before each tick) and runs the first tick now. */
export function startScheduler(
  { app, tenants, logger, outDir, closers }: StepContext,
  db: Database,
  config: ConfigWatch,
  { onEvent, onTick }: ReturnType<typeof tickReporter>,
): { scheduler: PollerScheduler; pollerId: string } {
  // PGlite lives in this process alone, so its poller id can be stable: after a hard stop the
  // next start takes its own tenant claims back at once instead of waiting for them to expire.
  const pollerId = db.embedded ? `embedded:${path.resolve(app.dataDir)}` : defaultPollerId();
  const scheduler = startPollerScheduler(
    { db, app, tenants, logger, pollerId, outDir, onEvent, refusedTenants: config.refusedTenants },
    { onTick, beforeTick: async () => void (await config.reload('tick')) },
  );
  closers.push(() => scheduler.stop());
  void scheduler.tickNow();
  return { scheduler, pollerId };
}

/** Retention: once shortly after start, then daily (as `hris-ingest purge`). */
export function startRetention({ app, logger, closers }: StepContext, db: Database): void {
  let purging: Promise<void> = Promise.resolve();
  const purge = () => {
    purging = purging
      .then(async () => {
        const result = await purgeOldRuns(db, app.retentionDays, { alertsDir: alertsDir(app) });
        logger.info({ stage: 'retention', days: app.retentionDays, ...result }, 'old run files and change records purged');
      })
      .catch((error: unknown) => logger.warn({ stage: 'retention', err: (error as Error).message }, 'retention purge failed; retried tomorrow'));
  };
  const firstPurge = setTimeout(purge, 60_000);
  const dailyPurge = setInterval(purge, 24 * 3600_000);
  firstPurge.unref();
  dailyPurge.unref();
  closers.push(async () => {
    clearTimeout(firstPurge);
    clearInterval(dailyPurge);
    await purging;
  });
}

/** The http server (health, metrics, console) unless port 0, and the console's first operator on its first start. */
export async function startWeb(
  { app, tenants, logger, outDir, closers }: StepContext,
  db: Database,
  metrics: Metrics,
  tickState: TickState,
  scheduler: PollerScheduler,
): Promise<{ web?: WebServer; firstOperator?: { name: string; password: string } }> {
  if (app.http.port === 0) return {};
  const web = await startWebServer({
    pool: db.pool,
    metrics,
    tickState: () => tickState,
    maxTickAgeSeconds: app.http.maxTickAgeSeconds,
    databaseBusyIsHealthy: db.embedded,
    host: app.http.host,
    port: app.http.port,
    logger,
    db,
    app,
    tenants,
    nextTick: () => scheduler.nextRun(),
    outDir,
  });
  closers.push(() => web.close());
  logger.info({ stage: 'http', url: web.url }, 'http server ready (/healthz, /metrics, the console)');
  const firstOperator = await ensureFirstOperator(db.pool, app);
  return firstOperator ? { web, firstOperator } : { web };
}

/** Releases this poller's tenant claims on a connection of its own (the pool may be held by the transaction in flight). */
export async function releaseClaimsAside(db: Database, pollerId: string): Promise<void> {
  if (db.embedded) return;
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await releaseAllClaims(client, pollerId);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A file this tick took to an outcome (not one still waiting or changing, nor an earlier one settled). */
type TakenFile = FileResult & { outcome: FileOutcome };

function wasTaken(file: FileResult): file is TakenFile {
  return file.outcome !== 'waiting' && file.outcome !== 'settled' && file.outcome !== 'changed';
}

function ms(since: number): number {
  return Math.round(performance.now() - since);
}
