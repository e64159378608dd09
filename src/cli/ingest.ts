import type { Command } from 'commander';
import { deliverRunAlerts } from '../notify/deliver-run.js';
import { ingestFile } from '../pipeline.js';
import { cliLogger, loadCliContext, localFile, outputDir, tenantOrFail, withDatabase } from './context.js';
import { terminalProgress } from './progress.js';
import { printRunSummary } from './summary.js';

interface IngestOptions {
  tenant: string;
  out?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('ingest')
    .description('run the full pipeline on a local FILE: validate, diff, store the run and move the snapshot (exit 0 accepted/duplicate, 2 rejected, 3 held)')
    .argument('<file>', 'membership CSV file')
    .requiredOption('--tenant <id>', 'tenant the file belongs to (config/tenants/<id>.yaml)')
    .option('--out <dir>', 'folder for the output files (default ./out)')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (file: string, options: IngestOptions) => {
      process.exitCode = await ingest(file, options);
    });
}

async function ingest(fileArg: string, options: IngestOptions): Promise<number> {
  const ctx = await loadCliContext();
  const tenant = tenantOrFail(ctx, options.tenant);
  const file = await localFile(fileArg);
  const outDir = await outputDir(options.out);
  const logger = cliLogger(ctx.app);
  const progress = terminalProgress(`ingest ${file.name}`);
  try {
    const summary = await withDatabase(ctx.app, async (db) => {
      const run = await ingestFile({ db, logger, onProgress: progress.onProgress }, tenant, file, { source: 'local', outDir });
      progress.finish();
      // With Slack configured, the run's alert goes out now (the outbox keeps it when Slack is down).
      if (ctx.app.slack.botToken && run.runId !== undefined) {
        const note = await deliverRunAlerts(ctx.app, { db, tenants: ctx.tenants, logger }, run.runId);
        if (note) process.stderr.write(`${note}\n`);
      }
      return run;
    });
    return printRunSummary(summary, { json: options.json });
  } finally {
    progress.finish();
  }
}
