#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError } from './config/errors.js';
import { EXIT, UsageError } from './cli/context.js';
import { registerCommands } from './cli/commands.js';

const program = new Command('hris-ingest')
  .description('Membership CSV files from the SFTP drop: validate, diff against the last snapshot, alert.')
  .showHelpAfterError()
  .exitOverride((error) => {
    // commander's own usage errors (unknown option, missing argument) exit 1; help/version exit 0.
    process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.failure);
  });

await registerCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(`error: ${error.message}`);
  } else {
    console.error(error instanceof Error ? `error: ${error.message}` : `error: ${String(error)}`);
    if (process.env.DEBUG) console.error(error);
  }
  process.exitCode = EXIT.failure;
});
