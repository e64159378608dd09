import { sql as core } from './001_core.js';
import { sql as outbox } from './002_outbox.js';
import { sql as memberFillfactor } from './003_member_fillfactor.js';
import { sql as runEncryption } from './040_run_encryption.js';
import { sql as runSuperseded } from './050_run_superseded.js';
import { sql as membersNoFk } from './060_members_no_fk.js';
import { sql as runChangesLine } from './061_run_changes_line.js';
import { sql as runChangesEmail } from './062_run_changes_email.js';
import { sql as membersRowInChanges } from './063_members_row_in_changes.js';
import { sql as drop } from './100_drop.js';
import { sql as lateWatch } from './110_late_watch.js';
import { sql as lateAlertsDue } from './111_late_alerts_due.js';
import { sql as notify } from './200_notify.js';
import { sql as notifyFailed } from './210_notify_failed.js';
import { sql as console_ } from './300_console.js';
import { sql as consolePreviews } from './301_console_previews.js';
import { sql as configProblems } from './220_config_problems.js';
import { sql as configProblemsResolved } from './221_config_problems_resolved.js';

export interface Migration {
  name: string;
  sql: string;
}

/**
 * In order. Never edit a migration that has landed; add a new one.
 * Numbering: 0xx core engine, 1xx SFTP drop, 2xx notifications, 3xx runtime.
 */
export const MIGRATIONS: Migration[] = [
  { name: '001_core', sql: core },
  { name: '002_outbox', sql: outbox },
  { name: '003_member_fillfactor', sql: memberFillfactor },
  { name: '040_run_encryption', sql: runEncryption },
  { name: '050_run_superseded', sql: runSuperseded },
  { name: '060_members_no_fk', sql: membersNoFk },
  { name: '061_run_changes_line', sql: runChangesLine },
  { name: '062_run_changes_email', sql: runChangesEmail },
  { name: '063_members_row_in_changes', sql: membersRowInChanges },
  { name: '100_drop', sql: drop },
  { name: '110_late_watch', sql: lateWatch },
  { name: '111_late_alerts_due', sql: lateAlertsDue },
  { name: '200_notify', sql: notify },
  { name: '210_notify_failed', sql: notifyFailed },
  { name: '220_config_problems', sql: configProblems },
  { name: '221_config_problems_resolved', sql: configProblemsResolved },
  { name: '300_console', sql: console_ },
  { name: '301_console_previews', sql: consolePreviews },
];
