import type { Command } from 'commander';
import { configDir } from '../config/app.js';
import { formatReport, runConfigCheck } from '../runtime/checks.js';
import { EXIT } from './context.js';

/** `hris-ingest config check`: validate the configuration and try every dependency it names. */
export function register(program: Command): void {
  const config = program.commands.find((command) => command.name() === 'config') ?? program.command('config').description('configuration');
  config
    .command('check')
    .description('validate app.yaml, the tenants and the environment, then try the database (and migrations), the SFTP drop (login, host key) and Slack (auth.test); exit 1 on any failure')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await runConfigCheck(configDir());
      process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatReport(report));
      process.exitCode = report.ok ? EXIT.ok : EXIT.failure;
    });
}
