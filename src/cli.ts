#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command('hris-ingest').description('Membership CSV files from the SFTP drop: validate, diff, alert.');
program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
