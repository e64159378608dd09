import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { storeGauges } from '../store/gauges.js';
import { openConfiguredDatabase } from '../store/connect.js';
import { ensureFirstOperator } from '../web/first-operator.js';
import { startWebServer } from '../web/server.js';
import { stopOnSignal } from '../runtime/shutdown.js';
import { watchTenantConfig } from '../runtime/daemon-steps.js';
import type { TickState } from '../web/health.js';
import { EXIT, loadCliContext, positiveInteger } from './context.js';

/**
 * `hris-ingest serve [--port P]`: the web console, /healthz and /metrics without the poller (a second
 * replica, a read-only host). /healthz checks the database only (no ticks run here).
 */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the web console, /healthz and /metrics only (no polling, no alert delivery)')
    .option('--port <port>', 'port (default http.port)', positiveInteger)
    .action(async (options: { port?: number }) => {
      const cli = await loadCliContext();
      const logger = createLogger({ level: cli.app.log.level, format: cli.app.log.format });
      const db = await openConfiguredDatabase(cli.app);
      // Tenant files re-read every minute and on SIGHUP, as every replica does (without a handler, SIGHUP
      // ended this process): the console's tenants, previews and decisions follow the config.
      const closers: Array<() => Promise<void>> = [];
      const state: TickState = { startedAt: new Date() };
      const config = watchTenantConfig({ tenants: cli.tenants, logger, closers }, db, cli.configDir, state);
      await config.reload('tick');
      const rereading = setInterval(
        () => void config.reload('tick').catch((error: unknown) => logger.error({ err: (error as Error).message }, 'tenant config reload failed')),
        RELOAD_EVERY_MS,
      );
      rereading.unref();
      const web = await startWebServer({
        pool: db.pool,
        db,
        metrics: new Metrics({ gauges: storeGauges(db.pool, { tenants: cli.tenants, timeZone: cli.app.schedule.timezone }) }),
        // No poller here: the tick check always passes; the database check is what counts.
        tickState: () => ({ ...state, startedAt: new Date() }),
        maxTickAgeSeconds: cli.app.http.maxTickAgeSeconds,
        databaseBusyIsHealthy: db.embedded,
        host: cli.app.http.host,
        port: options.port ?? cli.app.http.port,
        logger,
        app: cli.app,
        tenants: cli.tenants,
      }).catch(async (error: unknown) => {
        await db.close();
        throw error;
      });
      const first = await ensureFirstOperator(db.pool, cli.app);
      process.stdout.write(`hris-ingest console: ${web.url}/tenants (health: ${web.url}/healthz)\n`);
      if (first) process.stdout.write(firstOperatorLines(first, web.url));
      process.exitCode = await stopOnSignal(
        {
          stop: async () => {
            clearInterval(rereading);
            for (const close of closers) await close();
            await web.close();
            await db.close();
          },
          abandon: async () => undefined,
        },
        { timeoutMs: 10_000, logger },
      );
      if (process.exitCode === undefined) process.exitCode = EXIT.ok;
    });
}

/** How often `serve` re-reads tenants/ (it has no ticks; unchanged files are not parsed again). */
const RELOAD_EVERY_MS = 60_000;

/** The banner lines of a first operator just created (its password is shown this once). */
export function firstOperatorLines(first: { name: string; password: string }, url: string): string {
  return (
    `  Console: first operator created. Sign in at ${url}/login as "${first.name}" with the one-time password:\n` +
    `    ${first.password}\n` +
    `  (shown only now; add people with: hris-ingest users add NAME --role viewer|csm|operator)\n`
  );
}
