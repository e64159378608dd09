import { terminalName } from '../text/terminal.js';
import path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { startDaemon, type Daemon, type FileReport } from '../runtime/daemon.js';
import { displayPath } from '../runtime/embedded.js';
import { holdSignals, stopOnSignal } from '../runtime/shutdown.js';
import { EXIT, loadCliContext, positiveInteger } from './context.js';
import { firstOperatorLines } from './serve.js';

/**
 * `hris-ingest start`: the service (poller on its schedule, alert delivery, /healthz, /metrics).
 * With nothing configured it runs embedded: PGlite under ./data/pg and the development SFTP drop.
 * `hris-ingest health`: asks a running service's /healthz (the Docker HEALTHCHECK).
 */
export function register(program: Command): void {
  program
    .command('start')
    .description('run the service: poll the SFTP drop on schedule.cron, deliver alerts, serve /healthz and /metrics (embedded defaults when nothing is configured)')
    .option('--shutdown-timeout <seconds>', 'on SIGTERM/SIGINT, wait this long for the file in flight before abandoning it', positiveInteger, 30)
    .option('--no-sample', 'do not place the sample file in the example inbox on first start')
    .action(async (options: { shutdownTimeout: number; sample: boolean }) => {
      const cli = await loadCliContext();
      const logger = createLogger({ level: cli.app.log.level, format: cli.app.log.format });
      const held = holdSignals();
      let daemon: Daemon;
      try {
        daemon = await startDaemon({
          app: cli.app,
          tenants: cli.tenants,
          configDir: cli.configDir,
          logger,
          seedSample: options.sample,
          onFile: (report) => printFile(report),
        });
      } catch (error) {
        held.take();
        throw error;
      }
      printBanner(daemon, cli.tenants.size);
      process.exitCode = await stopOnSignal(daemon, { timeoutMs: options.shutdownTimeout * 1000, logger, pending: held.take() });
      // Exit even if a library left a handle open (a stuck socket must not outlive the bound).
      setTimeout(() => process.exit(), 1000).unref();
    });

  program
    .command('health')
    .description("check a running service's /healthz (exit 0 healthy, 1 not); used by the Docker HEALTHCHECK")
    .option('--url <url>', 'base URL of the service (default http://127.0.0.1:<http.port>)')
    .action(async (options: { url?: string }) => {
      const cli = await loadCliContext();
      const base = options.url ?? `http://127.0.0.1:${cli.app.http.port}`;
      try {
        const response = await fetch(new URL('/healthz', base), { signal: AbortSignal.timeout(8000) });
        const body = (await response.json().catch(() => ({}))) as { status?: string; reasons?: string[] };
        if (response.ok && body.status === 'ok') {
          process.stdout.write('ok\n');
          process.exitCode = EXIT.ok;
        } else {
          process.stdout.write(`unhealthy: ${(body.reasons ?? [`HTTP ${response.status}`]).join('; ')}\n`);
          process.exitCode = EXIT.failure;
        }
      } catch (error) {
        process.stdout.write(`unhealthy: ${base}/healthz did not answer: ${(error as Error).message}\n`);
        process.exitCode = EXIT.failure;
      }
    });
}

function printBanner(daemon: Daemon, tenantCount: number): void {
  const { app, embedded } = daemon;
  const lines: string[] = [];
  const database = embedded.database ? `embedded PostgreSQL under ${displayPath(path.resolve(app.dataDir, 'pg'))}` : 'PostgreSQL at DATABASE_URL';
  const drop = daemon.devDrop ? `development SFTP drop on 127.0.0.1:${daemon.devDrop.port} serving ${displayPath(path.resolve(app.dataDir, 'drop'))}` : `SFTP drop ${app.drop.host}:${app.drop.port}`;
  lines.push(`hris-ingest is running: ${database}; ${drop}; ${tenantCount} tenant(s); schedule "${app.schedule.cron}" (${app.schedule.timezone}).`);
  if (daemon.seededSample) lines.push(`  Sample file placed in the example inbox: ${displayPath(daemon.seededSample)}`);
  lines.push(`  Each run's files (potential invites, profile updates, profile deletions; a held run's once approved) are written to: ${displayPath(daemon.outDir)}`);
  if (daemon.alertsDir) lines.push(`  Alerts (Slack not configured) are written to: ${displayPath(daemon.alertsDir)}`);
  if (daemon.devDrop) {
    lines.push(`  Drop host key (pinned): ${daemon.devDrop.hostKeySha256}`);
    // The example tenant (the one the sample goes to) first.
    const uploaders = [...daemon.uploaders].sort((a, b) => Number(b.user === 'example') - Number(a.user === 'example'));
    for (const uploader of uploaders) {
      lines.push(`  Upload a file as tenant "${uploader.user}":`);
      lines.push(`    ${uploader.command}`);
      lines.push(`    sftp> put "YOUR FILE.csv" ${uploader.remoteInbox}/`);
    }
    lines.push(`  A file is taken once unchanged for ${app.drop.stableSeconds} s, on the next tick.`);
  }
  if (daemon.web) lines.push(`  Console: ${daemon.web.url}/tenants   runs: ${daemon.web.url}/runs   health: ${daemon.web.url}/healthz   metrics: ${daemon.web.url}/metrics`);
  if (daemon.web && daemon.firstOperator) lines.push(firstOperatorLines(daemon.firstOperator, daemon.web.url).trimEnd());
  lines.push('  Stop with Ctrl-C (SIGINT) or SIGTERM.');
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printFile(report: FileReport): void {
  const run = report.runId !== undefined ? ` (run ${report.runId})` : '';
  const files = Object.values(report.files);
  const where = files.length > 0 ? `:\n${files.map((file) => `    ${displayPath(file)}`).join('\n')}` : '';
  process.stdout.write(`${report.tenant}: ${terminalName(report.file)} -> ${report.outcome}${run}${where}\n`);
}
