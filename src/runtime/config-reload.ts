import type { BrokenTenantFile, ReloadResult, TenantRegistry } from '../config/reload.js';
import { cut } from '../text/bounded.js';
import type { Logger } from '../log.js';
import { forgetResolvedProblems, reportConfigProblemOnce } from '../store/config-problems.js';
import { forgetFirstSeen } from '../store/late-watch.js';
import type { Database } from '../store/db.js';

const MAX_ERROR = 1_000;

/**
 * Re-reads the tenant files (each tick, SIGHUP): logs what was added, changed or removed, and reports
 * each broken version of a file once across replicas (error log + 'config_problem' alert); the
 * registry keeps the tenant's last good version meanwhile.
 */
export async function reloadTenants(registry: TenantRegistry, db: Database, logger: Logger, trigger: 'tick' | 'SIGHUP'): Promise<ReloadResult> {
  const result = await registry.reload();
  const { added, changed, removed } = result;
  // A SIGHUP is answered always (the operator asked); a tick only when something changed.
  if (added.length + changed.length + removed.length > 0 || trigger === 'SIGHUP') {
    logger.info({ stage: 'config', trigger, added, changed, removed, tenants: registry.tenants.size }, 'tenant config reloaded');
  }
  // A removed tenant's late-file watch ends: added again later, one with no file yet is watched from then,
  // not from when it was first seen (it was late at once, by every window in between).
  await forgetFirstSeen(db.pool, removed);
  await reportBrokenTenantFiles(result.broken, db, logger, trigger);
  return result;
}

/**
 * Each refused tenant file version once across replicas and runs (error log + 'config_problem' alert);
 * the problems of files no longer refused are forgotten. Also for `poll --once`, with what its
 * configuration load refused (the files are not read again).
 */
export async function reportBrokenTenantFiles(brokenFiles: BrokenTenantFile[], db: Database, logger: Logger, trigger: 'tick' | 'SIGHUP'): Promise<void> {
  const keys: string[] = [];
  for (const broken of brokenFiles) {
    const key = `tenant_file:${broken.file}:${broken.version}`;
    keys.push(key);
    const error = cut(broken.error, MAX_ERROR);
    const payload = { problem: 'tenant_file_broken', file: broken.file, error, ...(broken.keptTenant ? { keptTenant: broken.keptTenant } : {}) };
    if (await reportConfigProblemOnce(db, key, payload)) {
      const meanwhile = broken.keptTenant ? 'the last good version stays in use' : 'its tenant is not loaded until it is fixed';
      logger.error({ stage: 'config', trigger, file: broken.file, error, keptTenant: broken.keptTenant ?? null }, `tenant config file refused; ${meanwhile}`);
    }
  }
  await forgetResolvedProblems(db, 'tenant_file:', keys);
}

/** One line per current problem, for /healthz details. */
export function configProblemLines(registry: TenantRegistry, unconfigured: Array<{ folder: string; files: number }> = []): string[] {
  return [
    ...registry.broken.map(
      (b) => `tenants/${b.file}: refused (${b.error.slice(0, 300)}); ${b.keptTenant ? `last good version of ${b.keptTenant} in use` : 'not loaded'}`,
    ),
    ...unconfigured.map((u) => `drop folder ${u.folder}: ${u.files} file(s) in its inbox and no tenant config`),
  ];
}
