import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { AppConfig } from '../config/app.js';
import { TenantRegistry, type ReloadResult } from '../config/reload.js';
import type { TenantConfig } from '../config/tenant.js';
import { devDropPaths, devInboxDir } from '../drop/dev-keys.js';
import { startConfiguredDevDrop, type DevDrop } from '../drop/dev-server.js';
import { releaseAllClaims } from '../drop/registry.js';
import { defaultPollerId, type FileResult, type PollEvent, type TickResult } from '../drop/poller.js';
import { startPollerScheduler, type PollerScheduler } from '../drop/scheduler.js';
import type { Logger } from '../log.js';
import { Metrics, type FileOutcome } from '../metrics.js';
import { alertsDir, deliveryContext } from '../notify/create.js';
import { startDeliveryLoop, type DeliveryLoop } from '../notify/delivery.js';
import { openConfiguredDatabase, redactUrl } from '../store/connect.js';
import type { Database } from '../store/db.js';
import { storeGauges } from '../store/gauges.js';
import { purgeOldRuns } from '../store/retention.js';
import type { TickState } from '../web/health.js';
import { ensureFirstOperator } from '../web/first-operator.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { configProblemLines, reloadTenants } from './config-reload.js';
import {
  EXAMPLE_TENANT,
  embeddedParts,
  ensureUploaderAccess,
  seedSampleFile,
  withEmbeddedTiming,
  type EmbeddedParts,
  type UploaderAccess,
} from './embedded.js';

export interface DaemonOptions {
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
  /** Where tenants/ is re-read before each tick and on SIGHUP (absent: the tenants stay as given). */
  configDir?: string;
  logger: Logger;
  /** Place the sample file in the example tenant's inbox on first start (development drop only). Default true. */
  seedSample?: boolean;
  /** Alert delivery pass interval (default 5 s). */
  deliveryIntervalMs?: number;
  /** Called once per file a tick finished with (after the run is stored and its files are written). */
  onFile?: (report: FileReport) => void;
}

export interface FileReport {
  tenant: string;
  file: string;
  outcome: string;
  runId?: number;
  /** The run's files as written (kind -> path). */
  files: Record<string, string>;
}

export interface Daemon {
  /** The configuration in effect (embedded timing applied). */
  app: AppConfig;
  embedded: EmbeddedParts;
  db: Database;
  /** Where each run's three files are written. */
  outDir: string;
  /** Local alert folders (no Slack token), else undefined. */
  alertsDir?: string;
  devDrop?: DevDrop;
  /** Development drop: the upload command per tenant. */
  uploaders: UploaderAccess[];
  /** Path of the sample file placed in the example inbox on this start, if any. */
  seededSample?: string;
  web?: WebServer;
  /** The console's first operator, created on this start (its one-time password, to print once). */
  firstOperator?: { name: string; password: string };
  tickState(): TickState;
  /** Re-reads tenants/ now (also before each tick and on SIGHUP); null without a configDir. */
  reloadConfig(): Promise<ReloadResult | null>;
  /** Stops new ticks, lets the file in flight finish, stops delivery, closes http, drop and database. */
  stop(): Promise<void>;
  /** Best-effort cleanup when stop() did not finish in time: releases this poller's tenant claims. */
  abandon(): Promise<void>;
}

