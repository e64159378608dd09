import path from 'node:path';
import type { TenantConfig } from '../config/tenant.js';
import type { Logger } from '../log.js';
import { forgetResolvedProblems, reportConfigProblemOnce } from '../store/config-problems.js';
import type { Database } from '../store/db.js';
import type { DropSession } from './client.js';
import { isCandidateName } from './discovery.js';
import { tenantLayout } from './layout.js';

/** A folder on the drop with files in its inbox that no tenant config names. */
export interface UnconfiguredFolder {
  folder: string;
  files: number;
}

const topFolder = (remote: string) => remote.split('/').filter(Boolean)[0] ?? '';

/**
 * The drop's top-level folders (/<name>/inbox, the default layout) holding candidate files while no
 * tenant's inbox, processed or rejected folder lies under them: a customer whose tenant file is missing
 * (or was removed) would otherwise wait unnoticed. A folder named for a tenant whose file is REFUSED is
 * not one: that file is reported instead, as refused (its own layout cannot be read from it).
 */
export async function findUnconfiguredFolders(session: DropSession, tenants: Iterable<TenantConfig>, refused: Iterable<string> = []): Promise<UnconfiguredFolder[]> {
  const used = new Set<string>(refused);
  for (const tenant of tenants) {
    const layout = tenantLayout(tenant);
    for (const remote of [layout.inbox, layout.processed, layout.rejected]) used.add(topFolder(remote));
  }
  const found: UnconfiguredFolder[] = [];
  for (const entry of await session.sftp.list('/')) {
    if (entry.type !== 'd' || entry.name.startsWith('.') || used.has(entry.name)) continue;
    const inbox = path.posix.join('/', entry.name, 'inbox');
    if ((await session.sftp.exists(inbox)) !== 'd') continue;
    const files = (await session.sftp.list(inbox)).filter((file) => file.type === '-' && isCandidateName(file.name)).length;
    if (files > 0) found.push({ folder: `/${entry.name}`, files });
  }
  return found.sort((a, b) => (a.folder < b.folder ? -1 : 1));
}

/** Each unconfigured folder is reported once (error log and a 'config_problem' alert) until it is resolved. */
export async function reportUnconfiguredFolders(db: Database, folders: UnconfiguredFolder[], logger: Logger): Promise<void> {
  const keys: string[] = [];
  for (const { folder, files } of folders) {
    const key = `drop_folder:${folder}`;
    keys.push(key);
    if (await reportConfigProblemOnce(db, key, { problem: 'unknown_drop_folder', folder, files })) {
      logger.error({ stage: 'config', folder, files }, 'drop folder has files in its inbox but no tenant config: not picked up');
    }
  }
  await forgetResolvedProblems(db, 'drop_folder:', keys);
}
