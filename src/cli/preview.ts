import type { Command } from 'commander';
import { defaultTenant } from '../config/tenant.js';
import { cliLogger, loadCliContext, localFile, outputDir, tenantOrFail, withDatabase } from './context.js';
import { terminalProgress } from './progress.js';
import { printRunSummary } from './summary.js';

interface PreviewOptions {
  against?: string;
  tenant?: string;
  out?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('preview')
    .description('validate FILE and diff it, storing nothing: against PREVIOUS (as a first file), else the tenant\'s stored state (with DATABASE_URL), else as a first file')
    .argument('<file>', 'membership CSV file')
    .option('--against <previous>', 'an earlier file of the same customer to diff against')
    .option('--tenant <id>', 'tenant whose config (and, with DATABASE_URL, stored state) to use; default: built-in defaults')
    .option('--out <dir>', 'folder for the output files (default ./out)')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (file: string, options: PreviewOptions) => {
      process.exitCode = await preview(file, options);
    });
}

async function preview(fileArg: string, options: PreviewOptions): Promise<number> {
  const ctx = await loadCliContext();
  const tenant = options.tenant ? tenantOrFail(ctx, options.tenant) : defaultTenant();
  const file = await localFile(fileArg);
  const against = options.against ? await localFile(options.against) : undefined;
  const outDir = await outputDir(options.out);
  const logger = cliLogger(ctx.app);
  const progress = terminalProgress(`preview ${file.name}`);
  const useStoredState = options.tenant !== undefined && !against && ctx.app.databaseUrl !== undefined;
  try {
    // Each path loads only its own engine: the in-memory preview (a CSM's sample, or --against) starts
    // without the database engine and pg (docs/bench.md: the whole process's start-up).
    const summary = useStoredState
      ? await withDatabase(ctx.app, async (db) => {
          const { previewFile } = await import('../pipeline.js');
          return previewFile({ db, logger, onProgress: progress.onProgress }, tenant, file, { outDir });
        })
      : await (await import('../preview/preview.js')).previewInMemory(tenant, file, { against, outDir, logger, onProgress: progress.onProgress });
    progress.finish();
    return printRunSummary(summary, { json: options.json, heading: options.tenant ? `preview (tenant ${tenant.id})` : 'preview', preview: true });
  } finally {
    progress.finish();
  }
}
