import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { loadTenantFile, type TenantConfig } from './tenant.js';

/** A tenant file that could not be used: its last good version (if any) stays in use. */
export interface BrokenTenantFile {
  /** File name under tenants/, e.g. "acme.yaml". */
  file: string;
  /** sha256 of its bytes: a version is reported once (src/runtime/config-reload.ts). */
  sha256: string;
  error: string;
  /** The tenant whose last good version is kept (absent: nothing loaded for this file). */
  keptTenant?: string;
}

export interface ReloadResult {
  added: string[];
  changed: string[];
  removed: string[];
  broken: BrokenTenantFile[];
}

const TENANT_FILE = /\.ya?ml$/i;

function describe(error: unknown): string {
  if (error instanceof ConfigError) return error.problems.map((p) => `${p.path || '(top level)'}: ${p.message}`).join('; ');
  return (error as Error).message.replace(/\s*\n\s*/g, '; ');
}

/**
 * The tenants in effect, re-read from DIR/tenants/ on demand (each poll tick, SIGHUP). TENANTS is one live
 * Map, changed in place, so whoever holds it (poller, alert delivery) sees the reload without being told.
 * Every file is validated before it replaces anything; a broken file keeps its tenant's last good
 * version; a removed file removes its tenant.
 */
export class TenantRegistry {
  readonly tenants: Map<string, TenantConfig>;
  /** The broken files as of the last reload. */
  broken: BrokenTenantFile[] = [];
  private readonly dir: string;

  constructor(configDir: string, initial: Map<string, TenantConfig> = new Map()) {
    this.dir = path.join(configDir, 'tenants');
    this.tenants = initial;
  }

  async reload(): Promise<ReloadResult> {
    const result: ReloadResult = { added: [], changed: [], removed: [], broken: [] };
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => TENANT_FILE.test(n)).sort();
    } catch (error) {
      // A missing or unreadable folder (an unmounted volume) is not "every tenant removed": keep them all.
      result.broken.push({ file: 'tenants/', sha256: 'unreadable', error: `the folder ${this.dir} cannot be read: ${describe(error)}` });
      this.broken = result.broken;
      return result;
    }
    const seen = new Set<string>();
    for (const name of names) {
      const id = name.replace(TENANT_FILE, '');
      seen.add(id);
      let tenant: TenantConfig;
      try {
        tenant = await loadTenantFile(path.join(this.dir, name));
      } catch (error) {
        const sha256 = await readFile(path.join(this.dir, name)).then(
          (bytes) => createHash('sha256').update(bytes).digest('hex'),
          () => 'unreadable',
        );
        result.broken.push({ file: name, sha256, error: describe(error), ...(this.tenants.has(id) ? { keptTenant: id } : {}) });
        continue;
      }
      const current = this.tenants.get(id);
      if (!current) result.added.push(id);
      else if (JSON.stringify(current) !== JSON.stringify(tenant)) result.changed.push(id);
      else continue;
      this.tenants.set(id, tenant);
    }
    for (const id of [...this.tenants.keys()]) {
      if (!seen.has(id)) {
        this.tenants.delete(id);
        result.removed.push(id);
      }
    }
    this.broken = result.broken;
    return result;
  }
}
