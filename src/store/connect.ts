import path from 'node:path';
import type { AppConfig } from '../config/app.js';
import { openDatabase, type Database } from './db.js';

/** The configured database: DATABASE_URL / databaseUrl, else embedded PGlite under dataDir/pg. */
export async function openConfiguredDatabase(app: AppConfig): Promise<Database> {
  if (app.databaseUrl) return openDatabase({ url: app.databaseUrl });
  return openDatabase({ embeddedDir: path.resolve(app.dataDir, 'pg') });
}

/** postgres://user:secret@host/db -> postgres://user@host/db (never log a password). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
