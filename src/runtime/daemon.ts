import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { AppConfig } from '../config/app.js';
import type { ReloadResult } from '../config/reload.js';
import type { TenantConfig } from '../config/tenant.js';
import type { DevDrop } from '../drop/dev-server.js';
import type { Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { alertsDir } from '../notify/create.js';
import type { Database } from '../store/db.js';
import { storeGauges } from '../store/gauges.js';
import type { TickState } from '../web/health.js';
import type { WebServer } from '../web/server.js';
import {
  openStore,
  releaseClaimsAside,
  startDelivery,
  startDevDropStep,
  startRetention,
  startScheduler,
  startWeb,
  tickReporter,
  watchTenantConfig,
  type DevDropStep,
  type FileReport,
  type StepContext,
} from './daemon-steps.js';
import { embeddedParts, withEmbeddedTiming, type EmbeddedParts, type UploaderAccess } from './embedded.js';

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

export type { FileReport } from './daemon-steps.js';

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
  const ctx: StepContext = { app, tenants, logger, outDir, closers };

  try {
    const db = await openStore(ctx);
    const drop: DevDropStep = embedded.drop ? await startDevDropStep(ctx, options.seedSample) : { uploaders: [] };
    const metrics = new Metrics({ gauges: storeGauges(db.pool, { tenants, timeZone: app.schedule.timezone }) });
    const delivery = startDelivery(ctx, db, options.deliveryIntervalMs);
    const tickState: TickState = { startedAt: new Date() };
    const config = watchTenantConfig(ctx, db, options.configDir, tickState);
    const reporter = tickReporter({ logger, metrics, delivery, tickState, config, onFile: options.onFile });
    const { scheduler, pollerId } = startScheduler(ctx, db, config, reporter);
    startRetention(ctx, db);
    const { web, firstOperator } = await startWeb(ctx, db, metrics, tickState, scheduler);

    return {
      app,
      embedded,
      db,
      outDir,
      ...(app.slack.botToken ? {} : { alertsDir: alertsDir(app) }),
      ...(drop.devDrop ? { devDrop: drop.devDrop } : {}),
      uploaders: drop.uploaders,
      ...(drop.seededSample ? { seededSample: drop.seededSample } : {}),
      ...(web ? { web } : {}),
      ...(firstOperator ? { firstOperator } : {}),
      tickState: () => ({ ...tickState }),
      reloadConfig: () => config.reload('SIGHUP'),
      async stop() {
        await closeAll();
      },
      async abandon() {
        await releaseClaimsAside(db, pollerId);
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
