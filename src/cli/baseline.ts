import type { Command } from 'commander';
import { importBaseline } from '../pipeline.js';
import { cliLogger, loadCliContext, localFile, tenantOrFail, withDatabase } from './context.js';
import { terminalProgress } from './progress.js';

interface BaselineOptions {
  tenant: string;
  json?: boolean;
}

export function register(program: Command): void {
  const baseline = program.command('baseline').description("a tenant's starting state");
  baseline
    .command('import')
    .description("set the tenant's state from the platform's member export: every member in it is on the platform")
    .argument('<members>', "the platform's member export (CSV)")
    .requiredOption('--tenant <id>', 'tenant (config/tenants/<id>.yaml)')
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (members: string, options: BaselineOptions) => {
      process.exitCode = await importMembers(members, options);
    });
}

async function importMembers(membersArg: string, options: BaselineOptions): Promise<number> {
  const ctx = await loadCliContext();
  const tenant = tenantOrFail(ctx, options.tenant);
  const file = await localFile(membersArg);
  const logger = cliLogger(ctx.app);
  const progress = terminalProgress(`baseline ${file.name}`);
  try {
    const result = await withDatabase(ctx.app, (db) => importBaseline({ db, logger, onProgress: progress.onProgress }, tenant, file));
    progress.finish();
    if (options.json) {
      console.log(JSON.stringify({ tenant: tenant.id, file: file.name, members: result.members }));
    } else {
      console.log(`${tenant.id}: baseline imported from ${file.name}: ${result.members} members on the platform`);
    }
    return 0;
  } finally {
    progress.finish();
  }
}
