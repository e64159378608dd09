import type { Command } from 'commander';
import { register as registerPoll } from './poll.js';

/**
 * Each command group lives in its own module under src/cli/ and exports register(program).
 * Add the module's register call here.
 */
export function registerCommands(program: Command): void {
  void program;
  registerPoll(program);
}
