import type { Command } from 'commander';
import { register as registerPreview } from './preview.js';
import { register as registerIngest } from './ingest.js';
import { register as registerBaseline } from './baseline.js';
import { register as registerRuns } from './runs.js';
import { register as registerPurge } from './purge.js';
import { register as registerPoll } from './poll.js';
import { register as registerStart } from './start.js';
import { register as registerConfigCheck } from './config-check.js';
import { register as registerNotify } from './notify.js';
import { register as registerTenants } from './tenants.js';
import { register as registerKeys } from './keys.js';
import { register as registerUsers } from './users.js';
import { register as registerServe } from './serve.js';

/**
 * Each command group lives in its own module under src/cli/ and exports register(program).
 * Add the module's register call here.
 */
export function registerCommands(program: Command): void {
  registerPreview(program);
  registerIngest(program);
  registerBaseline(program);
  registerRuns(program);
  registerPurge(program);
  registerPoll(program);
  registerStart(program);
  registerConfigCheck(program);
  registerNotify(program);
  registerTenants(program);
  registerKeys(program);
  registerUsers(program);
  registerServe(program);
}
