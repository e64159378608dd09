import { terminalName, terminalText } from '../text/terminal.js';
import path from 'node:path';
import type { Command } from 'commander';
import { tenantIdOfFile } from '../config/reload.js';
import { createLogger, type Logger } from '../log.js';
import { checkLateFilesAfterTick } from '../drop/late.js';
import { pollOnce, type TickResult } from '../drop/poller.js';
import { startPollerScheduler } from '../drop/scheduler.js';
import { deliveryContext } from '../notify/create.js';
import { deliverPending, outboxBacklog, type DeliveryReport } from '../notify/delivery.js';
import type { Database } from '../store/db.js';
import { openConfiguredDatabase } from '../store/connect.js';
import { reportBrokenTenantFiles } from '../runtime/config-reload.js';
import { watchTenantConfig } from '../runtime/daemon-steps.js';
import { EXIT, loadCliContext, type CliContext } from './context.js';
import { deliveryLine } from './summary.js';

/** What `poll --once` did with the alert outbox after its tick (with Slack configured). */
type TickAlerts = DeliveryReport & { pending: number };

/** `hris-ingest poll --once`: one tick of the SFTP drop poller (system cron, Kubernetes CronJob). */
export function register(program: Command): void {
  program
    .command('poll')
    .description('poll the SFTP drop: one tick with --once, else on schedule.cron until stopped')
    .option('--once', 'run one tick and exit (0 when the tick ran, 1 when the drop was unreachable)')
    .option('--json', 'print the tick result as JSON')
    .action(async (options: { once?: boolean; json?: boolean }) => {
      const cli = await loadCliContext();
      const logger = createLogger({ level: cli.app.log.level, format: cli.app.log.format });
      const db = await openConfiguredDatabase(cli.app);
      const ctx = { db, app: cli.app, tenants: cli.tenants, logger, outDir: path.resolve(cli.app.dataDir, 'outputs'), refusedTenants: () => cli.refused.map((b) => tenantIdOfFile(b.file)) };
      try {
        if (options.once) {
          // A refused tenant file (left out by loadCliContext) is reported as `start` reports it: an error
          // log and one config-problem alert per broken version, delivered below with the tick's alerts.
          await reportBrokenTenantFiles(cli.refused, db, logger, 'tick');
          const result = await pollOnce(ctx);
          await checkLateFilesAfterTick(ctx);
          const alerts = await deliverAfterTick(cli, db, logger);
          printTick(alerts ? { ...result, alerts } : result, options.json === true);
          process.exitCode = result.reachable ? EXIT.ok : EXIT.failure;
          return;
        }
        // As `start` does: tenants/ re-read before each tick and on SIGHUP (which ended the process here,
        // and a tenant file added while it ran was never polled), broken files reported once.
        const closers: Array<() => Promise<void>> = [];
        const config = watchTenantConfig({ ...ctx, closers }, db, cli.configDir, { startedAt: new Date() });
        const scheduler = startPollerScheduler({ ...ctx, refusedTenants: config.refusedTenants }, {
          onTick: (result) => options.json && printTick(result, true),
          beforeTick: async () => void (await config.reload('tick')),
        });
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await scheduler.stop();
        for (const close of closers) await close();
      } finally {
        await db.close();
      }
    });
}

/**
 * With Slack configured, `poll --once` sends the queued alerts (its tick's among them) before it exits:
 * one pass of the outbox, as `notify deliver` makes, so that a cron deployment's alerts reach the channel
 * with the tick that made them. Slack down: they stay queued for the next pass (`notify deliver`, or the
 * next tick), and the tick's exit code does not change. Null without Slack (alerts go to the console and
 * the local folder only from the service or `notify deliver`).
 */
async function deliverAfterTick(cli: CliContext, db: Database, logger: Logger): Promise<TickAlerts | null> {
  if (!cli.app.slack.botToken) return null;
  try {
    const report = await deliverPending(deliveryContext(cli.app, { db, tenants: cli.tenants, logger }));
    return { ...report, pending: (await outboxBacklog(db.pool)).pending };
  } catch (error) {
    // Only the database can fail a pass: the alerts stay queued.
    logger.warn({ err: (error as Error).message }, 'alerts not delivered after the tick; they stay queued');
    return null;
  }
}

function printTick(result: TickResult & { alerts?: TickAlerts }, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  if (!result.reachable) {
    process.stderr.write(`error: ${result.error ?? 'drop unreachable'}\n`);
    return;
  }
  for (const file of result.files) {
    const parts = [file.tenant, terminalName(file.file), file.outcome];
    if (file.runId !== undefined) parts.push(`run ${file.runId}`);
    if (file.movedTo) parts.push(`-> ${file.movedTo}`);
    if (file.error) parts.push(`(${terminalText(file.error, 1000)})`);
    process.stdout.write(`${parts.join('  ')}\n`);
  }
  if (result.files.length === 0) process.stdout.write('nothing to do\n');
  if (result.skippedTenants.length > 0) process.stdout.write(`busy on another poller: ${result.skippedTenants.join(', ')}\n`);
  const { alerts } = result;
  if (alerts && alerts.delivered + alerts.failed + alerts.skipped + alerts.pending > 0) {
    process.stdout.write(`alerts: ${deliveryLine(alerts, alerts.pending)}\n`);
  }
}
