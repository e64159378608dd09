import type { Command } from 'commander';
import { alertsDir } from '../notify/create.js';
import { purgeOldRuns } from '../pipeline.js';
import { loadCliContext, positiveInteger, withDatabase } from './context.js';

interface PurgeOptions {
  days?: number;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('purge')
    .description('retention: remove the change records, errors and files of runs older than N days (the run history stays)')
    .option('--days <n>', 'age in days (default: retentionDays of app.yaml, 90)', positiveInteger)
    .option('--json', 'print one JSON object on the last line of stdout')
    .action(async (options: PurgeOptions) => {
      const ctx = await loadCliContext();
      const days = options.days ?? ctx.app.retentionDays;
      const result = await withDatabase(ctx.app, (db) => purgeOldRuns(db, days, { alertsDir: alertsDir(ctx.app) }));
      if (options.json) console.log(JSON.stringify({ days, ...result }));
      else {
        console.log(
          `purged ${result.runs} run(s) older than ${days} days: ${result.changes} change records, ${result.errors} error records, ` +
            `${result.files} files, ${result.alertFolders} local alert folders (the run history stays)`,
        );
      }
      process.exitCode = 0;
    });
}
