import { loadAppConfig, configDir, type AppConfig } from '../config/app.js';
import { loadTenants, type TenantConfig } from '../config/tenant.js';
import { openDatabase, type Database } from '../store/db.js';
import path from 'node:path';

/** Exit codes of the command line (a stable contract). */
export const EXIT = { ok: 0, failure: 1, rejected: 2, held: 3 } as const;

/** A usage or input problem the user can fix; printed without a stack trace, exit 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliContext {
  configDir: string;
  app: AppConfig;
  tenants: Map<string, TenantConfig>;
}

export async function loadCliContext(env: NodeJS.ProcessEnv = process.env): Promise<CliContext> {
  const dir = configDir(env);
  const app = await loadAppConfig(dir, env);
  const tenants = await loadTenants(dir);
  return { configDir: dir, app, tenants };
}

export function tenantOrFail(ctx: CliContext, id: string): TenantConfig {
  const tenant = ctx.tenants.get(id);
  if (!tenant) {
    const known = [...ctx.tenants.keys()].join(', ') || 'none';
    throw new UsageError(`unknown tenant "${id}": add ${path.join(ctx.configDir, 'tenants', `${id}.yaml`)} (configured: ${known})`);
  }
  return tenant;
}

/** The configured database: DATABASE_URL / databaseUrl, else embedded PGlite under dataDir/pg. */
export async function openConfiguredDatabase(app: AppConfig): Promise<Database> {
  if (app.databaseUrl) return openDatabase({ url: app.databaseUrl });
  return openDatabase({ embeddedDir: path.resolve(app.dataDir, 'pg') });
}