/** Starts the whole service: database, (development drop), alert delivery, poller schedule, http. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const logger = options.logger;
  const app = withEmbeddedTiming(options.app);
  const embedded = embeddedParts(app);
  const tenants = options.tenants;
  const outDir = path.resolve(app.dataDir, 'outputs');
  await mkdir(outDir, { recursive: true });
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'shutdown step failed'));
  };

  try {
    let started = performance.now();
    const db = await openConfiguredDatabase(app);
    closers.push(() => db.close());
    logger.info(
      { stage: 'database', embedded: db.embedded, where: db.embedded ? path.resolve(app.dataDir, 'pg') : redactUrl(app.databaseUrl!), ms: ms(started) },
      'database ready (migrations applied)',
    );

    const uploaders: UploaderAccess[] = [];
    let devDrop: DevDrop | undefined;
    let seededSample: string | undefined;
    if (embedded.drop) {
      for (const tenant of tenants.values()) await mkdir(devInboxDir(app, tenant), { recursive: true });
      uploaders.push(...(await ensureUploaderAccess(app, tenants.values())));
      started = performance.now();
      devDrop = await startConfiguredDevDrop(app, logger.child({ component: 'dev-drop' }));
      closers.push(() => devDrop!.stop());
      logger.info({ stage: 'drop', root: devDropPaths(app).root, port: devDrop.port, hostKeySha256: devDrop.hostKeySha256, ms: ms(started) }, 'development SFTP drop ready');
      const example = tenants.get(EXAMPLE_TENANT);
      if (example && options.seedSample !== false) {
        const seeded = await seedSampleFile(app, example);
        if (seeded.seeded) {
          seededSample = seeded.seeded;
          logger.info({ stage: 'sample', tenant: example.id, file: path.basename(seeded.seeded) }, 'sample file placed in the example inbox');
        } else {
          logger.debug({ stage: 'sample', reason: seeded.reason }, 'no sample file placed');
        }
      }
    }

    const metrics = new Metrics({ gauges: storeGauges(db.pool, { tenants, timeZone: app.schedule.timezone }) });
    const delivery: DeliveryLoop = startDeliveryLoop(deliveryContext(app, { db, tenants, logger: logger.child({ component: 'delivery' }) }), {
      intervalMs: options.deliveryIntervalMs ?? 5000,
    });
    closers.push(() => delivery.stop());

    const tickState: TickState = { startedAt: new Date() };
    // Tenant files re-read before each tick and on SIGHUP: `tenants` is changed in place (src/config/reload.ts).
    const registry = options.configDir ? new TenantRegistry(options.configDir, tenants) : null;
    let unconfigured: NonNullable<TickResult['unconfiguredFolders']> = [];
    const showProblems = () => {
      const lines = registry ? configProblemLines(registry, unconfigured) : [];
      if (lines.length > 0) tickState.configProblems = lines;
      else delete tickState.configProblems;
    };
    let reloading: Promise<ReloadResult | null> = Promise.resolve(null);
    const reloadConfig = (trigger: 'tick' | 'SIGHUP') => {
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
      reloadConfig('SIGHUP').catch((error: unknown) => logger.error({ err: (error as Error).message }, 'tenant config reload failed'));
    };
    if (registry) {
      process.on('SIGHUP', onHangup);
      closers.push(async () => {
        process.off('SIGHUP', onHangup);
      });
    }
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
      options.onFile?.({
        tenant: file.tenant,
        file: file.file,
        outcome: file.outcome,
        ...(file.runId !== undefined ? { runId: file.runId } : {}),
        files: file.files ?? {},
      });
    };
    const onTick = (result: TickResult) => {
      metrics.recordTick(result.reachable);
      if (result.unconfiguredFolders) {
        unconfigured = result.unconfiguredFolders;
        showProblems();
      }
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
    // PGlite lives in this process alone, so its poller id can be stable: after a hard stop the
    // next start takes its own tenant claims back at once instead of waiting for them to expire.
    const pollerId = db.embedded ? `embedded:${path.resolve(app.dataDir)}` : defaultPollerId();
    const scheduler: PollerScheduler = startPollerScheduler(
      { db, app, tenants, logger, pollerId, outDir, onEvent },
      { onTick, beforeTick: async () => void (await reloadConfig('tick')) },
    );
    closers.push(() => scheduler.stop());
    void scheduler.tickNow();

    // Retention: once shortly after start, then daily (as `hris-ingest purge`).
    let purging: Promise<void> = Promise.resolve();
    const purge = () => {
      purging = purging
        .then(async () => {
          const result = await purgeOldRuns(db, app.retentionDays);
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

    let web: WebServer | undefined;
    if (app.http.port !== 0) {
      web = await startWebServer({
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
      closers.push(() => web!.close());
      logger.info({ stage: 'http', url: web.url }, 'http server ready (/healthz, /metrics, the console)');
    }
    const firstOperator = web ? await ensureFirstOperator(db.pool, app) : null;

    return {
      app,
      embedded,
      db,
      outDir,
      ...(app.slack.botToken ? {} : { alertsDir: alertsDir(app) }),
      ...(devDrop ? { devDrop } : {}),
      uploaders,
      ...(seededSample ? { seededSample } : {}),
      ...(web ? { web } : {}),
      ...(firstOperator ? { firstOperator } : {}),
      tickState: () => ({ ...tickState }),
      reloadConfig: () => reloadConfig('SIGHUP'),
      async stop() {
        await closeAll();
      },
      async abandon() {
        if (db.embedded) return;
        // The pool may be held by the transaction in flight: use a connection of our own.
        const pg = (await import('pg')).default;
        const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 2000 });
        try {
          await client.connect();
          await releaseAllClaims(client, pollerId);
        } finally {
          await client.end().catch(() => undefined);
        }
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
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
