import { sql as core } from './001_core.js';

export interface Migration {
  name: string;
  sql: string;
}

/**
 * In order. Never edit a migration that has landed; add a new one.
 * Numbering: 0xx core engine, 1xx SFTP drop, 2xx notifications/outbox, 3xx runtime.
 */
export const MIGRATIONS: Migration[] = [{ name: '001_core', sql: core }];
